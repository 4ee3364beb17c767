"""Findings of the application-error review: new, spiking and fatal error fingerprints.

Takes the fingerprints marked by :func:`opsreview.logs.app.analysis.mark_new_and_spiking` and
the :class:`~opsreview.logs.thresholds.LogThresholds`; check ids are ``errors.*``. Findings on
logging itself (gaps, unparseable lines, no data) are in :mod:`opsreview.logs.health`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from opsreview.findings import Finding, Severity, peak_window
from opsreview.localtime import hhmm
from opsreview.logs.evidence import ERROR_TRACKING, as_list, fmt_window, num, window_bounds
from opsreview.logs.thresholds import LogThresholds
from opsreview.masking import masked


def _text(value: Any) -> str | None:
    """A string cell, or None for missing ones (None, NaN, NA: DataFrames hold either)."""
    return value if isinstance(value, str) and value else None


def error_fingerprint_findings(fps: pd.DataFrame, th: LogThresholds, tz: str, has_history: bool) -> list[Finding]:
    """``errors.new_fingerprint``, ``errors.spike`` and ``errors.fatal`` from marked fingerprints
    (:func:`opsreview.logs.app.analysis.mark_new_and_spiking`)."""
    found = []
    for row in fps.to_dict("records"):
        level, count = str(row["level"]), int(row["count"])
        error_type, frame, stack_head = (_text(row.get(k)) for k in ("error_type", "frame", "stack_head"))
        label = f"{error_type}: {row['pattern']}" if error_type else str(row["pattern"])
        label = masked(label)[:160]
        window = fmt_window(row["first_seen"], row["last_seen"], tz)  # first and last seen
        start, end, is_peak = peak_window(row["first_seen"], row["last_seen"], row.get("peak"), count)
        bounds = window_bounds(start, end, tz)  # the finding's window: the peak hour of a burst
        evidence = {
            "fingerprint": row["fingerprint"],
            "error_type": error_type,
            "level": level,
            "count": count,
            "window": window,
            "hosts": as_list(row["hosts"]),
            "frame": masked(frame) if frame else None,
            "example": masked(str(row["example"])),
            "stack_head": masked(stack_head) if stack_head else None,
        }
        if is_peak:
            evidence["peak"] = {**bounds, "count": int(row["peak"]["n"])}
        span = f"{hhmm(row['first_seen'], tz)}-{hhmm(row['last_seen'], tz)}"
        if level == "fatal":
            found.append(
                Finding(
                    "errors",
                    "errors.fatal",
                    Severity.critical,
                    f"{count} fatal event(s): {label} ({span})",
                    value=count,
                    threshold=0,
                    evidence=evidence,
                    checklist=ERROR_TRACKING,
                    subject=str(row["fingerprint"]),
                    **bounds,
                )
            )
        elif row["new"] and has_history:
            if level == "error":
                severity = Severity.critical if count >= th.new_error_critical_count else Severity.warning
            else:
                severity = Severity.info
            found.append(
                Finding(
                    "errors",
                    "errors.new_fingerprint",
                    severity,
                    f"New error {label} - {count}x {span} on {', '.join(row['hosts'])}",
                    value=count,
                    threshold=th.new_error_critical_count,
                    evidence=evidence,
                    checklist=ERROR_TRACKING,
                    subject=str(row["fingerprint"]),
                    **bounds,
                )
            )
        elif (
            not row["new"]
            and count >= th.error_spike_min
            and row["ratio"] >= th.error_spike_ratio
            and row["p_value"] < th.significance
            and level == "error"
        ):
            evidence.update(
                baseline_per_day=num(row["baseline_per_day"], 1),
                ratio=num(row["ratio"], 2),
                p_value=num(row["p_value"], 8),
            )
            found.append(
                Finding(
                    "errors",
                    "errors.spike",
                    Severity.warning,
                    f"Error spike {label}: {count} today, {row['baseline_per_day']:.1f}/day before",
                    value=count,
                    threshold=f"{th.error_spike_ratio}x baseline",
                    evidence=evidence,
                    checklist=ERROR_TRACKING,
                    subject=str(row["fingerprint"]),
                    **bounds,
                )
            )
    return found
