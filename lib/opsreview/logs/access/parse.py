"""Parse one access-log file into `requests` rows, streaming, with a fast path and a fallback.

DuckDB reads the file (plain or gzip) as one text column and parses it with the compiled
format's vectorised expressions (:meth:`MorganFormat.sql_query`, or JSON paths for JSON
lines); the few lines it cannot vouch for (quotes inside fields, odd spacing, lines that are
not UTF-8) go to the exact Python parser. Rows arrive in record batches, so memory stays
bounded whatever the file size. A damaged gzip file (found by the caller's check,
:func:`~opsreview.logs.files.check_gzip`) is read through
:class:`~opsreview.logs.files.LogReader`, which keeps what decoded intact and names the damage.

Both parsers agree on two kinds of line they never parse: a line holding a NUL byte (morgan
never writes one - Node rejects NUL in a request line or header - so it is damage, such as the
run of NULs copytruncate leaves), and a line over the one length limit,
:data:`~opsreview.logs.files.MAX_LINE_BYTES` (1 MiB), counted apart as ``too_long``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from opsreview import engine
from opsreview.logs.access.morgan import REQUEST_COLUMNS, MorganFormat
from opsreview.logs.access.routes import strip_query
from opsreview.logs.files import MAX_LINE_BYTES, GzipCheck, LogReader, is_gzip
from opsreview.logs.timestamps import epoch_datetime, epoch_sql, iso_text_sql, plausible, plausible_sql
from opsreview.secrets import redact

log = logging.getLogger("opsreview")

REQUESTS_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("host", pa.string()),
        ("remote_addr", pa.string()),
        ("remote_user", pa.string()),
        ("method", pa.string()),
        ("url", pa.string()),
        ("path", pa.string()),
        ("http_version", pa.string()),
        ("status", pa.int16()),
        ("bytes", pa.int64()),
        ("referrer", pa.string()),
        ("user_agent", pa.string()),
        ("response_time_ms", pa.float64()),
        ("total_time_ms", pa.float64()),
        ("source_file", pa.string()),
    ]
)
MAX_SAMPLES = 5
SAMPLE_CHARS = 300
BATCH_ROWS = 1 << 18
# The exact parser is linear in a line's length: about 2 s for the worst 1 MiB line (every
# character a quote), 0.1 s for a 30 KB one; a plain long URL parses on the fast path.
# A file whose first this-many lines all fail is not this format: stop running the exact
# parser on it (lines are still counted).
GIVE_UP_AFTER = 20_000
# A delimiter that no log line holds: read_csv then yields whole lines.
_NO_DELIMITER = "\x1e\x1f\x1e\x1f"

# Beyond opsreview.secrets.redact: tokens and card-like numbers that log lines tend to carry.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_KEY_VALUE = re.compile(r"(?i)\b((?:access_?token|api_?key|token|password|passwd|secret)=)[^&\s\"]+")

Format = MorganFormat | dict[str, str]


def redact_line(line: str) -> str:
    """A log line safe to show: known secrets, JWTs, card-like numbers, ?token= values masked."""
    line = _JWT.sub("***", redact(line))
    line = _CARD.sub("***", line)
    return _KEY_VALUE.sub(r"\1***", line)  # a morgan format, or a JSON column -> dotted path map


@dataclass
class DayCounts:
    lines: int = 0
    parsed: int = 0
    unparsed: int = 0
    non_requests: int = 0  # valid JSON lines that are not requests (pino's "server started")
    too_long: int = 0  # of the unparsed, lines over MAX_LINE_BYTES


@dataclass
class FileParse:
    """What parsing one file gave, per local day."""

    days: dict[dt.date, DayCounts] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    error: str | None = None
    not_this_format: bool = False

    @property
    def lines(self) -> int:
        return sum(c.lines for c in self.days.values())

    @property
    def parsed(self) -> int:
        return sum(c.parsed for c in self.days.values())

    @property
    def unparsed(self) -> int:
        return sum(c.unparsed for c in self.days.values())

    @property
    def non_requests(self) -> int:
        return sum(c.non_requests for c in self.days.values())

    @property
    def too_long(self) -> int:
        return sum(c.too_long for c in self.days.values())

    def count(self, day: dt.date, parsed: int, unparsed: int, non_requests: int = 0, too_long: int = 0) -> None:
        counts = self.days.setdefault(day, DayCounts())
        counts.lines += parsed + unparsed + non_requests
        counts.parsed += parsed
        counts.unparsed += unparsed
        counts.non_requests += non_requests
        counts.too_long += too_long

    def sample(self, line: str) -> None:
        if len(self.samples) < MAX_SAMPLES:
            text = redact_line(line.replace("\x00", "\\0"))
            self.samples.append(text[:SAMPLE_CHARS] + ("…" if len(text) > SAMPLE_CHARS else ""))


def connect(parsing: bool = True, memory_limit: str = engine.PARSE_MEMORY) -> duckdb.DuckDBPyConnection:
    """A parsing connection (:func:`opsreview.engine.connect`): UTC, every core, bounded memory
    (peak RSS stays well under 1 GB on 10M-line files), filter pushdown off."""
    return engine.connect(memory_limit=memory_limit, parsing=parsing)


def _read_lines_sql(path: str) -> str:
    # by content, not name: logrotate's `delaycompress` and copies leave gzip in `access.log.1`
    compression = "gzip" if is_gzip(path) else "none"
    quoted = path.replace("'", "''")
    return (
        f"read_csv('{quoted}', delim='{_NO_DELIMITER}', quote='', escape='', header=false, "
        "columns={'line': 'VARCHAR'}, auto_detect=false, strict_mode=false, ignore_errors=true, "
        # DuckDB rejects a line of max_line_size bytes or more; LogReader cuts one over its limit
        f"store_rejects=true, max_line_size={MAX_LINE_BYTES + 1}, compression='{compression}')"
    )


def _json_path(dotted: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in dotted.split("."))


_ZONED = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def json_query(mapping: dict[str, str], source: str, tz_name: str = "UTC") -> str:
    """The JSON-lines counterpart of MorganFormat.sql_query (one JSON parse per line).
    Times without a zone are local times of ``tz_name`` (the params' timezone)."""
    columns = list(REQUEST_COLUMNS)
    paths = ", ".join("'" + _json_path(mapping[c]).replace("'", "''") + "'" for c in columns)
    v = {c: f"_v[{i + 1}]" for i, c in enumerate(columns)}
    ts_num = f"try_cast({v['ts']} AS DOUBLE)"
    spaced = iso_text_sql(v["ts"])
    text = (
        f"CASE WHEN regexp_matches({spaced}, '{_ZONED}') THEN try_cast({spaced} AS TIMESTAMPTZ) "
        f"ELSE timezone('{tz_name}', try_cast({spaced} AS TIMESTAMP)) END"
    )
    ts = f"CASE WHEN {ts_num} IS NULL THEN {plausible_sql(text)} ELSE {epoch_sql(ts_num)} END"
    exprs = {
        "ts": ts,
        "status": f"try_cast({v['status']} AS SMALLINT)",
        "bytes": f"try_cast({v['bytes']} AS BIGINT)",
        "response_time_ms": f"try_cast({v['response_time_ms']} AS DOUBLE)",
        "total_time_ms": f"try_cast({v['total_time_ms']} AS DOUBLE)",
    }
    values = ", ".join(f"{exprs.get(c, v[c])} AS {c}" for c in columns)
    ok = f"_valid AND {v['method']} IS NOT NULL AND {v['url']} IS NOT NULL AND {exprs['status']} IS NOT NULL"
    inner = (
        f"SELECT line, json_valid(line) AS _valid, "
        f"CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) END AS _v FROM {source}"
    )
    # JSON lines that are valid but not requests (pino's "server started") are `skip`.
    return (
        f"SELECT line, {values}, coalesce({ok}, false) AS ok, "
        f"coalesce(_valid AND NOT ({ok}), false) AS skip FROM ({inner})"
    )


def _number(value: str | float) -> float | None:
    """``value`` as DuckDB's try_cast to DOUBLE reads it (None when it is no number)."""
    try:
        return float(value)
    except (ValueError, OverflowError):
        return None


def _iso_time(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    """An ISO time (zone-less: a local time of ``tz``) in UTC; None, as in the SQL, when it is
    not one or not plausible (the request itself still counts)."""
    try:
        stamp = dt.datetime.fromisoformat(text)
        if stamp.tzinfo is None:  # no zone: a local time of the params' timezone
            stamp = stamp.replace(tzinfo=tz)
        return plausible(stamp.astimezone(dt.UTC))
    except (ValueError, OverflowError):
        return None


def parse_json_line(mapping: dict[str, str], line: str, tz: dt.tzinfo = dt.UTC) -> dict[str, Any] | None:
    """Exact Python counterpart of :func:`json_query` for one line (the fallback)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None

    def get(dotted: str) -> Any:
        node: Any = data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    row: dict[str, Any] = {c: get(mapping[c]) for c in REQUEST_COLUMNS}
    try:
        ts = row["ts"]
        if isinstance(ts, str):
            number = _number(ts)
            row["ts"] = _iso_time(ts, tz) if number is None else epoch_datetime(number)
        elif isinstance(ts, int | float):
            number = _number(ts)
            row["ts"] = None if number is None else epoch_datetime(number)
        for c, kind in (("status", int), ("bytes", int), ("response_time_ms", float), ("total_time_ms", float)):
            row[c] = None if row[c] is None else kind(row[c])
    except (TypeError, ValueError, OverflowError):
        return None
    for c in ("remote_addr", "remote_user", "method", "url", "http_version", "referrer", "user_agent"):
        row[c] = None if row[c] is None else str(row[c])
    if row["method"] is None or row["url"] is None or row["status"] is None:
        return None
    return row


def _prefetched(reader: pa.RecordBatchReader, depth: int = 4) -> Iterator[pa.RecordBatch]:
    """Batches of ``reader`` pulled by a thread, so DuckDB parses while the caller writes."""
    batches: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        batches.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            batches.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            batches.put(exc)

    thread = threading.Thread(target=produce, name="opsreview-parse", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class FileParser:
    """Parses one file; hands finished arrow batches (REQUESTS_SCHEMA) to ``sink(day, table)``."""

    def __init__(
        self,
        fmt: Format,
        host: str,
        tz: dt.tzinfo,
        default_day: dt.date,
        sink: Callable[[dt.date, pa.Table], None],
        scratch: Path,
    ) -> None:
        self.fmt = fmt
        self.host = host
        self.tz = tz
        self.tz_name = str(tz)
        self.default_day = default_day
        self.sink = sink
        self.scratch = scratch
        self.result = FileParse()
        self._last_day: dt.date | None = None
        self._give_up = False
        # set when DuckDB met bytes that are not UTF-8: the file is then better read again
        # from a clean copy (U+FFFD for each bad byte, as LogReader decodes)
        self.invalid_utf8 = False

    # -- driver ------------------------------------------------------------------------------
    def parse(self, path: Path) -> FileParse:
        """Parse with DuckDB; raises duckdb.Error when DuckDB cannot read the file (a damaged
        gzip, possibly after some batches were handed to the sink): the caller discards what
        it got and calls :meth:`parse_clean_copy` on a fresh parser."""
        self.source_file = str(path)
        self._parse_with_duckdb(str(path))
        return self.result

    def parse_clean_copy(self, path: Path, gzip_check: GzipCheck | None = None) -> FileParse:
        """Parse via a clean copy made by LogReader (a damaged gzip: what decoded intact)."""
        self.source_file = str(path)
        self._parse_via_clean_copy(path, gzip_check)
        return self.result

    def _parse_via_clean_copy(self, path: Path, gzip_check: GzipCheck | None) -> None:
        # Lines over the limit are copied cut at twice it: still too long, DuckDB rejects them
        # as it does when it reads a file itself (so they count too long, on their own day).
        reader = LogReader(path, max_line_bytes=2 * MAX_LINE_BYTES, gzip_check=gzip_check)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-clean-", suffix=".log", dir=self.scratch)
        try:
            with os.fdopen(fd, "wb") as out:
                reader.copy_to(out)
            self.result.error = reader.error
            if reader.lines:
                self._parse_with_duckdb(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _parse_with_duckdb(self, path: str) -> None:
        con = connect()
        try:
            source = f"(SELECT line FROM {_read_lines_sql(path)} WHERE line IS NOT NULL)"
            fmt = self.fmt
            query = fmt.sql_query(source) if isinstance(fmt, MorganFormat) else json_query(fmt, source, self.tz_name)
            day_expr = f"CAST(timezone('{self.tz_name}', ts) AS DATE)"
            path_expr = "CASE WHEN url IS NULL THEN NULL ELSE split_part(split_part(url, '?', 1), '#', 1) END"
            # A NUL byte anywhere makes the line unparsed (the exact parser refuses it too; a
            # JSON line holding one is not valid JSON, so never a `skip`). The raw line travels
            # on only where the exact parser needs it.
            ok = "ok AND strpos(line, chr(0)) = 0"
            query = (
                f"SELECT * REPLACE (CASE WHEN {ok} THEN NULL ELSE line END AS line, {ok} AS ok), "
                f"{path_expr} AS path, {day_expr} AS day FROM ({query})"
            )
            for batch in _prefetched(con.sql(query).to_arrow_reader(BATCH_ROWS)):
                self._batch(pa.Table.from_batches([batch]))
            rejects = con.execute("SELECT csv_line, error_type FROM reject_errors ORDER BY line").fetchall()
        finally:
            con.close()
        for csv_line, error_type in rejects:
            line = str(csv_line or "").strip("\r\n")
            if error_type == "LINE SIZE OVER MAXIMUM":
                self._unparsed([line], None, too_long=True)
            else:  # INVALID ENCODING: DuckDB's copy of the line has '?' for bad bytes and more
                self.invalid_utf8 = True
                self._fallback([line])

    # -- per batch -----------------------------------------------------------------------------
    def _batch(self, table: pa.Table) -> None:
        ok = table.column("ok")
        if pc.all(ok).as_py():
            good, bad_lines = table, []
        else:
            # Odd lines are rare: cut the batch around them (zero-copy slices) instead of
            # filtering, which would copy every column.
            dropped = pc.indices_nonzero(pc.invert(ok)).to_pylist()
            pieces, start = [], 0
            for index in dropped:
                if index > start:
                    pieces.append(table.slice(start, index - start))
                start = index + 1
            if start < table.num_rows:
                pieces.append(table.slice(start))
            good = pa.concat_tables(pieces) if pieces else table.slice(0, 0)
            rejected = table.take(dropped)
            if "skip" in rejected.column_names:  # JSON lines that are not requests: counted apart
                skip = rejected.column("skip")
                skipped = rejected.filter(skip)
                rejected = rejected.filter(pc.invert(skip))
                self._non_requests(skipped)
            bad_lines = rejected.column("line").to_pylist()
        if good.num_rows:
            self._write(good)
            days = good.column("day").drop_null()
            if len(days):
                self._last_day = days[len(days) - 1].as_py()
        if bad_lines:
            self._fallback(bad_lines)

    def _non_requests(self, rows: pa.Table) -> None:
        """Count valid JSON lines that are not requests on their own day (or the last seen)."""
        if not rows.num_rows:
            return
        fallback = self._last_day or self.default_day
        days = rows.column("day").to_pylist()
        for day in set(days):
            self.result.count(day or fallback, 0, 0, days.count(day))

    def _write(self, table: pa.Table) -> None:
        day_column = table.column("day")
        days = pc.unique(day_column).to_pylist()
        if len(days) == 1:
            groups: list[tuple[dt.date | None, pa.Table]] = [(days[0], table)]
        else:
            groups = [(d, table.filter(pc.equal(day_column, d))) for d in days if d is not None]
            if None in days:
                groups.append((None, table.filter(pc.is_null(day_column))))
        for group_day, part in groups:
            day = group_day or self.default_day  # no timestamp in the line: the file's day
            self.result.count(day, part.num_rows, 0)
            self.sink(day, self._to_requests(part))

    def _to_requests(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        columns = {
            "host": pa.repeat(pa.scalar(self.host), n),
            "source_file": pa.repeat(pa.scalar(self.source_file), n),
        }
        arrays = [
            columns[name] if name in columns else table.column(name).cast(REQUESTS_SCHEMA.field(name).type)
            for name in REQUESTS_SCHEMA.names
        ]
        return pa.Table.from_arrays(arrays, schema=REQUESTS_SCHEMA)

    def _fallback(self, lines: list[str]) -> None:
        rows: list[dict[str, Any]] = []
        failed: list[str] = []
        for line in lines:
            row = None
            if not self._give_up and "\x00" not in line:
                if isinstance(self.fmt, MorganFormat):
                    row = self.fmt.parse_line(line)
                else:
                    row = parse_json_line(self.fmt, line, self.tz)
            if row is None:
                failed.append(line)
            else:
                rows.append(row)
        if rows:
            self._write_rows(rows)
        if failed:
            self._unparsed(failed, self._last_day)
        if not self.result.parsed and self.result.unparsed >= GIVE_UP_AFTER:
            self._give_up = True
            self.result.not_this_format = True

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        by_day: dict[dt.date, list[dict[str, Any]]] = {}
        for row in rows:
            ts = row["ts"]
            day = ts.astimezone(self.tz).date() if ts is not None else self.default_day
            row["path"] = strip_query(row["url"]) if row["url"] is not None else None
            row["host"] = self.host
            row["source_file"] = self.source_file
            by_day.setdefault(day, []).append(row)
        for day, day_rows in by_day.items():
            self.result.count(day, len(day_rows), 0)
            self.sink(day, pa.Table.from_pylist(day_rows, schema=REQUESTS_SCHEMA))
        last = rows[-1]["ts"]
        if last is not None:
            self._last_day = last.astimezone(self.tz).date()

    def _unparsed(self, lines: list[str], day: dt.date | None, too_long: bool = False) -> None:
        for line in lines:
            self.result.sample(f"[over the {MAX_LINE_BYTES >> 20} MiB line limit] {line}" if too_long else line)
        count = len(lines)
        self.result.count(day or self._last_day or self.default_day, 0, count, too_long=count if too_long else 0)
