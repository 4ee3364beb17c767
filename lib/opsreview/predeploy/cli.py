"""`opsreview predeploy`: the pre-deployment go/no-go of a params file.

Prints GO or NO-GO with one line per check, writes ``predeploy.json`` and a page under
``<outputs>/predeploy/<UTC timestamp>/`` (or ``--out``) and ``latest.json``. Exit codes: 0 GO;
1 NO-GO; 2 bad params or usage (one line, nothing written).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predeploy", help="pre-deployment go/no-go against predeploy.base_url (exit 0 GO, 1 NO-GO)"
    )
    parser.add_argument("--params", required=True, help="params YAML file (its predeploy section)")
    parser.add_argument("--out", help="folder of the predeploy reports (default: <outputs>/predeploy)")
    parser.set_defaults(func=cmd_predeploy)


def cmd_predeploy(args: argparse.Namespace) -> int:
    # Imported here: every `opsreview` command registers this one, and the gate's imports are not free.
    from opsreview.params import load_params
    from opsreview.predeploy.gate import run_predeploy
    from opsreview.predeploy.report import FOLDER, format_result, write_report

    params = load_params(args.params)
    result = run_predeploy(params)
    root = Path(args.out) if args.out else params.outputs / FOLDER
    print(format_result(result), flush=True)  # the verdict first: an unwritable outputs folder must not hide it
    folder = write_report(result, root)
    print(f"report: {folder / 'predeploy.html'}", flush=True)
    return result.exit_code
