"""Times written by loggers as numbers or text, read the same way by every parser.

A number is an epoch in seconds, milliseconds, microseconds or nanoseconds, told apart by its
magnitude (pino and winston write milliseconds, Python's logging seconds, Go's zap may write
nanoseconds). A time outside 2000-2200 is not a log line's time (a garbled digit, ``-5``,
``1e300``): it reads as no time, so the line is counted unparsed instead of failing the file.
"""

from __future__ import annotations

import datetime as dt
import math

__all__ = ["EARLIEST", "LATEST", "epoch_datetime", "epoch_sql", "iso_text_sql", "plausible", "plausible_sql"]

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
_MICROS = ((1e11, 1e6), (1e14, 1e3), (1e17, 1.0), (1e20, 1e-3))  # below this: seconds, ms, us, ns


def _micros(value: float) -> float | None:
    for below, scale in _MICROS:
        if abs(value) < below:
            return value * scale
    return None


def epoch_datetime(value: float) -> dt.datetime | None:
    """Python counterpart of :func:`epoch_sql`."""
    if not math.isfinite(value):
        return None
    micros = _micros(value)
    if micros is None:
        return None
    return plausible(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=round(micros)))


def plausible(stamp: dt.datetime) -> dt.datetime | None:
    """``stamp`` (aware), or None outside 2000-2200; Python counterpart of :func:`plausible_sql`."""
    return stamp if EARLIEST <= stamp < LATEST else None


def iso_text_sql(expr: str) -> str:
    """DuckDB: ISO text as DuckDB's casts take it - a space before the offset dropped
    (``… 14:00:00 +0100``, as Python's fromisoformat reads it)."""
    return f"regexp_replace({expr}, ' (Z|[+-][0-9])', '\\1')"


def plausible_sql(expr: str) -> str:
    """DuckDB: the TIMESTAMPTZ ``expr``, or NULL outside 2000-2200."""
    return (
        f"(CASE WHEN {expr} >= TIMESTAMPTZ '{EARLIEST.isoformat()}' "
        f"AND {expr} < TIMESTAMPTZ '{LATEST.isoformat()}' THEN {expr} END)"
    )


def epoch_sql(number: str) -> str:
    """DuckDB: the DOUBLE ``number`` as an epoch (unit told by magnitude) to TIMESTAMPTZ, or NULL
    (NaN and infinities compare above every number in DuckDB, so they fall through too)."""
    cases = " ".join(f"WHEN abs({number}) < {below:.0e} THEN {number} * {scale!r}" for below, scale in _MICROS)
    micros = f"(CASE {cases} END)"
    low, high = (int(t.timestamp() * 1_000_000) for t in (EARLIEST, LATEST))
    return f"(CASE WHEN {micros} >= {low} AND {micros} < {high} THEN make_timestamptz(round({micros})::BIGINT) END)"
