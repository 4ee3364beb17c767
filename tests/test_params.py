"""Params loading: validation errors name the file and key; secrets stay references."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opsreview.cli import main
from opsreview.exceptions import ParamsError
from opsreview.findings import Severity
from opsreview.params import load_params
from opsreview.secrets import SecretRef, redact

BASE = "environment: prod\ntimezone: Europe/Berlin\nstore: data/store\noutputs: out\n"
PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_resolves_relative_paths_against_its_folder(tmp_path: Path) -> None:
    params = load_params(write(tmp_path, BASE + "fail_on: warning\n"))
    assert params.store == tmp_path / "data" / "store"
    assert params.outputs == tmp_path / "out"
    assert params.fail_on is Severity.warning
    assert params.runner.jobs == 2  # default


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (BASE + "colour: blue\n", "colour", "unknown key"),
        (BASE + "runner:\n  jobs: many\n", "runner.jobs", "valid integer"),
        (BASE + "runner:\n  paralel: 3\n", "runner.paralel", "unknown key"),
        (BASE.replace("Europe/Berlin", "Mars/Olympus"), "timezone", "unknown timezone 'Mars/Olympus'"),
        (BASE + "fail_on: severe\n", "fail_on", "unknown severity"),
        ("timezone: UTC\nstore: s\noutputs: o\n", "environment", "required key is missing"),
        (BASE + "baseline_days: 0\n", "baseline_days", "greater than or equal to 1"),
        (
            BASE + "logs:\n  access:\n    - host: a\n      paths: ['s3a://acme-logs/api/*.log.gz']\n",
            "logs.access.0.paths",
            "s3a:// paths are not listed by opsreview yet; mount the bucket",
        ),
    ],
)
def test_invalid_params_name_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert info.value.key == key
    assert str(info.value).startswith(f"{path}: {key}: ")
    assert message in str(info.value)
    assert "Value error" not in str(info.value)  # pydantic's wording is not the user's


@pytest.mark.parametrize(
    ("text", "message"),
    [("environment: [unclosed\n", "invalid YAML"), ("- a list\n", "expected a mapping"), ("", "expected a mapping")],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        load_params(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_cli_params_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", str(write(tmp_path, BASE))]) == 0
    assert main(["params", str(write(tmp_path, BASE + "x: 1\n"))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"opsreview: error: {tmp_path / 'p.yaml'}: x: unknown key"]


def test_day_window_follows_dst(tmp_path: Path) -> None:
    params = load_params(write(tmp_path, BASE))
    for day, hours in [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25), (dt.date(2026, 11, 23), 24)]:
        start, end = params.day_window(day)
        assert (end - start) == dt.timedelta(hours=hours)
        assert start.tzinfo is dt.UTC
    assert params.day_window(dt.date(2026, 11, 23))[0] == dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)


def test_secret_ref_resolves_only_on_use_and_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = SecretRef("mongodb://reviewer:${OPSREVIEW_DB_PASSWORD}@db.internal:27017/shop")
    assert ref.env_vars == ["OPSREVIEW_DB_PASSWORD"]
    assert "OPSREVIEW_DB_PASSWORD" in str(ref)
    with pytest.raises(KeyError, match="OPSREVIEW_DB_PASSWORD is not set"):
        ref.resolve()
    monkeypatch.setenv("OPSREVIEW_DB_PASSWORD", "hunter2-but-longer")
    uri = ref.resolve()
    assert uri == "mongodb://reviewer:hunter2-but-longer@db.internal:27017/shop"
    assert "hunter2-but-longer" not in redact(f"failed to connect to {uri}")
    assert "hunter2-but-longer" not in redact("the password is hunter2-but-longer")


@pytest.mark.parametrize(
    "text",
    [
        "GET /x?key=sk_live_4eC39HqLyjWDarjtT1zdp7dc HTTP/1.1",
        "Authorization: Bearer abcdefghijklmnop.qrstu",
        "redis://default:s0mepass@cache:6379",
    ],
)
def test_credential_shapes_are_redacted(text: str) -> None:
    cleaned = redact(text)
    assert "***" in cleaned
    assert not any(s in cleaned for s in ("4eC39HqLyjWDarjtT1zdp7dc", "abcdefghijklmnop", "s0mepass"))


@pytest.mark.parametrize("path", sorted(PARAMS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_params_file_validates(path: Path) -> None:
    params = load_params(path)
    assert params.environment
