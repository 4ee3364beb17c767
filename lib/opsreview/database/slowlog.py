"""Slow operations from MongoDB's structured logs (4.4 to 8.0) and ``system.profile``: ``db_slow_queries`` rows.

A slow operation is the log message ``id`` 51803 ("Slow query"): ``c:"COMMAND"`` for commands
(find, aggregate, getMore, the write commands themselves, ...) and ``c:"WRITE"`` for each slow
update or delete *statement*, whose ``command`` is the statement (``{"q": ..., "u": ...}``)
and whose ``type`` says which ("update", "remove"). Fields read from ``attr``: ``type, ns,
appName, command`` (for a getMore, the shape comes from ``originatingCommand``), ``planSummary,
durationMillis``, 8.0's ``workingMillis``, ``keysExamined, docsExamined, nreturned, nModified,
hasSortStage, usedDisk, fromPlanCache`` and the shape hashes: ``queryHash`` (4.2-7.x; 8.0 still
writes it beside its new name), ``planCacheShapeHash`` and ``queryShapeHash`` (8.0).

The row's ``shape_key`` is the server's ``queryShapeHash`` when there is one, else
``planCacheShapeHash``, else ``queryHash``, else a digest of the masked shape
(:func:`opsreview.database.shapes.shape_key`); ``shape_key_kind`` says which. Nothing the
command held as a value is kept: ``shape`` and ``example`` are masked (:mod:`.shapes`), and
messages that may quote values (``errMsg``) are not read.

Two things a reader of these rows should know:

- a write command sent by a driver carries its statements as a document sequence the server
  does not log: the command's own line (``{"update": "orders", "ordered": true}``, ``ns``
  ``db.$cmd``, rewritten here to ``db.orders``) has the shape ``{}``, and its time includes
  that of its statements' WRITE lines;
- attributes over ``maxLogSizeKB`` are cut by the server, which then adds ``truncated`` (what
  was cut) and ``size`` beside ``attr``; such a line is still a row, ``truncated`` true, with
  whatever command is left (its computed shape may be partial: the server's hashes are not).

Files are read in chunks split at newlines: a bytes search finds the slow-query lines
(``"id":51803``, as mongod writes it, or ``"id": 51803``), only those are parsed (orjson), and
the other lines are counted (one that does not start with ``{`` and end with ``}`` is counted
as not JSON; a slow-query candidate that fails to parse too). Large files are split across
worker processes and come back as Arrow tables, so memory stays bounded by the rows kept.
"""

from __future__ import annotations

import gc
import gzip
import multiprocessing
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from opsreview.database import shapes
from opsreview.exceptions import SourceError

__all__ = [
    "COLUMNS",
    "EXAMPLE_MAX_BYTES",
    "SLOW_QUERY_ID",
    "profile_row",
    "read_log_file",
    "slow_query_row",
]

SLOW_QUERY_ID = 51803
EXAMPLE_MAX_BYTES = 2048
# Columns of models.SLOW_QUERIES_SCHEMA, in order (checked against it by read_log_file and the
# tests): written out here so that worker processes need not import models, and with it pandas.
COLUMNS = (
    "ts",
    "host",
    "source",
    "ns",
    "op",
    "shape_key",
    "shape_key_kind",
    "shape",
    "plan_summary",
    "duration_ms",
    "working_ms",
    "docs_examined",
    "keys_examined",
    "nreturned",
    "n_modified",
    "has_sort_stage",
    "used_disk",
    "from_plan_cache",
    "app_name",
    "query_hash",
    "plan_cache_shape_hash",
    "query_shape_hash",
    "truncated",
    "example",
)
CHUNK_BYTES = 16 << 20  # one task: what a worker reads, scans and turns into one Arrow table
PARALLEL_MIN_BYTES = 64 << 20  # smaller files are read in the calling process
GZ_PARALLEL_MIN_BYTES = 8 << 20  # compressed size from which a .gz is inflated here and scanned by workers
_NEEDLES = (b'"id":51803', b'"id": 51803')
_DATE = re.compile(rb'"t"\s*:\s*\{\s*"\$date"\s*:\s*"([^"]{10,40})"')
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Log line `type` (and profiler `op`) → op; "command" and "query" are read from the command.
_TYPE_OPS = {
    "update": "update",
    "remove": "delete",
    "delete": "delete",
    "insert": "insert",
    "getmore": "getMore",
    "killcursors": "command",
}
Row = dict[str, Any]


# --- one entry ----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        return int(value)
    if value is None or kind is bool:
        return None
    if isinstance(value, int):  # bson.int64.Int64
        return int(value)
    if isinstance(value, Mapping):  # canonical Extended JSON
        for key in ("$numberLong", "$numberInt"):
            if key in value:
                try:
                    return int(value[key])
                except (TypeError, ValueError):
                    return None
    return None


def _float(value: Any) -> float | None:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if value is None or kind is bool:
        return None
    number = _int(value)
    return float(number) if number is not None else None


def _bool(value: Any) -> bool | None:
    return value if type(value) is bool else None


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _datetime(value: Any) -> datetime | None:
    """``t`` of a log line (``{"$date": ...}``) or ``ts`` of a profile document, as a UTC datetime."""
    if isinstance(value, Mapping):
        value = value.get("$date")
        if isinstance(value, Mapping):
            millis = _int(value)
            return _EPOCH + timedelta(milliseconds=millis) if millis is not None else None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def _example(masked: Any, masked_origin: Any) -> str:
    if isinstance(masked, dict) and masked_origin is not None:
        masked = {**masked, "originatingCommand": masked_origin}
    text = orjson.dumps(masked)
    if len(text) <= EXAMPLE_MAX_BYTES:
        return text.decode()
    # cut on a character boundary, and say so: a cut example is not valid JSON any more
    return text[: EXAMPLE_MAX_BYTES - 3].decode("utf-8", "ignore") + "…"


def _op(kind: Any, command: Any) -> str:
    op = _TYPE_OPS.get(kind.lower()) if isinstance(kind, str) else None
    if op is not None:
        return op
    found = shapes.op_of(command)
    if found == "command" and isinstance(command, Mapping) and "q" in command:
        return "delete" if "u" not in command and "limit" in command else ("update" if "u" in command else found)
    if found == "command" and kind == "query":
        return "find"
    return found


def _namespace(ns: Any, command: Any) -> str | None:
    """``ns``, with a write command's ``db.$cmd`` made ``db.<collection>``."""
    if not isinstance(ns, str):
        return None
    if ns.endswith(".$cmd"):
        coll = shapes.command_collection(command)
        if coll:
            return f"{ns[:-5]}.{coll}"
    return ns


def _row(
    ts: datetime | None,
    source: str,
    host: str,
    kind: Any,
    fields: Mapping[str, Any],
    duration: Any,
    truncated: bool,
) -> Row:
    command = fields.get("command")
    origin = fields.get("originatingCommand")
    op = _op(kind, command)
    ns = _namespace(fields.get("ns"), command)
    if isinstance(command, Mapping) and "$truncated" in command:  # the profiler's form of a cut command
        truncated = True
    # mask once: the shape of the masked command is the command's shape (tests check they agree)
    masked = shapes.mask_command(command) if command is not None else None
    masked_origin = None
    if op == "getMore":
        masked_origin = shapes.mask_command(origin) if isinstance(origin, Mapping) else None
        shape = (
            shapes.masked_command_shape("getMore", masked_origin)
            if masked_origin is not None
            else {"command": "getMore"}
        )
    else:
        shape = shapes.masked_command_shape(op, masked) if isinstance(masked, dict) else {}
    shape_json = orjson.dumps(shape)
    query_hash = _str(fields.get("queryHash"))
    plan_hash = _str(fields.get("planCacheShapeHash"))
    shape_hash = _str(fields.get("queryShapeHash"))
    if shape_hash:
        key, kind_of_key = shape_hash, "queryShapeHash"
    elif plan_hash:
        key, kind_of_key = plan_hash, "planCacheShapeHash"
    elif query_hash:
        key, kind_of_key = query_hash, "queryHash"
    else:
        key, kind_of_key = shapes.shape_key_of_json(ns, op, shape_json), "computed"
    return {
        "ts": ts,
        "host": host,
        "source": source,
        "ns": ns,
        "op": op,
        "shape_key": key,
        "shape_key_kind": kind_of_key,
        "shape": shape_json.decode(),
        "plan_summary": _str(fields.get("planSummary")),
        "duration_ms": _float(duration),
        "working_ms": _float(fields.get("workingMillis")),
        "docs_examined": _int(fields.get("docsExamined")),
        "keys_examined": _int(fields.get("keysExamined")),
        "nreturned": _int(fields.get("nreturned")),
        "n_modified": _int(fields.get("nModified")),
        "has_sort_stage": _bool(fields.get("hasSortStage")),
        "used_disk": _bool(fields.get("usedDisk")),
        "from_plan_cache": _bool(fields.get("fromPlanCache")),
        "app_name": _str(fields.get("appName")),
        "query_hash": query_hash,
        "plan_cache_shape_hash": plan_hash,
        "query_shape_hash": shape_hash,
        "truncated": truncated,
        "example": _example(masked, masked_origin) if command is not None else None,
    }


def slow_query_row(entry: Any, source: str, host: str) -> Row | None:
    """A parsed structured-log entry as a ``db_slow_queries`` row; None when it is not a slow operation (id 51803)."""
    if not isinstance(entry, Mapping) or entry.get("id") != SLOW_QUERY_ID or isinstance(entry.get("id"), bool):
        return None
    attr = entry.get("attr")
    if not isinstance(attr, Mapping):
        attr = {}
    truncated = "truncated" in entry
    return _row(_datetime(entry.get("t")), source, host, attr.get("type"), attr, attr.get("durationMillis"), truncated)


def profile_row(doc: Any, source: str, host: str) -> Row | None:
    """A ``system.profile`` document as a ``db_slow_queries`` row (None when it is not a document).

    ``op`` is the profiler's (query, getmore, update, remove, insert, command); ``millis`` the
    duration. Before 5.0 an update's statement was ``query`` + ``updateobj``: read as one.
    """
    if not isinstance(doc, Mapping):
        return None
    fields: Mapping[str, Any] = doc
    if "command" not in doc and ("query" in doc or "updateobj" in doc):
        statement = {"q": doc.get("query") or {}, **({"u": doc["updateobj"]} if "updateobj" in doc else {})}
        fields = {**doc, "command": statement}
    kind = doc.get("op")
    return _row(_datetime(doc.get("ts")), source, host, kind, fields, doc.get("millis"), False)


# --- files ----------------------------------------------------------------------------------


@dataclass
class _Counts:
    lines: int = 0
    slow: int = 0
    non_json: int = 0
    truncated: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None

    def add(self, other: _Counts) -> None:
        self.lines += other.lines
        self.slow += other.slow
        self.non_json += other.non_json
        self.truncated += other.truncated
        if other.first_ts is not None and (self.first_ts is None or other.first_ts < self.first_ts):
            self.first_ts = other.first_ts
        if other.last_ts is not None and (self.last_ts is None or other.last_ts > self.last_ts):
            self.last_ts = other.last_ts


def _count_lines(data: bytes) -> tuple[int, int]:
    """Lines in ``data`` and how many of them are not shaped like a JSON object (``{`` ... ``}``)."""
    if not data:
        return 0, 0
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 0x0A)
    last = len(arr) - 1
    closed = bool(newlines.size) and newlines[-1] == last  # the last line ends with a newline
    ends = newlines - 1 if closed else np.append(newlines - 1, last)  # each line's last byte
    starts = (
        np.concatenate(([0], newlines[:-1] + 1)) if ends.size == newlines.size else np.concatenate(([0], newlines + 1))
    )
    ends = np.where((ends >= 0) & (arr[np.maximum(ends, 0)] == 0x0D), ends - 1, ends)  # CRLF
    empty = ends < starts
    ok = ~empty & (arr[starts] == 0x7B) & (arr[np.maximum(ends, 0)] == 0x7D)
    return int(ends.size), int(ends.size - np.count_nonzero(ok))


def _line_date(data: bytes, start: int) -> datetime | None:
    found = _DATE.match(data, start, start + 200) if data.startswith(b'{"t"', start) else None
    if found is None:
        found = _DATE.search(data, start, min(len(data), start + 200))
    return _datetime(found.group(1).decode("ascii", "replace")) if found else None


def _edge_dates(data: bytes) -> tuple[datetime | None, datetime | None]:
    """The time of the first and of the last line that has one (logs are written in time order)."""
    first = last = None
    start = 0
    for _ in range(100):
        first = _line_date(data, start)
        nl = data.find(b"\n", start)
        if first is not None or nl < 0:
            break
        start = nl + 1
    end = len(data) - (1 if data.endswith(b"\n") else 0)
    for _ in range(100):
        line_start = data.rfind(b"\n", 0, end) + 1
        last = _line_date(data, line_start)
        if last is not None or line_start == 0:
            break
        end = line_start - 1
    return first, last


def _candidates(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the lines holding a slow-query id, in order."""
    found: dict[int, int] = {}
    for needle in _NEEDLES:
        pos = data.find(needle)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            found[start] = end
            pos = data.find(needle, end)
    return sorted(found.items())


def _scan(data: bytes, source: str, host: str) -> tuple[list[Row], _Counts]:
    """The slow-query rows of a block of whole lines, and its counts."""
    counts = _Counts()
    counts.lines, counts.non_json = _count_lines(data)
    counts.first_ts, counts.last_ts = _edge_dates(data)
    rows: list[Row] = []
    collecting = gc.isenabled()
    gc.disable()  # the parsed entries hold no cycles; collections triggered by them only cost time
    try:
        _parse(data, source, host, rows, counts)
    finally:
        if collecting:
            gc.enable()
    counts.slow = len(rows)
    counts.truncated = sum(1 for row in rows if row["truncated"])
    return rows, counts


def _parse(data: bytes, source: str, host: str, rows: list[Row], counts: _Counts) -> None:
    loads = orjson.loads
    for start, end in _candidates(data):
        line = data[start:end]
        try:
            entry = loads(line)
        except orjson.JSONDecodeError:
            stripped = line.rstrip(b"\r")
            if stripped.startswith(b"{") and stripped.endswith(b"}"):
                counts.non_json += 1  # shaped like an object, but not JSON
            continue
        if not isinstance(entry, dict):
            continue
        row = slow_query_row(entry, source, host)
        if row is not None:
            rows.append(row)


def _table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    columns = [
        pa.array([row[name] for row in rows], type=field.type) for name, field in zip(COLUMNS, schema, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _scan_block(data: bytes, source: str, host: str, schema: pa.Schema) -> tuple[pa.Table, _Counts]:
    rows, counts = _scan(data, source, host)
    return _table(rows, schema), counts


def _read_range(path: str, start: int, end: int) -> bytes:
    """The lines that start in [start, end) of a file."""
    with open(path, "rb") as fh:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # the rest of the line that holds byte start - 1 (just "\n" when start begins a line)
        pos = fh.tell()
        if pos >= end:
            return b""
        data = fh.read(end - pos)
        if data and not data.endswith(b"\n"):
            data += fh.readline()
        return data


def _scan_range(path: str, start: int, end: int, source: str, host: str, schema: pa.Schema) -> tuple[pa.Table, _Counts]:
    return _scan_block(_read_range(path, start, end), source, host, schema)


def _gz_blocks(path: Path, chunk: int) -> Iterator[bytes]:
    """Blocks of whole lines of a gzip file (inflated); a damaged file raises SourceError."""
    done = 0
    rest = b""
    try:
        with gzip.open(path, "rb") as fh:
            while True:
                data = fh.read(chunk)
                if not data:
                    break
                done += len(data)
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest += data
                    continue
                yield rest + data[:cut]
                rest = data[cut:]
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(
            str(path), f"damaged gzip after {done:,} inflated bytes ({exc}); nothing kept from it"
        ) from exc
    if rest:
        yield rest


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: workers import only this module (orjson, pyarrow), not the caller's DuckDB and pandas
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else (os.cpu_count() or 1))


def read_log_file(path: Path, host: str, *, workers: int | None = None) -> tuple[pa.Table, Row]:
    """A structured log file (plain or ``.gz``) → its slow-query rows (``db_slow_queries``) and one ``db_log_reads`` row.

    Lines that are not JSON objects are counted (``non_json``), never an error. A damaged
    gzip file raises :class:`~opsreview.exceptions.SourceError` naming it, and nothing read
    from it is kept (a cut or corrupt file cannot say which of its lines are whole).
    ``workers``: processes for large files (default: one per core; 1 reads in this process).
    """
    from opsreview.database import models

    schema = models.SLOW_QUERIES_SCHEMA
    if tuple(schema.names) != COLUMNS:
        raise RuntimeError("slowlog.COLUMNS no longer matches models.SLOW_QUERIES_SCHEMA")
    path = Path(path)
    source = str(path)
    read_at = datetime.now(UTC)
    n = _workers(workers)
    tables: list[pa.Table] = []
    counts = _Counts()
    try:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(source, f"cannot read: {exc}") from exc
    if gz:
        if n == 1 or size < GZ_PARALLEL_MIN_BYTES:
            for block in _gz_blocks(path, CHUNK_BYTES):
                table, part = _scan_block(block, source, host, schema)
                tables.append(table)
                counts.add(part)
        else:
            with _pool(n) as pool:
                pending: list[Future[tuple[pa.Table, _Counts]]] = []
                for block in _gz_blocks(path, CHUNK_BYTES):
                    pending.append(pool.submit(_scan_block, block, source, host, schema))
                    while len(pending) > 2 * n:  # bound the inflated blocks in flight
                        table, part = pending.pop(0).result()
                        tables.append(table)
                        counts.add(part)
                for future in pending:
                    table, part = future.result()
                    tables.append(table)
                    counts.add(part)
    elif n == 1 or size < PARALLEL_MIN_BYTES:
        for start in range(0, max(size, 1), CHUNK_BYTES):
            table, part = _scan_range(source, start, start + CHUNK_BYTES, source, host, schema)
            tables.append(table)
            counts.add(part)
    else:
        starts = list(range(0, size, CHUNK_BYTES))
        with _pool(min(n, len(starts))) as pool:
            futures = [pool.submit(_scan_range, source, s, s + CHUNK_BYTES, source, host, schema) for s in starts]
            for future in futures:
                table, part = future.result()
                tables.append(table)
                counts.add(part)
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    read = {
        "ts": read_at,
        "host": host,
        "path": source,
        "lines": counts.lines,
        "slow_queries": counts.slow,
        "non_json": counts.non_json,
        "truncated": counts.truncated,
        "first_ts": counts.first_ts,
        "last_ts": counts.last_ts,
    }
    return table, read
