"""`opsreview notify` as a scheduler runs it: a subprocess, a params file, a published day, a real
loopback receiver; its exit codes, what it records into ``summary.json``, and no URL printed."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsreview.findings import Severity
from tests.alerts_helpers import HttpReceiver, finding, free_port, start_http_receiver, summary, write_params

TOKEN = "CliH00kT0ken4242"
DAY = "2026-12-01"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    info, server = start_http_receiver()
    yield info
    server.shutdown()
    server.server_close()


def _notify(params: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "notify", "--params", str(params), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _publish_day(tmp_path: Path) -> Path:
    day_dir = tmp_path / "outputs" / DAY
    day_dir.mkdir(parents=True)
    (day_dir / "index.html").write_text("<p>the page as the run left it</p>", encoding="utf-8")
    findings = [
        finding("logs", "logs.5xx_rate", "POST /api/orders", "critical", ("14:10", "14:30")),
        finding("database", "database.connections", "db-1", "warning"),
    ]
    (day_dir / "summary.json").write_text(json.dumps(summary(DAY, findings)), encoding="utf-8")
    return day_dir / "summary.json"


def _channels(*names: str) -> dict[str, object]:
    return {
        "channels": [{"name": n, "url": f"${{{n.upper()}_URL}}"} for n in names],
        "timeouts": {"connect_seconds": 2},
    }


def test_notify_sends_records_into_the_summary_and_exits_0(tmp_path: Path, receiver: HttpReceiver) -> None:
    write_params(tmp_path, _channels("chat"))
    summary_path = _publish_day(tmp_path)
    env = {"CHAT_URL": f"json://{receiver.base}/cli-ok/{TOKEN}"}
    proc = _notify(tmp_path / "params.yaml", "--date", DAY, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "chat" in proc.stdout and "2 sent" in proc.stdout
    assert len(receiver.to("/cli-ok/")) == 1
    recorded = json.loads(summary_path.read_text(encoding="utf-8"))
    assert recorded["notifications"]["ok"] is True
    assert {r["action"] for r in recorded["notifications"]["state"]} == {"new"}
    assert recorded["status"] == "alert" and recorded["exit_code"] == 1  # the review's own, unchanged
    # the day page is rendered anew: the notifications, and the alert items verified
    page = (summary_path.parent / "index.html").read_text(encoding="utf-8")
    assert "the page as the run left it" not in page and "<h2>Notifications</h2>" in page
    assert "<td>chat</td><td>ok</td>" in page and "Production checklist" in page
    items = {row["checklist item"]: row["status"] for row in recorded["checklist"]}
    assert items["Set up alerts"] == "verified"
    # the same date again: nothing new is sent, still exit 0
    again = _notify(tmp_path / "params.yaml", "--date", DAY, env=env)
    assert again.returncode == 0 and "0 sent" in again.stdout
    assert len(receiver.to("/cli-ok/")) == 1
    for text in (proc.stdout, proc.stderr, again.stdout, summary_path.read_text(encoding="utf-8")):
        assert TOKEN not in text


def test_a_failed_delivery_is_exit_3_and_a_finding_in_the_summary(tmp_path: Path, receiver: HttpReceiver) -> None:
    write_params(tmp_path, _channels("chat", "down"))
    summary_path = _publish_day(tmp_path)
    env = {
        "CHAT_URL": f"json://{receiver.base}/cli-part/{TOKEN}",
        "DOWN_URL": f"json://127.0.0.1:{free_port()}/{TOKEN}",
    }
    for _ in range(2):  # a second notify replaces the first one's alerts findings, never adds to them
        proc = _notify(tmp_path / "params.yaml", "--date", DAY, env=env)
        assert proc.returncode == 3, proc.stderr
        assert "down" in proc.stdout and "FAILED" in proc.stdout and TOKEN not in proc.stdout + proc.stderr
    recorded = json.loads(summary_path.read_text(encoding="utf-8"))
    failed = [f for f in recorded["findings"] if f["check"] == "alerts.delivery_failed"]
    assert [f["subject"] for f in failed] == ["down"]
    assert failed[0]["severity"] == Severity.warning.name
    assert recorded["counts"]["warning"] == 2 and recorded["status"] == "alert"
    items = {row["checklist item"]: row["status"] for row in recorded["checklist"]}
    assert items["Set up alerts"] == "failing"
    page = (summary_path.parent / "index.html").read_text(encoding="utf-8")
    assert "<td>down</td><td>FAILED</td>" in page and "alerts.delivery_failed" in page
    assert TOKEN not in summary_path.read_text(encoding="utf-8")


def test_notify_test_exit_codes(tmp_path: Path, receiver: HttpReceiver) -> None:
    write_params(tmp_path, _channels("chat", "down"))
    ok_env = {"CHAT_URL": f"json://{receiver.base}/cli-test/{TOKEN}", "DOWN_URL": f"json://{receiver.base}/x/{TOKEN}"}
    assert _notify(tmp_path / "params.yaml", "--test", env=ok_env).returncode == 0
    bad_env = {**ok_env, "DOWN_URL": f"json://127.0.0.1:{free_port()}/{TOKEN}"}
    proc = _notify(tmp_path / "params.yaml", "--test", env=bad_env)
    assert proc.returncode == 3 and "down" in proc.stdout and TOKEN not in proc.stdout + proc.stderr
    assert len(receiver.to("/cli-test/")) == 2


def test_no_published_day_or_no_channel_to_test_is_exit_2(tmp_path: Path) -> None:
    write_params(tmp_path, _channels("chat"))
    missing = _notify(tmp_path / "params.yaml", "--date", DAY, env={})
    assert missing.returncode == 2 and "no published review" in missing.stderr
    write_params(tmp_path, {})
    no_channel = _notify(tmp_path / "params.yaml", "--test", env={})
    assert no_channel.returncode == 2 and "alerts.channels is empty" in no_channel.stderr


def test_no_channel_is_exit_2_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    write_params(tmp_path, {})
    summary_path = _publish_day(tmp_path)
    before = {p.name: p.read_bytes() for p in summary_path.parent.iterdir()}
    proc = _notify(tmp_path / "params.yaml", "--date", DAY, env={})
    assert proc.returncode == 2, proc.stderr
    assert "alerts.channels is empty" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in summary_path.parent.iterdir()} == before
    assert not (tmp_path / "store").exists()  # no notification state either


def test_notify_waits_for_no_run_it_refuses_while_one_holds_the_outputs(tmp_path: Path) -> None:
    from opsreview.alerts.notify import notify_day
    from opsreview.exceptions import OutputsError
    from opsreview.run.steps import outputs_lock

    params = write_params(tmp_path, _channels("chat"))
    summary_path = _publish_day(tmp_path)
    before = summary_path.read_text(encoding="utf-8")
    with outputs_lock(params.outputs), pytest.raises(OutputsError, match="another opsreview run is in progress"):
        notify_day(params, dt.date.fromisoformat(DAY))
    assert summary_path.read_text(encoding="utf-8") == before
