"""The database review of one day: what each section of the `database` notebook shows.

:func:`load_database_review` reads the day's snapshots (time series: ops/s, latency per op,
connections, cache, replication lag), the *state* at the end of the day (collections, indexes,
hygiene, privileges: the latest snapshot of the day, or the first one after it when the day
has none - a daily cron snapshots the morning after), the day's slow queries as a lazy DuckDB
relation, and the baseline days' slow-query shapes; then analyses and judges them.

For drilling in from JupyterLab, :attr:`DatabaseReview.slow` is the day's slow-query
relation (one row per slow operation, values masked)::

    db.slow.filter("ns = 'shop.orders' AND plan_summary LIKE 'COLLSCAN%'").df()
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from opsreview.context import ReviewContext
from opsreview.database import analysis, charts, models
from opsreview.database import findings as dbfindings
from opsreview.database.params import DatabaseParams
from opsreview.display import Section
from opsreview.findings import Finding, kpi_number
from opsreview.localtime import local_columns, local_iso
from opsreview.relations import sql_string
from opsreview.store import Store

AREA = "database"
STATE_AFTER = dt.timedelta(days=1)  # how long after the day a snapshot still tells its state
GROWTH_DAYS = 30


@dataclass
class DatabaseReview:
    day: dt.date
    tz: ZoneInfo
    window: tuple[dt.datetime, dt.datetime]
    params: DatabaseParams
    server: pd.DataFrame  # db_server rows of the day
    rates: pd.DataFrame
    state: pd.DataFrame
    extremes: pd.DataFrame
    members: pd.DataFrame
    member_lag: pd.DataFrame
    lag_episodes: pd.DataFrame
    unhealthy: pd.DataFrame
    current_ops: pd.DataFrame
    databases: pd.DataFrame  # state: dbStats per database
    collections: pd.DataFrame  # state
    indexes: pd.DataFrame  # state
    hygiene: pd.DataFrame  # state
    privileges: pd.DataFrame  # state
    shards: pd.DataFrame  # state
    errors: pd.DataFrame  # collector errors of the day (and of the state snapshot)
    log_reads: pd.DataFrame
    shapes: pd.DataFrame
    advice: pd.DataFrame
    unused: pd.DataFrame
    redundant: pd.DataFrame
    hidden: pd.DataFrame
    no_validator: pd.DataFrame
    disk: dict[str, Any]
    state_ts: pd.Timestamp | None = None
    slow_rows: int = 0
    baseline_slow_input: bool = False  # the baseline days had slow-query input (a shape can be "new")
    baseline_days: tuple[dt.date, ...] = ()
    configured: dict[str, bool] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    _slow: duckdb.DuckDBPyRelation | None = None

    # -- drill-down ---------------------------------------------------------------------------
    @property
    def slow(self) -> duckdb.DuckDBPyRelation | None:
        """The day's slow operations (lazy; None when there are none)."""
        return self._slow

    # -- derived ------------------------------------------------------------------------------
    @functools.cached_property
    def connection_churn(self) -> dict[str, float]:
        """New connections per second over the day, per host (Δ totalCreated / Δt)."""
        out: dict[str, float] = {}
        if self.rates.empty:
            return out
        for host, g in self.rates.groupby("host"):
            seconds = float(g["interval_s"].sum())
            if seconds > 0:
                out[str(host)] = float((g["conn_total_created_per_s"] * g["interval_s"]).sum()) / seconds
        return out

    @functools.cached_property
    def collection_counts(self) -> dict[str, int]:
        latest = self.collections.dropna(subset=["count"]) if len(self.collections) else self.collections
        return {str(r["ns"]): int(r["count"]) for r in latest.to_dict("records")}

    @functools.cached_property
    def collection_obj_sizes(self) -> dict[str, float]:
        latest = self.collections.dropna(subset=["avg_obj_size"]) if len(self.collections) else self.collections
        return {str(r["ns"]): float(r["avg_obj_size"]) for r in latest.to_dict("records")}

    def table(self, name: str, fmt: str = "%Y-%m-%d %H:%M") -> pd.DataFrame:
        """A table for display: local times, rounded numbers."""
        df = local_columns(getattr(self, name), self.tz, fmt)
        for column in df.columns:
            if pd.api.types.is_float_dtype(df[column]):
                df[column] = df[column].round(3)
        return df

    # -- coverage ------------------------------------------------------------------------------
    def _nothing_configured(self) -> bool:
        return not any(self.configured.values())

    def _no_snapshots(self, section: Section, what: str, items: tuple[str, ...]) -> bool:
        if not self.server.empty:
            return False
        if self._nothing_configured():
            detail = "no `database.uri`, `database.snapshot_dir` or `database.log_files` is configured"
            remedy = (
                'set `database.uri: "${MONGODB_URI}"` (a login with clusterMonitor + read) and schedule '
                "`opsreview database snapshot --params P` every 15 minutes (README: Database)"
            )
        else:
            detail = f"the store holds no database snapshot of {self.day}"
            remedy = "schedule `opsreview database snapshot --params P` every 15 minutes, or check the `database` source on the day page"
        section.not_verifiable(AREA, f"No {what}", detail, remedy, ("database",), items)
        return True

    # -- sections ------------------------------------------------------------------------------
    def kpis(self) -> dict[str, float | None]:
        """The day's headline numbers: slow operations logged (None: no slow-query input) and
        the largest replication lag of any member, seconds (None: no replica-set status)."""
        lags = self.member_lag["lag_max_s"].dropna() if "lag_max_s" in self.member_lag.columns else pd.Series([])
        return {
            "slow_ops": float(self.slow_rows) if self._slow_input() else None,
            "repl_lag_max_s": kpi_number(lags.max()) if len(lags) else None,
        }

    def overview_section(self) -> Section:
        section = Section("overview")
        if self._no_snapshots(section, "database snapshots", (dbfindings.PERFORMANCE,)):
            return section
        section.tables.append(("Servers at their last snapshot of the day", self.table("overview")))
        return section

    @functools.cached_property
    def overview(self) -> pd.DataFrame:
        state = self.state.copy()
        if state.empty:
            return state
        churn = self.connection_churn
        state = state.merge(analysis.day_means(self.server), on="host", how="left")
        state["new_conn_per_s"] = state["host"].map(churn)
        state["slow_ops"] = self.slow_rows
        return state[
            [
                "ts",
                "host",
                "role",
                "version",
                "conn_current",
                "conn_used",
                "new_conn_per_s",
                "cache_used",
                "cache_dirty",
                "queue_total",
                "oplog_window_h",
                "ops_per_s",
                "reads_ms",
                "writes_ms",
            ]
        ]

    def activity_section(self) -> Section:
        section = Section("activity", findings=self._of("database.queue", "database.long_op"))
        if self._no_snapshots(section, "database snapshots", (dbfindings.PERFORMANCE,)):
            return section
        if self.rates.empty:
            section.not_verifiable(
                AREA,
                "No rates",
                f"the day has {len(self.server)} snapshot(s) per host: rates need two snapshots of the same server",
                "schedule `opsreview database snapshot --params P` every 15 minutes (each takes two looks "
                "`database.rate_interval_s` apart)",
                ("database",),
                (dbfindings.PERFORMANCE,),
            )
            return section
        section.figures.extend([charts.ops_per_second(self), charts.latency_per_op(self)])
        if len(self.current_ops):
            section.tables.append(("Long-running operations ($currentOp)", self.table("current_ops")))
        return section

    def resources_section(self) -> Section:
        section = Section(
            "resources",
            findings=self._of(
                "database.connections", "database.connection_churn", "database.cache", "database.disk_full"
            ),
        )
        if self._no_snapshots(
            section, "database snapshots", (dbfindings.PERFORMANCE, dbfindings.POOLING, dbfindings.DB_POOLING)
        ):
            return section
        if self.rates.empty:
            section.not_verifiable(
                AREA,
                "No connection rate",
                "new connections per second need two snapshots of the same server; the day has one per host",
                "schedule `opsreview database snapshot --params P` every 15 minutes",
                ("database",),
                (dbfindings.POOLING, dbfindings.DB_POOLING),
            )
        section.figures.extend([charts.connections(self), charts.cache(self)])
        if self.disk:
            hosts = self.disk.get("hosts")
            rows = (
                hosts if isinstance(hosts, list) and hosts else [{k: v for k, v in self.disk.items() if k != "hosts"}]
            )
            section.tables.append(("Storage growth and days until the data disk fills", pd.DataFrame(rows)))
        return section

    def replication_section(self) -> Section:
        section = Section(
            "replication",
            findings=self._of(
                "database.repl_lag", "database.member_unhealthy", "database.oplog_window", "database.standalone"
            ),
        )
        items = (dbfindings.REPLICATION,)
        if self._no_snapshots(section, "database snapshots", items):
            return section
        if self.members.empty and not (self.state["role"] == "standalone").any():
            roles = ", ".join(sorted(set(self.state["role"].dropna()))) or "unknown"
            section.not_verifiable(
                AREA,
                "No replica set status",
                f"no snapshot of the day holds replSetGetStatus (servers: {roles})",
                "give the review's login the clusterMonitor role (replSetGetStatus) and connect it to a replica set member",
                ("database",),
                items,
            )
            return section
        replica = self.state[self.state["role"].isin(["primary", "secondary"])] if len(self.state) else self.state
        if len(replica) and replica["oplog_window_h"].isna().all():
            section.not_verifiable(
                AREA,
                "No oplog window",
                "no snapshot of the day read the first and last entries of local.oplog.rs",
                "give the review's login `read` on the `local` database",
                ("database",),
                items,
            )
        if len(self.members):
            section.figures.append(charts.replication_lag(self))
            section.tables.append(("Members over the day", self.table("member_lag")))
        if len(self.shards):
            section.tables.append(("Shards", self.table("shards")))
        return section

    def slow_queries_section(self) -> Section:
        section = Section(
            "slow_queries",
            findings=self._of(
                "database.slow_shape",
                "database.new_slow_shape",
                "database.slow_shape_regression",
                "database.collscan",
                "database.no_projection",
            ),
        )
        items = (dbfindings.QUERY_MONITORING, dbfindings.EFFICIENT, dbfindings.QUERY_FIELDS, dbfindings.INDEXES)
        if self.shapes.empty:
            if not self._slow_input():
                section.not_verifiable(
                    AREA,
                    "No slow-query source",
                    f"nothing read slow operations for {self.day}: no structured log file covers the day, and no live "
                    "snapshot read getLog or system.profile",
                    "list the mongod log files under `database.log_files`, or set `database.uri` (getLog and "
                    "system.profile are read where the profiler is on)",
                    ("database_logs", "database"),
                    items,
                )
            return section
        if not self.baseline_slow_input:
            section.not_verifiable(
                AREA,
                "No baseline of slow queries",
                f"the {len(self.baseline_days)} baseline day(s) hold no slow-query input: a shape cannot be told new, nor "
                "compared with its usual day",
                "keep the mongod log files of the baseline days under `database.log_files` (rotated `.gz` files too)",
                ("database_logs",),
                (dbfindings.QUERY_MONITORING,),
            )
        section.figures.append(charts.slow_shapes(self))
        section.tables.append(
            (f"Slow query shapes (≥ {self.params.thresholds.slow_ms:g} ms)", self.table("shape_view"))
        )
        return section

    def _slow_input(self) -> bool:
        """Did anything look for slow operations of the day (a log file covering it, a live snapshot)?"""
        start, end = self.window
        if len(self.log_reads):
            first = pd.to_datetime(self.log_reads["first_ts"], utc=True)
            last = pd.to_datetime(self.log_reads["last_ts"], utc=True)
            if ((first < end) & (last >= start)).any():
                return True
        return self.slow_rows > 0

    @functools.cached_property
    def shape_view(self) -> pd.DataFrame:
        if self.shapes.empty:
            return self.shapes
        view = self.shapes.copy()
        if len(self.advice):
            view = view.merge(self.advice[["shape_key", "command"]], on="shape_key", how="left")
        else:
            view["command"] = None
        columns = [
            "ns",
            "op",
            "count",
            "total_ms",
            "p95_ms",
            "docs_per_returned",
            "plan_summary",
            "new",
            "command",
            "shape",
        ]
        return view[[c for c in columns if c in view.columns]].rename(columns={"command": "suggested index"})

    def indexes_section(self) -> Section:
        section = Section(
            "indexes",
            findings=self._of("database.index_suggestion", "database.unused_index", "database.redundant_index"),
        )
        items = (dbfindings.INDEXES, dbfindings.MONGO_INDEXES)
        if self.indexes.empty:
            if not self._no_snapshots(section, "index statistics", items):
                section.not_verifiable(
                    AREA,
                    "No index list",
                    "the snapshots hold no listIndexes/$indexStats reply",
                    "give the review's login `read` on the reviewed databases",
                    ("database",),
                    items,
                )
            return section
        if len(self.advice):
            section.tables.append(
                ("Index suggestions (equality → sort → range), by wasted bytes read", self.table("advice"))
            )
        if self.indexes["ops"].isna().all():
            section.not_verifiable(
                AREA,
                "No index usage",
                "$indexStats was not readable: unused indexes cannot be told",
                "give the review's login clusterMonitor (indexStats)",
                ("database",),
                items,
            )
        section.tables.append(("Indexes", self.table("index_view")))
        if len(self.hidden):
            section.tables.append(("Hidden indexes", self.table("hidden")))
        return section

    @functools.cached_property
    def advice_view(self) -> pd.DataFrame:
        view = self.advice.copy()
        served = view["served_by"].fillna(
            view["same_index_as"].map(lambda n: f"same index as {n}" if isinstance(n, str) else None)
        )
        view["index"] = view["command"].fillna(
            served.map(lambda n: f"served by {n}" if isinstance(n, str) and not n.startswith("same") else n)
        )
        view["wasted_mb"] = pd.to_numeric(view["impact_bytes"], errors="coerce") / 1e6
        columns = ["ns", "op", "why", "index", "note", "wasted_docs", "wasted_mb", "count", "total_ms", "shape"]
        return view[columns].reset_index(drop=True)

    @functools.cached_property
    def index_view(self) -> pd.DataFrame:
        view = self.indexes[
            ["ns", "name", "key", "ops", "since", "size_bytes", "unique", "hidden", "ttl_seconds", "host"]
        ].copy()
        unused = set(zip(self.unused.get("ns", []), self.unused.get("name", []), strict=False))
        if "judged" in self.unused.columns:
            unused = {(r["ns"], r["name"]) for r in self.unused.to_dict("records") if bool(r.get("judged", True))}
        redundant = set(zip(self.redundant.get("ns", []), self.redundant.get("index", []), strict=False))
        view["unused"] = [(n, i) in unused for n, i in zip(view["ns"], view["name"], strict=True)]
        view["redundant"] = [(n, i) in redundant for n, i in zip(view["ns"], view["name"], strict=True)]
        return view.sort_values(["ns", "name"]).reset_index(drop=True)

    def hygiene_section(self) -> Section:
        section = Section(
            "hygiene",
            findings=self._of(
                "database.no_validator", "database.password_hash", "database.soft_delete", "database.oversize_docs"
            ),
        )
        items = (dbfindings.VALIDATION,)
        if self._no_snapshots(section, "collection list", (*items, dbfindings.BCRYPT, *dbfindings.SOFT_DELETES)):
            return section
        if len(self.collections):
            section.tables.append(("Collections", self.table("collection_view")))
        else:
            section.not_verifiable(
                AREA,
                "No collection list",
                "the snapshots hold no listCollections reply",
                "give the review's login `read`",
                ("database",),
                items,
            )
        if self.hygiene.empty:
            enabled = self.params.hygiene.enabled
            section.not_verifiable(
                AREA,
                "No sampled documents",
                "hygiene sampling is off (`database.hygiene.enabled: false`)"
                if enabled is False
                else "no snapshot of the day sampled documents",
                "set `database.hygiene.enabled: true` (a $sample of `database.hygiene.sample_size` documents per collection)",
                ("database",),
                (dbfindings.BCRYPT, *dbfindings.SOFT_DELETES),
            )
        else:
            section.tables.append(("Sampled documents (counts only: no value is kept)", self.table("hygiene_view")))
            if not self.hygiene["password_field"].notna().any():
                section.not_verifiable(
                    AREA,
                    "No password hashes sampled",
                    f"none of the {len(self.hygiene)} sampled collections has a field named "
                    + ", ".join(self.params.hygiene.password_fields),
                    "name the users' hash field under `database.hygiene.password_fields` (and its collection under "
                    "`database.hygiene.collections` if it is not among the largest)",
                    ("database",),
                    (dbfindings.BCRYPT,),
                )
        return section

    @functools.cached_property
    def collection_view(self) -> pd.DataFrame:
        columns = [
            "ns",
            "type",
            "count",
            "size",
            "avg_obj_size",
            "storage_size",
            "total_index_size",
            "has_validator",
            "validation_level",
            "validation_action",
        ]
        return self.collections[columns].sort_values("size", ascending=False).reset_index(drop=True)

    @functools.cached_property
    def hygiene_view(self) -> pd.DataFrame:
        view = self.hygiene.copy()
        view["soft_deleted_share"] = view["soft_deleted"] / view["sampled"].where(view["sampled"] > 0)
        view = view.rename(
            columns={
                "soft_delete_field": "soft delete",
                "soft_deleted_share": "deleted",
                "password_field": "password",
                "password_values": "hashes",
                "not_bcrypt": "not bcrypt",
                "md5_like": "md5/sha",
                "other_strong": "argon2/scrypt",
                "bcrypt_low_cost": "low cost",
                "max_doc_bytes": "largest doc",
                "oversize_docs": "oversize",
            }
        )
        columns = [
            "ns",
            "sampled",
            "soft delete",
            "deleted",
            "password",
            "hashes",
            "not bcrypt",
            "md5/sha",
            "argon2/scrypt",
            "low cost",
            "largest doc",
            "oversize",
        ]
        return view[columns].sort_values("ns").reset_index(drop=True)

    def collector_section(self) -> Section:
        section = Section(
            "collector", findings=self._of("database.excess_privileges", "database.collector_error", "database.no_auth")
        )
        section.not_verifiable(
            AREA,
            "Connection retry logic is not visible from the database",
            "whether the API reconnects after a failover shows in its own logs, not in the server's statistics",
            "the `errors` area shows MongoNetworkError / MongoServerSelectionError bursts; a primary election in "
            "`Replication` above is the moment to look",
            (),
            (dbfindings.RETRY,),
        )
        if len(self.privileges):
            section.tables.append(("The review's login", self.table("privileges")))
        if len(self.errors):
            section.tables.append(("Commands that failed", self.table("errors")))
        if len(self.log_reads):
            section.tables.append(("Structured log files read", self.table("log_reads")))
        return section

    def _of(self, *checks: str) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]


def _read(store: Store, table: str, days: list[dt.date]) -> pd.DataFrame:
    df = store.read(table, days)
    if df.empty and not len(df.columns):
        return models.empty_frame(table)
    if "ts" in df.columns:
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def state_rows(df: pd.DataFrame, start: dt.datetime, end: dt.datetime, key: str = "host") -> pd.DataFrame:
    """Per ``key``: the rows of its latest snapshot in [start, end), else of its first one in
    [end, end + 1 day) (a snapshot taken the morning after still tells the day's state)."""
    if df.empty:
        return df
    ts = pd.to_datetime(df["ts"], utc=True)
    inside = df[(ts >= start) & (ts < end)]
    after = df[(ts >= end) & (ts < end + STATE_AFTER)]
    chosen = []
    for value in sorted(set(df[key].dropna())):
        mine = inside[inside[key] == value]
        if len(mine):
            chosen.append(mine[mine["ts"] == mine["ts"].max()])
            continue
        mine = after[after[key] == value]
        if len(mine):
            chosen.append(mine[mine["ts"] == mine["ts"].min()])
    return pd.concat(chosen, ignore_index=True) if chosen else df.iloc[0:0]


_SLOW_KEY = "ts, ns, op, duration_ms, shape_key"


def slow_rows(
    store: Store, days: list[dt.date], start: dt.datetime, end: dt.datetime, slow_ms: float
) -> duckdb.DuckDBPyRelation | None:
    """Slow operations in [start, end) at or above ``slow_ms`` (8.0's ``workingMillis`` when
    the server gave it), each once: the same operation read again - from the next snapshot's
    getLog buffer or system.profile, from a log file and getLog, from a rotated file - has the
    same time, namespace, operation, duration and shape, and is kept once."""
    rel = store.relation(models.SLOW_QUERIES, days)
    if rel is None:
        return None
    window = f"ts >= {sql_string(start.isoformat())}::TIMESTAMPTZ AND ts < {sql_string(end.isoformat())}::TIMESTAMPTZ"
    return rel.filter(f"{window} AND coalesce(working_ms, duration_ms) >= {float(slow_ms)!r}").query(
        "slow",
        f"SELECT * FROM slow QUALIFY row_number() OVER (PARTITION BY {_SLOW_KEY} ORDER BY source) = 1",
    )


def _baseline_shapes(store: Store, days: list[dt.date], tz: ZoneInfo, slow_ms: float) -> pd.DataFrame:
    columns = ["ns", "op", "shape_key", "day", "count", "total_ms"]
    if not days:
        return pd.DataFrame(columns=columns)
    start = dt.datetime.combine(days[0], dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    rel = slow_rows(store, [days[0] - dt.timedelta(days=1), *days], start, end, slow_ms)
    if rel is None:
        return pd.DataFrame(columns=columns)
    return rel.aggregate(
        f"ns, op, shape_key, CAST(timezone({sql_string(str(tz))}, ts) AS DATE) AS day, count(*) AS count, "
        "sum(duration_ms) AS total_ms",
        "ns, op, shape_key, day",
    ).df()


def load_database_review(ctx: ReviewContext) -> DatabaseReview:
    """Read the day, its state and its baseline from the store; analyse and judge them."""
    from opsreview.database import hygiene as dbhygiene
    from opsreview.database import indexes as dbindexes
    from opsreview.database import shapes as dbshapes

    params = ctx.params
    settings = params.database
    store = ctx.store
    start, end = ctx.window
    days = [ctx.day, ctx.day + dt.timedelta(days=1)]
    with_before = [ctx.day - dt.timedelta(days=1), *days]  # a local day spans two UTC days

    def day_rows(table: str) -> pd.DataFrame:
        return analysis.window_filter(_read(store, table, with_before), start, end)

    def state(table: str, key: str = "host") -> pd.DataFrame:
        return state_rows(_read(store, table, with_before), start, end, key)

    server = day_rows(models.SERVER)
    members = day_rows(models.MEMBERS)
    slow_ms = settings.thresholds.slow_ms
    slow = slow_rows(store, with_before, start, end, slow_ms)
    n_slow = int(slow.aggregate("count(*)").fetchall()[0][0]) if slow is not None else 0
    shapes = dbshapes.shape_table(slow) if slow is not None and n_slow else pd.DataFrame()
    baseline_input = False
    if len(shapes):
        baseline = _baseline_shapes(store, ctx.baseline_days, params.tz, slow_ms)
        baseline_input = len(baseline) > 0 or _log_reads_cover(store, ctx)
        shapes = analysis.mark_new_shapes(shapes, baseline, baseline_input)
        shapes = shapes.merge(analysis.baseline_shape_stats(baseline), on=["ns", "op", "shape_key"], how="left")
    collections = state(models.COLLECTIONS)
    indexes = state(models.INDEXES)
    growth_days = [ctx.day - dt.timedelta(days=i) for i in range(GROWTH_DAYS, -2, -1)]
    databases_all = analysis.window_filter(
        _read(store, models.DATABASES, growth_days), start - dt.timedelta(days=GROWTH_DAYS), end
    )
    review = DatabaseReview(
        day=ctx.day,
        tz=params.tz,
        window=(start, end),
        params=settings,
        server=server,
        rates=analysis.rates(server),
        state=analysis.server_state(pd.concat([server, state(models.SERVER)], ignore_index=True)),
        extremes=analysis.day_extremes(server),
        members=members,
        member_lag=analysis.member_lag(members),
        lag_episodes=analysis.lag_episodes(members, settings.thresholds.lag_warning_s),
        unhealthy=analysis.unhealthy_members(members),
        current_ops=day_rows(models.CURRENT_OPS),
        databases=state(models.DATABASES),
        collections=collections,
        indexes=indexes,
        hygiene=state(models.HYGIENE, key="ns"),
        privileges=state(models.PRIVILEGES),
        shards=state(models.SHARDS),
        errors=pd.concat([day_rows(models.ERRORS), state(models.ERRORS)]).drop_duplicates(ignore_index=True),
        log_reads=_read(store, models.LOG_READS, with_before),
        shapes=shapes,
        advice=dbindexes.index_advice(shapes, indexes, collections, settings.thresholds.examined_ratio)
        if len(shapes)
        else pd.DataFrame(columns=["ns", "shape_key", "command"]),
        unused=dbindexes.unused_indexes(indexes, end, settings.thresholds.unused_index_days)
        if len(indexes)
        else pd.DataFrame(),
        redundant=dbindexes.redundant_indexes(indexes) if len(indexes) else pd.DataFrame(),
        hidden=dbindexes.hidden_indexes(indexes) if len(indexes) else pd.DataFrame(),
        no_validator=analysis.collections_without_validator(collections),
        disk=dbhygiene.disk_forecast(databases_all, settings.disk_total_bytes) if len(databases_all) else {},
        slow_rows=n_slow,
        baseline_slow_input=baseline_input,
        baseline_days=tuple(ctx.baseline_days),
        configured={
            "uri": settings.uri is not None,
            "snapshots": settings.snapshot_dir is not None,
            "logs": bool(settings.log_files),
        },
        _slow=slow,
    )
    if len(review.state):
        review.state_ts = pd.Timestamp(review.state["ts"].max())
    review.findings = dbfindings.all_findings(review)
    return review


def _log_reads_cover(store: Store, ctx: ReviewContext) -> bool:
    """Did a structured log file cover a baseline day (so no slow row there means none)?"""
    if not ctx.baseline_days:
        return False
    reads = _read(store, models.LOG_READS, [ctx.baseline_days[0], *ctx.baseline_days, ctx.day])
    if reads.empty:
        return False
    first_day = ctx.params.day_window(ctx.baseline_days[0])[0]
    last = pd.to_datetime(reads["last_ts"], utc=True)
    first = pd.to_datetime(reads["first_ts"], utc=True)
    return bool(((first < ctx.window[0]) & (last >= first_day)).any())


def state_note(review: DatabaseReview) -> str:
    """One line saying which snapshot the state tables come from."""
    if review.state_ts is None:
        return "no snapshot"
    after = review.state_ts >= pd.Timestamp(review.window[1])
    when = local_iso(review.state_ts, review.tz)
    return f"state as of {when}" + (" (the first snapshot after the day)" if after else "")


def _json_list(text: Any) -> list[str]:
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
