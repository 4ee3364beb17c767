"""Source `probes`: probe results in the store - appended by `opsreview probe`, read by reviews.

Append layout (cron runs a round every minute, so writes are small and frequent):

- each round appends its rows as JSON lines to a spool file of its local day,
  ``<store>/probe_results/_spool/YYYY-MM-DD.jsonl``, under an exclusive ``flock`` of ``_spool/.lock``
  (one ``write`` per round; a round killed mid-write leaves at most one bad line, skipped
  with a warning when read);
- *compaction* merges a day's spool into that day's Parquet part ``probe``
  (``<store>/probe_results/date=YYYY-MM-DD/probe.parquet``, replaced atomically, rows
  de-duplicated on time, probe, check and source) and then removes the spool. `opsreview
  probe` compacts every earlier day after each round; the review's source pull compacts the
  review day and its history, so a review re-run reads Parquet only.
- other writers use their own parts of the same day: ``prometheus`` (the ``prometheus``
  source, when ``probes.prometheus`` is set) and ``demo`` (the demo generator).

Readers (:func:`load_probe_results`) take every Parquet part of the days asked for plus any
spool not compacted yet, so a notebook opened in the middle of the day sees the latest round.

A result's ``detail`` may quote what a server answered (a token, a stack): it is masked
(:func:`opsreview.masking.masked`) before it is spooled, and the store masks every part again
when it writes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from opsreview.context import ReviewContext
from opsreview.exceptions import SourceError
from opsreview.masking import AtRest, mask_at_rest, masked
from opsreview.probes.models import TABLE, ProbeResult, empty_frame, normalise_frame, to_arrow
from opsreview.sources import SourceResult, register_source
from opsreview.store import Store

log = logging.getLogger("opsreview")

SPOOL_DIR = "_spool"
PROBE_PART = "probe"
PROMETHEUS_PART = "prometheus"  # written by opsreview.probes.prometheus
HISTORY_DAYS = 30  # uptime is reported for the day and the last 7 and 30 days
_KEY = ["ts", "probe", "check", "source"]
mask_at_rest(TABLE, AtRest())  # every text column (detail above all) masked before it is written


def spool_path(store: Store, day: dt.date) -> Path:
    return store.root / TABLE / SPOOL_DIR / f"{day.isoformat()}.jsonl"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One lock for the whole spool folder (appends and compactions are short)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_results(store: Store, results: Iterable[ProbeResult], tz: ZoneInfo) -> list[Path]:
    """Append a round's results to the spool of their local day(s); returns the files written."""
    by_day: dict[dt.date, list[str]] = {}
    for result in results:
        day = result.ts.astimezone(tz).date()
        row = result.to_json()
        row["detail"] = masked(str(row["detail"]))
        by_day.setdefault(day, []).append(json.dumps(row, separators=(",", ":")))
    written = []
    for day, lines in sorted(by_day.items()):
        path = spool_path(store, day)
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            with _locked(path):
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + data  # a round killed mid-write: keep its torn line apart
                    os.write(fd, data)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise SourceError("probes", f"cannot append to {path}: {exc.strerror or exc}") from exc
        written.append(path)
    return written


def read_spool(path: Path) -> pd.DataFrame:
    """The rows of one spool file; a torn or corrupt line is skipped with a warning."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return empty_frame()
    lines = text.split("\n")
    if lines[-1]:
        # No newline yet: a round being written right now (or one killed mid-write).
        log.debug("probe spool %s: last line incomplete; left for the next read", path)
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "ts" not in row:
                raise ValueError("not a result row")
            rows.append(row)
        except ValueError:
            log.warning("probe spool %s line %d is not a result row; skipped", path, number)
    return normalise_frame(pd.DataFrame(rows)) if rows else empty_frame()


def compact_day(store: Store, day: dt.date) -> int:
    """Merge the day's spool into its ``probe`` part; returns the rows of that part."""
    path = spool_path(store, day)
    if not path.exists():
        return 0
    with _locked(path):
        spooled = read_spool(path)
        part = store.day_dir(TABLE, day) / f"{PROBE_PART}.parquet"
        frames = [spooled]
        if part.exists():
            frames.insert(0, normalise_frame(pd.read_parquet(part)))
        merged = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
        if merged is not None:
            merged = merged.drop_duplicates(subset=_KEY, keep="last").sort_values(["ts", "probe", "check"])
            store.write_part(TABLE, day, PROBE_PART, to_arrow(merged))
        path.unlink()
        return 0 if merged is None else len(merged)


def spooled_days(store: Store) -> list[dt.date]:
    folder = store.root / TABLE / SPOOL_DIR
    days = []
    for path in folder.glob("*.jsonl") if folder.is_dir() else []:
        with contextlib.suppress(ValueError):
            days.append(dt.date.fromisoformat(path.stem))
    return sorted(days)


def compact_pending(store: Store, before: dt.date) -> list[dt.date]:
    """Compact every spooled day earlier than ``before`` (the current local day)."""
    done = []
    for day in spooled_days(store):
        if day < before:
            compact_day(store, day)
            done.append(day)
    return done


def load_probe_results(store: Store, days: Iterable[dt.date], checks: Sequence[str] | None = None) -> pd.DataFrame:
    """All results of the given days (only ``checks``, if given): every Parquet part plus any
    uncompacted spool. The check filter runs in DuckDB, so a 30-day uptime history does not
    load a month of security-check rows."""
    days = sorted(set(days))
    frames = []
    relation = store.relation(TABLE, days)
    if relation is not None:
        if checks is not None:
            relation = relation.filter(duckdb.ColumnExpression("check").isin(*map(duckdb.ConstantExpression, checks)))
        frames.append(normalise_frame(relation.df()))
    for day in days:
        path = spool_path(store, day)
        if path.exists():
            spooled = read_spool(path)
            frames.append(spooled if checks is None else spooled[spooled["check"].isin(list(checks))])
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame()
    df = pd.concat(frames, ignore_index=True).drop_duplicates(subset=_KEY, keep="last")
    return df.sort_values(["ts", "probe", "check"], kind="stable").reset_index(drop=True)


def history_days(day: dt.date, n: int = HISTORY_DAYS) -> list[dt.date]:
    return [day - dt.timedelta(days=i) for i in range(n - 1, -1, -1)]


def part_rows(store: Store, day: dt.date, part: str) -> int:
    """Rows of one Parquet part of the day, from its footer (0 when there is none)."""
    path = store.day_dir(TABLE, day) / f"{part}.parquet"
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else 0


@register_source("probes", "probes")
def pull_probe_results(ctx: ReviewContext) -> SourceResult:
    """Compact the spools of the review day and its history. Its rows are the day's results of
    `opsreview probe` (and of the demo); Prometheus is a source of its own (``prometheus``), so
    that one failing never hides the other's rows."""
    store = ctx.store
    ctx.params.mask_referenced_secrets()  # what a ${ENV} of the params resolves to is masked at rest too
    store.remask_old_parts(TABLE)  # parts written before secrets were masked at rest
    wanted = set(history_days(ctx.day))
    for day in spooled_days(store):
        if day in wanted:
            compact_day(store, day)
    others = [p.stem for p in store.parts(TABLE, ctx.day) if p.stem != PROMETHEUS_PART]
    rows = sum(part_rows(store, ctx.day, part) for part in others)
    if spool_path(store, ctx.day).exists():  # the review day is today: a round may have spooled since
        rows += len(read_spool(spool_path(store, ctx.day)))
    if rows or ctx.params.probes.targets:
        return SourceResult("probes", rows=rows)
    return SourceResult("probes", status="skipped", error="no probe targets (probes.targets) and no results of the day")
