"""The access review's daily aggregates: the heavy part of the review, computed where the rows are.

With ``engine: spark`` the log pull ends by computing, on Spark, what the review would
otherwise compute by scanning every request of the review day and its baseline days
(:mod:`opsreview.logs.access.spark_aggregates`), and writes it beside ``requests`` - one part,
``agg``, per review day, every row carrying the :func:`signature` it was made for:

``requests_paths`` (per day of requests)
    path, ``n`` requests, ``answered`` (any status but 404): the route inference's input.
    The review day's route table is built from these (day and baseline days stacked) with
    :func:`~opsreview.logs.access.analysis.route_map_from_paths`: the same inference as from
    the rows, without reading them.
``requests_minutes``
    ``kind`` (``day`` or ``base``), minute (UTC), host, route, requests and the status counts
    of :func:`~opsreview.logs.access.analysis.minute_counts`: exact counts.
``requests_latency``
    the latency profile of :func:`~opsreview.logs.baseline.latency_profile` for ``day`` and
    ``base`` (route or ``(all routes)`` x local hour, -1 for the whole day), the day's
    5-minute buckets (``kind`` ``bucket``), per route the median response size and ``above``
    (the day's requests slower than the baseline's p95: the exceedance test's count).
    Quantiles are exact and interpolated as DuckDB's ``quantile_cont``: Spark's
    ``percentile``, whose state is a map of distinct value -> count per group, merged across
    tasks - its memory grows with the distinct response times of a route (milliseconds with
    three decimals: thousands to a few million), not with its requests, so the aggregates
    give the DuckDB review's numbers, and the agreement test requires them equal.
``requests_clients``
    per client: requests, 4xx/401/429/5xx counts, distinct routes, first and last request
    (written by Spark: one row per client never passes through the driver).

The review (:class:`~opsreview.logs.access.review.AccessLogReview`) reads them only when they
are current (:func:`open_current`): the signature covers every ``requests`` part of the day
and its baseline days (name, size, mtime), the route templates of the params and the route
inference's thresholds the time zone and the code that computes them (:func:`code_version`) - a re-pulled file, a backfilled baseline day or an edited route list
makes them stale, and the review scans ``requests`` as before. They are used for whole days
only: while the review day is still running, the baseline is cut to the same hours, which
hourly quantiles cannot follow. Drill-down (sample lines, slowest requests, agents,
scanners, auth bursts, size outliers - against the aggregates' medians -, secrets in URLs)
stays on ``requests``: filtered scans, top-N queries and aggregates per user agent or client
(DuckDB spills them to disk beyond its memory limit).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from opsreview.logs.thresholds import LogThresholds
from opsreview.relations import Relation, run_sql, sql_string
from opsreview.store import Store

__all__ = [
    "AGGREGATE_TABLES",
    "DailyAggregates",
    "PART",
    "open_current",
    "signature",
]

VERSION = "1"
PART = "agg"
PATHS, MINUTES, LATENCY, CLIENTS = "requests_paths", "requests_minutes", "requests_latency", "requests_clients"
AGGREGATE_TABLES = (PATHS, MINUTES, LATENCY, CLIENTS)


@functools.cache
def code_version() -> str:
    """A hash of the code the aggregates' numbers depend on (this module, the Spark side, route
    templating and inference, the traffic analysis and the baseline's profile): after an
    upgrade that changes any of them, stored aggregates are stale and the review scans."""
    here = Path(__file__).resolve().parent
    files = ["aggregates.py", "spark_aggregates.py", "analysis.py", "routes.py", "route_inference.py", "../baseline.py"]
    digest = hashlib.sha256()
    for name in files:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def _parts_lines(store: Store, days: Sequence[dt.date]) -> list[str]:
    lines = []
    for day in days:
        for part in store.parts("requests", day):
            stat = part.stat()
            lines.append(f"{day.isoformat()}/{part.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return lines


def paths_signature(store: Store, day: dt.date) -> str:
    """What one day's ``requests_paths`` was made from: that day's ``requests`` parts."""
    return hashlib.sha256("\n".join([VERSION, code_version(), *_parts_lines(store, [day])]).encode()).hexdigest()[:32]


def signature(
    store: Store,
    day: dt.date,
    baseline_days: Sequence[dt.date],
    routes: Sequence[str],
    th: LogThresholds,
    tz: str,
) -> str:
    """What the review day's aggregates were made from (see the module docstring): the parts,
    the route list, the thresholds (route inference) and the time zone (local hours)."""
    text = "\n".join(
        [
            VERSION,
            code_version(),
            tz,
            *_parts_lines(store, [day, *baseline_days]),
            json.dumps(list(routes)),
            th.model_dump_json(),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stored_signature(store: Store, table: str, day: dt.date) -> str | None:
    """The signature the day's part of ``table`` was written with (None: no such part)."""
    import pyarrow.parquet as pq

    path = store.day_dir(table, day) / f"{PART}.parquet"
    if not path.is_file():
        return None
    try:
        column = pq.read_table(path, columns=["signature"]).column(0)
    except (OSError, KeyError, ValueError):
        return None
    return str(column[0]) if len(column) else ""


@dataclass
class DailyAggregates:
    """The current aggregates of one review day, as DuckDB relations of the review's connection."""

    day: dt.date
    baseline_days: list[dt.date]
    paths: Relation
    minutes: Relation
    latency: Relation
    clients: Relation

    def counts(self, kind: str) -> pd.DataFrame:
        """:func:`~opsreview.logs.access.analysis.minute_counts` of the day (``day``) or of
        the baseline days (``base``)."""
        from opsreview.logs.access.analysis import STATUS_COLUMNS

        cols = ", ".join(["requests", *STATUS_COLUMNS])
        return run_sql(
            self.minutes,
            f"SELECT minute, host, route, {cols} FROM t WHERE kind = {sql_string(kind)} ORDER BY ALL",
        )

    def profile(self, kind: str) -> pd.DataFrame:
        """:func:`~opsreview.logs.baseline.latency_profile` of the day or of the baseline."""
        frame = run_sql(
            self.latency,
            f"""SELECT route, hour, requests, timed, p50, p95, p99 FROM t WHERE kind = {sql_string(kind)}
            ORDER BY route, hour""",
        )
        frame["hour"] = frame["hour"].astype("int64")
        return frame.reset_index(drop=True)

    def above(self) -> pd.DataFrame:
        """Per route: the day's requests slower than the baseline's p95."""
        return run_sql(
            self.latency,
            "SELECT route, above FROM t WHERE kind = 'day' AND hour = -1 AND above IS NOT NULL ORDER BY route",
        )

    def over_time(self) -> pd.DataFrame:
        """:func:`~opsreview.logs.access.analysis.latency_over_time` (5-minute buckets)."""
        return run_sql(
            self.latency,
            "SELECT bucket, requests, p50, p95, p99 FROM t WHERE kind = 'bucket' ORDER BY bucket NULLS LAST",
        )

    def kpis(self) -> tuple[int, float | None, float | None]:
        """The day's requests, share of 5xx among answered requests, and p95."""
        from opsreview.logs.baseline import ALL_ROUTES

        row = run_sql(
            self.latency,
            f"""SELECT requests, statused, s5xx, p95 FROM t
            WHERE kind = 'day' AND hour = -1 AND route = {sql_string(ALL_ROUTES)}""",
        )
        if row.empty:
            return 0, None, None
        r = row.iloc[0]
        rate = float(r["s5xx"]) / float(r["statused"]) if r["statused"] else None
        return int(r["requests"]), rate, (None if pd.isna(r["p95"]) else float(r["p95"]))

    def route_summary(self) -> pd.DataFrame:
        """:func:`~opsreview.logs.access.analysis.route_summary` from the minutes and the profile."""
        from opsreview.logs.access.analysis import STATUS_COLUMNS

        sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in ["requests", *STATUS_COLUMNS])
        counts = run_sql(self.minutes, f"SELECT route, {sums} FROM t WHERE kind = 'day' GROUP BY route")
        quantiles = run_sql(
            self.latency,
            "SELECT route, p50, p95, p99, median_bytes FROM t WHERE kind = 'day' AND hour = -1",
        )
        out = counts.merge(quantiles, on="route", how="left")
        out["rate_5xx"] = out["s5xx"] / out["requests"]
        out["rate_4xx"] = out["s4xx"] / out["requests"]
        cols = ["route", "requests", *STATUS_COLUMNS, "rate_5xx", "rate_4xx", "p50", "p95", "p99", "median_bytes"]
        out = out[cols].sort_values(["requests", "route"], ascending=[False, True], kind="stable")
        return out.reset_index(drop=True)

    def top_clients(self, n: int = 20) -> pd.DataFrame:
        """The busiest clients (:func:`~opsreview.logs.access.analysis.top_clients` without the
        user agent, which the review adds from ``requests`` for these clients only)."""
        return run_sql(
            self.clients,
            f"""SELECT client, requests, s4xx / requests AS share_4xx, s401 / requests AS share_401,
                   s429 / requests AS share_429, s5xx, routes, first, last
            FROM t ORDER BY requests DESC, client NULLS LAST LIMIT {int(n)}""",
        )


def is_current(store: Store, day: dt.date, baseline_days: Sequence[dt.date], wanted: str) -> bool:
    """Whether every table of the day was written with the signature ``wanted`` and every
    day's per-path counts from that day's parts as they are now."""
    return all(stored_signature(store, t, day) == wanted for t in (MINUTES, LATENCY, CLIENTS)) and all(
        stored_signature(store, PATHS, d) == paths_signature(store, d) for d in [day, *baseline_days]
    )


def open_current(
    store: Store,
    day: dt.date,
    baseline_days: Sequence[dt.date],
    routes: Sequence[str],
    th: LogThresholds,
    tz: str,
    con: duckdb.DuckDBPyConnection,
) -> DailyAggregates | None:
    """The day's aggregates when every table was written for the store as it is now (else None)."""
    if not is_current(store, day, baseline_days, signature(store, day, baseline_days, routes, th, tz)):
        return None

    def rel(table: str, days: Sequence[dt.date]) -> Relation:
        files = [str(store.day_dir(table, d) / f"{PART}.parquet") for d in days]
        return con.read_parquet(files, union_by_name=True)

    return DailyAggregates(
        day,
        list(baseline_days),
        rel(PATHS, [day, *baseline_days]),
        rel(MINUTES, [day]),
        rel(LATENCY, [day]),
        rel(CLIENTS, [day]),
    )
