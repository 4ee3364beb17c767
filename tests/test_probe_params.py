"""The `probes` params section: validation, secrets, defaults, active-check consent."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsreview.cli import main
from opsreview.exceptions import ParamsError
from opsreview.params import load_params
from opsreview.secrets import SecretRef

BASE = "environment: t\ntimezone: UTC\nstore: s\noutputs: o\n"

FULL = """
probes:
  deadline_seconds: 45
  ca_file: certs/internal-ca.pem
  tls: {warning_days: 30, critical_days: 10, min_version: TLSv1.2}
  thresholds: {uptime_percent: 99.5, headers_min_grade: A}
  prometheus:
    url: http://prometheus.internal:9090
    headers: {Authorization: "Bearer ${OPSREVIEW_PROM_TOKEN}"}
  targets:
    - name: api-health
      url: https://api.example.com/api/health
      headers: {Accept: application/json, X-Api-Key: "${OPSREVIEW_API_KEY}"}
      expect: {status: [200], max_latency_ms: 800, json_equals: {status: ok}}
    - name: api-security
      url: https://api.example.com/api/health
      every_minutes: 60
      checks: [headers, cors, auth, rate_limit, leakage, exposure]
      allow_active: true
      auth:
        protected: ["/api/users/7/orders", "POST /api/orders"]
        admin: ["/api/admin/stats"]
        user_token: ${OPSREVIEW_USER_TOKEN}
      rate_limit: {path: /api/search, burst_requests: 20}
      leakage: {requests: ["GET /api/boom"]}
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_params(path)


def test_full_section_loads_with_secrets_kept_as_references(tmp_path: Path) -> None:
    params = load(tmp_path, FULL)
    probes = params.probes
    health, security = probes.targets
    assert health.enabled_checks == ("http", "tls")  # the default for an https URL
    assert health.headers["Accept"] == "application/json"
    assert health.headers["X-Api-Key"] == SecretRef("${OPSREVIEW_API_KEY}")
    assert security.auth.protected[1].method == "POST" and security.auth.protected[1].path == "/api/orders"
    assert probes.ca_file == tmp_path / "certs" / "internal-ca.pem"
    keys = [key for key, _ in probes.secret_references()]
    assert keys == [
        "probes.targets.0.headers.X-Api-Key",
        "probes.targets.1.auth.user_token",
        "probes.prometheus.headers.Authorization",
    ]
    assert set(params.secret_env_vars) == {"OPSREVIEW_API_KEY", "OPSREVIEW_USER_TOKEN", "OPSREVIEW_PROM_TOKEN"}


def test_params_show_prints_references_not_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPSREVIEW_API_KEY", "key-value-9876")
    load(tmp_path, FULL)
    assert main(["params", str(tmp_path / "p.yaml"), "--show"]) == 0
    out = capsys.readouterr().out
    assert "${OPSREVIEW_API_KEY}" in out and "key-value-9876" not in out


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "probes:\n  targets:\n    - {name: a, url: 'ftp://x/'}\n",
            "probes.targets.0.url",
            "scheme must be http or https",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://u:p@x/'}\n",
            "probes.targets.0.url",
            "credentials in a URL",
        ),
        ("probes:\n  targets:\n    - {name: a, url: 'http://x:99999/'}\n", "probes.targets.0.url", "bad port"),
        ("probes:\n  targets:\n    - {name: 'a b', url: 'http://x/'}\n", "probes.targets.0.name", "pattern"),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', colour: red}\n",
            "probes.targets.0.colour",
            "unknown key",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/'}\n    - {name: a, url: 'http://y/'}\n",
            "probes.targets",
            "probe name 'a' is used twice",
        ),
        (
            "probes:\n  deadline_seconds: 5\n  targets:\n    - {name: a, url: 'http://x/', timeout_seconds: 10}\n",
            "probes",
            "timeout_seconds 10.0 exceeds deadline_seconds 5.0",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', checks: [auth]}\n",
            "probes.targets.0",
            "needs auth.protected",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', checks: [auth], auth: {admin: [/admin]}}\n",
            "probes.targets.0",
            "auth.admin endpoints need auth.user_token",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', checks: [tls]}\n",
            "probes.targets.0",
            "needs an https url",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', leakage: {requests: ['GET api/x']}}\n",
            "probes.targets.0.leakage.requests.0",
            "expected 'METHOD /path' or '/path'",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', leakage: {requests: ['FETCH /x']}}\n",
            "probes.targets.0.leakage.requests.0.method",
            "unknown HTTP method 'FETCH'",
        ),
        (
            "probes:\n  targets:\n    - {name: a, url: 'http://x/', expect: {status: [700]}}\n",
            "probes.targets.0.expect.status",
            "status 700 is not an HTTP status",
        ),
        ("probes:\n  tls: {warning_days: 5, critical_days: 10}\n", "probes.tls", "critical_days must not exceed"),
        (
            "probes:\n  prometheus: {url: 'http://p:9090', selector: 'up'}\n",
            "probes.prometheus.selector",
            "label selector",
        ),
    ],
)
def test_invalid_probe_params_name_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ParamsError) as info:
        load(tmp_path, text)
    assert info.value.key == key
    assert message in str(info.value)


def test_headers_that_opsreview_sets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="header Host is set by opsreview"):
        load(tmp_path, "probes:\n  targets:\n    - {name: a, url: 'http://x/', headers: {Host: evil}}\n")
