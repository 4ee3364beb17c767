"""What to send to whom today: routing, inhibition, and Alertmanager's repeat/resolve rules.

Pure functions over the day's findings and the notification state (no I/O): :func:`plan_day`
returns one :class:`Decision` per (finding, channel), each with its ``action``:

============  ===================================================================================
new           firing, never sent to this channel (or sent as resolved since): sent
escalated     firing at a higher severity than when it was last sent: sent
repeat        firing, unchanged, last sent ``repeat_interval`` or more ago: sent again
suppressed    firing, unchanged, sent less than ``repeat_interval`` ago: not sent
resolved      sent as firing before, absent today from an area that ran, or no longer routed to
              this channel (it dropped below the channel's severity): sent once as resolved
inhibited     muted by an inhibition rule (a source finding of the same window): not sent
already_sent  this date's run already delivered it to this channel (a re-run): not sent again
superseded    a date older than the last one the state knows for it (a backfill): not sent, and
              the state is not overwritten (nor resolved) by the older date
cleared       as resolved, with ``send_resolved: false``: not sent, no longer open
============  ===================================================================================

Time is counted in review days (the date of the review, not the wall clock of the run), so a
daily schedule that runs a minute earlier one day still repeats on the next day with 24h, and a
re-run or a backfill of an older date never looks like time has passed. ``repeat_interval`` is
so rounded up to whole days: 24h re-sends every open finding on every daily review, 48h every
second day, under 24h acts as 24h.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opsreview.alerts.params import AlertsParams, InhibitRule
from opsreview.findings import Finding, Severity, rank_findings

SENDING = ("new", "escalated", "repeat", "resolved")


@dataclass(frozen=True)
class Decision:
    """One finding (or a cleared one) for one channel, and what to do about it."""

    fingerprint: str
    channel: str
    action: str  # see the module's table
    finding: Finding
    reason: str = ""
    alike: int = 0  # more findings of the day with the same fingerprint (shown as "+N alike")

    @property
    def sends(self) -> bool:
        return self.action in SENDING


def _window(finding: Finding) -> tuple[dt.datetime, dt.datetime] | None:
    """The finding's time window; None when it has none (a day-level finding, such as a day's
    5xx rate) or an unreadable one. A finding with only a start (or only an end) is a point."""
    try:
        start = dt.datetime.fromisoformat(finding.start) if finding.start else None
        end = dt.datetime.fromisoformat(finding.end) if finding.end else None
    except ValueError:
        return None
    start = start or end
    end = end or start
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None:
        return None
    return start, max(start, end)


def _overlap(a: tuple[dt.datetime, dt.datetime] | None, b: tuple[dt.datetime, dt.datetime] | None) -> bool:
    """Both windows are real and overlap (a finding without a window overlaps nothing)."""
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def muted_by(findings: Sequence[Finding], rules: Iterable[InhibitRule]) -> list[str | None]:
    """For each finding (each occurrence, before findings are collapsed by fingerprint), the
    fingerprint of the finding that mutes it, or None.

    As in Alertmanager, a finding never mutes itself, and a finding matching both sides of a
    rule is not muted by that rule (it would otherwise mute its own kind). With ``same_window``,
    both findings must have a real window and the windows must overlap: a day-level finding
    (no window) neither mutes nor is muted by a finding of some minutes.
    """
    rules = list(rules)
    muted: list[str | None] = []
    for target in findings:
        by = None
        for rule in rules:
            if not rule.target.matches(target) or rule.source.matches(target):
                continue
            for source in findings:
                if source.fingerprint == target.fingerprint or not rule.source.matches(source):
                    continue
                if any(getattr(source, name) != getattr(target, name) for name in rule.equal):
                    continue
                if rule.same_window and not _overlap(_window(source), _window(target)):
                    continue
                by = source.fingerprint
                break
            if by is not None:
                break
        muted.append(by)
    return muted


def inhibited_by(findings: Sequence[Finding], rules: Iterable[InhibitRule]) -> dict[str, str]:
    """fingerprint of each muted finding -> fingerprint of a finding that mutes it. A fingerprint
    is muted only when every occurrence of it is (:func:`muted_by`): one burst in the minutes of
    an outage does not hide another burst of the same route in other minutes."""
    muted: dict[str, str] = {}
    live: set[str] = set()
    for finding, by in zip(findings, muted_by(findings, rules), strict=True):
        if by is None:
            live.add(finding.fingerprint)
        else:
            muted.setdefault(finding.fingerprint, by)
    return {fp: by for fp, by in muted.items() if fp not in live}


def route(finding: Finding, params: AlertsParams) -> list[str]:
    """The channels a finding goes to: its routes' (or every channel), then each channel's filters."""
    if params.routes:
        names: list[str] = []
        for rule in params.routes:
            if rule.match.matches(finding):
                names.extend(n for n in rule.channels if n not in names)
                if not rule.continue_matching:
                    break
    else:
        names = [c.name for c in params.channels]
    return [n for n in names if params.channel(n).accepts(finding)]


def _days_between(earlier: str, later: dt.date) -> float:
    return (later - dt.date.fromisoformat(earlier)).days * 24.0


def plan_day(
    findings: Sequence[Finding],
    state: dict[str, Any],
    params: AlertsParams,
    day: dt.date,
    areas_ran: set[str] | None,
) -> list[Decision]:
    """Every decision of the day, most severe first.

    ``state`` is the notification state (:mod:`opsreview.alerts.state`): per fingerprint, per
    channel, the day and severity last sent and whether it was sent firing or resolved, plus the
    ledger of what each date already delivered. ``areas_ran``: areas whose notebook ran today
    (a finding of an area that did not run has not cleared); None: every area ran.
    """
    sent_today: dict[str, list[str]] = state.get("days", {}).get(day.isoformat(), {}).get("sent", {})
    alerts: dict[str, Any] = state.get("alerts", {})
    ranked = rank_findings(findings)
    # inhibition per occurrence, before collapsing: a fingerprint is muted only if every one is
    muted = inhibited_by(ranked, params.inhibit)
    by_fingerprint: dict[str, Finding] = {}
    rep_muted: dict[str, bool] = {}
    alike: dict[str, int] = {}
    for finding, by in zip(ranked, muted_by(ranked, params.inhibit), strict=True):
        # a fingerprint twice in a day: one alert, its most severe occurrence that is not muted
        fp = finding.fingerprint
        alike[fp] = alike.get(fp, -1) + 1
        if fp not in by_fingerprint or (rep_muted[fp] and by is None):
            by_fingerprint[fp], rep_muted[fp] = finding, by is not None
    today = rank_findings(by_fingerprint.values())
    decisions: list[Decision] = []
    known = {c.name for c in params.channels}
    for finding in today:
        fp = finding.fingerprint
        record = alerts.get(fp, {}).get("channels", {})
        newer = _last_day(alerts.get(fp, {}))
        routed = route(finding, params)
        for channel in routed:
            last = record.get(channel)
            if f"firing:{channel}" in sent_today.get(fp, []):
                action, reason = "already_sent", f"sent for {day.isoformat()} already"
            elif newer > day.isoformat():
                action, reason = "superseded", f"a later date ({newer}) was notified: an older date sends nothing"
            elif fp in muted:
                action, reason = "inhibited", f"inhibited by {muted[fp]}"
            elif last is None or last.get("status") != "firing":
                action, reason = "new", ""
            elif finding.severity > Severity.parse(last["severity"]):
                action, reason = "escalated", f"{last['severity']} -> {finding.severity.name}"
            elif _days_between(last["day"], day) >= params.repeat_interval:
                action, reason = "repeat", f"last sent {last['day']}"
            else:
                action, reason = "suppressed", f"sent {last['day']}, repeats after {params.repeat_interval:g}h"
            decisions.append(Decision(fp, channel, action, finding, reason, alike[fp]))
        if newer > day.isoformat():
            continue
        # a channel holding it firing that it no longer routes to (it dropped from critical to
        # warning: the critical-only channel) hears it resolved, or would never hear the end of it
        for channel, last in sorted(record.items()):
            if channel not in routed and channel in known:
                why = f"no longer sent here ({finding.severity.name})"
                decisions.extend(_resolution(fp, channel, last, finding, sent_today, day, params, why))
    for fp, record in sorted(alerts.items()):
        if fp in by_fingerprint or (areas_ran is not None and record.get("area") not in areas_ran):
            continue
        if _last_day(record) > day.isoformat():
            continue  # an older date than the record's last: it resolves nothing, overwrites nothing
        cleared = Finding.from_dict(
            {**record, "severity": record.get("severity", "info"), "title": record.get("title", fp)}
        )
        for channel, last in sorted(record.get("channels", {}).items()):
            if channel in known:
                why = f"last seen {record.get('last_seen')}"
                decisions.extend(_resolution(fp, channel, last, cleared, sent_today, day, params, why))
    return decisions


def _resolution(
    fp: str,
    channel: str,
    last: dict[str, Any],
    finding: Finding,
    sent_today: dict[str, list[str]],
    day: dt.date,
    params: AlertsParams,
    why: str,
) -> list[Decision]:
    """The resolve of an alert open on a channel: none if it is not open there, or was sent for
    this date or a later one (a re-run of an older date)."""
    if f"resolved:{channel}" in sent_today.get(fp, []):
        return [Decision(fp, channel, "already_sent", finding, f"resolved sent for {day} already")]
    if last.get("status") != "firing" or dt.date.fromisoformat(last["day"]) >= day:
        return []
    if params.send_resolved:
        return [Decision(fp, channel, "resolved", finding, why)]
    return [Decision(fp, channel, "cleared", finding, "send_resolved is off")]


def _last_day(record: dict[str, Any]) -> str:
    """The latest review date a state record knows of (seen, or sent to a channel); "" if none."""
    days = [str(record.get("as_of") or "")]
    days += [str(c.get("day") or "") for c in record.get("channels", {}).values() if isinstance(c, dict)]
    return max(days)
