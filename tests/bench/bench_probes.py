"""Benchmark: one probe round of 200 targets with a 2 s timeout, a quarter of them hanging.

    python -m tests.bench.bench_probes [--targets 200] [--hanging-share 0.25] [--timeout 2]
                                       [--deadline 10] [--concurrency 32 64]

Targets are real HTTP requests to a local server (tests/fixtures/tls.py ``start_fault_server``):
healthy ones get a small JSON answer, hanging ones never answer. The round must end within
its deadline, every target with a result (``cut`` counts targets the deadline stopped, e.g.
with ``--concurrency 8``); prints the figures per concurrency and exits 1 if a round overran
its deadline or lost a target.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import statistics
import sys
import time

from opsreview.probes.params import ProbesParams
from opsreview.probes.round import run_round
from tests.fixtures.tls import start_fault_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--hanging-share", type=float, default=0.25)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    args = parser.parse_args()
    logging.getLogger("opsreview").setLevel(logging.ERROR)  # the cut-by-deadline warning is in the table
    print("command:", shlex.join([sys.executable, "-m", "tests.bench.bench_probes", *sys.argv[1:]]))
    server_info, server = start_fault_server()
    hanging = round(args.targets * args.hanging_share)
    # Spread the hanging targets over the list, as real slow targets would be.
    step = args.targets / hanging if hanging else args.targets + 1
    hang_at = {int(i * step) for i in range(hanging)}
    targets = [
        {
            "name": f"t{i:03d}",
            "url": server_info.url + ("/hang" if i in hang_at else "/ok"),
            "timeout_seconds": args.timeout,
        }
        for i in range(args.targets)
    ]
    failed_bench = False
    print(
        f"{args.targets} targets, {hanging} hanging, timeout {args.timeout:g} s, deadline {args.deadline:g} s, "
        f"{sys.platform}"
    )
    print(
        f"{'concurrency':>11} {'wall s':>7} {'results':>7} {'ok':>5} {'timeouts':>8} {'cut':>4} {'p50 ms':>7} {'p95 ms':>7}"
    )
    for concurrency in args.concurrency:
        settings = ProbesParams.model_validate(
            {"targets": targets, "deadline_seconds": args.deadline, "concurrency": concurrency}
        )
        started = time.monotonic()
        report = run_round(settings, ignore_schedule=True)
        wall = time.monotonic() - started
        ok = [r for r in report.results if r.ok]
        timeouts = [r for r in report.results if r.detail.startswith("timeout after")]
        latencies = sorted(r.latency_ms for r in ok if r.latency_ms is not None)
        p50 = statistics.median(latencies) if latencies else float("nan")
        p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
        print(
            f"{concurrency:>11} {wall:>7.2f} {len(report.results):>7} {len(ok):>5} {len(timeouts):>8} "
            f"{len(report.unfinished):>4} {p50:>7.1f} {p95:>7.1f}"
        )
        # Every target gets a result (a cut one says so) and the round ends by its deadline.
        if wall > args.deadline or len(report.results) < args.targets:
            failed_bench = True
    server.shutdown()
    if failed_bench:
        print("FAILED: a round overran its deadline or lost results")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
