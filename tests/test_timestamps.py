"""Epoch numbers and implausible times: the SQL and Python readers agree, and a bad time is
one unparsed line, never a failed file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from opsreview.logs.access.parse import json_query, parse_json_line
from opsreview.logs.app.parse import parse_app_log
from opsreview.logs.timestamps import epoch_datetime, epoch_sql

T = dt.datetime(2026, 3, 10, 14, 0, 0, 123456, tzinfo=dt.UTC)
SECONDS = T.timestamp()

CASES = [
    (SECONDS, T),
    (round(SECONDS), T.replace(microsecond=0)),
    (round(SECONDS * 1e3), T.replace(microsecond=123000)),
    (round(SECONDS * 1e6), T),
    (round(SECONDS * 1e6) * 1000 + 123, T),  # nanoseconds (zap; pino with a custom timestamp)
    (-5, None),
    (0, None),  # 1970: no log line of ours
    (1e300, None),
    (float("nan"), None),
    (float("inf"), None),
    (7.3e9, None),  # seconds in 2201
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_epoch_units_and_implausible_values(value: float, expected: dt.datetime | None) -> None:
    assert epoch_datetime(value) == expected
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    (got,) = con.execute(f"SELECT {epoch_sql('v')} FROM (SELECT ?::DOUBLE AS v)", [value]).fetchone() or (None,)
    assert got == expected


def test_a_bad_time_is_an_unparsed_line_not_a_failed_file(tmp_path: Path) -> None:
    good = [
        {"level": 50, "time": round(SECONDS * 1000) + i, "msg": f"payment {i} failed", "err": {"type": "Error"}}
        for i in range(5)
    ]
    bad = [{"level": 50, "time": t, "msg": "bad"} for t in (1e300, "NaN", "Infinity", -5)]
    bad.append({"level": 50, "timestamp": "99999-03-10T14:00:00Z", "msg": "year 99999"})
    path = tmp_path / "app.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in good + bad), encoding="utf-8")
    parsed = parse_app_log(path, "json", "api-1", "Europe/Berlin", T.date())
    assert parsed.events.num_rows == 5
    (day,) = parsed.days.to_dict("records")
    assert (day["day"], day["lines"], day["parsed"], day["unparsed"]) == (T.date(), 10, 5, 5)


def test_json_access_log_times_agree_between_sql_and_fallback() -> None:
    mapping = {"ts": "time", "method": "m", "url": "u", "status": "s"}
    mapping |= {c: c for c in ("remote_addr", "remote_user", "http_version", "bytes", "referrer", "user_agent")}
    mapping |= {"response_time_ms": "rt", "total_time_ms": "tt"}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    more = [
        ("2026-03-10T15:00:00.123456", T),
        ("99999-03-10T14:00:00Z", None),
        (str(round(SECONDS)), T.replace(microsecond=0)),  # an epoch written as a string
        ("2026-03-10 15:00:00.123456 +0100", T),  # a space before the offset
        (10**400, None),  # too big for a double
    ]
    for value, expected in CASES[:6] + more:
        line = json.dumps({"time": value, "m": "GET", "u": "/a", "s": 200})
        row = parse_json_line(mapping, line, dt.timezone(dt.timedelta(hours=1)))
        assert row is not None and row["ts"] == expected, value
        (sql_ts,) = con.execute(
            f"SELECT ts FROM ({json_query(mapping, '(SELECT ? AS line)', 'Europe/Berlin')})", [line]
        ).fetchone() or (None,)
        assert sql_ts == expected, value
