"""Abusive clients in the `requests` table: credential stuffing and vulnerability scanners.

Pure functions over a DuckDB relation (with a ``route`` column, see
:func:`opsreview.logs.access.analysis.with_route`), vectorised in SQL; they return small DataFrames.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from opsreview.masking import mask_sensitive_sql
from opsreview.relations import Relation, bucket_sql, run_sql, sql_string

__all__ = ["auth_failure_bursts", "scanner_clients"]


def auth_failure_bursts(
    rel: Relation, window_minutes: int = 5, min_failures: int = 30, max_gap: int = 2
) -> pd.DataFrame:
    """Clients whose 401/403 responses reach ``min_failures`` within ``window_minutes`` (sliding).

    One row per burst: the run of minutes with failures (quiet gaps up to ``max_gap`` minutes
    inside) that holds the client's peak window. Columns: client, start, end (exclusive),
    failures, s401, s403, requests, s429 (how often rate limiting answered), peak_window
    (most failures in any ``window_minutes``), routes, user_agent.
    """
    w = int(window_minutes)
    sql = f"""
        WITH per_minute AS (
            SELECT remote_addr AS client, {bucket_sql("ts", 1)} AS minute,
                   count(*) FILTER (WHERE status IN (401, 403)) AS failures,
                   count(*) FILTER (WHERE status = 401) AS s401, count(*) FILTER (WHERE status = 403) AS s403,
                   count(*) AS requests, count(*) FILTER (WHERE status = 429) AS s429
            FROM t GROUP BY ALL
        ), rolling AS (
            SELECT *, sum(failures) OVER (
                PARTITION BY client ORDER BY minute
                RANGE BETWEEN INTERVAL '{w - 1} minutes' PRECEDING AND CURRENT ROW) AS in_window
            FROM per_minute
        ), suspects AS (
            SELECT client FROM rolling GROUP BY client HAVING max(in_window) >= {int(min_failures)}
        ), active AS (
            SELECT r.* FROM rolling r JOIN suspects USING (client) WHERE r.failures > 0 OR r.s429 > 0
        ), islands AS (
            SELECT *, sum(CASE WHEN minute - prev <= INTERVAL '{int(max_gap) + 1} minutes' THEN 0 ELSE 1 END)
                      OVER (PARTITION BY client ORDER BY minute) AS run
            FROM (SELECT *, lag(minute) OVER (PARTITION BY client ORDER BY minute) AS prev FROM active)
        ), runs AS (
            SELECT client, run, min(minute) AS start, max(minute) + INTERVAL 1 MINUTE AS "end",
                   sum(failures)::BIGINT AS failures, sum(s401)::BIGINT AS s401, sum(s403)::BIGINT AS s403,
                   sum(requests)::BIGINT AS requests, sum(s429)::BIGINT AS s429, max(in_window)::BIGINT AS peak_window
            FROM islands GROUP BY client, run HAVING max(in_window) >= {int(min_failures)}
        ), detail AS (
            SELECT runs.client, runs.run, list_sort(list(DISTINCT t.route))[1:3] AS routes,
                   mode(t.user_agent) AS user_agent
            FROM runs JOIN t ON t.remote_addr = runs.client AND t.ts >= runs.start AND t.ts < runs."end"
                AND t.status IN (401, 403)
            GROUP BY runs.client, runs.run
        )
        SELECT runs.client, start, "end", failures, s401, s403, requests, s429, peak_window, routes, user_agent
        FROM runs JOIN detail USING (client, run)
        ORDER BY failures DESC, client, start
    """
    return run_sql(rel, sql)


def scanner_path_sql(patterns: Sequence[str], column: str = "path") -> str:
    """SQL condition: ``column`` matches one of the scanner ``patterns`` (case-insensitive)."""
    if not patterns:
        return "false"
    pattern = sql_string("(?i)(?:" + "|".join(f"(?:{p})" for p in patterns) + ")")
    return f"coalesce(regexp_matches({column}, {pattern}), false)"


def scanner_clients(rel: Relation, patterns: Sequence[str], min_distinct_404: int = 30) -> pd.DataFrame:
    """Clients probing for well-known weak spots (``/.env``, ``/wp-admin``, ``/.git``, ...).

    A client is listed when it requested a path matching one of ``patterns`` (case-insensitive
    regexes) or got 404 on at least ``min_distinct_404`` distinct paths of routes the app never
    served that day (so that 404s on a real route, ``/api/products/:id`` with a stale id, do
    not make a busy client a scanner). Needs a ``route`` column. Columns: client,
    requests (to scanner paths), s404, answered (scanner paths answered 2xx - a real exposure),
    distinct_404, first, last, paths (up to 5 samples, masked), answered_paths, user_agent.
    """
    pattern = scanner_path_sql(patterns)
    masked = mask_sensitive_sql("path")
    sql = f"""
        WITH served AS (SELECT DISTINCT route FROM t WHERE status < 400),
        marked AS (
            SELECT remote_addr AS client, ts, path, status, user_agent,
                   {pattern} AS scan,
                   route NOT IN (SELECT route FROM served) AS unknown_route
            FROM t
        ), per_client AS (
            SELECT client, count(*) FILTER (WHERE scan) AS requests,
                   count(*) FILTER (WHERE scan AND status = 404) AS s404,
                   count(*) FILTER (WHERE scan AND status BETWEEN 200 AND 299) AS answered,
                   count(DISTINCT path) FILTER (WHERE status = 404 AND unknown_route) AS distinct_404,
                   min(ts) FILTER (WHERE scan OR status = 404) AS first,
                   max(ts) FILTER (WHERE scan OR status = 404) AS last,
                   list_sort(list(DISTINCT {masked}) FILTER (WHERE scan OR status = 404))[1:5] AS paths,
                   list_sort(list(DISTINCT {masked}) FILTER (WHERE scan AND status BETWEEN 200 AND 299))[1:5]
                       AS answered_paths,
                   mode(user_agent) FILTER (WHERE scan OR status = 404) AS user_agent
            FROM marked GROUP BY client
        )
        SELECT * FROM per_client WHERE requests > 0 OR distinct_404 >= {int(min_distinct_404)}
        ORDER BY answered DESC, requests DESC, distinct_404 DESC, client
    """
    return run_sql(rel, sql)
