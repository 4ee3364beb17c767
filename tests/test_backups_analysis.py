"""The backups analysis and findings, table-driven: age against the RPO (with the time of a file
name in its own timezone), schedule gaps, size drift, manifests, collections, PBM and drills."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.backups import analysis, models
from opsreview.backups.params import BackupsParams
from opsreview.backups.review import build_review
from opsreview.backups.source import name_regex, time_in_name

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
AS_OF = dt.datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def backup(name: str, finished: dt.datetime, size: int | None = 1000, ok: bool = True, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kw.pop("kind", "archive"),
        "source": kw.pop("source", "/backups"),
        "finished_at": finished,
        "size_bytes": size,
        "ok": ok,
        "status": kw.pop("status", "ok" if ok else "failed"),
        **kw,
    }


def nightly(days: int, end: dt.datetime = AS_OF - dt.timedelta(hours=22), **kw: Any) -> list[dict[str, Any]]:
    return [backup(f"n{i}", end - dt.timedelta(days=days - 1 - i), **kw) for i in range(days)]


def inv(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return models.frame(models.INVENTORY, rows)


@pytest.mark.parametrize(
    ("name", "tz", "expected_utc"),
    [
        ("mongodump-2026-12-06T0230.archive.gz", BERLIN, dt.datetime(2026, 12, 6, 1, 30, tzinfo=UTC)),
        ("mongodump-2026-07-06T0230.archive.gz", BERLIN, dt.datetime(2026, 7, 6, 0, 30, tzinfo=UTC)),  # CEST
        ("mongodump-2026-12-06T0230.archive.gz", NY, dt.datetime(2026, 12, 6, 7, 30, tzinfo=UTC)),
        ("mongodump-2026-12-06T0230.archive.gz", UTC, dt.datetime(2026, 12, 6, 2, 30, tzinfo=UTC)),
        ("mongodump-2026-13-06T0230.archive.gz", UTC, None),  # no 13th month
        ("other-2026-12-06T0230.archive.gz", UTC, None),
    ],
)
def test_the_time_in_a_file_name_is_taken_in_the_patterns_timezone(
    name: str, tz: Any, expected_utc: dt.datetime | None
) -> None:
    regex = name_regex("mongodump-%Y-%m-%dT%H%M.archive.gz")
    assert time_in_name(name, regex, tz if isinstance(tz, ZoneInfo) else ZoneInfo("UTC")) == expected_utc


def test_a_wildcard_in_the_pattern_matches_anything() -> None:
    regex = name_regex("*-%Y%m%d-%H%M%S.gz")
    assert time_in_name("db-1.shop-20261206-013000.gz", regex, ZoneInfo("UTC")) == dt.datetime(
        2026, 12, 6, 1, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("name_tz", "rpo_hours", "breach"),
    [
        # the same file name "02:30" is 01:30 UTC in Berlin (22.5 h before AS_OF) but 07:30 UTC in
        # New York (16.5 h) and 02:30 UTC in UTC (21.5 h): only the zone tells the age
        (BERLIN, 23.0, False),
        (BERLIN, 22.0, True),
        (NY, 17.0, False),
        (NY, 16.0, True),
        (ZoneInfo("UTC"), 22.0, False),
        (ZoneInfo("UTC"), 21.0, True),
    ],
)
def test_age_of_the_last_good_backup_against_the_rpo(name_tz: ZoneInfo, rpo_hours: float, breach: bool) -> None:
    when = time_in_name(
        "mongodump-2026-12-06T0230.archive.gz", name_regex("mongodump-%Y-%m-%dT%H%M.archive.gz"), name_tz
    )
    assert when is not None
    frame = inv([backup("mongodump-2026-12-06T0230.archive.gz", when)])
    review = _review(frame, rpo_hours=rpo_hours)
    expected_age = (AS_OF - when).total_seconds() / 3600
    assert review.age_hours == pytest.approx(expected_age)
    rpo = [f for f in review.findings if f.check == "backups.rpo"]
    assert bool(rpo) is breach
    if breach:
        assert rpo[0].subject == "last good backup"
        assert rpo[0].evidence["backup"] == "mongodump-2026-12-06T0230.archive.gz"
        assert rpo[0].end == AS_OF.isoformat()


def test_a_lasting_rpo_breach_keeps_its_fingerprint_as_backups_come_and_go() -> None:
    """Day 1: the last good backup is "a", 40 h old; day 2 a newer one, "b", arrived but is again
    over the RPO (and then none at all): the same breach of the same source, one fingerprint."""
    day1 = _review(inv([backup("a", AS_OF - dt.timedelta(hours=40))]))
    day2 = _review(inv([backup("a", AS_OF - dt.timedelta(hours=64)), backup("b", AS_OF - dt.timedelta(hours=30))]))
    none = _review(inv([]))
    [r1], [r2], [r3] = ([f for f in r.findings if f.check == "backups.rpo"] for r in (day1, day2, none))
    assert (r1.evidence["backup"], r2.evidence["backup"]) == ("a", "b")  # the backup stays in the evidence
    assert r1.fingerprint == r2.fingerprint == r3.fingerprint == "backups/backups.rpo/last good backup"


def test_a_failed_newer_backup_does_not_reset_the_rpo_clock() -> None:
    rows = [
        backup("good", AS_OF - dt.timedelta(hours=40)),
        backup("bad", AS_OF - dt.timedelta(hours=10), ok=False, kind="manifest"),
    ]
    review = _review(inv(rows))
    assert review.age_hours == pytest.approx(40)
    assert {f.check for f in review.findings} >= {"backups.rpo", "backups.failed"}


def test_no_backup_at_all_breaks_the_rpo() -> None:
    review = _review(inv([]))
    assert [f.check for f in review.findings] == ["backups.rpo"]


def test_a_backup_after_the_review_day_is_not_counted() -> None:
    rows = [backup("yesterday", AS_OF - dt.timedelta(hours=30)), backup("tomorrow", AS_OF + dt.timedelta(hours=2))]
    assert analysis.age_hours(inv(rows), AS_OF) == pytest.approx(30)


@pytest.mark.parametrize(
    ("skip", "tolerance", "gaps"),
    [
        ((), 0.5, 0),
        ((3,), 0.5, 1),
        ((3, 4), 0.5, 1),  # two nights in a row: one gap of 72 h
        ((2, 5), 0.5, 2),
        ((3,), 1.5, 0),  # 48 h tolerated
    ],
)
def test_gaps_in_the_schedule(skip: tuple[int, ...], tolerance: float, gaps: int) -> None:
    rows = [r for i, r in enumerate(nightly(8)) if i not in skip]
    found = analysis.schedule_gaps(inv(rows), AS_OF, 24, tolerance)
    assert len(found) == gaps
    if gaps == 1 and skip == (3, 4):
        assert found.iloc[0]["hours"] == pytest.approx(72)
        assert (found.iloc[0]["after"], found.iloc[0]["before"], found.iloc[0]["missed"]) == ("n2", "n5", 2)


def test_a_gap_finding_has_its_window() -> None:
    rows = [r for i, r in enumerate(nightly(5)) if i != 2]
    review = _review(inv(rows))
    gap = next(f for f in review.findings if f.check == "backups.schedule_gap")
    assert (gap.start, gap.end) == (rows[1]["finished_at"].isoformat(), rows[2]["finished_at"].isoformat())
    assert gap.subject == "n1 → n3"


@pytest.mark.parametrize(
    ("sizes", "ratio", "dropped"),
    [
        ([100, 102, 104, 106, 108], 0.5, []),
        ([100, 102, 104, 33, 108], 0.5, ["n3"]),
        ([100, 102, 104, 60, 108], 0.5, []),
        ([100, 102, 104, 60, 108], 0.7, ["n3"]),
        ([100, 30, 104, 106, 108], 0.5, []),  # one backup before it: no median yet
        ([100, 102, 10, 11, 108], 0.5, ["n2", "n3"]),  # a partial dump is not part of the baseline
    ],
)
def test_size_drift_against_the_trailing_median(sizes: list[int], ratio: float, dropped: list[str]) -> None:
    rows = [dict(r, size_bytes=s) for r, s in zip(nightly(len(sizes)), sizes, strict=True)]
    found = analysis.size_drops(inv(rows), AS_OF, ratio, 7)
    assert list(found["name"]) == dropped


def test_size_drift_is_judged_per_source() -> None:
    archives = nightly(4, size=100)
    pbm = [dict(r, kind="pbm", source="pbm", name=f"p{i}", size_bytes=10) for i, r in enumerate(nightly(4))]
    assert analysis.size_drops(inv(archives + pbm), AS_OF, 0.5, 7).empty


def test_manifest_entries_the_archives_contradict() -> None:
    archives = [dict(r, name=f"a{i}", size_bytes=1000 if i != 2 else 300) for i, r in enumerate(nightly(4))]
    manifest = [
        dict(r, kind="manifest", source="m.json", name=f"a{i}", size_bytes=1000) for i, r in enumerate(nightly(5))
    ]
    found = analysis.manifest_mismatches(inv(archives + manifest), AS_OF)
    assert sorted(zip(found["name"], found["problem"], strict=True)) == [
        ("a2", "size differs from the manifest"),
        ("a4", "no archive of that name"),
    ]


@pytest.mark.parametrize(
    ("databases", "exclude", "expected"),
    [
        ([], [], ["shop.audit", "shop.orders", "shop.users"]),
        (["shop"], ["shop.audit"], ["shop.orders", "shop.users"]),
        (["other"], [], []),
    ],
)
def test_expected_collections(databases: list[str], exclude: list[str], expected: list[str]) -> None:
    seen = pd.DataFrame(
        {
            "ns": [
                "shop.orders",
                "shop.users",
                "shop.audit",
                "shop.order_view",
                "admin.system.users",
                "shop.system.profile",
            ],
            "db": ["shop", "shop", "shop", "shop", "admin", "shop"],
            "type": ["collection", "collection", "collection", "view", "collection", "collection"],
        }
    )
    assert analysis.expected_collections(seen, databases, exclude) == expected


def test_a_collection_the_database_has_and_the_archive_lacks_is_a_finding() -> None:
    rows = [dict(r, collections=["shop.orders", "shop.users"]) for r in nightly(3)]
    seen = pd.DataFrame(
        {"ns": ["shop.orders", "shop.users", "shop.audit"], "db": ["shop"] * 3, "type": ["collection"] * 3}
    )
    review = _review(inv(rows), db_collections=seen)
    found = [f for f in review.findings if f.check == "backups.collections_missing"]
    assert len(found) == 1
    assert found[0].subject == "n2"
    assert found[0].evidence["missing"] == ["shop.audit"]


def drill(
    drill_id: str,
    when: dt.datetime,
    ok: bool = True,
    counts: tuple[int, int] = (10, 10),
    hashes: tuple[str | None, str | None] = ("a", "a"),
) -> list[dict[str, Any]]:
    return [
        {
            "ts": when,
            "drill": drill_id,
            "backup": f"b-{drill_id}",
            "target": "scratch",
            "ok": ok,
            "ns": "shop.orders",
            "source_count": counts[0],
            "restored_count": counts[1],
            "hash_match": None if None in hashes else hashes[0] == hashes[1],
        },
        {
            "ts": when,
            "drill": drill_id,
            "backup": f"b-{drill_id}",
            "target": "scratch",
            "ok": ok,
            "ns": "shop.users",
            "source_count": 5,
            "restored_count": 5,
            "hash_match": None,
        },
    ]


@pytest.mark.parametrize(
    ("drills", "checks", "age"),
    [
        (drill("d1", AS_OF - dt.timedelta(days=10)), [], 10),
        (drill("d1", AS_OF - dt.timedelta(days=40)), ["backups.drill_age"], 40),
        (
            drill("d1", AS_OF - dt.timedelta(days=5), counts=(10, 9)),
            ["backups.drill_age", "backups.drill_failed"],
            None,
        ),
        (
            drill("d1", AS_OF - dt.timedelta(days=5), hashes=("a", "b")),
            ["backups.drill_age", "backups.drill_failed"],
            None,
        ),
        (drill("d1", AS_OF - dt.timedelta(days=5), hashes=("a", None)), [], 5),  # no dbHash on one side: counts decide
        (drill("d1", AS_OF - dt.timedelta(days=5), ok=False), ["backups.drill_age", "backups.drill_failed"], None),
        (
            drill("d1", AS_OF - dt.timedelta(days=20)) + drill("d2", AS_OF - dt.timedelta(days=2), counts=(10, 0)),
            ["backups.drill_failed"],
            20,
        ),
    ],
)
def test_restore_drills(drills: list[dict[str, Any]], checks: list[str], age: float | None) -> None:
    review = _review(inv(nightly(3)), drills=models.frame(models.DRILLS, drills))
    assert sorted(f.check for f in review.findings) == checks
    assert review.drill_age_days == (pytest.approx(age) if age is not None else None)


def test_no_drill_is_not_verifiable_not_fine() -> None:
    review = _review(inv(nightly(3)))
    section = review.drills_section()
    assert not section.findings
    assert [c.checklist for c in section.coverage] == [("Backup restoration tested",)]
    assert "backups.drills" in section.coverage[0].remedy


def test_nothing_configured_is_not_verifiable() -> None:
    review = build_review(
        AS_OF.date(),
        BERLIN,
        AS_OF,
        BackupsParams(),
        *(models.empty_frame(t) for t in (models.INVENTORY, models.READS, models.PBM, models.DRILLS)),
        pd.DataFrame(),
    )
    assert not review.findings  # no rpo finding: nothing is configured to tell of backups
    section = review.inventory_section()
    assert section.coverage and "Database backups" in section.coverage[0].checklist


def _review(
    frame: pd.DataFrame,
    rpo_hours: float = 26,
    drills: pd.DataFrame | None = None,
    db_collections: pd.DataFrame | None = None,
) -> Any:
    params = BackupsParams.model_validate({"archives": [{"path": "/backups"}], "rpo_hours": rpo_hours})
    return build_review(
        AS_OF.date(),
        BERLIN,
        AS_OF,
        params,
        frame,
        models.empty_frame(models.READS),
        models.empty_frame(models.PBM),
        drills if drills is not None else models.empty_frame(models.DRILLS),
        db_collections if db_collections is not None else pd.DataFrame(columns=["ns", "db", "type"]),
    )
