"""Demo data of the backups area: a nightly ``mongodump --archive --gzip`` job, its manifest and
a restore drill, with planted problems.

:func:`write_demo` writes under ``out/backups``:

- ``archives/mongodump-YYYY-MM-DDTHHMM.archive.gz``: one real, small gzip'd archive a night at
  02:30 local time (the pattern's timezone is the demo's), holding the demo database's
  collections (``shop.users``, ``shop.orders``, ``shop.products``, ``shop.carts``,
  ``shop.sessions``, ``shop.payments``), growing a little every night;
- ``manifests/backup-job.json``: what the job recorded for each night it ran;
- ``drills/restore-drill-YYYY-MM-DD.json``: the last restore drill, 40 days before the review day.

Planted (with 6 days or more): a missed night (no archive, no manifest entry) four nights
before the review day; the archive two nights before it cut to a third of its size after the
upload (the manifest still records the full size); the drill older than the 30-day policy.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from opsreview.backups.archive import write_archive

PATTERN = "mongodump-%Y-%m-%dT%H%M.archive.gz"
NIGHTLY = dt.time(2, 30)
COLLECTIONS = ("users", "orders", "products", "carts", "sessions", "payments")
DB = "shop"
DRILL_AGE_DAYS = 40
SERVER_VERSION, TOOL_VERSION = "7.0.14", "100.10.0"


def _docs(rng: np.random.Generator, coll: str, n: int) -> list[dict[str, Any]]:
    # random hex so gzip cannot squeeze a night's archive to nothing: sizes stay comparable
    blobs = rng.integers(0, 2**62, size=(n, 6))
    return [{"_id": i, "coll": coll, "data": "".join(f"{int(x):016x}" for x in row)} for i, row in enumerate(blobs)]


def _archive_bytes(rng: np.random.Generator, night: int) -> tuple[bytes, dict[str, int]]:
    counts = {f"{DB}.{c}": 60 + 12 * i + 3 * night + int(rng.integers(0, 4)) for i, c in enumerate(COLLECTIONS)}
    raw = io.BytesIO()
    write_archive(
        raw,
        {ns: _docs(rng, ns, n) for ns, n in counts.items()},
        server_version=SERVER_VERSION,
        tool_version=TOOL_VERSION,
    )
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0), counts


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


def write_demo(out: Path, days: list[dt.date], tz: ZoneInfo, rng: np.random.Generator) -> dict[str, Any]:
    """Write the backups area's demo files under ``out/backups`` and return its ground truth.

    ``days`` are consecutive local days of ``tz``; the last is the review day. The same ``rng``
    state gives the same bytes."""
    if not days:
        raise ValueError("write_demo needs at least one day")
    root = out / "backups"
    for child in ("archives", "manifests", "drills"):
        (root / child).mkdir(parents=True, exist_ok=True)
        for path in (root / child).iterdir():
            path.unlink()
    review = days[-1]
    planted = len(days) >= 6
    missed = days[-5] if planted else None
    truncated = days[-3] if planted else None
    manifest: list[dict[str, Any]] = []
    nights: list[str] = []
    truth_truncated: dict[str, Any] | None = None
    sizes: dict[str, int] = {}
    for night, day in enumerate(days):
        start = dt.datetime.combine(day, NIGHTLY, tz)
        data, counts = _archive_bytes(rng, night)
        if day == missed:
            continue  # the job did not run: no archive, no manifest entry
        name = start.strftime(PATTERN)
        nights.append(name)
        written = data[: len(data) // 3] if day == truncated else data
        (root / "archives" / name).write_bytes(written)
        sizes[name] = len(written)
        if day == truncated:
            truth_truncated = {"name": name, "size_bytes": len(written), "full_size_bytes": len(data)}
        finished = start + dt.timedelta(minutes=8, seconds=int(rng.integers(0, 240)))
        manifest.append(
            {
                "name": name,
                "started_at": _iso(start),
                "finished_at": _iso(finished),
                "status": "ok",  # the job saw its dump through; the upload was cut after it
                "size_bytes": len(data),
                "location": f"s3://shop-backups/mongodump/{name}",
                "tool_version": TOOL_VERSION,
                "server_version": SERVER_VERSION,
                "collections": counts,
            }
        )
    (root / "manifests" / "backup-job.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")

    drill_day = review - dt.timedelta(days=DRILL_AGE_DAYS)
    drill_when = dt.datetime.combine(drill_day, dt.time(10, 0), tz)
    drill_backup = dt.datetime.combine(drill_day, NIGHTLY, tz).strftime(PATTERN)
    drill_counts = {f"{DB}.{c}": 50 + 10 * i for i, c in enumerate(COLLECTIONS)}
    hashes = {ns: f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**62)):016x}" for ns in drill_counts}
    drill = {
        "when": _iso(drill_when),
        "backup": drill_backup,
        "target": f"restore_drill_{drill_day:%Y%m%d}",
        "ok": True,
        "error": None,
        "collections": [
            {"ns": ns, "source_count": n, "restored_count": n, "source_hash": hashes[ns], "restored_hash": hashes[ns]}
            for ns, n in drill_counts.items()
        ],
    }
    (root / "drills" / f"restore-drill-{drill_day}.json").write_text(
        json.dumps(drill, indent=1) + "\n", encoding="utf-8"
    )

    missed_truth = None
    if missed is not None:
        before = dt.datetime.combine(missed - dt.timedelta(days=1), NIGHTLY, tz)
        after = dt.datetime.combine(missed + dt.timedelta(days=1), NIGHTLY, tz)
        missed_truth = {
            "date": missed.isoformat(),
            "after": before.strftime(PATTERN),
            "before": after.strftime(PATTERN),
            "start": _iso(before),
            "end": _iso(after),
        }
    good = [n for n in nights if truth_truncated is None or n != truth_truncated["name"]]
    return {
        "backups": {
            "pattern": PATTERN,
            "timezone": str(tz),
            "archives": nights,
            "sizes": sizes,
            "collections": [f"{DB}.{c}" for c in COLLECTIONS],
            "missed_night": missed_truth,
            "truncated": truth_truncated,
            "last_good": good[-1] if good else None,
            "drill": {
                "when": _iso(drill_when),
                "backup": drill_backup,
                "age_days": DRILL_AGE_DAYS,
                "file": f"restore-drill-{drill_day}.json",
            },
        }
    }
