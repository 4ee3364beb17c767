"""Shared pytest setup: isolated environment variables, fixture plugins."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fixtures.express", "tests.fixtures.tls"]

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees only the environment variables it sets itself (plus the basics)."""
    keep = {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "VIRTUAL_ENV",
        "CI",
        "PYTHONPATH",
        "OPSREVIEW_TEST_MONGODB_URI",
        "JUPYTER_PATH",
        "JUPYTER_CONFIG_DIR",
        "PLAYWRIGHT_BROWSERS_PATH",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "SSL_CERT_FILE",
    }
    for name in list(os.environ):
        if name not in keep and (
            name.startswith("OPSREVIEW_") or name.endswith(("_TOKEN", "_KEY", "_SECRET", "_URI", "_PASSWORD"))
        ):
            monkeypatch.delenv(name, raising=False)
    yield


def skip_or_fail(reason: str) -> None:
    """Skip with a reason locally; on CI a missing prerequisite is a failure, not a skip."""
    if ON_CI:
        pytest.fail(f"required on CI: {reason}")
    pytest.skip(reason)
