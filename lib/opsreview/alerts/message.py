"""The text of one notification: a title, then status, counts, top findings and the link.

Plain text (every apprise service takes it: chat, e-mail, incident tools), one finding per line
with its evidence folded into ``key=value`` pairs, everything masked like the store (secrets,
card numbers) and cut to a length a chat message or a PagerDuty summary keeps.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from opsreview.alerts.rules import Decision
from opsreview.findings import Finding
from opsreview.masking import mask_sensitive
from opsreview.secrets import redact

LINE_CHARS = 300
VALUE_CHARS = 60
_LABEL = {"new": "NEW", "escalated": "ESCALATED", "repeat": "STILL OPEN", "resolved": "RESOLVED"}


def clean(text: str) -> str:
    """Secrets and card numbers masked, one line."""
    return mask_sensitive(redact(" ".join(str(text).split())))


def _short(value: Any) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    )
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _hhmm(value: str | None) -> str:
    try:
        return dt.datetime.fromisoformat(value).strftime("%H:%M") if value else ""
    except ValueError:
        return ""


def evidence_line(finding: Finding) -> str:
    """The finding's evidence in one line: window, value vs threshold, then its facts."""
    parts = []
    if finding.start or finding.end:
        parts.append(f"{_hhmm(finding.start)}–{_hhmm(finding.end)}")
    if finding.value is not None:
        threshold = f" (threshold {_short(finding.threshold)})" if finding.threshold is not None else ""
        parts.append(f"value {_short(finding.value)}{threshold}")
    parts += [f"{key}={_short(value)}" for key, value in finding.evidence.items() if value not in (None, "", [], {})]
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
