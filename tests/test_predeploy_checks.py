"""The checks of the pre-deployment gate one by one, against real targets: a python http.server
(a hanging endpoint, a refused port), mockupdb through the kernel's mongo gate, real files
(mongodump archives built from the documented format for the backup check)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsreview.exceptions import ParamsError
from opsreview.predeploy.database import check_database, check_migrations
from opsreview.predeploy.environment import check_env, dotenv_names
from opsreview.predeploy.external import check_alerts, check_backup
from opsreview.predeploy.gate import run_predeploy
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS
from opsreview.predeploy.params import CHECK_NAMES
from opsreview.predeploy.rollback import check_rollback
from opsreview.predeploy.smoke import check_endpoints
from opsreview.run.execute import discover_notebooks
from tests.mongo_fake import FakeMongo
from tests.predeploy_support import EdgeServer, free_port, load
from tests.test_backups_archive import archive

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
ALL_OPTIONAL = ["env", "database", "migrations", "smoke", "security", "backup", "alerts", "rollback"]


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeServer]:
    server = EdgeServer()
    yield server
    server.close()


@pytest.fixture
def fake_mongo() -> Iterator[FakeMongo]:
    with FakeMongo("7.0", "standalone") as fake:
        yield fake


# -- params ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predeploy", "key", "message"),
    [
        ({"base_url": "ftp://x"}, "predeploy.base_url", "scheme must be http or https"),
        ({"base_url": "http://x", "endpoints": [{"path": "api"}]}, "predeploy.endpoints.0.path", "must start with /"),
        (
            {"base_url": "http://x", "endpoints": [{"path": "/", "expect": [99]}]},
            "predeploy.endpoints.0.expect",
            "not an HTTP status",
        ),
        ({"base_url": "http://x", "optional": ["nothing"]}, "predeploy.optional.0", "Input should be"),
        ({"base_url": "http://x", "rollback": {"file": "r.json", "by": "ann"}}, "predeploy", "either file or by"),
        ({"base_url": "http://x", "surprise": 1}, "predeploy.surprise", "unknown key"),
    ],
)
def test_bad_params_name_the_key(tmp_path: Path, predeploy: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ParamsError) as err:
        load(tmp_path, predeploy)
    assert f"params.yaml: {key}: " in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("predeploy", "key"),
    [
        ({}, "predeploy.base_url"),
        ({"base_url": "http://x", "env_example": "missing.env"}, "predeploy.env_example"),
        ({"base_url": "http://x", "openapi": "missing.yaml"}, "predeploy.openapi"),
        ({"base_url": "http://x", "probe_targets": ["nope"]}, "predeploy.probe_targets.0"),
        (
            {"base_url": "http://x", "migrations": {"database": "app", "folder": "nowhere"}},
            "predeploy.migrations.folder",
        ),
        (
            {
                "base_url": "http://x",
                "endpoints": [{"path": "/", "headers": {"Authorization": "Bearer ${PD_UNSET_TOKEN}"}}],
            },
            "predeploy.endpoints.0.headers.Authorization",
        ),
    ],
)
def test_the_gate_refuses_params_it_cannot_keep_before_any_check(
    tmp_path: Path, predeploy: dict[str, Any], key: str
) -> None:
    params = load(tmp_path, predeploy)
    with pytest.raises(ParamsError, match=f": {key}: "):
        run_predeploy(params, now=NOW)


def test_an_openapi_file_that_is_not_one_is_a_params_error(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("just: a mapping\n", encoding="utf-8")
    params = load(tmp_path, {"base_url": "http://x", "openapi": "api.yaml"})
    with pytest.raises(ParamsError, match="predeploy.openapi: .*not an OpenAPI document"):
        run_predeploy(params, now=NOW)


# -- environment variables ---------------------------------------------------------------


def test_dotenv_names_never_keep_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        '# comment\nexport A=1\nB=\nC=""\n  D = "x y"\n# E=commented\nF= # only a comment\nnot a line\n',
        encoding="utf-8",
    )
    assert dotenv_names(path) == {"A": True, "B": False, "C": False, "D": True, "F": False}


def test_env_names_missing_or_empty_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env.example").write_text("DATABASE_URL=\nJWT_SECRET=change-me\nSTRIPE_KEY=\nPORT=3000\n")
    (tmp_path / "deploy.env").write_text("DATABASE_URL=mongodb://db/app\nJWT_SECRET=\n")
    monkeypatch.setenv("PORT", "8080")
    params = load(
        tmp_path,
        {
            "base_url": "http://x",
            "env_example": ".env.example",
            "env_from": {"process": True, "dotenv": ["deploy.env"]},
        },
    )
    result = check_env(params)
    assert result.status == FAIL
    assert result.evidence["missing"] == ["STRIPE_KEY"]
    assert result.evidence["empty"] == ["JWT_SECRET"]
    assert result.evidence["present"] == ["DATABASE_URL", "PORT"]
    assert result.summary == "missing STRIPE_KEY; empty JWT_SECRET"
    assert {s for s, _ in result.failures} == {"STRIPE_KEY", "JWT_SECRET"}
    assert "mongodb://db/app" not in json.dumps(result.to_dict()) and "8080" not in json.dumps(result.to_dict())
    monkeypatch.setenv("STRIPE_KEY", "sk")
    monkeypatch.setenv("JWT_SECRET", "s")  # the process environment sets what the file left empty
    assert check_env(params).status == PASS


def test_env_without_a_source_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("A=\n")
    result = check_env(load(tmp_path, {"base_url": "http://x", "env_example": ".env.example"}))
    assert result.status == NOT_CHECKED
    assert "predeploy.env_from" in result.remedy


def test_an_unreadable_dotenv_file_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("A=\n")
    params = load(
        tmp_path, {"base_url": "http://x", "env_example": ".env.example", "env_from": {"dotenv": ["gone.env"]}}
    )
    result = check_env(params)
    assert result.status == FAIL
    assert "gone.env cannot be read" in result.summary


# -- smoke run edge cases ----------------------------------------------------------------


def test_a_hanging_endpoint_fails_within_its_timeout(tmp_path: Path, edge: EdgeServer) -> None:
    params = load(
        tmp_path,
        {"base_url": edge.url, "endpoints": [{"path": "/ok"}, {"path": "/hang"}], "timeouts": {"request_seconds": 0.5}},
    )
    started = time.monotonic()
    result = check_endpoints(params)
    elapsed = time.monotonic() - started
    assert elapsed < 3, "the hanging request is cut at its timeout, not at the server's 10 s"
    assert result.status == FAIL
    assert [s for s, _ in result.failures] == ["GET /hang"]
    assert "timeout after 0.5 s" in result.failures[0][1]
    rows = {r["endpoint"]: r for r in result.evidence["requests"]}
    assert rows["GET /ok"]["ok"] and rows["GET /ok"]["status"] == 200


def test_a_refused_port_fails_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = check_endpoints(load(tmp_path, {"base_url": f"http://127.0.0.1:{port}", "endpoints": [{"path": "/"}]}))
    assert result.status == FAIL
    reason = result.failures[0][1]
    assert reason == f"GET /: connection refused by 127.0.0.1:{port}"
    assert "\n" not in result.line()


@pytest.mark.parametrize(
    ("endpoint", "ok", "error"),
    [
        ({"path": "/boom"}, False, "answered 500, expected 2xx"),
        ({"path": "/boom", "expect": [500]}, True, None),
        ({"path": "/moved"}, False, "answered 301, expected 2xx"),  # redirects are not followed
        ({"path": "/moved", "expect": ["3xx"]}, True, None),
        ({"path": "/nothing", "expect": [200, "3xx"]}, False, "answered 404, expected 200, 3xx"),
    ],
)
def test_expected_statuses(
    tmp_path: Path, edge: EdgeServer, endpoint: dict[str, Any], ok: bool, error: str | None
) -> None:
    result = check_endpoints(load(tmp_path, {"base_url": edge.url, "endpoints": [endpoint]}))
    row = result.evidence["requests"][0]
    assert (row["ok"], row["error"]) == (ok, error)
    assert result.status == (PASS if ok else FAIL)


def test_no_endpoints_is_not_checked(tmp_path: Path) -> None:
    result = check_endpoints(load(tmp_path, {"base_url": "http://x"}))
    assert result.status == NOT_CHECKED and "predeploy.openapi" in result.remedy


# -- database ----------------------------------------------------------------------------


def test_database_reachable_with_latency(
    tmp_path: Path, fake_mongo: FakeMongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_MONGODB_URI", fake_mongo.uri())
    params = load(tmp_path, {"base_url": "http://x"}, database={"uri": "${PD_MONGODB_URI}"})
    result = check_database(params)
    assert result.status == PASS, result.summary
    assert result.evidence["latency_ms"] > 0 and result.evidence["first_reply_ms"] > 0
    assert result.summary.startswith("hello answered, round trip ")
    hellos = [c for c in fake_mongo.commands() if c["name"] == "hello" and "maxTimeMS" in c["doc"]]
    assert len(hellos) == 2, "two hello commands sent through the gate (with maxTimeMS)"
    assert all(c["doc"]["maxTimeMS"] == 5000 for c in hellos)
    assert not fake_mongo.app_commands(), "nothing but the handshake, login and hello"


def test_database_refused_fails_within_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_MONGODB_URI", f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    params = load(
        tmp_path, {"base_url": "http://x", "timeouts": {"database_seconds": 0.5}}, database={"uri": "${PD_MONGODB_URI}"}
    )
    started = time.monotonic()
    result = check_database(params)
    assert time.monotonic() - started < 5
    assert result.status == FAIL
    assert result.summary.startswith("not reachable within 0.5 s: ")
    assert result.evidence["error_kind"] == "network"
    assert "\n" not in result.summary


def test_database_wrong_password_fails_and_never_shows_it(
    tmp_path: Path, fake_mongo: FakeMongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_MONGODB_URI", fake_mongo.uri(password="Wrong-Passw0rd-xyz"))
    result = check_database(load(tmp_path, {"base_url": "http://x"}, database={"uri": "${PD_MONGODB_URI}"}))
    assert result.status == FAIL and "Authentication failed" in result.summary
    assert "Wrong-Passw0rd-xyz" not in json.dumps(result.to_dict())


def test_database_unset_uri_is_not_checked_and_unset_variable_fails(tmp_path: Path) -> None:
    assert check_database(load(tmp_path, {"base_url": "http://x"})).status == NOT_CHECKED
    result = check_database(load(tmp_path, {"base_url": "http://x"}, database={"uri": "${PD_NOT_SET_URI}"}))
    assert result.status == FAIL
    assert result.summary == "cannot connect: environment variable PD_NOT_SET_URI is not set"


def test_migrations_every_file_applied(tmp_path: Path, fake_mongo: FakeMongo, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in ("20260101-users.js", "20260201-orders.js", "20260301-index.js", "README.md"):
        (folder / name).write_text("module.exports = {}\n")
    applied = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    fake_mongo.replies["sample"] = {
        "app.changelog": [
            {"fileName": "20260101-users.js", "appliedAt": applied},
            {"fileName": "20260201-orders.js", "appliedAt": applied},
        ]
    }
    monkeypatch.setenv("PD_MONGODB_URI", fake_mongo.uri())
    params = load(
        tmp_path,
        {"base_url": "http://x", "migrations": {"database": "app", "folder": "migrations"}},
        database={"uri": "${PD_MONGODB_URI}"},
    )
    result = check_migrations(params)
    assert result.status == FAIL
    assert result.evidence["pending"] == ["20260301-index.js"]
    assert result.failures == [("20260301-index.js", "20260301-index.js is not applied")]
    assert result.evidence["last_applied"] == "2026-03-01T12:00:00+00:00"
    finds = [c for c in fake_mongo.app_commands() if c["name"] == "find"]
    assert finds and finds[0]["db"] == "app" and finds[0]["doc"]["find"] == "changelog"
    assert finds[0]["doc"]["limit"] == 10_000 and "maxTimeMS" in finds[0]["doc"]
    fake_mongo.replies["sample"]["app.changelog"].append({"fileName": "20260301-index.js", "appliedAt": applied})
    assert check_migrations(params).status == PASS


def test_migrations_not_configured_is_not_checked(tmp_path: Path) -> None:
    result = check_migrations(load(tmp_path, {"base_url": "http://x"}))
    assert result.status == NOT_CHECKED and "predeploy.migrations" in result.remedy


# -- rollback ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rollback", "status", "text"),
    [
        (None, NOT_CHECKED, "no rollback target configured"),
        (
            {"image": "registry/app:1.4.2", "recorded_at": "2026-12-06T18:00:00+01:00", "by": "ann"},
            PASS,
            "image registry/app:1.4.2, recorded 2026-12-06T17:00+00:00 by ann",
        ),
        ({"version": "1.4.2", "by": "ann"}, FAIL, "no recorded_at"),
        (
            {"tag": "v1.4.2", "recorded_at": "2026-12-06T18:00:00"},
            FAIL,
            "recorded_at has no UTC offset; no 'by' (who recorded it)",
        ),
        ({"recorded_at": "2026-12-06T18:00:00Z", "by": "ann"}, FAIL, "no version, image or tag to roll back to"),
        (
            {"tag": "v1", "recorded_at": "2026-10-01T00:00:00Z", "by": "ann", "max_age_days": 30},
            FAIL,
            "recorded 67.0 days ago, more than max_age_days 30",
        ),
    ],
)
def test_rollback_target(tmp_path: Path, rollback: dict[str, Any] | None, status: str, text: str) -> None:
    predeploy: dict[str, Any] = {"base_url": "http://x"}
    if rollback is not None:
        predeploy["rollback"] = rollback
    result = check_rollback(load(tmp_path, predeploy), NOW)
    assert (result.status, result.summary) == (status, text)


def test_rollback_target_from_a_file(tmp_path: Path) -> None:
    params = load(tmp_path, {"base_url": "http://x", "rollback": {"file": "rollback.json"}})
    result = check_rollback(params, NOW)
    assert result.status == FAIL and result.summary == f"rollback file {tmp_path / 'rollback.json'} not found"
    (tmp_path / "rollback.json").write_text(
        json.dumps({"version": "2.0.1", "recorded_at": "2026-12-06T10:00:00Z", "by": "ci"})
    )
    result = check_rollback(params, NOW)
    assert result.status == PASS and result.evidence["version"] == "2.0.1"
    (tmp_path / "rollback.json").write_text(json.dumps({"version": "2.0.1", "recorded_at": "yesterday", "by": "ci"}))
    result = check_rollback(params, NOW)
    assert result.status == FAIL and "recorded_at" in result.summary


# -- backups and alerts (the backups area's inventory, the alerts' test message) ------------
# The alert channels against a real receiver: tests/test_alerts_delivery.py
# (test_the_predeploy_gate_checks_the_channels_through_send_test).


def _nightly(folder: Path, when: dt.datetime, data: bytes) -> str:
    """An archive named by the default pattern of backups.archives (mongodump-%Y-%m-%dT%H%M.archive.gz)."""
    name = f"mongodump-{when:%Y-%m-%dT%H%M}.archive.gz"
    (folder / name).write_bytes(data)
    return name


def _with_archives(tmp_path: Path, **backups: Any) -> tuple[Path, Any]:
    folder = tmp_path / "archives"
    folder.mkdir()
    return folder, load(tmp_path, {"base_url": "http://x"}, backups={"archives": [{"path": "archives"}], **backups})


def test_a_fresh_good_archive_passes_the_backup_check(tmp_path: Path) -> None:
    folder, params = _with_archives(tmp_path)
    _nightly(folder, NOW - dt.timedelta(days=1, hours=1), gzip.compress(archive()))
    name = _nightly(folder, NOW - dt.timedelta(hours=2, minutes=30), gzip.compress(archive()))
    result = check_backup(params, NOW)
    assert result.status == PASS, result.summary
    assert result.summary == f"{name} finished 2.5 h ago (RPO 26 h)"
    assert (result.evidence["newest"], result.evidence["age_hours"]) == (name, 2.5)
    assert (result.evidence["backups_seen"], result.evidence["successful"]) == (2, 2)
    assert result.evidence["size_bytes"] == (folder / name).stat().st_size


def test_the_newest_good_archive_older_than_the_rpo_fails_naming_it(tmp_path: Path) -> None:
    folder, params = _with_archives(tmp_path, rpo_hours=24)
    full = gzip.compress(archive())
    good = _nightly(folder, NOW - dt.timedelta(hours=29), full)
    _nightly(folder, NOW - dt.timedelta(hours=5), full[: len(full) // 3])  # truncated: not a good backup
    result = check_backup(params, NOW)
    assert result.status == FAIL
    assert result.summary == f"newest successful backup {good} is 29.0 h old, RPO 24 h"
    assert result.failures == [(good, result.summary)]
    assert (result.evidence["backups_seen"], result.evidence["successful"]) == (2, 1)


def test_only_broken_archives_fail_the_backup_check(tmp_path: Path) -> None:
    folder, params = _with_archives(tmp_path)
    _nightly(folder, NOW - dt.timedelta(hours=3), gzip.compress(archive(skip_eof=("shop.orders",))))
    result = check_backup(params, NOW)
    assert (result.status, result.summary) == (FAIL, "none of 1 backup(s) succeeded")


def test_a_configured_folder_without_archives_fails_the_backup_check(tmp_path: Path) -> None:
    folder, params = _with_archives(tmp_path)
    (folder / "README.txt").write_text("not a backup\n", encoding="utf-8")
    result = check_backup(params, NOW)
    assert result.status == FAIL
    assert result.summary == "no backup found in the configured backup sources (last 14 days)"
    assert result.failures == [("backups", result.summary)]


def test_no_backups_or_alerts_configured_is_not_checked(tmp_path: Path) -> None:
    params = load(tmp_path, {"base_url": "http://x"})
    backup, alerts = check_backup(params, NOW), check_alerts(params)
    assert (backup.status, backup.summary) == (NOT_CHECKED, "no backup source configured")
    assert "params.backups" in backup.remedy
    assert (alerts.status, alerts.summary) == (NOT_CHECKED, "no alert channel configured")
    assert "params.alerts.channels" in alerts.remedy


# -- the verdict -------------------------------------------------------------------------


def test_nothing_configured_is_no_go_with_every_reason(tmp_path: Path) -> None:
    result = run_predeploy(load(tmp_path, {"base_url": "http://127.0.0.1:9"}), now=NOW)
    assert result.verdict == "NO-GO" and result.exit_code == 1
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert [c.status for c in result.checks] == [NOT_CHECKED] * 8
    assert len(result.reasons) == 8
    assert all("NOT CHECKED" in line and "to check it:" in line for line in result.reasons)
    assert "predeploy.backup: NOT CHECKED - no backup source configured (to check it: configure params.backups" in (
        "\n".join(result.reasons)
    )
    assert "predeploy.alerts: NOT CHECKED - no alert channel configured" in "\n".join(result.reasons)
    findings = result.findings()
    assert {f.check for f in findings} == {f"predeploy.{n}" for n in ALL_OPTIONAL}
    assert all(f.area == "predeploy" and f.checklist for f in findings)


def test_optional_checks_not_checked_do_not_block_but_a_failure_does(tmp_path: Path, edge: EdgeServer) -> None:
    result = run_predeploy(load(tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL}), now=NOW)
    assert result.verdict == "GO" and not result.reasons
    result = run_predeploy(
        load(tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL, "endpoints": [{"path": "/boom"}]}), now=NOW
    )
    assert result.verdict == "NO-GO"
    assert result.reasons == [
        "predeploy.smoke: FAIL - 1 of 1 endpoint(s) failed: GET /boom: answered 500, expected 2xx"
    ]
    (finding,) = result.findings()
    assert (finding.check, finding.subject, finding.severity.name) == ("predeploy.smoke", "GET /boom", "critical")
    assert finding.checklist == ("All endpoints tested",)


# -- the daily run never executes the standalone notebook --------------------------------


def test_the_daily_run_does_not_discover_the_predeploy_notebook(tmp_path: Path) -> None:
    for name in ("logs", "summary", "predeploy", "_private"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert set(discover_notebooks(tmp_path)) == {"logs", "summary"}
    repo = Path(__file__).resolve().parents[1] / "notebooks"
    assert (repo / "predeploy.ipynb").exists()
    assert "predeploy" not in discover_notebooks(repo)


def test_latest_result_is_the_newest_until_a_time(tmp_path: Path, edge: EdgeServer) -> None:
    from opsreview.predeploy import latest_result
    from opsreview.predeploy.report import write_report

    outputs = tmp_path / "outputs"
    assert latest_result(outputs) is None
    params = load(tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL})
    earlier = run_predeploy(params, now=NOW - dt.timedelta(days=2))
    params = load(tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL, "endpoints": [{"path": "/boom"}]})
    later = run_predeploy(params, now=NOW)
    write_report(later, outputs / "predeploy")
    first = write_report(earlier, outputs / "predeploy")  # written last: latest.json, not the newest check
    (outputs / "predeploy" / "zzz-broken").mkdir()
    (outputs / "predeploy" / "zzz-broken" / "predeploy.json").write_text("{not json")
    assert latest_result(outputs)["verdict"] == "NO-GO"  # type: ignore[index]
    found = latest_result(outputs, until=NOW - dt.timedelta(days=1))
    assert found is not None and found["verdict"] == "GO" and found["report_dir"] == first.name
    assert latest_result(outputs, until=dt.datetime(2026, 12, 1)) is None  # naive: taken as UTC
    assert first.name == "20261205T010000Z"


def test_a_check_that_breaks_fails_the_gate_without_crashing_it(
    tmp_path: Path, edge: EdgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: Any, now: dt.datetime) -> None:
        raise RuntimeError("unexpected reply shape")

    monkeypatch.setattr("opsreview.predeploy.gate.check_rollback", broken)
    result = run_predeploy(load(tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL}), now=NOW)
    assert result.verdict == "NO-GO"
    assert result.reasons == ["predeploy.rollback: FAIL - internal error: RuntimeError: unexpected reply shape"]


def test_the_report_files_pass_the_share_masking(tmp_path: Path, edge: EdgeServer) -> None:
    from opsreview.predeploy.report import write_report

    card = "4556737586899855"  # Luhn-valid, not a documented test number
    params = load(
        tmp_path, {"base_url": edge.url, "optional": ALL_OPTIONAL, "endpoints": [{"path": f"/boom?card={card}"}]}
    )
    result = run_predeploy(params, now=NOW)
    assert result.verdict == "NO-GO" and card in " ".join(result.reasons)  # the gate itself saw it
    folder = write_report(result, tmp_path / "outputs" / "predeploy")
    written = [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"predeploy.json", "predeploy.html", "latest.json"}
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert card not in text, path
    assert "***9855" in (folder / "predeploy.json").read_text(encoding="utf-8")
