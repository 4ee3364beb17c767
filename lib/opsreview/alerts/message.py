"""The text of one notification: a title, then status, counts, top findings and the link.

Plain text (every apprise service takes it: chat, e-mail, incident tools), one finding per line:
its title, then its window, value vs threshold and a few whitelisted evidence facts (route, host,
window, counts: :data:`EVIDENCE_KEYS`), never its sample log lines or examples (client
addresses, internal hosts, request lines belong in the report, not in a chat channel or a
pager). Every line passes :func:`opsreview.share.shareable`, the masking of every output
(secrets, card numbers; client addresses and e-mails with ``share.pseudonymize_clients``), and
is cut to a length a chat message or a PagerDuty summary keeps.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from opsreview.alerts.rules import Decision
from opsreview.findings import Finding
from opsreview.share import shareable

LINE_CHARS = 300
VALUE_CHARS = 60
_LABEL = {"new": "NEW", "escalated": "ESCALATED", "repeat": "STILL OPEN", "resolved": "RESOLVED"}
# Evidence shown in a message: where and how much, nothing copied from a request or a log line.
EVIDENCE_KEYS = ("window", "route", "method", "host", "probe", "channel")
_COUNT_KEY = re.compile(
    r"^(count|requests|errors|failures|hits|total|5xx|4xx)$|_(count|total|requests|errors|failures)$"
)
_NEVER = ("sample", "example", "lines")


def clean(text: str) -> str:
    """One line, as it may leave the store (:func:`opsreview.share.shareable`)."""
    return shareable(" ".join(str(text).split()))


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _time(value: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def window_text(start: str | None, end: str | None) -> str:
    """``14:10–14:30``; a window ending at the next midnight ends at ``24:00``, one ending on
    another day shows that day's date."""
    first, last = _time(start), _time(end)
    if first is None and last is None:
        return ""
    if first is None or last is None:
        point = first or last
        assert point is not None
        return point.strftime("%H:%M")
    if last.time() == dt.time(0) and last.date() == first.date() + dt.timedelta(days=1):
        until = "24:00"
    elif last.date() != first.date():
        until = last.strftime("%Y-%m-%d %H:%M")
    else:
        until = last.strftime("%H:%M")
    return f"{first.strftime('%H:%M')}–{until}"


def _shown(key: str, value: Any) -> bool:
    if any(word in key.lower() for word in _NEVER) or value in (None, "", [], {}):
        return False
    if key in EVIDENCE_KEYS:
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    return bool(_COUNT_KEY.search(key)) and isinstance(value, int | float) and not isinstance(value, bool)


def evidence_line(finding: Finding) -> str:
    """The finding's evidence in one line: window, value vs threshold, then whitelisted facts."""
    parts = []
    window = window_text(finding.start, finding.end)
    if window:
        parts.append(window)
    if finding.value is not None:
        threshold = f" (threshold {_short(finding.threshold)})" if finding.threshold is not None else ""
        parts.append(f"value {_short(finding.value)}{threshold}")
    parts += [f"{key}={_short(value)}" for key, value in finding.evidence.items() if _shown(str(key), value)]
    return "; ".join(parts)


def finding_line(decision: Decision) -> str:
    f = decision.finding
    label = _LABEL.get(decision.action, decision.action.upper())
    severity = "" if decision.action == "resolved" else f" {f.severity.name}"
    subject = f" [{f.subject}]" if f.subject else ""
    evidence = "" if decision.action == "resolved" else evidence_line(f)
    more = f" (+{decision.alike} alike)" if decision.alike else ""
    line = f"- {label}{severity} {f.check}{subject}: {f.title}{more}" + (f" — {evidence}" if evidence else "")
    line = clean(line)
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"


def report_link(base_url: str | None, day: dt.date) -> str:
    if not base_url:
        return f"outputs/{day.isoformat()}/index.html (set alerts.report_base_url for a link)"
    return f"{base_url.rstrip('/')}/{day.isoformat()}/index.html"


def notify_type(decisions: Sequence[Decision]) -> str:
    """apprise's type of the message: failure for a critical one, warning, or success (all resolved)."""
    firing = [d.finding.severity.name for d in decisions if d.action != "resolved"]
    if "critical" in firing:
        return "failure"
    if "warning" in firing:
        return "warning"
    return "success" if not firing else "info"


def render_message(
    summary: dict[str, Any], decisions: Sequence[Decision], open_count: int, base_url: str | None, top: int
) -> tuple[str, str]:
    """(title, body) of one channel's message for the day."""
    day = dt.date.fromisoformat(str(summary["date"]))
    counts = summary.get("counts") or {}
    counts_text = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("critical", "warning", "info"))
    firing = [d for d in decisions if d.action != "resolved"]
    resolved = [d for d in decisions if d.action == "resolved"]
    status = str(summary.get("status", "?")).upper()
    head = f"{len(firing)} open" + (f", {len(resolved)} resolved" if resolved else "")
    title = clean(f"[opsreview {summary.get('environment', '')}] {day.isoformat()} {status}: {head}")
    shown = (firing + resolved)[:top]
    lines = [
        f"Review of {day.isoformat()} ({summary.get('environment', '')}): {status}, exit {summary.get('exit_code', '?')}",
        f"Findings of the day: {counts_text}.",
    ]
    quiet = open_count - len(firing)
    if quiet > 0:
        lines.append(f"{quiet} other open finding(s) already sent and unchanged (not repeated).")
    lines.append("")
    lines += [finding_line(d) for d in shown]
    if len(firing) + len(resolved) > len(shown):
        lines.append(f"… and {len(firing) + len(resolved) - len(shown)} more in the report.")
    lines += ["", f"Report: {report_link(base_url, day)}"]
    return title, "\n".join(clean(line) if not line.startswith("- ") else line for line in lines)


def render_test_message(environment: str, channel: str, now: dt.datetime) -> tuple[str, str]:
    title = f"[opsreview {environment}] test notification"
    body = (
        f"This is a test of the alert channel {channel!r} of opsreview ({environment}), "
        f"sent {now.isoformat(timespec='seconds')}. Nothing needs attention."
    )
    return clean(title), body
