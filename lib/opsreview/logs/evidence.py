"""Evidence of findings: time windows in local time, JSON-friendly numbers, masked sample lines,
and the production-checklist items the log findings bear on."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from opsreview.localtime import local_iso
from opsreview.masking import masked

ERROR_RATES = ("Monitor error rates",)
RESPONSE_TIMES = ("Monitor response times",)
LOGGING = ("Morgan HTTP logging", "Review logs daily")
ERROR_TRACKING = ("Error logging", "Error tracking (Sentry, etc.)")
RATE_LIMITING = ("Rate limiting implemented",)


def as_list(value: Any) -> list[Any]:
    """A list column's cell (list, numpy array or missing) as a list."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return list(value)


def fmt_window(start: Any, end: Any, tz: str) -> dict[str, str]:
    """A time window as evidence: local ISO start/end and the zone."""
    return {"start": local_iso(start, tz), "end": local_iso(end, tz), "timezone": tz}


def window_bounds(start: Any, end: Any, tz: str) -> dict[str, str]:
    """A finding's ``start``/``end`` keywords: the window as local ISO times with their offset."""
    return {"start": local_iso(start, tz), "end": local_iso(end, tz)}


def pct(value: float) -> str:
    return f"{100 * value:.2f}%" if value < 0.1 else f"{100 * value:.0f}%"


def num(value: Any, digits: int = 4) -> Any:
    """A JSON-friendly number (NaN/inf become None/strings)."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf"
    return round(value, digits)


def _sample_value(value: Any, tz: str | None) -> str:
    """One field of a sample line: a time in ``tz``, a missing value as ``-`` (as morgan writes
    it; a format without response times must not print ``nan``)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return local_iso(value, tz) if tz else value.isoformat(timespec="seconds")
    return str(value)


def sample_lines(frame: pd.DataFrame | None, n: int = 3, tz: str | None = None) -> list[str]:
    """Sample rows as short, masked lines; timestamps in ``tz`` (the review's zone) when given,
    so they read in the same clock as the finding's window; missing values as ``-``."""
    if frame is None or frame.empty:
        return []
    lines = []
    for row in frame.head(n).to_dict("records"):
        lines.append(masked(" ".join(_sample_value(v, tz) for v in row.values()))[:300])
    return lines
