"""The access review's daily aggregates computed on Spark (``engine: spark``), after the pull.

What the tables hold and when the review reads them: :mod:`opsreview.logs.access.aggregates`.
Here, for one review day (once it is over) and its baseline days, in the Spark session of
the pull, unless the stored aggregates are current already:

1. ``requests_paths`` for each of those days whose part is missing or was made from other
   ``requests`` parts: one ``groupBy(path)``, written by Spark (one file per day).
2. The route table on the driver, with DuckDB (which spills to disk), from those per-path
   counts - the review's own inference,
   :func:`~opsreview.logs.access.analysis.route_map_from_paths` - copied to a Parquet file
   that the executors join (by broadcast when it is small, else by a sort-merge join).
3. One pass over the day's and the baseline days' ``requests`` (only the columns needed,
   cached), joined to the route table: minute x host x route x status counts, the latency
   profile (exact ``percentile``), the ``above`` counts of the exceedance test, the day's
   5-minute buckets, and the per-client counts.

The minute counts and the latency profile are collected to the driver (they are the review's
in-memory working set, sized by minutes x hosts x routes, not by requests) and written with
:meth:`~opsreview.store.Store.write_part`; the per-path and per-client tables are written by
Spark and moved into place. Each file is replaced atomically and carries the signature of
what it was made from, so a job that fails half way leaves no mix the review would read.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from opsreview import engine
from opsreview.logs.access import aggregates as agg
from opsreview.logs.access.analysis import STATUS_COLUMNS, route_map_from_paths
from opsreview.logs.baseline import ALL_ROUTES
from opsreview.logs.spark_common import prepare_staging

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from opsreview.params import Params
    from opsreview.store import Store

log = logging.getLogger("opsreview")

_QUANTILES = (0.5, 0.95, 0.99)  # the review's p50, p95, p99


def _status_columns(status: Column) -> list[Column]:
    from pyspark.sql import functions as F

    def count_if(cond: Column) -> Column:
        return F.count(F.when(cond, F.lit(1)))

    return [
        F.count(F.lit(1)).alias("requests"),
        count_if(status.between(200, 299)).alias("s2xx"),
        count_if(status.between(300, 399)).alias("s3xx"),
        count_if(status.between(400, 499)).alias("s4xx"),
        count_if(status >= 500).alias("s5xx"),
        count_if(status == 401).alias("s401"),
        count_if(status == 403).alias("s403"),
        count_if(status == 404).alias("s404"),
        count_if(status == 429).alias("s429"),
    ]


def _quantiles(column: Column) -> Column:
    """Exact p50/p95/p99, interpolated as DuckDB's ``quantile_cont`` (Spark's ``percentile``:
    a map of distinct value -> count per group, merged across tasks)."""
    from pyspark.sql import functions as F

    return F.percentile(column, list(_QUANTILES))


_COLUMNS = {
    "ts": "timestamp",
    "host": "string",
    "method": "string",
    "path": "string",
    "status": "smallint",
    "response_time_ms": "double",
    "bytes": "bigint",
    "remote_addr": "string",
}


def _requests(spark: Any, store: Store, days: Sequence[dt.date]) -> DataFrame:
    """The columns the aggregates read of the ``requests`` rows of ``days``, each day's rows
    with their day as ``_d`` (read day by day: the day is the partition the pull wrote them to)."""
    from pyspark.sql import functions as F

    frames = []
    for day in days:
        files = [str(p) for p in store.parts("requests", day)]
        if not files:
            continue
        rows = spark.read.option("mergeSchema", "true").parquet(*files)
        present = set(rows.columns)
        frames.append(
            rows.select(
                *[(F.col(c) if c in present else F.lit(None)).cast(kind).alias(c) for c, kind in _COLUMNS.items()],
                F.lit(day).alias("_d"),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _publish_file(written: Path, target_dir: Path) -> None:
    """Move the one Parquet file Spark wrote under ``written`` to ``target_dir/agg.parquet``."""
    files = sorted(written.glob("*.parquet"))
    if len(files) != 1:
        raise RuntimeError(f"expected one Parquet file under {written}, found {len(files)}")
    target_dir.mkdir(parents=True, exist_ok=True)
    os.replace(files[0], target_dir / f"{agg.PART}.parquet")


def _write(store: Store, table: str, day: dt.date, data: pa.Table, sig: str) -> None:
    data = data.append_column("signature", pa.array([sig] * data.num_rows, pa.string()))
    store.write_part(table, day, agg.PART, data)


def _paths(spark: Any, store: Store, days: Sequence[dt.date], staging: Path) -> None:
    """Step 1: per-path counts of each day that lacks current ones, written by Spark (one file
    per day: the distinct paths of a day never pass through the driver)."""
    from pyspark.sql import functions as F

    todo = [d for d in days if agg.stored_signature(store, agg.PATHS, d) != agg.paths_signature(store, d)]
    if not todo:
        return
    signatures = F.create_map(*[v for d in todo for v in (F.lit(d), F.lit(agg.paths_signature(store, d)))])
    counted = (
        _requests(spark, store, todo)
        .groupBy("_d", "path")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.coalesce(F.bool_or(F.col("status").isNotNull() & (F.col("status") != 404)), F.lit(False)).alias(
                "answered"
            ),
        )
        .withColumn("signature", F.element_at(signatures, F.col("_d")))
    )
    out = staging / "paths"
    counted.repartition("_d").write.partitionBy("_d").parquet(str(out))
    for day in todo:
        written = out / f"_d={day.isoformat()}"
        if written.is_dir():
            _publish_file(written, store.day_dir(agg.PATHS, day))


def build(params: Params, store: Store, day: dt.date, baseline_days: Sequence[dt.date]) -> bool:
    """Compute and write the aggregates of review day ``day`` unless they are current already
    (False: the day has no requests)."""
    from pyspark.sql import functions as F

    from opsreview import sparkengine

    if not store.parts("requests", day):
        return False
    baseline_days = [d for d in baseline_days if store.parts("requests", d)]
    th, routes, tz = params.logs.thresholds, params.logs.routes, params.timezone
    sig = agg.signature(store, day, baseline_days, routes, th, tz)
    if agg.is_current(store, day, baseline_days, sig):
        log.info("access-log aggregates of %s are current", day)
        return True
    started = time.monotonic()
    spark = sparkengine.session(params.spark)
    con = engine.connect()
    staging = store.root / ".staging" / uuid.uuid4().hex
    joined: DataFrame | None = None
    try:
        prepare_staging(staging)
        _paths(spark, store, [day, *baseline_days], staging)

        # step 2: the route table, from the per-path counts, with DuckDB (it spills), to a file
        files = [str(store.day_dir(agg.PATHS, d) / f"{agg.PART}.parquet") for d in [day, *baseline_days]]
        paths = con.read_parquet([f for f in files if Path(f).is_file()], union_by_name=True)
        mapping = route_map_from_paths(paths.select("path, n, answered"), routes, infer=None if routes else th, con=con)
        map_file = staging / "routes.parquet"
        con.execute(f"COPY (SELECT _p, _template FROM \"{mapping.name}\") TO '{map_file}' (FORMAT parquet)")
        route_table = spark.read.parquet(str(map_file))

        # step 3: one pass over the rows (Spark joins the route table by broadcast when small)
        rows = _requests(spark, store, [day, *baseline_days])
        kind = F.when(F.col("_d") == F.lit(day), F.lit("day")).otherwise(F.lit("base"))
        route = F.concat(
            F.coalesce(F.col("method"), F.lit("-")), F.lit(" "), F.coalesce(F.col("_template"), F.lit("-"))
        )
        joined = (
            rows.join(route_table, rows["path"].eqNullSafe(route_table["_p"]), "left")
            .select(
                route.alias("route"),
                kind.alias("kind"),
                F.date_trunc("minute", F.col("ts")).alias("minute"),
                F.hour(F.from_utc_timestamp(F.col("ts"), tz)).alias("_hour"),
                "ts",
                "host",
                "status",
                "response_time_ms",
                "bytes",
                "remote_addr",
            )
            .persist()
        )
        status = F.col("status")
        minutes_table = joined.groupBy("kind", "minute", "host", "route").agg(*_status_columns(status)).toArrow()

        rt = F.col("response_time_ms")
        measures = [
            F.count(F.lit(1)).alias("requests"),
            F.count(rt).alias("timed"),
            _quantiles(rt).alias("q"),
            F.count(status).alias("statused"),
            F.count(F.when(status >= 500, F.lit(1))).alias("s5xx"),
        ]
        by_all = (
            joined.groupBy("kind").agg(*measures).withColumn("route", F.lit(ALL_ROUTES)).withColumn("hour", F.lit(-1))
        )
        by_route = joined.groupBy("kind", "route").agg(
            *measures, F.percentile(F.col("bytes"), 0.5).cast("double").alias("median_bytes")
        )
        by_hour = joined.groupBy("kind", "route", F.coalesce(F.col("_hour"), F.lit(-2)).alias("hour")).agg(*measures)
        profile_table = (
            by_all.unionByName(by_route.withColumn("hour", F.lit(-1)), allowMissingColumns=True)
            .unionByName(by_hour, allowMissingColumns=True)
            .toArrow()
        )
        base_p95 = {
            r["route"]: r["q"][1]
            for r in profile_table.to_pylist()
            if r["kind"] == "base" and r["hour"] == -1 and r["q"] is not None and r["route"] != ALL_ROUTES
        }
        above: dict[str, int] = {}
        if base_p95:
            thresholds = spark.createDataFrame(
                [(k, float(v)) for k, v in base_p95.items()], "_route string, _threshold double"
            )
            counted = (
                joined.filter(F.col("kind") == "day")
                .join(F.broadcast(thresholds), F.col("route") == F.col("_route"))
                .groupBy("route")
                .agg(F.count(F.when(rt > F.col("_threshold"), F.lit(1))).alias("above"))
                .toArrow()
            )
            above = dict(zip(counted.column("route").to_pylist(), counted.column("above").to_pylist(), strict=True))
        five = F.when(F.col("ts").isNull(), F.lit(None)).otherwise(
            F.timestamp_seconds(F.floor(F.unix_micros(F.col("ts")) / F.lit(300_000_000)) * 300)
        )
        buckets = (
            joined.filter(F.col("kind") == "day")
            .groupBy(five.alias("bucket"))
            .agg(F.count(F.lit(1)).alias("requests"), _quantiles(rt).alias("q"))
            .toArrow()
        )
        # per client: one row per client of the day, written by Spark (never collected)
        (
            joined.filter(F.col("kind") == "day")
            .groupBy(F.col("remote_addr").alias("client"))
            .agg(
                F.count(F.lit(1)).alias("requests"),
                F.count(F.when(status.between(400, 499), F.lit(1))).alias("s4xx"),
                F.count(F.when(status == 401, F.lit(1))).alias("s401"),
                F.count(F.when(status == 429, F.lit(1))).alias("s429"),
                F.count(F.when(status >= 500, F.lit(1))).alias("s5xx"),
                F.countDistinct("route").alias("routes"),
                F.min("ts").alias("first"),
                F.max("ts").alias("last"),
            )
            .withColumn("signature", F.lit(sig))
            .coalesce(1)
            .write.parquet(str(staging / "clients"))
        )
        _write(store, agg.MINUTES, day, _cast_minutes(minutes_table), sig)
        _write(store, agg.LATENCY, day, _latency_table(profile_table, above, buckets), sig)
        _publish_file(staging / "clients", store.day_dir(agg.CLIENTS, day))
    finally:
        if joined is not None:
            joined.unpersist()
        shutil.rmtree(staging, ignore_errors=True)
        con.close()
    log.info("access-log aggregates of %s on Spark in %.1f s", day, time.monotonic() - started)
    return True


def _cast_minutes(table: pa.Table) -> pa.Table:
    fields = [
        ("kind", pa.string()),
        ("minute", pa.timestamp("us", tz="UTC")),
        ("host", pa.string()),
        ("route", pa.string()),
    ]
    fields += [(c, pa.int64()) for c in ("requests", *STATUS_COLUMNS)]
    schema = pa.schema(fields)
    return table.select(schema.names).cast(schema)


def _latency_table(profile: pa.Table, above: dict[str, int], buckets: pa.Table) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for r in profile.to_pylist():
        q = r["q"] or [None, None, None]
        is_route_day = r["kind"] == "day" and r["hour"] == -1 and r["route"] != ALL_ROUTES
        rows.append(
            {
                "kind": r["kind"],
                "route": r["route"],
                "hour": int(r["hour"]),
                "bucket": None,
                "requests": r["requests"],
                "timed": r["timed"],
                "statused": r["statused"],
                "s5xx": r["s5xx"],
                "p50": q[0],
                "p95": q[1],
                "p99": q[2],
                "median_bytes": r.get("median_bytes"),
                "above": above.get(r["route"]) if is_route_day and r["route"] in above else None,
            }
        )
    for r in buckets.to_pylist():
        q = r["q"] or [None, None, None]
        rows.append(
            {
                "kind": "bucket",
                "route": None,
                "hour": None,
                "bucket": r["bucket"],
                "requests": r["requests"],
                "timed": None,
                "statused": None,
                "s5xx": None,
                "p50": q[0],
                "p95": q[1],
                "p99": q[2],
                "median_bytes": None,
                "above": None,
            }
        )
    schema = pa.schema(
        [
            ("kind", pa.string()),
            ("route", pa.string()),
            ("hour", pa.int64()),
            ("bucket", pa.timestamp("us", tz="UTC")),
            ("requests", pa.int64()),
            ("timed", pa.int64()),
            ("statused", pa.int64()),
            ("s5xx", pa.int64()),
            ("p50", pa.float64()),
            ("p95", pa.float64()),
            ("p99", pa.float64()),
            ("median_bytes", pa.float64()),
            ("above", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
