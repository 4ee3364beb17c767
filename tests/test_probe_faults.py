"""Probe faults against real local servers: each is a failed result with a clear reason, never a crash."""

from __future__ import annotations

import datetime as dt
import socket
import time
from typing import Any

import pytest

from opsreview.probes.client import USER_AGENT, fetch
from opsreview.probes.models import ProbeResult
from opsreview.probes.params import ProbesParams
from opsreview.probes.round import run_round
from tests.fixtures.tls import BIG_BODY, FaultServer


def settings(*targets: dict[str, Any], **options: Any) -> ProbesParams:
    return ProbesParams.model_validate({"targets": list(targets), **options})


def probe(target: dict[str, Any], **options: Any) -> dict[str, ProbeResult]:
    report = run_round(settings({"name": "t", **target}, **options), ignore_schedule=True)
    return {r.check: r for r in report.results}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthy_target_passes_with_phase_timings(fault_server: FaultServer) -> None:
    result = probe({"url": fault_server.url + "/ok", "expect": {"status": [200], "json_equals": {"db.state": "up"}}})
    http = result["http"]
    assert http.ok, http.detail
    assert http.status_code == 200
    assert http.detail.startswith("200 OK in ")
    assert http.latency_ms is not None and http.ttfb_ms is not None and http.connect_ms is not None
    assert http.dns_ms is not None and 0 <= http.ttfb_ms <= http.latency_ms
    assert http.tls_ms is None  # plain HTTP


@pytest.mark.parametrize(
    ("path", "expect", "reason"),
    [
        ("/status/503", {}, "expected status 2xx, got 503"),
        ("/ok", {"status": [204, "3xx"]}, "expected status 204, 3xx, got 200"),
        ("/ok", {"body_contains": "healthy"}, "body does not contain 'healthy'"),
        ("/ok", {"json_equals": {"db.state": "down"}}, 'JSON db.state is "up", expected "down"'),
        ("/ok", {"json_equals": {"checks[0].ok": True}}, "JSON checks[0].ok is missing"),
        ("/status/200", {"json_equals": {"status": "ok"}}, "body is not JSON"),
        ("/ok", {"max_latency_ms": 0.001}, "limit 0.001 ms"),
    ],
)
def test_unmet_expectations_say_why(fault_server: FaultServer, path: str, expect: dict[str, Any], reason: str) -> None:
    http = probe({"url": fault_server.url + path, "expect": expect})["http"]
    assert not http.ok
    assert reason in http.detail


def test_dns_failure() -> None:
    http = probe({"url": "http://no-such-host.opsreview.invalid/health"})["http"]
    assert not http.ok and http.status_code is None
    # "failed" where a resolver answers NXDOMAIN; "timeout" where none answers in time (no network).
    assert http.detail.startswith(("DNS lookup failed for no-such-host.opsreview.invalid", "timeout after 5 s (DNS"))


def test_connection_refused() -> None:
    port = closed_port()
    http = probe({"url": f"http://127.0.0.1:{port}/health"})["http"]
    assert not http.ok
    assert http.detail == f"connection refused by 127.0.0.1:{port}"


def test_timeout_is_bounded(fault_server: FaultServer) -> None:
    started = time.monotonic()
    http = probe({"url": fault_server.url + "/hang", "timeout_seconds": 0.5})["http"]
    elapsed = time.monotonic() - started
    assert not http.ok
    assert http.detail == "timeout after 0.5 s (waiting for the response headers)"
    assert elapsed < 2.0
    assert http.latency_ms is not None and 450 <= http.latency_ms < 2000


def test_tls_handshake_failure(fault_server: FaultServer) -> None:
    https = fault_server.url.replace("http://", "https://") + "/ok"
    result = probe({"url": https, "checks": ["http", "tls"]})
    assert not result["http"].ok
    assert result["http"].detail.startswith("TLS handshake failed: ")
    assert not result["tls"].ok and result["tls"].detail.startswith("TLS handshake failed")


def test_big_body_read_is_capped(fault_server: FaultServer) -> None:
    exchange = fetch(fault_server.url + "/big", max_bytes=1_048_576, timeout_s=10)
    assert exchange.truncated and len(exchange.body) == 1_048_576
    assert exchange.content_length == BIG_BODY
    http = probe({"url": fault_server.url + "/big"})["http"]
    assert not http.ok
    assert f"body larger than the 1048576 byte read cap (Content-Length {BIG_BODY}): stopped reading" in http.detail


def test_redirect_loop(fault_server: FaultServer) -> None:
    http = probe({"url": fault_server.url + "/loop"})["http"]
    assert not http.ok
    assert http.detail.startswith("redirect loop after 2 requests: ")
    assert "/loop2 -> " in http.detail


def test_redirect_limit(fault_server: FaultServer) -> None:
    assert probe({"url": fault_server.url + "/chain/3"}, max_redirects=3)["http"].ok
    http = probe({"url": fault_server.url + "/chain/4"}, max_redirects=3)["http"]
    assert not http.ok and http.detail.startswith("more than 3 redirects")
    not_followed = probe({"url": fault_server.url + "/chain/1", "follow_redirects": False})["http"]
    assert not not_followed.ok and not_followed.status_code == 302


def test_slow_targets_never_delay_the_round_past_its_deadline(fault_server: FaultServer) -> None:
    targets = [{"name": f"hang{i}", "url": fault_server.url + "/hang", "timeout_seconds": 0.8} for i in range(3)]
    started = time.monotonic()
    report = run_round(settings(*targets, deadline_seconds=1.2, concurrency=1), ignore_schedule=True)
    elapsed = time.monotonic() - started
    assert elapsed < 1.7, elapsed
    details = {r.probe: r.detail for r in report.results}
    assert details["hang0"] == "timeout after 0.8 s (waiting for the response headers)"
    assert details["hang1"] == "round deadline reached (waiting for the response headers)"
    assert details["hang2"] == "not finished within the round deadline of 1.2 s"
    assert not any(r.ok for r in report.results)
    assert report.unfinished == ["hang2"]


def test_requests_name_opsreview_and_send_only_what_is_configured(fault_server: FaultServer) -> None:
    before = len(fault_server.seen)
    probe({"url": fault_server.url + "/echo?x=1", "method": "POST", "headers": {"X-Team": "sre"}, "body": "{}"})
    method, path, headers = fault_server.seen[before]
    assert len(fault_server.seen) == before + 1  # http is the only check: one request
    assert (method, path) == ("POST", "/echo?x=1")
    assert headers["user-agent"] == USER_AGENT and "opsreview" in USER_AGENT
    assert headers["x-team"] == "sre" and headers["content-length"] == "2"
    assert "authorization" not in headers and "cookie" not in headers


def test_configured_headers_are_not_sent_to_another_origin(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSREVIEW_PROBE_TOKEN", "s3cret-token-value")
    before = len(fault_server.seen)
    http = probe(
        {
            "url": fault_server.url + "/offsite",
            "headers": {"Authorization": "Bearer ${OPSREVIEW_PROBE_TOKEN}"},
            "expect": {"json_equals": {"authorization": "x"}},
        }
    )["http"]
    first, second = fault_server.seen[before], fault_server.seen[before + 1]
    assert first[2]["authorization"] == "Bearer s3cret-token-value"
    assert second[1] == "/echo" and "authorization" not in second[2]
    assert http.detail == "JSON authorization is missing"


def test_secret_in_a_failure_detail_is_masked(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSREVIEW_PROBE_TOKEN", "s3cret-token-value")
    http = probe(
        {
            "url": fault_server.url + "/echo",
            "headers": {"X-Api-Key": "${OPSREVIEW_PROBE_TOKEN}"},
            "expect": {"json_equals": {"x-api-key": "other"}},
        }
    )["http"]
    assert not http.ok
    assert "s3cret-token-value" not in http.detail
    assert 'JSON x-api-key is "***"' in http.detail


def test_targets_run_on_their_every_minutes_schedule(fault_server: FaultServer) -> None:
    both = settings(
        {"name": "often", "url": fault_server.url + "/ok"},
        {"name": "hourly", "url": fault_server.url + "/ok", "every_minutes": 60},
    )
    at_the_hour = run_round(both, now=dt.datetime(2026, 11, 23, 10, 0, 12, tzinfo=dt.UTC))
    assert at_the_hour.probed == ["often", "hourly"] and at_the_hour.not_due == []
    later = run_round(both, now=dt.datetime(2026, 11, 23, 10, 1, 12, tzinfo=dt.UTC))
    assert later.probed == ["often"] and later.not_due == ["hourly"]
    assert {r.probe for r in later.results} == {"often"}
    assert later.results[0].ts == dt.datetime(2026, 11, 23, 10, 1, 12, tzinfo=dt.UTC)
