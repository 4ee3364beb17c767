"""`opsreview probe --params P [--once] [--json]`: exit codes, output, results in the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opsreview.cli import main
from opsreview.context import ReviewContext
from opsreview.params import load_params
from opsreview.probes.source import load_probe_results, spooled_days
from opsreview.sources import pull_sources
from opsreview.store import Store
from tests.fixtures.tls import FaultServer

BASE = "environment: test\ntimezone: Europe/Berlin\nstore: store\noutputs: out\n"


def write_params(tmp_path: Path, probes: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(BASE + "probes:\n" + probes, encoding="utf-8")
    return path


def targets(fault_server: FaultServer, extra: str = "") -> str:
    return (
        "  deadline_seconds: 10\n"
        "  targets:\n"
        f"    - name: health\n      url: {fault_server.url}/ok\n"
        f"    - name: broken\n      url: {fault_server.url}/status/503\n      timeout_seconds: 2\n" + extra
    )


def test_once_prints_a_table_appends_to_the_store_and_exits_1_on_failure(
    tmp_path: Path, fault_server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_params(tmp_path, targets(fault_server))
    assert main(["probe", "--params", str(params), "--once"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["time", "probe", "check", "ok", "status", "ms", "detail"]
    rows = {line.split()[1]: line for line in out[1:-1]}
    assert rows["health"].split()[3:5] == ["ok", "200"]
    assert rows["broken"].split()[3:5] == ["FAIL", "503"] and rows["broken"].endswith("expected status 2xx, got 503")
    assert out[-1].startswith("2 results from 2 targets, 1 failed, 2 requests in ")
    store = Store(tmp_path / "store")
    day = spooled_days(store)[0]
    stored = load_probe_results(store, [day])
    assert sorted(zip(stored["probe"], stored["ok"], strict=True)) == [("broken", False), ("health", True)]
    assert set(stored["source"]) == {"probe"}


def test_json_output_and_exit_0_when_all_pass(
    tmp_path: Path, fault_server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_params(tmp_path, f"  targets:\n    - name: health\n      url: {fault_server.url}/ok\n")
    assert main(["probe", "--params", str(params), "--once", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["deadline_s"] == 50 and document["unfinished"] == []
    (row,) = document["results"]
    assert row["probe"] == "health" and row["check"] == "http" and row["ok"] is True
    assert row["status_code"] == 200 and row["ts"].endswith("Z") and row["source"] == "probe"


@pytest.mark.parametrize(
    ("probes", "message"),
    [
        ("  targets:\n    - name: x\n      url: htp://api.example.com/health\n", "probes.targets.0.url: "),
        ("  targets:\n    - name: x\n      url: https://\n", "probes.targets.0.url: "),
        ("  targets:\n    - name: x\n      url: http://a/\n      checks: [exposure]\n", "exposure is an active check"),
        (
            "  targets:\n    - name: x\n      url: http://a/\n      checks: [rate_limit]\n"
            "      rate_limit: {burst_requests: 50}\n",
            "burst_requests is an active check",
        ),
        ("  targets:\n    - name: x\n      url: http://a/\n      checks: [dns]\n", "probes.targets.0.checks.0"),
        ("  targets: []\n", "probes.targets is empty"),
        (
            "  targets:\n    - name: x\n      url: http://a/\n      headers: {Authorization: 'Bearer ${OPSREVIEW_UNSET}'}\n",
            "probes.targets.0.headers.Authorization: environment variable OPSREVIEW_UNSET is not set",
        ),
    ],
)
def test_bad_params_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], probes: str, message: str
) -> None:
    params = write_params(tmp_path, probes)
    assert main(["probe", "--params", str(params), "--once"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("opsreview: error: ") and message in line
    assert not (tmp_path / "store").exists()


def test_cli_subprocess_never_prints_the_secret(tmp_path: Path, fault_server: FaultServer) -> None:
    probes = (
        "  targets:\n    - name: echo\n"
        f"      url: {fault_server.url}/echo\n"
        "      headers: {X-Api-Key: '${OPSREVIEW_PROBE_KEY}'}\n"
        "      expect: {json_equals: {x-api-key: nope}}\n"
    )
    params = write_params(tmp_path, probes)
    env = {"PATH": "/usr/bin:/bin", "OPSREVIEW_PROBE_KEY": "very-secret-key-123"}
    proc = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "probe", "--params", str(params), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert 'JSON x-api-key is "***", expected "nope"' in proc.stdout
    assert "very-secret-key-123" not in proc.stdout + proc.stderr
    spool = next((tmp_path / "store").rglob("*.jsonl")).read_text()
    assert "very-secret-key-123" not in spool and "***" in spool


def test_review_source_compacts_and_counts_the_day(tmp_path: Path, fault_server: FaultServer) -> None:
    params_path = write_params(tmp_path, targets(fault_server))
    assert main(["probe", "--params", str(params_path), "--once"]) == 1
    params = load_params(params_path)
    store = Store(params.store)
    day = spooled_days(store)[0]
    (result,) = pull_sources(ReviewContext(params=params, day=day), {"probes"})
    assert (result.name, result.status, result.rows) == ("probes", "ok", 2)
    assert spooled_days(store) == [] and [p.name for p in store.parts("probe_results", day)] == ["probe.parquet"]


def test_unwritable_store_exits_3(
    tmp_path: Path, fault_server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_params(tmp_path, f"  targets:\n    - name: health\n      url: {fault_server.url}/ok\n")
    (tmp_path / "store").write_text("a file where the store folder should be", encoding="utf-8")
    assert main(["probe", "--params", str(params), "--once"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("opsreview: error: source probes: cannot append to ") and err.count("\n") == 0
