"""`opsreview database`: take a snapshot of the MongoDB under review (cron, every 15 minutes),
or read structured log files into query shapes (mloginfo --queries for 4.4+ JSON logs).

    opsreview database snapshot --params P          # one snapshot into database.snapshot_dir
    opsreview database shapes mongod.log [...]      # slow-query shapes of log files, by total time

Exit codes: 0 done; 2 bad params or usage; 3 the server could not be read (a snapshot with
some commands refused is still written, and exits 0: the review reports them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from opsreview.exceptions import UsageError
from opsreview.params import load_params
from opsreview.secrets import redact

_SHAPE_COLUMNS = (
    "ns",
    "op",
    "count",
    "total_ms",
    "mean_ms",
    "p95_ms",
    "max_ms",
    "docs_per_returned",
    "plan_summary",
    "shape",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "database", help="MongoDB: take a snapshot (cron) or read log files into query shapes"
    )
    sub = parser.add_subparsers(dest="database_command", required=True)
    snap = sub.add_parser(
        "snapshot", help="take one snapshot of database.uri into database.snapshot_dir (cron: every 15 min)"
    )
    snap.add_argument("--params", required=True, help="params YAML file")
    snap.set_defaults(func=cmd_snapshot)
    shapes = sub.add_parser("shapes", help="slow-query shapes of MongoDB 4.4+ structured log files (plain or .gz)")
    shapes.add_argument("files", nargs="+", help="log files")
    shapes.add_argument("--top", type=int, default=20, help="shapes shown (by total time)")
    shapes.add_argument("--json", action="store_true", help="one JSON object per shape")
    shapes.set_defaults(func=cmd_shapes)


def cmd_snapshot(args: argparse.Namespace) -> int:
    from opsreview.database.source import collect_live, snapshot_folder

    params = load_params(args.params)
    if params.database.uri is None:
        raise UsageError(f"{args.params}: database.uri is not set (a ${{ENV}} reference to the connection string)")
    written = collect_live(params, snapshot_folder(params))
    for path in written:
        print(path)
    return 0


def shape_report(files: list[Path]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The shapes of the slow operations in ``files`` and what was read from each file."""
    import pyarrow as pa

    from opsreview import engine
    from opsreview.database.shapes import shape_table
    from opsreview.database.slowlog import read_log_file

    tables, reads = [], []
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        table, read = read_log_file(path, host=path.name)
        tables.append(table)
        reads.append(read)
    combined = pa.concat_tables(tables) if tables else None
    if combined is None or combined.num_rows == 0:
        return pd.DataFrame(columns=list(_SHAPE_COLUMNS)), reads
    con = engine.connect()
    return shape_table(con.from_arrow(combined)), reads


def cmd_shapes(args: argparse.Namespace) -> int:
    shapes, reads = shape_report([Path(f) for f in args.files])
    top = shapes.head(args.top)
    if args.json:
        for row in top.to_dict("records"):
            print(redact(json.dumps({k: row[k] for k in _SHAPE_COLUMNS if k in row}, default=str)))
    else:
        with pd.option_context("display.width", 200, "display.max_colwidth", 80, "display.max_columns", 20):
            print(redact(top[[c for c in _SHAPE_COLUMNS if c in top.columns]].round(1).to_string(index=False)))
    for read in reads:
        print(
            f"{read['path']}: {read['lines']} lines, {read['slow_queries']} slow operations, "
            f"{read['non_json']} not JSON, {read['truncated']} truncated",
            file=sys.stderr,
        )
    return 0
