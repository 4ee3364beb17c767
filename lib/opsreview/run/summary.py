"""The summary notebook's roll-up: findings of every area, sources, what could not be checked,
and the checklist view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from opsreview import checklist
from opsreview.context import ReviewContext
from opsreview.findings import SEVERITY_COLOURS, Coverage, Finding, Severity, rank_findings
from opsreview.run.report import load_run_coverage, load_run_findings


@dataclass
class RunState:
    findings: list[Finding]
    sources: list[dict[str, Any]] = field(default_factory=list)
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    areas_run: set[str] = field(default_factory=set)
    coverage: list[Coverage] = field(default_factory=list)  # what the sections could not check


def load_run(review: ReviewContext) -> RunState:
    """What the day's run produced so far (staged during a run, published afterwards)."""
    findings, sources, notebooks = load_run_findings(review.run_dir)
    areas = {nb["name"] for nb in notebooks if nb.get("status") == "ok"}
    staged = review.run_dir / "findings.json"
    if staged.exists():
        areas = {p.stem for p in review.run_dir.glob("*.ipynb") if p.stem != "summary"}
        failed = {f.area for f in findings if f.check.endswith(".notebook_failed")}
        areas -= failed
    return RunState(rank_findings(findings), sources, notebooks, areas, load_run_coverage(review.run_dir))


def severity_table(findings: list[Finding]) -> pd.DataFrame:
    rows = [{"area": f.area, "severity": f.severity.name} for f in findings]
    if not rows:
        return pd.DataFrame(columns=["area", "critical", "warning", "info", "total"])
    table = pd.crosstab(pd.DataFrame(rows)["area"], pd.DataFrame(rows)["severity"])
    for sev in ("critical", "warning", "info"):
        if sev not in table:
            table[sev] = 0
    table = table[["critical", "warning", "info"]]
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table.sort_values(["critical", "warning", "total"], ascending=False).reset_index()


def severity_chart(findings: list[Finding]) -> go.Figure:
    table = severity_table(findings)
    fig = go.Figure()
    for sev in ("critical", "warning", "info"):
        fig.add_bar(name=sev, x=table["area"], y=table[sev], marker_color=SEVERITY_COLOURS[sev])
    fig.update_layout(
        barmode="stack", title="Findings by area", height=320, margin={"t": 40, "b": 40}, yaxis_title="findings"
    )
    return fig


def checklist_status(run: RunState) -> pd.DataFrame:
    """One row per checklist item: failing / verified / not verifiable, with the evidence.

    An item is *not verifiable* when its area did not run, or when the area ran but a section
    lacked the input to check it: a coverage fact naming the item (the reason and the remedy
    are the evidence), or the older convention, an info finding ``<area>.coverage`` whose
    checklist lists it. A finding at warning or above still makes the item *failing*."""
    reasons: dict[str, list[str]] = {}
    for fact in run.coverage:
        for text in fact.checklist:
            reasons.setdefault(text, []).append(fact.reason + (f" - to get it: {fact.remedy}" if fact.remedy else ""))
    uncovered = {item: f for f in run.findings if f.check == f"{f.area}.coverage" for item in f.checklist}
    rows = []
    for entry in checklist.tracked_items():
        item, area = entry.text, entry.area
        related = [f for f in run.findings if item in f.checklist and f.severity >= Severity.warning]
        if related:
            status = "failing"
            evidence = "; ".join(f"[{f.severity.name}] {f.title}" for f in related[:3])
        elif item in reasons:
            status = "not verifiable"
            evidence = "; ".join(dict.fromkeys(reasons[item]))
        elif item in uncovered:
            status = "not verifiable"
            evidence = (
                f"the {area} review ran but nothing it checked today speaks to this item ({uncovered[item].check})"
            )
        elif area in run.areas_run:
            status = "verified"
            evidence = f"checked by the {area} review: no finding at warning or above"
        else:
            status = "not verifiable"
            evidence = f"no {area} review ran for this day"
        rows.append({"checklist item": item, "status": status, "area": area, "evidence": evidence})
    order = {"failing": 0, "not verifiable": 1, "verified": 2}
    return pd.DataFrame(rows).sort_values("status", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def sources_table(run: RunState) -> pd.DataFrame:
    columns = ["name", "status", "rows", "ingested", "error", "duration_s"]
    return pd.DataFrame(run.sources, columns=columns) if run.sources else pd.DataFrame(columns=columns)
