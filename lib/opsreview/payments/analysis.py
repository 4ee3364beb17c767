"""Pure functions of the payments review over the tables of :mod:`opsreview.payments.models`:
events in a window, one row per event id, the baseline authorization rate, decline spikes
within an hour. (The KPIs are :mod:`.kpis`, webhook health :mod:`.webhooks`, reconciliation
:mod:`.reconcile`.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.payments import kpis
from opsreview.payments.params import PaymentThresholds


def in_window(df: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The rows with ``ts`` in [start, end)."""
    if df.empty:
        return df
    return df[(df["ts"] >= start) & (df["ts"] < end)].reset_index(drop=True)


def dedupe_events(events: pd.DataFrame) -> pd.DataFrame:
    """One row per event id (the same event comes from several sources and deliveries): the
    copy seen with the most deliveries pending, else the latest."""
    if events.empty:
        return events
    return (
        events.sort_values(["ts", "pending_webhooks"], na_position="first")
        .drop_duplicates("event_id", keep="last")
        .reset_index(drop=True)
    )


def overall_auth_rate(daily: pd.DataFrame) -> float | None:
    """Authorized ÷ (authorized + issuer-declined) over all the days of a KPI frame."""
    if daily.empty:
        return None
    authorized = float(daily["authorized"].sum())
    declined = float(daily["issuer_declined"].sum())
    return authorized / (authorized + declined) if authorized + declined else None


def hourly_spikes(
    today: pd.DataFrame, baseline: pd.DataFrame, tz: ZoneInfo, thresholds: PaymentThresholds
) -> pd.DataFrame:
    """Decline codes and BIN ranges that spiked within one local hour, against the same hour of
    the baseline days (a one-hour burst from one issuer is lost in the day's totals)."""
    if today.empty:
        return pd.DataFrame()
    hourly = thresholds.model_copy(update={"decline_spike_min": thresholds.decline_spike_min_hour})
    hour_today = today["ts"].dt.tz_convert(tz).dt.hour
    hour_base = baseline["ts"].dt.tz_convert(tz).dt.hour if len(baseline) else pd.Series(dtype="int64")
    parts = []
    for hour in sorted(set(hour_today)):
        spikes = kpis.decline_spikes(
            today[hour_today == hour], baseline[hour_base == hour] if len(baseline) else baseline, hourly
        )
        spikes = spikes[spikes["spike"].astype(bool)]
        if len(spikes):
            parts.append(spikes.assign(hour=f"{hour:02d}:00"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def volume_drops(
    today_hourly: pd.DataFrame, baseline_hourly: pd.DataFrame, tz: ZoneInfo, drop: float, min_median: int
) -> pd.DataFrame:
    """Hours whose payments (attempts) fell below ``(1 - drop)`` × the median of the same local
    hour on the baseline days, where that median is at least ``min_median`` (a checkout that
    stopped taking payments). Both frames are ``kpis(..., "h")`` output. Columns: ``period``,
    ``hour``, ``attempts``, ``baseline_median``, ``baseline_days``, ``share``."""
    columns = ["period", "hour", "attempts", "baseline_median", "baseline_days", "share"]
    if baseline_hourly.empty:
        return pd.DataFrame(columns=columns)
    base = baseline_hourly.assign(hour=pd.to_datetime(baseline_hourly["period"]).dt.tz_convert(tz).dt.hour)
    stats = (
        base.groupby("hour")["attempts"]
        .agg(["median", "count"])
        .rename(columns={"median": "baseline_median", "count": "baseline_days"})
    )
    hours = pd.DataFrame({"hour": range(24)}).merge(stats, left_on="hour", right_index=True, how="inner")
    today = (
        today_hourly.assign(hour=pd.to_datetime(today_hourly["period"]).dt.tz_convert(tz).dt.hour)[
            ["hour", "period", "attempts"]
        ]
        if len(today_hourly)
        else pd.DataFrame(columns=["hour", "period", "attempts"])
    )
    merged = hours.merge(today, on="hour", how="left")
    merged["attempts"] = merged["attempts"].fillna(0).astype("int64")  # an hour without a payment is 0, not missing
    merged["share"] = merged["attempts"] / merged["baseline_median"]
    low = merged[
        (merged["baseline_median"] >= min_median) & (merged["baseline_days"] >= 3) & (merged["share"] < 1 - drop)
    ]
    return low[columns].reset_index(drop=True)
