"""Parse one application-log file into `app_events` rows, vectorised with DuckDB.

Two shapes of application log, both as written by Node services:

- **JSON lines** (winston, pino, bunyan): ``level`` as a name or pino's number (10-60),
  ``time``/``timestamp``/``@timestamp`` as ISO text or epoch milliseconds (seconds when small),
  ``msg``/``message``, ``err.stack``/``stack``, ``err.type``/``err.name``; every other field is
  kept, as JSON text, in ``extra``. Names can be overridden per source (``json_fields``).
- **Plain text**: a header line ``<timestamp> <LEVEL> message`` (brackets, a ``[thread]`` tag
  and ``-``/``:`` separators tolerated; the level may also come first), followed by any
  number of continuation lines (stack frames) that belong to the event above them.

Timestamps without a zone are taken in the params' timezone. Lines that are not an event
(invalid JSON, no timestamp, text before the first header) are counted as unparsed, with up to
five redacted samples per day, on the day of the event before them. Two kinds of line are
refused before parsing, in either shape, and count unparsed too: a line over the one length
limit, :data:`~opsreview.logs.files.MAX_LINE_BYTES` (1 MiB; counted apart as ``too_long``),
and a line holding a NUL byte (no logger writes one: it is damage, such as the run of NULs
copytruncate leaves) - neither starts an event nor joins one's stack. Files are read through
:class:`~opsreview.logs.files.LogReader` (gzip, damage, invalid UTF-8, CRLF, long lines).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsreview import engine
from opsreview.logs.app.analysis import ERROR_LEVELS, error_type_sql, fingerprint_sql
from opsreview.logs.files import MAX_LINE_BYTES, LogReader
from opsreview.logs.timestamps import epoch_sql, iso_text_sql, plausible_sql
from opsreview.masking import masked
from opsreview.relations import sql_string

__all__ = ["APP_EVENTS_SCHEMA", "JSON_FIELDS", "AppLogParse", "parse_app_log", "read_lines"]

APP_EVENTS_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("host", pa.string()),
        ("level", pa.string()),
        ("message", pa.string()),
        ("stack", pa.string()),
        ("error_type", pa.string()),
        ("fingerprint", pa.string()),
        ("extra", pa.string()),
        ("source_file", pa.string()),
    ]
)
# Where each column is looked for in a JSON line, in order (dotted paths).
# A dot inside a key (ECS writes "log.level" flat) is written `\\.`.
JSON_FIELDS: dict[str, tuple[str, ...]] = {
    "level": ("level", "severity", "lvl", "log.level", "log\\.level"),
    "ts": ("time", "timestamp", "@timestamp", "ts", "date"),
    "message": ("msg", "message"),
    "stack": ("err.stack", "error.stack", "stack", "exception.stack"),
    "error_type": ("err.type", "err.name", "error.name", "error.type", "exception.type"),
    # pino's `logger.error(err, "payment failed")`: the message says where, err.message what
    "err_message": ("err.message", "error.message", "exception.message", "error\\.message"),
}
_ANSI = "\x1b\\[[0-9;]*m"  # winston's colorize(): a level like "\x1b[31merror\x1b[39m"
TOO_LONG = f"[over the {MAX_LINE_BYTES >> 20} MiB line limit] "  # what a too-long line's sample starts with
MESSAGE_CHARS = 10_000
STACK_CHARS = 20_000
SAMPLES_PER_DAY = 5
SAMPLE_CHARS = 300
_BATCH = 65_536
CHUNK_LINES = 200_000

_LEVEL_NAMES = {
    "fatal": ("fatal", "critical", "crit", "emerg", "emergency", "alert", "panic"),
    "error": ("error", "err", "severe"),
    "warn": ("warn", "warning"),
    "info": ("info", "information", "notice", "http", "verbose", "log"),
    "debug": ("debug",),
    "trace": ("trace", "silly", "fine", "finest"),
}
_LEVEL_WORDS = "|".join(sorted({w for words in _LEVEL_NAMES.values() for w in words}, key=len, reverse=True))
_TS = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?))?"
# <ts> [tag] LEVEL [tag] message   |   LEVEL <ts> message   (brackets, separators and a level after the
# timestamp optional: a line that starts with a timestamp starts an event)
HEADER_TS_FIRST = (
    rf"(?i)^\[?({_TS})\]?\s*(?:\[[^\]]*\]\s*)?[-|:]?\s*(?:\[?({_LEVEL_WORDS})\b\]?)?\s*"
    rf"(?:\[[^\]]*\]\s*)?[-|:]?\s?(.*)$"  # a [thread] tag after the level too (log4js, logback)
)
HEADER_LEVEL_FIRST = rf"(?i)^\[?({_LEVEL_WORDS})\b\]?\s*[-|:]?\s*\[?({_TS})\]?\s*[-|:]?\s?(.*)$"


@dataclass
class AppLogParse:
    """What one file gave: events (with a ``day`` column) and per-day line counts."""

    events: pa.Table
    days: pd.DataFrame  # day, lines, parsed, unparsed, too_long, samples
    error: str | None
    lines: int


def read_lines(path: Path, data: bytes | None = None) -> tuple[pa.Table, LogReader]:
    """The file's lines (``lineno``, ``line``) as an Arrow table, read through LogReader
    (from ``data``, the file's bytes, when given)."""
    reader = LogReader(path, max_line_bytes=MAX_LINE_BYTES, data=data)
    chunks: list[pa.Array] = []
    batch: list[str] = []
    for line in reader:
        batch.append(line)
        if len(batch) >= _BATCH:
            chunks.append(pa.array(batch, pa.string()))
            batch = []
    if batch:
        chunks.append(pa.array(batch, pa.string()))
    lines = pa.chunked_array(chunks, pa.string())
    return pa.table({"lineno": pa.array(np.arange(len(lines), dtype=np.int64)), "line": lines}), reader


def level_sql(raw: str) -> str:
    """DuckDB expression: a level name (colour codes ignored) or pino number normalised to
    fatal|error|warn|info|debug|trace."""
    raw = f"regexp_replace({raw}, {sql_string(_ANSI)}, '', 'g')"
    number = f"try_cast({raw} AS DOUBLE)"
    by_number = (
        f"CASE WHEN {number} >= 60 THEN 'fatal' WHEN {number} >= 50 THEN 'error' WHEN {number} >= 40 THEN 'warn' "
        f"WHEN {number} >= 30 THEN 'info' WHEN {number} >= 20 THEN 'debug' ELSE 'trace' END"
    )
    names = " ".join(
        f"WHEN lower(trim({raw})) IN ({', '.join(sql_string(w) for w in words)}) THEN '{level}'"
        for level, words in _LEVEL_NAMES.items()
    )
    return f"CASE WHEN {number} IS NOT NULL THEN {by_number} {names} END"


def ts_sql(raw: str) -> str:
    """DuckDB expression: ISO text (zone-less = session zone) or an epoch number (s, ms, us or
    ns; see opsreview.logs.timestamps) to TIMESTAMPTZ; NULL when it is no plausible time."""
    number = f"try_cast({raw} AS DOUBLE)"
    decimal_point = f"replace({raw}, ',', '.')"  # `14:00:00,123` (log4js, Python's logging)
    text = plausible_sql(f"try_cast({iso_text_sql(decimal_point)} AS TIMESTAMPTZ)")
    return f"CASE WHEN {number} IS NULL THEN {text} ELSE {epoch_sql(number)} END"


def _json_path(dotted: str) -> str:
    parts = [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", dotted)]
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in parts)


def json_events_sql(fields: Mapping[str, tuple[str, ...]]) -> str:
    """SQL over table ``lines`` giving one row per line: lineno, line (kept for unparsed lines
    only), ts, level, message, stack, error_type, extra, ok."""
    paths: list[str] = []
    slots: dict[str, list[int]] = {}
    for column, candidates in fields.items():
        slots[column] = []
        for candidate in candidates:
            paths.append(candidate)
            slots[column].append(len(paths))
    path_list = ", ".join(sql_string(_json_path(p)) for p in paths)

    def first(column: str) -> str:
        return f"coalesce({', '.join(f'v[{i}]' for i in slots[column])})"

    flat = (p for cands in fields.values() for p in cands if not re.search(r"(?<!\\)\.", p))
    top_level = sorted({p.replace("\\.", ".") for p in flat} | {"v"})
    nested = ("err", "error", "exception")
    # `extra`: the line without the fields taken into columns, by JSON merge patch. A nested
    # error object is patched only where the line has one (a patch would create it), and one
    # left empty is then dropped. The strpos tests spare most lines any further JSON parsing.
    patch = sql_string("{" + ", ".join(f'"{k}": null' for k in top_level))
    for parent in nested:
        inner = sql_string(f', "{parent}": {{"stack": null, "type": null, "name": null, "message": null}}')
        patch += f" || CASE WHEN has_{parent} THEN {inner} ELSE '' END"
    patch += " || '}'"
    cleanup = " || ".join(
        f"CASE WHEN has_{parent} AND json_extract(extra, '$.{parent}')::VARCHAR = '{{}}' "
        f"THEN '\"{parent}\": null,' ELSE '' END"
        for parent in nested
    )
    flags = ", ".join(
        f"strpos(line, '\"{parent}\"') > 0 AND json_type(line, '$.{parent}') = 'OBJECT' AS has_{parent}"
        for parent in nested
    )
    # winston puts the error's name at the top level; pino uses `name` for the logger: only a
    # name that reads like an error type counts.
    named_type = "CASE WHEN regexp_matches(v_name, '^[A-Z][A-Za-z0-9_$]*(Error|Exception)$') THEN v_name END"
    stack = f"left({first('stack')}, {STACK_CHARS})"
    said, err = first("message"), first("err_message")
    message = (
        f"left(CASE WHEN {err} IS NULL OR {err} = '' THEN coalesce({said}, '') "
        f"WHEN {said} IS NULL OR {said} = '' OR strpos({said}, {err}) > 0 THEN coalesce(nullif({said}, ''), {err}) "
        f"ELSE {said} || ': ' || {err} END, {MESSAGE_CHARS})"
    )
    return f"""
        WITH checked AS MATERIALIZED (
            SELECT lineno, line, CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END AS valid
            FROM lines
        ), x AS (
            SELECT lineno, line, json_extract_string(line, [{path_list}]) AS v,
                   json_extract_string(line, '$.name') AS v_name, {flags}
            FROM checked WHERE valid
        ), f AS MATERIALIZED (
            SELECT lineno, {ts_sql(first("ts"))} AS ts, CASE WHEN {ts_sql(first("ts"))} IS NULL THEN line END AS line,
                   {first("level")} AS level_raw, {message} AS message,
                   {stack} AS stack, coalesce({first("error_type")}, {named_type}) AS error_type,
                   json_merge_patch(line, {patch}) AS extra, {", ".join(f"has_{p}" for p in nested)}
            FROM x
        ), c AS MATERIALIZED (
            SELECT * EXCLUDE (extra), extra, rtrim({cleanup}, ',') AS cleanup FROM f
        ), parsed AS (
            SELECT lineno, line, ts,
                   coalesce({level_sql("level_raw")}, CASE WHEN stack IS NOT NULL THEN 'error' ELSE 'info' END) AS level,
                   message, stack,
                   coalesce(error_type, CASE WHEN stack IS NOT NULL OR regexp_matches(message, '(Error|Exception)')
                                             THEN {error_type_sql("stack", "message")} END) AS error_type,
                   nullif(CASE WHEN cleanup = '' THEN extra ELSE json_merge_patch(extra, '{{' || cleanup || '}}') END::VARCHAR,
                          '{{}}') AS extra,
                   ts IS NOT NULL AS ok
            FROM c
        )
        SELECT * FROM parsed
        UNION ALL
        SELECT lineno, line, NULL::TIMESTAMPTZ, NULL, NULL, NULL, NULL, NULL, false FROM checked WHERE NOT valid
    """


def text_events_sql() -> str:
    """SQL over table ``lines``: one row per line with its event's fields (``ok`` false for orphans)."""
    return f"""
        WITH clean AS (
            SELECT lineno, regexp_replace(line, {sql_string(_ANSI)}, '', 'g') AS line FROM lines
        ), h AS (
            SELECT lineno, line,
                   regexp_matches(line, {sql_string(HEADER_TS_FIRST)}) AS ts_first,
                   regexp_matches(line, {sql_string(HEADER_LEVEL_FIRST)}) AS level_first
            FROM clean
        ), parts AS (
            SELECT lineno, line, ts_first OR level_first AS header,
                   CASE WHEN ts_first THEN regexp_extract(line, {sql_string(HEADER_TS_FIRST)}, 1)
                        WHEN level_first THEN regexp_extract(line, {sql_string(HEADER_LEVEL_FIRST)}, 2) END AS ts_raw,
                   CASE WHEN ts_first THEN regexp_extract(line, {sql_string(HEADER_TS_FIRST)}, 2)
                        WHEN level_first THEN regexp_extract(line, {sql_string(HEADER_LEVEL_FIRST)}, 1) END AS level_raw,
                   CASE WHEN ts_first THEN regexp_extract(line, {sql_string(HEADER_TS_FIRST)}, 3)
                        WHEN level_first THEN regexp_extract(line, {sql_string(HEADER_LEVEL_FIRST)}, 3) END AS rest
            FROM h
        ), numbered AS (
            SELECT *, sum(header::INTEGER) OVER (ORDER BY lineno ROWS UNBOUNDED PRECEDING) AS event FROM parts
        ), events AS (
            SELECT event, arg_min(ts_raw, lineno) AS ts_raw, arg_min(level_raw, lineno) AS level_raw,
                   left(arg_min(rest, lineno), {MESSAGE_CHARS}) AS message,
                   string_agg(line, chr(10) ORDER BY lineno) FILTER (WHERE NOT header) AS continuation
            FROM numbered WHERE event > 0 GROUP BY event
        ), parsed AS (
            SELECT event, {ts_sql("ts_raw")} AS ts, coalesce({level_sql("level_raw")}, 'info') AS level, message,
                   CASE WHEN continuation IS NOT NULL THEN left(message || chr(10) || continuation, {STACK_CHARS}) END
                       AS stack, continuation
            FROM events
        )
        SELECT n.lineno, CASE WHEN p.ts IS NULL THEN n.line END AS line, p.ts, p.level, p.message, p.stack,
               {error_type_sql("p.stack", "p.message", "p.continuation")} AS error_type, NULL::VARCHAR AS extra,
               coalesce(p.ts IS NOT NULL, false) AS ok, n.header AND p.ts IS NOT NULL AS first_line
        FROM numbered n LEFT JOIN parsed p USING (event)
    """


def parse_app_log(
    path: Path,
    fmt: str,
    host: str,
    tz: str,
    default_day: dt.date,
    json_fields: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> AppLogParse:
    """Parse one file (``data``: its bytes, when read already); see the module docstring.

    JSON lines are independent, so they go through DuckDB in chunks of ``CHUNK_LINES`` (memory
    stays near the size of the file's text); a text file goes at once, because an event's
    continuation lines may follow its header anywhere.
    """
    table, reader = read_lines(path, data)
    table, refused = _refuse(table, reader.long_line_numbers)
    fields = dict(JSON_FIELDS)
    for column, dotted in (json_fields or {}).items():
        fields[column] = (dotted, *fields[column])
    per_line = json_events_sql(fields) if fmt == "json" else text_events_sql()
    is_event = "ok" if fmt == "json" else "first_line"
    levels = ", ".join(sql_string(lv) for lv in ERROR_LEVELS)
    sql = f"""
        SELECT lineno, CASE WHEN NOT ok THEN line END AS line, ok, {is_event} AS is_event, ts,
               {sql_string(host)} AS host, level, message, stack, error_type,
               CASE WHEN {is_event} AND level IN ({levels}) THEN {fingerprint_sql("message", "stack", "error_type")} END
                   AS fingerprint,
               extra, {sql_string(str(path))} AS source_file, CAST(timezone({sql_string(tz)}, ts) AS DATE) AS day
        FROM ({per_line}) ORDER BY lineno
    """
    step = CHUNK_LINES if fmt == "json" else max(table.num_rows, 1)
    events: list[pa.Table] = []
    bookkeeping: list[pa.Table] = [refused] if refused.num_rows else []
    # zone-less times are in the params' zone; spill rather than grow without bound
    con = engine.connect(memory_limit=engine.PARSE_MEMORY, timezone=tz)
    try:
        for offset in range(0, table.num_rows, step):
            con.register("lines", table.slice(offset, step))
            rows = con.sql(sql).to_arrow_table()
            con.unregister("lines")
            events.append(rows.filter(rows.column("is_event")).select([*APP_EVENTS_SCHEMA.names, "day"]))
            kept = rows.select(["lineno", "line", "ok", "day"])
            bookkeeping.append(kept.append_column("too_long", pa.repeat(pa.scalar(False), kept.num_rows)))
    finally:
        con.close()
    schema = pa.schema([*APP_EVENTS_SCHEMA, pa.field("day", pa.date32())])
    event_table = pa.concat_tables([e.cast(schema) for e in events]) if events else schema.empty_table()
    return AppLogParse(
        events=event_table, days=_day_counts(bookkeeping, default_day), error=reader.error, lines=reader.lines
    )


def _refuse(table: pa.Table, too_long: list[int]) -> tuple[pa.Table, pa.Table]:
    """Split off the lines no parser reads: over the length limit (``too_long``: their
    numbers) or holding a NUL byte. Returns the rest, and the refused lines as bookkeeping rows
    (unparsed, day unknown, a too-long line's sample saying why)."""
    long = np.zeros(table.num_rows, dtype=bool)
    long[too_long] = True
    refused = pc.or_(pa.array(long), pc.fill_null(pc.match_substring(table.column("line"), "\x00"), False))
    if not pc.any(refused).as_py():
        return table, pa.table({"lineno": [], "line": [], "ok": [], "day": [], "too_long": []}).cast(_BOOKKEEPING)
    lines = table.filter(refused)
    flagged = pa.array(long).filter(refused)
    text = pc.if_else(
        flagged, pc.binary_join_element_wise(pa.scalar(TOO_LONG), lines.column("line"), ""), lines.column("line")
    )
    bookkeeping = pa.table(
        {
            "lineno": lines.column("lineno"),
            "line": text,
            "ok": pa.repeat(pa.scalar(False), lines.num_rows),
            "day": pa.nulls(lines.num_rows, pa.date32()),
            "too_long": flagged,
        }
    )
    return table.filter(pc.invert(refused)), bookkeeping.cast(_BOOKKEEPING)


_BOOKKEEPING = pa.schema(
    [("lineno", pa.int64()), ("line", pa.string()), ("ok", pa.bool_()), ("day", pa.date32()), ("too_long", pa.bool_())]
)


def _day_counts(bookkeeping: list[pa.Table], default_day: dt.date) -> pd.DataFrame:
    """Lines, parsed, unparsed (of them too long) and samples per day; an unparsed line counts
    on the day of the event before it (else after it, else the file's nominal day); lines after
    the last event count on the file's nominal day when that is later."""
    columns = ["day", "lines", "parsed", "unparsed", "too_long", "samples"]
    if not bookkeeping or not sum(t.num_rows for t in bookkeeping):
        return pd.DataFrame(columns=columns)
    frame = pa.concat_tables([t.cast(_BOOKKEEPING) for t in bookkeeping]).sort_by("lineno").to_pandas()
    day = pd.to_datetime(frame["day"])
    filled = day.ffill().bfill().fillna(pd.Timestamp(default_day))
    last = day.last_valid_index()
    if last is not None and pd.Timestamp(default_day) > day[last]:
        # lines after the last event, in a file written to on a later day (a format change
        # at a deploy): they belong to that day, not to the last day that still parsed
        filled.loc[filled.index > last] = pd.Timestamp(default_day)
    frame["day"] = filled.dt.date
    frame["unparsed"] = ~frame["ok"]
    counts = frame.groupby("day").agg(
        lines=("ok", "size"), parsed=("ok", "sum"), unparsed=("unparsed", "sum"), too_long=("too_long", "sum")
    )
    bad = frame[frame["unparsed"]]
    samples = bad.groupby("day")["line"].agg(lambda s: [_sample(x) for x in s.head(SAMPLES_PER_DAY)])
    counts["samples"] = samples.reindex(counts.index)
    counts["samples"] = [v if isinstance(v, list) else [] for v in counts["samples"]]
    return counts.reset_index()[columns].astype(
        {"lines": "int64", "parsed": "int64", "unparsed": "int64", "too_long": "int64"}
    )


def _sample(line: str) -> str:
    text = masked(line.replace("\x00", "\\0"))
    return text[:SAMPLE_CHARS] + ("…" if len(text) > SAMPLE_CHARS else "")
