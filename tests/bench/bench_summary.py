"""Benchmark: `opsreview logs summary` on 2M combined + response-time lines against the floor.

    python -m tests.bench.bench_summary [--lines 2000000]

The floor is the least any tool must do for the same answer: DuckDB's ``read_csv`` of the same
file (delimiter space, quote ``"``, every column VARCHAR; ``strict_mode=false`` and
``ignore_errors`` because real morgan output has unescaped quotes - with ``ignore_errors`` alone
DuckDB drops far more than the odd line) into a table, then counts by status and p95 per path. Both run as a
new user would run them: a fresh process each (interpreter start and imports included), timed
from outside. Issue 10 item 7b: opsreview within 2x of the floor. The data is the same
generated day as ``bench_access_logs`` (cached under .bench/access/).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from tests.bench.bench_access_logs import ensure_data, measure

TARGET = 2.0
FLOOR = """
import sys, duckdb
con = duckdb.connect()
con.execute('SET enable_progress_bar = false')
con.execute(f'''CREATE TABLE t AS SELECT * FROM read_csv('{sys.argv[1]}', delim=' ', quote='"', escape='"',
    header=false, all_varchar=true, ignore_errors=true, strict_mode=false, auto_detect=false,
    columns={{'ip':'VARCHAR','ident':'VARCHAR','user':'VARCHAR','time':'VARCHAR','zone':'VARCHAR',
              'request':'VARCHAR','status':'VARCHAR','bytes':'VARCHAR','referrer':'VARCHAR','agent':'VARCHAR',
              'rt':'VARCHAR','unit':'VARCHAR'}})''')
by_status = con.execute("SELECT status, count(*) FROM t GROUP BY 1").fetchall()
by_path = con.execute(
    "SELECT split_part(request, ' ', 2) AS path, count(*), quantile_cont(TRY_CAST(rt AS DOUBLE), 0.95) "
    "FROM t GROUP BY 1"
).fetchall()
print(sum(n for _, n in by_status), len(by_path))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2_000_000)
    args = parser.parse_args()
    plain, _ = ensure_data(args.lines)
    ours = [sys.executable, "-m", "opsreview.cli", "logs", "summary", str(plain), "--format", "combined_rt", "--json"]
    floor = [sys.executable, "-c", FLOOR, str(plain)]
    print(f"\n# python -m tests.bench.bench_summary --lines {args.lines}   ({plain.stat().st_size / 1e6:.0f} MB)")
    ours_s, ours_rss, ours_cpu, out = measure(ours)
    summary = json.loads(out)
    floor_s, floor_rss, floor_cpu, floor_out = measure(floor)
    rows, paths = floor_out.strip().splitlines()[-1].split()
    print(f"opsreview logs summary: {ours_s:.2f} s wall, CPU {ours_cpu:.1f} s, peak RSS {ours_rss} MB")
    print(f"    command: {shlex.join(['opsreview', *ours[3:]])}")
    print(f"    {summary['parsed']:,} parsed, {len(summary['routes'])} route templates")
    print(f"floor (DuckDB read_csv + counts by status + p95 per path): {floor_s:.2f} s wall, CPU {floor_cpu:.1f} s")
    print(f"    command: python -c FLOOR {plain.name}   (FLOOR: tests/bench/bench_summary.py)")
    print(f"    {int(rows):,} rows read, {int(paths):,} distinct paths")
    ratio = ours_s / floor_s
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"opsreview logs summary takes {ratio:.1f}x the floor: {verdict} the target of <= {TARGET:.0f}x")


if __name__ == "__main__":
    main()
