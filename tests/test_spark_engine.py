"""engine: spark — the log pull on Spark agrees with the DuckDB pull, and fails whole.

Every test pulls the same input with both engines (real files, the real Spark on local[2],
one session for the run: the ``spark_local`` fixture) and compares what each wrote and what
the review makes of it. The review reads the store the same way for both, so its per-route
quantiles (DuckDB ``quantile_cont``) are compared exactly, like every count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from opsreview.context import ReviewContext
from opsreview.demo import generate_demo
from opsreview.findings import Finding
from opsreview.logs.access import aggregates, analysis
from opsreview.logs.access.review import COMPUTED_FROM, AccessLogReview
from opsreview.params import load_params
from opsreview.sources import SourceResult, pull_sources
from tests.conftest import ROOT
from tests.fixtures.express import ExpressServers
from tests.test_express_logs import ISO_REQ, drive_traffic

SPARK = "engine: spark\nspark:\n  master: local[2]\n  conf:\n    spark.sql.shuffle.partitions: '2'\n"
SECTIONS = ("volume", "status", "latency", "routes", "clients", "agents", "outliers", "secrets", "ingest")


def _params(tmp: Path, text: str, engine: str, spark_extra: str = "") -> Path:
    store = tmp / f"store-{engine}"
    path = tmp / f"{engine}.yaml"
    path.write_text(f"{text}\nstore: {store}\n" + (SPARK + spark_extra if engine == "spark" else ""), encoding="utf-8")
    return path


def _pull(params_path: Path, day: dt.date) -> tuple[ReviewContext, list[SourceResult]]:
    ctx = ReviewContext(params=load_params(params_path), day=day)
    return ctx, [r for r in pull_sources(ctx, {"logs"}) if r.name == "access_logs"]


def _rows(store: Path, table: str) -> list[tuple[Any, ...]]:
    files = sorted(str(p) for p in (store / table).glob("date=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    rel = con.read_parquet(files, union_by_name=True)
    return sorted(rel.fetchall(), key=repr)


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits and lists in any order: DuckDB sums floats and gathers
    lists in thread order, so two reviews of the very same store may differ there."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):  # in any order: some evidence lists come from unordered aggregates
        return sorted((_rounded(v) for v in value), key=repr)
    return value


def _finding(f: Finding) -> dict[str, Any]:
    return _rounded({k: v for k, v in dataclasses.asdict(f).items() if k != "evidence"}) | {
        "evidence": repr(_rounded(f.evidence))
    }


def _review(ctx: ReviewContext, aggregated: bool) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    review = AccessLogReview(ctx)
    assert (review.aggregates is not None) == aggregated, "the Spark pull's aggregates (not) read"
    findings, tables = [], {}
    for name in SECTIONS:
        section = getattr(review, name)()
        findings += [_finding(f) for f in section.findings]
        for title, table in section.tables:  # as the notebook shows them
            if title != COMPUTED_FROM:
                tables[f"{name}: {title}"] = table
    return findings, tables


def _cell(value: Any) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, list | tuple):
        return tuple(_cell(v) for v in value)
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "missing"
    return _rounded(value)


def _same_table(key: str, spark: pd.DataFrame, duck: pd.DataFrame) -> None:
    """Equal cell by cell (floats to 9 significant digits)."""
    assert list(spark.columns) == list(duck.columns), key
    assert len(spark) == len(duck), key
    left = [tuple(_cell(v) for v in row) for row in spark.astype(object).itertuples(index=False)]
    right = [tuple(_cell(v) for v in row) for row in duck.astype(object).itertuples(index=False)]
    if left != right:
        print(key, spark.to_string(), duck.to_string(), sep="\n")
    assert left == right, key


def _agree(
    tmp: Path, text: str, day: dt.date, today: bool = False, spark_extra: str = ""
) -> tuple[list[SourceResult], list[dict[str, Any]]]:
    """Pull and review with both engines; everything must be equal. Returns Spark's results."""
    out = {}
    for engine in ("duckdb", "spark"):
        ctx, results = _pull(_params(tmp, text, engine, spark_extra), day)
        out[engine] = (ctx, results)
    (duck_ctx, duck), (spark_ctx, spark) = out["duckdb"], out["spark"]
    assert [(r.status, r.rows, r.error) for r in spark] == [(r.status, r.rows, r.error) for r in duck]
    assert [_finding(f) for r in spark for f in r.findings] == [_finding(f) for r in duck for f in r.findings]
    for table in ("requests", "log_files"):
        duck_rows = _rows(tmp / "store-duckdb", table)
        assert duck_rows, table
        assert _rows(tmp / "store-spark", table) == duck_rows, table
    parts = {p.relative_to(tmp / "store-duckdb") for p in (tmp / "store-duckdb").glob("requests/*/*.parquet")}
    assert {p.relative_to(tmp / "store-spark") for p in (tmp / "store-spark").glob("requests/*/*.parquet")} == parts
    assert not list((tmp / "store-spark" / ".staging").glob("*")), "the job's staging folder is left behind"
    findings, tables = _review(spark_ctx, aggregated=not today)
    duck_findings, duck_tables = _review(duck_ctx, aggregated=False)
    if today:  # the pull leaves a running day to the scan; built here to compare them all the same
        from opsreview.logs.access import spark_aggregates

        assert not list((tmp / "store-spark" / "requests_minutes").glob("*/*.parquet"))
        assert spark_aggregates.build(spark_ctx.params, spark_ctx.store, day, spark_ctx.baseline_days)
    _same_aggregates(spark_ctx, duck_ctx)
    if today:  # the review of today ends at the clock, which moved between the two reviews:
        # compare what each finding says, without its clock-bound window and the logs.gap
        # findings that run up to the clock
        findings, duck_findings = (
            [
                {k: f[k] for k in ("check", "severity", "title", "value", "subject")}
                for f in fs
                if f["check"] != "logs.gap"
            ]
            for fs in (findings, duck_findings)
        )
    else:
        assert tables.keys() == duck_tables.keys()
        for key, table in tables.items():
            _same_table(key, table, duck_tables[key])
    assert findings == duck_findings
    return spark, findings


def _same_aggregates(spark_ctx: ReviewContext, duck_ctx: ReviewContext) -> None:
    """Every table of the Spark pull's aggregates equals what DuckDB computes scanning the rows:
    minute counts (day and baseline), the latency profiles (exact quantiles, both engines), the
    exceedance counts, the 5-minute buckets, the route summary and the clients."""
    from opsreview.logs import baseline

    review = AccessLogReview(duck_ctx)
    assert review.today is not None
    current = aggregates.open_current(
        spark_ctx.store,
        spark_ctx.day,
        review.baseline_days,
        spark_ctx.params.logs.routes,
        review.th,
        spark_ctx.params.timezone,
        review.con,
    )
    assert current is not None, "the Spark pull wrote no current aggregates"

    def same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(
            ours.reset_index(drop=True), theirs.reset_index(drop=True), check_dtype=False, rtol=1e-9
        )

    tz = duck_ctx.params.timezone
    same(current.counts("day"), analysis.minute_counts(review.today))
    today_profile = baseline.latency_profile(review.today, tz)
    same(current.profile("day"), today_profile)
    same(current.over_time(), analysis.latency_over_time(review.today))
    same(current.route_summary(), analysis.route_summary(review.today))
    same(
        analysis.with_agents(review.today, current.top_clients(1_000_000)),
        analysis.top_clients(review.today, 1_000_000),
    )
    requests, rate, p95 = current.kpis()
    for key, value in {"requests": requests, "5xx_rate": rate, "p95_ms": p95}.items():
        expected = review.kpis()[key]
        assert value == (None if expected is None else pytest.approx(expected, rel=1e-9)), key
    if review.baseline is not None:  # a whole day: the baseline is the whole baseline days
        assert review.window == duck_ctx.window
        same(current.counts("base"), analysis.minute_counts(review.baseline))
        base_profile = baseline.latency_profile(review.baseline, tz)
        same(current.profile("base"), base_profile)
        scanned = baseline.compare_latency(review.today, today_profile, base_profile)
        aggregated = baseline.compare_latency(review.today, today_profile, base_profile, above=current.above())
        same(aggregated, scanned)
        assert scanned["above"].notna().any() or not (today_profile["timed"] > 0).any()  # untimed: nothing above


def _split_by(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the files each Spark path of the pull gets (the line split, one task per file)."""
    from opsreview.logs.access import spark_parse

    seen = {"lines": 0, "files": 0}
    by_lines, by_file = spark_parse.ingest_files, spark_parse.ingest_by_file

    def lines(params: Any, store: Any, todo: Any) -> Any:
        seen["lines"] += len(todo)
        return by_lines(params, store, todo)

    def files(params: Any, store: Any, todo: Any) -> Any:
        seen["files"] += len(todo)
        return by_file(params, store, todo)

    monkeypatch.setattr(spark_parse, "ingest_files", lines)
    monkeypatch.setattr(spark_parse, "ingest_by_file", files)
    return seen


@pytest.mark.parametrize("parse", ["lines", "files"])
def test_demo_week_agrees(spark_local: Any, tmp_path: Path, parse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _split_by(monkeypatch)
    truth = generate_demo(tmp_path / "demo", days=8, requests_per_day=500, seed=5)
    text = (ROOT / "params" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../outputs/demo-data", str(tmp_path / "demo")).replace("\nstore:", "\n#store:")
    day = dt.date.fromisoformat(str(truth["review_date"]))
    results, findings = _agree(tmp_path, text, day, spark_extra=f"  parse: {parse}\n")
    assert seen[parse] >= 16 and not seen[{"lines": "files", "files": "lines"}[parse]], seen
    assert results[0].status == "ok" and results[0].rows > 300
    assert findings, "the demo day plants incidents: the review must find some"

    # another time zone (local hours), then a baseline day's part rewritten after the pull:
    # the aggregates are stale, the review scans
    ctx = ReviewContext(params=load_params(tmp_path / "spark.yaml"), day=day)
    review = AccessLogReview(ctx)
    assert review.aggregates is not None
    args = (ctx.store, day, review.baseline_days, ctx.params.logs.routes, review.th)
    assert aggregates.open_current(*args, "America/New_York", review.con) is None
    (part, *_) = ctx.store.parts("requests", ctx.baseline_days[0])
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    review = AccessLogReview(ctx)
    assert review.aggregates is None
    assert "no current Spark aggregates" in review.computed_from()["from"].iloc[0]
    assert review.today is not None
    assert analysis.minute_counts(review.today).equals(review.counts)


def test_json_lines_and_renamed_gzip_agree(spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files the line split does not take - JSON lines (pino-http's fields), gzip content under
    logrotate's ``access.log.1`` - run one task per file on Spark, with the same results."""
    seen = _split_by(monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = []
    for i in range(400):
        status = 500 if i % 37 == 0 else 404 if i % 11 == 0 else 200
        url = f"/api/items/{i % 40}" + ("?token=sk_live_abcdefghijklmnop1234" if i == 7 else "")
        lines.append(
            json.dumps(
                {
                    "level": 30,
                    "time": 1_764_576_000_000 + i * 61_000,  # 2025-12-01 08:00 UTC onwards, ms
                    "req": {"method": "GET" if i % 3 else "POST", "url": url, "remoteAddress": f"10.0.0.{i % 9}"},
                    "res": {"statusCode": status},
                    "responseTime": 5 + (i * 7919) % 300 / 3,
                }
            )
        )
    lines.insert(50, '{"level":30,"msg":"server listening"}')
    lines.insert(90, '{"broken": ')
    (logs / "app.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (logs / "access.log.1").write_bytes(
        gzip.compress(
            ("\n".join(_combined_line(i) for i in range(300)).replace("Dec/2026", "Dec/2025") + "\n").encode()
        )
    )
    text = (
        "environment: t\ntimezone: Europe/Berlin\noutputs: out\nbaseline_days: 1\nlogs:\n  access:\n"
        f"    - host: api-json\n      paths: ['{logs}/app.jsonl']\n      format: json\n"
        f"    - host: api-text\n      paths: ['{logs}/access.log.1']\n      format: combined\n"
    )
    results, _ = _agree(tmp_path, text, dt.date(2025, 12, 1))
    assert results[0].status == "ok" and results[0].rows == 700
    assert seen == {"lines": 0, "files": 2}
    stored = "\n".join(repr(r) for r in _rows(tmp_path / "store-spark", "requests"))
    assert "sk_live_abcdefghijklmnop1234" not in stored and "/api/items/7?" in stored


def test_names_spark_cannot_take_by_name_run_one_task_per_file(
    spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A space, '#', '%' in a path: Spark would read it as another name (or fail the source);
    such files run one task per file, opened by the pull, with the same results."""
    seen = _split_by(monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access #1%41.log").write_text("\n".join(_combined_line(i) for i in range(120)) + "\n", encoding="utf-8")
    (logs / "plain.log").write_text("\n".join(_combined_line(i) for i in range(120, 200)) + "\n", encoding="utf-8")
    text = f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  access:\n    - host: a\n      paths: ['{logs}']\n      format: combined\n"
    results, _ = _agree(tmp_path, text, dt.date(2026, 12, 1))
    assert (results[0].status, results[0].rows) == ("ok", 200)
    assert seen == {"lines": 1, "files": 1}


def _day_lines(day: int, n: int, offset: int = 0) -> str:
    return "".join(
        f'10.0.0.{i % 250} - - [{day:02d}/Dec/2026:10:{i % 60:02d}:00 +0000] "GET /api/items/{i + offset} HTTP/1.1" '
        f'200 {i} "-" "curl/8.0"\n'
        for i in range(n)
    )


def test_files_mode_second_pull_and_rewritten_file_agree(
    spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """parse: files over pulls: an unchanged file is not read again; a rewritten file that no
    longer covers a day loses that day's parts - as with the DuckDB pull."""
    seen = _split_by(monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_text(_day_lines(2, 80) + _day_lines(1, 60), encoding="utf-8")  # late lines of the 1st
    text = f"environment: t\ntimezone: UTC\noutputs: out\nbaseline_days: 1\nlogs:\n  access:\n    - host: a\n      paths: ['{log}']\n      format: combined\n"
    files = "  parse: files\n"
    _agree(tmp_path, text, dt.date(2026, 12, 2), spark_extra=files)
    assert seen == {"lines": 0, "files": 1}
    _agree(tmp_path, text, dt.date(2026, 12, 2), spark_extra=files)
    assert seen == {"lines": 0, "files": 1}, "the unchanged file was read again"
    spark_store = tmp_path / "store-spark"
    assert list(spark_store.glob("requests/date=2026-12-01/*.parquet"))
    # rewritten with the same first line (the same part), without the 1st any more
    log.write_text(_day_lines(2, 80) + _day_lines(2, 10, offset=1000), encoding="utf-8")
    results, _ = _agree(tmp_path, text, dt.date(2026, 12, 2), spark_extra=files)
    assert seen == {"lines": 0, "files": 2} and results[0].rows == 90
    assert not list(spark_store.glob("requests/date=2026-12-01/*.parquet"))


@pytest.mark.parametrize("parse", ["lines", "files"])
def test_a_store_the_executors_cannot_see_fails_the_job_and_keeps_the_store(
    spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parse: str
) -> None:
    """The driver's staging folder without its mark, as a task on a node that does not mount
    the store would see it: every task refuses, the source fails, nothing is published or dropped."""
    from opsreview.logs.access import spark_parse

    params = _one_file_params(tmp_path)
    params.write_text(params.read_text(encoding="utf-8") + f"  parse: {parse}\n", encoding="utf-8")
    day = dt.date(2026, 12, 1)
    _, (first,) = _pull(params, day)
    assert first.status == "ok"
    store = tmp_path / "store-spark"
    log = tmp_path / "logs" / "access.log"
    log.write_text(log.read_text(encoding="utf-8") + _combined_line(99) + "\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")}
    monkeypatch.setattr(spark_parse, "prepare_staging", lambda folder: folder.mkdir(parents=True))
    _, (second,) = _pull(params, day)
    assert second.status == "failed"
    assert "not visible from this Spark executor" in str(second.error)
    assert "\n" not in str(second.error) and len(str(second.error)) < 600
    assert {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")} == before
    assert not list((store / ".staging").glob("*"))


@pytest.mark.parametrize("log_format", ["combined", ISO_REQ], ids=["combined", "custom-iso-req"])
def test_express_logs_agree(spark_local: Any, express_server: ExpressServers, tmp_path: Path, log_format: str) -> None:
    server = express_server("hardened", log_format, fresh=True)
    sent = drive_traffic(server)
    lines = server.wait_for_log_lines(len(sent))
    server.stop()
    # Lines the fast path cannot vouch for: a quote inside the user agent (the exact parser
    # takes it), and damage no parser takes (counted unparsed, one of the samples).
    quoted = lines[0].replace("curl", 'curl "quoted"') if "curl" in lines[0] else lines[0] + '"'
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    log.write_text("\n".join([*lines, quoted, "GARBAGE \x00 not a request", *lines[:3]]) + "\n", encoding="utf-8")
    fmt = log_format.replace("'", "''")
    text = (
        "environment: test\ntimezone: UTC\noutputs: out\n"
        f"logs:\n  access:\n    - host: api-1\n      paths: ['{log}']\n      format: '{fmt}'\n"
    )
    _agree(tmp_path, text, dt.datetime.now(dt.UTC).date(), today=True)
    (row,) = (r for r in _rows(tmp_path / "store-spark", "log_files"))
    names = pq.read_schema(next((tmp_path / "store-spark" / "log_files").glob("*/*.parquet"))).names
    counts = dict(zip(names, row, strict=True))
    assert counts["unparsed"] == 1 and counts["lines"] == len(sent) + 5
    assert counts["parsed"] == len(sent) + 4, "the quoted line is the exact parser's"


def _combined_line(i: int) -> str:
    return (
        f'10.0.0.{i % 250} - - [01/Dec/2026:10:{i % 60:02d}:00 +0100] "GET /api/items/{i} HTTP/1.1" 200 {i} '
        '"-" "curl/8.0"'
    )


def test_unreadable_object_fails_the_source_and_keeps_the_store(spark_local: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access-2026-12-01.log.gz").write_bytes(gzip.compress(
        ("\n".join(_combined_line(i) for i in range(500)) + "\n").encode()
    ))  # fmt: skip
    text = f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  access:\n    - host: a\n      paths: ['{logs}']\n      format: combined\n"
    params = _params(tmp_path, text, "spark")
    day = dt.date(2026, 12, 1)
    _, (first,) = _pull(params, day)
    assert (first.status, first.rows) == ("ok", 500)
    store = tmp_path / "store-spark"
    before = {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")}
    assert before

    damaged = gzip.compress(("\n".join(_combined_line(i) for i in range(500, 5000)) + "\n").encode())
    middle = len(damaged) // 2
    (logs / "access-2026-12-01b.log.gz").write_bytes(damaged[:middle] + bytes(64) + damaged[middle + 64 :])
    _, (second,) = _pull(params, day)

    assert second.status == "failed"
    assert second.error
    assert [f.check for f in second.findings] == ["logs.source_failed"]
    assert {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")} == before  # nothing half-written
    assert not list((store / ".staging").glob("*"))


def test_missing_path_is_a_finding(spark_local: Any, tmp_path: Path) -> None:
    text = f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  access:\n    - host: a\n      paths: ['{tmp_path / 'nowhere'}/*.log']\n      format: combined\n"
    _, (result,) = _pull(_params(tmp_path, text, "spark"), dt.date(2026, 12, 1))
    assert result.status == "failed"
    assert [f.check for f in result.findings] == ["logs.access_path_missing"]
    assert not (tmp_path / "store-spark" / "requests").exists()


def _one_file_params(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text("\n".join(_combined_line(i) for i in range(20)) + "\n", encoding="utf-8")
    text = (
        f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  access:\n    - host: a\n      paths: ['{logs}']\n"
        "      format: combined\n"
    )
    return _params(tmp_path, text, "spark")


def test_lost_session_is_replaced(spark_local: Any, tmp_path: Path) -> None:
    """The session stopped under the pull (a cluster that dropped the driver's context): the
    next pull starts a new one instead of failing on the dead one."""
    from opsreview import sparkengine

    params = _one_file_params(tmp_path)
    sparkengine.session(load_params(params).spark).stop()
    _, (result,) = _pull(params, dt.date(2026, 12, 1))
    assert (result.status, result.rows, result.error) == ("ok", 20, None)


def test_unstartable_session_is_a_failed_source(spark_local: Any, tmp_path: Path) -> None:
    """No session can be had (here: a master URL Spark cannot use): a failed source with a
    finding naming the master, and nothing written."""
    params = _one_file_params(tmp_path)
    params.write_text(params.read_text().replace("master: local[2]", "master: nowhere://cluster"))
    _, (result,) = _pull(params, dt.date(2026, 12, 1))
    assert result.status == "failed"
    assert "cannot start a Spark session on nowhere://cluster" in (result.error or "")
    assert [f.check for f in result.findings] == ["logs.source_failed"]
    assert not list((tmp_path / "store-spark").glob("requests/*/*.parquet"))


LINES = [
    '10.0.0.1 - - [01/Dec/2026:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8.0" 3.5 ms',
    '10.0.0.1 - bob [01/Dec/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 - "https://x/ y" "Mozilla/5.0 (X11)" 1 ms',
    '10.0.0.1 - - [01/Dec/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 12 "-" "ua "quoted" here" 3.5 ms',
    '10.0.0.1 - - [01/Dec/2026:10:00:00 +0100] "GET /a b HTTP/1.1" 200 12 "-" "ua" 3.5 ms',
    '10.0.0.1 - a b [01/Dec/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 12 "-" "ua" 3.5 ms',
    "10.0.0.1 - - GET /a HTTP/1.1 404 0 - 2.250 ms",
    "GET /api/x 500 17 - 0.5 ms",
    "GET /api/x 500 - - - ms",
    '10.0.0.1 - - [01/Dec/2026:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 304 -',
    "10.0.0.1 - GET /a?q=1 HTTP/1.1 404 0 - 2.250 ms",
    "10.0.0.1 GET /a HTTP/1.1 404 0 - 2.250 ms",
    '2026-12-01T10:00:00.123Z GET /a?x=1 200 5 1.5 ms 1.75 ms "req-1" "-" "curl/8.0"',
    '2026-12-01T10:00:00.123Z GET /a 200 5 1.5 ms 1.75 ms "req-1" "-" "ua "q" x"',
    '2026-12-01T10:00:00Z GET /a b 200 5 1.5 ms 1.75 ms "r" "-" "ua"',
]


@pytest.mark.parametrize("name", ["combined", "combined_rt", "common", "short", "tiny", ISO_REQ])
def test_fast_path_regex_takes_only_what_the_exact_parser_splits_the_same(name: str) -> None:
    """Wherever the fast path's regex matches (Python's re reads the same syntax as Java's
    here), its groups are the exact parser's values; lines it refuses are the exact parser's."""

    from opsreview.logs.access.morgan import compile_format
    from opsreview.logs.access.spark_parse import spark_regex

    fmt = compile_format(name)
    pattern = spark_regex(fmt)
    assert pattern is not None
    fast = re.compile(pattern)
    matched = 0
    for line in [*LINES, *(x.rsplit(" ", 2)[0] for x in LINES)]:
        strict = fast.match(line)
        exact = fmt.regex.match(line)
        if strict is None:
            continue
        matched += 1
        assert exact is not None, line
        assert list(strict.groups()) == [exact.group(f"t{i}") for i in range(len(fmt.tokens))], line
    assert matched, "no sample line is in this format: the test checks nothing"


# -- application logs ------------------------------------------------------------------------
APP_TABLES = ("app_events", "log_files")


def _pull_app(params_path: Path, day: dt.date) -> tuple[ReviewContext, list[SourceResult]]:
    ctx = ReviewContext(params=load_params(params_path), day=day)
    return ctx, [r for r in pull_sources(ctx, {"errors"}) if r.name == "app_logs"]


def _app_review(ctx: ReviewContext) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    from opsreview.logs.app.review import AppErrorReview

    review = AppErrorReview(ctx)
    findings, tables = [], {}
    for name in ("overview", "fingerprints", "ingest"):
        section = getattr(review, name)()
        findings += [_finding(f) for f in section.findings]
        for title, table in section.tables:  # a list of (title, DataFrame), as the notebook shows them
            tables[f"{name}: {title}"] = table
    return findings + [_finding(f) for f in review.findings], tables


def _agree_app(
    tmp: Path, text: str, day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[SourceResult], list[dict[str, Any]], list[Path]]:
    """Pull the application logs and review them with both engines; everything must be
    equal. Returns Spark's results and findings, and the files the Spark jobs were given."""
    from opsreview.logs.app import spark_parse

    on_spark: list[Path] = []
    real = spark_parse.ingest_files

    def recording(params: Any, store: Any, source: Any, todo: Any) -> int:
        on_spark.extend(info.path for info, _ in todo)
        return real(params, store, source, todo)

    monkeypatch.setattr(spark_parse, "ingest_files", recording)
    out = {engine: _pull_app(_params(tmp, text, engine), day) for engine in ("duckdb", "spark")}
    (duck_ctx, duck), (spark_ctx, spark) = out["duckdb"], out["spark"]
    assert duck and [(r.status, r.rows, r.error) for r in spark] == [(r.status, r.rows, r.error) for r in duck]
    assert [_finding(f) for r in spark for f in r.findings] == [_finding(f) for r in duck for f in r.findings]
    for table in APP_TABLES:
        duck_rows = _rows(tmp / "store-duckdb", table)
        assert duck_rows, table
        assert _rows(tmp / "store-spark", table) == duck_rows, table
        parts = {p.relative_to(tmp / "store-duckdb") for p in (tmp / "store-duckdb").glob(f"{table}/*/*.parquet")}
        assert {p.relative_to(tmp / "store-spark") for p in (tmp / "store-spark").glob(f"{table}/*/*.parquet")} == parts
    assert not list((tmp / "store-spark" / ".staging").glob("*")), "the job's staging folder is left behind"
    findings, tables = _app_review(spark_ctx)
    duck_findings, duck_tables = _app_review(duck_ctx)
    assert findings == duck_findings
    assert tables.keys() == duck_tables.keys() and tables
    for key, table in tables.items():
        _same_table(key, table, duck_tables[key])
    return spark, findings, on_spark


def test_demo_week_application_logs_agree(spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truth = generate_demo(tmp_path / "demo", days=8, requests_per_day=500, seed=5)
    text = (ROOT / "params" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../outputs/demo-data", str(tmp_path / "demo")).replace("\nstore:", "\n#store:")
    day = dt.date.fromisoformat(str(truth["review_date"]))
    results, findings, on_spark = _agree_app(tmp_path, text, day, monkeypatch)
    assert results[0].status == "ok" and results[0].rows > 0
    demo_files = sorted(p for p in (tmp_path / "demo" / "app").rglob("*") if p.is_file())
    assert demo_files and sorted(on_spark) == demo_files, "every demo application log went through Spark"
    assert any(f["check"].startswith("errors.") for f in findings), "the demo day plants application errors"


SECRET_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLXZhbHVl.c2lnbmF0dXJlMTIz"
SECRET_KEY = "sk_live_abcdefghijklmnopqrstuvwx"


def _text_app_log() -> str:
    return (
        "2026-12-01T09:00:00.120Z INFO server listening on 3000\n"
        "this line is before nothing: damaged\n"
        f"2026-12-01T10:15:02.001Z ERROR payment failed for key {SECRET_KEY}\n"
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at charge (/app/src/pay.js:42:17)\n"
        f"    at call (/app/src/http.js:9:3) Authorization: Bearer {SECRET_TOKEN}\n"
        "2026-12-01T10:15:03.500Z WARN retrying\n"
        "\x00\x00\x00 copytruncate left this\n"
        "2026-12-01T23:59:59.999Z ERROR late\n"
        "Error: late\n"
        "    at tick (/app/src/timer.js:1:1)\n"
    )


def _json_app_log() -> str:
    rows: list[dict[str, Any]] = [
        {"level": 30, "time": 1764583200000, "msg": "started", "pid": 1},
        {
            "level": 50,
            "time": "2026-12-01T11:00:00.000Z",
            "msg": "checkout failed",
            "err": {
                "type": "StripeError",
                "message": f"Invalid API key {SECRET_KEY}",
                "stack": f"StripeError: Invalid API key\n    at pay (/app/src/stripe.js:7:1)\n    Bearer {SECRET_TOKEN}",
            },
        },
        {"level": "error", "timestamp": "2026-12-02T00:30:00+01:00", "message": "next day by the zone"},
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(1, '{"level": "error", "msg": "cut off mid-wri')  # a damaged line
    lines.append(f"Authorization: Bearer {SECRET_TOKEN} (not JSON)")
    return "\n".join(lines) + "\r\n"


def test_text_and_json_logs_with_stacks_damage_and_secrets_agree(
    spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multi-line stacks, damaged lines, a NUL line, a gzip file under a name without .gz, a
    gzip file damaged in the middle (its error and offset recorded, its good members kept), a
    secret in messages, stacks and unparsed lines: the same rows with both engines, and no
    secret in the Spark store."""
    logs = tmp_path / "logs"
    (logs / "api").mkdir(parents=True)
    (logs / "worker").mkdir()
    (logs / "worker" / "app.log").write_text(_text_app_log(), encoding="utf-8")
    (logs / "worker" / "app.log.1").write_bytes(gzip.compress(_text_app_log().replace("12-01", "11-30").encode()))
    (logs / "api" / "app.log").write_text(_json_app_log(), encoding="utf-8")
    first = gzip.compress(_json_app_log().replace("2026-12-0", "2026-11-2").encode())
    second = gzip.compress(_json_app_log().encode())
    damaged = first + second[:20] + bytes(16) + second[36:]
    (logs / "api" / "app.log.2.gz").write_bytes(damaged)
    kept = logs / "worker" / "app[old].log"  # a name Hadoop would read as a glob: stays on the DuckDB pull
    kept.write_text(_text_app_log().replace("12-01", "11-29"), encoding="utf-8")
    (logs / "worker" / "current.log").symlink_to(logs / "worker" / "app.log")  # one file, two names
    text = (
        "environment: t\ntimezone: Europe/Paris\noutputs: out\nlogs:\n  app:\n"
        f"    - host: api-1\n      paths: ['{logs / 'api'}']\n      format: json\n"
        f"    - host: worker-1\n      paths: ['{logs / 'worker'}']\n      format: text\n"
    )
    results, _, on_spark = _agree_app(tmp_path, text, dt.date(2026, 12, 1), monkeypatch)
    assert len(on_spark) == 4 and kept not in on_spark, "every file but the glob-like name went to Spark"
    assert {p.name for p in on_spark} == {"app.log", "app.log.1", "app.log.2.gz"}  # a symlink's file once
    assert results[0].status == "ok"
    store = tmp_path / "store-spark"
    events = duckdb.connect().read_parquet(str(store / "app_events/*/*.parquet"), union_by_name=True).df()
    stacks = events[events["message"].str.startswith("payment failed")]["stack"].tolist()
    assert len(stacks) == 3 and all("at charge (/app/src/pay.js:42:17)" in s for s in stacks), (
        "the stack stays with its event"
    )
    stored = json.dumps(_rows(store, "app_events") + _rows(store, "log_files"), default=str)
    assert SECRET_KEY not in stored and SECRET_TOKEN not in stored and SECRET_TOKEN[20:40] not in stored
    con = duckdb.connect()
    files = con.read_parquet(str(store / "log_files/*/*.parquet"), union_by_name=True).df()
    errors = files[files["error"].notna()]
    assert errors["path"].tolist() == [str(logs / "api" / "app.log.2.gz")], "the damaged gzip's error is recorded"
    assert files["unparsed"].sum() >= 4 and files["parsed"].sum() > 0, "damaged lines are counted unparsed"


def test_failed_application_log_job_keeps_the_store(
    spark_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that fails in its tasks (here: a file logrotate removed after Spark listed it,
    while the other file's parts were being staged) is a failed source with a finding, and the
    store keeps exactly what it had; no staging folder is left behind."""
    from opsreview.logs.app import spark_parse

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text(_text_app_log(), encoding="utf-8")
    text = (
        f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  app:\n    - host: w\n"
        f"      paths: ['{logs}']\n      format: text\n"
    )
    params = _params(tmp_path, text, "spark")
    day = dt.date(2026, 12, 1)
    _, (first,) = _pull_app(params, day)
    assert first.status == "ok" and first.rows > 0
    store = tmp_path / "store-spark"
    before = {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")}
    assert before

    # new content for the kept file (its parts would be replaced), and a file that goes away
    (logs / "app.log").write_text(_text_app_log() * 200 + "2026-12-02T01:00:00Z ERROR more\n", encoding="utf-8")
    doomed = logs / "app.log.1"
    doomed.write_text(_text_app_log().replace("12-01", "11-30"), encoding="utf-8")
    real = spark_parse.job_dataframe

    def rotated_meanwhile(*args: Any) -> Any:
        frame = real(*args)  # Spark has listed the files
        doomed.unlink()  # logrotate removes one before the tasks read it
        return frame

    monkeypatch.setattr(spark_parse, "job_dataframe", rotated_meanwhile)
    _, (second,) = _pull_app(params, day)
    assert second.status == "failed" and second.error
    assert "app.log.1" in second.error and "Spark job" in second.error, second.error
    assert "\n" not in second.error and "Py4J" not in second.error, "one clear line"
    assert [f.check for f in second.findings] == ["errors.source_failed"]
    assert {p: p.read_bytes() for p in store.glob("*/date=*/*.parquet")} == before  # nothing half-written
    assert not list((store / ".staging").glob("*"))


def test_app_logs_spark_missing_path_is_a_finding(spark_local: Any, tmp_path: Path) -> None:
    text = (
        f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  app:\n    - host: w\n"
        f"      paths: ['{tmp_path / 'nowhere'}/*.log']\n      format: text\n"
    )
    _, (result,) = _pull_app(_params(tmp_path, text, "spark"), dt.date(2026, 12, 1))
    assert [f.check for f in result.findings] == ["errors.app_log_missing"]
    assert not (tmp_path / "store-spark" / "app_events").exists()


def test_what_goes_to_spark_for_application_logs(tmp_path: Path) -> None:
    """Files over binaryFile's limit (as the params' spark.conf sets it) and names Hadoop would
    read as a glob or a hidden file stay on the DuckDB pull; a gzip file under any name goes."""
    from opsreview.logs.app.spark_parse import readable
    from opsreview.logs.files import expand_paths

    logs = tmp_path / "logs"
    logs.mkdir()
    for name, size in (("app.log", 100), ("big.log", 300), ("app{1}.log", 10), ("_app.log", 10), ("app.log.1", 10)):
        (logs / name).write_bytes(gzip.compress(b"x") if name == "app.log.1" else b"x" * size)
    text = "environment: t\ntimezone: UTC\noutputs: out\n"
    conf = "spark:\n  conf:\n    spark.sql.sources.binaryFile.maxLength: '200'\n"
    params = load_params(_params(tmp_path, text + conf, "duckdb"))
    files, _ = expand_paths([logs])
    assert sorted(f.path.name for f in files if readable(f, params)) == ["app.log", "app.log.1"]
    assert sorted(f.path.name for f in files if readable(f)) == ["app.log", "app.log.1", "big.log"]


def test_unknown_json_field_fails_the_spark_pull_before_any_job(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text('{"level": "error", "time": "2026-12-01T10:00:00Z", "msg": "x"}\n', encoding="utf-8")
    text = (
        f"environment: t\ntimezone: UTC\noutputs: out\nlogs:\n  app:\n    - host: w\n"
        f"      paths: ['{logs}']\n      format: json\n      json_fields: {{severity: lvl}}\n"
    )
    _, (result,) = _pull_app(_params(tmp_path, text, "spark"), dt.date(2026, 12, 1))
    assert result.status == "failed" and "logs.app[w].json_fields: unknown column(s) severity" in (result.error or "")
    assert not (tmp_path / "store-spark" / "app_events").exists()
