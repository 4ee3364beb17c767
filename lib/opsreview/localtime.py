"""Local time for people: the store keeps UTC; what a person reads is in the review's zone.

One place for how times are shown in evidence, tables and charts, for every area. Where a
table column spans a DST change its times carry their UTC offset (on a 25-hour day 02:10
happens twice).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import pandas as pd

Zone = str | tzinfo


def utc(ts: Any) -> pd.Timestamp:
    """A timestamp as UTC (naive ones are taken as UTC, as the store writes them)."""
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def local_iso(ts: Any, tz: Zone) -> str:
    """Local ISO time to the second, with its offset: ``2026-11-23T14:05:00+01:00``."""
    return utc(ts).tz_convert(tz).isoformat(timespec="seconds")


def hhmm(ts: Any, tz: Zone) -> str:
    """Local wall-clock time ``14:05``."""
    return utc(ts).tz_convert(tz).strftime("%H:%M")


def local_times(ts: pd.Series, tz: Zone) -> pd.Series:
    """UTC timestamps as naive local ones (what the reader's clock showed), for chart axes."""
    return pd.to_datetime(ts, utc=True).dt.tz_convert(tz).dt.tz_localize(None)


def local_columns(df: pd.DataFrame, tz: Zone, fmt: str = "%Y-%m-%d %H:%M:%S") -> pd.DataFrame:
    """A copy with every timestamp column as local text (for tables shown to people)."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            local = out[col].dt.tz_convert(tz)
            offsets = {t.utcoffset() for t in local.dropna()}
            out[col] = local.dt.strftime(fmt + (" %z" if len(offsets) > 1 else ""))
    return out
