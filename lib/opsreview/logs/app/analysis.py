"""Application errors grouped into fingerprints, and what is new or spiking today.

A **fingerprint** identifies "the same error" across occurrences: the error type, the message
with its variable parts masked, and the top in-app stack frame::

    connection 12 to 10.0.3.21:27017 timed out      -> connection <n> to <ip> timed out
    dup key: { email: "ann@example.com" }            -> dup key: { email: "<str>" }
    at createOrder (/app/src/services/orders.js:112:17) -> createOrder (/app/src/services/orders.js)

Masked, in this order: URLs, e-mail addresses, quoted values ("...", '...', `...`), UUIDs,
IPv4 addresses (with port), 0x-hex, plain numbers (``<n>``) and any other token holding a
digit - ids, hashes, ObjectIds (``<id>``). The top in-app frame is the first ``at ...`` line of
the stack outside ``node_modules`` and Node's own internals (``node:``, ``internal/``), with
line and column dropped so that a redeploy does not make every error "new". Everything is a
DuckDB expression, so fingerprinting a day of events is one vectorised query.

Functions take a relation over `app_events` and return DataFrames; nothing is read or written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from opsreview.findings import peak_sql
from opsreview.masking import mask_sensitive_sql
from opsreview.relations import Relation, bucket_sql, query, run_sql, sql_string

__all__ = [
    "ERROR_LEVELS",
    "masked_message_sql",
    "top_frame_sql",
    "error_type_sql",
    "fingerprint_sql",
    "fingerprints",
    "fingerprints_by_day",
    "mark_new_and_spiking",
    "events_over_time",
    "level_counts",
    "with_fingerprint",
]

ERROR_LEVELS = ("fatal", "error", "warn")
LEVEL_RANK = {"fatal": 5, "error": 4, "warn": 3, "info": 2, "debug": 1, "trace": 0}

_MASKS: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'`<>]+", "<url>"),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "<email>"),
    (r'"[^"]*"', '"<str>"'),
    (r"(^|[^A-Za-z0-9])'[^']*'", "\\1'<str>'"),  # not an apostrophe (can't, User's)
    (r"`[^`]*`", "`<str>`"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
    (r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?", "<ip>"),
    (r"0x[0-9a-fA-F]+", "<hex>"),
)
# Numbers and digit-holding tokens, bounded by non-alphanumerics; applied twice because
# neighbouring numbers share the separator between them.
_NUMBER = (r"(^|[^A-Za-z0-9<])-?[0-9]+(?:\.[0-9]+)?($|[^A-Za-z0-9])", r"\1<n>\2")
_TOKEN_WITH_DIGIT = (r"(^|[^A-Za-z0-9<])[A-Za-z]*[0-9][A-Za-z0-9]*", r"\1<id>")
_INTERNAL_FRAME = r"node_modules|\(node:|at node:|\(internal/|at internal/|\(native\)"
# An in-app frame names a source file (`at fn (/app/src/x.js:1:2)`, `at /app/src/x.js:1:2`,
# `file:///...`): `at new Promise (<anonymous>)` or `at async Promise.all (index 2)` do not.
_SOURCE_FRAME = r"(?:[/\\]|file://).*\.(?:[cm]?js|tsx?|jsx|coffee)(?::[0-9]+){0,2}\)?\s*$"  # (shop)/ too
_ERROR_TYPE = r"^\s*((?:[A-Z][A-Za-z0-9_$]*)?(?:Error|Exception|Rejection|Fault))(?::|\s|$)"
MESSAGE_CHARS = 300


def masked_message_sql(message: str) -> str:
    """DuckDB expression: the first line of ``message`` with its variable parts masked."""
    # secrets first (their values vary, and the pattern is shown), then the variable parts
    expr = mask_sensitive_sql(f"split_part(coalesce({message}, ''), chr(10), 1)")
    for pattern, replacement in _MASKS:
        expr = f"regexp_replace({expr}, {sql_string(pattern)}, {sql_string(replacement)}, 'g')"
    for _ in range(2):
        expr = f"regexp_replace({expr}, {sql_string(_NUMBER[0])}, {sql_string(_NUMBER[1])}, 'g')"
    expr = f"regexp_replace({expr}, {sql_string(_TOKEN_WITH_DIGIT[0])}, {sql_string(_TOKEN_WITH_DIGIT[1])}, 'g')"
    return f"left(trim(regexp_replace({expr}, '\\s+', ' ', 'g')), {MESSAGE_CHARS})"


def top_frame_sql(stack: str) -> str:
    """DuckDB expression: the first in-app ``at ...`` frame of ``stack`` (one that names a source
    file outside node_modules and node's internals), without line:column, ``async`` or the
    release folder a deploy puts in the path (``/releases/20260310120000/``)."""
    frames = (
        f"list_filter(string_split(coalesce({stack}, ''), chr(10)), "
        f"lambda l: regexp_matches(l, '^\\s*at\\s') AND regexp_matches(l, {sql_string(_SOURCE_FRAME)}) "
        f"AND NOT regexp_matches(l, {sql_string(_INTERNAL_FRAME)}))"
    )
    first = f"trim(regexp_replace({frames}[1], '^\\s*at\\s+(async\\s+)?', ''))"
    frame = f"regexp_replace({first}, ':[0-9]+(:[0-9]+)?', '', 'g')"
    frame = f"regexp_replace({frame}, '/releases?/[^/]+/', '/releases/<r>/', 'g')"
    frame = f"regexp_replace({frame}, '/[0-9]{{6,}}/', '/<n>/', 'g')"
    return f"nullif({frame}, '')"


def error_type_sql(*texts: str) -> str:
    """DuckDB expression: the error type named at the start of the first of ``texts`` that has one."""
    candidates = [f"nullif(regexp_extract({t}, {sql_string(_ERROR_TYPE)}, 1), '')" for t in texts]
    return f"coalesce({', '.join(candidates)})"


def fingerprint_sql(message: str, stack: str, error_type: str) -> str:
    """DuckDB expression: 12 hex characters identifying (error type, masked message, top frame)."""
    key = f"coalesce({error_type}, '') || '|' || {masked_message_sql(message)} || '|' || coalesce({top_frame_sql(stack)}, '')"
    return f"left(md5({key}), 12)"


def _example_sql(column: str) -> str:
    """A displayable example: secrets masked, e-mail local parts hidden, first line, bounded."""
    first = f"left(split_part({column}, chr(10), 1), {MESSAGE_CHARS})"
    return f"regexp_replace({mask_sensitive_sql(first)}, '[A-Za-z0-9._%+-]+@', '***@', 'g')"


def fingerprints(rel: Relation, levels: Sequence[str] = ERROR_LEVELS) -> pd.DataFrame:
    """One row per fingerprint of the events at ``levels``: count, first/last seen, worst level,
    error type, masked pattern, top frame, hosts, a redacted example and the example's stack head;
    ``peak``: the densest hour of occurrences (:func:`opsreview.findings.peak_sql`)."""
    level_list = ", ".join(sql_string(lv) for lv in levels)
    peak_columns, peak = peak_sql("fingerprint")
    rank = "CASE level " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in LEVEL_RANK.items()) + " ELSE 2 END"
    sql = f"""
        WITH e AS (
            SELECT ts, host, level, message, stack, {rank} AS rank,
                   coalesce(error_type, {error_type_sql("stack", "message")}) AS error_type,
                   {masked_message_sql("message")} AS pattern, {top_frame_sql("stack")} AS frame
            FROM t WHERE level IN ({level_list})
        ), f0 AS (
            SELECT *, left(md5(coalesce(error_type, '') || '|' || pattern || '|' || coalesce(frame, '')), 12)
                      AS fingerprint
            FROM e
        ), f AS (
            SELECT *, {peak_columns} FROM f0
        )
        SELECT fingerprint, count(*) AS count, min(ts) AS first_seen, max(ts) AS last_seen, {peak} AS peak,
               arg_max(level, rank) AS level, any_value(error_type) AS error_type, any_value(pattern) AS pattern,
               any_value(frame) AS frame, list_sort(list(DISTINCT host)) AS hosts,
               {_example_sql("arg_min(message, ts)")} AS example,
               {_example_sql("arg_min(nullif(list_aggregate(string_split(stack, chr(10))[2:4], 'string_agg', ' | '), ''), ts)")}
                   AS stack_head
        FROM f GROUP BY fingerprint ORDER BY count DESC, fingerprint
    """
    return run_sql(rel, sql)


def fingerprints_by_day(rel: Relation, tz: str, levels: Sequence[str] = ERROR_LEVELS) -> pd.DataFrame:
    """Occurrences per (local day, fingerprint)."""
    level_list = ", ".join(sql_string(lv) for lv in levels)
    fp = fingerprint_sql("message", "stack", f"coalesce(error_type, {error_type_sql('stack', 'message')})")
    sql = f"""
        SELECT CAST(timezone({sql_string(tz)}, ts) AS DATE) AS day, {fp} AS fingerprint, count(*) AS count
        FROM t WHERE level IN ({level_list}) GROUP BY ALL ORDER BY ALL
    """
    table = run_sql(rel, sql)
    table["day"] = pd.to_datetime(table["day"]).dt.date
    return table


def mark_new_and_spiking(
    today: pd.DataFrame, history_by_day: pd.DataFrame, baseline_days: Sequence[dt.date]
) -> pd.DataFrame:
    """Today's :func:`fingerprints` with ``new`` (absent from every day of ``history_by_day``, a
    :func:`fingerprints_by_day` of earlier days), the mean per baseline day, and the spike test
    against the baseline days (:func:`opsreview.logs.baseline.rate_test`)."""
    from opsreview.logs.baseline import rate_test

    seen = set(history_by_day["fingerprint"]) if not history_by_day.empty else set()
    in_baseline = (
        history_by_day[history_by_day["day"].isin(set(baseline_days))] if not history_by_day.empty else history_by_day
    )
    base_counts = (
        in_baseline.groupby("fingerprint")["count"].sum() if not in_baseline.empty else pd.Series(dtype="int64")
    )
    merged = today.copy()
    merged["new"] = ~merged["fingerprint"].isin(seen)
    merged["baseline_count"] = merged["fingerprint"].map(base_counts).fillna(0).astype("int64")
    days = max(len(baseline_days), 1)
    n = len(merged)
    tested = rate_test(merged["count"].to_numpy(), np.ones(n), merged["baseline_count"].to_numpy(), np.full(n, days))
    merged["baseline_per_day"] = merged["baseline_count"] / days
    merged["ratio"] = tested["ratio"].to_numpy()
    merged["p_value"] = tested["p_higher"].to_numpy()
    return merged


def events_over_time(rel: Relation, bucket_minutes: int = 15) -> pd.DataFrame:
    """Events per time bucket and level."""
    sql = f"""
        SELECT {bucket_sql("ts", bucket_minutes)} AS bucket, level, count(*) AS events
        FROM t GROUP BY ALL ORDER BY ALL
    """
    return run_sql(rel, sql)


def level_counts(rel: Relation) -> pd.DataFrame:
    """Events per host and level, with the first and last event of each host."""
    sql = """
        SELECT host, count(*) AS events,
               count(*) FILTER (WHERE level = 'fatal') AS fatal, count(*) FILTER (WHERE level = 'error') AS error,
               count(*) FILTER (WHERE level = 'warn') AS warn, count(*) FILTER (WHERE level = 'info') AS info,
               count(*) FILTER (WHERE level IN ('debug', 'trace')) AS debug,
               min(ts) AS first, max(ts) AS last
        FROM t GROUP BY host ORDER BY host
    """
    return run_sql(rel, sql)


def with_fingerprint(rel: Relation) -> duckdb.DuckDBPyRelation:
    """``rel`` plus ``pattern``, ``frame`` and ``fingerprint`` columns (for drilling into one error)."""
    etype = f"coalesce(error_type, {error_type_sql('stack', 'message')})"
    sql = f"""
        SELECT * REPLACE ({fingerprint_sql("message", "stack", etype)} AS fingerprint),
               {masked_message_sql("message")} AS pattern, {top_frame_sql("stack")} AS frame
        FROM t
    """
    return query(rel, sql)
