"""Application-log ingest: winston/pino JSON lines and text with stack traces, real files, bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.context import ReviewContext, open_review
from opsreview.exceptions import SourceError
from opsreview.logs.app.parse import parse_app_log
from opsreview.logs.app.source import pull_app_logs
from opsreview.store import Store

TZ = "Europe/Berlin"
DAY = dt.datetime.now(ZoneInfo(TZ)).date() - dt.timedelta(days=3)


def iso(hhmm: str, day: dt.date = DAY) -> str:
    """A local time of ``day`` as a UTC ISO string, as winston writes it."""
    local = dt.datetime.combine(day, dt.time(*map(int, hhmm.split(":"))), ZoneInfo(TZ))
    return local.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(hhmm: str, day: dt.date = DAY) -> int:
    return int(dt.datetime.combine(day, dt.time(*map(int, hhmm.split(":"))), ZoneInfo(TZ)).timestamp() * 1000)


STACK = "TypeError: x is not a function\n    at handler (/app/src/orders.js:12:5)\n    at next (/app/node_modules/express/lib/router/route.js:149:13)"
WINSTON = [
    {"level": "info", "message": "order created", "timestamp": iso("10:00"), "service": "shop", "requestId": "a1"},
    {"level": "error", "message": "x is not a function", "timestamp": iso("10:01"), "stack": STACK, "service": "shop"},
    {"level": "warn", "message": "jwt expired", "timestamp": iso("10:02"), "name": "TokenExpiredError"},
]
PINO = [
    {"level": 30, "time": epoch_ms("11:00"), "pid": 7, "hostname": "h", "msg": "listening"},
    {
        "level": 50,
        "time": epoch_ms("11:01"),
        "pid": 7,
        "hostname": "h",
        "msg": "request failed",
        "err": {
            "type": "MongoServerError",
            "message": "E11000",
            "stack": "MongoServerError: E11000\n    at save (/app/src/u.js:3:1)",
            "code": 11000,
        },
    },
    {"level": 60, "time": epoch_ms("11:02"), "msg": "crash", "name": "shop-api"},
]
TEXT = (
    "garbage before the first event\n"
    f"{DAY} 12:00:00.123 INFO processed job id=1\n"
    f"{DAY}T12:01:00Z ERROR PaymentWebhookError: signature failed for evt_1a2b3c\n"
    "    at verifySignature (/app/src/webhooks/stripe.js:31:11)\n"
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
    f"[{DAY} 12:02:00] [worker-3] WARN: queue slow\n"
    f"{DAY} 12:03:00 something without a level\n"
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_winston_json_lines(tmp_path: Path) -> None:
    parsed = parse_app_log(write(tmp_path / "app.log", jsonl(WINSTON)), "json", "api-1", TZ, DAY)
    df = parsed.events.to_pandas()
    assert df["level"].tolist() == ["info", "error", "warn"]
    assert df["ts"].iloc[0] == pd.Timestamp(iso("10:00"))
    assert df["stack"].iloc[1] == STACK
    assert df["error_type"].tolist()[1:] == ["TypeError", "TokenExpiredError"]
    assert json.loads(df["extra"].iloc[0]) == {"service": "shop", "requestId": "a1"}
    assert df["fingerprint"].isna().tolist() == [True, False, False]  # info events are not fingerprinted
    assert set(df["day"]) == {DAY} and set(df["host"]) == {"api-1"}
    assert parsed.days[["lines", "parsed", "unparsed"]].values.tolist() == [[3, 3, 0]]


def test_pino_numeric_levels_epoch_ms_and_err_object(tmp_path: Path) -> None:
    df = parse_app_log(write(tmp_path / "app.log", jsonl(PINO)), "json", "api-1", TZ, DAY).events.to_pandas()
    assert df["level"].tolist() == ["info", "error", "fatal"]
    assert df["ts"].iloc[1] == pd.Timestamp(epoch_ms("11:01"), unit="ms", tz="UTC")
    assert df["message"].iloc[1] == "request failed: E11000"  # what pino said, then what the error says
    assert df["error_type"].iloc[1] == "MongoServerError"
    assert df["stack"].iloc[1].startswith("MongoServerError: E11000")
    assert json.loads(df["extra"].iloc[1]) == {"pid": 7, "hostname": "h", "err": {"code": 11000}}
    # pino's `name` is the logger's name, not an error type
    assert df["error_type"].iloc[2] is None or pd.isna(df["error_type"].iloc[2])


def test_text_log_with_multiline_stack(tmp_path: Path) -> None:
    parsed = parse_app_log(write(tmp_path / "worker.log", TEXT), "text", "worker-1", TZ, DAY)
    df = parsed.events.to_pandas()
    assert df["level"].tolist() == ["info", "error", "warn", "info"]
    # zone-less timestamps are local time of the params' timezone
    assert df["ts"].iloc[0] == pd.Timestamp(dt.datetime.combine(DAY, dt.time(12, 0, 0, 123000), ZoneInfo(TZ)))
    assert df["ts"].iloc[1] == pd.Timestamp(f"{DAY}T12:01:00Z")
    assert df["message"].iloc[1] == "PaymentWebhookError: signature failed for evt_1a2b3c"
    assert df["stack"].iloc[1].count("\n") == 2 and "verifySignature" in df["stack"].iloc[1]
    assert df["error_type"].iloc[1] == "PaymentWebhookError"
    assert df["message"].iloc[2] == "queue slow"
    assert parsed.days[["lines", "parsed", "unparsed"]].values.tolist() == [[7, 6, 1]]
    assert parsed.days["samples"].iloc[0] == ["garbage before the first event"]


def test_text_log_thread_tag_and_error_type_from_the_stack(tmp_path: Path) -> None:
    """log4js/logback style: `<ts> LEVEL [thread] message`, the exception on the next line."""
    text = (
        f"{DAY} 10:00:00,123 ERROR [main] Request failed for user 42\n"
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at getUser (/app/src/users.js:10:5)\n"
        f"{DAY} 10:00:01,000 INFO [http-nio-8080-exec-1] started\n"
    )
    df = parse_app_log(write(tmp_path / "app.log", text), "text", "api-1", TZ, DAY).events.to_pandas()
    assert df["message"].tolist() == ["Request failed for user 42", "started"]
    assert df["level"].tolist() == ["error", "info"]
    assert df["error_type"].iloc[0] == "TypeError" and pd.isna(df["error_type"].iloc[1])


def test_bad_lines_are_counted_with_redacted_samples(tmp_path: Path) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWRlbW8"
    content = (
        jsonl(WINSTON[:1]).encode()
        + b'{"level":"info","message":"truncated\n'
        + f"not json at all token={jwt}\r\n".encode()
        + b'{"level":"info","message":"no time"}\n'
        + b"\xff\xfe binary \x00 garbage\n"
        + jsonl(WINSTON[1:]).replace("\n", "\r\n").encode()
    )
    parsed = parse_app_log(write(tmp_path / "app.log", content), "json", "api-1", TZ, DAY)
    assert parsed.events.num_rows == 3
    row = parsed.days.iloc[0]
    assert (row["lines"], row["parsed"], row["unparsed"]) == (7, 3, 4)
    assert len(row["samples"]) == 4
    assert not any(jwt in s for s in row["samples"])


def test_gzip_and_corrupt_gzip(tmp_path: Path) -> None:
    data = gzip.compress(jsonl(WINSTON * 200).encode())
    good = parse_app_log(write(tmp_path / "app.log.gz", data), "json", "api-1", TZ, DAY)
    assert good.events.num_rows == 600 and good.error is None
    # a second member damaged in its middle costs its own lines only (a gzip checksum mismatch)
    broken = data + data[: len(data) // 2] + b"\x00" * 64 + data[len(data) // 2 + 64 :]
    damaged = parse_app_log(write(tmp_path / "broken.log.gz", broken), "json", "api-1", TZ, DAY)
    assert damaged.error and "broken.log.gz" in damaged.error and "byte" in damaged.error
    assert damaged.events.num_rows == 600  # every event of the intact member, none of the damaged one


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\x00\x01\x02" * 100])
def test_empty_or_binary_files_do_not_crash(tmp_path: Path, content: bytes) -> None:
    parsed = parse_app_log(write(tmp_path / "app.log", content), "json", "api-1", TZ, DAY)
    assert parsed.events.num_rows == 0
    assert int(parsed.days["parsed"].sum()) == 0


def test_json_fields_override(tmp_path: Path) -> None:
    rows = [{"severity": "ERROR", "meta": {"when": iso("09:00")}, "text": "custom"}]
    df = parse_app_log(
        write(tmp_path / "app.log", jsonl(rows)), "json", "api-1", TZ, DAY, {"ts": "meta.when", "message": "text"}
    ).events.to_pandas()
    assert df[["level", "message"]].values.tolist() == [["error", "custom"]]
    assert df["ts"].iloc[0] == pd.Timestamp(iso("09:00"))


# -- the registered source, against a store -----------------------------------------------------


def review_for(tmp_path: Path, app: str, baseline_days: int = 7) -> ReviewContext:
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: {baseline_days}\n"
        f"logs:\n  app:\n{app}",
        encoding="utf-8",
    )
    return open_review(params, DAY)


def stored(store: Store, table: str) -> pd.DataFrame:
    return store.read(table, store.days(table))


def test_pull_splits_days_and_is_idempotent(tmp_path: Path) -> None:
    before_midnight = {"level": "error", "message": "late", "timestamp": iso("23:59", DAY - dt.timedelta(days=1))}
    write(tmp_path / "logs/api/app.log", jsonl([before_midnight, *WINSTON]))
    write(tmp_path / "logs/worker/worker.log", TEXT)
    review = review_for(
        tmp_path,
        '    - host: api-1\n      paths: ["logs/api/"]\n      format: json\n'
        '    - host: worker-1\n      paths: ["logs/worker/*.log"]\n      format: text\n',
    )
    first = pull_app_logs(review)
    assert first.status == "ok" and first.rows == 8 and not first.findings
    store = review.store
    events = stored(store, "app_events")
    assert len(events) == 8
    assert store.days("app_events") == [DAY - dt.timedelta(days=1), DAY]
    files = stored(store, "log_files")
    assert set(files["kind"]) == {"app"}
    assert files.groupby("host")["parsed"].sum().to_dict() == {"api-1": 4, "worker-1": 6}
    # again: unchanged files are skipped, nothing is duplicated
    assert pull_app_logs(review).rows == 0
    assert len(stored(store, "app_events")) == 8
    # a file that grew is read again and replaces its parts
    with open(tmp_path / "logs/api/app.log", "a", encoding="utf-8") as fh:
        fh.write(jsonl(PINO))
    assert pull_app_logs(review).rows == 7
    assert len(stored(store, "app_events")) == 11


def test_logrotate_rename_keeps_each_event_once(tmp_path: Path) -> None:
    """app.log -> app.log.1 (new app.log), later .1.gz: the renamed file keeps its part."""
    app = write(tmp_path / "logs/app.log", jsonl(WINSTON))
    review = review_for(tmp_path, '    - host: api-1\n      paths: ["logs/"]\n      format: json\n')
    assert pull_app_logs(review).rows == len(WINSTON)
    app.rename(tmp_path / "logs/app.log.1")
    write(tmp_path / "logs/app.log", jsonl(PINO))
    pull_app_logs(review)
    events = stored(review.store, "app_events")
    assert len(events) == len(WINSTON) + len(PINO)
    assert events["message"].value_counts().max() == 1  # no event twice
    rotated = tmp_path / "logs/app.log.1"
    (tmp_path / "logs/app.log.1.gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    pull_app_logs(review)
    assert len(stored(review.store, "app_events")) == len(WINSTON) + len(PINO)


def test_rewritten_file_drops_the_days_it_no_longer_covers(tmp_path: Path) -> None:
    yesterday = {"level": "error", "message": "late", "timestamp": iso("12:00", DAY - dt.timedelta(days=1))}
    app = write(tmp_path / "logs/app.log", jsonl([yesterday, *WINSTON]))
    review = review_for(tmp_path, '    - host: api-1\n      paths: ["logs/"]\n      format: json\n')
    pull_app_logs(review)
    assert review.store.days("app_events") == [DAY - dt.timedelta(days=1), DAY]
    app.write_text(jsonl([yesterday, *WINSTON[:2]]), encoding="utf-8")  # same first line, fewer events
    os.utime(app, None)
    pull_app_logs(review)
    assert len(stored(review.store, "app_events")) == 3
    app.write_text(jsonl([yesterday]), encoding="utf-8")  # nothing of DAY left in the file
    pull_app_logs(review)
    assert review.store.days("app_events") == [DAY - dt.timedelta(days=1)]
    assert len(stored(review.store, "app_events")) == 1


def test_pull_reports_missing_paths_and_skips_old_files(tmp_path: Path) -> None:
    old = write(tmp_path / "logs/old.log", jsonl(WINSTON))
    stamp = (dt.datetime.now() - dt.timedelta(days=40)).timestamp()
    os.utime(old, (stamp, stamp))
    review = review_for(
        tmp_path,
        '    - host: api-1\n      paths: ["logs/"]\n      format: json\n'
        '    - host: api-2\n      paths: ["nowhere/*.log"]\n      format: json\n',
    )
    result = pull_app_logs(review)
    assert result.status == "ok" and result.rows == 0
    assert [f.check for f in result.findings] == ["errors.app_log_missing"]
    assert "nowhere" in result.findings[0].title


def test_pull_without_app_sources_is_skipped(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\n", encoding="utf-8")
    assert pull_app_logs(open_review(params, DAY)).status == "skipped"


def test_unknown_json_field_is_a_clear_source_error(tmp_path: Path) -> None:
    write(tmp_path / "logs/app.log", jsonl(WINSTON))
    review = review_for(
        tmp_path, '    - host: api-1\n      paths: ["logs/"]\n      format: json\n      json_fields: {lvl: x}\n'
    )
    with pytest.raises(SourceError, match=r"logs.app\[api-1\].json_fields: unknown column\(s\) lvl"):
        pull_app_logs(review)


def test_colour_codes_and_flat_ecs_keys_still_give_the_level(tmp_path: Path) -> None:
    """winston's colorize() wraps the level in ANSI codes (in JSON and in text lines); ECS
    writes `"log.level"` as one flat key. Such errors are errors, and get fingerprinted."""
    rows = [
        {"level": "\x1b[31merror\x1b[39m", "message": "payment failed", "timestamp": iso("10:00")},
        {"log.level": "error", "message": "card declined", "@timestamp": iso("10:01")},
        {"log": {"level": "warn"}, "message": "slow", "@timestamp": iso("10:02")},
    ]
    df = parse_app_log(write(tmp_path / "app.log", jsonl(rows)), "json", "api-1", TZ, DAY).events.to_pandas()
    assert df["level"].tolist() == ["error", "error", "warn"] and df["fingerprint"].notna().all()
    assert "log.level" not in str(df["extra"].iloc[1])
    text = f"{iso('10:00')} \x1b[31mERROR\x1b[39m payment failed\n    at pay (/app/src/pay.js:3:9)\n"
    df = parse_app_log(write(tmp_path / "app.txt", text), "text", "api-1", TZ, DAY).events.to_pandas()
    assert df[["level", "message"]].values.tolist() == [["error", "payment failed"]]


def test_secrets_in_messages_and_stacks_never_reach_the_review(tmp_path: Path) -> None:
    """Passwords, keys and tokens that the app logged (in messages, JSON fields, stacks and
    unparseable lines) are masked in every finding and table of the errors review."""
    from opsreview.logs.app.review import AppErrorReview

    secret = "hunter2hunter2"
    rows = [
        {"level": "error", "message": f"login failed password={secret} for ann", "timestamp": iso("10:00")},
        {"level": "error", "message": f'bad config {{"api_key": "{secret}"}}', "timestamp": iso("10:01")},
        {
            "level": "error",
            "message": "upstream rejected us",
            "timestamp": iso("10:02"),
            "stack": f"Error: upstream rejected us\n    at call (/app/src/x.js:1:2) Authorization: Bearer {secret}",
        },
        {"level": "error", "message": "key sk_live_abcdefghijklmnopqrstuvwx refused", "timestamp": iso("10:03")},
    ]
    write(tmp_path / "logs/app.log", jsonl(rows) + f"pwd: {secret} not json\n")
    review = review_for(tmp_path, '    - host: api-1\n      paths: ["logs/app.log"]\n      format: json\n')
    assert pull_app_logs(review).status == "ok"
    errors = AppErrorReview(review)
    sections = [errors.overview(), errors.fingerprints(), errors.ingest()]
    shown = json.dumps([f.to_dict() for f in errors.findings], default=str)
    shown += "".join(table.to_json(date_format="iso") for section in sections for _, table in section.tables)
    assert "sk_live_abcdefghijklmnopqrstuvwx" not in shown and secret not in shown
    assert "password=***" in shown


@pytest.mark.parametrize(
    "stamp",
    ["2026-03-10T14:00:00+01", "2026-03-10 14:00:00.000 +0100", "2026-03-10T14:00:00+01:00", "2026-03-10T13:00:00Z"],
)
def test_text_header_offsets_in_every_spelling(tmp_path: Path, stamp: str) -> None:
    """`+01`, ` +0100`, `+01:00` and `Z` are offsets: the time is exact and not part of the message."""
    parsed = parse_app_log(write(tmp_path / "w.log", f"{stamp} ERROR queue stalled\n"), "text", "w", TZ, DAY)
    (row,) = parsed.events.to_pylist()
    assert row["ts"] == dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC) and row["message"] == "queue stalled"


def test_an_error_seen_weeks_ago_is_not_new(tmp_path: Path) -> None:
    """ "New" means absent from the whole lookback (30 days by default), so the pull reads files
    that old too, not only the baseline week: an error last seen 20 days ago is not new."""
    from opsreview.logs.app.review import AppErrorReview

    old_day = DAY - dt.timedelta(days=20)
    err = {
        "level": "error",
        "message": "ledger lock timeout",
        "stack": "Error: x\n    at lock (/app/src/ledger.js:3:9)",
    }
    write(tmp_path / "logs/app.log.3", jsonl([err | {"timestamp": iso("09:00", old_day)}]))
    stamp = dt.datetime.combine(old_day, dt.time(23), ZoneInfo(TZ)).timestamp()
    os.utime(tmp_path / "logs/app.log.3", (stamp, stamp))
    write(tmp_path / "logs/app.log", jsonl([err | {"timestamp": iso("09:00")}]))
    review = review_for(tmp_path, '    - host: api-1\n      paths: ["logs/"]\n      format: json\n')
    assert pull_app_logs(review).status == "ok"
    assert review.store.days("app_events") == [old_day, DAY]
    errors = AppErrorReview(review)
    errors.fingerprints()
    assert not [f for f in errors.findings if f.check == "errors.new_fingerprint"]


def test_lines_after_a_format_change_count_on_the_day_they_were_written(tmp_path: Path) -> None:
    """A deploy switched the log format: the next day's lines no longer parse. They count on
    the file's day (its last write), not on the last day that still parsed, so that day's
    review sees them."""
    next_day = DAY + dt.timedelta(days=1)
    text = jsonl([{"level": "info", "message": "ok", "timestamp": iso("22:00")}])
    text += "".join(f"[{h:02d}:00:00.000] ERROR payment failed\n" for h in range(24))
    path = write(tmp_path / "app.log", text)
    parsed = parse_app_log(path, "json", "api-1", TZ, next_day)
    days = {r["day"]: (r["parsed"], r["unparsed"]) for r in parsed.days.to_dict("records")}
    assert days == {DAY: (1, 0), next_day: (0, 24)}


def test_an_error_with_a_100_kb_stack_is_still_an_event(tmp_path: Path) -> None:
    frames = "".join(f"\n    at step{i} (/app/src/pipeline.js:{i}:1)" for i in range(3000))
    row = {"level": "error", "message": "pipeline failed", "timestamp": iso("10:00"), "stack": "Error: x" + frames}
    assert len(json.dumps(row)) > 100_000
    parsed = parse_app_log(write(tmp_path / "app.log", jsonl([row])), "json", "api-1", TZ, DAY)
    (event,) = parsed.events.to_pylist()
    assert event["message"] == "pipeline failed" and event["stack"].startswith("Error: x\n    at step0")
