"""The database area's pure analysis: rates the way mongostat computes them, state, lag."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from opsreview.database import analysis, models
from opsreview.database.params import DatabaseParams
from opsreview.database.review import state_rows
from opsreview.exceptions import ParamsError
from opsreview.params import load_params

T0 = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)


def _server(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = models.to_arrow(models.SERVER, rows).to_pandas()
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def _snap(seconds: float, host: str = "db-1:27017", **values: object) -> dict[str, object]:
    row: dict[str, object] = {"ts": T0 + dt.timedelta(seconds=seconds), "host": host, "uptime_s": 1000.0 + seconds}
    for counter in analysis._COUNTERS:
        row[counter] = 0
    for kind in analysis.LATENCIES:
        row[f"lat_{kind}_us"] = 0
        row[f"lat_{kind}_ops"] = 0
    row.update(values)
    return row


def test_rates_are_deltas_over_the_interval_and_latency_is_delta_latency_over_delta_ops() -> None:
    server = _server(
        [
            _snap(0, op_query=1000, lat_reads_us=5_000_000, lat_reads_ops=1000, conn_total_created=10),
            _snap(10, op_query=1500, lat_reads_us=6_500_000, lat_reads_ops=1500, conn_total_created=30),
        ]
    )
    rates = analysis.rates(server)
    assert len(rates) == 1
    row = rates.iloc[0]
    assert row["interval_s"] == 10
    assert row["op_query_per_s"] == 50  # (1500 - 1000) / 10 s
    assert row["reads_ms_per_op"] == pytest.approx(3.0)  # 1.5e6 µs / 500 ops = 3000 µs
    assert row["conn_total_created_per_s"] == 2
    assert pd.isna(row["writes_ms_per_op"])  # no write ran: no latency, not 0


def test_a_restart_between_two_snapshots_gives_no_rate() -> None:
    server = _server(
        [
            _snap(0, op_query=1000),
            _snap(60, op_query=1600),
            {**_snap(120, op_query=20), "uptime_s": 5.0},  # restarted: counters from zero
            {**_snap(180, op_query=620), "uptime_s": 65.0},
        ]
    )
    rates = analysis.rates(server)
    assert list(rates["op_query_per_s"]) == [10.0, 10.0]
    assert list(rates["ts"]) == [server["ts"][1], server["ts"][3]]


def test_rates_are_per_host() -> None:
    server = _server(
        [
            _snap(0, "a:1", op_insert=0),
            _snap(0, "b:1", op_insert=100),
            _snap(20, "a:1", op_insert=200),
            _snap(20, "b:1", op_insert=100),
        ]
    )
    rates = analysis.rates(server).set_index("host")
    assert rates.loc["a:1", "op_insert_per_s"] == 10
    assert rates.loc["b:1", "op_insert_per_s"] == 0


def test_server_state_ratios_and_oplog_window() -> None:
    server = _server(
        [
            _snap(
                0,
                conn_current=90,
                conn_available=10,
                cache_bytes=950,
                cache_max_bytes=1000,
                cache_dirty_bytes=150,
                oplog_first=T0 - dt.timedelta(hours=30),
                oplog_last=T0,
            )
        ]
    )
    state = analysis.server_state(server).iloc[0]
    assert state["conn_used"] == pytest.approx(0.9)
    assert state["cache_used"] == pytest.approx(0.95)
    assert state["cache_dirty"] == pytest.approx(0.15)
    assert state["oplog_window_h"] == pytest.approx(30)


def _members(samples: list[tuple[float, str, float | None]]) -> pd.DataFrame:
    rows = [
        {
            "ts": T0 + dt.timedelta(minutes=m),
            "host": "db-1:27017",
            "member": name,
            "lag_s": lag,
            "state": 2,
            "health": 1.0,
        }
        for m, name, lag in samples
    ]
    df = models.to_arrow(models.MEMBERS, rows).to_pandas()
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def test_lag_episodes_are_runs_over_the_threshold() -> None:
    members = _members(
        [(0, "db-3", 1), (15, "db-3", 30), (30, "db-3", 120), (45, "db-3", 2), (60, "db-3", 50), (0, "db-2", 1)]
    )
    episodes = analysis.lag_episodes(members, 10)
    assert list(episodes["max_lag_s"]) == [120, 50]
    assert list(episodes["samples"]) == [2, 1]
    lag = analysis.member_lag(members).set_index("member")
    assert lag.loc["db-3", "lag_max_s"] == 120
    assert lag.loc["db-3", "lag_max_at"] == T0 + dt.timedelta(minutes=30)
    assert lag.loc["db-2", "lag_max_s"] == 1


def test_unhealthy_members_by_latest_state() -> None:
    members = _members([(0, "db-2", 0), (0, "db-3", 0)])
    members.loc[members["member"] == "db-3", ["state", "state_str", "health"]] = [8, "(not reachable/healthy)", 0.0]
    assert list(analysis.unhealthy_members(members)["member"]) == ["db-3"]


def test_state_is_the_last_snapshot_of_the_day_else_the_first_after_it() -> None:
    start, end = T0, T0 + dt.timedelta(days=1)
    df = pd.DataFrame(
        {
            "ts": pd.to_datetime([T0 + dt.timedelta(hours=h) for h in (1, 5, 5, 25, 26)], utc=True),
            "host": ["a", "a", "a", "a", "b"],
            "value": [1, 2, 3, 4, 5],
        }
    )
    chosen = state_rows(df, start, end)
    assert sorted(chosen["value"]) == [2, 3, 5]  # a: its last snapshot in the day; b: none in it, first after


def test_database_uri_must_be_an_env_reference() -> None:
    with pytest.raises(ValueError, match="must be an \\$\\{ENV\\} reference"):
        DatabaseParams(uri="mongodb://reviewer:hunter2@db-1:27017/")  # type: ignore[arg-type]
    assert DatabaseParams(uri="${MONGODB_URI}").uri is not None  # type: ignore[arg-type]


def test_a_literal_connection_string_is_refused_without_repeating_it(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "environment: t\nstore: s\noutputs: o\ndatabase:\n  uri: mongodb://reviewer:hunter2@db-1:27017/\n",
        encoding="utf-8",
    )
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert "database.uri" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_day_means_weigh_each_interval_by_its_operations() -> None:
    server = _server(
        [
            _snap(0, lat_reads_us=0, lat_reads_ops=0, op_query=0, op_insert=0),
            _snap(10, lat_reads_us=10_000, lat_reads_ops=10, op_query=10, op_insert=10),  # 10 reads at 1 ms
            _snap(910, lat_reads_us=2_710_000, lat_reads_ops=910, op_query=910, op_insert=100),  # 900 at 3 ms
        ]
    )
    means = analysis.day_means(server).iloc[0]
    assert means["reads_ms"] == pytest.approx((10 * 1 + 900 * 3) / 910)  # not the mean of 1 and 3
    assert means["ops_per_s"] == pytest.approx((910 + 100) / 910)  # every opcounter, over the whole span
