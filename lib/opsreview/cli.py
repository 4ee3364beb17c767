"""The `opsreview` command: a thin layer over the library.

Exit codes (DESIGN.md): 0 ok; 1 findings at or above ``fail_on``; 2 bad usage or params
(one clear line, nothing written); 3 a notebook or source failed (report still written).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from opsreview import __version__
from opsreview.areas import AREAS
from opsreview.exceptions import OpsreviewError
from opsreview.secrets import RedactingFilter, redact

log = logging.getLogger("opsreview")

# Modules with ``register(subparsers)`` whose subcommand belongs to no area.
COMMANDS: tuple[str, ...] = ("opsreview.predeploy.cli", "opsreview.alerts.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """Usage errors are exit 2 with one line (argparse's own convention too)."""
        self.exit(2, f"opsreview: error: {message}\n")


def _cmd_run(args: argparse.Namespace) -> int:
    from opsreview.run.steps import run_review

    only = [a.strip() for a in args.only.split(",") if a.strip()] if args.only else None
    result = run_review(args.params, date=args.date, only=only, jobs=args.jobs)
    counts = result.summary.get("counts", {})
    print(f"{result.day}: {result.summary.get('status')} ({counts}) -> {result.day_dir / 'index.html'}")
    return result.exit_code


def _cmd_publish(args: argparse.Namespace) -> int:
    from opsreview.context import parse_review_date
    from opsreview.params import load_params
    from opsreview.run.publish import publish_days

    params = load_params(args.params)
    days = None if args.all else [parse_review_date(args.date, params)]
    published = publish_days(params.outputs, Path(args.to), days)
    print(f"published {len(published)} day(s) to {Path(args.to) / 'index.html'}")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from opsreview.context import ReviewContext, parse_review_date
    from opsreview.params import load_params
    from opsreview.sources import pull_sources

    params = load_params(args.params)
    day = parse_review_date(args.date, params)
    areas = {a.strip() for a in args.only.split(",") if a.strip()} if args.only else None
    results = pull_sources(ReviewContext(params=params, day=day), areas)
    for result in results:
        error = f"  {result.error}" if result.error else ""
        new = "" if result.ingested is None else f" ({result.ingested} new)"
        print(
            f"{result.name:<16} {result.status:<8} {result.rows:>10} rows of the day{new}  {result.duration_s:6.1f} s{error}"
        )
    return 3 if any(r.status == "failed" for r in results) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import datetime as dt

    from opsreview.demo import demo_is_current, generate_demo

    end = dt.date.fromisoformat(args.end_date) if args.end_date else None
    if args.if_stale and demo_is_current(Path(args.out), end):
        print(f"demo data in {args.out} is current")
        return 0
    truth = generate_demo(
        Path(args.out), days=args.days, requests_per_day=args.requests_per_day, seed=args.seed, end_date=end
    )
    print(f"demo data for {truth['review_date']} written to {args.out}")
    return 0


def _cmd_params_check(args: argparse.Namespace) -> int:
    from opsreview.params import load_params

    params = load_params(args.params)
    print(json.dumps(params.model_dump(mode="json"), indent=2, default=str) if args.show else f"{args.params}: ok")
    # Valid params can still fail at use: say now which secrets this shell could not resolve.
    for name, keys in params.unset_secret_variables().items():
        print(
            f"opsreview: warning: {args.params}: environment variable {name} is not set (used by {', '.join(keys)})",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="opsreview", description="Daily, evidence-backed review of a production web API.")
    parser.add_argument("--version", action="version", version=f"opsreview {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the review notebooks for one day and publish the report")
    run.add_argument("--params", required=True, help="params YAML file")
    run.add_argument("--date", help="review day YYYY-MM-DD (default: yesterday in the params' timezone)")
    run.add_argument("--only", help="comma-separated areas (notebook names); the summary always runs")
    run.add_argument("--jobs", type=int, help="notebooks executed in parallel (default: params runner.jobs)")
    run.set_defaults(func=_cmd_run)

    publish = sub.add_parser("publish", help="copy review days, their assets and the index to a folder (atomic)")
    publish.add_argument("--params", required=True, help="params YAML file (its outputs folder is copied from)")
    publish.add_argument("--to", required=True, help="folder to publish to (a web server's root, a share)")
    which = publish.add_mutually_exclusive_group()
    which.add_argument("--date", help="review day YYYY-MM-DD (default: yesterday in the params' timezone)")
    which.add_argument("--all", action="store_true", help="every finished day of the outputs folder")
    publish.set_defaults(func=_cmd_publish)

    pull = sub.add_parser("pull", help="pull every source into the store for one day (and its baseline)")
    pull.add_argument("--params", required=True, help="params YAML file")
    pull.add_argument("--date", help="review day YYYY-MM-DD (default: yesterday in the params' timezone)")
    pull.add_argument("--only", help="comma-separated areas whose sources to pull")
    pull.set_defaults(func=_cmd_pull)

    demo = sub.add_parser("demo", help="write the built-in demo data set")
    demo.add_argument("--days", type=int, default=8, help="days of history, the last one is the review day (default 8)")
    demo.add_argument(
        "--requests-per-day", type=int, default=200_000, help="access-log requests per day (default 200000)"
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--end-date", help="review day of the demo, YYYY-MM-DD (default: yesterday)")
    demo.add_argument("--out", default="outputs/demo-data", help="folder to write (default outputs/demo-data)")
    demo.add_argument("--if-stale", action="store_true", help="only if missing or not ending on the requested day")
    demo.set_defaults(func=_cmd_demo)

    check = sub.add_parser("params", help="validate a params file")
    check.add_argument("params", help="params YAML file")
    check.add_argument("--show", action="store_true", help="print the validated params (secrets stay references)")
    check.set_defaults(func=_cmd_params_check)

    # Subcommands of the areas (`opsreview logs`, `opsreview probe`): each module has register(subparsers).
    for area in AREAS:
        if area.cli is not None:
            importlib.import_module(area.cli).register(sub)
    # Commands that are not review areas (`opsreview predeploy`), registered the same way.
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        code: int = args.func(args)
    except OpsreviewError as exc:
        print(f"opsreview: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("opsreview: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` or similar: stop quietly, like other command-line tools
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
