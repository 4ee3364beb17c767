"""Benchmark: wall time of `opsreview run` for one demo day, and the size of its output folder.

    python -m tests.bench.bench_run [--requests-per-day N]

Cold = the store is empty (the run ingests the review day and its baseline days);
warm = the store already holds them (a re-run of the same day).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".bench" / "run"


def timed(cmd: list[str]) -> tuple[float, int]:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.returncode


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests-per-day", type=int, default=200_000)
    args = parser.parse_args()
    opsreview = [sys.executable, "-m", "opsreview.cli"]
    data, out = WORK / "demo-data", WORK / "out"
    for folder in (out, data / "store"):
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    demo_cmd = [*opsreview, "demo", "--out", str(data), "--requests-per-day", str(args.requests_per_day)]
    demo_s, _ = timed(demo_cmd)
    day = json.loads((data / "ground-truth.json").read_text())["review_date"]
    params = WORK / "demo.yaml"
    text = (ROOT / "params" / "demo.yaml").read_text().replace("../outputs/demo-data", str(data))
    params.write_text(text.replace("outputs: ../outputs", f"outputs: {out}"))
    run_cmd = [*opsreview, "run", "--params", str(params), "--date", day]
    cold_s, code = timed(run_cmd)
    warm_s, _ = timed(run_cmd)
    day_dir = out / day
    size = folder_size(day_dir)
    biggest = sorted(((p.stat().st_size, p.name) for p in day_dir.iterdir()), reverse=True)[:4]
    print(f"$ {shlex.join(demo_cmd)}\n  demo data ({args.requests_per_day} requests/day, 8 days): {demo_s:.1f} s")
    print(f"$ {shlex.join(run_cmd)}\n  opsreview run, cold store: {cold_s:.1f} s (exit {code})")
    print(f"  opsreview run, warm store: {warm_s:.1f} s   target <= 30 s")
    print(
        f"  output folder {day_dir.name}/: {size / 1e6:.2f} MB   target <= 10 MB "
        f"(+ {folder_size(out / '_assets') / 1e6:.1f} MB shared plotly.js in _assets/, once per outputs folder)"
    )
    print("  largest files: " + ", ".join(f"{name} {s / 1e6:.2f} MB" for s, name in biggest))


if __name__ == "__main__":
    main()
