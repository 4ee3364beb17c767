"""Error fingerprints: masking, top in-app frame, grouping, new-today and spikes."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from opsreview.logs.app import analysis as app_errors

DAY = dt.date(2026, 11, 23)
TZ = "Europe/Berlin"


def sql_value(expr: str, **columns: str | None) -> object:
    df = pd.DataFrame({k: [v] for k, v in columns.items()})
    return duckdb.connect().from_df(df).query("t", f"SELECT {expr} FROM t").fetchall()[0][0]


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("connection 12 to 10.0.3.21:27017 timed out", "connection <n> to <ip> timed out"),
        (
            'E11000 duplicate key error dup key: { email: "ann@example.com" }',
            '<id> duplicate key error dup key: { email: "<str>" }',
        ),
        ("user ann@example.com not found", "user <email> not found"),
        ("Path `price` (-12) is less than minimum (0).", "Path `<str>` (<n>) is less than minimum (<n>)."),
        ("order 65a1b2c3d4e5f60718293a4b missing", "order <id> missing"),
        ("job 123e4567-e89b-12d3-a456-426614174000 failed", "job <uuid> failed"),
        ("signature failed for event evt_9e6dcc79ed", "signature failed for event evt_<id>"),
        ("bad pointer 0xdeadBEEF", "bad pointer <hex>"),
        ("GET https://api.example.com/v1/x?id=7 returned 502", "GET <url> returned <n>"),
        ("Cannot read properties of undefined (reading 'id')", "Cannot read properties of undefined (reading '<str>')"),
        ("first line 1\nsecond line 2", "first line <n>"),
        ("User's cart can't be loaded", "User's cart can't be loaded"),  # apostrophes are no quotes
        ("login failed: password=hunter2 for ann", "login failed: password=*** for ann"),
        ('config {"api_key": "hunter2"} rejected', 'config {"<str>": "<str>"} rejected'),
        ("upstream said Bearer abcdefghijklmnop", "upstream said Bearer ***"),
        ("payload " + '"' + "x" * 400 + '"' + " invalid", 'payload "<str>" invalid'),  # masked before it is cut
    ],
)
def test_masked_message(message: str, masked: str) -> None:
    assert sql_value(app_errors.masked_message_sql("m"), m=message) == masked


STACK = (
    "MongoNetworkTimeoutError: connection 3 timed out\n"
    "    at Connection.onTimeout (/app/node_modules/mongodb/lib/cmap/connection.js:180:19)\n"
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
    "    at createOrder (/app/src/services/orderService.js:112:17)\n"
    "    at /app/src/routes/orders.js:9:3"
)


def test_top_frame_skips_dependencies_and_node_internals() -> None:
    assert sql_value(app_errors.top_frame_sql("s"), s=STACK) == "createOrder (/app/src/services/orderService.js)"
    assert sql_value(app_errors.top_frame_sql("s"), s="Error: x\n    at /app/src/a.js:3:4") == "/app/src/a.js"
    assert sql_value(app_errors.top_frame_sql("s"), s=None) is None


@pytest.mark.parametrize(
    ("text", "error_type"),
    [
        (STACK, "MongoNetworkTimeoutError"),
        ("Error: connect ECONNREFUSED 127.0.0.1:6379", "Error"),
        ("TypeError: x is not a function", "TypeError"),
        ("order created", None),
        ("the Error: is not at the start", None),
    ],
)
def test_error_type_from_text(text: str, error_type: str | None) -> None:
    assert sql_value(app_errors.error_type_sql("s"), s=text) == error_type


def events(rows: list[tuple[str, str, str, str | None, str | None]]) -> duckdb.DuckDBPyRelation:
    df = pd.DataFrame(rows, columns=["ts", "host", "level", "message", "stack"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df["error_type"] = None
    df["fingerprint"] = None
    df["extra"] = None
    df["source_file"] = "/logs/app.log"
    return duckdb.connect().from_df(df)


def stack_at(frame: str, line: int) -> str:
    return f"Error: boom\n    at {frame} (/app/src/x.js:{line}:5)\n    at next (/app/node_modules/express/a.js:1:1)"


def test_fingerprints_group_variable_parts_and_split_by_frame() -> None:
    rel = events(
        [
            ("2026-11-23T10:00:00Z", "api-1", "error", "order 17 failed for bob@example.com", stack_at("pay", 10)),
            ("2026-11-23T10:05:00Z", "api-2", "error", "order 99 failed for ann@example.com", stack_at("pay", 12)),
            ("2026-11-23T11:00:00Z", "api-1", "fatal", "order 5 failed for x@example.com", stack_at("pay", 10)),
            ("2026-11-23T12:00:00Z", "api-1", "error", "order 17 failed for bob@example.com", stack_at("refund", 3)),
            ("2026-11-23T13:00:00Z", "api-1", "info", "order 17 created", None),
        ]
    )
    fps = app_errors.fingerprints(rel)
    assert fps["count"].tolist() == [3, 1]
    top = fps.iloc[0]
    assert top["pattern"] == "order <n> failed for <email>"
    assert top["frame"] == "pay (/app/src/x.js)"  # line numbers differ, same frame
    assert top["level"] == "fatal"  # the worst level of the group
    assert list(top["hosts"]) == ["api-1", "api-2"]
    assert top["first_seen"] == pd.Timestamp("2026-11-23T10:00:00Z")
    assert top["last_seen"] == pd.Timestamp("2026-11-23T11:00:00Z")
    assert "bob" not in top["example"] and "***@example.com" in top["example"]
    assert fps.iloc[1]["frame"] == "refund (/app/src/x.js)"
    # the stored-fingerprint expression agrees with the grouping
    one = sql_value(
        app_errors.fingerprint_sql("m", "s", "e"), m="order 1 failed for a@b.io", s=stack_at("pay", 1), e="Error"
    )
    assert one == top["fingerprint"]


@pytest.mark.parametrize(
    ("stack", "frame"),
    [
        (
            "Error: x\n    at Socket.<anonymous> (/app/src/db/redis.js:20:7)",
            "Socket.<anonymous> (/app/src/db/redis.js)",
        ),
        ("Error: x\n    at async Promise.all (index 2)\n    at async load (/app/src/a.js:3:4)", "load (/app/src/a.js)"),
        ("Error: x\n    at new Promise (<anonymous>)\n    at /app/src/a.js:3:4", "/app/src/a.js"),
        ("Error: x\n    at f (/srv/app/releases/20260310120000/src/x.js:10:5)", "f (/srv/app/releases/<r>/src/x.js)"),
        ("Error: x\n    at f (/srv/app-20260310120000/src/x.js:10:5)", "f (/srv/app-20260310120000/src/x.js)"),
        ("Error: x\n    at f (C:\\app\\src\\x.js:10:5)", "f (C:\\app\\src\\x.js)"),
        ("Error: x\n    at f (file:///app/src/x.mjs:10:5)", "f (file:///app/src/x.mjs)"),
        ("Error: x\n    at Page (/app/(shop)/cart/page.js:3:4)", "Page (/app/(shop)/cart/page.js)"),  # a route group
    ],
)
def test_top_frame_is_a_source_file_of_the_app(stack: str, frame: str) -> None:
    """Frames without a source file (`<anonymous>`, `Promise.all (index 2)`) are skipped, so
    that different call sites do not share one fingerprint; an anonymous function in an app
    file is a frame; a release folder does not make every error new after a deploy."""
    assert sql_value(app_errors.top_frame_sql("s"), s=stack) == frame


def test_different_errors_stay_apart() -> None:
    rel = events(
        [
            ("2026-11-23T10:00:00Z", "api-1", "error", "User's cart can't be loaded", None),
            ("2026-11-23T10:01:00Z", "api-1", "error", "User's profile can't be loaded", None),
            (
                "2026-11-23T10:02:00Z",
                "api-1",
                "error",
                "boom",
                "Error: boom\n    at Socket.<anonymous> (/app/src/a.js:1:1)",
            ),
            (
                "2026-11-23T10:03:00Z",
                "api-1",
                "error",
                "boom",
                "Error: boom\n    at Socket.<anonymous> (/app/src/b.js:1:1)",
            ),
        ]
    )
    assert len(app_errors.fingerprints(rel)) == 4


def test_example_is_masked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWRlbW8"
    rel = events([("2026-11-23T10:00:00Z", "api-1", "error", f"bad token {jwt} for /pay?card=4111111111111111", None)])
    example = app_errors.fingerprints(rel)["example"].iloc[0]
    assert jwt not in example and "4111111111111111" not in example


def test_new_and_spiking_against_history() -> None:
    today = pd.DataFrame({"fingerprint": ["old", "new", "spike"], "count": [3, 5, 60]})
    history = pd.DataFrame(
        {
            "day": [DAY - dt.timedelta(days=d) for d in (1, 2, 20, 1, 2, 3)],
            "fingerprint": ["old", "old", "old", "spike", "spike", "spike"],
            "count": [3, 4, 1, 2, 3, 1],
        }
    )
    base_days = [DAY - dt.timedelta(days=d) for d in range(7, 0, -1)]
    marked = app_errors.mark_new_and_spiking(today, history, base_days).set_index("fingerprint")
    assert marked["new"].to_dict() == {"old": False, "new": True, "spike": False}
    # day 20 is history (not new) but outside the baseline: 7 occurrences over 7 days
    assert marked.loc["old", "baseline_per_day"] == pytest.approx(1.0)
    assert marked.loc["spike", "ratio"] == pytest.approx(60 / (6 / 7))
    assert marked.loc["spike", "p_value"] < 1e-20
    assert marked.loc["old", "p_value"] > 0.05


def test_fingerprints_by_day_uses_local_days() -> None:
    rel = events(
        [
            ("2026-11-22T23:30:00Z", "api-1", "error", "boom", None),  # 00:30 on the 23rd in Berlin
            ("2026-11-22T22:30:00Z", "api-1", "error", "boom", None),  # 23:30 on the 22nd
        ]
    )
    by_day = app_errors.fingerprints_by_day(rel, TZ)
    assert sorted(by_day["day"]) == [dt.date(2026, 11, 22), dt.date(2026, 11, 23)]


def test_events_over_time_and_level_counts() -> None:
    rel = events(
        [
            ("2026-11-23T10:01:00Z", "api-1", "error", "a", None),
            ("2026-11-23T10:14:00Z", "api-1", "warn", "b", None),
            ("2026-11-23T10:16:00Z", "api-2", "error", "c", None),
        ]
    )
    over = app_errors.events_over_time(rel, 15)
    assert over[["level", "events"]].values.tolist() == [["error", 1], ["warn", 1], ["error", 1]]
    counts = app_errors.level_counts(rel).set_index("host")
    assert counts.loc["api-1", "error"] == 1 and counts.loc["api-1", "warn"] == 1 and counts.loc["api-2", "events"] == 1


def test_a_new_error_and_its_spike_the_next_day_share_their_subject() -> None:
    """Day 1 the error is new (``errors.new_fingerprint``), day 2 it spikes against day 1
    (``errors.spike``): different check ids, one subject (the error's fingerprint) to join them."""
    from opsreview.logs.app.findings import error_fingerprint_findings
    from opsreview.logs.thresholds import LogThresholds

    def day_events(day: dt.date, count: int, order: int) -> list[tuple[str, str, str, str | None, str | None]]:
        return [
            (f"{day}T10:{m:02d}:00Z", "api-1", "error", f"order {order + m} not found", stack_at("loadOrder", 12))
            for m in range(count)
        ] + [(f"{day}T09:00:00Z", "api-1", "error", "unrelated", None)]

    day1, day2 = DAY, DAY + dt.timedelta(days=1)
    history1 = app_errors.fingerprints_by_day(events([(f"{DAY - dt.timedelta(days=1)}T09:00:00Z", "api-1", "error",
                                                       "unrelated", None)]), TZ)  # fmt: skip
    marked1 = app_errors.mark_new_and_spiking(
        app_errors.fingerprints(events(day_events(day1, 3, 100))), history1, [day1 - dt.timedelta(days=1)]
    )
    history2 = app_errors.fingerprints_by_day(events(day_events(day1, 3, 100)), TZ)
    marked2 = app_errors.mark_new_and_spiking(
        app_errors.fingerprints(events(day_events(day2, 50, 900))), history2, [day1]
    )
    th = LogThresholds()
    [new] = [f for f in error_fingerprint_findings(marked1, th, TZ, True) if f.check == "errors.new_fingerprint"]
    [spike] = [f for f in error_fingerprint_findings(marked2, th, TZ, True) if f.check == "errors.spike"]
    assert new.subject == spike.subject == new.evidence["fingerprint"] == spike.evidence["fingerprint"]
    assert len(new.subject) == 12 and new.fingerprint != spike.fingerprint  # the check ids stay apart


@pytest.mark.parametrize(
    ("minutes", "window", "peak"),
    [
        # a burst of 20 at 14:10-14:29 and strays at 03:00 and 22:00: the window is the burst's hour
        ([180] + list(range(850, 870)) + [1320], ("14:10", "14:29"), 20),
        # one an hour from 03:00 to 13:00: no burst, the window stays first to last seen
        (list(range(180, 781, 60)), ("03:00", "13:00"), None),
        # all within the hour: first to last seen, nothing to narrow
        (list(range(850, 870)), ("14:10", "14:29"), None),
    ],
)
def test_an_errors_window_is_its_peak_hour_when_it_came_in_a_burst(
    minutes: list[int], window: tuple[str, str], peak: int | None
) -> None:
    from opsreview.logs.app.findings import error_fingerprint_findings
    from opsreview.logs.thresholds import LogThresholds

    day = f"{DAY}T00:00:00Z"
    rows = [
        ((pd.Timestamp(day) + pd.Timedelta(minutes=m)).isoformat(), "api-1", "error", f"order {m} failed", None)
        for m in minutes
    ]
    history = app_errors.fingerprints_by_day(events([(f"{DAY - dt.timedelta(days=1)}T09:00:00Z", "api-1", "error",
                                                      "unrelated", None)]), TZ)  # fmt: skip
    marked = app_errors.mark_new_and_spiking(app_errors.fingerprints(events(rows)), history, [DAY])
    [new] = error_fingerprint_findings(marked, LogThresholds(), "UTC", True)
    assert (new.start, new.end) == (f"{DAY}T{window[0]}:00+00:00", f"{DAY}T{window[1]}:00+00:00")
    first, last = (pd.Timestamp(day) + pd.Timedelta(minutes=m) for m in (min(minutes), max(minutes)))
    assert (new.evidence["window"]["start"], new.evidence["window"]["end"]) == (first.isoformat(), last.isoformat())
    assert (new.evidence.get("peak") or {}).get("count") == peak
