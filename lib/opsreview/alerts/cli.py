"""`opsreview notify`: send the notification of a published day, or a test message.

Exit codes: 0 every delivery went through (or there was nothing new to send); 2 bad usage or
params, no published day, or no channel (nothing is written); 3 a channel could not be reached (the
failure is a finding in the day's ``summary.json``; the review itself is not failed).
"""

from __future__ import annotations

import argparse
from typing import Any

from opsreview.alerts.deliver import Delivery
from opsreview.exceptions import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify", help="notify the alert channels of a published day (no repeats), or --test every channel"
    )
    parser.add_argument("--params", required=True, help="params YAML file")
    parser.add_argument("--date", help="review day YYYY-MM-DD (default: yesterday in the params' timezone)")
    parser.add_argument("--test", action="store_true", help="send a test message to every channel instead")
    parser.set_defaults(func=cmd_notify)


def _print_deliveries(deliveries: list[Delivery]) -> None:
    for d in deliveries:
        status = "ok" if d.ok else "FAILED"
        error = f"  {d.error}" if d.error else ""
        print(f"{d.channel:<20} {status:<7} {d.duration_s:6.2f} s{error}")


def cmd_notify(args: argparse.Namespace) -> int:
    from opsreview.alerts.notify import notify_day, send_test
    from opsreview.context import parse_review_date
    from opsreview.params import load_params

    params = load_params(args.params)
    params.mask_referenced_secrets()
    if args.test:
        if not params.alerts.channels:
            raise UsageError(f"{args.params}: alerts.channels is empty: no channel to test")
        deliveries = send_test(params)
        _print_deliveries(deliveries)
        return 0 if all(d.ok for d in deliveries) else 3
    if not params.alerts.channels:
        raise UsageError(f"{args.params}: alerts.channels is empty: no channel to notify (nothing written)")
    day = parse_review_date(args.date, params)
    outcome = notify_day(params, day)
    _print_deliveries(outcome.deliveries)
    print(
        f"{day}: {len(outcome.sent)} sent, {len(outcome.resolved)} resolved, {len(outcome.suppressed)} not repeated, "
        f"{len(outcome.inhibited)} inhibited"
    )
    return 0 if outcome.ok else 3
