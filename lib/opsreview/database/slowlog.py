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

A file is read by DuckDB (:func:`read_log_file`): its JSON reader parses every line on every
core and keeps the slow-query lines' fields; Python masks one command per distinct shape, not
one per line (masking costs some 10 µs a command, and a busy day logs millions of slow lines).
"""

from __future__ import annotations

import gzip
import tempfile
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

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
# Columns of models.SLOW_QUERIES_SCHEMA, in order (checked against it by read_log_file and the tests).
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
CHUNK_BYTES = 16 << 20  # the line count reads the file in blocks of this size
BATCH_ROWS = 100_000  # slow-query rows per Arrow batch from DuckDB
_SHAPE_CACHE_MAX = 50_000  # shapes kept per file (only commands without a server hash add many)
_NEEDLES = (b'"id":51803,', b'"id": 51803,')  # as mongod writes it, and as json.dumps would
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GLOB_CHARS = "*?[{"
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


@dataclass(frozen=True)
class _Shaped:
    """What a slow operation's command gives: everything of its row but the measures."""

    ns: str | None
    op: str
    shape_key: str
    shape_key_kind: str
    shape: str
    example: str | None
    cut: bool  # the command is the profiler's {"$truncated": ...}


def _shaped(kind: Any, ns_raw: Any, command: Any, origin: Any, hashes: tuple[Any, Any, Any]) -> _Shaped:
    """``hashes``: (queryHash, planCacheShapeHash, queryShapeHash) as read."""
    op = _op(kind, command)
    ns = _namespace(ns_raw, command)
    cut = isinstance(command, Mapping) and "$truncated" in command
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
    query_hash, plan_hash, shape_hash = (_str(h) for h in hashes)
    if shape_hash:
        key, kind_of_key = shape_hash, "queryShapeHash"
    elif plan_hash:
        key, kind_of_key = plan_hash, "planCacheShapeHash"
    elif query_hash:
        key, kind_of_key = query_hash, "queryHash"
    else:
        key, kind_of_key = shapes.shape_key_of_json(ns, op, shape_json), "computed"
    example = _example(masked, masked_origin) if command is not None else None
    return _Shaped(ns, op, key, kind_of_key, shape_json.decode(), example, cut)


def _row(
    ts: datetime | None,
    source: str,
    host: str,
    kind: Any,
    fields: Mapping[str, Any],
    duration: Any,
    truncated: bool,
) -> Row:
    hashes = (fields.get("queryHash"), fields.get("planCacheShapeHash"), fields.get("queryShapeHash"))
    shaped = _shaped(kind, fields.get("ns"), fields.get("command"), fields.get("originatingCommand"), hashes)
    return {
        "ts": ts,
        "host": host,
        "source": source,
        "ns": shaped.ns,
        "op": shaped.op,
        "shape_key": shaped.shape_key,
        "shape_key_kind": shaped.shape_key_kind,
        "shape": shaped.shape,
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
        "query_hash": _str(hashes[0]),
        "plan_cache_shape_hash": _str(hashes[1]),
        "query_shape_hash": _str(hashes[2]),
        "truncated": truncated or shaped.cut,
        "example": shaped.example,
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
    non_json: int = 0  # lines not shaped like a JSON object
    candidates: int = 0  # lines shaped like one that hold a slow-query id
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    needle: bytes | None = None  # how this file writes the slow-query id (decided on its first JSON line)
    id_column: int | None = None  # where "id" starts on that line


def _line_shapes(data: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the newlines in ``data``, and for each line whether it is shaped like a JSON object."""
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 0x0A)
    if not len(arr):
        return newlines, np.zeros(0, dtype=bool)
    last = len(arr) - 1
    closed = bool(newlines.size) and newlines[-1] == last  # the last line ends with a newline
    ends = newlines - 1 if closed else np.append(newlines - 1, last)  # each line's last byte
    starts = np.concatenate(([0], newlines[:-1] + 1)) if closed else np.concatenate(([0], newlines + 1))
    ends = np.where((ends >= 0) & (arr[np.maximum(ends, 0)] == 0x0D), ends - 1, ends)  # CRLF
    ok = (ends >= starts) & (arr[starts] == 0x7B) & (arr[np.maximum(ends, 0)] == 0x7D)
    return newlines, ok


def _count_block(data: bytearray, end: int, counts: _Counts) -> None:
    """Count the whole lines in ``data[:end]``."""
    newlines, ok = _line_shapes(memoryview(data)[:end])
    counts.lines += int(ok.size)
    bad = np.flatnonzero(~ok)
    counts.non_json += int(bad.size)
    if counts.needle is None:
        first = data.find(b'{"t"', 0, end)
        if first >= 0:
            # mongod writes compact JSON: "id":51803; a file rewritten by other tools may space it
            spaced = data.find(b'"id": ', first, first + 400)
            counts.needle = _NEEDLES[1] if spaced >= 0 else _NEEDLES[0]
            at = spaced if spaced >= 0 else data.find(b'"id":', first, first + 400)
            counts.id_column = at - first if at >= 0 else None
    if counts.needle is not None:
        starts = np.concatenate(([0], newlines + 1))[: ok.size]
        found = _ids_in_column(data, end, starts[ok], counts)
        if found is None:  # not every line has its id in that column: search the block
            found = data.count(counts.needle, 0, end)
            for line in bad.tolist():  # a slow-query id on a line not shaped like an object is counted once
                line_end = int(newlines[line]) if line < newlines.size else end
                found -= data.count(counts.needle, int(starts[line]), line_end)
        counts.candidates += found
    first_ts, last_ts = _edge_dates(data, end)
    if counts.first_ts is None:
        counts.first_ts = first_ts
    if last_ts is not None:
        counts.last_ts = last_ts


_ID_KEY = np.frombuffer(b'"id":', dtype=np.uint8)


def _ids_in_column(data: bytearray, end: int, starts: np.ndarray, counts: _Counts) -> int | None:
    """Slow-query ids among the lines starting at ``starts``, when every one has its ``"id"`` in the same column.

    mongod pads ``"s"`` and ``"c"`` so that ``"id"`` starts in the same column on every line of a
    file: comparing a few bytes there beats searching all of them. None when a line differs.
    """
    if counts.id_column is None or counts.needle is None or not starts.size:
        return None if starts.size else 0
    needle = np.frombuffer(counts.needle, dtype=np.uint8)
    at = starts + counts.id_column
    if int(at[-1]) + needle.size > end:
        return None
    arr = np.frombuffer(memoryview(data)[:end], dtype=np.uint8)
    same = np.ones(at.size, dtype=bool)
    for k, byte in enumerate(needle.tolist()):  # one byte column at a time: no window copied
        same &= arr[at + k] == byte
        if k + 1 == _ID_KEY.size and not same.all():
            return None
    return int(np.count_nonzero(same))


_DATE_KEY = b'{"t":{"$date":"'


def _line_date(data: bytearray, start: int) -> datetime | None:
    """The time of the line at ``start``, when it begins as mongod writes it: ``{"t":{"$date":"..."``."""
    if not data.startswith(_DATE_KEY, start):
        return None
    end = data.find(b'"', start + len(_DATE_KEY), start + len(_DATE_KEY) + 40)
    if end < 0:
        return None
    return _datetime(data[start + len(_DATE_KEY) : end].decode("ascii", "replace"))


def _edge_dates(data: bytearray, size: int) -> tuple[datetime | None, datetime | None]:
    """The time of the first and of the last line of ``data[:size]`` that has one (logs are written in time order)."""
    first = last = None
    start = 0
    for _ in range(100):
        first = _line_date(data, start)
        nl = data.find(b"\n", start, size)
        if first is not None or nl < 0:
            break
        start = nl + 1
    end = size - (1 if size and data[size - 1] == 0x0A else 0)
    for _ in range(100):
        line_start = data.rfind(b"\n", 0, end) + 1
        last = _line_date(data, line_start)
        if last is not None or line_start == 0:
            break
        end = line_start - 1
    return first, last


def _blocks(fh: Any, chunk: int) -> Iterator[tuple[bytearray, int]]:
    """Blocks of whole lines read from ``fh``: (buffer, size), valid until the next one (one buffer, no copies)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    held = 0  # bytes of an unfinished line carried to the front
    while True:
        if held == len(buf):  # a line longer than the buffer: grow it
            view.release()
            buf.extend(bytes(len(buf)))
            view = memoryview(buf)
        got = fh.readinto(view[held:])
        size = held + (got or 0)
        if not got:
            if size:
                yield buf, size
            return
        cut = buf.rfind(b"\n", 0, size) + 1
        if cut == 0:
            held = size
            continue
        yield buf, cut
        held = size - cut
        buf[:held] = bytes(view[cut:size])  # a copy: the two ranges may overlap


def _count_file(path: Path, gz: bool, counts: _Counts, errors: list[BaseException]) -> None:
    inflated = 0
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as fh:
            for buf, size in _blocks(fh, CHUNK_BYTES):
                inflated += size
                _count_block(buf, size, counts)
    except (OSError, EOFError, zlib.error) as exc:
        what = f"damaged gzip after {inflated:,} inflated bytes" if gz else "read failed"
        errors.append(SourceError(str(path), f"{what} ({exc}); nothing kept from it"))
    except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
        errors.append(exc)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# attr fields read by DuckDB, with their types (a value of another type reads as null)
_ATTR_FIELDS = (
    ("type", "VARCHAR"),
    ("ns", "VARCHAR"),
    ("appName", "VARCHAR"),
    ("command", "JSON"),
    ("originatingCommand", "JSON"),
    ("planSummary", "VARCHAR"),
    ("durationMillis", "DOUBLE"),
    ("workingMillis", "DOUBLE"),
    ("keysExamined", "BIGINT"),
    ("docsExamined", "BIGINT"),
    ("nreturned", "BIGINT"),
    ("nModified", "BIGINT"),
    ("hasSortStage", "BOOLEAN"),
    ("usedDisk", "BOOLEAN"),
    ("fromPlanCache", "BOOLEAN"),
    ("queryHash", "VARCHAR"),
    ("planCacheShapeHash", "VARCHAR"),
    ("queryShapeHash", "VARCHAR"),
)


def _slow_sql(path: Path, gz: bool) -> str:
    attr = ", ".join(f'"{name}" {kind}' for name, kind in _ATTR_FIELDS)
    columns = {"t": 'STRUCT("$date" VARCHAR)', "id": "BIGINT", "attr": f"STRUCT({attr})", "truncated": "JSON"}
    columns_sql = "{" + ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in columns.items()) + "}"
    noise = _sql_string(orjson.dumps(dict.fromkeys(sorted(shapes.NOISE_FIELDS))).decode())
    server_hash = 'coalesce(attr."queryShapeHash", attr."planCacheShapeHash", attr."queryHash")'
    # rows with the same key share their shape and example: same namespace, type, command name and
    # server hash; without a hash, the same command once the session fields are taken out. A 64-bit
    # hash of those (a collision between two of a file's few thousand shapes: about 1 in 10^12).
    key = f"""hash(attr.ns, attr."type", regexp_extract(attr.command, '^\\{{\\s*"([^"]*)"', 1),
        CASE WHEN truncated IS NOT NULL
                  THEN 'T' || coalesce(attr.command::VARCHAR, '') || chr(30) || coalesce(attr."originatingCommand"::VARCHAR, '')
             WHEN {server_hash} IS NOT NULL THEN 'H' || {server_hash}
             ELSE 'C' || coalesce(json_merge_patch(attr.command, {noise})::VARCHAR, '')
                  || chr(30) || coalesce(json_merge_patch(attr."originatingCommand", {noise})::VARCHAR, '') END)"""
    date = 't."$date"'
    return f"""
SELECT
    coalesce(TRY_CAST({date} AS TIMESTAMPTZ),
             make_timestamp(TRY_CAST(json_extract_string({date}, '$."$numberLong"') AS BIGINT) * 1000)) AS ts,
    attr."planSummary" AS plan_summary,
    attr."durationMillis" AS duration_ms,
    attr."workingMillis" AS working_ms,
    attr."docsExamined" AS docs_examined,
    attr."keysExamined" AS keys_examined,
    attr."nreturned" AS nreturned,
    attr."nModified" AS n_modified,
    attr."hasSortStage" AS has_sort_stage,
    attr."usedDisk" AS used_disk,
    attr."fromPlanCache" AS from_plan_cache,
    attr."appName" AS app_name,
    attr."queryHash" AS query_hash,
    attr."planCacheShapeHash" AS plan_cache_shape_hash,
    attr."queryShapeHash" AS query_shape_hash,
    truncated IS NOT NULL AS truncated,
    attr."type" AS kind,
    attr.ns AS ns_raw,
    attr.command AS command,
    attr."originatingCommand" AS origin,
    {key} AS shape_of
FROM read_json({_sql_string(str(path))}, format = 'newline_delimited', columns = {columns_sql},
               compression = {_sql_string("gzip" if gz else "none")}, ignore_errors = true)
WHERE id = {SLOW_QUERY_ID}
"""


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _finish(
    batch: pa.RecordBatch, cache: dict[int, _Shaped], schema: pa.Schema, source: str, host: str
) -> pa.RecordBatch:
    """A batch of DuckDB's rows as a batch of the table: one command masked per distinct ``shape_of``."""
    encoded = pc.dictionary_encode(batch.column("shape_of"))
    indices = encoded.indices
    keys = encoded.dictionary.to_pylist()
    _, first = np.unique(indices.to_numpy(zero_copy_only=False), return_index=True)
    if len(cache) > _SHAPE_CACHE_MAX:
        cache.clear()
    shaped: list[_Shaped] = []
    for key, row in zip(keys, first.tolist(), strict=True):
        found = cache.get(key)
        if found is None:

            def at(name: str, row: int = row) -> Any:
                return batch.column(name)[row].as_py()

            hashes = (at("query_hash"), at("plan_cache_shape_hash"), at("query_shape_hash"))
            found = _shaped(at("kind"), at("ns_raw"), _loads(at("command")), _loads(at("origin")), hashes)
            cache[key] = found
        shaped.append(found)

    def column(name: str) -> pa.Array:
        return pa.array([getattr(s, name) for s in shaped], type=pa.string()).take(indices)

    cut = pa.array([s.cut for s in shaped], type=pa.bool_()).take(indices)
    zeros = pa.array(np.zeros(batch.num_rows, dtype=np.int32))

    def constant(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(zeros, pa.array([value], type=pa.string())).cast(pa.string())

    computed = {
        "host": constant(host),
        "source": constant(source),
        "ns": column("ns"),
        "op": column("op"),
        "shape_key": column("shape_key"),
        "shape_key_kind": column("shape_key_kind"),
        "shape": column("shape"),
        "example": column("example"),
        "truncated": pc.or_(batch.column("truncated"), cut),
    }
    arrays = [computed[name] if name in computed else batch.column(name) for name in COLUMNS]
    return pa.RecordBatch.from_arrays([a.cast(f.type) for a, f in zip(arrays, schema, strict=True)], schema=schema)


def read_log_file(path: Path, host: str, *, threads: int | None = None) -> tuple[pa.Table, Row]:
    """A structured log file (plain or ``.gz``) → its slow-query rows (``db_slow_queries``) and one ``db_log_reads`` row.

    DuckDB reads the file (every core, or ``threads``); a thread of this process counts its
    lines meanwhile. ``non_json``: lines not shaped like a JSON object (``{`` ... ``}``), plus
    those shaped like one that hold a slow-query id (``"id":51803,``) but that DuckDB could not
    read. ``truncated``: slow-query rows whose attributes the server cut. ``first_ts`` and
    ``last_ts``: the times of the file's first and last dated lines.

    Rows with the same namespace, type, command name and server shape hash share the ``shape``
    and ``example`` of the first of them (masked once); without a server hash, rows share them
    only when their commands are the same but for session fields. A damaged gzip file raises
    :class:`~opsreview.exceptions.SourceError` naming it, and nothing read from it is kept (a
    cut or corrupt file cannot say which of its lines are whole).
    """
    import duckdb

    from opsreview import engine
    from opsreview.database import models

    schema = models.SLOW_QUERIES_SCHEMA
    if tuple(schema.names) != COLUMNS:
        raise RuntimeError("slowlog.COLUMNS no longer matches models.SLOW_QUERIES_SCHEMA")
    path = Path(path)
    source = str(path)
    read_at = datetime.now(UTC)
    try:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise SourceError(source, f"cannot read: {exc}") from exc
    counts = _Counts()
    errors: list[BaseException] = []
    counter = threading.Thread(target=_count_file, args=(path, gz, counts, errors), name="slowlog-count", daemon=True)
    counter.start()
    batches: list[pa.RecordBatch] = []
    cache: dict[int, _Shaped] = {}
    con = engine.connect()
    with tempfile.TemporaryDirectory(prefix="opsreview-slowlog-") as tmp:
        readable = path
        if any(c in source for c in _GLOB_CHARS):  # DuckDB would read the name as a pattern
            readable = Path(tmp) / "log"
            readable.symlink_to(path.resolve())
        try:
            if threads is not None:
                con.execute(f"SET threads = {max(1, int(threads))}")
            reader = con.sql(_slow_sql(readable, gz)).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                if batch.num_rows:
                    batches.append(_finish(batch, cache, schema, source, host))
        except duckdb.Error as exc:
            counter.join()
            if errors:
                raise errors[0] from exc
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(source, f"could not be read as JSON lines: {message}") from exc
        finally:
            con.close()
    counter.join()
    if errors:
        raise errors[0]
    table = pa.Table.from_batches(batches, schema=schema)
    rows = table.num_rows
    read = {
        "ts": read_at,
        "host": host,
        "path": source,
        "lines": counts.lines,
        "slow_queries": rows,
        "non_json": counts.non_json + max(0, counts.candidates - rows),
        "truncated": int(pc.sum(table.column("truncated")).as_py() or 0) if rows else 0,
        "first_ts": counts.first_ts,
        "last_ts": counts.last_ts,
    }
    return table, read
