"""The access review's daily aggregates computed on Spark (``engine: spark``), after the pull.

What the tables hold and when the review reads them: :mod:`opsreview.logs.access.aggregates`.
Here, for one review day and its baseline days, in the Spark session of the pull:

1. ``requests_paths`` for each of those days whose part is missing or was made from other
   ``requests`` parts: one ``groupBy(path)`` over the day's parts.
2. The route table on the driver, with DuckDB, from those per-path counts (the review's own
   inference, :func:`~opsreview.logs.access.analysis.route_map_from_paths`), written as a
   Parquet file the executors join (Spark broadcasts it when it is small).
3. One pass over the day's and the baseline days' ``requests``, joined to the route table:
   minute x host x route x status counts, the latency profile (``percentile_approx``:
   partial sketches per task, only the sketches shuffled), the ``above`` counts of the
   exceedance test, the day's 5-minute buckets, and the per-client counts.

Each table is collected to the driver (they are the review's in-memory working set, not the
rows) and written as one part with :meth:`~opsreview.store.Store.write_part` (atomic per
file). The tables carry the signature of what they were made from, so a job that fails half
way leaves no mix the review would read: tables with an older signature are not current.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from opsreview import engine
from opsreview.logs.access import aggregates as agg
from opsreview.logs.access.analysis import STATUS_COLUMNS, route_map_from_paths
from opsreview.logs.baseline import ALL_ROUTES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from opsreview.params import Params
    from opsreview.store import Store

log = logging.getLogger("opsreview")

_QUANTILES = (0.5, 0.95, 0.99)


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
    from pyspark.sql import functions as F

    return F.percentile_approx(column, list(_QUANTILES), agg.ACCURACY)


def _requests(spark: Any, store: Store, days: Sequence[dt.date]) -> DataFrame:
    """The ``requests`` rows of ``days`` with their day as ``_d``."""
    from pyspark.sql import functions as F

    files = [str(p) for p in store.files("requests", days)]
    rows = spark.read.option("mergeSchema", "true").parquet(*files)
    day = F.to_date(F.regexp_extract(F.input_file_name(), r"date=(\d{4}-\d{2}-\d{2})/", 1))
    return rows.withColumn("_d", day)


def _write(store: Store, table: str, day: dt.date, data: pa.Table, sig: str) -> None:
    data = data.append_column("signature", pa.array([sig] * data.num_rows, pa.string()))
    store.write_part(table, day, agg.PART, data)


def _paths(spark: Any, store: Store, days: Sequence[dt.date]) -> None:
    """Step 1: per-path counts of each day that lacks current ones."""
    from pyspark.sql import functions as F

    todo = [d for d in days if agg.stored_signature(store, agg.PATHS, d) != agg.paths_signature(store, d)]
    if not todo:
        return
    signatures = {d: agg.paths_signature(store, d) for d in todo}
    counted = (
        _requests(spark, store, todo)
        .groupBy("_d", "path")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.coalesce(F.bool_or(F.col("status").isNotNull() & (F.col("status") != 404)), F.lit(False)).alias(
                "answered"
            ),
        )
        .toArrow()
    )
    for day in todo:
        import pyarrow.compute as pc

        rows = counted.filter(pc.equal(counted.column("_d"), pa.scalar(day, pa.date32())))
        rows = rows.select(["path", "n", "answered"]).cast(
            pa.schema([("path", pa.string()), ("n", pa.int64()), ("answered", pa.bool_())])
        )
        _write(store, agg.PATHS, day, rows, signatures[day])


def build(params: Params, store: Store, day: dt.date, baseline_days: Sequence[dt.date]) -> bool:
    """Compute and write the aggregates of review day ``day`` (False: the day has no requests)."""
    from pyspark.sql import functions as F

    from opsreview import sparkengine

    if not store.parts("requests", day):
        return False
    baseline_days = [d for d in baseline_days if store.parts("requests", d)]
    started = time.monotonic()
    spark = sparkengine.session(params.spark)
    th, routes, tz = params.logs.thresholds, params.logs.routes, params.timezone
    sig = agg.signature(store, day, baseline_days, routes, th, tz)
    _paths(spark, store, [day, *baseline_days])

    # step 2: the route table, from the per-path counts
    con = engine.connect()
    staging = store.root / ".staging" / uuid.uuid4().hex
    try:
        files = [str(store.day_dir(agg.PATHS, d) / f"{agg.PART}.parquet") for d in [day, *baseline_days]]
        paths = con.read_parquet(files, union_by_name=True).select("path, n, answered")
        mapping = route_map_from_paths(paths, routes, infer=None if routes else th, con=con)
        staging.mkdir(parents=True)
        map_file = staging / "routes.parquet"
        pq.write_table(con.table(f'"{mapping.name}"').to_arrow_table(), map_file)
        route_table = spark.read.parquet(str(map_file))

        # step 3: one pass over the rows
        rows = _requests(spark, store, [day, *baseline_days])
        kind = F.when(F.col("_d") == F.lit(day), F.lit("day")).otherwise(F.lit("base"))
        joined = (
            rows.join(F.broadcast(route_table), rows["path"].eqNullSafe(route_table["_p"]), "left")
            .select(
                "*",
                F.concat(
                    F.coalesce(F.col("method"), F.lit("-")), F.lit(" "), F.coalesce(F.col("_template"), F.lit("-"))
                ).alias("route"),
                kind.alias("kind"),
                F.date_trunc("minute", F.col("ts")).alias("minute"),
                F.hour(F.from_utc_timestamp(F.col("ts"), tz)).alias("_hour"),
            )
            .drop("_p", "_template")
        )
        joined = joined.persist()
        status = F.col("status")
        minutes = joined.groupBy("kind", "minute", "host", "route").agg(*_status_columns(status))
        minutes_table = minutes.toArrow()

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
            *measures, F.percentile_approx(F.col("bytes"), 0.5, agg.ACCURACY).cast("double").alias("median_bytes")
        )
        by_hour = joined.groupBy("kind", "route", F.coalesce(F.col("_hour"), F.lit(-2)).alias("hour")).agg(*measures)
        profile = (
            by_all.select("kind", "route", "hour", "requests", "timed", "q", "statused", "s5xx")
            .unionByName(by_route.withColumn("hour", F.lit(-1)), allowMissingColumns=True)
            .unionByName(by_hour, allowMissingColumns=True)
        )
        profile_table = profile.toArrow()
        base_p95 = {
            r["route"]: r["q"][1]
            for r in profile_table.to_pylist()
            if r["kind"] == "base" and r["hour"] == -1 and r["q"] is not None and r["route"] != ALL_ROUTES
        }
        above: dict[str, int] = {}
        if base_p95:
            thresholds = spark.createDataFrame(
                pa.table({"_route": list(base_p95), "_threshold": [float(v) for v in base_p95.values()]}).to_pandas()
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
        clients = (
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
            .toArrow()
        )
        joined.unpersist()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        con.close()

    _write(store, agg.MINUTES, day, _cast_minutes(minutes_table), sig)
    _write(store, agg.LATENCY, day, _latency_table(profile_table, above, buckets), sig)
    _write(store, agg.CLIENTS, day, _cast_clients(clients), sig)
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


def _cast_clients(table: pa.Table) -> pa.Table:
    stamp = pa.timestamp("us", tz="UTC")
    fields = [("client", pa.string())] + [
        (c, pa.int64()) for c in ("requests", "s4xx", "s401", "s429", "s5xx", "routes")
    ]
    schema = pa.schema([*fields, ("first", stamp), ("last", stamp)])
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
