"""`opsreview run` tells the alert channels: one message per run to a real loopback receiver,
recorded in summary.json and on the day page, never again for a re-run of the same date; a
channel that refuses is a finding, not a failed run; no channel leaves the alert items not
verifiable (no finding, no exit code)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsreview.cli import main
from tests.alerts_helpers import HttpReceiver, free_port, start_http_receiver
from tests.nbfactory import OPEN, write_notebook, write_params

DAY = "2026-11-20"
TOKEN = "RunH00kT0ken9898"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    info, server = start_http_receiver()
    yield info
    info.release.set()
    server.shutdown()
    server.server_close()


def suite(tmp_path: Path, alerts: str) -> Path:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "critical")
    return write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store", extra=alerts)


def checklist_row(summary: dict[str, object], item: str) -> dict[str, str]:
    rows = summary["checklist"]
    assert isinstance(rows, list)
    return next(r for r in rows if r["checklist item"] == item)


def test_a_run_notifies_once_and_a_rerun_of_the_day_does_not(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/run-ok/{TOKEN}")
    params = suite(tmp_path, "alerts:\n  channels:\n    - {name: chat, url: '${CHAT_URL}'}\n")
    assert main(["run", "--params", str(params), "--date", DAY]) == 1  # the critical finding, not the alerting
    [message] = receiver.to("/run-ok/")
    assert "a critical finding" in json.dumps(message.json())
    day = tmp_path / "out" / DAY
    summary = json.loads((day / "summary.json").read_text(encoding="utf-8"))
    assert summary["notifications"]["ok"] is True
    assert [d["channel"] for d in summary["notifications"]["deliveries"]] == ["chat"]
    assert checklist_row(summary, "Set up alerts")["status"] == "verified"
    assert "<h2>Notifications</h2>" in (day / "index.html").read_text(encoding="utf-8")
    assert main(["run", "--params", str(params), "--date", DAY]) == 1
    assert len(receiver.to("/run-ok/")) == 1  # re-running the date never re-notifies
    again = json.loads((day / "summary.json").read_text(encoding="utf-8"))
    row = checklist_row(again, "Set up alerts")  # nothing delivered: nothing showed the channel works
    assert row["status"] == "not verifiable" and "No delivery today" in row["evidence"]
    for path in day.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def test_a_refused_channel_is_a_finding_and_the_run_still_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWN_URL", f"json://127.0.0.1:{free_port()}/{TOKEN}")
    params = suite(
        tmp_path, "alerts:\n  channels:\n    - {name: down, url: '${DOWN_URL}'}\n  timeouts: {connect_seconds: 2}\n"
    )
    code = main(["run", "--params", str(params), "--date", DAY])
    assert code == 1  # findings, not a failed run (3)
    summary = json.loads((tmp_path / "out" / DAY / "summary.json").read_text(encoding="utf-8"))
    [failed] = [f for f in summary["findings"] if f["check"] == "alerts.delivery_failed"]
    assert failed["subject"] == "down" and TOKEN not in json.dumps(summary)
    assert checklist_row(summary, "Set up alerts")["status"] == "failing"


def test_a_failed_delivery_never_changes_the_reviews_status_or_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWN_URL", f"json://127.0.0.1:{free_port()}/{TOKEN}")
    nbs = tmp_path / "nbs"
    note = "show_findings([Finding('quiet', 'quiet.note', Severity.info, 'a note', subject='x')])"
    write_notebook(
        nbs,
        "quiet",
        body=OPEN + "\nfrom opsreview.display import show_findings\n"
        "from opsreview.findings import Finding, Severity\n" + note,
    )  # info: below fail_on
    params = write_params(
        tmp_path / "p.yaml",
        nbs,
        tmp_path / "out",
        tmp_path / "store",
        extra="alerts:\n  channels:\n    - {name: down, url: '${DOWN_URL}', min_severity: info}\n"
        "  timeouts: {connect_seconds: 2}\n",
    )
    params.write_text(params.read_text(encoding="utf-8").replace("fail_on: critical", "fail_on: warning"))
    assert main(["run", "--params", str(params), "--date", DAY]) == 0
    summary = json.loads((tmp_path / "out" / DAY / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "ok", summary["counts"]  # shown, not judged
    assert {f["check"] for f in summary["findings"]} == {"alerts.delivery_failed", "quiet.note"}


def test_without_channels_the_alert_items_are_not_verifiable_and_nothing_is_a_finding(tmp_path: Path) -> None:
    params = suite(tmp_path, "")
    assert "CHAT_URL" not in os.environ
    assert main(["run", "--params", str(params), "--date", DAY]) == 1
    summary = json.loads((tmp_path / "out" / DAY / "summary.json").read_text(encoding="utf-8"))
    assert not [f for f in summary["findings"] if f["area"] == "alerts"]
    assert "notifications" not in summary
    row = checklist_row(summary, "Set up alerts")
    assert row["status"] == "not verifiable" and "alerts.channels" in row["evidence"]
    assert any(c["area"] == "alerts" for c in summary["coverage"])
