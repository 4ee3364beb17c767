"""Traffic analysis of the `requests` table: pure functions, vectorised in DuckDB.

Every function takes a DuckDB relation over `requests` rows (or a DataFrame, see
:func:`as_relation`) and returns a small DataFrame; nothing is read or written here. Functions
that group by route need a ``route`` column (``"GET /api/products/:id"``), added lazily by
:func:`with_route`. Timestamps come back as UTC-aware pandas timestamps; presenting them in the
review's timezone is the caller's job.

The per-minute aggregate :func:`minute_counts` is the one pass over the rows that volume,
status mix, error rates and the baseline comparison all derive from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from opsreview.logs.access.route_inference import RouteInference, infer_routes, path_groups_sql
from opsreview.logs.access.routes import route_template_sql
from opsreview.logs.baseline import rate_test
from opsreview.logs.thresholds import LogThresholds
from opsreview.masking import mask_sensitive_sql
from opsreview.relations import Relation, as_relation, bucket_sql, query, quote, run_sql, sql_string

__all__ = [
    "STATUS_COLUMNS",
    "as_relation",
    "agent_categories",
    "RouteTable",
    "route_map",
    "route_map_from_paths",
    "PATH_COUNTS",
    "with_route",
    "minute_counts",
    "requests_per_minute",
    "status_mix",
    "error_rates",
    "latency_percentiles",
    "latency_over_time",
    "route_summary",
    "top_routes",
    "top_clients",
    "with_agents",
    "slowest_requests",
    "user_agents",
    "size_outliers",
]

STATUS_COLUMNS = ("s2xx", "s3xx", "s4xx", "s5xx", "s401", "s403", "s404", "s429")
_STATUS_AGGREGATES = """count(*) AS requests,
    count(*) FILTER (WHERE status BETWEEN 200 AND 299) AS s2xx,
    count(*) FILTER (WHERE status BETWEEN 300 AND 399) AS s3xx,
    count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS s4xx,
    count(*) FILTER (WHERE status >= 500) AS s5xx,
    count(*) FILTER (WHERE status = 401) AS s401,
    count(*) FILTER (WHERE status = 403) AS s403,
    count(*) FILTER (WHERE status = 404) AS s404,
    count(*) FILTER (WHERE status = 429) AS s429"""


_MAPS = itertools.count()


@dataclass(frozen=True)
class RouteTable:
    """A table of route templates by distinct path (:func:`route_map`), and, when the routes
    were inferred from the data, what was inferred."""

    name: str
    inference: RouteInference | None = None


def route_map(
    rels: Sequence[Relation],
    routes: Sequence[str] = (),
    *,
    infer: LogThresholds | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> RouteTable:
    """A table (``_p`` path -> ``_template``, secrets masked) over the distinct paths of
    ``rels`` (relations of one connection), made once so that every later query joins it
    instead of templating again; pass it to :func:`with_route` as ``mapping``.

    Without ``routes``, with ``infer`` (the thresholds), parameter positions are inferred from
    these paths and their statuses (:mod:`opsreview.logs.access.route_inference`), so the
    day and its baseline share one inferred table; ``con`` is then the relations' connection.
    """
    paths = rels[0].select("path, status")
    for rel in rels[1:]:
        paths = paths.union(rel.select("path, status"))
    if routes or infer is None:
        return _map_paths(paths, "SELECT DISTINCT path AS _p FROM t", routes)
    # one pass over the rows: each distinct path with its requests, whether any was answered
    # other than 404 (all the inference reads)
    per_path = """SELECT path AS _p, count(*) AS n, bool_or(status IS NOT NULL AND status <> 404) AS answered
        FROM t GROUP BY path"""
    return _infer_map(paths, per_path, infer, con)


PATH_COUNTS = (
    "SELECT path, count(*) AS n, bool_or(status IS NOT NULL AND status <> 404) AS answered FROM t GROUP BY path"
)


def route_map_from_paths(
    paths: Relation,
    routes: Sequence[str] = (),
    *,
    infer: LogThresholds | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> RouteTable:
    """:func:`route_map` from per-path counts instead of the rows: ``paths`` has ``path``,
    ``n`` and ``answered`` (:data:`PATH_COUNTS` of each day, stacked; a path may repeat), as
    the daily aggregates keep them. The same paths give the same table and inference."""
    if routes or infer is None:
        return _map_paths(paths, "SELECT DISTINCT path AS _p FROM t", routes)
    per_path = "SELECT path AS _p, sum(n)::BIGINT AS n, bool_or(answered) AS answered FROM t GROUP BY path"
    return _infer_map(paths, per_path, infer, con)


def _map_paths(paths: Relation, distinct: str, routes: Sequence[str]) -> RouteTable:
    name = f"_opsreview_routes_{next(_MAPS)}"
    template = mask_sensitive_sql(route_template_sql("_p", routes))
    query(paths, f"SELECT _p, {template} AS _template FROM ({distinct})").to_table(name)
    return RouteTable(name)


def _infer_map(
    paths: Relation, per_path: str, infer: LogThresholds, con: duckdb.DuckDBPyConnection | None
) -> RouteTable:
    if con is None:
        raise ValueError("route_map: inferring routes needs the relations' connection (con=)")
    name = f"_opsreview_routes_{next(_MAPS)}"
    stats = f"{name}_paths"
    # each distinct path with its automatic template
    query(paths, f"SELECT _p, n, answered, {route_template_sql('_p')} AS _auto FROM ({per_path})").to_table(stats)
    try:
        inference = infer_routes(path_groups_sql(con, stats, infer.route_param_min_values), infer)
        # the inferred list applied as explicit routes - to each distinct automatic template, which
        # gives what it gives the paths (its templates are plain) - so pasting it changes nothing
        template = mask_sensitive_sql(route_template_sql("a._auto", inference.routes))
        con.execute(
            f"""CREATE TABLE {quote(name)} AS
            WITH a AS (SELECT DISTINCT _auto FROM {quote(stats)}),
            m AS (SELECT a._auto, {template} AS _template FROM a)
            SELECT s._p, m._template FROM {quote(stats)} s LEFT JOIN m ON s._auto IS NOT DISTINCT FROM m._auto"""
        )
    finally:
        con.execute(f"DROP TABLE {quote(stats)}")
    return RouteTable(name, inference)


def with_route(rel: Relation, routes: Sequence[str] = (), mapping: RouteTable | str | None = None) -> Relation:
    """``rel`` plus a ``route`` column: method and route template (secrets in paths masked).

    The template is computed once per distinct path and joined back, which is several times
    cheaper than templating every row (ids repeat a lot); ``mapping`` (from :func:`route_map`,
    made with the same ``routes``) saves computing it again for each query - and is the only
    way to routes inferred from the data.
    """
    if mapping is None:
        template = mask_sensitive_sql(route_template_sql("_p", routes))
        source = f"(SELECT _p, {template} AS _template FROM (SELECT DISTINCT path AS _p FROM t))"
    else:
        source = quote(mapping.name if isinstance(mapping, RouteTable) else mapping)
    sql = f"""
        SELECT t.*, coalesce(t.method, '-') || ' ' || coalesce(m._template, '-') AS route
        FROM t LEFT JOIN {source} m ON t.path IS NOT DISTINCT FROM m._p
    """
    return query(rel, sql)


def minute_counts(rel: Relation, by: Sequence[str] = ("host", "route")) -> pd.DataFrame:
    """Requests and status counts per UTC minute (and per ``by`` columns); empty minutes absent."""
    keys = "".join(f", {quote(k)}" for k in by)
    sql = f"SELECT {bucket_sql('ts', 1)} AS minute{keys}, {_STATUS_AGGREGATES} FROM t GROUP BY ALL ORDER BY ALL"
    return run_sql(rel, sql)


def requests_per_minute(counts: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Requests per minute (from :func:`minute_counts`), summed over everything but ``by``."""
    return counts.groupby(["minute", *by], as_index=False)[["requests"]].sum()


def status_mix(counts: pd.DataFrame, bucket_minutes: int = 5) -> pd.DataFrame:
    """Requests per status class per time bucket (from :func:`minute_counts`)."""
    frame = counts.assign(bucket=counts["minute"].dt.floor(f"{int(bucket_minutes)}min"))
    mix = frame.groupby("bucket", as_index=False)[["requests", "s2xx", "s3xx", "s4xx", "s5xx"]].sum()
    mix["other"] = mix["requests"] - mix[["s2xx", "s3xx", "s4xx", "s5xx"]].sum(axis=1)
    return mix


def error_rates(counts: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Requests, 4xx/5xx and 401/403/404/429 counts and rates (from :func:`minute_counts`)."""
    cols = ["requests", *STATUS_COLUMNS]
    table = counts.groupby(list(by), as_index=False)[cols].sum() if by else counts[cols].sum().to_frame().T
    table = table.astype(dict.fromkeys(cols, "int64"))
    for col in STATUS_COLUMNS:
        table[f"rate_{col[1:]}"] = table[col] / table["requests"].where(table["requests"] > 0)
    return table.reset_index(drop=True)


def rates_against_baseline(counts: pd.DataFrame, base_counts: pd.DataFrame) -> pd.DataFrame:
    """Each status rate of the day (5xx, 4xx, 401, 403, 404, 429 per request) against the
    baseline's rate over the same hours: counts, rates, ratio and the one-sided p-value of a
    conditional Poisson test (:func:`opsreview.logs.baseline.rate_test`)."""
    columns = ["s5xx", "s4xx", "s401", "s403", "s404", "s429"]
    day = counts[["requests", *columns]].sum()
    base = base_counts[["requests", *columns]].sum() if not base_counts.empty else None
    table = pd.DataFrame(
        {
            "status": [c[1:] for c in columns],
            "count": [int(day[c]) for c in columns],
            "rate": [day[c] / day["requests"] if day["requests"] else np.nan for c in columns],
        }
    )
    if base is None or not base["requests"]:
        return table.assign(base_rate=np.nan, ratio=np.nan, p_higher=np.nan)
    tested = rate_test(
        table["count"],
        np.full(len(columns), day["requests"]),
        [base[c] for c in columns],
        np.full(len(columns), base["requests"]),
    )
    table["base_rate"] = [base[c] / base["requests"] for c in columns]
    return pd.concat([table, tested[["ratio", "p_higher"]]], axis=1)


def latency_percentiles(rel: Relation, by: Sequence[str] = ("route",)) -> pd.DataFrame:
    """Response-time p50/p95/p99/mean/max (ms) per ``by`` (overall when empty); untimed rows skipped."""
    keys = ", ".join(quote(k) for k in by)
    select = f"{keys}, " if keys else ""
    group = f"GROUP BY {keys} ORDER BY requests DESC" if keys else ""
    sql = f"""
        SELECT {select}count(*) AS requests, count(response_time_ms) AS timed,
               quantile_cont(response_time_ms, 0.5) AS p50, quantile_cont(response_time_ms, 0.95) AS p95,
               quantile_cont(response_time_ms, 0.99) AS p99, avg(response_time_ms) AS mean,
               max(response_time_ms) AS max
        FROM t {group}
    """
    return run_sql(rel, sql)


def latency_over_time(rel: Relation, bucket_minutes: int = 5) -> pd.DataFrame:
    """Response-time p50/p95/p99 (ms) per time bucket."""
    sql = f"""
        SELECT {bucket_sql("ts", bucket_minutes)} AS bucket, count(*) AS requests,
               quantile_cont(response_time_ms, 0.5) AS p50, quantile_cont(response_time_ms, 0.95) AS p95,
               quantile_cont(response_time_ms, 0.99) AS p99
        FROM t GROUP BY bucket ORDER BY bucket
    """
    return run_sql(rel, sql)


def route_summary(rel: Relation) -> pd.DataFrame:
    """Per route: requests, errors, error rates, latency percentiles and median response size."""
    sql = f"""
        SELECT route, {_STATUS_AGGREGATES},
               count(*) FILTER (WHERE status >= 500) / count(*) AS rate_5xx,
               count(*) FILTER (WHERE status BETWEEN 400 AND 499) / count(*) AS rate_4xx,
               quantile_cont(response_time_ms, 0.5) AS p50, quantile_cont(response_time_ms, 0.95) AS p95,
               quantile_cont(response_time_ms, 0.99) AS p99, median(bytes) AS median_bytes
        FROM t GROUP BY route ORDER BY requests DESC, route
    """
    return run_sql(rel, sql)


def top_routes(summary: pd.DataFrame, by: str = "requests", n: int = 15, min_requests: int = 1) -> pd.DataFrame:
    """The ``n`` routes of a :func:`route_summary` with the highest ``by`` (requests, s5xx, p95, ...)."""
    eligible = summary[summary["requests"] >= min_requests]
    return eligible.sort_values([by, "requests"], ascending=False, kind="stable").head(n).reset_index(drop=True)


def top_clients(rel: Relation, n: int = 20) -> pd.DataFrame:
    """The busiest clients with their 4xx / 401 / 429 shares and most used user agent."""
    sql = f"""
        SELECT remote_addr AS client, count(*) AS requests,
               count(*) FILTER (WHERE status BETWEEN 400 AND 499) / count(*) AS share_4xx,
               count(*) FILTER (WHERE status = 401) / count(*) AS share_401,
               count(*) FILTER (WHERE status = 429) / count(*) AS share_429,
               count(*) FILTER (WHERE status >= 500) AS s5xx,
               count(DISTINCT route) AS routes, min(ts) AS first, max(ts) AS last
        FROM t GROUP BY remote_addr ORDER BY requests DESC, client LIMIT {int(n)}
    """
    return with_agents(rel, run_sql(rel, sql))


def with_agents(rel: Relation, clients: pd.DataFrame) -> pd.DataFrame:
    """``clients`` (a ``client`` column) with each one's most used user agent (the smallest of
    equally used ones: the same answer however the rows are ordered), from the rows of ``rel``."""
    names = [c for c in clients["client"].tolist() if c is not None and not pd.isna(c)]
    wanted = [f"remote_addr IN ({', '.join(sql_string(str(c)) for c in names)})"] if names else []
    if len(names) < len(clients):
        wanted.append("remote_addr IS NULL")
    if not wanted:
        return clients.assign(user_agent=pd.Series(dtype=object))[_CLIENT_COLUMNS]
    sql = f"""
        SELECT client, user_agent FROM (
            SELECT remote_addr AS client, user_agent,
                   row_number() OVER (PARTITION BY remote_addr ORDER BY count(*) DESC, user_agent) AS r
            FROM t WHERE user_agent IS NOT NULL AND ({" OR ".join(wanted)}) GROUP BY remote_addr, user_agent)
        WHERE r = 1
    """
    agents = run_sql(rel, sql)
    return clients.merge(agents, on="client", how="left")[_CLIENT_COLUMNS]


_CLIENT_COLUMNS = [
    "client",
    "requests",
    "share_4xx",
    "share_401",
    "share_429",
    "s5xx",
    "routes",
    "user_agent",
    "first",
    "last",
]


def slowest_requests(rel: Relation, n: int = 20) -> pd.DataFrame:
    """The ``n`` slowest requests, URLs masked."""
    sql = f"""
        SELECT ts, host, remote_addr AS client, method, {mask_sensitive_sql("url")} AS url, status,
               response_time_ms, bytes
        FROM t WHERE response_time_ms IS NOT NULL
        ORDER BY response_time_ms DESC, ts, host, url, remote_addr LIMIT {int(n)}
    """
    return run_sql(rel, sql)


AGENT_CATEGORY_SQL = r"""CASE
    WHEN ua IS NULL OR trim(ua) IN ('', '-') THEN 'none'
    WHEN regexp_matches(ua, '(?i)zgrab|masscan|nmap|nikto|sqlmap|nuclei|gobuster|dirbuster|dirb/|wpscan|censys|shodan|acunetix|nessus|openvas|l9explore|expanse|fuzz') THEN 'scanner'
    WHEN regexp_matches(ua, '(?i)bot\b|bot/|crawler|spider|slurp|facebookexternalhit|bingpreview|mediapartners|headlesschrome|lighthouse|pingdom|uptimerobot') THEN 'bot'
    WHEN regexp_matches(ua, '(?i)^(curl|wget|python-requests|python-urllib|python/|aiohttp|httpx|okhttp|axios|node-fetch|node|undici|got|go-http-client|java|apache-httpclient|libwww-perl|postmanruntime|insomnia|ruby|php|guzzle|dart|restsharp)') THEN 'library'
    WHEN regexp_matches(ua, '(?i)mobile|iphone|ipad|android') AND regexp_matches(ua, '(?i)^mozilla/') THEN 'browser (mobile)'
    WHEN regexp_matches(ua, '(?i)^(mozilla|opera)/') THEN 'browser'
    ELSE 'app / other'
END"""


def user_agents(rel: Relation, n: int = 20) -> pd.DataFrame:
    """Top user agents with their category (browser, bot, scanner, library, ...), requests and clients."""
    sql = f"""
        WITH agents AS (
            SELECT user_agent AS ua, count(*) AS requests, count(DISTINCT remote_addr) AS clients,
                   count(*) FILTER (WHERE status BETWEEN 400 AND 499) / count(*) AS share_4xx
            FROM t GROUP BY user_agent
        )
        SELECT coalesce(ua, '-') AS user_agent, {AGENT_CATEGORY_SQL} AS category, requests, clients, share_4xx
        FROM agents ORDER BY requests DESC, user_agent LIMIT {int(n)}
    """
    return run_sql(rel, sql)


def agent_categories(rel: Relation) -> pd.DataFrame:
    """Requests and clients per user-agent category."""
    sql = f"""
        WITH agents AS (SELECT user_agent AS ua, remote_addr, count(*) AS requests FROM t GROUP BY ALL)
        SELECT {AGENT_CATEGORY_SQL} AS category, sum(requests)::BIGINT AS requests,
               count(DISTINCT remote_addr) AS clients, count(DISTINCT ua) AS agents
        FROM agents GROUP BY category ORDER BY requests DESC
    """
    return run_sql(rel, sql)


def size_outliers(
    rel: Relation,
    factor: float = 20.0,
    min_bytes: int = 1_000_000,
    n: int = 20,
    medians: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Responses far larger than their route's median size (data dumps, missing pagination).
    ``medians`` (``route``, ``median_bytes``): the medians already computed (the daily
    aggregates); otherwise computed here, exactly, in one more pass."""
    if medians is not None:

        def number(value: object) -> str:
            return "NULL::DOUBLE" if value is None or pd.isna(value) else f"{float(value)!r}::DOUBLE"  # type: ignore[arg-type]

        values = ", ".join(
            f"({sql_string(str(r))}, {number(m)})"
            for r, m in zip(medians["route"], medians["median_bytes"], strict=True)
        )
        source = (
            f"SELECT * FROM (VALUES {values}) AS v(route, median_bytes)"
            if values
            else "SELECT NULL::VARCHAR AS route, NULL::DOUBLE AS median_bytes WHERE false"
        )
    else:
        source = "SELECT route, median(bytes) AS median_bytes FROM t GROUP BY route"
    sql = f"""
        WITH medians AS ({source})
        SELECT t.ts, t.route, t.remote_addr AS client, {mask_sensitive_sql("t.url")} AS url, t.status, t.bytes,
               m.median_bytes, t.bytes / nullif(m.median_bytes, 0) AS factor
        FROM t JOIN medians m USING (route)
        WHERE t.bytes >= {int(min_bytes)} AND t.bytes > {float(factor)} * coalesce(m.median_bytes, 0)
        ORDER BY t.bytes DESC, t.ts LIMIT {int(n)}
    """
    return run_sql(rel, sql)
