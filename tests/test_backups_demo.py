"""The backups demo: real archives, a manifest and a drill, with planted problems that the review
finds — the values taken from the ground truth `write_demo` returns."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from opsreview.backups.archive import read_archive
from opsreview.backups.demo import write_demo
from opsreview.backups.review import BackupReview, load_backup_review
from opsreview.context import ReviewContext
from opsreview.params import load_params
from opsreview.sources import pull_sources

TZ = ZoneInfo("Europe/Berlin")
END = dt.date(2026, 12, 6)
DAYS = [END - dt.timedelta(days=i) for i in range(7, -1, -1)]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], BackupReview]:
    out = tmp_path_factory.mktemp("demo") / "outputs" / "demo-data"  # as params/demo.yaml expects it
    truth = write_demo(out, DAYS, TZ, np.random.default_rng(5))["backups"]
    # the shipped demo params' backups section, pointed at this data
    section = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))["backups"]
    params_file = out.parent.parent / "params" / "demo.yaml"
    params_file.parent.mkdir()
    data = {
        "environment": "demo",
        "timezone": str(TZ),
        "store": "../outputs/demo-data/store",
        "outputs": "../outputs",
        "backups": section,
    }
    params_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    ctx = ReviewContext(load_params(params_file), END)
    results = pull_sources(ctx, areas={"backups"})
    assert {r.name: r.status for r in results} == {"backups_inventory": "ok", "backups_drills": "ok"}
    return out, truth, load_backup_review(ctx)


def _of(review: BackupReview, check: str) -> list[Any]:
    return [f for f in review.findings if f.check == check]


def test_the_archives_are_real_mongodump_archives(demo: tuple[Path, dict[str, Any], BackupReview]) -> None:
    out, truth, _ = demo
    folder = out / "backups" / "archives"
    assert sorted(p.name for p in folder.iterdir()) == sorted(truth["archives"])
    whole = folder / truth["archives"][0]
    with gzip.open(whole, "rb") as fh:
        assert fh.read(4) == (0x8199E26D).to_bytes(4, "little")
    read = read_archive(whole)
    assert read.ok and sorted(read.namespaces) == sorted(truth["collections"])
    assert all(n > 0 for n in read.documents.values())


def test_the_missed_night_is_a_gap(demo: tuple[Path, dict[str, Any], BackupReview]) -> None:
    _, truth, review = demo
    missed = truth["missed_night"]
    gaps = _of(review, "backups.schedule_gap")
    assert len(gaps) == 1
    gap = gaps[0]
    assert (gap.evidence["after"], gap.evidence["before"]) == (missed["after"], missed["before"])
    start, end = (dt.datetime.fromisoformat(t) for t in (gap.start, gap.end))
    assert (
        dt.datetime.fromisoformat(missed["start"])
        <= start
        < dt.datetime.fromisoformat(missed["start"]) + dt.timedelta(hours=1)
    )
    assert end == dt.datetime.fromisoformat(missed["end"])
    assert gap.value > 36


def test_the_truncated_archive_is_found_twice_over(demo: tuple[Path, dict[str, Any], BackupReview]) -> None:
    _, truth, review = demo
    cut = truth["truncated"]
    truncated = _of(review, "backups.archive_truncated")
    assert [f.subject for f in truncated] == [cut["name"]]
    assert truncated[0].evidence["size_bytes"] == cut["size_bytes"]
    drops = _of(review, "backups.size_drop")
    assert [f.subject for f in drops] == [cut["name"]]
    assert drops[0].value < 0.5
    mismatch = _of(review, "backups.manifest_mismatch")
    assert [f.subject for f in mismatch] == [cut["name"]]
    assert (mismatch[0].evidence["archive_bytes"], mismatch[0].evidence["manifest_bytes"]) == (
        cut["size_bytes"],
        cut["full_size_bytes"],
    )


def test_the_old_drill_is_overdue(demo: tuple[Path, dict[str, Any], BackupReview]) -> None:
    _, truth, review = demo
    drill = truth["drill"]
    overdue = _of(review, "backups.drill_age")
    assert len(overdue) == 1
    assert overdue[0].subject == drill["backup"]
    assert drill["age_days"] <= overdue[0].value < drill["age_days"] + 1
    assert not _of(review, "backups.drill_failed")


def test_nothing_else_is_found(demo: tuple[Path, dict[str, Any], BackupReview]) -> None:
    _, truth, review = demo
    assert str(review.last_good["name"]) == truth["last_good"]  # type: ignore[index]
    assert not _of(review, "backups.rpo")
    assert sorted({f.check for f in review.findings}) == [
        "backups.archive_truncated",
        "backups.drill_age",
        "backups.manifest_mismatch",
        "backups.schedule_gap",
        "backups.size_drop",
    ]
    sections = [review.inventory_section(), review.archives_section(), review.drills_section()]
    assert all(s.tables for s in sections)


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = write_demo(tmp_path / "a", DAYS, TZ, np.random.default_rng(9))
    b = write_demo(tmp_path / "b", DAYS, TZ, np.random.default_rng(9))
    assert a == b
    for name in a["backups"]["archives"]:
        assert (tmp_path / "a/backups/archives" / name).read_bytes() == (
            tmp_path / "b/backups/archives" / name
        ).read_bytes()


def test_a_short_demo_plants_nothing(tmp_path: Path) -> None:
    truth = write_demo(tmp_path, DAYS[-3:], TZ, np.random.default_rng(1))["backups"]
    assert truth["missed_night"] is None and truth["truncated"] is None
    assert len(truth["archives"]) == 3


def test_the_archives_hold_every_collection_the_demo_database_has(tmp_path: Path) -> None:
    from opsreview.database.demo import write_demo as write_database_demo

    out = tmp_path / "outputs" / "demo-data"
    truth = write_demo(out, DAYS, TZ, np.random.default_rng(2))["backups"]
    write_database_demo(out, DAYS[-2:], TZ, np.random.default_rng(3))  # its collections: the review day is enough
    shipped = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    params_file = tmp_path / "params" / "demo.yaml"
    params_file.parent.mkdir()
    keys = ("environment", "timezone", "store", "outputs", "database", "backups")
    params_file.write_text(yaml.safe_dump({k: shipped[k] for k in keys}), encoding="utf-8")
    ctx = ReviewContext(load_params(params_file), END)
    pull_sources(ctx, areas={"database", "backups"})
    review = load_backup_review(ctx)
    assert review.expected_collections == sorted(truth["collections"])
    assert review.missing_collections == []
    assert not _of(review, "backups.collections_missing")
