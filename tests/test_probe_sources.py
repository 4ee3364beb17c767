"""`probes` and `prometheus` are two sources (issue 10 item 8): each has its own status and rows,
so a failing Prometheus no longer shows the results of `opsreview probe` as failed with 0 rows."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from opsreview.cli import main
from opsreview.context import ReviewContext
from opsreview.params import load_params
from opsreview.probes.params import PrometheusSource
from opsreview.probes.prometheus import matrix_frame
from opsreview.sources import pull_sources
from tests.fixtures.tls import FaultServer

BASE = "environment: t\ntimezone: UTC\nstore: store\noutputs: out\nbaseline_days: 1\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write(tmp_path: Path, fault_server: FaultServer, prometheus: str = "") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        BASE + f"probes:\n  targets:\n    - name: health\n      url: {fault_server.url}/ok\n" + prometheus,
        encoding="utf-8",
    )
    return path


def down_prometheus() -> str:
    return f"  prometheus: {{url: 'http://127.0.0.1:{closed_port()}', timeout_seconds: 2}}\n"


def down_prometheus_line(path: Path) -> str:
    (line,) = [line for line in path.read_text().splitlines(keepends=True) if "prometheus:" in line]
    return line


def test_a_failing_prometheus_fails_only_its_own_source(tmp_path: Path, fault_server: FaultServer) -> None:
    path = write(tmp_path, fault_server, down_prometheus())
    for _ in range(3):
        assert main(["probe", "--params", str(path), "--once"]) == 0
    day = dt.datetime.now(dt.UTC).date()
    results = {r.name: r for r in pull_sources(ReviewContext(params=load_params(path), day=day), {"probes"})}
    assert sorted(results) == ["probes", "prometheus"]
    probes, prometheus = results["probes"], results["prometheus"]
    assert (probes.status, probes.rows, probes.error, probes.findings) == ("ok", 3, None, [])
    assert (prometheus.status, prometheus.rows) == ("failed", 0)
    assert prometheus.error is not None and "ConnectionError" in prometheus.error
    (finding,) = prometheus.findings
    assert finding.check == "probes.source_failed" and finding.title.startswith("Source prometheus failed: ")
    # Without probes.prometheus the source is neither pulled nor listed.
    path.write_text(path.read_text().replace(down_prometheus_line(path), ""), encoding="utf-8")
    (result,) = pull_sources(ReviewContext(params=load_params(path), day=day), {"probes"})
    assert (result.name, result.status, result.rows) == ("probes", "ok", 3)


@pytest.mark.slow
def test_summary_reports_each_source_on_its_own(tmp_path: Path, fault_server: FaultServer) -> None:
    """The deployment's case: Prometheus down, the local probe rows reviewed in the same report."""
    path = write(tmp_path, fault_server, down_prometheus())
    for _ in range(2):
        assert main(["probe", "--params", str(path), "--once"]) == 0
    day = dt.datetime.now(dt.UTC).date().isoformat()
    run = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(path), "--date", day, "--only", "probes"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 3, run.stdout + run.stderr  # a source failed: the report is still written
    summary = json.loads((tmp_path / "out" / day / "summary.json").read_text())
    sources = {s["name"]: s for s in summary["sources"]}
    assert sorted(sources) == ["probes", "prometheus"]
    assert (sources["probes"]["status"], sources["probes"]["rows"], sources["probes"]["error"]) == ("ok", 2, None)
    assert (sources["prometheus"]["status"], sources["prometheus"]["rows"]) == ("failed", 0)
    assert [n["status"] for n in summary["notebooks"] if n["name"] == "probes"] == ["ok"]
    failed = [f for f in summary["findings"] if f["check"] == "probes.source_failed"]
    assert len(failed) == 1 and failed[0]["evidence"] == {"source": "prometheus"}


def test_prometheus_probe_names_are_masked() -> None:
    """blackbox's ``instance`` is the probed URL; an API key in it must not reach the store."""
    cfg = PrometheusSource.model_validate({"url": "http://prometheus.internal:9090"})
    matrix = [
        {
            "metric": {"instance": "https://api.example.com/health?api_key=k-8f2b9c7d1e&x=1"},
            "values": [[1764000000, "1"], [1764000060, "0"]],
        }
    ]
    frame = matrix_frame(cfg, matrix)
    assert set(frame["probe"]) == {"https://api.example.com/health?api_key=***&x=1"}
    assert list(frame["value"]) == [1.0, 0.0]
