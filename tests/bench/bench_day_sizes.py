"""Benchmark: `opsreview run` of one whole day at 200k, 2M and 10M requests, cold and warm store.

    python -m tests.bench.bench_day_sizes [--sizes 200000,2000000,10000000] [--days 2]

For each size the demo generator writes ``--days`` days (the last is the review day; the
others are its baseline), then, each in a fresh process timed from outside:

- ``pull``: `opsreview pull` into an empty store (parse and store the logs);
- ``run, cold``: `opsreview run` on an empty store (pull + every notebook + reports);
- ``run, warm``: `opsreview run` again on the filled store (the review alone: files unchanged);
- peak RSS of the whole process tree (the CLI, papermill, every kernel), sampled from /proc
  every 0.1 s and summed over the tree;
- the size of the day's output folder.

Issue 10 item 6: the review after the pull should grow no faster than the pull, and the
10M-request day must finish on this 2-core machine under 2 GB of RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".bench" / "days"
RSS_TARGET_MB = 2048


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(root: int) -> float:
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo.extend(tree.get(pid, []))
    return total / 1024


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS of the process tree in MB, exit code."""
    peak = 0.0
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    elapsed = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{out.decode(errors='replace')[-3000:]}")
    return elapsed, peak, proc.returncode


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def demo_data(size: int, days: int) -> tuple[Path, str]:
    data = WORK / f"demo-{size}-{days}d"
    truth = data / "ground-truth.json"
    if not truth.exists():
        print(f"generating {data} ...", flush=True)
        cmd = [sys.executable, "-m", "opsreview.cli", "demo", "--out", str(data), "--days", str(days)]
        cmd += ["--requests-per-day", str(size), "--end-date", "2026-12-05"]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return data, json.loads(truth.read_text())["review_date"]


def fresh_store(data: Path, store: Path) -> None:
    """An empty store but for the demo's probe history (written by `opsreview demo`, not pulled)."""
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(data / "store" / "probe_results", store / "probe_results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200000,2000000,10000000")
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    opsreview = [sys.executable, "-m", "opsreview.cli"]
    print(
        f"\n# python -m tests.bench.bench_day_sizes --sizes {args.sizes} --days {args.days}   ({os.cpu_count()} cores)"
    )
    rows = []
    for size in sizes:
        data, day = demo_data(size, args.days)
        store, out = WORK / f"store-{size}", WORK / f"out-{size}"
        params = WORK / f"params-{size}.yaml"
        text = (ROOT / "params" / "demo.yaml").read_text().replace("../outputs/demo-data/store", str(store))
        text = text.replace("../outputs/demo-data", str(data)).replace("outputs: ../outputs", f"outputs: {out}")
        params.write_text(text)
        pull_cmd = [*opsreview, "pull", "--params", str(params), "--date", day]
        run_cmd = [*opsreview, "run", "--params", str(params), "--date", day]
        fresh_store(data, store)
        pull_s, pull_rss, _ = measure(pull_cmd)
        fresh_store(data, store)
        shutil.rmtree(out, ignore_errors=True)
        cold_s, cold_rss, code = measure(run_cmd)
        warm_s, warm_rss, _ = measure(run_cmd)
        rows.append((size, pull_s, pull_rss, warm_s, warm_rss, cold_s, cold_rss, folder_mb(out / day)))
        print(
            f"  {size:>10,} requests/day: pull {pull_s:.1f} s, run warm {warm_s:.1f} s, run cold {cold_s:.1f} s "
            f"(exit {code}), peak RSS cold {cold_rss:.0f} MB",
            flush=True,
        )
        print(f"    commands: {shlex.join(['opsreview', *pull_cmd[3:]])}; {shlex.join(['opsreview', *run_cmd[3:]])}")
    print(
        "\n| requests/day | pull | run, warm (review alone) | run, cold | peak RSS of the tree, cold / warm | output |"
    )
    print("|---|---|---|---|---|---|")
    for size, pull_s, _, warm_s, warm_rss, cold_s, cold_rss, out_mb in rows:
        print(
            f"| {size:,} | {pull_s:.1f} s | {warm_s:.1f} s | {cold_s:.1f} s | {cold_rss:.0f} / {warm_rss:.0f} MB "
            f"| {out_mb:.2f} MB |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        factor = last[0] / first[0]
        print(
            f"\nfor {factor:.0f}x the requests: pull grew {last[1] / first[1]:.1f}x, "
            f"the review alone (warm run) {last[3] / first[3]:.1f}x, the cold run {last[5] / first[5]:.1f}x"
        )
        verdict = "meets" if last[6] <= RSS_TARGET_MB else "MISSES"
        print(f"largest day: peak RSS {last[6]:.0f} MB: {verdict} the target of <= {RSS_TARGET_MB} MB")


if __name__ == "__main__":
    main()
