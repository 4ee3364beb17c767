"""The summary notebook's roll-up: findings of every area, sources, what could not be checked,
and the checklist view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from opsreview.alerts.notify import notifications_table
from opsreview.context import ReviewContext
from opsreview.findings import SEVERITY_COLOURS, Coverage, Finding, rank_findings
from opsreview.run.checklist_view import (
    ChecklistInputs,
    LivingChecklist,
    alerts_delivered,
    checklist_history,
    checklist_table,
    item_rows,
    load_checklist_inputs,
)
from opsreview.run.execute import ROLLUP_NOTEBOOKS
from opsreview.run.report import load_run_coverage, load_run_findings, load_run_kpis, load_run_notifications


@dataclass
class RunState:
    findings: list[Finding]
    sources: list[dict[str, Any]] = field(default_factory=list)
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    areas_run: set[str] = field(default_factory=set)
    coverage: list[Coverage] = field(default_factory=list)  # what the sections could not check
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)  # area -> KPI name -> value


def load_run(review: ReviewContext) -> RunState:
    """What the day's run produced so far (staged during a run, published afterwards)."""
    findings, sources, notebooks = load_run_findings(review.run_dir)
    areas = {nb["name"] for nb in notebooks if nb.get("status") == "ok"}
    staged = review.run_dir / "findings.json"
    if staged.exists():
        areas = {p.stem for p in review.run_dir.glob("*.ipynb") if p.stem not in ROLLUP_NOTEBOOKS}
        failed = {f.area for f in findings if f.check.endswith(".notebook_failed")}
        areas -= failed
    if alerts_delivered(load_run_notifications(review.run_dir)):
        areas.add("alerts")
    return RunState(
        rank_findings(findings),
        sources,
        notebooks,
        areas,
        load_run_coverage(review.run_dir),
        load_run_kpis(review.run_dir),
    )


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


def checklist_status(run: RunState, inputs: ChecklistInputs | None = None) -> pd.DataFrame:
    """One row per checklist item, most urgent first: failing / overdue / not verifiable /
    attested / verified, with the evidence (:mod:`opsreview.run.checklist_view`).

    An item of a review area is *not verifiable* when its area did not run, or when the area ran
    but a section lacked the input to check it: a coverage fact naming the item (the reason and
    the remedy are the evidence), or the older convention, an info finding ``<area>.coverage``
    whose checklist lists it. A finding at warning or above still makes the item *failing*."""
    return checklist_table(item_rows(run.findings, run.coverage, run.areas_run, inputs, run.kpis))


def sources_table(run: RunState) -> pd.DataFrame:
    columns = ["name", "status", "rows", "ingested", "error", "duration_s"]
    return pd.DataFrame(run.sources, columns=columns) if run.sources else pd.DataFrame(columns=columns)


def load_checklist(review: ReviewContext) -> LivingChecklist:
    """The day's living checklist from what the run staged (or the published summary): what
    the checklist notebook shows."""
    run = load_run(review)
    inputs = load_checklist_inputs(review)
    rows = item_rows(run.findings, run.coverage, run.areas_run, inputs, run.kpis)
    history = checklist_history(review.params.outputs, review.day, review.params.checklist.history_days, rows)
    return LivingChecklist(rows, history, inputs)


def notifications(review: ReviewContext) -> tuple[str, pd.DataFrame]:
    """What the alert channels were told today: one line, and the state per finding and channel."""
    notes = load_run_notifications(review.run_dir)
    if notes is None:
        if not review.params.alerts.channels:
            return "No alert channel is configured (alerts.channels): nobody was told.", notifications_table({})
        return "No notification recorded for this day.", notifications_table({})
    deliveries = notes.get("deliveries") or []
    sent = ", ".join(f"{d['channel']} {'ok' if d['ok'] else 'FAILED: ' + str(d.get('error'))}" for d in deliveries)
    line = f"Delivered: {sent}." if deliveries else "Nothing new to send today (every open finding was already sent)."
    return line, notifications_table({"notifications": notes})
