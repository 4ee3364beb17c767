"""The store: date-partitioned Parquet files, queried with DuckDB.

Layout: ``<root>/<table>/date=YYYY-MM-DD/<part>.parquet``. A *part* is one provenance unit
(one source file, one probe round, ...). Writing a part replaces it atomically (temporary
file + ``os.replace``), so re-ingesting the same input never duplicates rows and a killed
write never leaves a half file behind. Readers see whole parts only.

Nothing secret is written: every part is masked first (:func:`opsreview.masking.mask_for_rest`)
and marked so in its footer. :meth:`Store.remask_old_parts` re-masks the parts of a store
written before that (the pull of each source calls it for its tables).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from opsreview import engine, masking

log = logging.getLogger("opsreview")

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
REMASK_BATCH_ROWS = 1 << 18  # an old part is re-masked a slice at a time (a 10M-line part fits in memory)


def part_key(*provenance: str) -> str:
    """A short, filesystem-safe, stable key for a provenance tuple (file path, host, ...)."""
    readable = _SAFE.sub("_", provenance[-1].rsplit("/", 1)[-1])[:40] if provenance else "part"
    digest = hashlib.sha1("\0".join(provenance).encode()).hexdigest()[:12]
    return f"{readable}-{digest}"


class Store:
    """A folder of date-partitioned tables."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def day_dir(self, table: str, day: dt.date) -> Path:
        return self.root / table / f"date={day.isoformat()}"

    def write_part(self, table: str, day: dt.date, part: str, data: pd.DataFrame | pa.Table) -> Path:
        """Write (or replace) one part of one day atomically, its secrets masked."""
        table_ = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        table_ = masking.mask_for_rest(table, table_)
        return self._replace_part(table, day, part, lambda tmp: pq.write_table(table_, tmp, compression="zstd"))

    def _replace_part(self, table: str, day: dt.date, part: str, write: Callable[[str], None]) -> Path:
        """``write`` the part into a hidden temporary file, then move it into place."""
        target_dir = self.day_dir(table, day)
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=target_dir)
        os.fchmod(fd, 0o644)
        os.close(fd)
        try:
            write(tmp)
            target = target_dir / f"{part}.parquet"
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def remask_old_parts(self, table: str) -> int:
        """Mask the parts of ``table`` written before secrets were masked at rest (or by an older
        masking); returns how many were rewritten. A part that cannot be read is named in a
        warning and kept as it is. Once every part is masked, a ``.masked`` file in the table's
        folder spares later pulls the look at every footer."""
        folder = self.root / table
        marker = folder / ".masked"
        try:
            done = int(marker.read_text(encoding="utf-8").strip() or 0) >= masking.MASKING_VERSION
        except (OSError, ValueError):
            done = False
        if done or not folder.is_dir():
            return 0
        rewritten = unreadable = 0
        for day in self.days(table):
            for path in self.parts(table, day):
                try:
                    if masking.masking_version(pq.read_schema(path).metadata) >= masking.MASKING_VERSION:
                        continue
                    self._replace_part(table, day, path.stem, functools.partial(self._remask, table, path))
                except (OSError, pa.ArrowException) as exc:
                    log.warning("%s: cannot read it to mask the secrets it may hold (%s); kept as it is", path, exc)
                    unreadable += 1
                    continue
                rewritten += 1
        if rewritten:
            log.warning("re-masked %d part(s) of %s written before secrets were masked at rest", rewritten, table)
        if not unreadable:
            try:
                marker.write_text(f"{masking.MASKING_VERSION}\n", encoding="utf-8")
            except OSError as exc:  # the next pull looks at the footers again
                log.info("%s: not written (%s)", marker, exc.strerror)
        return rewritten

    @staticmethod
    def _remask(table: str, path: Path, target: str) -> None:
        """Write ``path`` masked into ``target``, a slice of rows at a time."""
        source = pq.ParquetFile(path)
        writer: pq.ParquetWriter | None = None
        try:
            for batch in source.iter_batches(batch_size=REMASK_BATCH_ROWS):
                masked = masking.mask_for_rest(table, pa.Table.from_batches([batch]))
                writer = writer or pq.ParquetWriter(target, masked.schema, compression="zstd")
                writer.write_table(masked)
            if writer is None:  # a part without rows
                pq.write_table(masking.mask_for_rest(table, source.schema_arrow.empty_table()), target)
        finally:
            if writer is not None:
                writer.close()

    def delete_part(self, table: str, day: dt.date, part: str) -> None:
        (self.day_dir(table, day) / f"{part}.parquet").unlink(missing_ok=True)

    def parts(self, table: str, day: dt.date) -> list[Path]:
        folder = self.day_dir(table, day)
        return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.is_dir() else []

    def days(self, table: str) -> list[dt.date]:
        folder = self.root / table
        if not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            if child.name.startswith("date=") and self.parts(table, dt.date.fromisoformat(child.name[5:])):
                found.append(dt.date.fromisoformat(child.name[5:]))
        return sorted(found)

    def count_rows(self, table: str, day: dt.date) -> int:
        """Rows of a table for one day, from the Parquet footers (no data is read)."""
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts(table, day))

    def files(self, table: str, days: Iterable[dt.date]) -> list[Path]:
        return [p for day in sorted(set(days)) for p in self.parts(table, day)]

    def relation(
        self,
        table: str,
        days: Iterable[dt.date],
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> duckdb.DuckDBPyRelation | None:
        """A lazy DuckDB relation over the given days (None when there is no data).

        Nothing is loaded until the relation is filtered/aggregated and fetched, so a
        notebook can drill into a day without reading the whole store into memory.
        """
        files = self.files(table, days)
        if not files:
            return None
        con = con or engine.connect()
        paths = [str(p) for p in files]
        return con.read_parquet(paths, union_by_name=True)

    def read(self, table: str, days: Iterable[dt.date], columns: list[str] | None = None) -> pd.DataFrame:
        rel = self.relation(table, days)
        if rel is None:
            return pd.DataFrame(columns=columns or [])
        if columns:
            rel = rel.select(*columns)
        return rel.df()
