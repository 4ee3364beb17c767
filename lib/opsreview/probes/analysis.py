"""Probe analysis: uptime, outages, latency percentiles, certificates, the security matrix.

Pure functions over ``probe_results`` frames (see :mod:`opsreview.probes.models`); times stay
UTC here, presentation converts them. Uptime and outages use the ``http`` rows; a probe
reported by several sources (own probes, Prometheus) is kept apart per source.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

UPTIME_WINDOWS = (("uptime_day", 1), ("uptime_7d", 7), ("uptime_30d", 30))
_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def http_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["check"] == "http"].sort_values(["probe", "source", "ts"], kind="stable").reset_index(drop=True)


def in_window(df: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    return df[(df["ts"] >= pd.Timestamp(start)) & (df["ts"] < pd.Timestamp(end))]


def uptime_table(history: pd.DataFrame, day_end: dt.datetime) -> pd.DataFrame:
    """Per probe and source: uptime % over the day and the last 7 and 30 days ending with it."""
    http = http_rows(history)
    columns = ["probe", "source", "checks", "failures", *(name for name, _ in UPTIME_WINDOWS)]
    if http.empty:
        return pd.DataFrame(columns=columns)
    end = pd.Timestamp(day_end)
    table = None
    for name, days in UPTIME_WINDOWS:
        window = http[(http["ts"] >= end - pd.Timedelta(days=days)) & (http["ts"] < end)]
        grouped = window.groupby(["probe", "source"], observed=True)["ok"]
        part = (grouped.mean() * 100).rename(name).to_frame()
        if days == 1:
            part["checks"] = grouped.size()
            part["failures"] = grouped.size() - grouped.sum()
        table = part if table is None else table.join(part, how="outer")
    assert table is not None
    table = table.reset_index()
    table[["checks", "failures"]] = table[["checks", "failures"]].fillna(0).astype("int64")
    return table[columns].sort_values(["uptime_day", "probe"], na_position="first").reset_index(drop=True)


def _runs(http: pd.DataFrame) -> pd.DataFrame:
    """Consecutive rows of the same state per probe and source, with where each run ends."""
    http = http.sort_values(["probe", "source", "ts"], kind="stable").reset_index(drop=True)
    series = http["probe"].astype(str) + "\0" + http["source"].astype(str)
    new_run = (http["ok"] != http["ok"].shift()) | (series != series.shift())
    http["run"] = new_run.cumsum()
    http["next_ts"] = http.groupby(series, sort=False)["ts"].shift(-1)
    interval = http.groupby(series, sort=False)["ts"].diff().groupby(series, sort=False).transform("median")
    http["interval"] = interval.fillna(pd.Timedelta(minutes=1))
    return http


def _run_ends(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: its last row's time and the time of the row after it (NaT at the end)."""
    ends = runs.groupby("run", sort=True).tail(1).set_index("run")
    return ends[["ts", "next_ts"]].rename(columns={"ts": "last"})


def find_outages(http: pd.DataFrame, min_failures: int) -> pd.DataFrame:
    """Runs of at least ``min_failures`` consecutive failed checks, as incidents.

    An incident starts at its first failure and ends at the first success after it; if the
    probe was still failing at its last result, the end is that result plus one interval and
    ``ongoing`` is true.
    """
    columns = ["probe", "source", "start", "end", "duration_min", "failures", "ongoing", "status_codes", "reason"]
    if http.empty or http["ok"].all():
        return pd.DataFrame(columns=columns)
    runs = _runs(http)
    failing = runs[~runs["ok"]]
    grouped = failing.groupby("run", sort=True)
    incidents = grouped.agg(
        probe=("probe", "first"),
        source=("source", "first"),
        start=("ts", "first"),
        interval=("interval", "first"),
        failures=("ok", "size"),
        reason=("detail", lambda d: d.value_counts().index[0]),
        status_codes=("status_code", lambda s: ", ".join(str(int(v)) for v in sorted(s.dropna().unique()))),
    )
    incidents = incidents.join(_run_ends(failing))
    incidents = incidents[incidents["failures"] >= min_failures]
    if incidents.empty:
        return pd.DataFrame(columns=columns)
    incidents["ongoing"] = incidents["next_ts"].isna()
    incidents["end"] = incidents["next_ts"].fillna(incidents["last"] + incidents["interval"])
    incidents["duration_min"] = (incidents["end"] - incidents["start"]).dt.total_seconds() / 60
    return incidents[columns].sort_values("start").reset_index(drop=True)


def state_segments(http: pd.DataFrame) -> pd.DataFrame:
    """Up/down segments per probe (for the timeline): probe, source, start, end, state, checks."""
    columns = ["probe", "source", "start", "end", "state", "checks", "detail"]
    if http.empty:
        return pd.DataFrame(columns=columns)
    runs = _runs(http)
    grouped = runs.groupby("run", sort=True)
    segments = grouped.agg(
        probe=("probe", "first"),
        source=("source", "first"),
        start=("ts", "first"),
        interval=("interval", "first"),
        ok=("ok", "first"),
        checks=("ok", "size"),
        detail=("detail", "last"),
    )
    segments = segments.join(_run_ends(runs))
    segments["end"] = segments["next_ts"].fillna(segments["last"] + segments["interval"])
    segments["state"] = np.where(segments["ok"], "up", "down")
    return segments[columns].reset_index(drop=True)


def _percentiles(grouped: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    table = pd.concat([grouped.quantile(q).rename(name) for name, q in _QUANTILES], axis=1)
    table["samples"] = grouped.size()
    return table


def answered(http: pd.DataFrame) -> pd.DataFrame:
    """Rows with a measured latency of an actual answer (timeouts would only measure the limit)."""
    return http[http["latency_ms"].notna() & http["status_code"].notna()]


def latency_over_time(http: pd.DataFrame, freq: str = "1h") -> pd.DataFrame:
    """p50/p95/p99 latency per probe per time bucket."""
    rows = answered(http)
    if rows.empty:
        return pd.DataFrame(columns=["probe", "bucket", "p50", "p95", "p99", "samples"])
    rows = rows.assign(bucket=rows["ts"].dt.floor(freq))
    return _percentiles(rows.groupby(["probe", "bucket"])["latency_ms"]).reset_index()


def latency_summary(http: pd.DataFrame) -> pd.DataFrame:
    """p50/p95/p99/max latency per probe over the rows given (usually one day)."""
    rows = answered(http)
    if rows.empty:
        return pd.DataFrame(columns=["probe", "p50", "p95", "p99", "max", "samples"])
    grouped = rows.groupby("probe")["latency_ms"]
    table = _percentiles(grouped)
    table["max"] = grouped.max()
    return table.reset_index()[["probe", "p50", "p95", "p99", "max", "samples"]]


def latency_by_day(history: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily p50/p95/p99 per probe over the history (local days)."""
    rows = answered(http_rows(history))
    if rows.empty:
        return pd.DataFrame(columns=["probe", "day", "p50", "p95", "p99", "samples"])
    rows = rows.assign(day=rows["ts"].dt.tz_convert(tz).dt.date)
    return _percentiles(rows.groupby(["probe", "day"])["latency_ms"]).reset_index()


def certificates(day: pd.DataFrame) -> pd.DataFrame:
    """The latest ``tls`` row per probe and source: days left, expiry date, verdict."""
    columns = ["probe", "source", "checked_at", "days_left", "expires_at", "ok", "detail"]
    tls = day[day["check"] == "tls"]
    if tls.empty:
        return pd.DataFrame(columns=columns)
    latest = tls.sort_values("ts").groupby(["probe", "source"], observed=True).tail(1).copy()
    latest["checked_at"] = latest["ts"]
    latest["days_left"] = latest["cert_days_left"]
    latest["expires_at"] = latest["ts"] + pd.to_timedelta(latest["cert_days_left"], unit="D")
    return latest[columns].sort_values("days_left", na_position="first").reset_index(drop=True)


def security_results(day: pd.DataFrame) -> pd.DataFrame:
    """The latest result of every non-``http`` check per probe, with the day's failure count."""
    columns = ["check", "probe", "ok", "detail", "checked_at", "failed_runs", "runs"]
    rows = day[day["check"] != "http"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = rows.groupby(["check", "probe"], observed=True)
    counts = grouped["ok"].agg(runs="size", passed="sum")
    latest = rows.sort_values("ts").groupby(["check", "probe"], observed=True).tail(1).set_index(["check", "probe"])
    table = latest[["ok", "detail", "ts"]].rename(columns={"ts": "checked_at"}).join(counts)
    table["failed_runs"] = table["runs"] - table["passed"]
    return table.reset_index()[columns].sort_values(["check", "probe"]).reset_index(drop=True)


def security_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Check x probe: ``pass`` or ``FAIL: reason`` (empty where a check does not apply)."""
    if results.empty:
        return pd.DataFrame(columns=["check"])
    cell = np.where(results["ok"], "pass", "FAIL: " + results["detail"].astype(str).str.slice(0, 140))
    matrix = results.assign(cell=cell).pivot(index="check", columns="probe", values="cell").fillna("")
    matrix.columns.name = None
    return matrix.reset_index()


def monitoring_gaps(http: pd.DataFrame, min_gap: pd.Timedelta) -> pd.DataFrame:
    """Stretches without results between two results of a probe, longer than ``min_gap`` and
    than three of the probe's usual intervals (a probe run every hour has no 30-minute gaps)."""
    columns = ["probe", "source", "gap_start", "gap_end", "gap_min"]
    if http.empty:
        return pd.DataFrame(columns=columns)
    rows = http.sort_values(["probe", "source", "ts"]).copy()
    rows["previous"] = rows.groupby(["probe", "source"], observed=True)["ts"].shift()
    rows["gap"] = rows["ts"] - rows["previous"]
    usual = rows.groupby(["probe", "source"], observed=True)["gap"].transform("median")
    gaps = rows[(rows["gap"] > min_gap) & (rows["gap"] > 3 * usual)]
    out = pd.DataFrame(
        {
            "probe": gaps["probe"],
            "source": gaps["source"],
            "gap_start": gaps["previous"],
            "gap_end": gaps["ts"],
            "gap_min": gaps["gap"].dt.total_seconds() / 60,
        }
    )
    return out.reset_index(drop=True)
