"""``${ENV}`` in a probe's ``url`` (issue 10 item 8): an API key in the query string is resolved
when sent, percent-encoded, masked in every output; refused where it cannot be a secret."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from opsreview.cli import main
from opsreview.exceptions import ParamsError
from opsreview.params import load_params
from opsreview.probes.checks.tls import plain_http_url
from opsreview.probes.params import ProbesParams
from opsreview.probes.round import run_round
from opsreview.probes.source import load_probe_results
from opsreview.probes.target import TargetRun
from opsreview.store import Store
from tests.fixtures.express import ExpressServers
from tests.fixtures.tls import FaultServer

BASE = "environment: t\ntimezone: UTC\nstore: store\noutputs: out\n"
# Characters that would split a query value or a path segment if sent as they are.
SECRET = "s3cr3t/key+with&odd=chars"
ENCODED = quote(SECRET, safe="")


def write(tmp_path: Path, probes: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(BASE + "probes:\n" + probes, encoding="utf-8")
    return path


def test_url_reference_is_sent_resolved_and_percent_encoded(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSREVIEW_URL_KEY", SECRET)
    url = fault_server.url + "/ok?marker=url-secret-1&api_key=${OPSREVIEW_URL_KEY}"
    settings = ProbesParams.model_validate({"targets": [{"name": "keyed", "url": url, "checks": ["http", "cors"]}]})
    results = run_round(settings, ignore_schedule=True).results
    sent = [path for _, path, _ in fault_server.seen if "marker=url-secret-1" in path]
    # the main request and the cors check's three go to the URL with the key in it
    assert sent and set(sent) == {f"/ok?marker=url-secret-1&api_key={ENCODED}"}, sent
    assert len(sent) == 4
    assert all(r.ok for r in results), [r.detail for r in results]
    assert settings.targets[0].url == url  # the params keep the reference, never the value


def test_unset_url_variable_stops_the_probe_with_exit_2_naming_the_key(
    tmp_path: Path, fault_server: FaultServer, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write(
        tmp_path, f"  targets:\n    - name: keyed\n      url: {fault_server.url}/ok?k=${{OPSREVIEW_URL_KEY}}\n"
    )
    assert main(["probe", "--params", str(params), "--once"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"opsreview: error: {params}: probes.targets.0.url: environment variable OPSREVIEW_URL_KEY is not set"
    assert not (tmp_path / "store").exists()


def test_a_round_without_the_variable_reports_it_instead_of_sending_the_reference(
    fault_server: FaultServer,
) -> None:
    url = fault_server.url + "/ok?marker=url-secret-2&k=${OPSREVIEW_URL_KEY}"
    settings = ProbesParams.model_validate({"targets": [{"name": "keyed", "url": url}]})
    (result,) = run_round(settings, ignore_schedule=True).results
    assert not result.ok and result.detail == "not probed: environment variable OPSREVIEW_URL_KEY is not set"
    assert not [path for _, path, _ in fault_server.seen if "marker=url-secret-2" in path]


@pytest.mark.parametrize(
    ("probes", "key", "message"),
    [
        ("  targets:\n    - {name: a, url: 'https://${API_HOST}/health'}\n", "probes.targets.0.url", "not in the scheme, host or port"),
        ("  targets:\n    - {name: a, url: 'https://api.example.com:${PORT}/x'}\n", "probes.targets.0.url", "not in the scheme, host or port"),
        ("  targets:\n    - {name: a, url: '${SCHEME}://api.example.com/x'}\n", "probes.targets.0.url", "not in the scheme, host or port"),
        ("  targets:\n    - {name: a, url: 'https://api.example.com${PATH_KEY}'}\n", "probes.targets.0.url", "not in the scheme, host or port"),
        ("  targets:\n    - {name: a, url: 'https://api.example.com/?k=${api-key}'}\n", "probes.targets.0.url", "not a ${NAME} reference"),
        (
            "  targets:\n    - {name: a, url: 'https://api.example.com/', http_url: 'http://api.example.com/?k=${K}'}\n",
            "probes.targets.0.http_url",
            "a plain-HTTP URL must never carry a secret",
        ),
        (
            "  prometheus: {url: 'http://prometheus.internal:9090/?token=${PROM_TOKEN}'}\n",
            "probes.prometheus.url",
            "send credentials as a header (probes.prometheus.headers)",
        ),
    ],
)  # fmt: skip
def test_references_where_they_cannot_be_secret_are_refused_at_load(
    tmp_path: Path, probes: str, key: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ParamsError) as info:
        load_params(write(tmp_path, probes))
    assert info.value.key == key and message in str(info.value)
    assert main(["params", str(tmp_path / "p.yaml")]) == 2
    assert f"{key}: invalid URL" in capsys.readouterr().err


def test_params_command_warns_about_each_unset_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write(
        tmp_path,
        "  targets:\n"
        "    - name: a\n      url: 'https://api.example.com/v1/health?api_key=${OPSREVIEW_URL_KEY}'\n"
        "      headers: {X-Api-Key: '${OPSREVIEW_URL_KEY}'}\n"
        "    - name: b\n      url: 'https://api.example.com/v1/${OPSREVIEW_TENANT}/health'\n"
        "# ${OPSREVIEW_IN_A_COMMENT} is not a reference\n",
    )
    assert main(["params", str(params)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{params}: ok\n"
    assert err.splitlines() == [
        f"opsreview: warning: {params}: environment variable OPSREVIEW_URL_KEY is not set "
        "(used by probes.targets.0.url, probes.targets.0.headers.X-Api-Key)",
        f"opsreview: warning: {params}: environment variable OPSREVIEW_TENANT is not set (used by probes.targets.1.url)",
    ]
    monkeypatch.setenv("OPSREVIEW_URL_KEY", SECRET)
    monkeypatch.setenv("OPSREVIEW_TENANT", "acme")
    assert main(["params", str(params), "--show"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "api_key=${OPSREVIEW_URL_KEY}" in out and SECRET not in out and ENCODED not in out


def test_redirect_check_never_sends_the_url_secret_over_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSREVIEW_URL_KEY", SECRET)
    settings = ProbesParams.model_validate(
        {"targets": [{"name": "a", "url": "https://api.example.com/v1/health?api_key=${OPSREVIEW_URL_KEY}"}]}
    )
    run = TargetRun(settings.targets[0], settings, dt.datetime.now(dt.UTC), ssl.create_default_context())
    assert plain_http_url(run) == "http://api.example.com/"
    assert run.url == f"https://api.example.com/v1/health?api_key={ENCODED}"


@pytest.mark.node
@pytest.mark.slow
def test_url_secret_is_masked_in_every_output(tmp_path: Path, express_server: ExpressServers) -> None:
    """Probe twice (an outage), review the day: the key reaches the app, and no output holds it."""
    server = express_server("hardened", fresh=True)  # /api/search echoes q back in its JSON
    params = write(
        tmp_path,
        "  targets:\n    - name: search\n"
        f"      url: '{server.url}/api/search?q=${{OPSREVIEW_SEARCH_KEY}}'\n"
        "      expect: {json_equals: {q: nope}}\n",
    )
    env = {**os.environ, "OPSREVIEW_SEARCH_KEY": SECRET}
    outputs = ""
    for _ in range(2):
        probe = subprocess.run(
            [sys.executable, "-m", "opsreview.cli", "probe", "--params", str(params), "--once", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert probe.returncode == 1, probe.stderr
        outputs += probe.stdout + probe.stderr
    assert 'JSON q is \\"***\\", expected \\"nope\\"' in outputs  # resolved (the app echoed it), then masked
    assert sum(f"q={ENCODED}" in line for line in server.wait_for_log_lines(2)) == 2
    day = dt.datetime.now(dt.UTC).date().isoformat()
    run = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(params), "--date", day, "--only", "probes"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr  # a short outage is a warning
    summary = json.loads((tmp_path / "out" / day / "summary.json").read_text())
    (outage,) = [f for f in summary["findings"] if f["check"] == "probes.outage"]
    assert outage["evidence"]["reason"] == 'JSON q is "***", expected "nope"'
    assert 'JSON q is \\"***\\"' in (tmp_path / "out" / day / "probes.ipynb").read_text()
    stored = load_probe_results(Store(tmp_path / "store"), [dt.date.fromisoformat(day)])
    texts = [outputs, run.stdout, run.stderr, stored.to_csv()]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "store").rglob("*.jsonl")]
    for text in texts:
        assert SECRET not in text and ENCODED not in text
