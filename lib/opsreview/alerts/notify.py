"""Notify the day's review: plan (route, inhibit, repeat/resolve), send one message per channel,
remember what was sent; and the test message of every channel.

:func:`notify_run` is what the runner calls with the day's summary; :func:`notify_day` is what
``opsreview notify`` calls: it reads a published ``outputs/<date>/summary.json``, notifies and
records the outcome into it (``notifications``, and its findings). A failed delivery is a
finding (``alerts.delivery_failed``, its subject the channel's name), never an exception, and
never changes the review's status: the review did its job, the channel did not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsreview.alerts.deliver import Delivery, deliver, is_incident_tool
from opsreview.alerts.message import notify_type, render_message, render_test_message
from opsreview.alerts.params import AlertsParams
from opsreview.alerts.rules import Decision, plan_day
from opsreview.alerts.state import (
    apply_day,
    empty_state,
    locked,
    read_state,
    state_path,
    write_state,
    write_text_atomic,
)
from opsreview.exceptions import OutputsError, UsageError
from opsreview.findings import Finding, Severity, count_by_severity, rank_findings
from opsreview.secrets import redact

if TYPE_CHECKING:  # the params root composes this package's section: no import at run time
    from opsreview.params import Params

log = logging.getLogger("opsreview")

CHECKLIST = ("Set up alerts", "Monitoring tools configured")
TABLE_COLUMNS = [
    "fingerprint",
    "channel",
    "action",
    "delivered",
    "severity",
    "area",
    "check",
    "subject",
    "first_seen",
    "last_sent",
    "reason",
]


@dataclass
class NotifyOutcome:
    """What one notification of a day did: per channel the delivery, per finding and channel the
    decision (sent, suppressed, resolved, inhibited, ...), and the findings about the alerting."""

    day: dt.date
    deliveries: list[Delivery] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every delivery attempted was delivered."""
        return all(d.ok for d in self.deliveries)

    def of(self, action: str) -> list[Decision]:
        return [d for d in self.decisions if d.action == action]

    @property
    def sent(self) -> list[Decision]:
        delivered = {d.channel for d in self.deliveries if d.ok}
        return [d for d in self.decisions if d.sends and d.action != "resolved" and d.channel in delivered]

    @property
    def resolved(self) -> list[Decision]:
        delivered = {d.channel for d in self.deliveries if d.ok}
        return [d for d in self.decisions if d.action == "resolved" and d.channel in delivered]

    @property
    def suppressed(self) -> list[Decision]:
        return self.of("suppressed") + self.of("already_sent") + self.of("superseded")

    @property
    def inhibited(self) -> list[Decision]:
        return self.of("inhibited")

    def table(self) -> pd.DataFrame:
        """The day's notification state, one row per finding and channel (what the report shows)."""
        return pd.DataFrame(self.rows, columns=TABLE_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "ok": self.ok,
            "deliveries": [d.to_dict() for d in self.deliveries],
            "counts": {a: len(self.of(a)) for a in sorted({d.action for d in self.decisions})},
            "state": self.rows,
        }


def _delivery_failed(delivery: Delivery) -> Finding:
    return Finding(
        area="alerts",
        check="alerts.delivery_failed",
        severity=Severity.warning,
        title=f"Alert channel {delivery.channel}: {delivery.error}",
        evidence={"channel": delivery.channel, "error": delivery.error, "duration_s": delivery.duration_s},
        checklist=CHECKLIST,
        subject=delivery.channel,
    )


def _not_configured() -> Finding:
    return Finding(
        area="alerts",
        check="alerts.not_configured",
        severity=Severity.warning,
        title="No alert channel is configured: nobody is told what the review finds",
        evidence={"remedy": "add alerts.channels to the params (a ${ENV} apprise URL each)"},
        checklist=CHECKLIST,
        subject="alerts.channels",
    )


# An area with one of these findings today saw nothing, or not all: what it did not find has not
# cleared (a log source that failed is no evidence that the 5xx stopped). The first three: it saw
# nothing; the others: part of its input failed (a log file, the database collector).
BLIND_CHECKS = (".source_failed", ".notebook_failed", ".no_data")
PARTLY_BLIND_CHECKS = frozenset({"logs.file_error", "errors.file_error", "database.collector_error"})


def _areas_ran(summary: dict[str, Any]) -> set[str] | None:
    """Areas that saw all of their input today: their findings that are absent have cleared.

    An area is *blind* today, and so resolves nothing (its absent findings stay open, as they
    were), when it has a finding saying it saw nothing (``*.source_failed``,
    ``*.notebook_failed``, ``*.no_data``) or only part (``logs.file_error``,
    ``errors.file_error``, ``database.collector_error``), or when it has any coverage fact in
    ``summary["coverage"]`` (database, payments and backups report a missing input that way: a
    check it could not do is no evidence that what it found before has gone). Simple and safe:
    one missing input holds back every resolve of the area for that day, never sends a false
    RESOLVED. None when the summary says nothing of notebooks and nothing is blind (every area
    counts as run).
    """
    notebooks = summary.get("notebooks")
    blind = {
        str(f.get("area"))
        for f in summary.get("findings", [])
        if str(f.get("check", "")).endswith(BLIND_CHECKS) or str(f.get("check", "")) in PARTLY_BLIND_CHECKS
    }
    blind |= {str(c.get("area")) for c in summary.get("coverage") or [] if isinstance(c, dict) and c.get("area")}
    if notebooks is None:
        return None if not blind else {str(f.get("area")) for f in summary.get("findings", [])} - blind
    return {str(nb["name"]) for nb in notebooks if nb.get("status") == "ok"} - blind


def _rows(decisions: list[Decision], delivered: dict[str, bool], state: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for d in decisions:
        record = state.get("alerts", {}).get(d.fingerprint, {})
        last = record.get("channels", {}).get(d.channel, {})
        outcome = ("ok" if delivered.get(d.channel) else "error") if d.sends else ""
        rows.append(
            {
                "fingerprint": d.fingerprint,
                "channel": d.channel,
                "action": d.action,
                "delivered": outcome,
                "severity": d.finding.severity.name,
                "area": d.finding.area,
                "check": d.finding.check,
                "subject": d.finding.subject,
                "first_seen": record.get("first_seen", ""),
                "last_sent": last.get("day", ""),
                "reason": redact(d.reason),
            }
        )
    return rows


def notify_run(params: Params, summary: dict[str, Any], *, now: dt.datetime | None = None) -> NotifyOutcome:
    """Notify the review of ``summary`` (a ``summary.json`` dict) on the channels of
    ``params.alerts``; update the notification state in the store; never raise for a channel.

    ``params`` is the whole params (its ``alerts``, ``store`` and ``timezone``).
    """
    alerts: AlertsParams = params.alerts
    now = now or dt.datetime.now(dt.UTC)
    day = dt.date.fromisoformat(str(summary["date"]))
    outcome = NotifyOutcome(day)
    if not alerts.channels:
        outcome.findings.append(_not_configured())
        return outcome
    findings = [
        Finding.from_dict(f) for f in summary.get("findings", []) if not str(f.get("check", "")).startswith("alerts.")
    ]
    areas_ran = _areas_ran(summary)
    path = state_path(Path(params.store))
    try:
        return _notify_locked(params, summary, outcome, findings, areas_ran, path, now)
    except OSError as exc:  # the store folder: one line naming it, never a traceback of the run
        raise OutputsError(f"{path}: notification state not readable or writable ({exc.strerror or exc})") from None


def _notify_locked(
    params: Params,
    summary: dict[str, Any],
    outcome: NotifyOutcome,
    findings: list[Finding],
    areas_ran: set[str] | None,
    path: Path,
    now: dt.datetime,
) -> NotifyOutcome:
    alerts, day = params.alerts, outcome.day
    with locked(path):
        state = _read_or_set_aside(path, now)
        decisions = plan_day(findings, state, alerts, day, areas_ran)
        open_counts: dict[str, int] = {}
        for d in decisions:
            if d.action in ("new", "escalated", "repeat", "suppressed", "already_sent"):
                open_counts[d.channel] = open_counts.get(d.channel, 0) + 1
        decisions = _no_resolve_to_incident_tools(decisions, alerts)
        outcome.decisions = decisions
        delivered: dict[str, bool] = {}
        for channel in alerts.channels:
            to_send = _by_severity([d for d in decisions if d.channel == channel.name and d.sends])
            if not to_send:
                continue
            title, body = render_message(
                summary, to_send, open_counts.get(channel.name, 0), alerts.report_base_url, alerts.top_findings
            )
            delivery = deliver(channel, title, body, notify_type(to_send), alerts.timeouts)
            outcome.deliveries.append(delivery)
            delivered[channel.name] = delivery.ok
            if not delivery.ok:
                outcome.findings.append(_delivery_failed(delivery))
        write_state(path, apply_day(state, day, findings, decisions, delivered, areas_ran, now))
    outcome.rows = _rows(decisions, delivered, state)
    log.info(
        "alerts %s: %d sent, %d resolved, %d suppressed, %d inhibited, %d delivery failure(s)",
        day,
        len(outcome.sent),
        len(outcome.resolved),
        len(outcome.suppressed),
        len(outcome.inhibited),
        len(outcome.findings),
    )
    return outcome


def _no_resolve_to_incident_tools(decisions: list[Decision], alerts: AlertsParams) -> list[Decision]:
    """A resolve for a PagerDuty or Opsgenie channel is not sent (``cleared``: no longer open
    there): apprise would trigger a new incident with it. The incident is resolved in the tool."""
    incident = {c.name for c in alerts.channels if any(d.channel == c.name for d in decisions) and is_incident_tool(c)}
    return [
        dataclasses.replace(d, action="cleared", reason="not sent to an incident tool: resolve the incident there")
        if d.action == "resolved" and d.channel in incident
        else d
        for d in decisions
    ]


def _read_or_set_aside(path: Path, now: dt.datetime) -> dict[str, Any]:
    """The state; a damaged one is moved aside (kept for a look) and notifying starts afresh:
    sending a finding once more beats telling nobody."""
    try:
        return read_state(path)
    except ValueError as exc:
        aside = path.with_name(f"{path.name}.damaged-{now.strftime('%Y%m%dT%H%M%S')}")
        path.replace(aside)
        log.warning("%s; moved to %s, starting a new notification state", exc, aside.name)
        return empty_state()


def notifications_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The notification state recorded in a ``summary.json`` (``notifications``), as a table."""
    rows = (summary.get("notifications") or {}).get("state") or []
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def notifications_html(summary: dict[str, Any]) -> str:
    """The day page's "Notifications" section from a ``summary.json``: each channel's delivery,
    then what happened to each finding on each channel (sent, not repeated, resolved, inhibited)."""
    notes = summary.get("notifications")
    if not notes:
        return "<h2>Notifications</h2><p>Not notified (no <code>opsreview notify</code> for this day).</p>"
    deliveries = (
        "".join(
            f"<tr><td>{html.escape(d['channel'])}</td><td>{'ok' if d['ok'] else 'FAILED'}</td>"
            f"<td>{html.escape(d.get('error') or '')}</td></tr>"
            for d in notes.get("deliveries", [])
        )
        or "<tr><td colspan='3'>Nothing new to send.</td></tr>"
    )
    state = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in ("channel", "action", "delivered", "severity")
        )
        + f"<td><code>{html.escape(row['check'])}</code></td><td>{html.escape(row['subject'])}</td>"
        + f"<td>{html.escape(row.get('first_seen', ''))}</td><td>{html.escape(row.get('reason', ''))}</td></tr>"
        for row in notes.get("state", [])
    )
    return (
        "<h2>Notifications</h2><table><tr><th>channel</th><th>delivery</th><th>error</th></tr>"
        f"{deliveries}</table><table><tr><th>channel</th><th>action</th><th>delivered</th><th>severity</th>"
        f"<th>check</th><th>subject</th><th>first seen</th><th>why</th></tr>{state}</table>"
    )


def _by_severity(decisions: list[Decision]) -> list[Decision]:
    """Firing first, most severe first; resolved last."""
    return sorted(decisions, key=lambda d: (d.action == "resolved", -int(d.finding.severity)))


def send_test(params: Params, *, now: dt.datetime | None = None) -> list[Delivery]:
    """A test message to every channel (``opsreview notify --test``, the pre-deploy check)."""
    alerts: AlertsParams = params.alerts
    now = now or dt.datetime.now(dt.UTC)
    deliveries = []
    for channel in alerts.channels:
        title, body = render_test_message(params.environment, channel.name, now)
        deliveries.append(deliver(channel, title, body, "info", alerts.timeouts))
    return deliveries


def record_outcome(summary: dict[str, Any], outcome: NotifyOutcome) -> dict[str, Any]:
    """``summary`` with ``notifications`` set and the alerting's findings in place of the previous
    notification's (a re-run replaces them); the review's status and exit code are unchanged."""
    kept = [f for f in summary.get("findings", []) if not str(f.get("check", "")).startswith("alerts.")]
    findings = rank_findings([Finding.from_dict(f) for f in kept] + outcome.findings)
    return {
        **summary,
        "findings": [f.to_dict() for f in findings],
        "counts": count_by_severity(findings),
        "notifications": outcome.to_dict(),
    }


def notify_day(params: Params, day: dt.date, *, now: dt.datetime | None = None) -> NotifyOutcome:
    """Notify a published day (``outputs/<date>/summary.json``), record the outcome into it and
    re-render its page (``index.html``: the checklist and the notifications sections), holding
    the outputs folder's lock (a run publishing the same day meanwhile would otherwise have its
    summary replaced by the older one). Without a channel: a :class:`UsageError` and nothing is
    written. The runner, which holds that lock already, calls :func:`notify_run` and
    :func:`record_outcome` instead."""
    from opsreview.run.steps import outputs_lock, rerender_day_page

    if not params.alerts.channels:
        raise UsageError("alerts.channels is empty: no channel to notify (nothing written)")
    path = Path(params.outputs) / day.isoformat() / "summary.json"
    if not path.parent.is_dir():
        raise OutputsError(f"{path}: no published review for {day} (run `opsreview run` first)")
    with outputs_lock(Path(params.outputs)):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OutputsError(f"{path}: no published review for {day} (run `opsreview run` first)") from None
        except (OSError, ValueError) as exc:
            raise OutputsError(f"{path}: unreadable summary ({exc})") from None
        outcome = notify_run(params, summary, now=now)
        recorded = rerender_day_page(params, path.parent, record_outcome(summary, outcome))
        write_text_atomic(path, redact(json.dumps(recorded, indent=2, default=str)) + "\n")
    return outcome
