"""`make bench`: every benchmark in turn, each printing its figures and the command behind them.

    python -m tests.bench [--quick]

--quick runs each benchmark on a smaller input (1M access-log lines, 50k demo requests/day,
200k lines for the summary, days of 50k and 100k requests, a 100 MB MongoDB log)
to check that the benchmarks work; the committed figures come from the full run.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller inputs, to check the benchmarks run")
    args = parser.parse_args()
    benches: list[list[str]] = [
        ["tests.bench.bench_run", *(["--requests-per-day", "50000"] if args.quick else [])],
        ["tests.bench.bench_access_logs", *(["--lines", "1000000"] if args.quick else [])],
        ["tests.bench.bench_summary", *(["--lines", "200000"] if args.quick else [])],
        ["tests.bench.bench_day_sizes", *(["--sizes", "50000,100000"] if args.quick else [])],
        ["tests.bench.bench_probes"],
        ["tests.bench.bench_mongo_log", *(["--mb", "100"] if args.quick else [])],
        ["tests.bench.bench_spark", *(["--lines", "1000000"] if args.quick else [])],
    ]
    failed = []
    for bench in benches:
        cmd = [sys.executable, "-m", *bench]
        print(f"\n=== {shlex.join(['python', '-m', *bench])}", flush=True)
        started = time.monotonic()
        code = subprocess.run(cmd, cwd=ROOT).returncode
        print(f"=== exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(bench[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
