"""The living checklist: every item mapped and rendered, attestations (valid, expired, bad),
the last pre-deployment run as evidence, the history strip, and the demo's planted states."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from opsreview import areas, checklist
from opsreview.attestations import Attestation, ChecklistParams, attestation_state, load_attestations
from opsreview.findings import Coverage, Finding, Severity
from opsreview.run import checklist_view as cv

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference" / "production-checklist.md"
DAY = dt.date(2026, 11, 20)


def reference_items() -> list[tuple[str, str]]:
    items, section = [], ""
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif m := re.match(r"- \[[ x]\] (.+)", line.strip()):
            items.append((section, m.group(1).strip()))
    return items


def by_item(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["checklist item"]: r for r in rows}


def test_every_reference_item_has_a_verifier_or_is_attested() -> None:
    verifiers = {a.name for a in areas.AREAS} | set(checklist.VERIFIERS)
    for section, text in reference_items():
        item = checklist.item(text)
        assert item.section == section
        assert item.attested or item.area in verifiers, f"{text}: verified by unknown {item.area!r}"
        assert item.remedy, text


def test_every_reference_item_gets_a_row_with_a_status_even_with_nothing_run() -> None:
    rows = cv.item_rows([], [], set(), cv.ChecklistInputs(day=DAY))
    assert [r["checklist item"] for r in rows] == [text for _, text in reference_items()]
    got = by_item(rows)
    assert {r["status"] for r in rows} == {"not verifiable"}  # nothing ran, nobody attested: never "fine"
    assert "no logs review ran" in got["Monitor error rates"]["evidence"]
    assert "configure logs.access" in got["Monitor error rates"]["evidence"]
    assert "checklist.attestations" in got["Load testing completed"]["evidence"]
    assert "opsreview predeploy" in got["All environment variables set"]["evidence"]
    assert "alerts.channels" in got["Set up alerts"]["evidence"]


def test_failing_items_carry_their_findings_ranked() -> None:
    findings = [
        Finding(
            "logs", "logs.5xx_rate", Severity.warning, "5xx at 3%", checklist=("Monitor error rates",), subject="GET /a"
        ),
        Finding(
            "logs", "logs.5xx_burst", Severity.critical, "burst", checklist=("Monitor error rates",), subject="GET /b"
        ),
        Finding("logs", "logs.5xx_rate", Severity.info, "fyi", checklist=("Monitor response times",)),
    ]
    got = by_item(cv.item_rows(findings, [], {"logs"}, cv.ChecklistInputs(day=DAY)))
    row = got["Monitor error rates"]
    assert row["status"] == "failing" and row["link"] == "logs.html"
    assert [f["fingerprint"] for f in row["findings"]] == ["logs/logs.5xx_burst/GET /b", "logs/logs.5xx_rate/GET /a"]
    assert row["evidence"].startswith("[critical] burst; [warning] 5xx at 3%")
    verified = got["Monitor response times"]
    assert verified["status"] == "verified" and "logs.p95_route" in verified["evidence"]


def test_a_finding_fails_every_item_that_lists_its_check_even_unnamed() -> None:
    leak = Finding("logs", "logs.secret_in_url", Severity.critical, "token in URLs", checklist=("Morgan HTTP logging",))
    got = by_item(cv.item_rows([leak], [], {"logs"}, cv.ChecklistInputs(day=DAY)))
    assert got["API keys stored securely"]["status"] == "failing"  # lists logs.secret_in_url
    assert got["Morgan HTTP logging"]["status"] == "failing"
    assert got["Monitor error rates"]["status"] == "verified"


def test_a_failed_source_leaves_its_areas_items_not_verifiable_and_kpis_show_on_verified_ones() -> None:
    failed = Finding("database", "database.source_failed", Severity.critical, "source database failed: refused")
    kpis = {"logs": {"requests": 207207, "5xx_rate": 0.0041, "p95_ms": 120.5}}
    got = by_item(cv.item_rows([failed], [], {"database", "logs"}, cv.ChecklistInputs(day=DAY), kpis))
    row = got["MongoDB indexes"]
    assert row["status"] == "not verifiable" and "refused" in row["evidence"]
    assert got["Monitor error rates"]["status"] == "verified"
    assert got["Monitor error rates"]["evidence"].endswith("today: requests 207,207, 5xx_rate 0.0041")
    assert got["Monitor response times"]["evidence"].endswith("today: p95_ms 120.5")
    assert "today" not in got["Morgan HTTP logging"]["evidence"]  # no KPI measures it


def test_a_coverage_fact_is_not_verifiable_with_its_remedy() -> None:
    fact = Coverage(
        "logs",
        "latency",
        "No response times",
        "api-1",
        remedy="add :response-time",
        checklist=("Monitor response times",),
    )
    got = by_item(cv.item_rows([], [fact], {"logs"}, cv.ChecklistInputs(day=DAY)))
    assert got["Monitor response times"]["status"] == "not verifiable"
    assert got["Monitor response times"]["evidence"] == "No response times: api-1 - to get it: add :response-time"


def attest(item: str, on: dt.date, days: int | None = None) -> Attestation:
    return Attestation(item=item, by="ops", date=on, note="checked", expires_days=days)


@pytest.mark.parametrize(
    ("given", "days", "status"),
    [
        (DAY - dt.timedelta(days=10), None, "attested"),
        (DAY - dt.timedelta(days=90), None, "attested"),  # the last valid day
        (DAY - dt.timedelta(days=91), None, "overdue"),
        (DAY - dt.timedelta(days=40), 30, "overdue"),  # its own validity
        (DAY + dt.timedelta(days=1), None, "not verifiable"),  # given after the review day
    ],
)
def test_attestations_expire(given: dt.date, days: int | None, status: str) -> None:
    inputs = cv.ChecklistInputs(day=DAY, attestations=[attest("CDN for static files", given, days)])
    row = by_item(cv.item_rows([], [], set(), inputs))["CDN for static files"]
    assert row["status"] == status
    if status != "not verifiable":
        assert f"attested by ops on {given}" in row["evidence"]


def test_the_newest_attestation_counts() -> None:
    old, new = (
        attest("CDN for static files", DAY - dt.timedelta(days=200)),
        attest("CDN for static files", DAY - dt.timedelta(days=5)),
    )
    state = attestation_state("CDN for static files", [new, old], DAY, 90)
    assert state is not None and state.attestation == new and not state.overdue


def test_an_attestation_must_name_an_item_no_machine_checks() -> None:
    with pytest.raises(ValueError, match="checked by the logs review"):
        Attestation(item="Monitor error rates", by="me", date=DAY)
    with pytest.raises(ValueError, match="not a production-checklist item"):
        Attestation(item="Monitor everything", by="me", date=DAY)


def test_a_bad_attestations_file_is_a_problem_line_and_keeps_the_good_entries(tmp_path: Path) -> None:
    path = tmp_path / "attestations.yaml"
    path.write_text(
        "- {item: CDN for static files, by: ops, date: 2026-11-01}\n"
        "- {item: Load testing completed, by: ops, date: 2026-13-40}\n"
        "- {item: Monitor error rates, by: ops, date: 2026-11-01}\n",
        encoding="utf-8",
    )
    found, problems = load_attestations(ChecklistParams(attestations_file=path))
    assert [a.item for a in found] == ["CDN for static files"]
    assert len(problems) == 2 and all(p.startswith(f"{path}: entry ") for p in problems)
    assert "date" in problems[0] and "checked by the logs review" in problems[1]
    missing, problems = load_attestations(ChecklistParams(attestations_file=tmp_path / "nope.yaml"))
    assert missing == [] and problems == [f"{tmp_path / 'nope.yaml'}: attestations file not found"]
    inputs = cv.ChecklistInputs(day=DAY, problems=problems)
    assert "attestations file not found" in by_item(cv.item_rows([], [], set(), inputs))["API examples"]["evidence"]


def write_predeploy(outputs: Path, stamp: str, at: str, checks: list[dict[str, str]], verdict: str = "GO") -> None:
    folder = outputs / "predeploy" / stamp
    folder.mkdir(parents=True)
    (folder / "predeploy.json").write_text(
        json.dumps({"verdict": verdict, "checked_at": at, "finished_at": at, "checks": checks})
    )


def test_the_newest_predeploy_run_before_the_day_ends_verifies_its_items(tmp_path: Path) -> None:
    write_predeploy(
        tmp_path,
        "20261110T090000Z",
        "2026-11-10T09:00:00+00:00",
        [
            {"id": "predeploy.env", "status": "fail", "detail": "missing: JWT_SECRET"},
            {"id": "predeploy.smoke", "status": "pass", "detail": "12 endpoints"},
        ],
        verdict="NO-GO",
    )
    write_predeploy(
        tmp_path,
        "20261119T080000Z",
        "2026-11-19T08:00:00+00:00",
        [
            {"id": "predeploy.env", "status": "pass", "detail": "14 names"},
            {"id": "predeploy.database", "status": "fail", "detail": "refused"},
            {"id": "predeploy.rollback", "status": "not checked", "detail": "no rollback target recorded"},
        ],
    )
    write_predeploy(tmp_path, "20261125T080000Z", "2026-11-25T08:00:00+00:00", [])  # after the review day
    until = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    result = cv.latest_predeploy(tmp_path, until)
    assert result is not None and result["finished_at"].startswith("2026-11-19")
    got = by_item(cv.item_rows([], [], set(), cv.ChecklistInputs(day=DAY, predeploy=result)))
    assert got["All environment variables set"]["status"] == "verified"
    assert "predeploy.env: pass - 14 names" in got["All environment variables set"]["evidence"]
    assert got["Database connection tested"]["status"] == "failing"
    assert got["Rollback plan ready"]["status"] == "not verifiable"
    assert got["All endpoints tested"]["status"] == "not verifiable"  # the newest run did not smoke
    assert got["All endpoints tested"]["link"] == "../predeploy/20261119T080000Z/predeploy.html"
    stale = cv.ChecklistInputs(day=DAY + dt.timedelta(days=60), predeploy=result, predeploy_max_age_days=30)
    assert (
        "older than 30 days" in by_item(cv.item_rows([], [], set(), stale))["All environment variables set"]["evidence"]
    )


def test_history_reads_earlier_summaries_and_says_no_review(tmp_path: Path) -> None:
    earlier = DAY - dt.timedelta(days=2)
    (tmp_path / earlier.isoformat()).mkdir()
    (tmp_path / earlier.isoformat() / "summary.json").write_text(
        json.dumps({"checklist": [{"checklist item": "Monitor error rates", "status": "failing"}]})
    )
    today = cv.item_rows([], [], {"logs"}, cv.ChecklistInputs(day=DAY))
    history = cv.checklist_history(tmp_path, DAY, 5, today)
    strip = history[history["checklist item"] == "Monitor error rates"].set_index("date")["status"]
    assert list(strip.index) == [DAY - dt.timedelta(days=i) for i in range(4, -1, -1)]
    assert strip[earlier] == "failing" and strip[DAY] == "verified"
    assert strip[DAY - dt.timedelta(days=1)] == cv.NO_REVIEW
    html = cv.checklist_html(today, history)
    assert html.count("<h3>") == len(checklist.sections())
    assert "title='failing'" in html
    cv.history_chart(history)  # builds


def test_the_demo_run_renders_every_item_with_the_planted_attestations(demo_run: dict[str, Any]) -> None:
    rows = demo_run["summary"]["checklist"]
    assert [r["checklist item"] for r in rows] == [text for _, text in reference_items()]
    assert {r["status"] for r in rows} <= set(cv.STATUSES)
    got = by_item(rows)
    truth = demo_run["truth"]["checklist"]
    assert truth["overdue"] and truth["attested"]
    for item in truth["overdue"]:
        assert got[item]["status"] == "overdue", got[item]
    for item in truth["attested"]:
        assert got[item]["status"] == "attested", got[item]
    assert got["Monitor error rates"]["status"] == "failing"  # the demo's planted 5xx burst
    backups = demo_run["truth"]["backups"]
    assert got["Database backups"]["status"] == "failing"  # the archive cut to a third, the missed night
    cut = backups["truncated"]["name"]
    assert f"backups/backups.archive_truncated/{cut}" in [f["fingerprint"] for f in got["Database backups"]["findings"]]
    assert got["Backup restoration tested"]["status"] == "failing"  # the drill 40 days old
    assert [f["check"] for f in got["Backup restoration tested"]["findings"]] == ["backups.drill_age"]
    assert got["All environment variables set"]["status"] == "not verifiable"  # no predeploy run in the demo
    page = (demo_run["day_dir"] / "index.html").read_text(encoding="utf-8")
    assert "<h2>Production checklist</h2>" in page and "checklist.html" in page
    nb = json.loads((demo_run["day_dir"] / "checklist.ipynb").read_text(encoding="utf-8"))
    shown = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    for _, text in reference_items():
        assert html_escaped(text) in shown, text


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;")
