"""Sources `database` (snapshots: live and from files) and `database_logs` (slow queries from
structured log files), pulled into the tables of :mod:`opsreview.database.models`.

Snapshots are JSON files (:mod:`.snapshot`), one per look at the server, in a folder
(``database.snapshot_dir``, default ``<store>/../database-snapshots``): `opsreview database
snapshot` (cron, every 15 minutes) and the pull itself (when ``database.uri`` is set) add to
it, the demo writes into it. The pull flattens the files of the review day, the day after it
(the state after the day: a daily cron runs the morning after) and the baseline days into
one part per table and day (``snapshots``), rewritten each pull, so a re-run never duplicates.

Slow-query logs are read whole, one part per file and day (``<file key>``); a file whose size
and modification time did not change since the last pull is not read again (``_files.json``
in the table's folder remembers them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from opsreview.context import ReviewContext
from opsreview.database import models
from opsreview.database.params import DatabaseParams
from opsreview.exceptions import SourceError
from opsreview.findings import Finding, Severity
from opsreview.masking import AtRest, mask_at_rest, masked
from opsreview.params import Params
from opsreview.secrets import redact
from opsreview.sources import SourceResult, input_files, register_source
from opsreview.store import Store, part_key

log = logging.getLogger("opsreview")

SNAPSHOT_PART = "snapshots"
FILES_STATE = "_files.json"
for _table in models.SCHEMAS:
    mask_at_rest(_table, AtRest())  # every text column masked before it is written


def snapshot_folder(params: Params) -> Path:
    folder = params.database.snapshot_dir
    return folder if folder is not None else params.store.parent / "database-snapshots"


def pull_days(ctx: ReviewContext) -> list[dt.date]:
    """The days a pull (re)writes: the baseline, the review day and the day after it."""
    return [*ctx.baseline_days, ctx.day, ctx.day + dt.timedelta(days=1)]


def _local_day(ts: dt.datetime, tz: ZoneInfo) -> dt.date:
    return ts.astimezone(tz).date()


def ingest_snapshots(store: Store, folder: Path, days: Iterable[dt.date], tz: ZoneInfo) -> tuple[int, list[str]]:
    """Flatten the snapshot files of ``days`` into the store; returns the db_server rows written
    and the inputs that could not be used (unreadable, not a snapshot, or a value of the wrong
    type: each named, the others still ingested)."""
    from opsreview.database.snapshot import flatten, read_snapshots

    days = sorted(set(days))
    skipped: list[Path] = []
    bad: list[str] = []
    rows: dict[str, dict[dt.date, list[dict[str, object]]]] = defaultdict(lambda: defaultdict(list))
    for snapshot in read_snapshots(folder, set(days), tz, skipped=skipped):
        try:
            tables = flatten(snapshot)
            for table, table_rows in tables.items():
                models.to_arrow(table, table_rows)  # a value of the wrong type fails here, for this file only
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError, pa.ArrowException) as exc:
            name = f"{snapshot.get('ts', '?')} {snapshot.get('host', '?')}"
            reason = masked(redact(str(exc)))[:160]
            log.warning("database snapshot %s skipped: %s", name, reason)
            bad.append(f"snapshot {name}: {reason}")
            continue
        for table, table_rows in tables.items():
            for row in table_rows:
                ts = row["ts"]
                if isinstance(ts, dt.datetime):
                    rows[table][_local_day(ts, tz)].append(row)
    written = 0
    for table in (*models.SNAPSHOT_TABLES, models.SLOW_QUERIES):
        for day in days:
            day_rows = rows.get(table, {}).get(day, [])
            if day_rows:
                store.write_part(table, day, SNAPSHOT_PART, models.to_arrow(table, day_rows))
                if table == models.SERVER:
                    written += len(day_rows)
            else:
                store.delete_part(table, day, SNAPSHOT_PART)  # the files of that day are gone
    return written, [f"file {p}: not a readable snapshot" for p in skipped] + bad


def _unusable_finding(source: str, problems: list[str]) -> Finding:
    return Finding(
        "database",
        "database.collector_error",
        Severity.warning,
        f"{len(problems)} {source} input(s) could not be used: {problems[0]}" + (" …" if len(problems) > 1 else ""),
        len(problems),
        0,
        {"inputs": problems[:20]},
        subject=source,
    )


def collect_live(params: Params, folder: Path) -> list[Path]:
    """Take a live snapshot (two looks ``rate_interval_s`` apart) and write it to ``folder``."""
    from opsreview.database.collector import take_snapshot
    from opsreview.database.snapshot import write_snapshot

    return [write_snapshot(folder, snapshot) for snapshot in take_snapshot(params.database, lock_dir=folder)]


@register_source(
    "database", area="database", table=models.SERVER, configured=lambda p: _snapshots_configured(p.database)
)
def pull_database(ctx: ReviewContext) -> SourceResult:
    params = ctx.params
    folder = snapshot_folder(params)
    live_error: str | None = None
    if params.database.uri is not None:
        try:
            collect_live(params, folder)
        except SourceError as exc:  # the snapshots cron already took are still reviewed
            live_error = masked(redact(str(exc)))
    if not folder.is_dir():
        raise SourceError("database", live_error or f"snapshot folder {folder} does not exist (database.snapshot_dir)")
    for table in models.SCHEMAS:
        ctx.store.remask_old_parts(table)
    written, problems = ingest_snapshots(ctx.store, folder, pull_days(ctx), params.tz)
    result = SourceResult("database", rows=written)
    if problems:
        result.findings.append(_unusable_finding("snapshot", problems))
    if live_error is not None:
        result.status, result.error = "failed", live_error
        result.findings.append(
            Finding(
                "database",
                "database.source_failed",
                Severity.critical,
                f"Source database failed: {live_error} (the snapshots already taken were still read)",
                evidence={"source": "database", "folder": str(folder)},
                subject="database",
            )
        )
    return result


def _snapshots_configured(database: DatabaseParams) -> bool:
    return database.uri is not None or database.snapshot_dir is not None


def _state(store: Store) -> tuple[Path, dict[str, list[float]]]:
    path = store.root / models.SLOW_QUERIES / FILES_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        state = {}
    return path, state if isinstance(state, dict) else {}


def ingest_log_file(store: Store, path: Path, host: str, tz: ZoneInfo) -> int:
    """Read one structured log file into per-day parts; returns the slow-query rows written."""
    from opsreview.database.slowlog import read_log_file

    table, read = read_log_file(path, host)
    key = part_key(host, str(path))
    if table.num_rows:
        by_day: dict[dt.date, list[int]] = defaultdict(list)
        for index, ts in enumerate(table["ts"].to_pylist()):
            if isinstance(ts, dt.datetime):  # a line without a time cannot be given a day
                by_day[_local_day(ts, tz)].append(index)
        for day, indices in by_day.items():
            store.write_part(models.SLOW_QUERIES, day, key, table.take(pa.array(indices)))
    read_day = _local_day(read["ts"], tz) if isinstance(read.get("ts"), dt.datetime) else dt.datetime.now(tz).date()
    store.write_part(models.LOG_READS, read_day, key, models.to_arrow(models.LOG_READS, [read]))
    return table.num_rows


@register_source(
    "database_logs", area="database", table=models.SLOW_QUERIES, configured=lambda p: bool(p.database.log_files)
)
def pull_database_logs(ctx: ReviewContext) -> SourceResult:
    params = ctx.params
    base = params.source_file.parent
    state_path, state = _state(ctx.store)
    rows = 0
    problems: list[str] = []
    for table in (models.SLOW_QUERIES, models.LOG_READS):
        ctx.store.remask_old_parts(table)
    for source in params.database.log_files:
        for path in input_files(source.paths, base, "database_logs", "database.log_files", "log path "):
            stat = path.stat()
            signature = [stat.st_size, stat.st_mtime]
            if state.get(str(path)) == signature:
                continue
            try:
                rows += ingest_log_file(ctx.store, path, source.host, params.tz)
            except (SourceError, ValueError, OSError, pa.ArrowException, duckdb.Error) as exc:
                # one damaged file is named; the other files are still read
                problems.append(f"{path}: {masked(redact(str(exc)))[:200]}")
                continue
            state[str(path)] = signature
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    result = SourceResult("database_logs", rows=rows)
    if problems:
        result.findings.append(_unusable_finding("log file", problems))
    return result
