"""Source `app_logs` (area ``errors``): application logs into the `app_events` table.

For every ``logs.app`` source in params: find its files (files, globs, folders; rotated and
gzip alike), parse each (JSON lines or plain text with stack traces, see
:mod:`opsreview.logs.app.parse`) and write, per local day and file, one part of
`app_events` and one row of `log_files` (``kind='app'``: lines, parsed, unparsed, up to five
redacted samples, the read error such as a corrupt gzip with its offset). Parts are keyed by
host and first line (so logrotate's renames keep them) and replaced, never appended, so
re-ingesting the same files never duplicates an event.

Only files modified since the start of the history period are read - the baseline days, or
the ``new_fingerprint_lookback_days`` an error must be absent from to be new, whichever is
longer (an older file cannot hold an event the review compares against) - and a file whose
size/mtime fingerprint is the one
recorded at its last ingest is not read again: a daily run stays bounded however much history
lies in the log folder. A path that matches nothing becomes a finding, not a crash. The
`log_files` rows share the access-log source's schema (``format``, ``part``, ``fingerprint``).

Nothing secret is stored: the store masks every text column of an event (message, stack, extra,
...) before writing it (:func:`opsreview.masking.mask_for_rest`), a secret found in one field
in all of the event's, and a message or stack the parser cut at its length limit loses its last
word (half a card number is no longer recognisable as one).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsreview import engine
from opsreview.exceptions import SourceError
from opsreview.findings import Finding, Severity
from opsreview.logs.app.parse import JSON_FIELDS, MESSAGE_CHARS, STACK_CHARS, AppLogParse, parse_app_log
from opsreview.logs.files import (
    LOG_FILES,
    LOG_FILES_SCHEMA,
    LogFileInfo,
    PartKeys,
    content_part_key,
    expand_paths,
    nominal_day,
)
from opsreview.logs.params import AppLogSource
from opsreview.masking import AtRest, mask_at_rest
from opsreview.secrets import redact
from opsreview.sources import SourceResult, register_source
from opsreview.store import Store

if TYPE_CHECKING:
    from opsreview.context import ReviewContext

log = logging.getLogger("opsreview")

__all__ = [
    "app_part",
    "check_json_fields",
    "ingest_app_file",
    "previous_app_ingests",
    "pull_app_logs",
    "record_file",
    "write_events",
]

# How far a log line's timestamp may lag its file's mtime (buffered writes, clock skew).
MTIME_SLACK = dt.timedelta(hours=2)
APP_EVENTS = "app_events"
mask_at_rest(APP_EVENTS, AtRest(cut_at={"message": MESSAGE_CHARS, "stack": STACK_CHARS}))
mask_at_rest(LOG_FILES, AtRest())


def app_part(host: str, info: LogFileInfo) -> str:
    """The store part of one application-log file: by host and first line, like access logs,
    so that logrotate's rename of app.log to app.log.1 keeps its part (and its events once)."""
    return content_part_key(info, host, salt="app")


def check_json_fields(source: AppLogSource) -> None:
    """Refuse ``json_fields`` naming a column the parser does not have (a clear SourceError)."""
    unknown = sorted(set(source.json_fields) - set(JSON_FIELDS))
    if unknown:
        raise SourceError("app_logs", f"logs.app[{source.host}].json_fields: unknown column(s) {', '.join(unknown)}")


def ingest_app_file(store: Store, source: AppLogSource, info: LogFileInfo, tz: str, part: str | None = None) -> int:
    """Parse one file and replace its parts in `app_events` and `log_files`; returns events written."""
    check_json_fields(source)
    default_day = nominal_day(info, ZoneInfo(tz))
    parsed = parse_app_log(info.path, source.format, source.host, tz, default_day, source.json_fields)
    part = part or app_part(source.host, info)
    written, event_days = write_events(store, parsed, part)
    record_file(store, source, info, part, parsed.days, parsed.error, event_days, default_day)
    return written


def write_events(store: Store, parsed: AppLogParse, part: str) -> tuple[int, set[dt.date]]:
    """Write one file's `app_events` parts (masked at rest); returns (events written, days
    with events). Every day the file has lines on gets a part, even an empty one: it replaces
    a stale part."""
    events = parsed.events
    written = 0
    event_days = {d for d in pc.unique(events.column("day")).to_pylist() if d is not None}
    for day in sorted(event_days | set(parsed.days["day"])):
        rows = events.filter(pc.equal(events.column("day"), pa.scalar(day, pa.date32()))).drop_columns(["day"])
        store.write_part(APP_EVENTS, day, part, rows)
        written += rows.num_rows
    return written, event_days


def record_file(
    store: Store,
    source: AppLogSource,
    info: LogFileInfo,
    part: str,
    days: pd.DataFrame,
    error: str | None,
    event_days: set[dt.date],
    default_day: dt.date,
) -> None:
    """After its events are in the store: drop the parts of days the file's content no longer
    covers and write its `log_files` rows (``days``: :attr:`AppLogParse.days`)."""
    if days.empty:  # nothing readable at all (missing, empty, or damaged at byte 0)
        days = pd.DataFrame(
            {"day": [default_day], "lines": [0], "parsed": [0], "unparsed": [0], "too_long": [0], "samples": [[]]}
        )
    last_day = max(days["day"])
    covered = set(days["day"]) | event_days
    for table in (LOG_FILES, APP_EVENTS):  # days this content no longer covers (a rewritten file)
        for day in store.days(table):
            if day not in covered:
                store.delete_part(table, day, part)
    for row in days.itertuples(index=False):
        record = {
            "path": [str(info.path)],
            "host": [source.host],
            "day": [row.day],
            "lines": [int(row.lines)],
            "parsed": [int(row.parsed)],
            "unparsed": [int(row.unparsed)],
            "non_requests": [0],
            "too_long": [int(row.too_long)],
            "samples": [list(row.samples)],
            "error": [redact(error) if error and row.day == last_day else None],
            "kind": ["app"],
            "format": [source.format],
            "part": [part],
            "fingerprint": [info.fingerprint],
        }
        store.write_part(LOG_FILES, row.day, part, pa.table(record, schema=LOG_FILES_SCHEMA))
    if error:
        log.warning("app log %s: %s", info.path, redact(error))


def previous_app_ingests(store: Store) -> dict[str, tuple[str, set[dt.date], str]]:
    """path -> (file fingerprint, days, part) of application-log files already in the store."""
    rel = store.relation("log_files", store.days("log_files"))
    if rel is None or "fingerprint" not in rel.columns:
        return {}
    rows = (
        rel.filter("kind = 'app'")
        .aggregate("path, any_value(fingerprint) AS fp, list(day) AS days, any_value(part) AS part")
        .fetchall()
    )
    return {str(path): (str(fp), {d for d in days if d is not None}, str(part)) for path, fp, days, part in rows}


def unchanged(store: Store, previous: tuple[str, set[dt.date], str] | None, info: LogFileInfo) -> bool:
    """Whether ``info`` was ingested with this very content and its parts are still there."""
    if previous is None or previous[0] != info.fingerprint or not previous[1]:
        return False
    return all(
        (store.day_dir(table, d) / f"{previous[2]}.parquet").exists()
        for d in previous[1]
        for table in ("log_files", "app_events")
    )


@register_source("app_logs", "errors", table="app_events")
def pull_app_logs(ctx: ReviewContext) -> SourceResult:
    """Ingest the application logs of every ``logs.app`` source (see the module docstring)."""
    params = ctx.params
    params.mask_referenced_secrets()  # what a ${ENV} of the params resolves to is masked at rest too
    for table in (APP_EVENTS, LOG_FILES):  # parts written before secrets were masked at rest
        ctx.store.remask_old_parts(table)
    if not params.logs.app:
        return SourceResult("app_logs", status="skipped")
    # files that can hold events of the history a "new" error is judged against
    history = max(params.baseline_days, params.logs.thresholds.new_fingerprint_lookback_days)
    horizon = params.day_window(ctx.day - dt.timedelta(days=history))[0] - MTIME_SLACK
    result = SourceResult("app_logs")
    previous = previous_app_ingests(ctx.store)
    keys = PartKeys()
    spark = engine.selected(params) == "spark"
    for source in params.logs.app:
        todo: list[tuple[LogFileInfo, str]] = []
        files, problems = expand_paths(source.resolved_paths(params.source_file.parent))
        for problem in problems:
            result.findings.append(
                Finding(
                    "errors",
                    "errors.app_log_missing",
                    Severity.warning,
                    redact(f"Application log of {source.host} not readable: {problem}"),
                    evidence={"host": source.host, "problem": redact(problem)},
                    checklist=("Error logging",),
                    subject=source.host,
                )
            )
        for info in files:
            if info.mtime < horizon:
                log.debug("app log %s: last modified %s, before the history period; skipped", info.path, info.mtime)
                continue
            before = previous.get(str(info.path))
            if unchanged(ctx.store, before, info):
                assert before is not None
                keys.take(before[2], info.path)
                log.debug("app log %s: unchanged since its last ingest; skipped", info.path)
                continue
            todo.append((info, keys.key(info, source.host, salt="app")))
        if spark:  # files Spark reads as the pull does: one job for the source (the rest: below)
            from opsreview.logs.app import spark_parse

            on_spark = [(info, part) for info, part in todo if spark_parse.readable(info, params)]
            todo = [t for t in todo if t not in on_spark]
            result.rows += spark_parse.ingest_files(params, ctx.store, source, on_spark)
        for info, part in todo:
            result.rows += ingest_app_file(ctx.store, source, info, params.timezone, part=part)
    return result
