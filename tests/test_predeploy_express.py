"""The gate against the real Express test app: its OpenAPI GET endpoints smoked, the probes run
against base_url, and `opsreview predeploy` end to end through the real CLI (exit 0 GO, 1 NO-GO,
2 bad params with nothing written), with no environment value in any output."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsreview.cli import main
from opsreview.predeploy import latest_result
from opsreview.predeploy.models import FAIL, PASS
from opsreview.predeploy.security import check_security
from opsreview.predeploy.smoke import check_endpoints
from tests.fixtures.express import ALLOWED_ORIGIN, ExpressServer, ExpressServers
from tests.mongo_fake import FakeMongo
from tests.predeploy_support import EXPRESS_OPENAPI, OPENAPI_GETS, free_port, load, write_params

pytestmark = pytest.mark.node

LIB = Path(__file__).resolve().parents[1] / "lib"
# Values that must never reach a written file or the terminal.
DOTENV_SECRET = "SEEDED-dotenv-value-9f8e7d6c"
PROCESS_SECRET = "SEEDED-process-value-1a2b3c4d"


def probe_target(**overrides: Any) -> dict[str, Any]:
    """A production probe target; the gate sends it to base_url (tls left out on http)."""
    return {
        "name": "api",
        "url": "https://api.example.com/api/health",
        "checks": ["http", "tls", "headers", "cors", "leakage"],
        "expect": {"status": [200], "json_equals": {"status": "ok"}},
        "cors": {"allowed_origins": [ALLOWED_ORIGIN]},
        "leakage": {"requests": ["GET /api/boom"]},
        **overrides,
    }


@pytest.fixture(scope="module")
def hardened(express_server: ExpressServers) -> ExpressServer:
    return express_server("hardened", fresh=True)


@pytest.fixture
def fake_mongo() -> Iterator[FakeMongo]:
    with FakeMongo("7.0", "standalone") as fake:
        yield fake


def test_openapi_get_endpoints_without_parameters_are_smoked(tmp_path: Path, hardened: ExpressServer) -> None:
    (tmp_path / "openapi.yaml").write_text(EXPRESS_OPENAPI, encoding="utf-8")
    result = check_endpoints(load(tmp_path, {"base_url": hardened.url, "openapi": "openapi.yaml"}))
    rows = {r["endpoint"]: r for r in result.evidence["requests"]}
    assert set(rows) == OPENAPI_GETS
    assert result.status == PASS, result.summary
    assert rows["GET /api/admin/stats"]["status"] == 401  # protected: 401 is accepted by default
    assert rows["GET /api/health"]["status"] == 200
    assert {r["source"] for r in rows.values()} == {"openapi"}


def test_openapi_expectations_are_configurable(tmp_path: Path, hardened: ExpressServer) -> None:
    (tmp_path / "openapi.yaml").write_text(EXPRESS_OPENAPI, encoding="utf-8")
    params = load(tmp_path, {"base_url": hardened.url, "openapi": "openapi.yaml", "openapi_expect": ["2xx"]})
    result = check_endpoints(params)
    assert result.status == FAIL
    assert result.failures == [("GET /api/admin/stats", "GET /api/admin/stats: answered 401, expected 2xx")]


def test_listed_endpoints_send_headers_from_the_environment(
    tmp_path: Path, hardened: ExpressServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = {
        "path": "/api/users/7/orders",
        "expect": [200],
        "headers": {"Authorization": "Bearer ${PD_SMOKE_TOKEN}"},
    }
    params = load(tmp_path, {"base_url": hardened.url, "endpoints": [endpoint]})
    monkeypatch.setenv("PD_SMOKE_TOKEN", hardened.wrong_secret_token())
    assert check_endpoints(params).failures[0][1] == "GET /api/users/7/orders: answered 401, expected 200"
    monkeypatch.setenv("PD_SMOKE_TOKEN", hardened.user_token())
    assert check_endpoints(params).status == PASS


def test_security_probes_run_against_base_url(
    tmp_path: Path, express_server: ExpressServers, hardened: ExpressServer
) -> None:
    params = load(tmp_path, {"base_url": hardened.url}, probes={"targets": [probe_target()]})
    result = check_security(params)
    assert result.status == PASS, result.summary
    assert result.evidence["left_out"] == {"api": ["tls"]}
    checks = {r["check"] for r in result.evidence["results"]}
    assert {"http", "headers", "cors.simple", "leakage.errors"} <= checks
    assert hardened.wait_for_log_lines(1) and any("/api/health" in line for line in hardened.log_lines())

    weak = express_server("weak", weaknesses={"x_powered_by", "error_details"}, fresh=True)
    result = check_security(load(tmp_path, {"base_url": weak.url}, probes={"targets": [probe_target()]}))
    assert result.status == FAIL
    assert {s for s, _ in result.failures} == {"api/headers.powered_by", "api/leakage.errors"}


# -- the CLI, end to end -----------------------------------------------------------------


def _app_files(tmp: Path, missing_in_dotenv: bool = False) -> None:
    (tmp / ".env.example").write_text("NODE_ENV=production\nJWT_SECRET=\nPD_PROCESS_SECRET=\n", encoding="utf-8")
    lines = ["NODE_ENV=production"] if missing_in_dotenv else ["NODE_ENV=production", f"JWT_SECRET={DOTENV_SECRET}"]
    (tmp / "deploy.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp / "openapi.yaml").write_text(EXPRESS_OPENAPI, encoding="utf-8")
    (tmp / "migrations").mkdir(exist_ok=True)
    (tmp / "migrations" / "20261201-init.js").write_text("module.exports = {}\n")


def _gate_params(tmp: Path, server: ExpressServer, **predeploy: Any) -> Path:
    section: dict[str, Any] = {
        "base_url": server.url,
        "env_example": ".env.example",
        "env_from": {"process": True, "dotenv": ["deploy.env"]},
        "openapi": "openapi.yaml",
        "endpoints": [
            {"path": "/api/users/7/orders", "expect": [200], "headers": {"Authorization": "Bearer ${PD_SMOKE_TOKEN}"}}
        ],
        "migrations": {"database": "app", "folder": "migrations"},
        "rollback": {
            "image": "registry.example.com/shop:1.41.0",
            "recorded_at": "2026-12-06T17:00:00Z",
            "by": "release-bot",
        },
        "timeouts": {"database_seconds": 1},
        "optional": ["backup", "alerts"],  # not part of this branch: their own tests cover them
        **predeploy,
    }
    return write_params(tmp, section, database={"uri": "${MONGODB_URI}"}, probes={"targets": [probe_target()]})


def _run_cli(params: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    child_env["PYTHONPATH"] = str(LIB)
    child_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "predeploy", "--params", str(params), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env,
    )


def _written_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def test_cli_go(tmp_path: Path, hardened: ExpressServer, fake_mongo: FakeMongo) -> None:
    _app_files(tmp_path)
    fake_mongo.replies["sample"] = {
        "app.changelog": [{"fileName": "20261201-init.js", "appliedAt": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}]
    }
    token = hardened.user_token()
    env = {"MONGODB_URI": fake_mongo.uri(), "PD_SMOKE_TOKEN": token, "PD_PROCESS_SECRET": PROCESS_SECRET}
    proc = _run_cli(_gate_params(tmp_path, hardened), env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"GO: staging, {hardened.url} (")
    statuses = {line.split()[1]: line for line in lines[1:9]}
    assert set(statuses) == {
        f"predeploy.{n}:"
        for n in ("env", "database", "migrations", "smoke", "security", "backup", "alerts", "rollback")
    }
    # optional here: "not available" in this branch; once the backups area is merged, whatever it
    # says with no backups configured (which must not be a pass)
    assert "predeploy.backup: not checked (optional) - " in statuses["predeploy.backup:"]
    outputs = tmp_path / "outputs" / "predeploy"
    (run_dir,) = [p for p in outputs.iterdir() if p.is_dir()]
    document = json.loads((run_dir / "predeploy.json").read_text())
    assert document["verdict"] == "GO" and document["environment"] == "staging" and document["reasons"] == []
    by_id = {c["id"]: c for c in document["checks"]}
    assert by_id["predeploy.database"]["evidence"]["latency_ms"] > 0
    assert by_id["predeploy.migrations"]["status"] == "pass"
    assert len(by_id["predeploy.smoke"]["evidence"]["requests"]) == len(OPENAPI_GETS) + 1
    assert json.loads((outputs / "latest.json").read_text())["report_dir"] == run_dir.name
    assert "Pre-deployment go/no-go" in (run_dir / "predeploy.html").read_text()
    assert latest_result(tmp_path / "outputs") == document
    assert latest_result(tmp_path / "outputs", until=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) is None
    text = _written_text(tmp_path / "outputs") + proc.stdout + proc.stderr
    for secret in (DOTENV_SECRET, PROCESS_SECRET, token, fake_mongo.password):
        assert secret not in text


def test_cli_no_go_names_every_reason(tmp_path: Path, hardened: ExpressServer) -> None:
    _app_files(tmp_path, missing_in_dotenv=True)
    token = hardened.user_token()
    env = {
        "MONGODB_URI": f"mongodb://opsreview:Refused-Passw0rd-77@127.0.0.1:{free_port()}/?directConnection=true",
        "PD_SMOKE_TOKEN": token,
        "PD_PROCESS_SECRET": PROCESS_SECRET,
    }
    params = _gate_params(
        tmp_path, hardened, endpoints=[{"path": "/api/boom", "expect": [200]}], optional=[], rollback=None
    )
    proc = _run_cli(params, env, "--out", str(tmp_path / "gate"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("NO-GO: staging")
    blocking = [line for line in lines if line.startswith("  x ")]
    assert [line.split()[1] for line in blocking] == [
        "predeploy.env:",
        "predeploy.database:",
        "predeploy.migrations:",
        "predeploy.smoke:",
        "predeploy.backup:",
        "predeploy.alerts:",
        "predeploy.rollback:",
    ]
    assert "FAIL - missing JWT_SECRET" in blocking[0]
    assert "GET /api/boom: answered 500, expected 200" in blocking[3]
    assert "NOT CHECKED - no rollback target configured (to check it: set predeploy.rollback" in blocking[6]
    document = json.loads((tmp_path / "gate" / "latest.json").read_text())
    assert document["verdict"] == "NO-GO" and len(document["reasons"]) == 7
    assert {f["check"] for f in document["findings"]} >= {"predeploy.env", "predeploy.smoke"}
    text = _written_text(tmp_path / "gate") + proc.stdout + proc.stderr
    for secret in (DOTENV_SECRET, PROCESS_SECRET, token, "Refused-Passw0rd-77"):
        assert secret not in text
    assert not (tmp_path / "outputs").exists(), "--out replaces <outputs>/predeploy"


@pytest.mark.parametrize(
    ("predeploy", "message"),
    [
        ({"base_url": None}, "predeploy.base_url: required by opsreview predeploy"),
        ({"openapi": "nope.yaml"}, "predeploy.openapi: "),
        ({"timeouts": {"request_seconds": -1}}, "predeploy.timeouts.request_seconds: "),
    ],
)
def test_bad_params_exit_2_and_write_nothing(
    tmp_path: Path,
    hardened: ExpressServer,
    predeploy: dict[str, Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _app_files(tmp_path)
    monkeypatch.setenv("PD_SMOKE_TOKEN", "x")
    code = main(["predeploy", "--params", str(_gate_params(tmp_path, hardened, **predeploy))])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "outputs").exists()


def test_cli_bad_params_exit_2(tmp_path: Path, hardened: ExpressServer) -> None:
    _app_files(tmp_path)
    proc = _run_cli(_gate_params(tmp_path, hardened, base_url=None), {"PD_SMOKE_TOKEN": "x"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert (
        proc.stderr
        == f"opsreview: error: {tmp_path / 'params.yaml'}: predeploy.base_url: required by opsreview predeploy (the deploy target)\n"
    )
    assert not (tmp_path / "outputs").exists()
