"""Probe results in the store: spool append, compaction into Parquet, reading parts + spool."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.probes.models import COLUMNS, TABLE, ProbeResult, results_frame, to_arrow
from opsreview.probes.source import (
    append_results,
    compact_day,
    compact_pending,
    load_probe_results,
    spool_path,
    spooled_days,
)
from opsreview.store import Store

BERLIN = ZoneInfo("Europe/Berlin")


def result(ts: dt.datetime, probe: str = "api", ok: bool = True, check: str = "http") -> ProbeResult:
    return ProbeResult(ts=ts, probe=probe, check=check, ok=ok, detail="200 OK", status_code=200, latency_ms=12.5)


def test_rounds_append_to_the_spool_of_their_local_day(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path)
    # 23:30 UTC on Nov 23 is already Nov 24 in Berlin.
    late = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)
    append_results(store, [result(late - dt.timedelta(hours=1)), result(late)], BERLIN)
    assert spooled_days(store) == [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    assert spool_path(store, dt.date(2026, 11, 24)).read_text().count("\n") == 1
    both = load_probe_results(store, [dt.date(2026, 11, 23), dt.date(2026, 11, 24)])
    assert list(both.columns) == list(COLUMNS)
    assert len(both) == 2 and both["ts"].dt.tz is not None
    assert store.days(TABLE) == []  # nothing compacted yet


def test_compaction_merges_into_one_part_idempotently(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path)
    day = dt.date(2026, 11, 23)
    start = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
    append_results(store, [result(start + dt.timedelta(minutes=i)) for i in range(3)], BERLIN)
    assert compact_day(store, day) == 3
    assert not spool_path(store, day).exists()
    assert [p.name for p in store.parts(TABLE, day)] == ["probe.parquet"]
    # A late round of the same day, plus a duplicate of a compacted row (a re-run), merge in.
    append_results(store, [result(start + dt.timedelta(minutes=2)), result(start + dt.timedelta(minutes=9))], BERLIN)
    assert compact_day(store, day) == 4
    assert compact_day(store, day) == 0  # nothing spooled: nothing to do
    frame = load_probe_results(store, [day])
    assert len(frame) == 4 and frame["ts"].is_monotonic_increasing


def test_compact_pending_leaves_the_current_day_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path)
    append_results(store, [result(dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC))], BERLIN)
    append_results(store, [result(dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC))], BERLIN)
    assert compact_pending(store, before=dt.date(2026, 11, 23)) == [dt.date(2026, 11, 22)]
    assert spooled_days(store) == [dt.date(2026, 11, 23)]
    assert store.days(TABLE) == [dt.date(2026, 11, 22)]


def test_a_torn_line_is_skipped_not_fatal(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path)
    day = dt.date(2026, 11, 23)
    append_results(store, [result(dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC))], BERLIN)
    with spool_path(store, day).open("a") as fh:
        fh.write('{"ts": "2026-11-23T09:01:00Z", "probe": "api", "che')  # killed mid-write
    append_results(store, [result(dt.datetime(2026, 11, 23, 9, 2, tzinfo=dt.UTC))], BERLIN)
    frame = load_probe_results(store, [day])
    assert len(frame) == 2  # the torn line is lost, the rounds before and after it are not
    assert "is not a result row; skipped" in caplog.text


def test_reading_takes_every_part_of_a_day(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The demo generator and the Prometheus source write their own parts of the same day."""
    store = Store(tmp_path)
    day = dt.date(2026, 11, 23)
    ts = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    demo = results_frame([result(ts, probe="api-health")]).assign(source="demo")
    demo["status_code"] = demo["status_code"].astype("Int32")
    store.write_part(TABLE, day, "demo", demo)
    store.write_part(
        TABLE, day, "prometheus", to_arrow(results_frame([result(ts, probe="https://x")]).assign(source="prometheus"))
    )
    append_results(store, [result(ts, probe="api")], BERLIN)
    frame = load_probe_results(store, [day])
    assert sorted(frame["source"]) == ["demo", "probe", "prometheus"]
    assert sorted(frame["probe"]) == ["api", "api-health", "https://x"]


def test_concurrent_appends_lose_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path)
    base = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)

    def writer(n: int) -> None:
        for i in range(50):
            append_results(store, [result(base + dt.timedelta(seconds=i), probe=f"p{n}")], BERLIN)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frame = load_probe_results(store, [dt.date(2026, 11, 23)])
    assert len(frame) == 200
    assert isinstance(frame, pd.DataFrame)
