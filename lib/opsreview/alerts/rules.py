"""What to send to whom today: routing, inhibition, and Alertmanager's repeat/resolve rules.

Pure functions over the day's findings and the notification state (no I/O): :func:`plan_day`
returns one :class:`Decision` per (finding, channel), each with its ``action``:

============  ===================================================================================
new           firing, never sent to this channel (or sent as resolved since): sent
escalated     firing at a higher severity than when it was last sent: sent
repeat        firing, unchanged, last sent ``repeat_interval`` or more ago: sent again
suppressed    firing, unchanged, sent less than ``repeat_interval`` ago: not sent
resolved      sent as firing before, absent today from an area that ran: sent once as resolved
inhibited     muted by an inhibition rule (a source finding of the same window): not sent
already_sent  this date's run already delivered it to this channel (a re-run): not sent again
cleared       as resolved, with ``send_resolved: false``: not sent, no longer open
============  ===================================================================================

Time is counted in review days (the date of the review, not the wall clock of the run), so a
daily schedule that runs a minute earlier one day still repeats on the next day with 24h, and a
re-run of an older date never looks like time has passed.
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


def inhibited_by(findings: Sequence[Finding], rules: Iterable[InhibitRule]) -> dict[str, str]:
    """fingerprint of each muted finding -> fingerprint of the finding that mutes it.

    As in Alertmanager, a finding never mutes itself, and a finding matching both sides of a
    rule is not muted by that rule (it would otherwise mute its own kind). With ``same_window``,
    both findings must have a real window and the windows must overlap: a day-level finding
    (no window) neither mutes nor is muted by a finding of some minutes.
    """
    muted: dict[str, str] = {}
    for rule in rules:
        sources = [f for f in findings if rule.source.matches(f)]
        for target in findings:
            if target.fingerprint in muted or not rule.target.matches(target) or rule.source.matches(target):
                continue
            for source in sources:
                if source.fingerprint == target.fingerprint:
                    continue
                if any(getattr(source, name) != getattr(target, name) for name in rule.equal):
                    continue
                if rule.same_window and not _overlap(_window(source), _window(target)):
                    continue
                muted[target.fingerprint] = source.fingerprint
                break
    return muted


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
    by_fingerprint: dict[str, Finding] = {}
    alike: dict[str, int] = {}
    for finding in rank_findings(findings):  # a fingerprint twice in a day: keep the most severe
        alike[finding.fingerprint] = alike.get(finding.fingerprint, -1) + 1
        by_fingerprint.setdefault(finding.fingerprint, finding)
    today = list(by_fingerprint.values())
    muted = inhibited_by(today, params.inhibit)
    decisions: list[Decision] = []
    for finding in today:
        fp = finding.fingerprint
        record = alerts.get(fp, {}).get("channels", {})
        for channel in route(finding, params):
            last = record.get(channel)
            if f"firing:{channel}" in sent_today.get(fp, []):
                action, reason = "already_sent", f"sent for {day.isoformat()} already"
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
    known = {c.name for c in params.channels}
    for fp, record in sorted(alerts.items()):
        if fp in by_fingerprint or (areas_ran is not None and record.get("area") not in areas_ran):
            continue
        cleared = Finding.from_dict(
            {**record, "severity": record.get("severity", "info"), "title": record.get("title", fp)}
        )
        for channel, last in sorted(record.get("channels", {}).items()):
            if channel not in known:
                continue
            if f"resolved:{channel}" in sent_today.get(fp, []):
                decisions.append(Decision(fp, channel, "already_sent", cleared, f"resolved sent for {day} already"))
            elif last.get("status") != "firing" or dt.date.fromisoformat(last["day"]) >= day:
                continue  # not open, or sent for this date or a later one (a re-run of an older date)
            elif params.send_resolved:
                decisions.append(Decision(fp, channel, "resolved", cleared, f"last seen {record.get('last_seen')}"))
            else:
                decisions.append(Decision(fp, channel, "cleared", cleared, "send_resolved is off"))
    return decisions
