"""Shared pytest setup: isolated environment variables, fixture plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsreview.demo import generate_demo

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


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    data = tmp / "demo-data"
    truth = generate_demo(data, days=8, requests_per_day=40_000, seed=11)
    text = (ROOT / "params" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../outputs/demo-data", str(data)).replace("outputs: ../outputs", f"outputs: {tmp / 'out'}")
    params = tmp / "demo.yaml"
    params.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(params), "--date", str(truth["review_date"])],
        capture_output=True,
        text=True,
        timeout=900,
    )
    day_dir = tmp / "out" / str(truth["review_date"])
    summary = json.loads((day_dir / "summary.json").read_text()) if (day_dir / "summary.json").exists() else {}
    return {"proc": proc, "truth": truth, "day_dir": day_dir, "summary": summary, "out": tmp / "out"}


@pytest.fixture(scope="session")
def spark_local() -> Iterator[Any]:
    """The one Spark session of the test run (local[2]): every Spark test pulls through it
    (``engine: spark`` with ``spark.master: local[2]`` reuses it); stopped at the end."""
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        skip_or_fail("pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        skip_or_fail("no Java runtime (apt-get install openjdk-17-jre-headless)")
    from opsreview import sparkengine
    from opsreview.params import SparkParams

    settings = SparkParams(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    yield sparkengine.session(settings)
    sparkengine.stop()
