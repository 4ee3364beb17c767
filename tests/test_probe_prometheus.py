"""The Prometheus source against a real Prometheus scraping a real blackbox_exporter (loopback only).

Debian packages `prometheus` and `prometheus-blackbox-exporter`. Blackbox probes three local
targets every second: a healthy page, a 503 page and the TLS fixture's valid HTTPS server.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from opsreview.context import ReviewContext
from opsreview.exceptions import SourceError
from opsreview.params import load_params
from opsreview.probes.params import PrometheusSource
from opsreview.probes.prometheus import query_range, read_probe_metrics
from opsreview.sources import pull_sources
from opsreview.store import Store
from tests.conftest import skip_or_fail
from tests.fixtures.tls import FaultServer, TlsServers

pytestmark = pytest.mark.slow
SAMPLES_TIMEOUT_S = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text()[-1500:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s: {log.read_text()[-1500:]}")


@dataclass
class Stack:
    url: str
    targets: dict[str, str]


@pytest.fixture(scope="module")
def prometheus_stack(
    tmp_path_factory: pytest.TempPathFactory, fault_server: FaultServer, tls_servers: TlsServers
) -> Iterator[Stack]:
    prometheus, blackbox = shutil.which("prometheus"), shutil.which("prometheus-blackbox-exporter")
    if not prometheus or not blackbox:
        skip_or_fail("needs Debian packages prometheus and prometheus-blackbox-exporter")
    assert prometheus and blackbox
    tmp = tmp_path_factory.mktemp("prometheus")
    bb_port, prom_port = free_port(), free_port()
    (tmp / "blackbox.yml").write_text(
        "modules:\n"
        "  http_2xx:\n    prober: http\n    timeout: 1s\n"
        "  http_tls:\n    prober: http\n    timeout: 1s\n"
        f"    http:\n      tls_config:\n        ca_file: {tls_servers.ca_file}\n",
        encoding="utf-8",
    )
    targets = {
        "healthy": fault_server.url + "/ok",
        "broken": fault_server.url + "/status/503",
        "https": tls_servers.url("valid"),
    }

    def job(name: str, module: str, target_urls: list[str]) -> str:
        return (
            f"  - job_name: {name}\n    metrics_path: /probe\n    params:\n      module: [{module}]\n"
            f"    static_configs:\n      - targets: [{', '.join(target_urls)}]\n"
            "    relabel_configs:\n"
            "      - {source_labels: [__address__], target_label: __param_target}\n"
            "      - {source_labels: [__param_target], target_label: instance}\n"
            f"      - {{target_label: __address__, replacement: '127.0.0.1:{bb_port}'}}\n"
        )

    (tmp / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
        + job("blackbox", "http_2xx", [targets["healthy"], targets["broken"]])
        + job("blackbox_tls", "http_tls", [targets["https"]]),
        encoding="utf-8",
    )
    logs = {name: (tmp / f"{name}.log").open("wb") for name in ("blackbox", "prometheus")}
    processes = [
        subprocess.Popen(
            [blackbox, f"--config.file={tmp / 'blackbox.yml'}", f"--web.listen-address=127.0.0.1:{bb_port}"],
            stdout=logs["blackbox"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=logs["prometheus"],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{bb_port}/-/healthy", processes[0], tmp / "blackbox.log")
        url = f"http://127.0.0.1:{prom_port}"
        wait_http(url + "/-/ready", processes[1], tmp / "prometheus.log")
        yield Stack(url, targets)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for handle in logs.values():
            handle.close()


def source(stack: Stack, **options: object) -> PrometheusSource:
    return PrometheusSource.model_validate({"url": stack.url, "selector": '{job=~"blackbox.*"}', **options})


def wait_for_samples(stack: Stack, step: int) -> None:
    """Bounded: until every target has results at two range steps."""
    cfg = source(stack, step_seconds=step)
    deadline = time.monotonic() + SAMPLES_TIMEOUT_S
    while True:
        now = dt.datetime.now(dt.UTC)
        matrix = query_range(cfg, 'probe_success{job=~"blackbox.*"}', now - dt.timedelta(minutes=5), now)
        if len(matrix) == 3 and all(len(s["values"]) >= 2 for s in matrix):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no samples for every target after {SAMPLES_TIMEOUT_S} s: {matrix}")
        time.sleep(0.5)


def test_reads_blackbox_results_into_probe_rows(prometheus_stack: Stack) -> None:
    wait_for_samples(prometheus_stack, step=2)
    now = dt.datetime.now(dt.UTC)
    frame = read_probe_metrics(source(prometheus_stack, step_seconds=2), now - dt.timedelta(minutes=5), now, 7)
    assert set(frame["source"]) == {"prometheus"}
    http = frame[frame["check"] == "http"].groupby("probe").last()
    targets = prometheus_stack.targets
    assert set(http.index) == set(targets.values())
    healthy, broken, https = (http.loc[targets[k]] for k in ("healthy", "broken", "https"))
    assert bool(healthy["ok"]) and healthy["status_code"] == 200 and healthy["detail"] == "probe_success=1, HTTP 200"
    assert not bool(broken["ok"]) and broken["status_code"] == 503 and broken["detail"] == "probe_success=0, HTTP 503"
    assert bool(https["ok"]) and https["tls_ms"] > 0
    assert 0 < healthy["latency_ms"] < 1000 and healthy["connect_ms"] >= 0 and healthy["ttfb_ms"] > 0
    tls = frame[frame["check"] == "tls"]
    assert set(tls["probe"]) == {targets["https"]}
    assert tls["cert_days_left"].between(89, 90.1).all() and tls["ok"].all()
    assert (frame["ts"].diff().dropna() >= dt.timedelta(0)).any()


def test_review_source_writes_the_prometheus_part(prometheus_stack: Stack, tmp_path: Path) -> None:
    wait_for_samples(prometheus_stack, step=10)
    text = (
        f"environment: t\ntimezone: UTC\nstore: {tmp_path / 'store'}\noutputs: {tmp_path / 'out'}\nbaseline_days: 1\n"
        f"probes:\n  prometheus:\n    url: {prometheus_stack.url}\n    selector: '{{job=~\"blackbox.*\"}}'\n"
        "    step_seconds: 10\n"
    )
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    params = load_params(tmp_path / "p.yaml")
    day = dt.datetime.now(dt.UTC).date()
    results = {r.name: r for r in pull_sources(ReviewContext(params=params, day=day), {"probes"})}
    result = results["prometheus"]  # a source of its own since issue 10 (was counted in `probes`)
    assert result.status == "ok" and result.rows > 0, result.error
    assert (results["probes"].status, results["probes"].rows) == ("skipped", 0)  # no targets here
    store = Store(params.store)
    assert [p.name for p in store.parts("probe_results", day)] == ["prometheus.parquet"]
    frame = store.read("probe_results", [day])
    assert set(frame["probe"]) == set(prometheus_stack.targets.values())


def test_prometheus_errors_are_source_errors(prometheus_stack: Stack) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(SourceError, match="HTTP 400 for .probe_success{.: 1:15: parse error"):
        query_range(source(prometheus_stack), "probe_success{", now - dt.timedelta(minutes=1), now)
    down = PrometheusSource.model_validate({"url": f"http://127.0.0.1:{free_port()}", "timeout_seconds": 2})
    with pytest.raises(SourceError, match=r"source prometheus: http://127\.0\.0\.1:\d+: ConnectionError"):
        read_probe_metrics(down, now - dt.timedelta(minutes=1), now, 7)


def test_prometheus_error_texts_are_masked(prometheus_stack: Stack) -> None:
    """Prometheus's error repeats the query; a key in a selector's URL must not reach a finding."""
    now = dt.datetime.now(dt.UTC)
    query = 'probe_success{instance="https://api.example.com/health?api_key=k-8f2b9c7d1e"'  # unclosed
    with pytest.raises(SourceError) as info:
        query_range(source(prometheus_stack), query, now - dt.timedelta(minutes=1), now)
    assert "HTTP 400" in str(info.value) and "api_key=***" in str(info.value)
    assert "k-8f2b9c7d1e" not in str(info.value)
