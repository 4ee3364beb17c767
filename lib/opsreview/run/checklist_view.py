"""The living checklist: every item of the production checklist with today's status and its
evidence, and each item's history over the last days.

Statuses, most urgent first:

- *failing* — findings at warning or above bear on it (the evidence ranks them);
- *overdue* — a person attested it, and the attestation has expired;
- *not verifiable* — no source of this deployment speaks to it today (its review did not run,
  a section lacked input, no pre-deployment run is recorded, no alert channel, no attestation):
  the evidence says why and what to configure;
- *attested* — no machine can check it; a person did, recently enough;
- *verified* — checked today and nothing found, with which checks looked.

The verifier of an item (:mod:`opsreview.checklist`) is a review area, the pre-deployment
go/no-go (its newest result at or before the review day) or the alerts (the day's
notifications). ``summary.json`` carries these rows (``checklist``), which is also where the
history strip of later days reads them from.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from opsreview import checklist
from opsreview.attestations import Attestation, attestation_state, load_attestations
from opsreview.context import ReviewContext
from opsreview.findings import Coverage, Finding, Severity, rank_findings
from opsreview.localtime import local_iso
from opsreview.predeploy.report import latest_result
from opsreview.secrets import redact

STATUSES = ("failing", "overdue", "not verifiable", "attested", "verified")
NO_REVIEW = "no review"
STATUS_COLOURS = {
    "failing": "#b91c1c",
    "overdue": "#c2410c",
    "not verifiable": "#9ca3af",
    "attested": "#1d4ed8",
    "verified": "#15803d",
    NO_REVIEW: "#f3f4f6",
}
PREDEPLOY_DIR = "predeploy"  # <outputs>/predeploy/<UTC timestamp>/predeploy.json


@dataclass
class ChecklistInputs:
    """What the checklist reads besides the day's findings: attestations and the last
    pre-deployment result."""

    day: dt.date | None = None
    attestations: list[Attestation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable attestation files or entries
    attestation_days: int = 90
    predeploy: dict[str, Any] | None = None
    predeploy_max_age_days: int = 30
    timezone: str = "UTC"


def latest_predeploy(outputs: Path, until: dt.datetime | None) -> dict[str, Any] | None:
    """The newest pre-deployment result checked at or before ``until`` (``predeploy.json``)."""
    return latest_result(outputs, until)


def _when(result: dict[str, Any]) -> dt.datetime | None:
    for key in ("checked_at", "finished_at"):
        value = result.get(key)
        if value:
            try:
                at = dt.datetime.fromisoformat(str(value))
            except ValueError:
                continue
            return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return None


def alerts_delivered(notifications: dict[str, Any] | None) -> bool:
    """Whether the day's notification delivered at least one message and none failed (the alert
    items are then verified; a failed delivery is a finding; no channel, or nothing to send
    today, leaves them not verifiable: nothing showed the channels work)."""
    if not notifications:
        return False
    return bool(notifications.get("ok")) and bool(notifications.get("deliveries"))


def load_checklist_inputs(review: ReviewContext) -> ChecklistInputs:
    params = review.params.checklist
    attestations, problems = load_attestations(params)
    until = review.window[1]
    return ChecklistInputs(
        day=review.day,
        attestations=attestations,
        problems=problems,
        attestation_days=params.attestation_days,
        predeploy=latest_predeploy(review.params.outputs, until),
        predeploy_max_age_days=params.predeploy_max_age_days,
        timezone=review.params.timezone,
    )


def _finding_refs(findings: list[Finding]) -> list[dict[str, Any]]:
    return [
        {"severity": f.severity.name, "check": f.check, "title": f.title, "fingerprint": f.fingerprint}
        for f in findings
    ]


def _row(
    item: checklist.ChecklistItem,
    status: str,
    evidence: str,
    link: str = "",
    findings: list[Finding] | None = None,
) -> dict[str, Any]:
    return {
        "section": item.section,
        "checklist item": item.text,
        "status": status,
        "area": item.area or "attestation",
        "evidence": evidence,
        "link": link,
        "findings": _finding_refs(findings or []),
    }


def _predeploy_checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The result's checks by id (``predeploy.env`` …), whatever the list's key spelling."""
    checks: dict[str, dict[str, Any]] = {}
    for check in result.get("checks") or []:
        cid = str(check.get("id") or check.get("check") or "")
        if cid and not cid.startswith("predeploy."):
            cid = f"predeploy.{cid}"
        if cid:
            checks[cid] = check
    return checks


def _predeploy_row(item: checklist.ChecklistItem, inputs: ChecklistInputs) -> dict[str, Any]:
    result = inputs.predeploy
    if result is None:
        return _row(item, "not verifiable", f"no pre-deployment run is recorded - to get it: {item.remedy}")
    at = _when(result)
    when = local_iso(at, inputs.timezone) if at else "an unknown time"
    link = f"../{result.get('report', PREDEPLOY_DIR)}/predeploy.html"
    if at is not None and inputs.day is not None and (inputs.day - at.date()).days > inputs.predeploy_max_age_days:
        return _row(
            item,
            "not verifiable",
            f"the last pre-deployment run ({when}) is older than {inputs.predeploy_max_age_days} days "
            f"- to get it: {item.remedy}",
            link,
        )
    checks = _predeploy_checks(result)
    verdict = result.get("verdict", "?")
    seen = [checks[c] for c in item.checks if c in checks]
    if not seen:
        return _row(
            item,
            "not verifiable",
            f"the pre-deployment run of {when} ({verdict}) did not check this ({', '.join(item.checks)})"
            f" - to get it: configure it in the predeploy section",
            link,
        )
    lines = [
        f"{c.get('id') or c.get('check')}: {c.get('status')} - {c.get('detail') or c.get('reason') or ''}".rstrip(" -")
        for c in seen
    ]
    states = {str(c.get("status", "")).lower() for c in seen}
    evidence = f"pre-deployment run of {when} ({verdict}): " + "; ".join(lines)
    if states & {"fail", "failed", "error"}:
        return _row(item, "failing", evidence, link)
    if states - {"pass", "passed", "ok"}:
        return _row(item, "not verifiable", evidence, link)
    return _row(item, "verified", evidence, link)


def item_rows(
    findings: Iterable[Finding],
    coverage: Iterable[Coverage],
    areas_run: set[str],
    inputs: ChecklistInputs | None = None,
    kpis: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per checklist item, in checklist order: status, verifier, evidence, link and the
        findings behind a failing item.

        A finding bears on an item when it names the item, or when its check id is one the item
        lists (a critical ``logs.secret_in_url`` fails "API keys stored securely" even if the finding
        named other items). An area one of whose sources failed today verifies none of its items:
        what it did not see is no evidence. A verified item shows the KPIs of the day that measure it
    (:data:`ITEM_KPIS`)."""
    inputs = inputs or ChecklistInputs()
    ranked = rank_findings(findings)
    blind = {f.area: f for f in ranked if f.check.endswith(".source_failed")}
    reasons: dict[str, list[str]] = {}
    for fact in coverage:
        for text in fact.checklist:
            reasons.setdefault(text, []).append(fact.reason + (f" - to get it: {fact.remedy}" if fact.remedy else ""))
    uncovered = {text: f for f in ranked if f.check == f"{f.area}.coverage" for text in f.checklist}
    rows = []
    for item in checklist.ITEMS:
        related = [
            f for f in ranked if (item.text in f.checklist or f.check in item.checks) and f.severity >= Severity.warning
        ]
        link = f"{item.area}.html" if item.area in areas_run and item.area not in checklist.VERIFIERS else ""
        if related:
            evidence = "; ".join(f"[{f.severity.name}] {f.title}" for f in related[:3])
            if len(related) > 3:
                evidence += f"; and {len(related) - 3} more"
            rows.append(_row(item, "failing", evidence, link, related))
        elif item.attested:
            state = attestation_state(
                item.text, inputs.attestations, inputs.day or dt.date.max, inputs.attestation_days
            )
            if state is None:
                problem = f" ({'; '.join(inputs.problems)})" if inputs.problems else ""
                rows.append(_row(item, "not verifiable", f"not attested{problem} - to get it: {item.remedy}"))
            else:
                rows.append(_row(item, "overdue" if state.overdue else "attested", state.evidence))
        elif item.area == "predeploy":
            rows.append(_predeploy_row(item, inputs))
        elif item.text in reasons:
            rows.append(_row(item, "not verifiable", "; ".join(dict.fromkeys(reasons[item.text])), link))
        elif item.area in blind:
            evidence = (
                f"a {item.area} source failed today, so what it did not see is no evidence: {blind[item.area].title}"
            )
            rows.append(_row(item, "not verifiable", evidence, link, [blind[item.area]]))
        elif item.text in uncovered:
            evidence = (
                f"the {item.area} review ran but nothing it checked today speaks to this item "
                f"({uncovered[item.text].check})"
            )
            rows.append(_row(item, "not verifiable", evidence, link))
        elif item.area in areas_run:
            checks = f" ({', '.join(item.checks)})" if item.checks else ""
            area_kpis = (kpis or {}).get(str(item.area)) or {}
            today = _kpi_text({k: area_kpis.get(k) for k in ITEM_KPIS.get(item.text, ())})
            evidence = f"checked by the {item.area} review{checks}: no finding at warning or above{today}"
            rows.append(_row(item, "verified", evidence, link))
        else:
            rows.append(
                _row(item, "not verifiable", f"no {item.area} review ran for this day - to get it: {item.remedy}")
            )
    return rows


# The KPIs of the day (``summary.json`` ``kpis``, by area) that measure an item: shown with it.
ITEM_KPIS: dict[str, tuple[str, ...]] = {
    "Monitor error rates": ("requests", "5xx_rate"),
    "Monitor response times": ("p95_ms",),
    "Health check endpoint": ("uptime_pct",),
    "Monitor database performance": ("slow_ops",),
    "Database query monitoring": ("slow_ops",),
    "Database replication": ("repl_lag_max_s",),
    "Monitor payment transactions": ("payments", "auth_rate"),
}


def _kpi_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _kpi_text(values: dict[str, Any]) -> str:
    shown = [f"{name} {_kpi_value(value)}" for name, value in values.items() if value is not None]
    return f"; today: {', '.join(shown)}" if shown else ""


def checklist_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table, most urgent first (stable within a status)."""
    columns = ["section", "checklist item", "status", "area", "evidence", "link"]
    frame = pd.DataFrame(rows, columns=[*columns, "findings"])[columns] if rows else pd.DataFrame(columns=columns)
    order = {s: i for i, s in enumerate(STATUSES)}
    return frame.sort_values("status", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def checklist_history(outputs: Path, day: dt.date, days: int, today: list[dict[str, Any]]) -> pd.DataFrame:
    """Each item's status on each of the last ``days`` days (``no review`` where no published
    summary of that day carries a checklist); the review day from ``today``'s rows."""
    records = []
    for offset in range(days - 1, -1, -1):
        date = day - dt.timedelta(days=offset)
        statuses: dict[str, str] = {}
        if offset == 0:
            statuses = {r["checklist item"]: r["status"] for r in today}
        else:
            path = outputs / date.isoformat() / "summary.json"
            try:
                summary = json.loads(path.read_text(encoding="utf-8"))
                statuses = {r["checklist item"]: r["status"] for r in summary.get("checklist") or []}
            except (OSError, ValueError, KeyError, TypeError):
                statuses = {}
        for item in checklist.ITEMS:
            records.append(
                {
                    "checklist item": item.text,
                    "section": item.section,
                    "date": date,
                    "status": statuses.get(item.text, NO_REVIEW),
                }
            )
    return pd.DataFrame(records, columns=["checklist item", "section", "date", "status"])


def history_chart(history: pd.DataFrame) -> go.Figure:
    """A strip per item (rows) over the days (columns), coloured by status."""
    names = [*STATUSES, NO_REVIEW]
    codes = {s: i for i, s in enumerate(names)}
    items = list(dict.fromkeys(history["checklist item"]))
    days = list(dict.fromkeys(history["date"]))
    grid = history.pivot(index="checklist item", columns="date", values="status").reindex(index=items, columns=days)
    z = grid.map(lambda s: codes.get(s, codes[NO_REVIEW])).to_numpy()
    n = len(names)
    scale = []
    for i, name in enumerate(names):
        scale += [[i / n, STATUS_COLOURS[name]], [(i + 1) / n, STATUS_COLOURS[name]]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[d.isoformat() for d in days],
            y=items,
            text=grid.to_numpy(),
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
            colorscale=scale,
            zmin=-0.5,
            zmax=n - 0.5,
            showscale=False,
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title=f"Checklist over the last {len(days)} days ("
        + ", ".join(f"<span style='color:{STATUS_COLOURS[s]}'>■</span> {s}" for s in names)
        + ")",
        height=max(320, 16 * len(items) + 120),
        margin={"l": 320, "t": 60, "b": 40},
        yaxis={"autorange": "reversed", "tickfont": {"size": 10}},
    )
    return fig


_CHECKLIST_CSS = (
    "<style>.opsreview-checklist th,.opsreview-checklist td{text-align:left;vertical-align:top}"
    ".opsreview-checklist td:nth-child(3){max-width:60ch}</style>"
)


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#6b7280")
    text = "#111" if status == NO_REVIEW else "#fff"
    return (
        f"<span class='badge' style='background:{colour};color:{text};padding:2px 8px;border-radius:4px;"
        f"font-size:.85em;white-space:nowrap'>{html.escape(status)}</span>"
    )


def _strip(statuses: list[str]) -> str:
    cells = "".join(
        f"<span title='{html.escape(s)}' style='display:inline-block;width:6px;height:14px;margin-right:1px;"
        f"background:{STATUS_COLOURS.get(s, STATUS_COLOURS[NO_REVIEW])}'></span>"
        for s in statuses
    )
    return f"<span style='white-space:nowrap'>{cells}</span>"


def checklist_html(
    rows: list[dict[str, Any]], history: pd.DataFrame | None = None, link_prefix: str = "", section: str | None = None
) -> str:
    """The checklist grouped by its sections: status badge, item, evidence, link into the day's
    report and (with ``history``) the item's strip over the last days."""
    strips: dict[str, list[str]] = {}
    if history is not None and not history.empty:
        for text, group in history.groupby("checklist item", sort=False):
            strips[str(text)] = list(group.sort_values("date")["status"])
    parts = []
    for name in checklist.sections():
        if section is not None and name != section:
            continue
        in_section = [r for r in rows if r["section"] == name]
        if not in_section:
            continue
        counts = status_counts(in_section)
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        body = "".join(
            "<tr>"
            f"<td>{_badge(r['status'])}</td><td>{html.escape(r['checklist item'])}</td>"
            f"<td>{html.escape(r['evidence'])}</td>"
            + (
                f"<td><a href='{html.escape(link_prefix + r['link'])}'>{html.escape(r['area'])}</a></td>"
                if r["link"]
                else f"<td>{html.escape(r['area'])}</td>"
            )
            + (f"<td>{_strip(strips.get(r['checklist item'], []))}</td>" if strips else "")
            + "</tr>"
            for r in in_section
        )
        head = "<th>status</th><th>item</th><th>evidence</th><th>verified by</th>" + (
            "<th>history</th>" if strips else ""
        )
        parts.append(
            f"<h3>{html.escape(name)} <small style='font-weight:normal'>({summary})</small></h3>"
            f"<div style='overflow-x:auto'><table class='opsreview-checklist'><tr>{head}</tr>{body}</table></div>"
        )
    return redact(_CHECKLIST_CSS + "".join(parts))


def status_chart(rows: list[dict[str, Any]]) -> go.Figure:
    """Items per section, stacked by status."""
    names = checklist.sections()
    fig = go.Figure()
    for status in STATUSES:
        counts = [sum(1 for r in rows if r["section"] == name and r["status"] == status) for name in names]
        fig.add_bar(name=status, y=names, x=counts, orientation="h", marker_color=STATUS_COLOURS[status])
    fig.update_layout(
        barmode="stack",
        title="Checklist items by section and status",
        height=360,
        margin={"l": 160, "t": 40, "b": 40},
        xaxis_title="items",
        yaxis={"autorange": "reversed"},
    )
    return fig


def attestations_table(inputs: ChecklistInputs) -> pd.DataFrame:
    """Every attestation in force on the review day (the newest per item), with its expiry."""
    columns = ["checklist item", "by", "date", "note", "valid until", "state"]
    rows = []
    day = inputs.day or dt.date.max
    for item in dict.fromkeys(a.item for a in inputs.attestations):
        state = attestation_state(item, inputs.attestations, day, inputs.attestation_days)
        if state is None:
            continue
        a = state.attestation
        rows.append([item, a.by, a.date, a.note, state.expires_on, "overdue" if state.overdue else "attested"])
    return pd.DataFrame(rows, columns=columns)


def predeploy_table(inputs: ChecklistInputs) -> pd.DataFrame:
    """The checks of the last pre-deployment run (empty when none is recorded)."""
    columns = ["check", "status", "detail"]
    if inputs.predeploy is None:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(
        [
            [cid, str(c.get("status", "")), str(c.get("detail") or c.get("reason") or "")]
            for cid, c in _predeploy_checks(inputs.predeploy).items()
        ],
        columns=columns,
    )


@dataclass
class LivingChecklist:
    """What the checklist notebook shows: today's rows, their history and the inputs."""

    rows: list[dict[str, Any]]
    history: pd.DataFrame
    inputs: ChecklistInputs

    @property
    def table(self) -> pd.DataFrame:
        return checklist_table(self.rows)

    @property
    def counts(self) -> dict[str, int]:
        return status_counts(self.rows)


def predeploy_summary(inputs: ChecklistInputs) -> str:
    """One line on the last pre-deployment run, or how to get one."""
    result = inputs.predeploy
    if result is None:
        return "No pre-deployment run is recorded: run `opsreview predeploy --params P` before each deploy."
    at = _when(result)
    when = local_iso(at, inputs.timezone) if at else "an unknown time"
    return f"{result.get('verdict', '?')} at {when} ({result.get('report', '')})"
