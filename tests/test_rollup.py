"""The summary's checklist view: failing / verified / not verifiable, each with its evidence."""

from __future__ import annotations

from opsreview import checklist
from opsreview.findings import Finding, Severity
from opsreview.run.summary import RunState, checklist_status, severity_table


def status_of(run: RunState) -> dict[str, tuple[str, str]]:
    table = checklist_status(run)
    return {row["checklist item"]: (row["status"], row["evidence"]) for _, row in table.iterrows()}


def test_items_of_areas_that_did_not_run_are_not_verifiable() -> None:
    got = status_of(RunState(findings=[], areas_run={"logs"}))
    assert got["Monitor error rates"][0] == "verified"
    status, evidence = got["Health check endpoint"]
    assert status == "not verifiable"
    assert evidence == "no probes review ran for this day - to get it: " + checklist.HOW_TO_VERIFY["probes"]
    assert got["Monitor payment transactions"][0] == "not verifiable"


def test_a_warning_makes_its_item_failing_with_the_finding_as_evidence() -> None:
    finding = Finding(
        "probes", "probes.tls_expiry", Severity.warning, "cert expires in 8 days", checklist=("HTTPS/SSL certificate",)
    )
    info = Finding("probes", "probes.note", Severity.info, "fyi", checklist=("Health check endpoint",))
    got = status_of(RunState(findings=[finding, info], areas_run={"probes"}))
    assert got["HTTPS/SSL certificate"] == ("failing", "[warning] cert expires in 8 days")
    assert got["Health check endpoint"][0] == "verified"  # an info finding does not fail an item


def test_coverage_finding_marks_unchecked_items_not_verifiable_even_when_the_area_ran() -> None:
    coverage = Finding(
        "probes",
        "probes.coverage",
        Severity.info,
        "Not verified by any probe today: CORS",
        checklist=("CORS properly configured",),
    )
    got = status_of(RunState(findings=[coverage], areas_run={"probes"}))
    assert got["CORS properly configured"][0] == "not verifiable"
    assert "probes.coverage" in got["CORS properly configured"][1]
    assert got["Helmet security headers"][0] == "verified"


def test_failing_items_come_first() -> None:
    finding = Finding("errors", "errors.new_fingerprint", Severity.critical, "new error", checklist=("Error logging",))
    table = checklist_status(RunState(findings=[finding], areas_run={"errors", "logs", "probes"}))
    assert table.iloc[0]["checklist item"] == "Error logging"
    assert list(table["status"]).index("verified") > list(table["status"]).index("not verifiable")


def test_severity_table_counts_by_area() -> None:
    findings = [
        Finding("logs", "a", Severity.critical, "x"),
        Finding("logs", "b", Severity.info, "y"),
        Finding("probes", "c", Severity.warning, "z"),
    ]
    table = severity_table(findings).set_index("area")
    assert table.loc["logs", "critical"] == 1 and table.loc["logs", "total"] == 2
    assert table.loc["probes", "warning"] == 1 and table.loc["probes", "critical"] == 0
