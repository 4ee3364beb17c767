"""Findings on logging itself: gaps without lines, volume drops, unparseable lines, unreadable
files, days without data. They bear on "Morgan HTTP logging" / "Review logs daily" (access logs)
and "Error logging" (application logs)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd

from opsreview.findings import Finding, Severity
from opsreview.localtime import hhmm
from opsreview.logs.evidence import LOGGING, as_list, fmt_window, num, pct, window_bounds
from opsreview.logs.files import MAX_LINE_BYTES
from opsreview.logs.thresholds import LogThresholds
from opsreview.masking import masked
from opsreview.secrets import redact

__all__ = ["gap_findings", "no_data_finding", "unparsed_findings", "volume_findings"]


def gap_findings(
    gaps: pd.DataFrame,
    th: LogThresholds,
    tz: str,
    what: str = "access log",
    area: str = "logs",
    has_baseline: bool = True,
    logged_before: Collection[str] = (),
    logged_after: Collection[str] = (),
) -> list[Finding]:
    """``logs.gap`` / ``errors.gap``: minutes without a line where the baseline expects many.

    Without a baseline the expectation is the day's mean rate, which cannot tell a quiet night
    from an outage: such gaps are warnings at most, and say so. Nor can it tell a log that
    starts (or stops) from one that falls silent: a gap from the day's start to a host's first
    line, when the store holds no line of it from an earlier day (``logged_before``: hosts
    that have some), or from its last line to the day's end with none from a later day
    (``logged_after``), is info, and says why."""
    found = []
    for row in gaps.to_dict("records"):
        minutes = int(row["minutes"])
        host = row["host"]
        severity = Severity.critical if minutes >= 60 and has_baseline else Severity.warning
        span = f"{hhmm(row['start'], tz)}-{hhmm(row['end'], tz)}"
        title = f"No {what} lines from {host} for {minutes} min ({span})"
        evidence: dict[str, Any] = {
            "host": host,
            "window": fmt_window(row["start"], row["end"], tz),
            "expected_lines": num(row["expected"], 1),
            "expected_from": "baseline, same hours" if has_baseline else "the day's mean rate (no baseline yet)",
        }
        edge = row.get("edge")
        if not has_baseline and edge == "before_first" and host not in logged_before:
            severity = Severity.info
            title = f"No {what} lines from {host} before its first one at {hhmm(row['end'], tz)} ({span})"
            evidence["why_info"] = (
                f"no baseline yet and no earlier {what} line from {host} in the store: "
                "the log may simply begin here, which only a baseline could tell from an outage"
            )
        elif not has_baseline and edge == "after_last" and host not in logged_after:
            severity = Severity.info
            last = pd.Timestamp(row["start"]) - pd.Timedelta(minutes=1)  # the gap starts the minute after
            title = f"No {what} lines from {host} after its last one at {hhmm(last, tz)} ({span})"
            evidence["why_info"] = (
                f"no baseline yet and no later {what} line from {host} in the store: the log may "
                "simply end here (rotated, host stopped, not pulled yet), which only a baseline could "
                "tell from an outage"
            )
        found.append(
            Finding(
                area,
                f"{area}.gap",
                severity,
                title,
                value=minutes,
                threshold=th.gap_minutes,
                evidence=evidence,
                checklist=LOGGING if area == "logs" else ("Error logging",),
                subject=str(host),
                **window_bounds(row["start"], row["end"], tz),
            )
        )
    return found


def volume_findings(
    volume: pd.DataFrame, th: LogThresholds, what: str = "requests", area: str = "logs"
) -> list[Finding]:
    """``logs.volume_drop``: a host's lines far below the baseline (``volume`` from compare_counts, key host)."""
    found = []
    for row in volume.to_dict("records"):
        base = row.get(f"{what}_base")
        if base is None or pd.isna(base) or base <= 0:
            continue
        ratio = row[what] / base
        if ratio <= th.volume_drop_critical_ratio or (
            ratio <= th.volume_drop_ratio and row["p_lower"] < th.significance
        ):
            severity = Severity.critical if ratio <= th.volume_drop_critical_ratio else Severity.warning
            found.append(
                Finding(
                    area,
                    f"{area}.volume_drop",
                    severity,
                    f"{row['host']} logged {int(row[what])} {what}, {pct(ratio)} of its baseline ({base:.0f}/day)",
                    value=num(ratio, 3),
                    threshold=th.volume_drop_critical_ratio if severity is Severity.critical else th.volume_drop_ratio,
                    evidence={
                        "host": row["host"],
                        "today": int(row[what]),
                        "baseline_per_day": num(base, 1),
                        "p_value": num(row["p_lower"], 8),
                    },
                    checklist=LOGGING if area == "logs" else ("Error logging",),
                    subject=str(row["host"]),
                )
            )
    return found


def unparsed_findings(log_files: pd.DataFrame, th: LogThresholds, kind: str = "access") -> list[Finding]:
    """``logs.unparsed`` / ``errors.unparsed``: files with many unparseable lines or a read error;
    lines over the length limit (``too_long``) are named in either, and make an info finding of
    their own when the file has nothing else to report (a single one is never silent)."""
    area = "logs" if kind == "access" else "errors"
    found = []
    for row in log_files[log_files["kind"] == kind].to_dict("records"):
        lines, unparsed = int(row["lines"] or 0), int(row["unparsed"] or 0)
        too_long = _count(row.get("too_long"))
        share = unparsed / lines if lines else 0.0
        error = row.get("error")
        name = str(row["path"]).rsplit("/", 1)[-1]
        evidence = {
            "file": str(row["path"]),
            "host": row["host"],
            "lines": lines,
            "unparsed": unparsed,
            "samples": [masked(str(s)) for s in as_list(row.get("samples"))[:5]],
        }
        checklist = LOGGING if area == "logs" else ("Error logging",)
        over = share >= th.unparsed_warning and unparsed > 0
        severity = Severity.critical if share >= th.unparsed_critical else Severity.warning
        too_long_note = ""
        if too_long:
            evidence |= {"too_long": too_long, "line_limit_bytes": MAX_LINE_BYTES}
            too_long_note = f"{too_long} of them over the {_limit()} line limit"
        if isinstance(error, str) and error:
            # one finding for the file: the damage, with the lines it cost as evidence
            title = f"{name} ({row['host']}): {error}"
            if over:
                title += f"; {pct(share)} of its lines could not be parsed"
            if too_long:
                title += f"; {_lines(too_long)} over the {_limit()} line limit not parsed"
            found.append(
                Finding(
                    area,
                    f"{area}.file_error",
                    severity if over else Severity.warning,
                    redact(title),
                    value=num(share, 4) if over else None,
                    evidence=evidence | {"error": redact(error)},
                    checklist=checklist,
                    subject=str(row["host"]),  # the file's name carries its date: the host is what stays
                )
            )
        elif over:
            if lines and not int(row.get("parsed") or 0) and isinstance(row.get("format"), str):
                title = f"None of the {lines} lines of {name} ({row['host']}) match the format {row['format']}"
            else:
                title = f"{pct(share)} of the lines of {name} ({row['host']}) could not be parsed"
            if too_long_note:
                title += f" ({too_long_note})"
            found.append(
                Finding(
                    area,
                    f"{area}.unparsed",
                    severity,
                    title,
                    value=num(share, 4),
                    threshold=th.unparsed_critical if severity is Severity.critical else th.unparsed_warning,
                    evidence=evidence,
                    checklist=checklist,
                    subject=str(row["host"]),  # the file's name carries its date: the host is what stays
                )
            )
        elif too_long:
            found.append(
                Finding(
                    area,
                    f"{area}.unparsed",
                    Severity.info,
                    f"{_lines(too_long)} of {name} ({row['host']}) over the {_limit()} line limit not parsed",
                    value=too_long,
                    evidence=evidence,
                    checklist=checklist,
                    subject=str(row["host"]),  # the file's name carries its date: the host is what stays
                )
            )
    return found


def _count(value: object) -> int:
    """A count from a `log_files` row (missing in stores written before the column existed)."""
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def _limit() -> str:
    return f"{MAX_LINE_BYTES >> 20} MiB"


def _lines(n: int) -> str:
    return f"{n} line" + ("" if n == 1 else "s")


def no_data_finding(area: str, what: str, hosts: Sequence[str]) -> Finding:
    """``<area>.no_data``: sources are configured but the store holds nothing for the day."""
    return Finding(
        area,
        f"{area}.no_data",
        Severity.warning,
        f"No {what} in the store for this day (configured: {', '.join(hosts)})",
        evidence={"hosts": list(hosts)},
        checklist=LOGGING if area == "logs" else ("Error logging",),
        subject=what,
    )
