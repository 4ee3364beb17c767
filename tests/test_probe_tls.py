"""The tls check against real TLS servers with certificates made in the test (tests/fixtures/tls.py)."""

from __future__ import annotations

from typing import Any

import pytest

from opsreview.probes.models import ProbeResult
from opsreview.probes.params import ProbesParams
from opsreview.probes.round import run_round
from tests.fixtures.tls import TlsServers


def probe(servers: TlsServers, case: str, tls: dict[str, Any] | None = None, **target: Any) -> dict[str, ProbeResult]:
    settings = ProbesParams.model_validate(
        {
            "targets": [{"name": case, "url": servers.url(case), "checks": ["http", "tls"], **target}],
            "ca_file": str(servers.ca_file),
            "tls": tls or {},
        }
    )
    return {r.check: r for r in run_round(settings, ignore_schedule=True).results}


def test_valid_certificate(tls_servers: TlsServers) -> None:
    results = probe(tls_servers, "valid", http_url=tls_servers.url("redirect"))
    assert results["http"].ok and results["http"].tls_ms is not None
    tls = results["tls"]
    assert tls.ok, tls.detail
    assert tls.cert_days_left is not None and 89 < tls.cert_days_left < 90.1
    assert tls.detail.startswith("certificate valid, expires ")
    assert "TLSv1.3" in tls.detail
    assert results["tls.hsts"].ok and "31536000" in results["tls.hsts"].detail
    assert results["tls.redirect"].ok
    assert results["tls.redirect"].detail.startswith(f"{tls_servers.url('redirect')} redirects with 301 to https://")


def test_certificate_expiring_in_five_days_is_flagged(tls_servers: TlsServers) -> None:
    results = probe(tls_servers, "expiring")
    assert results["http"].ok  # the site works; the certificate is the problem
    tls = results["tls"]
    assert not tls.ok
    assert tls.cert_days_left is not None and 4.9 < tls.cert_days_left <= 5.0
    assert "certificate expires in 5.0 days (critical below 7)" in tls.detail
    relaxed = probe(tls_servers, "expiring", tls={"critical_days": 3, "warning_days": 10})["tls"]
    assert relaxed.ok and relaxed.cert_days_left == pytest.approx(tls.cert_days_left, abs=0.01)


@pytest.mark.parametrize(
    ("case", "reason", "days"),
    [
        ("expired", "certificate has expired", (-1.1, -0.9)),
        ("wrong_host", "Hostname mismatch, certificate is not valid for 'localhost'", (89, 90.1)),
        ("self_signed", "self-signed certificate", (89, 90.1)),
    ],
)
def test_invalid_certificates_fail_with_the_reason_and_still_report_expiry(
    tls_servers: TlsServers, case: str, reason: str, days: tuple[float, float]
) -> None:
    results = probe(tls_servers, case)
    assert not results["http"].ok
    assert reason in results["http"].detail
    tls = results["tls"]
    assert not tls.ok
    assert tls.detail.startswith(reason)
    assert tls.cert_days_left is not None and days[0] < tls.cert_days_left < days[1]
    assert "tls.hsts" not in results  # no HTTP answer to look at


def test_protocol_version_below_the_minimum(tls_servers: TlsServers) -> None:
    assert probe(tls_servers, "old_tls")["tls"].ok
    tls = probe(tls_servers, "old_tls", tls={"min_version": "TLSv1.3"})["tls"]
    assert not tls.ok
    assert "negotiated TLSv1.2, below TLSv1.3" in tls.detail


def test_plain_http_without_redirect_and_short_hsts(tls_servers: TlsServers) -> None:
    results = probe(tls_servers, "valid", tls={"hsts_min_age_days": 400}, http_url=tls_servers.url("no_redirect"))
    assert not results["tls.redirect"].ok
    assert "answered 200, not a redirect to HTTPS" in results["tls.redirect"].detail
    assert not results["tls.hsts"].ok
    assert "HSTS max-age 31536000 s is below 34560000 s" in results["tls.hsts"].detail


def test_headers_check_grades_hsts_on_https(tls_servers: TlsServers) -> None:
    results = probe(tls_servers, "valid", checks=["headers"])
    assert results["headers.hsts"].ok
    assert not results["headers.csp"].ok  # the fixture server sends no CSP
