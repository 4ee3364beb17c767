"""The security checks against the real Express app: hardened passes everything, weak is flagged
exactly where weaknesses are planted (tests/express_app/weaknesses.json)."""

from __future__ import annotations

from typing import Any

import pytest

from opsreview.probes.models import ProbeResult
from opsreview.probes.params import ProbesParams
from opsreview.probes.round import run_round
from tests.fixtures.express import ALLOWED_ORIGIN, WEAKNESSES, ExpressServer, ExpressServers
from tests.fixtures.tls import FaultServer

pytestmark = pytest.mark.node

# What each planted weakness must make fail (and nothing else).
EXPECTED_FAILURES: dict[str, set[str]] = {
    "no_helmet": {
        "headers",
        "headers.csp",
        "headers.nosniff",
        "headers.frame",
        "headers.referrer",
        "headers.cross_origin",
    },
    "x_powered_by": {"headers.powered_by"},
    "cors_reflects_any_origin": {"cors.simple", "cors.preflight", "cors.credentials"},
    "error_details": {"leakage.errors"},
    "default_404": {"leakage.not_found"},
    "no_rate_limit": {"rate_limit.headers", "rate_limit.burst"},
    "admin_no_role_check": {"auth.rbac"},
    "env_exposed": {"exposure.env"},
}
ALL_CHECKS = {
    "http",
    "headers",
    "headers.csp",
    "headers.nosniff",
    "headers.frame",
    "headers.referrer",
    "headers.cross_origin",
    "headers.powered_by",
    "cors.simple",
    "cors.preflight",
    "cors.credentials",
    "auth.no_token",
    "auth.valid_token",
    "auth.rbac",
    "auth.expired",
    "auth.tampered",
    "auth.alg_none",
    "rate_limit.headers",
    "rate_limit.burst",
    "leakage.not_found",
    "leakage.errors",
    "exposure.env",
    "exposure.git",
    "exposure.source",
    "exposure.config",
}


def target(server: ExpressServer, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "url": server.url + "/api/health",
        "checks": ["http", "headers", "cors", "auth", "rate_limit", "leakage", "exposure"],
        "allow_active": True,
        "expect": {"status": [200], "json_equals": {"status": "ok"}},
        "cors": {"allowed_origins": [ALLOWED_ORIGIN]},
        "auth": {
            "protected": ["/api/users/7/orders"],
            "admin": ["GET /api/admin/stats"],
            "user_token": "${OPSREVIEW_TEST_USER_TOKEN}",
            "expired_token": "${OPSREVIEW_TEST_EXPIRED_TOKEN}",
        },
        "rate_limit": {"path": "/api/search", "burst_requests": 12},
        "leakage": {
            "requests": [
                "GET /api/boom",
                {"method": "POST", "path": "/api/auth/login", "body": "{not json", "content_type": "application/json"},
            ]
        },
        **overrides,
    }


def probe(server: ExpressServer, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> dict[str, ProbeResult]:
    monkeypatch.setenv("OPSREVIEW_TEST_USER_TOKEN", server.user_token())
    monkeypatch.setenv("OPSREVIEW_TEST_EXPIRED_TOKEN", server.expired_token())
    settings = ProbesParams.model_validate({"targets": [target(server, **overrides)], "deadline_seconds": 30})
    results = run_round(settings, ignore_schedule=True).results
    by_check = {r.check: r for r in results}
    assert len(by_check) == len(results), "one row per check"
    return by_check


def failing(results: dict[str, ProbeResult]) -> set[str]:
    return {check for check, r in results.items() if not r.ok}


def test_expectations_cover_every_planted_weakness() -> None:
    assert set(EXPECTED_FAILURES) == set(WEAKNESSES)
    for key, checks in EXPECTED_FAILURES.items():
        assert {c.split(".")[0] for c in checks} == {WEAKNESSES[key].check}, key


def test_hardened_app_passes_every_check(express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch) -> None:
    results = probe(express_server("hardened", fresh=True), monkeypatch)
    assert set(results) == ALL_CHECKS
    assert failing(results) == set(), {c: results[c].detail for c in failing(results)}
    assert results["headers"].detail.startswith("grade A+")
    assert results["rate_limit.burst"].detail.startswith("429 after ")
    assert "401" in results["auth.alg_none"].detail and "403" in results["auth.rbac"].detail


def test_weak_app_is_flagged_exactly_where_weaknesses_are_planted(
    express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = probe(express_server("weak", fresh=True), monkeypatch)
    assert set(results) == ALL_CHECKS
    assert failing(results) == set().union(*EXPECTED_FAILURES.values())
    assert "Cannot GET" in results["leakage.not_found"].detail
    assert "stack trace" in results["leakage.errors"].detail and "source file path" in results["leakage.errors"].detail
    assert "reflects Origin https://cors-probe.opsreview.invalid" in results["cors.credentials"].detail
    assert "GET /api/admin/stats -> 200" in results["auth.rbac"].detail
    assert "/.env" in results["exposure.env"].detail
    assert "X-Powered-By: Express" in results["headers.powered_by"].detail
    assert results["headers"].detail.startswith("grade C")


@pytest.mark.slow
@pytest.mark.parametrize("weakness", sorted(EXPECTED_FAILURES))
def test_each_weakness_alone_flags_only_its_checks(
    express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch, weakness: str
) -> None:
    results = probe(express_server("weak", weaknesses={weakness}, fresh=True), monkeypatch)
    assert failing(results) == EXPECTED_FAILURES[weakness], {c: results[c].detail for c in failing(results)}


def test_expired_token_minted_with_the_signing_secret(
    express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = express_server("hardened", fresh=True)
    monkeypatch.setenv("OPSREVIEW_TEST_JWT_KEY", server.jwt_secret)
    auth = {
        "protected": ["/api/users/7/orders"],
        "user_token": "${OPSREVIEW_TEST_USER_TOKEN}",
        "signing_secret": "${OPSREVIEW_TEST_JWT_KEY}",
    }
    results = probe(server, monkeypatch, checks=["auth"], auth=auth)
    assert set(results) == {"auth.no_token", "auth.valid_token", "auth.expired", "auth.tampered", "auth.alg_none"}
    assert not failing(results)
    assert results["auth.expired"].detail == "with an expired token: 1 endpoint(s) answered 401"


def test_active_checks_do_not_run_without_consent(
    express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = express_server("weak", fresh=True)
    results = probe(
        server,
        monkeypatch,
        allow_active=False,
        checks=["http", "auth", "rate_limit"],
        rate_limit={"path": "/api/search"},
    )
    assert set(results) == {"http", "auth.no_token", "auth.valid_token", "auth.rbac", "rate_limit.headers"}
    lines = server.wait_for_log_lines(6)  # http 1, auth 4 (no token x2, valid token, rbac), rate-limit headers 1
    assert len(lines) == 6
    assert not any("/.env" in line or "/.git" in line for line in lines)
    assert sum("/api/search" in line for line in lines) == 1


@pytest.mark.parametrize(
    ("protected", "ok", "detail"),
    [
        # POST /api/orders checks the token first, then answers 400 to the empty body.
        (
            [{"method": "POST", "path": "/api/orders", "body": "{}"}],
            True,
            "with the non-admin test token: 1 endpoint(s) answered 400",
        ),
        (
            [{"method": "POST", "path": "/api/orders", "body": "{}"}, "/api/users/7/orders"],
            True,
            "with the non-admin test token: 2 endpoint(s) answered 200, 400",
        ),
        (
            ["/api/users/7/orders", "/api/boom"],
            True,
            "with the non-admin test token: 1 endpoint(s) answered 200 (inconclusive: GET /api/boom -> 500)",
        ),
        (
            ["/api/boom"],
            False,
            "with the non-admin test token: inconclusive, no answer shows whether the token is accepted "
            "(a 5xx, a redirect or a 429 comes before the token is checked): GET /api/boom -> 500",
        ),
        (
            ["/api/users/8/orders", "/api/users/7/orders"],
            False,
            "with the non-admin test token: token not accepted: GET /api/users/8/orders -> 403: refresh auth.user_token",
        ),
    ],
)
def test_valid_token_is_rejected_only_by_401_or_403(
    express_server: ExpressServers, monkeypatch: pytest.MonkeyPatch, protected: list[Any], ok: bool, detail: str
) -> None:
    server = express_server("hardened")
    auth = {"protected": protected, "user_token": "${OPSREVIEW_TEST_USER_TOKEN}"}
    results = probe(server, monkeypatch, checks=["auth"], allow_active=False, auth=auth)
    assert (results["auth.valid_token"].ok, results["auth.valid_token"].detail) == (ok, detail)


def test_valid_token_answered_only_by_redirects_is_inconclusive(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect (to a login page, to another path) says nothing about the token."""
    monkeypatch.setenv("OPSREVIEW_TEST_USER_TOKEN", "header.payload.signature")
    target = {
        "name": "redirects",
        "url": fault_server.url + "/ok",
        "checks": ["auth"],
        "auth": {"protected": ["/chain/1", "/offsite"], "user_token": "${OPSREVIEW_TEST_USER_TOKEN}"},
    }
    settings = ProbesParams.model_validate({"targets": [target]})
    results = {r.check: r for r in run_round(settings, ignore_schedule=True).results}
    valid = results["auth.valid_token"]
    assert not valid.ok
    assert valid.detail.startswith("with the non-admin test token: inconclusive, no answer shows whether")
    assert valid.detail.endswith("GET /chain/1 -> 302; GET /offsite -> 302")
