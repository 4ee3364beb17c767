"""Access logs on Spark (``engine: spark``): the same parse, masking and parts as the DuckDB pull.

One job per access source reads its files with ``spark.read.text`` and runs, in three steps:

1. **Fast path, on the JVM.** The morgan format is compiled from the same token table as the
   DuckDB parser (:data:`~opsreview.logs.access.morgan._SHAPES`, :class:`Token`): one anchored
   Java regex in which every typed token keeps its shape and free text may hold no ``"`` (nor a
   space where the format does not quote it) - the lines DuckDB's splits vouch for -, read with
   ``regexp_extract`` and typed with ``try_to_timestamp``/casts. Where the regex matches, its
   groups are the exact parser's (free text followed by a space or a quote cannot end earlier).
2. **Exact parser for the rest** (``mapInArrow``, before any shuffle, in file order): lines the
   fast path cannot vouch for go through :meth:`MorganFormat.parse_line`, the very parser the
   DuckDB pull falls back to; lines with a NUL byte or over the line limit stay unparsed, as
   there. An unparsed line counts on the day of the last parsed line before it in its file
   split (DuckDB: before it in its 256k-line batch) - the same day except at a split boundary.
3. **Parts, masked, in a staging folder** (``mapInArrow`` after ``repartition(part, day)``):
   the rows of one (file, day) meet in one task, in file order, and are written by the DuckDB
   pull's own writer (:class:`~opsreview.logs.access.source._DayParts`: the same masking at
   ingest - :func:`~opsreview.masking.mask_for_rest`, Python regexes run where the rows are, not
   translated to Java regexes that could mask differently - the same Parquet settings and
   footer). Only when the job has succeeded are the parts moved into the store (one
   ``os.replace`` per part) and their `log_files` rows written; a failed job removes its
   staging folder and the store keeps what it had.

The store and the log files are folders the driver and the executors both see (local, or a
shared mount on a cluster): the driver lists the files and keys their parts by content as the
DuckDB pull does. JSON-lines sources, and gzip content under a name without ``.gz`` (Hadoop
picks the codec by name), stay on the DuckDB pull.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from opsreview.exceptions import SourceError
from opsreview.logs.access.morgan import _SHAPES, REQUEST_COLUMNS, MorganFormat, Token, compile_format
from opsreview.logs.access.parse import GIVE_UP_AFTER, MAX_SAMPLES, REQUESTS_SCHEMA, FileParse
from opsreview.logs.access.routes import strip_query
from opsreview.logs.files import MAX_LINE_BYTES
from opsreview.logs.spark_common import check_staging, job_failure, nameable, prepare_staging, publish_parts
from opsreview.logs.spark_common import local_key as _local_key
from opsreview.logs.spark_common import secret_values as _secret_values
from opsreview.logs.spark_common import spark_schema as _spark_schema
from opsreview.masking import masked
from opsreview.sparkengine import SparkUnavailable

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from opsreview.logs.access.source import IngestedFile
    from opsreview.logs.files import LogFileInfo
    from opsreview.params import Params
    from opsreview.store import Store

log = logging.getLogger("opsreview")

SHUFFLE_BYTES = 256 << 20
_KIND_PARSED, _KIND_UNPARSED, _KIND_TOO_LONG = 0, 1, 2
# Spark's datetime patterns of the dates (the weekday of a web date is dropped: morgan's is
# always right and neither other parser checks it).
_SPARK_DATE = {"clf": "dd/MMM/yyyy:HH:mm:ss Z", "web": "dd MMM yyyy HH:mm:ss 'GMT'"}
_MARK, _SEP = "\x1e", "\x1f"
_SPARK_TYPE = {"status": "smallint", "int": "bigint", "number": "double"}


def spark_regex(fmt: MorganFormat) -> str | None:
    """The fast path's Java regex (groups in token order), or None when the format has free
    text not followed by a space, a quote or the line's end (every line then goes to the exact
    parser: the strict regex could split such a line differently)."""
    pieces = fmt.pieces
    out = ["^"]
    for i, piece in enumerate(pieces):
        if not isinstance(piece, Token):
            out.append(re.escape(piece))
            continue
        if piece.shape != "free":
            out.append(f"({_SHAPES[piece.shape]})")
            continue
        before = pieces[i - 1] if i else None
        after = pieces[i + 1] if i + 1 < len(pieces) else None
        if after is not None and not (isinstance(after, str) and after[0] in ' "'):
            return None
        quoted = isinstance(before, str) and before.endswith('"') and isinstance(after, str) and after[0] == '"'
        out.append('([^"]*)' if quoted else '([^" ]*)')
    return "".join(out) + "$"


def spark_groups(fmt: MorganFormat, line: Column) -> Column:
    """The one regex pass of the fast path: an array of the token texts where the line
    matches (the groups joined by \x1f behind a \x1e mark, then split), else NULL. Lines
    holding either byte, or a NUL, are left to the exact parser. Select it as a column of
    its own: the expressions of :func:`spark_columns` then read it without matching again."""
    from pyspark.sql import functions as F

    regex = spark_regex(fmt)
    if regex is None:
        return F.lit(None).cast("array<string>")
    joined = F.regexp_replace(line, regex, _MARK + _SEP.join(f"${i + 1}" for i in range(len(fmt.tokens))))
    clean = (F.instr(line, _MARK) == 0) & (F.instr(line, _SEP) == 0) & (F.instr(line, "\x00") == 0)
    return F.when(clean & joined.startswith(_MARK), F.split(F.substring(joined, 2, 1 << 30), _SEP, -1))


def spark_columns(fmt: MorganFormat, groups: Column) -> tuple[dict[str, Column], Column]:
    """Column expressions of every REQUEST_COLUMNS name over ``groups`` (the column of
    :func:`spark_groups`), and ``ok``: true where they are the exact parser's values."""
    from pyspark.sql import functions as F

    columns = {c: F.lit(None).cast(_type_of(c)) for c in REQUEST_COLUMNS}
    checks = [groups.isNotNull()]
    tokens = fmt.tokens
    filled: set[str] = set()
    for index, token in enumerate(tokens):
        if token.column is None or token.column in filled:
            continue
        filled.add(token.column)
        text = F.element_at(groups, index + 1)
        value: Column
        if token.shape == "clf":
            value = F.try_to_timestamp(text, F.lit(_SPARK_DATE["clf"]))
        elif token.shape == "web":
            value = F.try_to_timestamp(F.substring(text, 6, 64), F.lit(_SPARK_DATE["web"]))
        elif token.shape == "iso":
            value = text.cast("timestamp")
        elif token.shape in _SPARK_TYPE:
            value = F.when(text == "-", F.lit(None)).otherwise(text.cast(_SPARK_TYPE[token.shape]))
        else:
            value = F.when(text == "-", F.lit(None)).otherwise(text)
        if token.shape in ("clf", "web", "iso"):  # the shape may match where the calendar does not
            checks.append(value.isNotNull())
        columns[token.column] = value.cast(_type_of(token.column))
    ok = checks[0]
    for check in checks[1:]:
        ok = ok & check
    return columns, F.coalesce(ok, F.lit(False))


def _type_of(column: str) -> str:
    return {"ts": "timestamp", "status": "smallint", "bytes": "bigint"}.get(
        column, "double" if column.endswith("_ms") else "string"
    )


@dataclass(frozen=True)
class _FileJob:
    """One file of the job: its part key and what its rows carry."""

    uri: str
    path: str  # as the DuckDB pull stores it (source_file, log_files.path)
    part: str
    host: str
    default_day: dt.date
    size: int


# -- executor side -----------------------------------------------------------------------------
def _stage_schema() -> pa.Schema:
    extra = [
        ("path", pa.string()),
        ("host", pa.string()),
        ("source_file", pa.string()),
        ("_part", pa.string()),
        ("_day", pa.date32()),
        ("_block", pa.int64()),
        ("_id", pa.int64()),
        ("_kind", pa.int8()),
        ("_sample", pa.string()),
    ]
    fields = [REQUESTS_SCHEMA.field(c) for c in REQUEST_COLUMNS]
    return pa.schema([*fields, *extra])


def _exact_stage(
    batches: Iterator[pa.RecordBatch],
    fmt_source: str,
    tz_name: str,
    files: dict[str, tuple[str, str, str, dt.date]],
    secrets: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    """Step 2 (one task, one file split after another in file order): file columns added, the
    lines the fast path could not vouch for parsed by the exact parser or marked unparsed."""
    from zoneinfo import ZoneInfo

    from opsreview.secrets import remember_secret

    for value in secrets:
        remember_secret(value)
    fmt = compile_format(fmt_source)
    tz = ZoneInfo(tz_name)
    schema = _stage_schema()
    last_day: dict[str, dt.date | None] = {}
    failed: dict[str, int] = {}
    parsed_any: dict[str, bool] = {}
    for batch in batches:
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        if not n:
            continue
        file_keys = table.column("_file").to_pylist()
        uniq = sorted(set(file_keys))
        info = {f: files[_local_key(f)] for f in uniq}
        index = pa.array([uniq.index(f) for f in file_keys], pa.int32()) if len(uniq) > 1 else None

        def per_file(values: list[Any], kind: pa.DataType, index: pa.Array | None = index, n: int = n) -> pa.Array:
            if index is None:
                return pa.repeat(pa.scalar(values[0], kind), n)
            return pa.array(values, kind).take(index)

        parts = per_file([info[f][0] for f in uniq], pa.string())
        hosts = per_file([info[f][1] for f in uniq], pa.string())
        sources = per_file([info[f][2] for f in uniq], pa.string())
        defaults = per_file([info[f][3] for f in uniq], pa.date32())
        ok = table.column("ok")
        columns = {c: table.column(c).cast(schema.field(c).type) for c in REQUEST_COLUMNS}
        columns["path"] = table.column("path")
        day = pc.if_else(pc.is_null(table.column("day")), defaults, table.column("day"))
        kinds = pa.repeat(pa.scalar(_KIND_PARSED, pa.int8()), n)
        samples = pa.nulls(n, pa.string())
        out = pa.table(
            {
                **columns,
                "host": hosts,
                "source_file": sources,
                "_part": parts,
                "_day": day,
                "_block": table.column("_block"),
                "_id": table.column("_id"),
                "_kind": kinds,
                "_sample": samples,
            },
            schema=schema,
        )
        if pc.all(ok).as_py():
            for f in uniq:
                parsed_any[f] = True
            days = out.column("_day")
            if fmt.has_date:
                for f in uniq:  # the last day of each file in this batch
                    last_day[f] = _last_of(days, file_keys, f)
            yield from out.to_batches()
            continue
        rows = out.to_pylist()
        lines = table.column("line").to_pylist()
        ok_list = ok.to_pylist()
        for i, row in enumerate(rows):
            f = file_keys[i]
            if ok_list[i]:
                parsed_any[f] = True
                if fmt.has_date and row["_day"] is not None and row["ts"] is not None:
                    last_day[f] = row["_day"]
                continue
            line = lines[i] or ""
            exact = None
            too_long = len(line) > MAX_LINE_BYTES // 4 and len(line.encode("utf-8", "replace")) > MAX_LINE_BYTES
            give_up = not parsed_any.get(f) and failed.get(f, 0) >= GIVE_UP_AFTER
            if not too_long and not give_up and "\x00" not in line:
                exact = fmt.parse_line(line)
            if exact is None:
                failed[f] = failed.get(f, 0) + 1
                row.update(dict.fromkeys(REQUEST_COLUMNS), path=None)
                row["_kind"] = _KIND_TOO_LONG if too_long else _KIND_UNPARSED
                row["_day"] = last_day.get(f) or info[f][3]
                sample = FileParse()
                sample.sample(f"[over the {MAX_LINE_BYTES >> 20} MiB line limit] {line}" if too_long else line)
                row["_sample"] = sample.samples[0]
                continue
            parsed_any[f] = True
            row.update(exact)
            row["path"] = strip_query(exact["url"]) if exact["url"] is not None else None
            ts = exact["ts"]
            row["_day"] = ts.astimezone(tz).date() if ts is not None else info[f][3]
            if ts is not None:
                last_day[f] = row["_day"]
        yield from pa.Table.from_pylist(rows, schema=schema).to_batches()


def _last_of(days: pa.ChunkedArray, file_keys: list[str], f: str) -> dt.date | None:
    for i in range(len(file_keys) - 1, -1, -1):
        if file_keys[i] == f and days[i].is_valid:
            value: dt.date = days[i].as_py()
            return value
    return None


def _stats_schema() -> pa.Schema:
    return pa.schema(
        [
            ("part", pa.string()),
            ("day", pa.date32()),
            ("parsed", pa.int64()),
            ("unparsed", pa.int64()),
            ("too_long", pa.int64()),
            ("sample_block", pa.list_(pa.int64())),
            ("sample_id", pa.list_(pa.int64())),
            ("samples", pa.list_(pa.string())),
        ]
    )


def _write_stage(batches: Iterator[pa.RecordBatch], staging: str, secrets: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Step 3 (one task holds every row of its (part, day) keys, in file order): the parsed
    rows written by the DuckDB pull's writer into the staging store; counts and samples out."""
    from opsreview.logs.access.source import _DayParts
    from opsreview.secrets import remember_secret
    from opsreview.store import Store

    for value in secrets:
        remember_secret(value)
    check_staging(staging)
    store = Store(staging)
    writers: dict[str, _DayParts] = {}
    stats: dict[tuple[str, dt.date], dict[str, Any]] = {}
    names = REQUESTS_SCHEMA.names
    try:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            if not table.num_rows:
                continue
            keys = pc.binary_join_element_wise(
                table.column("_part"), pc.cast(table.column("_day"), pa.string()), "\x1f"
            ).to_pylist()
            start = 0
            for i in range(1, len(keys) + 1):
                if i < len(keys) and keys[i] == keys[start]:
                    continue
                run = table.slice(start, i - start)
                part, _, day_text = keys[start].partition("\x1f")
                day = dt.date.fromisoformat(day_text)
                entry = stats.setdefault(
                    (part, day),
                    {"parsed": 0, "unparsed": 0, "too_long": 0, "sample_block": [], "sample_id": [], "samples": []},
                )
                kinds = run.column("_kind")
                good = run.filter(pc.equal(kinds, _KIND_PARSED))
                if good.num_rows:
                    writer = writers.get(part) or writers.setdefault(part, _DayParts(store, part))
                    writer.write(day, good.select(names).cast(REQUESTS_SCHEMA))
                    entry["parsed"] += good.num_rows
                bad = run.filter(pc.not_equal(kinds, _KIND_PARSED))
                if bad.num_rows:
                    entry["unparsed"] += bad.num_rows
                    entry["too_long"] += pc.sum(pc.equal(bad.column("_kind"), _KIND_TOO_LONG)).as_py() or 0
                    room = MAX_SAMPLES - len(entry["samples"])
                    if room > 0:
                        head = bad.slice(0, room)
                        entry["sample_block"] += head.column("_block").to_pylist()
                        entry["sample_id"] += head.column("_id").to_pylist()
                        entry["samples"] += head.column("_sample").to_pylist()
                start = i
        for writer in writers.values():
            writer.commit()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    rows = [{"part": part, "day": day, **values} for (part, day), values in stats.items()]
    yield from pa.Table.from_pylist(rows, schema=_stats_schema()).to_batches()


# -- driver side -------------------------------------------------------------------------------
def job_dataframe(
    params: Params, fmt: MorganFormat, jobs: Sequence[_FileJob], staging: str, secrets: Sequence[str]
) -> DataFrame:
    """The whole job as one lazy DataFrame of per-(part, day) counts (collect it to run it)."""
    from pyspark.sql import functions as F

    from opsreview import sparkengine
    from opsreview.logs.access.morgan import _ANSI

    spark = sparkengine.session(params.spark)
    raw = spark.read.text([j.uri for j in jobs]).select(
        F.col("value").alias("_raw"),
        F.input_file_name().alias("_file"),
        F.input_file_block_start().alias("_block"),
        F.monotonically_increasing_id().alias("_id"),
    )
    line = F.regexp_replace(F.col("_raw"), _ANSI.pattern, "") if fmt.strip_ansi else F.col("_raw")
    raw = raw.select("*", spark_groups(fmt, line).alias("_g"))
    columns, ok = spark_columns(fmt, F.col("_g"))
    tz_name = params.timezone
    parsed = raw.select(
        "_file",
        "_block",
        "_id",
        ok.alias("ok"),
        F.when(ok, F.lit(None)).otherwise(F.col("_raw")).alias("line"),
        *[F.when(ok, expr).alias(name) for name, expr in columns.items()],
    )
    parsed = parsed.withColumn("path", F.regexp_extract(F.col("url"), "^[^?#]*", 0)).withColumn(
        "day", F.to_date(F.from_utc_timestamp(F.col("ts"), tz_name))
    )
    parsed = parsed.withColumn("path", F.when(F.col("url").isNull(), F.lit(None)).otherwise(F.col("path")))
    files = {_local_key(j.uri): (j.part, j.host, j.path, j.default_day) for j in jobs}
    fmt_source = fmt.source
    schema = _stage_schema()

    def exact(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _exact_stage(batches, fmt_source, tz_name, files, secrets)

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _write_stage(batches, staging, secrets)

    staged = parsed.mapInArrow(exact, _spark_schema(schema))
    # a (file, day) per task; about one task per 256 MB of input, at least one per core
    size = sum(j.size for j in jobs)
    tasks = max(spark.sparkContext.defaultParallelism, -(-size // SHUFFLE_BYTES))
    grouped = staged.repartition(tasks, "_part", "_day").sortWithinPartitions("_part", "_day", "_block", "_id")
    return grouped.mapInArrow(write, _spark_schema(_stats_schema()))


def ingest_files(
    params: Params,
    store: Store,
    todo: Sequence[tuple[str, MorganFormat, LogFileInfo, str, str]],
) -> list[IngestedFile]:
    """Run one Spark job per (host, format) over ``todo`` ((host, format, file, format name,
    part key)) and publish its parts; raises when a job fails (nothing of it is published)."""
    from opsreview.logs.access.source import IngestedFile, _write_log_files
    from opsreview.logs.files import nominal_day

    tz = params.tz
    groups: dict[tuple[str, str], list[tuple[MorganFormat, LogFileInfo, str, str]]] = {}
    for host, fmt, info, fmt_name, part in todo:
        groups.setdefault((host, fmt.source), []).append((fmt, info, fmt_name, part))
    out: list[IngestedFile] = []
    secrets = _secret_values(params)
    for (host, _), items in groups.items():
        fmt = items[0][0]
        jobs = [
            _FileJob(str(info.path.resolve()), str(info.path), part, host, nominal_day(info, tz), info.size)
            for _, info, _, part in items
        ]
        staging = store.root / ".staging" / uuid.uuid4().hex
        started = time.monotonic()
        try:
            prepare_staging(staging)
            try:
                rows = job_dataframe(params, fmt, jobs, str(staging), secrets).toArrow().to_pylist()
            except SparkUnavailable:
                raise
            except Exception as exc:
                raise SourceError(
                    "access_logs", f"the Spark job over the access logs of {host} failed: {job_failure(exc)}"
                ) from exc
            results = _publish(store, staging, jobs, rows)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for job, (_, info, fmt_name, _) in zip(jobs, items, strict=True):
            result = results[job.part]
            result.samples = [masked(sample) for sample in result.samples]
            _write_log_files(store, info, host, fmt_name, job.part, result, tz)
            out.append(IngestedFile(info.path, host, job.part, info.fingerprint, result))
        log.info(
            "access logs of %s on Spark: %d files, %d lines, %d parsed in %.1f s",
            host,
            len(jobs),
            sum(r.lines for r in results.values()),
            sum(r.parsed for r in results.values()),
            time.monotonic() - started,
        )
    return out


def _publish(store: Store, staging: Path, jobs: Sequence[_FileJob], rows: list[dict[str, Any]]) -> dict[str, FileParse]:
    """Move the staged parts into the store (the job has succeeded); per part, its counts."""
    from opsreview.logs.access.source import REQUESTS

    results = {job.part: FileParse() for job in jobs}
    samples: dict[str, list[tuple[int, int, str]]] = {job.part: [] for job in jobs}
    for row in rows:
        result = results[row["part"]]
        unparsed = row["unparsed"]
        result.count(row["day"], row["parsed"], unparsed, too_long=row["too_long"])
        samples[row["part"]] += zip(row["sample_block"], row["sample_id"], row["samples"], strict=True)
    staged = Path(staging) / REQUESTS
    for job in jobs:
        result = results[job.part]
        result.samples = [text for _, _, text in sorted(samples[job.part])[:MAX_SAMPLES]]
        written = sorted(staged.glob(f"date=*/{job.part}.parquet"))
        days = [dt.date.fromisoformat(p.parent.name[5:]) for p in written]
        for path, day in zip(written, days, strict=True):
            target = store.day_dir(REQUESTS, day)
            target.mkdir(parents=True, exist_ok=True)
            os.replace(path, target / path.name)
        for day in store.days(REQUESTS):  # days this content no longer covers (a rewritten file)
            if day not in days:
                store.delete_part(REQUESTS, day, job.part)
    return results


def readable(info: LogFileInfo) -> bool:
    """Whether ``spark.read.text`` reads the file as the DuckDB pull does: gzip content only
    under a ``.gz`` name (Hadoop picks the codec by name; logrotate's gzip ``access.log.1``),
    and a name Spark takes as that one file and names back the same way
    (:func:`~opsreview.logs.spark_common.nameable`). The others run one task per file."""
    from opsreview.logs.files import is_gzip

    return nameable(info.path) and is_gzip(info.path) == info.path.name.endswith(".gz")


# -- one task per file (spark.parse: files; JSON-lines files always) --------------------------
def _file_task(
    batches: Iterator[pa.RecordBatch],
    todo: Sequence[tuple[str, Any, LogFileInfo, str, str]],
    staging: str,
    tz_name: str,
    secrets: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    """Executor side: each file of the task through the DuckDB pull's own ingest, one DuckDB
    thread per task core, into the staging store; its :class:`IngestedFile` back, pickled."""
    import pickle
    from zoneinfo import ZoneInfo

    from pyspark import TaskContext

    from opsreview.logs.access.source import ingest_access_file
    from opsreview.secrets import remember_secret
    from opsreview.store import Store

    task = TaskContext.get()
    os.environ["OPSREVIEW_DUCKDB_THREADS"] = str(task.cpus() if task is not None else 1)
    check_staging(staging)
    for value in secrets:
        remember_secret(value)
    store = Store(staging)
    for batch in batches:
        for index in batch.column("i").to_pylist():
            host, fmt, info, fmt_name, part = todo[index]
            done = ingest_access_file(store, info, host, fmt, fmt_name, ZoneInfo(tz_name), part)
            yield pa.record_batch(
                [pa.array([index], pa.int32()), pa.array([pickle.dumps(done)], pa.binary())], names=["i", "result"]
            )


def ingest_by_file(
    params: Params, store: Store, todo: Sequence[tuple[str, Any, LogFileInfo, str, str]]
) -> list[IngestedFile]:
    """Run one Spark task per file of ``todo`` ((host, format, file, format name, part key)):
    the DuckDB pull of that file, in the executor, into a staging store; publish every part
    once the job has succeeded (raises when it failed: nothing of it is published)."""
    import pickle

    from opsreview import sparkengine
    from opsreview.logs.access.source import LOG_FILES, REQUESTS

    if not todo:
        return []
    spark = sparkengine.session(params.spark)
    staging = store.root / ".staging" / uuid.uuid4().hex
    tz_name, secrets = params.timezone, _secret_values(params)
    order = sorted(range(len(todo)), key=lambda i: -todo[i][2].size)  # the biggest files first
    started = time.monotonic()
    try:
        prepare_staging(staging)
        staged = str(staging)
        rdd = spark.sparkContext.parallelize([(i,) for i in order], len(order))

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            return _file_task(batches, todo, staged, tz_name, secrets)

        try:
            rows = spark.createDataFrame(rdd, "i int").mapInArrow(run, "i int, result binary").toArrow().to_pylist()
        except SparkUnavailable:
            raise
        except Exception as exc:
            raise SourceError(
                "access_logs", f"the Spark job over {len(todo)} access-log files failed: {job_failure(exc)}"
            ) from exc
        done: dict[int, IngestedFile] = {r["i"]: pickle.loads(r["result"]) for r in rows}
        if sorted(done) != sorted(range(len(todo))):
            raise RuntimeError(f"the Spark job returned {len(done)} of {len(todo)} files")
        lost = [str(f[2].path) for f in todo if not list((staging / LOG_FILES).glob(f"date=*/{f[4]}.parquet"))]
        if lost:  # every ingested file has a log_files row: check before anything is moved
            raise SourceError("access_logs", f"the Spark job staged nothing for {', '.join(lost[:3])}")
        # requests first, log_files last: until its log_files row is replaced, a file reads as
        # not ingested with this content, and the next pull reads it again
        for table in (REQUESTS, LOG_FILES):
            for index in range(len(todo)):
                part = todo[index][4]
                days = set(publish_parts(store, staging, table, part))
                for day in store.days(table):  # days this content no longer covers (a rewritten file)
                    if day not in days:
                        store.delete_part(table, day, part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out = [done[i] for i in range(len(todo))]
    log.info(
        "access logs on Spark, one task per file: %d files, %d rows in %.1f s",
        len(out),
        sum(f.rows for f in out),
        time.monotonic() - started,
    )
    return out
