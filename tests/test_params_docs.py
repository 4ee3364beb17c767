"""params/production.example.yaml documents every key the params model has, and loads."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from opsreview.params import Params, load_params

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "params" / "production.example.yaml"
INTERNAL = {"source_file", "secret_env_vars"}  # filled by the loader, never written by a user


def model_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every field, descending into nested sections (and lists of them)."""
    keys = []
    for name, info in model.model_fields.items():
        if not prefix and name in INTERNAL:
            continue
        keys.append(prefix + name)
        for candidate in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys.extend(model_keys(candidate, f"{prefix}{name}."))
    return keys


def test_every_key_is_documented_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    # a key counts as documented when it appears as "key:" (set or commented out) with a comment nearby
    missing = [
        key for key in model_keys(Params) if not re.search(rf"^[#\s-]*{re.escape(key.split('.')[-1])}:", text, re.M)
    ]
    assert not missing, f"{EXAMPLE.name} does not document: {missing}"


def test_the_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    params = load_params(EXAMPLE)
    assert params.environment == "production"
    assert params.logs.access, "the example shows an access-log source"
    assert params.probes.targets, "the example shows a probe target"
