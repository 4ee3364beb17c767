"""Source `access_logs`: morgan / JSON access logs into the store's `requests` table.

Rows are stored by LOCAL day (params.timezone; DST days have 23 or 25 hours) in one part per
(day, file). A file's part key is its host plus a digest of its first line, so the same
content keeps the same key when logrotate renames it (``access.log`` -> ``access.log.1`` ->
``access.log.1.gz``): re-ingesting replaces rows, never duplicates them. Each file's
bookkeeping - lines, parsed, unparsed, up to five redacted samples, an error such as a corrupt
gzip offset, and a size/mtime/path fingerprint - goes into the `log_files` table, one row per
(file, day). A file whose fingerprint is unchanged since it was ingested is not read again.

Nothing secret is stored: each batch of rows is masked before it is written
(:func:`opsreview.masking.mask_for_rest`: every text column, URL, path, referrer, user agent and
remote user among them; a secret found in one field is masked in all of the row's), and the kind
of secret a URL carried is kept in ``url_secret``, so that the review still reports it.

Notebook helper: :func:`requests_relation` opens days lazily, filtered by window, route,
status and client, without loading the store into memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import numbers
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from opsreview import engine
from opsreview.findings import Finding, Severity
from opsreview.logs.access.morgan import MorganFormat, compile_format
from opsreview.logs.access.parse import FileParse, FileParser, Format
from opsreview.logs.access.routes import route_template_sql
from opsreview.logs.files import (
    LOG_FILES,
    LOG_FILES_SCHEMA,
    MAX_LINE_BYTES,
    LogFileInfo,
    LogReader,
    PartKeys,
    check_gzip,
    content_part_key,
    expand_paths,
    is_gzip,
    nominal_day,
)
from opsreview.logs.params import AccessLogSource
from opsreview.masking import AtRest, mask_at_rest, mask_for_rest, masked
from opsreview.progress import Progress
from opsreview.secrets import redact
from opsreview.sources import SourceResult, register_source
from opsreview.store import Store

if TYPE_CHECKING:
    from opsreview.context import ReviewContext
    from opsreview.params import Params

log = logging.getLogger("opsreview")

REQUESTS = "requests"
# How far a log line's timestamp may lag its file's mtime (buffered writes, clock skew).
MTIME_SLACK = dt.timedelta(hours=2)
# Parquet settings of request parts: dictionaries only where values repeat; statistics only
# on the columns queries filter on (both keep the write fast; see tests/bench).
_DICTIONARY_COLUMNS = [
    "host", "method", "http_version", "remote_user", "referrer", "user_agent", "source_file", "url_secret"
]  # fmt: skip
_STATISTICS_COLUMNS = ["ts", "status", "response_time_ms"]
PARQUET_COMPRESSION = "zstd"
# Every text column is masked at rest; `url_secret` says what a URL carried before it was.
mask_at_rest(REQUESTS, AtRest(url_secret="url"))
mask_at_rest(LOG_FILES, AtRest())


def source_format(source: AccessLogSource) -> Format:
    """The compiled format of a params access source (a JSON mapping for format json)."""
    return source.json_mapping if source.format == "json" else compile_format(source.format)


class _DayParts:
    """One part file per day, written incrementally in large row groups, published
    atomically by :meth:`commit` (temporary hidden file + ``os.replace``)."""

    ROW_GROUP_ROWS = 1 << 18

    def __init__(self, store: Store, part: str, columns: Sequence[str] | None = None) -> None:
        self.store = store
        self.part = part
        self.columns = list(columns) if columns else None  # only these (a scratch store's summary)
        self.writers: dict[dt.date, tuple[pq.ParquetWriter, Path]] = {}
        self.pending: dict[dt.date, list[pa.Table]] = {}

    def write(self, day: dt.date, table: pa.Table) -> None:
        waiting = self.pending.setdefault(day, [])
        waiting.append(table)
        if sum(t.num_rows for t in waiting) >= self.ROW_GROUP_ROWS:
            self._flush(day)

    def _flush(self, day: dt.date) -> None:
        tables = self.pending.pop(day, [])
        if not tables:
            return
        table = pa.concat_tables(tables)
        if self.columns is not None:
            table = table.select(self.columns)
        table = mask_for_rest(REQUESTS, table)
        entry = self.writers.get(day)
        if entry is None:
            folder = self.store.day_dir(REQUESTS, day)
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".tmp-{self.part}-", suffix=".parquet", dir=folder)
            os.fchmod(fd, 0o644)
            os.close(fd)
            writer = pq.ParquetWriter(
                tmp,
                table.schema,  # REQUESTS_SCHEMA, url_secret, the opsreview.masked mark
                # a scratch store of a few columns is read once, right away: not worth compressing
                compression=PARQUET_COMPRESSION if self.columns is None else "none",
                use_dictionary=_DICTIONARY_COLUMNS,
                write_statistics=_STATISTICS_COLUMNS,
            )
            entry = self.writers[day] = (writer, Path(tmp))
        entry[0].write_table(table, row_group_size=self.ROW_GROUP_ROWS * 2)

    def commit(self) -> list[dt.date]:
        for day in list(self.pending):
            self._flush(day)
        for day, (writer, tmp) in self.writers.items():
            writer.close()
            os.replace(tmp, self.store.day_dir(REQUESTS, day) / f"{self.part}.parquet")
        return sorted(self.writers)

    def abort(self) -> None:
        self.pending.clear()
        for writer, tmp in self.writers.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)


@dataclass
class IngestedFile:
    """What happened to one file."""

    path: Path
    host: str
    part: str
    fingerprint: str
    parse: FileParse | None = None  # None: unchanged since the last ingest, not read
    skipped_reason: str | None = None

    @property
    def rows(self) -> int:
        return self.parse.parsed if self.parse else 0


@dataclass
class AccessIngest:
    """The outcome of one ingest run over several sources."""

    files: list[IngestedFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (host, message)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def findings(self, review_day: dt.date | None = None) -> list[Finding]:
        """Paths that gave no file, and files read in this pull that were damaged or matched
        none of their lines - unless they have rows on ``review_day``: the review turns those
        `log_files` rows into findings with their evidence, and one problem is one finding."""
        out = [
            Finding(
                "logs",
                "logs.access_path_missing",
                Severity.warning,
                f"Access log path of {host} not found: {message}",
                evidence={"host": host, "problem": message},
                checklist=("Morgan HTTP logging",),
                subject=host,
            )
            for host, message in self.problems
        ]
        for f in self.files:
            if f.parse is None or (review_day is not None and review_day in f.parse.days):
                continue
            if f.parse.error:
                out.append(
                    Finding(
                        "logs",
                        "logs.access_file_damaged",
                        Severity.warning,
                        f"Access log {f.path.name} ({f.host}) is damaged; only what decoded intact was read",
                        value=redact(f.parse.error),
                        evidence={"file": str(f.path), "host": f.host, "lines_read": f.parse.lines}
                        | _too_long_evidence(f.parse),
                        checklist=("Morgan HTTP logging",),
                        subject=f.host,
                    )
                )
            elif f.parse.lines and not f.parse.parsed:
                out.append(
                    Finding(
                        "logs",
                        "logs.access_file_unparsed",
                        Severity.warning,
                        f"Access log {f.path.name} ({f.host}): none of {f.parse.lines} lines match the format",
                        value=f.parse.lines,
                        evidence={"file": str(f.path), "host": f.host, "samples": f.parse.samples}
                        | _too_long_evidence(f.parse),
                        checklist=("Morgan HTTP logging",),
                        subject=f.host,
                    )
                )
        return out


def _too_long_evidence(parse: FileParse) -> dict[str, Any]:
    if not parse.too_long:
        return {}
    return {"lines_too_long": parse.too_long, "line_limit_bytes": MAX_LINE_BYTES}


def _previous_ingests(store: Store) -> dict[str, dict[str, Any]]:
    """path -> {fingerprint, part, days} of access files already in the store."""
    rel = store.relation(LOG_FILES, store.days(LOG_FILES))
    if rel is None:
        return {}
    if "kind" not in rel.columns or "fingerprint" not in rel.columns:
        return {}
    rows = (
        rel.filter("kind = 'access'")
        .aggregate("path, any_value(fingerprint) AS fp, any_value(part) AS part, list(day) AS days, sum(parsed) AS n")
        .fetchall()
    )
    return {r[0]: {"fingerprint": r[1], "part": r[2], "days": r[3] or [], "parsed": r[4]} for r in rows}


def _unchanged(store: Store, previous: dict[str, Any] | None, info: LogFileInfo) -> bool:
    if previous is None or previous["fingerprint"] != info.fingerprint:
        return False
    part = previous["part"]
    days = [d for d in previous["days"] if d is not None]
    logged = all((store.day_dir(LOG_FILES, d) / f"{part}.parquet").exists() for d in days)
    stored = not previous["parsed"] or any((store.day_dir(REQUESTS, d) / f"{part}.parquet").exists() for d in days)
    return bool(days) and logged and stored


def _relevant(info: LogFileInfo, fmt: Format, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> str | None:
    """Why a file cannot hold lines of [start, end) - or None when it may."""
    if isinstance(fmt, MorganFormat) and not fmt.has_date:
        day = nominal_day(info, tz)
        local_start, local_end = start.astimezone(tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
        return None if local_start <= day <= local_end else f"file day {day} outside the review window"
    if info.mtime < start - MTIME_SLACK:
        return f"last written {info.mtime:%Y-%m-%d %H:%M} UTC, before the review window"
    if isinstance(fmt, MorganFormat):
        first = LogReader(info.path, max_line_bytes=1 << 16).first_lines(1)
        row = fmt.parse_line(first[0]) if first else None
        if row and row["ts"] is not None and row["ts"] >= end + MTIME_SLACK:
            return f"starts {row['ts']:%Y-%m-%d %H:%M} UTC, after the review window"
    return None


def ingest_access_file(
    store: Store,
    info: LogFileInfo,
    host: str,
    fmt: Format,
    fmt_name: str,
    tz: dt.tzinfo,
    part: str | None = None,
    progress: Progress | None = None,
    columns: Sequence[str] | None = None,
) -> IngestedFile:
    """Parse one file and replace its parts (and its `log_files` rows) in the store;
    ``progress`` advances by the rows of each batch written; ``columns`` keeps only those
    (``opsreview logs summary`` needs five, and writing the rest is most of the work)."""
    part = part or content_part_key(info, host)
    scratch = store.root / REQUESTS
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    parts = _DayParts(store, part, columns)

    def write(day: dt.date, table: pa.Table) -> None:
        parts.write(day, table)
        if progress is not None:
            progress.advance(lines=table.num_rows)

    try:
        parser = FileParser(fmt, host, tz, nominal_day(info, tz), write, scratch)
        # DuckDB checks no gzip CRC: damage would show up as garbage lines, some of which
        # parse. Every gzip file is checked first (one extra inflate); a damaged one is read
        # through LogReader, which keeps only what decoded intact.
        check = check_gzip(info.path) if is_gzip(info.path) else None
        damaged = check is not None and check.damaged
        if not damaged:
            try:
                result = parser.parse(info.path)
                # Bytes that are not UTF-8 (a Latin-1 URL): DuckDB mangles the line around
                # them, so such a file is read again from a clean copy (each bad byte U+FFFD).
                damaged = parser.invalid_utf8
            except duckdb.Error as exc:  # the file changed since the check, or DuckDB failed
                log.info("%s: DuckDB could not read it (%s); reading it line by line", info.path, exc)
                damaged = True
        if damaged:
            parts.abort()
            parts = _DayParts(store, part, columns)
            parser = FileParser(fmt, host, tz, nominal_day(info, tz), write, scratch)
            result = parser.parse_clean_copy(info.path, check)
        days = parts.commit()
    except BaseException:
        parts.abort()
        raise
    result.samples = [masked(sample) for sample in result.samples]  # shown in pull findings too
    for day in store.days(REQUESTS):  # days this content no longer covers (a rewritten file)
        if day not in days:
            store.delete_part(REQUESTS, day, part)
    _write_log_files(store, info, host, fmt_name, part, result, tz)
    log.info(
        "access log %s (%s): %d lines, %d parsed, %d unparsed in %.1f s",
        info.path,
        host,
        result.lines,
        result.parsed,
        result.unparsed,
        time.monotonic() - started,
    )
    if result.error:
        log.warning("%s", redact(result.error))
    elif result.lines and not result.parsed:
        log.warning("access log %s (%s): none of its %d lines match format %s", info.path, host, result.lines, fmt_name)
    return IngestedFile(info.path, host, part, info.fingerprint, result)


def _write_log_files(
    store: Store, info: LogFileInfo, host: str, fmt_name: str, part: str, result: FileParse, tz: dt.tzinfo
) -> None:
    days: dict[dt.date, Any] = dict(result.days) or {nominal_day(info, tz): None}
    for day in store.days(LOG_FILES):
        if day not in days and (store.day_dir(LOG_FILES, day) / f"{part}.parquet").exists():
            store.delete_part(LOG_FILES, day, part)
    for day, counts in days.items():
        row = {
            "path": str(info.path),
            "host": host,
            "day": day,
            "lines": counts.lines if counts else 0,
            "parsed": counts.parsed if counts else 0,
            "unparsed": counts.unparsed if counts else 0,
            "non_requests": counts.non_requests if counts else 0,
            "too_long": counts.too_long if counts else 0,
            "samples": result.samples,
            "error": result.error,
            "kind": "access",
            "format": fmt_name,
            "part": part,
            "fingerprint": info.fingerprint,
        }
        store.write_part(LOG_FILES, day, part, pa.Table.from_pylist([row], schema=LOG_FILES_SCHEMA))


def ingest_access_logs(
    params: Params,
    days: Sequence[dt.date] | None = None,
    force: bool = False,
) -> AccessIngest:
    """Ingest every configured access source into the store.

    With ``days``, only files that can hold lines of those local days are read (by mtime,
    first line, or name date for formats without a date); files unchanged since their last
    ingest are skipped unless ``force``.
    """
    params.mask_referenced_secrets()  # what a ${ENV} of the params resolves to is masked at rest too
    store = Store(params.store)
    tz = params.tz
    outcome = AccessIngest()
    previous = {} if force else _previous_ingests(store)
    window: tuple[dt.datetime, dt.datetime] | None = None
    if days:
        window = (params.day_window(min(days))[0], params.day_window(max(days))[1])
    base = params.source_file.parent
    keys = PartKeys()
    todo: list[tuple[AccessLogSource, Format, LogFileInfo, str]] = []
    for source in params.logs.access:
        fmt = source_format(source)
        files, problems = expand_paths(source.resolved_paths(base))
        outcome.problems.extend((source.host, p) for p in problems)
        for info in files:
            if window is not None:
                reason = _relevant(info, fmt, tz, *window)
                if reason:
                    outcome.files.append(IngestedFile(info.path, source.host, "", info.fingerprint, None, reason))
                    continue
            before = previous.get(str(info.path))
            if _unchanged(store, before, info):
                assert before is not None
                keys.take(before["part"], info.path)
                outcome.files.append(
                    IngestedFile(info.path, source.host, before["part"], info.fingerprint, None, "unchanged")
                )
                continue
            # date-less lines (tiny, short, dev) repeat across files: their day tells them apart
            salt = nominal_day(info, tz).isoformat() if isinstance(fmt, MorganFormat) and not fmt.has_date else ""
            todo.append((source, fmt, info, keys.key(info, source.host, salt)))
    if engine.selected(params) == "spark":  # morgan files Spark can read as text (the rest: below)
        from opsreview.logs.access import spark_parse

        on_spark = [t for t in todo if isinstance(t[1], MorganFormat) and spark_parse.readable(t[2])]
        todo = [t for t in todo if t not in on_spark]
        work = [(s.host, fmt, info, s.format, key) for s, fmt, info, key in on_spark if isinstance(fmt, MorganFormat)]
        outcome.files.extend(spark_parse.ingest_files(params, store, work))
    progress = Progress("access logs", len(todo), sum(info.size for _, _, info, _ in todo))
    for source, fmt, info, key in todo:
        outcome.files.append(ingest_access_file(store, info, source.host, fmt, source.format, tz, key, progress))
        progress.advance(files=1, nbytes=info.size)
    progress.close()
    return outcome


@register_source("access_logs", "logs", table=REQUESTS)
def pull_access_logs(ctx: ReviewContext) -> SourceResult:
    """Ingest the review day and its baseline days (files new or changed since last time)."""
    ctx.params.mask_referenced_secrets()  # before re-masking: what a ${ENV} resolves to is masked too
    for table in (REQUESTS, LOG_FILES):  # parts written before secrets were masked at rest
        ctx.store.remask_old_parts(table)
    if not ctx.params.logs.access:
        return SourceResult("access_logs", status="skipped", error="no access logs configured (logs.access)")
    outcome = ingest_access_logs(ctx.params, days=[*ctx.baseline_days, ctx.day])
    result = SourceResult("access_logs", rows=outcome.rows, findings=outcome.findings(ctx.day))
    read = [f for f in outcome.files if f.parse is not None or f.skipped_reason == "unchanged"]
    if not read and outcome.problems:
        result.status = "failed"
        result.error = "; ".join(message for _, message in outcome.problems)
    elif engine.selected(ctx.params) == "spark":
        _spark_aggregates(ctx)
    return result


def _spark_aggregates(ctx: ReviewContext) -> None:
    """The review day's aggregates on Spark (:mod:`opsreview.logs.access.aggregates`). A failure
    costs no data: the review finds them stale and scans ``requests`` instead (and says so)."""
    from opsreview.logs.access import spark_aggregates

    if dt.datetime.now(dt.UTC) < ctx.params.day_window(ctx.day)[1]:
        log.info("access-log aggregates of %s: the day is still running, the review scans requests", ctx.day)
        return
    try:
        spark_aggregates.build(ctx.params, ctx.store, ctx.day, ctx.baseline_days)
    except Exception as exc:  # noqa: BLE001 - a lost session or a failed job: the review scans instead
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        log.warning("access-log aggregates of %s not computed on Spark (the review scans requests): %s", ctx.day, first)


def _inferred_routes(ctx: ReviewContext, con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The route list the review infers: over the review day and its baseline days with data."""
    from opsreview.logs.access.analysis import route_map

    days = [ctx.day, *(d for d in ctx.baseline_days if ctx.store.parts(REQUESTS, d))]
    rel = ctx.store.relation(REQUESTS, days, con=con)
    if rel is None:
        return ()
    table = route_map([rel], infer=ctx.params.logs.thresholds, con=con)
    con.execute(f'DROP TABLE "{table.name}"')
    return table.inference.routes if table.inference is not None else ()


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def _as_utc(value: dt.datetime | str, ctx: ReviewContext) -> dt.datetime:
    """A datetime (or pandas Timestamp), an ISO string, or ``HH:MM[:SS]`` on the review day
    (local time; ``24:00`` is its end)."""
    if isinstance(value, str):
        clock = _CLOCK.fullmatch(value.strip())
        if clock:
            hour, minute, second = (int(x or 0) for x in clock.groups())
            if (hour, minute, second) == (24, 0, 0):  # the end of the review day
                return ctx.window[1]
            value = dt.datetime.combine(ctx.day, dt.time(hour, minute, second), ctx.params.tz)
        else:
            value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ctx.params.tz)
    return value.astimezone(dt.UTC)


def requests_relation(
    ctx: ReviewContext,
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    route: str | None = None,
    status: int | str | Sequence[int] | None = None,
    client: str | None = None,
    days: Sequence[dt.date] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    routes: Sequence[str] | None = None,
) -> duckdb.DuckDBPyRelation | None:
    """The review day's requests as a lazy DuckDB relation, with a ``route`` column (the template).

    ``start``/``end``: datetimes, ISO strings or ``"HH:MM"`` local times on the review day;
    ``route``: a route template (``/api/products/:id``), or method and template as the review
    names routes (``GET /api/products/:id``); ``status``: a code, a list of codes
    or a class such as ``"5xx"``; ``client``: a remote address. ``.df()`` the result to get a
    DataFrame of just the matching rows. None when the store holds no requests for the days.
    ``routes``: the templates; by default the params' ``logs.routes`` or, without those, the
    ones inferred from the review day and its baseline days, as the review infers them (pass
    the review's ``route_inference.routes`` to skip inferring again).
    """
    begin, finish = ctx.window
    begin = _as_utc(start, ctx) if start is not None else begin
    finish = _as_utc(end, ctx) if end is not None else finish
    if days is None:
        first, last = begin.astimezone(ctx.params.tz).date(), finish.astimezone(ctx.params.tz).date()
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    con = con or engine.connect()
    rel = ctx.store.relation(REQUESTS, days, con=con)
    if rel is None:
        return None
    if routes is None:
        routes = ctx.params.logs.routes or _inferred_routes(ctx, con)
    rel = rel.select(f"*, {route_template_sql('path', routes)} AS route")
    in_window = f"ts >= '{begin.isoformat()}'::TIMESTAMPTZ AND ts < '{finish.isoformat()}'::TIMESTAMPTZ"
    # rows of formats without a date have no ts: they belong to their file's day as a whole
    conditions = [in_window if start is not None or end is not None else f"(ts IS NULL OR ({in_window}))"]
    if route is not None:
        method, space, template = route.partition(" ")
        if space and not method.startswith("/"):  # "GET /api/orders/:id"
            conditions.append(f"method = '{method.replace(chr(39), chr(39) * 2)}'")
            route = template
        conditions.append(f"route = '{route.replace(chr(39), chr(39) * 2)}'")
    if isinstance(status, str):
        if len(status) == 3 and status[0].isdigit() and status[1:].lower() == "xx":
            low = int(status[0]) * 100
            conditions.append(f"status >= {low} AND status < {low + 100}")
        else:
            conditions.append(f"status = {int(status)}")
    elif isinstance(status, int | numbers.Integral):  # numpy integers too (a value from a DataFrame)
        conditions.append(f"status = {int(status)}")
    elif status is not None:
        conditions.append(f"status IN ({', '.join(str(int(s)) for s in status)})")
    if client is not None:
        conditions.append(f"remote_addr = '{client.replace(chr(39), chr(39) * 2)}'")
    return rel.filter(" AND ".join(conditions))
