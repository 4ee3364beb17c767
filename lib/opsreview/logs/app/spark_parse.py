"""Application logs on Spark (``engine: spark``): the same parse, masking and parts as the DuckDB pull.

One job per ``logs.app`` source reads the files the pull would ingest with Spark's
``binaryFile`` source - one row per file, whole (Spark packs small files into one task, up to
128 MB) - and, in the executors
(``mapInArrow``), runs on each file's bytes the very parser of the DuckDB pull
(:func:`~opsreview.logs.app.parse.parse_app_log`, through
:class:`~opsreview.logs.files.LogReader`) and its writer
(:func:`~opsreview.logs.app.source.write_events`: `app_events` parts per local day, masked at
rest by :meth:`Store.write_part <opsreview.store.Store.write_part>`) into a staging store.
Only when the job has succeeded are the parts moved into the store (one ``os.replace`` per
part, :func:`~opsreview.logs.spark_common.publish_parts`) and the files' `log_files` rows
written, exactly as :func:`~opsreview.logs.app.source.ingest_app_file` writes them; a failed
job removes its staging folder and the store keeps what it had (the source fails, with a
finding, as for any exception of a source).

Why whole files and not ``spark.read.text``: an application-log event is not a line. A text
event is a header line and every continuation line after it (a stack trace), so the lines of
one event must meet in one task, in order; line-based splits of a file can cut an event from
its frames (and a JSON file's unparsed lines count on the day of the event before them, which
may lie in the previous split). One task per file keeps every event, and every count, the
pull's. And Spark reads the bytes only: the decoding is the pull's own - gzip recognised by
content, not by name (logrotate's gzip ``app.log.1``), a damaged gzip's good members kept
and the damage recorded with its offset in `log_files` (Hadoop's codec would fail the job or
read it differently), invalid UTF-8, CRLF, blank lines, NUL lines and lines over the 1 MiB
limit exactly as there - so every file Spark can hand over as bytes gets the pull's numbers.
The cost: a file is read whole into one task's memory, in the JVM and again in the Python
worker (the DuckDB pull holds a text file's lines at once too), so files over
:data:`MAX_FILE_BYTES` (256 MiB), and names Spark would take as a glob, cannot name or hands
back encoded otherwise (anything but letters, digits and ``. _ / + = @ , ~ -``, or a leading
``.`` or ``_``), stay on the DuckDB pull (:func:`readable`).

The store and the log files are folders the driver and the executors both see (local, or a
shared mount on a cluster), as for access logs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from opsreview.exceptions import SourceError
from opsreview.logs.spark_common import (
    check_staging,
    job_failure,
    local_key,
    nameable,
    publish_parts,
    secret_values,
    spark_schema,
    staging,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from opsreview.logs.files import LogFileInfo
    from opsreview.logs.params import AppLogSource
    from opsreview.params import Params
    from opsreview.store import Store

log = logging.getLogger("opsreview")

__all__ = ["MAX_FILE_BYTES", "ingest_files", "job_dataframe", "readable"]

# a file is held whole in the JVM and again in the Python worker: beyond this, the DuckDB pull
# (binaryFile's own limit, spark.sql.sources.binaryFile.maxLength, is 2 GiB; a 700 MB file
# already ran a default 1 GB executor out of heap)
MAX_FILE_BYTES = 256 << 20
_UNNAMEABLE = re.compile(r"[*?\[\]{}\\:]")
RESULT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # the file as the driver named it to Spark
        ("written", pa.int64()),
        ("event_days", pa.string()),  # JSON: ISO dates
        ("days", pa.string()),  # JSON: AppLogParse.days as records
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class _FileJob:
    """One file of the job: what Spark reads, and what its rows and parts carry."""

    spark_path: str  # absolute, resolved: what Spark is given (and gives back as a file: URI)
    path: str  # as the DuckDB pull stores it (source_file, log_files.path)
    part: str
    default_day: dt.date


def readable(info: LogFileInfo, params: Params | None = None) -> bool:
    """Whether the file goes to Spark: under ``binaryFile``'s size limit (lowered by the
    params' ``spark.conf`` ``spark.sql.sources.binaryFile.maxLength``, if set), and a name
    Hadoop reads as that one file (see the module docstring)."""
    limit = MAX_FILE_BYTES
    if params is not None:
        setting = str(params.spark.conf.get("spark.sql.sources.binaryFile.maxLength", "")).strip()
        limit = min(limit, int(setting)) if setting.isdigit() else limit
    name = str(info.path.resolve())
    return (
        info.size <= limit
        and not _UNNAMEABLE.search(name)
        and nameable(info.path)
        and not info.path.name.startswith((".", "_"))
    )


# -- executor side -----------------------------------------------------------------------------
def _parse_stage(
    batches: Iterator[pa.RecordBatch],
    fmt: str,
    host: str,
    tz: str,
    json_fields: Mapping[str, str],
    files: Mapping[str, tuple[str, str, dt.date]],
    staged: str,
    secrets: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    """One row per file: parsed by the DuckDB pull's parser, its `app_events` parts written
    into the staging store by the pull's writer; out: one result row per file."""
    from opsreview.logs.app.parse import parse_app_log
    from opsreview.logs.app.source import write_events  # also registers app_events' masking at rest
    from opsreview.secrets import remember_secret
    from opsreview.store import Store

    check_staging(staged)
    from pyspark import TaskContext

    task = TaskContext.get()  # the pull's DuckDB in this task: the task's cores, not the host's
    os.environ["OPSREVIEW_DUCKDB_THREADS"] = str(task.cpus() if task is not None else 1)
    for value in secrets:
        remember_secret(value)
    store = Store(staged)
    for batch in batches:
        uris = batch.column("path")
        contents = batch.column("content")
        rows = []
        for i in range(batch.num_rows):
            key = local_key(uris[i].as_py())
            path, part, default_day = files[key]
            data = contents[i].as_py()
            parsed = parse_app_log(Path(path), fmt, host, tz, default_day, json_fields, data=data)
            del data
            written, event_days = write_events(store, parsed, part)
            days = [
                {**row, "day": row["day"].isoformat(), "samples": list(row["samples"])}
                for row in parsed.days.to_dict("records")
            ]
            rows.append(
                {
                    "path": key,
                    "written": written,
                    "event_days": json.dumps(sorted(d.isoformat() for d in event_days)),
                    "days": json.dumps(days, default=int),
                    "error": parsed.error,
                }
            )
        yield from pa.Table.from_pylist(rows, schema=RESULT_SCHEMA).to_batches()


# -- driver side -------------------------------------------------------------------------------
def job_dataframe(
    params: Params, source: AppLogSource, jobs: Sequence[_FileJob], staged: str, secrets: Sequence[str]
) -> DataFrame:
    """The whole job as one lazy DataFrame of per-file results (collect it to run it)."""
    from opsreview import sparkengine

    spark = sparkengine.session(params.spark)
    raw = spark.read.format("binaryFile").load([j.spark_path for j in jobs]).select("path", "content")
    files = {j.spark_path: (j.path, j.part, j.default_day) for j in jobs}
    fmt, host, tz, fields = source.format, source.host, params.timezone, dict(source.json_fields)

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _parse_stage(batches, fmt, host, tz, fields, files, staged, secrets)

    return raw.mapInArrow(parse, spark_schema(RESULT_SCHEMA))


def ingest_files(params: Params, store: Store, source: AppLogSource, todo: Sequence[tuple[LogFileInfo, str]]) -> int:
    """Ingest ``todo`` ((file, part key)) of ``source`` in one Spark job and publish it;
    returns the events written. Raises when the job fails (nothing of it is published)."""
    from opsreview.logs.app.source import APP_EVENTS, check_json_fields, ingest_app_file, record_file
    from opsreview.logs.files import nominal_day
    from opsreview.sparkengine import SparkUnavailable

    if not todo:
        return 0
    check_json_fields(source)
    tz = ZoneInfo(params.timezone)
    seen: set[str] = set()
    again: list[tuple[LogFileInfo, str]] = []
    for info, part in todo:
        name = str(info.path.resolve())
        if name in seen:
            again.append((info, part))
        seen.add(name)
    todo = [t for t in todo if t not in again]  # a second name of one file (a symlink): read by the pull, below
    jobs = [_FileJob(str(info.path.resolve()), str(info.path), part, nominal_day(info, tz)) for info, part in todo]
    started = time.monotonic()
    written = 0
    with staging(store) as staged:
        try:
            results = job_dataframe(params, source, jobs, str(staged), secret_values(params)).toArrow().to_pylist()
        except SparkUnavailable:
            raise  # its message is clear already
        except Exception as exc:
            raise SourceError(
                "app_logs", f"the Spark job over the application logs of {source.host} failed: {job_failure(exc)}"
            ) from exc
        by_path = {row["path"]: row for row in results}
        missing = [j.path for j in jobs if j.spark_path not in by_path]
        if missing or len(results) != len(jobs):
            raise SourceError("app_logs", f"Spark did not read every file of {source.host}: {', '.join(missing)}")
        for job, (info, _) in zip(jobs, todo, strict=True):
            row = by_path[job.spark_path]
            publish_parts(store, staged, APP_EVENTS, job.part)
            days = pd.DataFrame(
                [{**d, "day": dt.date.fromisoformat(d["day"])} for d in json.loads(row["days"])],
                columns=["day", "lines", "parsed", "unparsed", "too_long", "samples"],
            )
            event_days = {dt.date.fromisoformat(d) for d in json.loads(row["event_days"])}
            record_file(store, source, info, job.part, days, row["error"], event_days, job.default_day)
            written += int(row["written"])
    for info, part in again:
        written += ingest_app_file(store, source, info, params.timezone, part=part)
    log.info(
        "application logs of %s on Spark: %d files, %d events in %.1f s",
        source.host,
        len(jobs),
        written,
        time.monotonic() - started,
    )
    return written
