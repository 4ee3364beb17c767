"""`opsreview logs summary PATH...`: the access-log summary on the command line.

Exit codes: 0 every file was read; 2 bad usage (unknown format, bad --since); 3 some file was
missing or damaged (the summary of the rest is still printed). ``--routes`` prints only the
route templates inferred from the files, as YAML for the params' ``logs.routes``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsreview.exceptions import UsageError

__all__ = ["register", "cmd_logs_summary"]


def _when(value: str, option: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r}: expected an ISO date/time such as 2026-03-29T10:00") from None


def _json_fields(items: list[str]) -> dict[str, str]:
    """``--field status=res.statusCode`` options as a column -> dotted JSON path mapping."""
    from opsreview.logs.params import JSON_ACCESS_FIELDS

    fields: dict[str, str] = {}
    for item in items:
        column, sep, path = item.partition("=")
        if not sep or not path:
            raise UsageError(f"--field {item!r}: expected COLUMN=JSON.PATH, e.g. status=res.statusCode")
        if column not in JSON_ACCESS_FIELDS:
            raise UsageError(f"--field {item!r}: unknown column {column!r} (known: {', '.join(JSON_ACCESS_FIELDS)})")
        fields[column] = path
    return fields


def cmd_logs_summary(args: argparse.Namespace) -> int:
    from opsreview.logs.access.morgan import FormatError, compile_format
    from opsreview.logs.access.quicklook import format_summary, summarize_access_logs
    from opsreview.logs.access.routes import compile_routes

    try:
        ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {args.tz!r}: unknown timezone") from None
    fields = _json_fields(args.field or [])
    if fields and args.format != "json":
        raise UsageError("--field: only for --format json")
    if args.format != "json":
        try:
            compiled = compile_format(args.format)
        except FormatError as exc:
            raise UsageError(f"--format: {exc}") from None
        if (args.since or args.until) and not compiled.has_date:
            raise UsageError(f"--since/--until: format {args.format!r} logs no date, so lines cannot be windowed")
    try:
        compile_routes(args.route or [])
    except ValueError as exc:
        raise UsageError(f"--route: {exc}") from None
    if args.routes and (args.route or args.json):
        raise UsageError("--routes prints the route templates inferred from the files: not with --route or --json")
    since = _when(args.since, "--since") if args.since else None
    until = _when(args.until, "--until") if args.until else None
    summary = summarize_access_logs(
        args.paths,
        fmt=args.format,
        since=since,
        until=until,
        tz=args.tz,
        routes=args.route or (),
        host=args.host,
        json_fields=fields,
    )
    if args.routes:
        inferred = summary["inferred_routes"]
        sys.stdout.write(
            (inferred or {}).get("yaml")
            or "# no route templates to infer: the automatic rules (numbers, UUIDs, hex ids) cover every parameter\n"
        )
    elif args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        format_summary(summary, sys.stdout, top=args.top)
    failed = [f for f in summary["files"] if f.get("error")]
    for f in failed:
        print(f"opsreview: {f['error']}", file=sys.stderr)
    return 3 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `logs summary` to the `opsreview` command."""
    logs = subparsers.add_parser("logs", help="work with log files directly")
    logs_sub = logs.add_subparsers(dest="logs_command", required=True, metavar="COMMAND")
    summary = logs_sub.add_parser(
        "summary",
        help="totals, status/method counts and per-route latency of access-log files",
        description="Summarise access-log files (plain or .gz; files, globs or folders).",
    )
    summary.add_argument("paths", nargs="+", metavar="PATH", help="log files, globs or folders")
    summary.add_argument(
        "--format",
        default="combined",
        help="combined|common|dev|short|tiny|combined_rt|json|<morgan format string> (default: combined)",
    )
    summary.add_argument(
        "--field",
        action="append",
        metavar="COLUMN=PATH",
        help="--format json: where a column is in each line (repeatable), e.g. status=res.statusCode "
        "(defaults: pino-http names)",
    )
    summary.add_argument("--since", help="count requests at or after this time (ISO; naive = --tz)")
    summary.add_argument("--until", help="count requests before this time (ISO; naive = --tz)")
    summary.add_argument("--tz", default="UTC", help="timezone for naive --since/--until and the output (default UTC)")
    summary.add_argument(
        "--route",
        action="append",
        help="explicit route template (repeatable), e.g. /api/users/:id; without it parameters are inferred",
    )
    summary.add_argument(
        "--routes",
        action="store_true",
        help="print only the route templates inferred from the files, as params YAML (for logs.routes)",
    )
    summary.add_argument("--host", help="host label shown per file (default: the file's folder name)")
    summary.add_argument("--top", type=int, default=30, help="routes shown in the text output (default 30)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of text")
    summary.set_defaults(func=cmd_logs_summary)
