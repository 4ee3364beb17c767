"""Benchmark: the access-log pull on Spark (local[1], local[2]) beside DuckDB, same lines, one run.

    python -m tests.bench.bench_spark [--lines 10000000] [--masters local[1],local[2]]

Uses the plain ``combined_rt`` day of :mod:`tests.bench.bench_access_logs` (generated once,
cached under .bench/access/). Each measurement runs in its own child process and does the whole
pull of one file into an empty store: parse, exact parser for the odd lines, masking at ingest,
Parquet parts by local day, `log_files` row; then, for Spark, the day's aggregates; then the
review's heavy sections of the biggest day (from the aggregates with Spark, scanning `requests`
with DuckDB). For Spark the wall time includes starting the
session (the JVM) and is also printed without it; "per core" divides the job's rate by the
cores of the master, the figure the README's 1B-lines/day plan starts from.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from tests.bench.bench_access_logs import ROOT, TZ, WORK, ensure_data, measure


def tree_cpu() -> float:
    """CPU seconds (user + system) of this process and every live descendant (the JVM and its
    Python workers): on a shared machine, lines per CPU second is the per-core rate."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def child(engine: str, master: str, path: Path, store_dir: Path) -> None:
    from opsreview.logs.access.morgan import compile_format
    from opsreview.logs.access.source import ingest_access_file
    from opsreview.logs.files import expand_paths
    from opsreview.params import load_params
    from opsreview.store import Store

    shutil.rmtree(store_dir, ignore_errors=True)
    store_dir.mkdir(parents=True)
    (info,), _ = expand_paths([path])
    fmt = compile_format("combined_rt")
    params_file = store_dir / "params.yaml"
    params_file.write_text(
        f"environment: bench\ntimezone: {TZ}\nstore: {store_dir}\noutputs: {store_dir}/out\n"
        f"logs:\n  access:\n    - host: bench\n      paths: ['{path}']\n      format: combined_rt\n"
        + (
            f"engine: spark\nspark:\n  master: '{master}'\n  conf:\n    spark.driver.memory: 1g\n"
            if engine == "spark"
            else ""
        ),
        encoding="utf-8",
    )
    params = load_params(params_file)
    store = Store(store_dir)
    started = time.monotonic()
    session_s = aggregates_s = 0.0
    if engine == "duckdb":
        from zoneinfo import ZoneInfo

        result = ingest_access_file(store, info, "bench", fmt, "combined_rt", ZoneInfo(TZ))
        assert result.parse is not None
        lines, parsed = result.parse.lines, result.parse.parsed
    else:
        from opsreview import sparkengine
        from opsreview.logs.access import spark_aggregates, spark_parse
        from opsreview.logs.files import content_part_key

        sparkengine.session(params.spark)
        session_s = time.monotonic() - started
        (done,) = spark_parse.ingest_files(
            params, store, [("bench", fmt, info, "combined_rt", content_part_key(info, "bench"))]
        )
        assert done.parse is not None
        lines, parsed = done.parse.lines, done.parse.parsed
    pulled = time.monotonic()
    cpu = tree_cpu()
    day = max(store.days("requests"), key=lambda d: store.count_rows("requests", d))
    if engine != "duckdb":
        assert spark_aggregates.build(params, store, day, [])
        aggregates_s = time.monotonic() - pulled
    aggregates_cpu = tree_cpu() - cpu
    if engine != "duckdb":
        sparkengine.stop()
    total = pulled - started
    # the review of the biggest day: from the aggregates (Spark) or scanning requests (DuckDB)
    import resource

    from opsreview.context import ReviewContext
    from opsreview.logs.access.review import AccessLogReview

    before = time.monotonic()
    review = AccessLogReview(ReviewContext(params=params, day=day))
    for section in ("volume", "status", "latency", "routes", "clients"):
        getattr(review, section)()
    review_s = time.monotonic() - before
    review_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    parquet = sum(p.stat().st_size for p in store_dir.glob("requests/*/*.parquet"))
    print(
        json.dumps(
            {
                "lines": lines,
                "parsed": parsed,
                "total_s": total,
                "session_s": session_s,
                "parquet": parquet,
                "cpu": cpu,
                "aggregates_s": aggregates_s,
                "aggregates_cpu": aggregates_cpu if engine != "duckdb" else 0.0,
                "review_s": review_s,
                "review_rss": review_rss,
                "aggregated": review.aggregates is not None,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "MASTER", "FILE", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), Path(args.child[3]))
        return
    invocation = shlex.join(["python", "-m", "tests.bench.bench_spark", *sys.argv[1:]])
    plain, _ = ensure_data(args.lines)
    print(f"\n# {invocation}   ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start)")
    print(f"data: {plain.name} {plain.stat().st_size / 1e9:.2f} GB\n")
    runs = [("duckdb", "-")] + [("spark", m) for m in args.masters.split(",") if m]
    for engine, master in runs:
        store = WORK / f"store-{engine}-{master.strip('[]').replace('[', '')}"
        cmd = [sys.executable, "-m", "tests.bench.bench_spark", "--child", engine, master, str(plain), str(store)]
        elapsed, rss, cpu, out = measure(cmd)
        facts = json.loads(out.strip().splitlines()[-1])
        job_s = facts["total_s"] - facts["session_s"]
        cores = int(master[6:-1]) if master.startswith("local[") and master[6:-1].isdigit() else 0
        label = "DuckDB" if engine == "duckdb" else f"Spark {master}"
        rate = facts["lines"] / job_s
        per_core = f", {rate / cores / 1e3:.0f}k lines/s per core of wall time" if cores else ""
        print(
            f"{label}: {elapsed:.1f} s wall (session start {facts['session_s']:.1f} s, job {job_s:.1f} s = "
            f"{rate / 1e6:.3f}M lines/s{per_core}); CPU of the process tree {facts['cpu']:.1f} s = "
            f"{facts['lines'] / facts['cpu'] / 1e3:.0f}k lines per CPU second; peak RSS of the child {rss} MB; "
            f"{facts['parsed']:,} of {facts['lines']:,} lines parsed, {facts['parquet'] / 1e6:.0f} MB of Parquet"
        )
        made = (
            f"daily aggregates on Spark {facts['aggregates_s']:.1f} s ({facts['aggregates_cpu']:.1f} CPU s); "
            if engine != "duckdb"
            else ""
        )
        how = "from the aggregates" if facts["aggregated"] else "scanning requests"
        print(
            f"    {made}review of the day (volume, status, latency, routes, clients; {how}) "
            f"{facts['review_s']:.1f} s, peak RSS of the child {facts['review_rss']} MB"
        )
        print(f"    command: python {shlex.join(cmd[1:])}")
        shutil.rmtree(store, ignore_errors=True)
    print(f"    (load average {os.getloadavg()[0]:.2f} at the end; the machine is shared)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
