"""Baseline comparison: significance tests, robust expectations, anomaly windows, gaps, latency."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from opsreview.logs import baseline
from opsreview.logs.access import analysis as traffic
from tests.synthetic_logs import TZ, day_start, local, requests_day

DAY = dt.date(2026, 11, 23)
BASE_DAYS = [DAY - dt.timedelta(days=i) for i in range(7, 0, -1)]
MINUTE = pd.Timedelta(minutes=1)


def per_minute(day: dt.date, rate: float, seed: int, key: str = "r") -> pd.DataFrame:
    """Poisson counts for every minute of a local day."""
    rng = np.random.default_rng(seed)
    minutes = pd.date_range(day_start(day), day_start(day + dt.timedelta(days=1)), freq="1min", inclusive="left")
    return pd.DataFrame({"minute": minutes, "key": key, "count": rng.poisson(rate, len(minutes))})


def test_rate_test_is_the_conditional_binomial_test() -> None:
    tested = baseline.rate_test([30, 5], [1, 1], [70, 35], [7, 7])
    for i, (x1, x0) in enumerate(((30, 70), (5, 35))):
        expected = stats.binomtest(x1, x1 + x0, 1 / 8, alternative="greater").pvalue
        assert tested["p_higher"][i] == pytest.approx(expected)
        assert tested["p_lower"][i] == pytest.approx(stats.binomtest(x1, x1 + x0, 1 / 8, alternative="less").pvalue)
    assert tested["ratio"][0] == pytest.approx(30 / 10)


def test_rate_test_with_a_zero_baseline() -> None:
    tested = baseline.rate_test([4], [1], [0], [7])
    assert np.isinf(tested["ratio"][0])
    assert tested["p_higher"][0] == pytest.approx((1 / 8) ** 4)


def test_compare_counts_per_key() -> None:
    today = pd.DataFrame({"host": ["a", "b"], "n": [100, 10]})
    base = pd.DataFrame({"host": ["a"] * 7 + ["b"] * 7, "n": [100] * 7 + [100] * 7})
    out = baseline.compare_counts(today, base, ["host"], "n", 7).set_index("host")
    assert out.loc["a", "n_base"] == 100 and out.loc["a", "ratio"] == pytest.approx(1.0)
    assert out.loc["b", "ratio"] == pytest.approx(0.1)
    assert out.loc["b", "p_lower"] == pytest.approx(stats.binomtest(10, 710, 1 / 8, alternative="less").pvalue)


def test_expected_per_minute_is_robust_to_one_bad_day() -> None:
    days = [per_minute(d, 5.0, seed=i) for i, d in enumerate(BASE_DAYS)]
    incident = days[3].copy()
    incident.loc[600:660, "count"] += 500  # a past incident must not raise the expectation
    days[3] = incident
    expected = baseline.expected_per_minute(pd.concat(days), ["key"], "count", TZ, BASE_DAYS, smooth_minutes=7)
    assert len(expected) == 1440
    assert expected["expected"].between(3.5, 6.5).all()


def test_expected_per_minute_counts_missing_rows_as_zero() -> None:
    only_one_day = per_minute(BASE_DAYS[0], 7.0, seed=1)
    expected = baseline.expected_per_minute(only_one_day, ["key"], "count", TZ, BASE_DAYS)
    assert (expected["expected"] == 0).all()  # median over 7 days, six of them silent


def plant_burst(counts: pd.DataFrame, start: pd.Timestamp, minutes: int, extra: int) -> pd.DataFrame:
    counts = counts.copy()
    inside = (counts["minute"] >= start) & (counts["minute"] < start + minutes * MINUTE)
    counts.loc[inside, "count"] += extra
    return counts


def test_planted_burst_is_one_window_with_exact_bounds() -> None:
    base = pd.concat([per_minute(d, 0.02, seed=i) for i, d in enumerate(BASE_DAYS)])
    expected = baseline.expected_per_minute(base, ["key"], "count", TZ, BASE_DAYS)
    today = plant_burst(per_minute(DAY, 0.02, seed=99), local(DAY, "14:10"), 20, 5)
    windows = baseline.anomaly_windows(today, expected, ["key"], "count", TZ)
    assert len(windows) == 1
    row = windows.iloc[0]
    assert row["start"] == local(DAY, "14:10")
    assert row["end"] == local(DAY, "14:30")
    assert row["minutes"] == 20
    inside = today[(today["minute"] >= row["start"]) & (today["minute"] < row["end"])]["count"].sum()
    assert row["observed"] == inside
    assert row["magnitude"] > 20 and row["p_value"] < 1e-20


def test_noisy_burst_with_quiet_minutes_stays_one_window() -> None:
    today = per_minute(DAY, 0.0, seed=1)
    start = local(DAY, "09:00")
    pattern = [2, 3, 0, 2, 4, 1, 0, 3, 2, 2]  # quiet minutes inside, as a real burst has
    for i, n in enumerate(pattern):
        today.loc[today["minute"] == start + i * MINUTE, "count"] = n
    windows = baseline.anomaly_windows(today, None, ["key"], "count", TZ, floor=0.05)
    assert len(windows) == 1
    assert windows.iloc[0]["start"] == start
    assert windows.iloc[0]["end"] == start + 10 * MINUTE
    assert windows.iloc[0]["observed"] == sum(pattern)


def test_steady_traffic_has_no_anomaly_windows() -> None:
    base = pd.concat([per_minute(d, 20.0, seed=i) for i, d in enumerate(BASE_DAYS)])
    expected = baseline.expected_per_minute(base, ["key"], "count", TZ, BASE_DAYS)
    today = per_minute(DAY, 20.0, seed=42)
    assert baseline.anomaly_windows(today, expected, ["key"], "count", TZ).empty


def test_short_spike_is_not_a_window_and_min_minutes_is_honoured() -> None:
    today = plant_burst(per_minute(DAY, 0.0, seed=1), local(DAY, "10:00"), 2, 50)
    assert baseline.anomaly_windows(today, None, ["key"], "count", TZ, min_minutes=3).empty
    assert len(baseline.anomaly_windows(today, None, ["key"], "count", TZ, min_minutes=2)) == 1


def test_windows_are_per_key() -> None:
    a = plant_burst(per_minute(DAY, 0.0, seed=1, key="a"), local(DAY, "08:00"), 5, 10)
    b = plant_burst(per_minute(DAY, 0.0, seed=2, key="b"), local(DAY, "20:00"), 6, 10)
    windows = baseline.anomaly_windows(pd.concat([a, b]), None, ["key"], "count", TZ)
    assert windows[["key", "minutes"]].values.tolist() == [["a", 5], ["b", 6]]


def test_quiet_gap_found_where_traffic_was_expected() -> None:
    base = pd.concat([per_minute(d, 10.0, seed=i, key="api-1") for i, d in enumerate(BASE_DAYS)])
    expected = baseline.expected_per_minute(base, ["key"], "count", TZ, BASE_DAYS)
    today = per_minute(DAY, 10.0, seed=5, key="api-1")
    gap = (today["minute"] >= local(DAY, "12:00")) & (today["minute"] < local(DAY, "12:25"))
    today.loc[gap, "count"] = 0
    window = (day_start(DAY), day_start(DAY + dt.timedelta(days=1)))
    gaps = baseline.quiet_gaps(today, ["key"], "count", window, expected, TZ, min_minutes=10, min_expected=30)
    assert gaps[["start", "end", "minutes"]].values.tolist() == [[local(DAY, "12:00"), local(DAY, "12:25"), 25]]
    assert gaps["expected"].iloc[0] == pytest.approx(250, rel=0.15)
    # a host silent all day is one gap of the whole day
    silent = baseline.quiet_gaps(today.iloc[0:0], ["key"], "count", window, expected, TZ, all_keys=[("api-1",)])
    assert silent["minutes"].tolist() == [1440]


def test_quiet_night_is_not_a_gap_when_the_baseline_is_quiet_too() -> None:
    base = pd.concat([per_minute(d, 0.05, seed=i, key="api-1") for i, d in enumerate(BASE_DAYS)])
    expected = baseline.expected_per_minute(base, ["key"], "count", TZ, BASE_DAYS)
    today = per_minute(DAY, 0.05, seed=7, key="api-1")
    window = (day_start(DAY), day_start(DAY + dt.timedelta(days=1)))
    assert baseline.quiet_gaps(today, ["key"], "count", window, expected, TZ, min_minutes=10, min_expected=30).empty


def latency_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    base = pd.concat([requests_day(d, seed=i) for i, d in enumerate(BASE_DAYS)], ignore_index=True)
    today = requests_day(DAY, seed=77)
    slow = today["path"].str.startswith("/api/products/") & (today["ts"] >= local(DAY, "09:30"))
    today.loc[slow, "response_time_ms"] *= 4
    return today, base


def test_latency_regression_is_significant_only_where_planted() -> None:
    today, base = latency_frames()
    con = duckdb.connect()
    today_rel = traffic.with_route(con.from_df(today))
    base_rel = traffic.with_route(con.from_df(base))
    t_prof, b_prof = baseline.latency_profile(today_rel, TZ), baseline.latency_profile(base_rel, TZ)
    cmp = baseline.compare_latency(today_rel, t_prof, b_prof).set_index("route")
    products = today[today["path"].str.startswith("/api/products/")]["response_time_ms"]
    base_products = base[base["path"].str.startswith("/api/products/")]["response_time_ms"]
    base_p95 = np.percentile(base_products, 95)
    assert cmp.loc["GET /api/products/:id", "base_p95"] == pytest.approx(base_p95)
    assert cmp.loc["GET /api/products/:id", "above"] == (products > base_p95).sum()
    assert cmp.loc["GET /api/products/:id", "ratio"] == pytest.approx(np.percentile(products, 95) / base_p95)
    assert cmp.loc["GET /api/products/:id", "p_value"] < 1e-12
    for route in ("POST /api/orders", "POST /api/auth/login", "GET /api/health"):
        assert cmp.loc[route, "p_value"] > 1e-3, route
    hours = baseline.hours_above(t_prof, b_prof, "route", 1.5, 10)
    assert set(hours["route"]) == {"GET /api/products/:id"}
    assert hours["hour"].min() == 9 and hours["hour"].max() == 23


def _p95_trials(base_requests: int, slower: float, trials: int = 60) -> int:
    """How many of ``trials`` simulated days (200 requests, lognormal latencies) the exceedance
    test calls significant at 1% against a baseline of ``base_requests``."""
    rng = np.random.default_rng(base_requests)
    con = duckdb.connect()
    significant = 0
    for _ in range(trials):
        today = pd.DataFrame(
            {"route": "GET /x", "ts": local(DAY, "12:00"), "response_time_ms": rng.lognormal(3, 1, 200) * slower}
        )
        base = pd.DataFrame(
            {"route": "GET /x", "ts": local(DAY, "12:00"), "response_time_ms": rng.lognormal(3, 1, base_requests)}
        )
        rel = con.from_df(today)
        cmp = baseline.compare_latency(
            rel, baseline.latency_profile(rel, TZ), baseline.latency_profile(con.from_df(base), TZ)
        )
        significant += bool(cmp["p_value"].iloc[0] < 0.01)
    return significant


@pytest.mark.parametrize("base_requests", [10, 40, 2000])
def test_p95_exceedance_test_holds_its_level_on_a_small_baseline(base_requests: int) -> None:
    """The baseline p95 is an estimate: from 10 requests it is often low by chance. The test
    weighs that (two samples), so an unchanged route is significant at 1% about 1% of the time,
    and a route twice as slow is still found against a solid baseline."""
    assert _p95_trials(base_requests, 1.0) <= 3  # 60 trials at 1%: 0.6 expected
    if base_requests == 2000:
        assert _p95_trials(base_requests, 2.0) >= 55


def test_latency_profile_has_an_all_routes_row() -> None:
    today, _ = latency_frames()
    prof = baseline.latency_profile(traffic.with_route(duckdb.connect().from_df(today)), TZ)
    overall = prof[(prof["route"] == baseline.ALL_ROUTES) & (prof["hour"] == -1)].iloc[0]
    assert overall["requests"] == len(today)
    assert overall["p95"] == pytest.approx(np.percentile(today["response_time_ms"], 95))


def test_overall_latency_against_the_baseline() -> None:
    today, base = latency_frames()
    con = duckdb.connect()
    t_prof = baseline.latency_profile(traffic.with_route(con.from_df(today)), TZ)
    b_prof = baseline.latency_profile(traffic.with_route(con.from_df(base)), TZ)
    table = baseline.overall_latency(t_prof, b_prof).set_index("percentile")
    for q in (50, 95, 99):
        now, then = np.percentile(today["response_time_ms"], q), np.percentile(base["response_time_ms"], q)
        assert table.loc[f"p{q}", "today_ms"] == pytest.approx(now)
        assert table.loc[f"p{q}", "baseline_ms"] == pytest.approx(then)
        assert table.loc[f"p{q}", "ratio"] == pytest.approx(now / then)
    alone = baseline.overall_latency(t_prof, b_prof.iloc[0:0])
    assert alone["baseline_ms"].isna().all() and alone["today_ms"].notna().all()


def test_same_hours_filter() -> None:
    df = pd.DataFrame({"ts": [local(DAY, "08:59"), local(DAY, "09:00"), local(DAY, "17:00"), local(DAY, "17:01")]})
    rel = duckdb.connect().from_df(df)
    kept = rel.filter(baseline.same_hours_sql(TZ, dt.time(9, 0), dt.time(17, 0, 59))).df()
    assert len(kept) == 2


def route_minutes(day: dt.date, per_minute: int, key: str = "POST /api/orders") -> pd.DataFrame:
    minutes = pd.date_range(day_start(day), day_start(day + dt.timedelta(days=1)), freq="1min", inclusive="left")
    return pd.DataFrame({"minute": minutes, "route": key, "s5xx": 0, "requests": per_minute})


def test_rate_windows_find_a_sparse_burst_on_a_quiet_route() -> None:
    today = route_minutes(DAY, 1)
    start = local(DAY, "14:10")
    failing = [0, 2, 3, 5, 6, 9, 11, 12, 15, 17, 19]  # about half of a quiet route's requests fail
    for i in failing:
        today.loc[today["minute"] == start + i * MINUTE, "s5xx"] = 1
    rates = pd.DataFrame({"route": ["POST /api/orders"], "rate": [0.002]})
    windows = baseline.rate_windows(today, rates, ["route"], "s5xx", "requests", width=10, min_share=0.1)
    assert len(windows) == 1
    row = windows.iloc[0]
    assert row["start"] == start and row["end"] == start + 20 * MINUTE
    assert row["observed"] == len(failing) and row["requests"] == 20
    assert row["share"] == pytest.approx(len(failing) / 20)
    assert row["p_value"] == pytest.approx(stats.binom.sf(len(failing) - 1, 20, 0.002))


def test_rate_windows_ignore_background_errors_at_the_baseline_share() -> None:
    rng = np.random.default_rng(3)
    today = route_minutes(DAY, 50)
    today["s5xx"] = rng.binomial(50, 0.01, len(today))
    rates = pd.DataFrame({"route": ["POST /api/orders"], "rate": [0.01]})
    assert baseline.rate_windows(today, rates, ["route"], "s5xx", "requests", min_share=0.1).empty


def test_rate_windows_need_a_high_share_on_a_busy_route() -> None:
    today = route_minutes(DAY, 1000)
    inside = (today["minute"] >= local(DAY, "10:00")) & (today["minute"] < local(DAY, "10:30"))
    today.loc[inside, "s5xx"] = 30  # 3 %: significant against 0.1 %, but below a 10 % share
    rates = pd.DataFrame({"route": ["POST /api/orders"], "rate": [0.001]})
    assert baseline.rate_windows(today, rates, ["route"], "s5xx", "requests", min_share=0.1).empty
    found = baseline.rate_windows(today, rates, ["route"], "s5xx", "requests", min_share=0.02)
    assert found[["start", "end"]].values.tolist() == [[local(DAY, "10:00"), local(DAY, "10:30")]]
