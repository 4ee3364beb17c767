"""`opsreview probe`: run the probes of a params file and append the results to the store.

Meant for cron every minute (``--once``); without ``--once`` it keeps running a round every
``probes.interval_seconds`` (aligned to the clock) until interrupted, like a small Gatus.
Exit codes of ``--once``: 0 every check passed; 1 a check failed; 2 bad params or usage (an
unset ``${ENV}`` secret, no targets); 3 the results could not be written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from opsreview.exceptions import ParamsError, UsageError
from opsreview.params import Params, load_params
from opsreview.probes.round import RoundReport, run_round
from opsreview.probes.source import append_results, compact_pending
from opsreview.secrets import redact
from opsreview.store import Store

_COLUMNS = (("time", 8), ("probe", 18), ("check", 20), ("ok", 4), ("status", 6), ("ms", 7))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe", help="probe the params' targets, append the results to the store (cron: --once every minute)"
    )
    parser.add_argument("--params", required=True, help="params YAML file")
    parser.add_argument("--once", action="store_true", help="run one round and exit (for cron)")
    parser.add_argument("--json", action="store_true", help="print each round as one JSON line instead of a table")
    parser.set_defaults(func=cmd_probe)


def check_secrets(params: Params) -> None:
    """Every ``${ENV}`` the probes need must be set before the round starts (exit 2 otherwise)."""
    for key, ref in params.probes.secret_references():
        for name in ref.env_vars:
            if name not in os.environ:
                raise ParamsError(str(params.source_file), key, f"environment variable {name} is not set")


def format_table(report: RoundReport, params: Params) -> str:
    head = "  ".join(name.ljust(width) for name, width in _COLUMNS) + "  detail"
    lines = [head]
    for r in report.results:
        cells = (
            r.ts.astimezone(params.tz).strftime("%H:%M:%S"),
            r.probe[:18],
            r.check[:20],
            "ok" if r.ok else "FAIL",
            "" if r.status_code is None else str(r.status_code),
            "" if r.latency_ms is None else f"{r.latency_ms:.0f}",
        )
        line = "  ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)) + "  " + r.detail[:120]
        lines.append(line)
    failed = len(report.failed)
    cut = f"; cut by the deadline: {', '.join(report.unfinished)}" if report.unfinished else ""
    lines.append(
        f"{len(report.results)} results from {len(report.probed)} targets, {failed} failed, "
        f"{report.requests} requests in {report.duration_s:.1f} s (deadline {report.deadline_s:g} s){cut}"
    )
    return redact("\n".join(lines))


def format_json(report: RoundReport) -> str:
    document = {
        "started": report.started.isoformat(),
        "duration_s": round(report.duration_s, 3),
        "deadline_s": report.deadline_s,
        "requests": report.requests,
        "unfinished": report.unfinished,
        "not_due": report.not_due,
        "results": [r.to_json() for r in report.results],
    }
    return redact(json.dumps(document, separators=(",", ":")))


def probe_once(params: Params, as_json: bool = False, now: dt.datetime | None = None) -> int:
    """One round: probe, append to the store, compact finished days, print; 0 all ok, 1 some failed."""
    report = run_round(params.probes, now=now)
    store = Store(params.store)
    append_results(store, report.results, params.tz)
    compact_pending(store, before=report.started.astimezone(params.tz).date())
    print(format_json(report) if as_json else format_table(report, params), flush=True)
    return 1 if report.failed else 0


def cmd_probe(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    if not params.probes.targets:
        raise UsageError(f"{args.params}: probes.targets is empty: nothing to probe")
    check_secrets(params)
    if args.once:
        return probe_once(params, args.json)
    interval = params.probes.interval_seconds
    while True:
        probe_once(params, args.json)
        # Start rounds on the interval's boundaries, so rounds of different hosts line up.
        time.sleep(interval - (time.time() % interval))
        sys.stdout.flush()
