"""The store tables of the backups area: names and Arrow schemas (the contract between the
source, the demo and the review).

Every table is written under the review day it was pulled for (one part per source): it is the
state of the backups as read that day (an inventory, not a log), so a review re-run reads the
same answer. Times are UTC. Nothing here holds a document, a hash or a connection string: the
drills keep whether a hash matched, not the hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()

# One row per backup, whatever told of it (an archive file, PBM, the team's manifest).
INVENTORY = "backup_inventory"
INVENTORY_SCHEMA = pa.schema(
    [
        ("ts", TS),  # when it was read
        ("name", _S),  # file name, PBM backup name, manifest name
        ("kind", _S),  # archive | pbm | manifest
        ("source", _S),  # the folder, pbm, the manifest file
        ("location", _S),  # the file's path (archives), the manifest's location
        ("started_at", TS),
        ("finished_at", TS),
        ("size_bytes", _I),
        ("ok", _B),
        ("status", _S),  # ok | truncated | corrupt | unreadable | failed | running | not_read (deadline)
        ("error", _S),
        ("server_version", _S),
        ("tool_version", _S),
        ("backup_type", _S),  # pbm: logical | physical | incremental; archive: gzip | plain
        ("collections", pa.list_(_S)),  # "db.coll" the backup holds (archive prelude, manifest)
        ("documents", _I),  # documents counted in the body (archives scanned)
        ("unfinished", pa.list_(_S)),  # archives: collections without their end-of-data marker
    ]
)

# One row per input read (a file, a folder, a command): what was read and how it went.
READS = "backup_reads"
READS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("source", _S),  # archives | pbm | manifests | drills
        ("location", _S),
        ("status", _S),  # ok | missing | unreadable | bad_entry | ignored | error | not_read
        ("detail", _S),
        ("rows", _I),
        ("bytes_read", _I),
    ]
)

# One row per collection of a restore drill (a drill without collections: one row, ns None).
DRILLS = "backup_drills"
DRILLS_SCHEMA = pa.schema(
    [
        ("ts", TS),  # when the drill ran
        ("drill", _S),  # a stable id: file name and index
        ("backup", _S),
        ("target", _S),
        ("ok", _B),  # what the drill recorded
        ("error", _S),
        ("ns", _S),
        ("source_count", _I),
        ("restored_count", _I),
        ("hash_match", _B),  # None: no dbHash on either side
        ("location", _S),
    ]
)

# PBM: agents (one row per node), the PITR status, and the PITR chunk ranges.
PBM = "backup_pbm"
PBM_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("kind", _S),  # node | pitr | pitr_range
        ("rs", _S),
        ("host", _S),
        ("role", _S),
        ("agent", _S),
        ("ok", _B),
        ("errors", _S),  # node errors / the PITR error / the range's error
        ("start", TS),  # pitr_range
        ("end", TS),
        ("no_base_snapshot", _B),
        ("enabled", _B),  # pitr: in the config
        ("running", _B),  # pitr: slicing now
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    INVENTORY: INVENTORY_SCHEMA,
    READS: READS_SCHEMA,
    DRILLS: DRILLS_SCHEMA,
    PBM: PBM_SCHEMA,
}


def to_arrow(table: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as an Arrow table of the table's schema; missing keys are nulls."""
    schema = SCHEMAS[table]
    rows = list(rows)
    return pa.Table.from_pydict({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


def empty_frame(table: str) -> pd.DataFrame:
    return SCHEMAS[table].empty_table().to_pandas()


def frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame of the table's columns (times tz-aware UTC)."""
    df = to_arrow(table, rows).to_pandas()
    for f in SCHEMAS[table]:
        if f.type == TS:
            df[f.name] = pd.to_datetime(df[f.name], utc=True)
    return df
