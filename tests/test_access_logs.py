"""Access-log ingest: store layout, provenance, idempotency (also across logrotate renames),
DST days, bad input, JSON lines, the `access_logs` source and the notebook helper."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from opsreview.context import ReviewContext
from opsreview.logs.access.parse import parse_json_line
from opsreview.logs.access.source import REQUESTS, ingest_access_logs, pull_access_logs, requests_relation
from opsreview.logs.files import LOG_FILES
from opsreview.params import load_params
from opsreview.store import Store

UA = "Mozilla/5.0 (X11; Linux x86_64)"


def clf(ts: dt.datetime) -> str:
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    ts = ts.astimezone(dt.UTC)
    return f"{ts.day:02d}/{months[ts.month - 1]}/{ts.year}:{ts:%H:%M:%S} +0000"


def line(ts: dt.datetime, url: str = "/api/products/1", status: int = 200, rt: str = "12.500", ua: str = UA) -> str:
    return f'10.0.0.1 - - [{clf(ts)}] "GET {url} HTTP/1.1" {status} 321 "-" "{ua}" {rt} ms'


def write_params(tmp_path: Path, fmt: str = "combined_rt", tz: str = "Europe/Berlin", paths: str = "logs/") -> Path:
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {tz}\nstore: store\noutputs: out\nbaseline_days: 2\n"
        f"logs:\n  access:\n    - host: api-1\n      paths: [{paths!r}]\n      format: {fmt!r}\n",
        encoding="utf-8",
    )
    (tmp_path / "logs").mkdir(exist_ok=True)
    return params


def rows(tmp_path: Path, sql: str = "SELECT count(*) FROM t") -> list[tuple]:
    files = list((tmp_path / "store" / REQUESTS).glob("date=*/*.parquet"))
    if not files:
        return [(0,)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    listing = ", ".join(f"'{f}'" for f in files)
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet([{listing}], hive_partitioning = false)")
    return con.execute(sql).fetchall()


def log_files(tmp_path: Path) -> list[dict]:
    files = list((tmp_path / "store" / LOG_FILES).glob("date=*/*.parquet"))
    listing = ", ".join(f"'{f}'" for f in files)
    rel = duckdb.sql(f"SELECT * FROM read_parquet([{listing}], hive_partitioning = false) ORDER BY path, day")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


T0 = dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC)


def test_ingest_stores_typed_rows_with_provenance(tmp_path: Path) -> None:
    params = write_params(tmp_path)
    log = tmp_path / "logs" / "access.log"
    log.write_text("\n".join(line(T0 + dt.timedelta(seconds=i), f"/api/products/{i}?q=1") for i in range(100)) + "\n")
    outcome = ingest_access_logs(load_params(params))
    assert outcome.rows == 100
    (row,) = rows(
        tmp_path,
        "SELECT count(*), min(ts), any_value(host), any_value(source_file), any_value(path), "
        "any_value(status), any_value(response_time_ms), any_value(user_agent) FROM t",
    )
    assert row == (100, T0, "api-1", str(log), row[4], 200, 12.5, UA)
    assert row[4].startswith("/api/products/") and "?" not in row[4]
    store = Store(tmp_path / "store")
    assert store.days(REQUESTS) == [dt.date(2026, 6, 10)]
    schema = duckdb.sql(f"DESCRIBE SELECT * FROM '{store.parts(REQUESTS, dt.date(2026, 6, 10))[0]}'").fetchall()
    types = {name: kind for name, kind, *_ in schema}
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE" and types["status"] == "SMALLINT"
    assert types["bytes"] == "BIGINT" and types["response_time_ms"] == "DOUBLE"
    (entry,) = log_files(tmp_path)
    assert (entry["lines"], entry["parsed"], entry["unparsed"], entry["kind"], entry["error"]) == (
        100,
        100,
        0,
        "access",
        None,
    )


def test_reingest_never_duplicates_and_survives_logrotate(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    log = tmp_path / "logs" / "access.log"
    log.write_text("\n".join(line(T0 + dt.timedelta(minutes=i)) for i in range(50)) + "\n")
    assert ingest_access_logs(params).rows == 50
    again = ingest_access_logs(params)
    assert again.rows == 0 and [f.skipped_reason for f in again.files] == ["unchanged"]
    assert ingest_access_logs(params, force=True).rows == 50
    assert rows(tmp_path) == [(50,)]
    # logrotate: access.log -> access.log.1 (new access.log), later compressed to .1.gz
    log.rename(tmp_path / "logs" / "access.log.1")
    log.write_text(line(T0 + dt.timedelta(hours=2)) + "\n")
    ingest_access_logs(params)
    assert rows(tmp_path) == [(51,)]
    rotated = tmp_path / "logs" / "access.log.1"
    (tmp_path / "logs" / "access.log.1.gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    ingest_access_logs(params)
    assert rows(tmp_path) == [(51,)]
    # appending to the live file replaces its part
    with log.open("a") as fh:
        fh.write(line(T0 + dt.timedelta(hours=3)) + "\n")
    ingest_access_logs(params)
    assert rows(tmp_path) == [(52,)]


def test_files_beginning_with_the_same_line_keep_their_own_rows(tmp_path: Path) -> None:
    """Date-less formats repeat first lines (a health check): files of different days, and
    two files of one day, must not replace each other's rows."""
    params = load_params(write_params(tmp_path, fmt="tiny"))
    health = "GET /health 200 2 - 0.100 ms"
    for name, extra in (("access-2026-06-09.log", 2), ("access-2026-06-10.log", 3), ("access-2026-06-10b.log", 4)):
        body = [health, *(f"GET /api/items/{i} 200 10 - 1.000 ms" for i in range(extra))]
        (tmp_path / "logs" / name).write_text("\n".join(body) + "\n", encoding="utf-8")
    stamp = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC).timestamp()
    os.utime(tmp_path / "logs" / "access-2026-06-10b.log", (stamp, stamp))
    outcome = ingest_access_logs(params)
    assert outcome.rows == 3 + 4 + 5
    assert len({f.part for f in outcome.files}) == 3
    assert rows(tmp_path) == [(12,)]
    assert ingest_access_logs(params).rows == 0  # unchanged: skipped, nothing lost
    assert ingest_access_logs(params, force=True).rows == 12
    assert rows(tmp_path) == [(12,)]


@pytest.mark.parametrize(("day", "hours"), [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25)])
def test_dst_days_have_23_and_25_hours(tmp_path: Path, day: dt.date, hours: int) -> None:
    params = load_params(write_params(tmp_path))
    start, end = params.day_window(day)
    assert (end - start) == dt.timedelta(hours=hours)
    first = start - dt.timedelta(hours=3)
    minutes = int((end - first).total_seconds() // 60) + 180
    log = tmp_path / "logs" / "access.log"
    log.write_text("\n".join(line(first + dt.timedelta(minutes=i)) for i in range(minutes)) + "\n")
    ingest_access_logs(params)
    store = Store(params.store)
    assert store.days(REQUESTS) == [day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]
    day_rows = store.read(REQUESTS, [day], ["ts"])
    assert len(day_rows) == hours * 60
    assert day_rows["ts"].min() == start and day_rows["ts"].max() == end - dt.timedelta(minutes=1)
    per_day = {e["day"]: e["lines"] for e in log_files(tmp_path)}
    assert per_day[day] == hours * 60
    assert sum(per_day.values()) == minutes


BAD_LINES = [
    b"\x00\x01\x02\x03 binary garbage \xff\xfe",
    line(T0)[:50].encode(),  # truncated
    b'{"msg": "not an access log line", "token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"}',
    b"z" * (2 << 20),  # 2 MiB: over the line limit
]


def test_bad_input_is_counted_sampled_and_redacted(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    good = [line(T0 + dt.timedelta(seconds=i), f"/api/items/{i}") for i in range(20)]
    tricky = [
        line(T0, "/quote", ua='Mozilla "quoted" agent'),
        line(T0, "/utf8", ua="Agent \udcff").encode("utf-8", "surrogateescape").decode("latin-1"),
        line(T0, "/long/" + "a" * (70 * 1024)),
    ]
    data = b"\r\n".join([*(g.encode() for g in good), *BAD_LINES, tricky[0].encode()])
    data += b"\r\n" + line(T0, "/utf8", ua="Agent X").encode().replace(b"Agent X", b"Agent \xff") + b"\n"
    data += line(T0, "/caf\xe9/menu?x=1").encode("latin-1") + b"\n"  # Latin-1 in the URL
    data += tricky[2].encode() + b"\n\n\n"
    (tmp_path / "logs" / "access.log").write_bytes(data)
    outcome = ingest_access_logs(params)
    parsed = {r[0]: r[1] for r in rows(tmp_path, "SELECT path, user_agent FROM t")}
    assert len(parsed) == 24
    assert parsed["/quote"] == 'Mozilla "quoted" agent'
    assert parsed["/utf8"] == "Agent \ufffd"  # each bad byte one replacement character
    assert parsed["/caf\ufffd/menu"] == UA  # path intact: the bad byte did not become '?'/query
    assert ("/long/" + "a" * (70 * 1024)) in parsed
    (entry,) = log_files(tmp_path)
    assert (entry["lines"], entry["parsed"], entry["unparsed"]) == (28, 24, 4)
    assert len(entry["samples"]) == 4
    assert not any("eyJhbGciOiJIUzI1NiJ9" in s for s in entry["samples"])
    assert all(len(s) <= 301 for s in entry["samples"])
    assert outcome.findings() == []  # counted; the ratio finding is the analysis' job


def test_corrupt_gzip_keeps_lines_before_and_reports(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    lines = [line(T0 + dt.timedelta(seconds=i), f"/api/items/{i}") for i in range(30_000)]
    # two members (as `cat a.gz b.gz` makes): the damage in the second costs its lines only
    intact = gzip.compress(("\n".join(lines[:15_000]) + "\n").encode())
    data = bytearray(gzip.compress(("\n".join(lines[15_000:]) + "\n").encode()))
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    (tmp_path / "logs" / "access.log.2.gz").write_bytes(intact + bytes(data))
    outcome = ingest_access_logs(params)
    (count,) = rows(tmp_path)[0]
    assert 5_000 < count < 30_000
    (first_paths,) = rows(tmp_path, "SELECT list(path ORDER BY ts)[1:3] FROM t")[0]
    assert first_paths == ["/api/items/0", "/api/items/1", "/api/items/2"]
    (entry,) = log_files(tmp_path)
    assert entry["error"] and "access.log.2.gz" in entry["error"] and "at byte" in entry["error"]
    # reviewing the file's day, the review's finding (from log_files) reports it; otherwise the pull
    assert outcome.findings(review_day=T0.date()) == []
    (damaged,) = outcome.findings(review_day=T0.date() + dt.timedelta(days=1))
    assert damaged.check == "logs.access_file_damaged" and "at byte" in str(damaged.value)


def test_missing_paths_empty_and_foreign_files(tmp_path: Path) -> None:
    params_path = write_params(tmp_path, paths="logs/*.log")
    text = params_path.read_text().replace("paths: ['logs/*.log']", "paths: ['logs/*.log', 'gone/access.log']")
    params_path.write_text(text)
    (tmp_path / "logs" / "empty.log").write_bytes(b"")
    (tmp_path / "logs" / "app.log").write_text(
        "\n".join(f'{{"level":"info","msg":"started {i}"}}' for i in range(30)) + "\n"
    )
    outcome = ingest_access_logs(load_params(params_path))
    checks = sorted(f.check for f in outcome.findings())
    assert checks == ["logs.access_file_unparsed", "logs.access_path_missing"]
    entries = {Path(e["path"]).name: e for e in log_files(tmp_path)}
    assert (entries["app.log"]["lines"], entries["app.log"]["unparsed"]) == (30, 30)
    assert (entries["empty.log"]["lines"], entries["empty.log"]["parsed"]) == (0, 0)
    assert rows(tmp_path) == [(0,)]


def test_format_without_date_uses_the_file_day(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path, fmt="tiny"))
    (tmp_path / "logs" / "access-2026-06-10.log").write_text("GET /a 200 5 - 1.000 ms\nPOST /b 500 - - 9.000 ms\n")
    ingest_access_logs(params)
    assert Store(params.store).days(REQUESTS) == [dt.date(2026, 6, 10)]
    assert rows(tmp_path, "SELECT count(*), count(ts), sum(response_time_ms) FROM t") == [(2, 0, 10.0)]


def test_json_access_log_with_default_and_custom_mapping(tmp_path: Path) -> None:
    params_path = write_params(tmp_path, fmt="json")
    pino = [
        '{"level":30,"time":1781078400000,"req":{"method":"GET","url":"/api/x/5?a=1","remoteAddress":"::1",'
        '"headers":{"user-agent":"curl/8"}},"res":{"statusCode":201},"responseTime":7,"msg":"request completed"}',
        '{"level":30,"time":1781078401000,"msg":"server listening"}',
        "not json",
    ]
    (tmp_path / "logs" / "pino.log").write_text("\n".join(pino) + "\n")
    ingest_access_logs(load_params(params_path))
    assert rows(tmp_path, "SELECT ts, method, path, status, response_time_ms, user_agent FROM t") == [
        (dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC), "GET", "/api/x/5", 201, 7.0, "curl/8")
    ]
    (entry,) = log_files(tmp_path)
    counts = (entry["lines"], entry["parsed"], entry["unparsed"], entry["non_requests"])
    assert counts == (3, 1, 1, 1)  # "server listening" is a line, not a request

    params_path.write_text(
        params_path.read_text().replace("format: 'json'", "format: json\n      json_fields: {ts: t, status: code}")
    )
    (tmp_path / "logs" / "pino.log").write_text(
        '{"t":"2026-06-10T08:00:00Z","code":404,"req":{"method":"GET","url":"/nope"}}\n'
    )
    ingest_access_logs(load_params(params_path))
    # new content under the same name (rewritten file): the earlier requests stay in the store
    assert rows(tmp_path, "SELECT status, path FROM t ORDER BY status") == [(201, "/api/x/5"), (404, "/nope")]


def test_json_times_without_a_zone_are_local_times(tmp_path: Path) -> None:
    """winston's default timestamp has no zone: it is the params' timezone (Berlin, CEST)."""
    params_path = write_params(tmp_path, fmt="json")
    params_path.write_text(
        params_path.read_text().replace("format: 'json'", "format: json\n      json_fields: {ts: t}")
    )
    stamps = ["2026-06-10 10:00:00", "2026-06-10T10:00:01.5", "2026-06-10T10:00:02Z", "2026-06-10T10:00:03+05:30"]
    lines = [
        json.dumps({"t": t, "req": {"method": "GET", "url": f"/{i}"}, "res": {"statusCode": 200}})
        for i, t in enumerate(stamps)
    ]
    (tmp_path / "logs" / "app.log").write_text("\n".join(lines) + "\n")
    ingest_access_logs(load_params(params_path))
    expected = [
        dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 10, 8, 0, 1, 500000, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 10, 10, 0, 2, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 10, 4, 30, 3, tzinfo=dt.UTC),
    ]
    assert [r[0] for r in rows(tmp_path, "SELECT ts FROM t ORDER BY path")] == expected
    # the exact (fallback) parser reads them the same way
    mapping = load_params(params_path).logs.access[0].json_mapping
    berlin = ZoneInfo("Europe/Berlin")
    assert [parse_json_line(mapping, text, berlin)["ts"] for text in lines] == expected  # type: ignore[index]


def test_source_ingests_review_and_baseline_days_only(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    day = dt.date(2026, 6, 10)
    for offset in range(6):  # 10th back to the 5th, one file per day
        d = day - dt.timedelta(days=offset)
        path = tmp_path / "logs" / f"access-{d}.log"
        noon = dt.datetime.combine(d, dt.time(12), dt.UTC)
        path.write_text(line(noon) + "\n")
        os.utime(path, (noon.timestamp() + 60, noon.timestamp() + 60))
    ctx = ReviewContext(params=params, day=day)
    result = pull_access_logs(ctx)
    assert (result.status, result.rows) == ("ok", 3)  # review day + 2 baseline days
    assert Store(params.store).days(REQUESTS) == [dt.date(2026, 6, 8), dt.date(2026, 6, 9), day]
    assert pull_access_logs(ctx).rows == 0  # nothing changed


def test_source_without_access_logs_is_skipped_and_missing_everything_fails(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("environment: t\nstore: s\noutputs: o\n")
    ctx = ReviewContext(params=load_params(params), day=dt.date(2026, 6, 10))
    assert pull_access_logs(ctx).status == "skipped"
    params2 = write_params(tmp_path, paths="nowhere/")
    result = pull_access_logs(ReviewContext(params=load_params(params2), day=dt.date(2026, 6, 10)))
    assert result.status == "failed" and "nowhere" in (result.error or "")
    assert [f.check for f in result.findings] == ["logs.access_path_missing"]


def test_requests_relation_filters_lazily(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    day = dt.date(2026, 6, 10)
    local = dt.datetime.combine(day, dt.time(0), params.tz)
    data = [
        line(local + dt.timedelta(hours=9), "/api/products/1", 200),
        line(local + dt.timedelta(hours=10, minutes=5), "/api/products/2", 500),
        line(local + dt.timedelta(hours=10, minutes=30), "/api/products/3?x", 503),
        line(local + dt.timedelta(hours=10, minutes=40), "/api/cart", 500),
        line(local + dt.timedelta(hours=23, minutes=59), "/api/products/4", 200),
        line(local + dt.timedelta(hours=24, minutes=1), "/api/products/5", 200),  # next day
    ]
    (tmp_path / "logs" / "access.log").write_text("\n".join(data) + "\n")
    ingest_access_logs(params)
    ctx = ReviewContext(params=params, day=day)
    everything = requests_relation(ctx)
    assert everything is not None and everything.aggregate("count(*)").fetchall() == [(5,)]
    spike = requests_relation(ctx, start="10:00", end="11:00", status="5xx", route="/api/products/:id")
    assert spike is not None
    assert sorted(spike.select("path, status").fetchall()) == [("/api/products/2", 500), ("/api/products/3", 503)]
    frame = requests_relation(ctx, status=[200], client="10.0.0.1").df()
    assert len(frame) == 2 and set(frame["route"]) == {"/api/products/:id"}
    assert requests_relation(ctx, days=[dt.date(2020, 1, 1)]) is None
    evening = requests_relation(ctx, start="23:00", end="24:00")  # up to the end of the day
    assert evening is not None and evening.select("path").fetchall() == [("/api/products/4",)]
    # seconds, and a status taken from a DataFrame (a numpy integer)
    tight = requests_relation(
        ctx, start="10:05:00", end="10:05:01", status=frame["status"].astype("int64").iloc[0] + 300
    )
    assert tight is not None and tight.select("path").fetchall() == [("/api/products/2",)]


def test_registered_as_a_logs_source() -> None:
    from opsreview.sources import registered_sources

    (source,) = [s for s in registered_sources() if s.name == "access_logs"]
    assert source.area == "logs" and source.pull is pull_access_logs


def test_truncated_gzip_read_up_to_the_end_of_data(tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path))
    lines = [line(T0 + dt.timedelta(seconds=i // 10), f"/api/items/{i}") for i in range(200_000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    (tmp_path / "logs" / "access.log.1.gz").write_bytes(data[: len(data) * 2 // 3])
    outcome = ingest_access_logs(params)
    (count,) = rows(tmp_path)[0]
    assert 100_000 < count < 200_000  # DuckDB streamed part of it before failing: no duplicates
    assert rows(tmp_path, "SELECT count(DISTINCT path) FROM t") == [(count,)]
    (entry,) = log_files(tmp_path)
    assert "truncated" in entry["error"] and entry["parsed"] == count
    assert outcome.findings(review_day=T0.date()) == []
    assert [f.check for f in outcome.findings()] == ["logs.access_file_damaged"]
