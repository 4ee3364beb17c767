"""The backups sources on real files: archive folders (good, truncated, foreign, incomplete),
manifests with a bad date, PBM JSON (files and a real `pbm` executable), missing folders and
unreadable files: each becomes a finding, never a crash; and the `inventory()` interface."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import stat
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from opsreview import checklist
from opsreview.backups import models
from opsreview.backups.params import BackupsParams
from opsreview.backups.review import BackupReview, load_backup_review
from opsreview.backups.source import inventory
from opsreview.context import ReviewContext
from opsreview.params import load_params
from opsreview.sources import pull_sources
from tests.test_backups_archive import DOCS, archive

FIXTURES = Path(__file__).parent / "fixtures" / "pbm"
DAY = dt.date(2026, 12, 6)  # the review day (UTC params)


def _night(day: dt.date) -> str:
    return f"mongodump-{day:%Y-%m-%d}T0230.archive.gz"


def _params(tmp_path: Path, backups: dict[str, Any]) -> ReviewContext:
    path = tmp_path / "params.yaml"
    data = {"environment": "test", "timezone": "UTC", "store": "store", "outputs": "out", "backups": backups}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return ReviewContext(load_params(path), DAY)


def _pull(ctx: ReviewContext) -> tuple[list[Any], BackupReview]:
    results = pull_sources(ctx, areas={"backups"})
    return results, load_backup_review(ctx)


def _checks(review: BackupReview) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in review.findings:
        out.setdefault(f.check, []).append(f.subject)
    return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Five nights: good, good, truncated gzip, wrong magic, good but without shop.users; plus a
    file that does not match the pattern and an archive of the day after the review day."""
    root = tmp_path / "archives"
    root.mkdir()
    nights = [DAY - dt.timedelta(days=i) for i in range(4, -1, -1)]
    full = gzip.compress(archive())
    (root / _night(nights[0])).write_bytes(full)
    (root / _night(nights[1])).write_bytes(full)
    (root / _night(nights[2])).write_bytes(full[: len(full) // 3])
    (root / _night(nights[3])).write_bytes(gzip.compress(struct.pack("<I", 0x12345678) + archive()[4:]))
    (root / _night(nights[4])).write_bytes(gzip.compress(archive({k: v for k, v in DOCS.items() if k != "shop.users"})))
    (root / "README.txt").write_text("not a backup\n", encoding="utf-8")
    (root / _night(DAY + dt.timedelta(days=1))).write_bytes(b"after the review day: not read")
    return root


def test_an_archive_folder_gives_one_row_per_archive_and_a_finding_per_problem(tmp_path: Path, folder: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": str(folder)}]})
    ctx.store.write_part(
        "db_collections",
        DAY,
        "snapshot",
        pd.DataFrame(
            {
                "ts": [pd.Timestamp("2026-12-06T23:00:00Z")] * 3,
                "ns": ["shop.orders", "shop.users", "shop.carts"],
                "db": ["shop"] * 3,
                "coll": ["orders", "users", "carts"],
                "type": ["collection"] * 3,
            }
        ),
    )
    results, review = _pull(ctx)
    assert {r.name: r.status for r in results} == {"backups_inventory": "ok"}
    assert len(review.backups) == 5
    checks = _checks(review)
    assert checks["backups.archive_truncated"] == [_night(DAY - dt.timedelta(days=2))]
    assert checks["backups.archive_unreadable"] == [_night(DAY - dt.timedelta(days=1))]
    assert checks["backups.collections_missing"] == [_night(DAY)]
    missing = next(f for f in review.findings if f.check == "backups.collections_missing")
    assert missing.evidence["missing"] == ["shop.users"]
    assert "backups.rpo" not in checks
    unreadable = next(f for f in review.findings if f.check == "backups.archive_unreadable")
    assert "0x12345678" in unreadable.title and unreadable.evidence["file"].endswith(_night(DAY - dt.timedelta(days=1)))
    reads = review.reads[review.reads["location"] == str(folder)]
    assert "1 file(s) not matching" in reads["detail"].iloc[0]


def test_without_the_database_review_the_collections_are_not_verifiable(tmp_path: Path, folder: Path) -> None:
    _, review = _pull(_params(tmp_path, {"archives": [{"path": str(folder)}]}))
    section = review.archives_section()
    assert "backups.collections_missing" not in _checks(review)
    assert any("db_collections" in c.detail for c in section.coverage)


def test_a_missing_folder_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": "no-such-folder"}], "drills": ["no-drills/*.json"]})
    results, review = _pull(ctx)
    assert {r.status for r in results} == {"ok"}
    checks = _checks(review)
    assert str(tmp_path / "no-such-folder") in checks["backups.bad_input"]
    assert str(tmp_path / "no-drills/*.json") in checks["backups.bad_input"]
    assert checks["backups.rpo"] == ["last good backup"]  # and no good backup at all


def test_a_manifest_with_a_bad_date_is_a_finding_and_its_other_entries_count(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    good = {"name": "nightly-1", "finished_at": "2026-12-06T02:40:00+00:00", "status": "ok", "size_bytes": 10}
    entries = [
        good,
        {"name": "nightly-0", "finished_at": "yesterday night", "status": "ok"},
        {"name": "nightly-x", "finished_at": "2026-12-05T02:40:00", "status": "ok"},  # no offset
        {"name": "nightly-f", "finished_at": "2026-12-05T02:40:00Z", "status": "failed", "error": "disk full"},
    ]
    (manifests / "job.json").write_text(json.dumps(entries), encoding="utf-8")
    (manifests / "broken.json").write_text("{not json", encoding="utf-8")
    _, review = _pull(_params(tmp_path, {"manifests": ["manifests/"]}))
    assert sorted(review.backups["name"]) == ["nightly-1", "nightly-f"]
    bad = [f for f in review.findings if f.check == "backups.bad_input"]
    titles = " | ".join(f.title for f in bad)
    assert "job.json entry 1: finished_at 'yesterday night' is not an ISO 8601 time" in titles
    assert "job.json entry 2: finished_at '2026-12-05T02:40:00' has no UTC offset" in titles
    assert "broken.json" in titles
    failed = next(f for f in review.findings if f.check == "backups.failed")
    assert failed.subject == "nightly-f" and "disk full" in failed.title
    assert "backups.rpo" not in _checks(review)


def test_pbm_files_give_agents_backups_and_pitr_ranges(tmp_path: Path) -> None:
    ctx = _params(
        tmp_path, {"pbm": {"status_file": str(FIXTURES / "status.json"), "list_file": str(FIXTURES / "list.json")}}
    )
    _, review = _pull(ctx)
    assert sorted(review.backups["name"]) == ["2026-12-04T01:30:25Z", "2026-12-05T01:30:21Z", "2026-12-06T01:30:18Z"]
    checks = _checks(review)
    assert checks["backups.pbm_node"] == ["rs0/db-3:27017"]
    assert checks["backups.failed"] == ["2026-12-06T01:30:18Z"]
    gap = next(f for f in review.findings if f.check == "backups.pitr_gap")
    assert (gap.start, gap.end) == ("2026-12-05T02:00:00+00:00", "2026-12-05T03:00:00+00:00")
    assert gap.value == 3600
    ranges = review.pbm[review.pbm["kind"] == "pitr_range"]
    assert len(ranges) == 2  # the list's ranges are the status's: not counted twice


def _fake_pbm(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "pbm"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_pbm_run_as_a_command(tmp_path: Path) -> None:
    script = _fake_pbm(
        tmp_path,
        f'case "$1 $2" in\n  "status --out=json") cat {FIXTURES / "status.json"} ;;\n'
        f'  "list --out=json") cat {FIXTURES / "list.json"} ;;\n  *) echo "unexpected $*" >&2; exit 9 ;;\nesac',
    )
    _, review = _pull(_params(tmp_path, {"pbm": {"command": [str(script)], "timeout_s": 20}}))
    assert _checks(review)["backups.pbm_node"] == ["rs0/db-3:27017"]
    assert set(review.reads["status"]) == {"ok"}


def test_a_failing_pbm_command_is_a_finding(tmp_path: Path) -> None:
    script = _fake_pbm(tmp_path, 'echo "connect to mongodb: server selection error" >&2; exit 1')
    results, review = _pull(_params(tmp_path, {"pbm": {"command": [str(script)]}}))
    assert {r.status for r in results} == {"ok"}
    bad = [f for f in review.findings if f.check == "backups.bad_input"]
    assert len(bad) == 2 and "server selection error" in bad[0].title


def test_a_drill_record_that_cannot_be_read_is_a_finding(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    drills.mkdir()
    (drills / "broken.json").write_text("[{", encoding="utf-8")
    (drills / "bad-date.json").write_text(json.dumps({"when": "last tuesday", "ok": True}), encoding="utf-8")
    _, review = _pull(_params(tmp_path, {"drills": ["drills"]}))
    titles = [f.title for f in review.findings if f.check == "backups.bad_input"]
    assert any("broken.json" in t for t in titles) and any("'last tuesday'" in t for t in titles)
    assert review.drills.empty
    assert review.drills_section().coverage


def test_the_inventory_interface_reads_the_sources_directly(tmp_path: Path, folder: Path) -> None:
    params = BackupsParams.model_validate({"archives": [{"path": str(folder)}], "rpo_hours": 30})
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    df = inventory(params, now=now)
    assert {"name", "kind", "finished_at", "ok", "size_bytes", "error"} <= set(df.columns)
    assert str(df["finished_at"].dt.tz) == "UTC"
    assert df["ok"].dtype == bool
    assert sorted(df["name"]) == sorted(_night(DAY - dt.timedelta(days=i)) for i in range(5))
    good = df[df["ok"]]
    assert (now - good["finished_at"].max()).total_seconds() / 3600 == pytest.approx(9.5)
    assert params.rpo_hours == 30
    # no store was written
    assert not (tmp_path / "store").exists()


def test_inventory_of_a_missing_folder_is_empty_not_an_error(tmp_path: Path) -> None:
    params = BackupsParams.model_validate({"archives": [{"path": str(tmp_path / "gone")}]})
    df = inventory(params)
    assert df.empty and "finished_at" in df.columns


def test_the_store_tables_are_replaced_on_a_second_pull(tmp_path: Path, folder: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": str(folder)}]})
    _pull(ctx)
    shutil.rmtree(folder)
    folder.mkdir()
    _, review = _pull(ctx)
    assert review.backups.empty
    assert ctx.store.count_rows(models.INVENTORY, DAY) == 0


def test_a_pbm_error_quoting_a_connection_string_leaks_no_password(tmp_path: Path) -> None:
    secret = "Pbm-S3cret-Passw0rd"
    script = _fake_pbm(
        tmp_path, f'echo "connect: mongodb://pbmuser:{secret}@db-1:27017/?replicaSet=rs0 refused" >&2; exit 1'
    )
    ctx = _params(tmp_path, {"pbm": {"command": [str(script)]}})
    _, review = _pull(ctx)
    assert [f for f in review.findings if f.check == "backups.bad_input"]
    assert secret not in json.dumps([f.to_dict() for f in review.findings])
    for part in (tmp_path / "store").rglob("*.parquet"):
        assert secret.encode() not in part.read_bytes(), part


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ({"archives": [{"path": "x", "pattern": "dump-%Y-%m.gz"}]}, "backups.archives.0.pattern", "%d"),
        ({"archives": [{"path": "x", "timezone": "Mars/Olympus"}]}, "backups.archives.0.timezone", "unknown timezone"),
        ({"size_drop_ratio": 1.5}, "backups.size_drop_ratio", "less than 1"),
        ({"rpo": 26}, "backups.rpo", "unknown key"),
    ],
)
def test_bad_params_name_the_key(tmp_path: Path, section: dict[str, Any], key: str, message: str) -> None:
    from opsreview.exceptions import ParamsError

    with pytest.raises(ParamsError, match=message) as info:
        _params(tmp_path, section)
    assert info.value.key == key


def test_relative_paths_follow_the_params_file(tmp_path: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": "dumps"}], "manifests": ["m/*.json"], "drills": ["d"]})
    settings = ctx.params.backups
    assert settings.archives[0].path == str(tmp_path / "dumps")
    assert (settings.manifests, settings.drills) == ([str(tmp_path / "m/*.json")], [str(tmp_path / "d")])


# -- reconciling the sources: archive evidence overrides the manifest ----------------------


def test_a_manifest_saying_ok_for_a_truncated_archive_is_not_a_good_backup(tmp_path: Path) -> None:
    root = tmp_path / "archives"
    root.mkdir()
    full = gzip.compress(archive())
    older, newest = _night(DAY - dt.timedelta(days=1)), _night(DAY)
    (root / older).write_bytes(full)
    (root / newest).write_bytes(full[: len(full) // 3])
    manifest = [
        {"name": name, "finished_at": f"{day:%Y-%m-%d}T02:30:00+00:00", "status": "ok", "size_bytes": len(full)}
        for name, day in ((older, DAY - dt.timedelta(days=1)), (newest, DAY))
    ]
    (tmp_path / "job.json").write_text(json.dumps(manifest), encoding="utf-8")
    backups = {"archives": [{"path": "archives"}], "manifests": ["job.json"], "rpo_hours": 30}
    _, review = _pull(_params(tmp_path, backups))
    assert review.last_good is not None and review.last_good["name"] == older
    assert review.age_hours == pytest.approx(45.5)
    assert "backups.rpo" in _checks(review)
    shown = review.backups[(review.backups["kind"] == "manifest") & (review.backups["name"] == newest)]
    assert (bool(shown["ok"].iloc[0]), shown["error"].iloc[0]) == (False, f"archive {newest} truncated")
    assert _checks(review)["backups.archive_truncated"] == [newest]  # one finding, not one per source
    # what predeploy reads: the manifest row of the truncated archive is not ok, naming the evidence
    df = inventory(
        BackupsParams.model_validate(
            backups | {"archives": [{"path": str(root)}], "manifests": [str(tmp_path / "job.json")]}
        ),
        now=dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
    )
    rows = df[(df["kind"] == "manifest") & (df["name"] == newest)]
    assert list(rows["ok"]) == [False]
    assert rows["error"].iloc[0] == f"archive {newest} truncated"
    assert bool(df[(df["kind"] == "manifest") & (df["name"] == older)]["ok"].iloc[0])


# -- bounded archive reading: the read cache and the deadline ------------------------------


def test_an_unchanged_archive_is_not_read_again_and_a_changed_one_is(tmp_path: Path, folder: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": str(folder)}]})
    _pull(ctx)
    assert (ctx.store.root / "backups_archive_reads.json").is_file()
    good = folder / _night(DAY - dt.timedelta(days=4))
    before = good.stat()
    good.write_bytes(b"\0" * before.st_size)  # same size; the mtime put back: the cache answers
    os.utime(good, ns=(before.st_atime_ns, before.st_mtime_ns))
    _, review = _pull(ctx)
    assert good.name not in _checks(review).get("backups.archive_unreadable", [])
    detail = review.reads[review.reads["location"] == str(folder)]["detail"].iloc[0]
    assert "5 unchanged since the last pull" in detail
    os.utime(good, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))  # changed: read again
    _, review = _pull(ctx)
    assert good.name in _checks(review)["backups.archive_unreadable"]


def test_archives_past_the_read_deadline_are_not_read_and_not_judged(tmp_path: Path, folder: Path) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": str(folder)}], "read_deadline_s": 0})
    _, review = _pull(ctx)
    assert sorted(review.backups["status"]) == ["not_read"] * 5
    assert set(review.backups["error"]) == {"not read (deadline)"}
    checks = _checks(review)
    assert "backups.archive_truncated" not in checks and "backups.archive_unreadable" not in checks
    assert checks["backups.bad_input"] == [str(folder)]
    assert checks["backups.rpo"] == ["last good backup"]  # nothing read is no good backup (one subject, stable)
    # once read (no deadline), the cache answers within a zero deadline; a new archive is not read
    _pull(_params(tmp_path, {"archives": [{"path": str(folder)}]}))
    (folder / _night(DAY - dt.timedelta(days=5))).write_bytes(gzip.compress(archive()))
    _, review = _pull(ctx)
    status = dict(zip(review.backups["name"], review.backups["status"], strict=True))
    assert status[_night(DAY - dt.timedelta(days=5))] == "not_read"
    assert status[_night(DAY - dt.timedelta(days=2))] == "truncated"
    assert review.last_good is not None and review.last_good["name"] == _night(DAY)


def test_inventory_honours_the_read_deadline(tmp_path: Path, folder: Path) -> None:
    params = BackupsParams.model_validate({"archives": [{"path": str(folder)}], "read_deadline_s": 0})
    df = inventory(params, now=dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC))
    assert len(df) == 5 and set(df["status"]) == {"not_read"}
    assert not df["ok"].any()


# -- PBM: oddly shaped entries, PITR stopped, ranges against the window ---------------------


def _ts(when: dt.datetime) -> int:
    return int(when.timestamp())


def test_oddly_shaped_pbm_entries_are_bad_entries_and_the_rest_is_read(tmp_path: Path) -> None:
    done = dt.datetime(2026, 12, 6, 1, 30, tzinfo=dt.UTC)
    status = {
        "cluster": ["rs0", {"rs": "rs1", "nodes": ["db-9", {"host": "db-4:27017", "role": "P", "ok": True}]}],
        "pitr": {"conf": False, "run": False},
        "backups": {
            "path": "s3://shop-pbm/prod",
            "snapshot": [
                {"name": "2026-12-05T01:30:21Z", "size": "51 MB", "status": "done", "restoreTo": _ts(done) - 86400},
                "not a snapshot",
                {"name": "2026-12-06T01:30:18Z", "size": 51234567, "status": "done", "restoreTo": _ts(done)},
            ],
        },
    }
    (tmp_path / "status.json").write_text(json.dumps(status), encoding="utf-8")
    results, review = _pull(_params(tmp_path, {"pbm": {"status_file": "status.json"}}))
    assert {r.status for r in results} == {"ok"}
    assert list(review.backups["name"]) == ["2026-12-06T01:30:18Z"]
    assert list(review.pbm[review.pbm["kind"] == "node"]["host"]) == ["db-4:27017"]
    titles = " | ".join(f.title for f in review.findings if f.check == "backups.bad_input")
    for problem in ("cluster[0] is not an object", "cluster[1].nodes[0] is not an object"):
        assert problem in titles
    assert "backups.snapshot[0]: size '51 MB' is not a non-negative number" in titles
    assert "backups.snapshot[1]: a snapshot is not an object" in titles


def test_pitr_stopped_a_hole_at_the_end_and_ranges_outside_the_window(tmp_path: Path) -> None:
    end_of_day = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)  # as_of of the review of DAY
    spans = [
        (end_of_day - dt.timedelta(days=30), end_of_day - dt.timedelta(days=29)),  # before the lookback
        (end_of_day - dt.timedelta(days=3), end_of_day - dt.timedelta(days=1)),
        (end_of_day - dt.timedelta(hours=23), end_of_day - dt.timedelta(hours=6)),
    ]
    status = {
        "pitr": {"conf": True, "run": False, "nodes": []},
        "backups": {"pitrChunks": {"pitrChunks": [{"range": {"start": _ts(a), "end": _ts(b)}} for a, b in spans]}},
    }
    (tmp_path / "status.json").write_text(json.dumps(status), encoding="utf-8")
    _, review = _pull(_params(tmp_path, {"pbm": {"status_file": "status.json"}}))
    gaps = sorted((f.start, f.end, f.value) for f in review.findings if f.check == "backups.pitr_gap")
    assert gaps == [
        ("2026-12-06T00:00:00+00:00", "2026-12-06T01:00:00+00:00", 3600.0),
        ("2026-12-06T18:00:00+00:00", "2026-12-07T00:00:00+00:00", 21600.0),
    ]
    stopped = [f for f in review.findings if f.check == "backups.pitr_error"]
    assert [f.subject for f in stopped] == ["pitr"] and "enabled but not running" in stopped[0].title


def test_pbm_without_archive_folders_leaves_the_backup_items_verifiable(tmp_path: Path) -> None:
    _, review = _pull(_params(tmp_path, {"pbm": {"status_file": str(FIXTURES / "status.json")}}))
    coverage = [*review.inventory_section().coverage, *review.archives_section().coverage]
    assert any(c.missing == "No archive folder" for c in coverage)  # said, but not against the items
    unverifiable = {item for c in coverage for item in c.checklist}
    assert "Database backups" not in unverifiable and "Regular backups verified" not in unverifiable


def test_a_drill_that_compared_no_counts_is_no_good_drill(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    drills.mkdir()
    bare = {"when": "2026-12-01T10:00:00+00:00", "backup": "b-bare", "target": "scratch", "ok": True}
    hashes_only = {
        **bare,
        "backup": "b-hashes",
        "when": "2026-12-02T10:00:00+00:00",
        "collections": [{"ns": "shop.orders", "source_hash": "a", "restored_hash": "a"}],
    }
    (drills / "drills.json").write_text(json.dumps([bare, hashes_only]), encoding="utf-8")
    _, review = _pull(_params(tmp_path, {"drills": ["drills"]}))
    assert not review.drills["ok"].any() and review.drill_age_days is None
    failed = [f for f in review.findings if f.check == "backups.drill_failed"]
    assert sorted(f.subject for f in failed) == ["b-bare", "b-hashes"]
    assert all("drill without evidence" in f.title for f in failed)
    assert any(f.check == "backups.drill_age" and f.title == "No restore drill has succeeded" for f in review.findings)


def test_an_archive_folder_that_cannot_be_listed_is_a_finding(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder.chmod(0)
    if os.geteuid() == 0:  # root lists it anyway: fail the listing as the kernel does for others
        real = os.listdir

        def listdir(path: Any) -> list[str]:
            if Path(path) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "listdir", listdir)
    try:
        results, review = _pull(_params(tmp_path, {"archives": [{"path": str(folder)}]}))
    finally:
        folder.chmod(0o755)
    assert {r.status for r in results} == {"ok"}
    bad = [f for f in review.findings if f.check == "backups.bad_input"]
    assert [f.subject for f in bad] == [str(folder)]
    assert "cannot list" in bad[0].title and "Permission denied" in bad[0].title


def test_the_collections_compared_are_of_the_review_day_or_the_day_before_never_after(
    tmp_path: Path, folder: Path
) -> None:
    ctx = _params(tmp_path, {"archives": [{"path": str(folder)}]})

    def snapshot(day: dt.date, names: list[str]) -> None:
        ts = pd.Timestamp(f"{day}T23:00:00Z")
        frame = pd.DataFrame({"ts": [ts] * len(names), "ns": names, "db": ["shop"] * len(names)})
        ctx.store.write_part("db_collections", day, "snapshot", frame.assign(type="collection"))

    snapshot(DAY + dt.timedelta(days=1), ["shop.orders", "shop.carts", "shop.users", "shop.later"])
    snapshot(DAY - dt.timedelta(days=1), ["shop.orders", "shop.carts", "shop.users", "shop.before"])
    _, review = _pull(ctx)
    missing = next(f for f in review.findings if f.check == "backups.collections_missing")
    assert missing.evidence["missing"] == ["shop.before", "shop.users"]


def test_a_bad_input_finding_names_the_checklist_items_of_its_source(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    drills.mkdir()
    (drills / "broken.json").write_text("[{", encoding="utf-8")
    _, review = _pull(_params(tmp_path, {"drills": ["drills"], "archives": [{"path": "no-such-folder"}]}))
    items = {f.evidence["source"]: f.checklist for f in review.findings if f.check == "backups.bad_input"}
    assert items == {
        "drills": ("Backup restoration tested",),
        "archives": ("Database backups", "Regular backups verified"),
    }
    for texts in items.values():
        for text in texts:
            assert "backups.bad_input" in checklist.BY_TEXT[text].checks
