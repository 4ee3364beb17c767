"""Today against the trailing baseline days: ratios, significance tests and anomaly windows.

Pure functions over small aggregates (per-minute counts, latency profiles); the heavy passes
over the rows are done in SQL by :mod:`opsreview.logs.access.analysis` and :func:`latency_profile`.

Statistics (all vectorised with numpy/scipy):

- **Counts and rates** (requests, 5xx, 429, errors of a fingerprint): today's count ``x1``
  over exposure ``t1`` (days, or requests for a rate) against the baseline's ``x0`` over
  ``t0``. Under "same rate", ``x1`` given ``x1 + x0`` is binomial with ``p = t1 / (t1 + t0)``
  (the conditional Poisson test, exact for small counts): :func:`rate_test`.
- **Latency percentiles**: the exceedance (quantile) test. If today's response times come
  from the baseline distribution, each request exceeds the baseline p95 with probability 0.05,
  so the number above it is Binomial(n, 0.05). It needs only counts, never the samples, and
  asks exactly "did p95 move?" - a Mann-Whitney test would need every sample in memory.
- **Anomaly windows** (bursts): per minute, the observed count against a robust expectation
  (the median over baseline days of each day's smoothed count at the same local minute of
  day, floored so that a zero baseline does not flag every event). A minute is anomalous when
  its Poisson tail probability is below ``minute_p``; anomalous minutes closer than
  ``max_gap`` quiet minutes join into one window; a window is kept when it lasts at least
  ``min_minutes`` and its total is significant (Poisson, ``alpha``).
- **Share bursts** (5xx of a route's requests): :func:`rate_windows` judges the share over a
  sliding window against the baseline share (binomial), so a few failing requests on a quiet
  route stand out as clearly as many on a busy one.
- **Gaps**: runs of minutes without a single line, kept when the baseline expected lines there;
  a run that opens the window before a key's first line, or closes it after its last, is marked
  as such (``edge``): without a baseline it may be where the log begins or ends, not an outage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats  # type: ignore[import-untyped]

from opsreview.relations import quote, run_sql, sql_string

__all__ = [
    "rate_test",
    "compare_counts",
    "local_minute_of_day",
    "expected_per_minute",
    "anomaly_windows",
    "quiet_gaps",
    "rate_windows",
    "ALL_ROUTES",
    "latency_profile",
    "compare_latency",
    "hours_above",
    "same_hours_sql",
]

MINUTE = pd.Timedelta(minutes=1)
WINDOW_COLUMNS = ["start", "end", "minutes", "observed", "expected", "magnitude", "peak", "p_value"]


def rate_test(x1: ArrayLike, t1: ArrayLike, x0: ArrayLike, t0: ArrayLike) -> pd.DataFrame:
    """Conditional Poisson test of rate ``x1/t1`` against ``x0/t0`` (element-wise arrays).

    Returns ``ratio`` (inf when the baseline is zero), ``p_higher`` (today's rate is higher) and
    ``p_lower`` (today's rate is lower).
    """
    a1, e1, a0, e0 = (np.asarray(a, dtype=float) for a in (x1, t1, x0, t0))
    n = a1 + a0
    p = np.divide(e1, e1 + e0, out=np.full_like(e1, np.nan), where=(e1 + e0) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a1 / e1) / (a0 / e0)
    p_higher = np.where(a1 > 0, stats.binom.sf(a1 - 1, n, p), 1.0)
    p_lower = stats.binom.cdf(a1, n, p)
    return pd.DataFrame({"ratio": ratio, "p_higher": p_higher, "p_lower": p_lower})


def compare_counts(
    today: pd.DataFrame,
    baseline: pd.DataFrame,
    keys: Sequence[str],
    value: str,
    baseline_days: int,
    exposure: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Per key: today's ``value``, the baseline's mean per day, ratio and p-values (see :func:`rate_test`).

    ``exposure``: the hours today and the baseline days cover, when they differ from one day
    each (a 23- or 25-hour day at a DST change); by default every day counts the same."""
    group = list(keys) or ["_all"]
    t = today.assign(_all=0).groupby(group, as_index=False)[[value]].sum()
    b = baseline.assign(_all=0).groupby(group, as_index=False)[[value]].sum()
    merged = t.merge(b, on=group, how="outer", suffixes=("", "_base"))
    if not keys:
        merged = merged.drop(columns="_all")
    merged = merged.fillna({value: 0, f"{value}_base": 0})
    days = max(int(baseline_days), 0)
    t1, t0 = exposure if exposure is not None else (1.0, float(days))
    tested = rate_test(merged[value], np.full(len(merged), t1), merged[f"{value}_base"], np.full(len(merged), t0))
    merged[f"{value}_base"] = merged[f"{value}_base"] / days if days else np.nan
    return pd.concat([merged.reset_index(drop=True), tested], axis=1)


def local_minute_of_day(ts: pd.Series, tz: str) -> pd.Series:
    """Minute of the local day (0-1439) of UTC timestamps."""
    local = ts.dt.tz_convert(tz)
    return (local.dt.hour * 60 + local.dt.minute).astype("int64")


def expected_per_minute(
    baseline: pd.DataFrame,
    keys: Sequence[str],
    value: str,
    tz: str,
    days: Sequence[dt.date],
    smooth_minutes: int = 7,
) -> pd.DataFrame:
    """Robust expected count per (keys, local minute of day) from baseline per-minute counts.

    Each baseline day's series is smoothed with a centred ``2*smooth_minutes+1`` rolling mean;
    the expectation is the median over the ``days`` (days without a row count as zero).
    """
    columns = [*keys, "mod", "expected"]
    if baseline.empty or not days:
        return pd.DataFrame(columns=columns)
    group_keys = list(keys) or ["_all"]
    frame = baseline.assign(_all=0)[[*group_keys, "minute", value]]
    local = frame["minute"].dt.tz_convert(tz)
    frame = frame.assign(day=local.dt.date, mod=(local.dt.hour * 60 + local.dt.minute).astype("int64"))
    frame = frame[frame["day"].isin(set(days))]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    wide = frame.pivot_table(index=[*group_keys, "mod"], columns="day", values=value, aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=sorted(set(days)), fill_value=0)
    key_frame = frame[group_keys].drop_duplicates()
    full = pd.MultiIndex.from_frame(key_frame.merge(pd.DataFrame({"mod": np.arange(1440)}), how="cross"))
    wide = wide.reindex(full, fill_value=0).astype(float).sort_index()
    window = 2 * int(smooth_minutes) + 1
    smoothed = wide.groupby(level=group_keys, sort=False).transform(
        lambda s: s.rolling(window, center=True, min_periods=1).mean()
    )
    out = smoothed.median(axis=1).rename("expected").reset_index()
    return out[columns]


def _expected_from_today(observed: pd.DataFrame, keys: Sequence[str], value: str, minutes: int) -> pd.DataFrame:
    """Fallback without baseline: each key's median per-minute count over the day (zeros included)."""
    rows = []
    for key, group in observed.groupby(list(keys), sort=False) if keys else [((), observed)]:
        counts = np.zeros(max(minutes, len(group)))
        counts[: len(group)] = group[value].to_numpy()
        key = key if isinstance(key, tuple) else (key,)
        rows.append((*key, float(np.median(counts))))
    flat = pd.DataFrame(rows, columns=[*keys, "expected"])
    grid = pd.DataFrame({"mod": np.arange(1440)})
    return flat.merge(grid, how="cross")[[*keys, "mod", "expected"]]


def anomaly_windows(
    observed: pd.DataFrame,
    expected: pd.DataFrame | None,
    keys: Sequence[str],
    value: str,
    tz: str,
    *,
    minute_p: float = 0.001,
    floor: float = 0.05,
    min_minutes: int = 3,
    max_gap: int = 2,
    alpha: float = 0.01,
    day_minutes: int = 1440,
) -> pd.DataFrame:
    """Bursts: windows where ``value`` per minute is significantly above its expectation.

    ``observed`` has ``minute`` (UTC) + ``keys`` + ``value`` (minutes without events may be
    absent); ``expected`` comes from :func:`expected_per_minute` (``None``: no baseline, each
    key's own median minute is the expectation). A minute is anomalous when it is above its
    expectation and the centred three-minute sum around it has a Poisson tail probability below
    ``minute_p`` (one noisy minute inside a burst does not split it; a lone event does not make
    one). Returns keys + start, end (exclusive), minutes, observed, expected, magnitude
    (observed / expected), peak, p_value.
    """
    keys = list(keys)
    columns = [*keys, *WINDOW_COLUMNS]
    obs = observed[observed[value] > 0][[*keys, "minute", value]]
    if obs.empty:
        return pd.DataFrame(columns=columns)
    if expected is None or expected.empty:
        expected = _expected_from_today(obs, keys, value, day_minutes)
    group_keys = keys or ["_all"]
    obs = obs.assign(_all=0)
    minutes = pd.date_range(obs["minute"].min() - MINUTE, obs["minute"].max() + MINUTE, freq="1min")
    grid = obs[group_keys].drop_duplicates().merge(pd.DataFrame({"minute": minutes}), how="cross")
    grid = grid.merge(obs[[*group_keys, "minute", value]], on=[*group_keys, "minute"], how="left")
    grid["mod"] = local_minute_of_day(grid["minute"], tz)
    grid = grid.merge(expected.assign(_all=0), on=[*group_keys, "mod"], how="left")
    grid = grid.sort_values([*group_keys, "minute"], kind="stable").reset_index(drop=True)
    grid["x"] = grid[value].fillna(0).astype(float)
    grid["e"] = grid["expected"].fillna(0).clip(lower=floor)
    rolled = grid.groupby(group_keys, sort=False)[["x", "e"]].rolling(3, center=True, min_periods=1).sum()
    roll = rolled.reset_index(level=list(range(len(group_keys))), drop=True).sort_index()
    flagged_mask = (grid["x"] > grid["e"]) & (stats.poisson.sf(roll["x"] - 1, roll["e"]) < minute_p)
    flagged = grid[flagged_mask]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    # Islands: a new window starts where the previous anomalous minute is too far back.
    step = flagged["minute"].diff()
    new_key = flagged[group_keys].ne(flagged[group_keys].shift()).any(axis=1)
    window_id = (new_key | step.isna() | (step > MINUTE * (max_gap + 1))).cumsum()
    spans = (
        flagged.assign(window=window_id)
        .groupby("window")
        .agg(**{k: (k, "first") for k in group_keys}, start=("minute", "min"), last=("minute", "max"))
    )
    spans["end"] = spans["last"] + MINUTE
    spans["minutes"] = ((spans["end"] - spans["start"]) / MINUTE).astype(int)
    # Sums over every minute of each window (quiet minutes inside included).
    joined = grid.merge(spans.reset_index()[["window", *group_keys, "start", "end"]], on=group_keys)
    inside = joined[(joined["minute"] >= joined["start"]) & (joined["minute"] < joined["end"])]
    sums = inside.groupby("window").agg(observed=("x", "sum"), expected=("e", "sum"), peak=("x", "max"))
    windows = spans.join(sums)
    windows["magnitude"] = windows["observed"] / windows["expected"]
    windows["p_value"] = stats.poisson.sf(windows["observed"] - 1, windows["expected"])
    kept = windows[(windows["minutes"] >= min_minutes) & (windows["p_value"] < alpha)]
    kept = kept.astype({"observed": "int64", "peak": "int64"})
    return kept[columns].sort_values([*keys, "start"] if keys else ["start"]).reset_index(drop=True)


RATE_WINDOW_COLUMNS = ["start", "end", "minutes", "observed", "requests", "share", "base_rate", "p_value"]


def rate_windows(
    per_minute: pd.DataFrame,
    base_rate: pd.DataFrame | None,
    keys: Sequence[str],
    events: str,
    total: str,
    *,
    width: int = 10,
    min_share: float = 0.1,
    minute_p: float = 0.001,
    floor_rate: float = 0.001,
    max_gap: int = 2,
    alpha: float = 0.01,
    min_events: int = 1,
) -> pd.DataFrame:
    """Bursts of a *share* (5xx of requests) per key: windows where the share is high and unlikely.

    ``per_minute`` has keys + ``minute`` + ``events`` + ``total`` per minute; ``base_rate`` has
    keys + ``rate`` (the baseline's share, floored at ``floor_rate``; ``None``: the floor). A
    minute with events is anomalous when, over the ``width``-minute window ending or starting at it,
    the share reaches ``min_share`` and its binomial tail probability under the baseline share
    is below ``minute_p``. Judging the share rather than the count keeps a burst on a quiet route
    (a few failing requests a minute) as visible as one on a busy route. Anomalous minutes closer
    than ``max_gap`` join; a window runs from its first to its last anomalous minute and is kept
    when its own binomial test is below ``alpha`` and it holds ``min_events``. Returns keys + start, end (exclusive),
    minutes, observed, requests, share, base_rate, p_value.
    """
    keys = list(keys)
    columns = [*keys, *RATE_WINDOW_COLUMNS]
    group_keys = keys or ["_all"]
    frame = per_minute.assign(_all=0)
    active = frame[frame.groupby(group_keys)[events].transform("sum") > 0]
    if active.empty:
        return pd.DataFrame(columns=columns)
    minutes = pd.date_range(
        active["minute"].min() - width * MINUTE, active["minute"].max() + width * MINUTE, freq="1min"
    )
    grid = active[group_keys].drop_duplicates().merge(pd.DataFrame({"minute": minutes}), how="cross")
    grid = grid.merge(active[[*group_keys, "minute", events, total]], on=[*group_keys, "minute"], how="left")
    grid = grid.fillna({events: 0, total: 0}).sort_values([*group_keys, "minute"], kind="stable").reset_index(drop=True)
    rates = base_rate.assign(_all=0)[[*group_keys, "rate"]] if base_rate is not None and not base_rate.empty else None
    grid = grid.merge(rates, on=group_keys, how="left") if rates is not None else grid.assign(rate=np.nan)
    grid["p0"] = grid["rate"].fillna(0).clip(lower=floor_rate)
    # The window ending at each minute, and the one starting there (the trailing window shifted
    # back): a burst's first minute is judged with what follows it, its last with what precedes.
    grouped = grid.groupby(group_keys, sort=False)
    trailing = grouped[[events, total]].rolling(width, min_periods=1).sum()
    trailing = trailing.reset_index(level=list(range(len(group_keys))), drop=True).sort_index()
    leading = trailing.groupby([grid[k] for k in group_keys], sort=False).shift(-(width - 1))
    leading = leading.fillna(trailing)
    anomalous = np.zeros(len(grid), dtype=bool)
    for roll in (trailing, leading):
        x, n = roll[events].to_numpy(), roll[total].to_numpy()
        share = np.divide(x, n, out=np.zeros_like(x, dtype=float), where=n > 0)
        anomalous |= (share >= min_share) & (stats.binom.sf(x - 1, n, grid["p0"].to_numpy()) < minute_p)
    flagged = grid[(grid[events] > 0).to_numpy() & anomalous]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    step = flagged["minute"].diff()
    new_key = flagged[group_keys].ne(flagged[group_keys].shift()).any(axis=1)
    window_id = (new_key | step.isna() | (step > MINUTE * (max_gap + 1))).cumsum()
    spans = (
        flagged.assign(window=window_id)
        .groupby("window")
        .agg(
            **{k: (k, "first") for k in group_keys},
            start=("minute", "min"),
            last=("minute", "max"),
            base_rate=("p0", "first"),
        )
    )
    spans["end"] = spans["last"] + MINUTE
    spans["minutes"] = ((spans["end"] - spans["start"]) / MINUTE).astype(int)
    joined = grid.merge(spans.reset_index()[["window", *group_keys, "start", "end"]], on=group_keys)
    inside = joined[(joined["minute"] >= joined["start"]) & (joined["minute"] < joined["end"])]
    sums = inside.groupby("window").agg(observed=(events, "sum"), requests=(total, "sum"))
    windows = spans.join(sums)
    windows["share"] = windows["observed"] / windows["requests"].where(windows["requests"] > 0)
    windows["p_value"] = stats.binom.sf(windows["observed"] - 1, windows["requests"], windows["base_rate"])
    kept = windows[(windows["p_value"] < alpha) & (windows["observed"] >= min_events)]
    kept = kept.astype({"observed": "int64", "requests": "int64"})
    return kept[columns].sort_values([*keys, "start"] if keys else ["start"]).reset_index(drop=True)


def quiet_gaps(
    observed: pd.DataFrame,
    keys: Sequence[str],
    value: str,
    window: tuple[dt.datetime, dt.datetime],
    expected: pd.DataFrame | None,
    tz: str,
    *,
    min_minutes: int = 10,
    min_expected: float = 30.0,
    all_keys: Sequence[tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Runs of at least ``min_minutes`` minutes without a single line, per key.

    Kept when the expected lines in the run (baseline, else the key's own mean rate) reach
    ``min_expected``. ``all_keys`` adds keys that logged nothing at all today. Returns keys +
    start, end, minutes, expected, edge: ``"before_first"`` for a run from the window's start
    to the key's first line, ``"after_last"`` for one from its last line to the window's end,
    else None (inside the day, or a key silent all day).
    """
    keys = list(keys)
    start, end = (pd.Timestamp(w).tz_convert("UTC") for w in window)
    grid_minutes = pd.date_range(start, end, freq="1min", inclusive="left")
    present = observed[observed[value] > 0]
    key_list = set(map(tuple, present[keys].drop_duplicates().to_numpy())) if keys else {()}
    key_list |= set(all_keys or ())
    if not key_list:
        return pd.DataFrame(columns=[*keys, "start", "end", "minutes", "expected", "edge"])
    grid = pd.DataFrame(sorted(key_list), columns=keys).merge(pd.DataFrame({"minute": grid_minutes}), how="cross")
    grid = grid.merge(present[[*keys, "minute", value]], on=[*keys, "minute"], how="left")
    grid["quiet"] = grid[value].isna()
    grid["mod"] = local_minute_of_day(grid["minute"], tz)
    if expected is not None and not expected.empty:
        grid = grid.merge(expected, on=[*keys, "mod"], how="left")
        grid["expected"] = grid["expected"].fillna(0.0)
    else:
        per_key = present.groupby(keys)[value].sum() if keys else pd.Series([present[value].sum()])
        rate = (per_key / len(grid_minutes)).rename("expected")
        grid = grid.merge(rate, left_on=keys, right_index=True, how="left") if keys else grid.assign(expected=rate[0])
        grid["expected"] = grid["expected"].fillna(0.0)
    new_run = grid["quiet"].ne(grid["quiet"].shift())
    if keys:
        new_run |= grid[keys].ne(grid[keys].shift()).any(axis=1)
    grid["run"] = new_run.cumsum()
    quiet = grid[grid["quiet"]]
    runs = quiet.groupby("run").agg(
        **{k: (k, "first") for k in keys},
        start=("minute", "min"),
        last=("minute", "max"),
        expected=("expected", "sum"),
    )
    runs["end"] = runs["last"] + MINUTE
    runs["minutes"] = ((runs["end"] - runs["start"]) / MINUTE).astype(int)
    runs["edge"] = None
    if not runs.empty:
        whole = runs["minutes"] >= len(grid_minutes)  # a key silent all day has no first line
        runs.loc[(runs["start"] == grid_minutes[0]) & ~whole, "edge"] = "before_first"
        runs.loc[(runs["last"] == grid_minutes[-1]) & ~whole, "edge"] = "after_last"
    kept = runs[(runs["minutes"] >= min_minutes) & (runs["expected"] >= min_expected)]
    return kept[[*keys, "start", "end", "minutes", "expected", "edge"]].reset_index(drop=True)


def same_hours_sql(tz: str, first: dt.time, last: dt.time) -> str:
    """SQL predicate: the row's local time of day lies in [first, last] (the hours today covers)."""
    local = f"CAST(timezone('{tz}', ts) AS TIME)"
    return f"{local} BETWEEN TIME '{first.isoformat()}' AND TIME '{last.isoformat()}'"


ALL_ROUTES = "(all routes)"


def latency_profile(rel: duckdb.DuckDBPyRelation, tz: str, by: str = "route") -> pd.DataFrame:
    """Timed requests and p50/p95/p99 per ``by`` for the whole period (``hour`` = -1) and per local
    hour, plus the same over everything (``by`` = ``"(all routes)"``)."""
    hour = f"hour(timezone({sql_string(tz)}, ts))"
    # Exact quantiles keep every value of a group and cannot spill: one list-valued quantile
    # (one state for the three) and one grouping at a time keep a 10M-request day within the
    # engine's memory bound (GROUPING SETS with three quantiles ran out of it).
    # -1: the whole period; rows without a time (formats without a date) have no hour: -2,
    # which no caller reads, so they count in the whole-period row only.
    groupings = (
        (f"{sql_string(ALL_ROUTES)}", "-1", ""),
        (quote(by), "-1", f"GROUP BY {quote(by)}"),
        (quote(by), f"coalesce({hour}, -2)", f"GROUP BY {quote(by)}, {hour}"),
    )
    parts = []
    for key, hour_sql, group in groupings:
        sql = f"""
            SELECT key, hour, requests, timed, q[1] AS p50, q[2] AS p95, q[3] AS p99 FROM (
                SELECT {key} AS key, {hour_sql} AS hour, count(*) AS requests,
                       count(response_time_ms) AS timed,
                       quantile_cont(response_time_ms, [0.5, 0.95, 0.99]) AS q
                FROM t {group})
        """
        parts.append(run_sql(rel, sql))
    profile = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True).rename(columns={"key": by})
    profile["hour"] = profile["hour"].astype("int64")
    return profile.sort_values([by, "hour"]).reset_index(drop=True)


def _values_sql(df: pd.DataFrame, key: str, value: str) -> str:
    def lit(v: object) -> str:
        return "'" + str(v).replace("'", "''") + "'"

    rows = ", ".join(f"({lit(k)}, {float(v)!r})" for k, v in zip(df[key], df[value], strict=True))
    return f"(VALUES {rows}) AS b(key, threshold)"


def compare_latency(
    today_rel: duckdb.DuckDBPyRelation,
    today: pd.DataFrame,
    base: pd.DataFrame,
    by: str = "route",
    quantile: float = 0.95,
    above: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Today's latency per ``by`` against the baseline's, with the exceedance test.

    ``today``/``base`` are :func:`latency_profile` results; ``today_rel`` is scanned once to count
    today's requests above each baseline p95, unless ``above`` (``by``, ``above``) has those
    counts already (the daily aggregates). Columns: requests, timed, p50, p95, p99,
    base_timed, base_p95, ratio, above (count over base p95), share_above, p_value.
    """
    day = today[(today["hour"] == -1) & (today[by] != ALL_ROUTES)].drop(columns="hour")
    ref = base[base["hour"] == -1][[by, "timed", "p95"]].rename(columns={"timed": "base_timed", "p95": "base_p95"})
    merged = day.merge(ref, on=by, how="left")
    known = merged.dropna(subset=["base_p95"])
    if known.empty:
        merged["above"] = np.nan
    elif above is not None:
        merged = merged.merge(above[[by, "above"]], on=by, how="left")
    else:
        sql = f"""
            SELECT b.key AS {quote(by)}, count(t.response_time_ms) FILTER (WHERE t.response_time_ms > b.threshold) AS above
            FROM t JOIN {_values_sql(known, by, "base_p95")} ON t.{quote(by)} = b.key GROUP BY b.key
        """
        above = run_sql(today_rel, sql)
        merged = merged.merge(above, on=by, how="left")
    merged["ratio"] = merged["p95"] / merged["base_p95"]
    merged["share_above"] = merged["above"] / merged["timed"].where(merged["timed"] > 0)
    n = merged["timed"].fillna(0).to_numpy()
    k = merged["above"].fillna(0).to_numpy()
    # Two samples, not a known p95: today's requests above the baseline's p95 against the
    # baseline's own (1 - quantile of them, by definition), so that a p95 estimated from a
    # handful of baseline requests does not make ordinary noise significant.
    n0 = merged["base_timed"].fillna(0).to_numpy()
    tested = rate_test(k, n, np.round((1 - quantile) * n0), n0)["p_higher"].to_numpy()
    merged["p_value"] = np.where(merged["above"].notna() & (n > 0) & (n0 > 0), tested, np.nan)
    return merged.sort_values("requests", ascending=False, kind="stable").reset_index(drop=True)


def overall_latency(today: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """The day's p50/p95/p99 over all routes against the baseline's (same hours), from two
    :func:`latency_profile` results: one row per percentile with today, baseline and ratio."""

    def pick(profile: pd.DataFrame) -> pd.Series | None:
        row = profile[(profile["hour"] == -1) & (profile["route"] == ALL_ROUTES)]
        return row.iloc[0] if len(row) else None

    t, b = pick(today), pick(base)
    rows = []
    for q in ("p50", "p95", "p99"):
        now = float(t[q]) if t is not None and pd.notna(t[q]) else np.nan
        then = float(b[q]) if b is not None and pd.notna(b[q]) else np.nan
        rows.append({"percentile": q, "today_ms": now, "baseline_ms": then, "ratio": now / then if then else np.nan})
    return pd.DataFrame(rows)


def hours_above(today: pd.DataFrame, base: pd.DataFrame, by: str, ratio: float, min_requests: int) -> pd.DataFrame:
    """Per ``by`` and local hour: today's p95 against the baseline's p95 of the same hour, flagged rows only."""
    t = today[(today["hour"] >= 0) & (today[by] != ALL_ROUTES)]
    b = base[base["hour"] >= 0][[by, "hour", "p95", "timed"]].rename(columns={"p95": "base_p95", "timed": "base_timed"})
    merged = t.merge(b, on=[by, "hour"], how="inner")
    merged["ratio"] = merged["p95"] / merged["base_p95"]
    flagged = merged[(merged["ratio"] >= ratio) & (merged["timed"] >= min_requests)]
    return flagged.sort_values([by, "hour"]).reset_index(drop=True)
