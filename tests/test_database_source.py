"""The database sources in a pull: a server that cannot be read is a failed source with a
finding (the rest of the pull intact, no password anywhere); snapshot and log ingest is
idempotent; a day with no database input reads *not verifiable*, never "no findings"."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from opsreview.context import ReviewContext
from opsreview.database import models
from opsreview.database.demo import write_demo
from opsreview.database.review import load_database_review
from opsreview.params import load_params
from opsreview.sources import pull_sources

DAY = dt.date(2026, 12, 1)
TZ = "Europe/Berlin"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def params_file(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        f"environment: t\ntimezone: {TZ}\nstore: store\noutputs: out\n"
        f"logs:\n  app:\n    - host: api-1\n      paths: [app.log]\n      format: json\n"
        f"database:\n{database}",
        encoding="utf-8",
    )
    (tmp_path / "app.log").write_text(
        json.dumps({"timestamp": f"{DAY}T10:00:00Z", "level": "error", "message": "boom"}) + "\n", encoding="utf-8"
    )
    return path


def test_a_server_that_cannot_be_reached_is_a_failed_source_and_the_rest_is_pulled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "Sup3r-s3cret-pw"
    monkeypatch.setenv("OPSREVIEW_DB_URI", f"mongodb://opsreview:{password}@127.0.0.1:{closed_port()}/admin")
    path = params_file(tmp_path, '  uri: "${OPSREVIEW_DB_URI}"\n  connect_timeout_ms: 300\n  socket_timeout_ms: 300\n')
    ctx = ReviewContext(load_params(path), DAY)
    started = time.monotonic()
    results = {r.name: r for r in pull_sources(ctx)}
    elapsed = time.monotonic() - started
    assert results["database"].status == "failed"
    assert results["app_logs"].status == "ok" and results["app_logs"].rows == 1
    (finding,) = results["database"].findings
    assert finding.check == "database.source_failed" and finding.severity.name == "critical"
    assert "127.0.0.1" in finding.title  # says which server
    text = json.dumps([finding.to_dict(), results["database"].to_dict()])
    assert password not in text and "opsreview:" not in text
    assert elapsed < 10, f"the failed pull took {elapsed:.1f} s with a 300 ms connect timeout"
    assert not list((tmp_path / "store").glob(f"{models.SERVER}/*/*.parquet"))


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dbdemo")
    days = [DAY - dt.timedelta(days=i) for i in range(7, -1, -1)]
    write_demo(out, days, ZoneInfo(TZ), np.random.default_rng(7))
    return out / "database"


def test_snapshot_and_log_ingest_is_idempotent(tmp_path: Path, demo_folder: Path) -> None:
    path = params_file(
        tmp_path,
        f"  snapshot_dir: {demo_folder / 'snapshots'}\n  log_files:\n    - host: db-1\n      paths: ['{demo_folder / 'logs' / 'db-1'}/']\n",
    )
    ctx = ReviewContext(load_params(path), DAY)
    first = {r.name: r for r in pull_sources(ctx, {"database"})}
    assert first["database"].status == "ok" and first["database_logs"].status == "ok"
    assert first["database"].rows == 96  # one snapshot every 15 minutes of the local day
    counts = {t: ctx.store.count_rows(t, DAY) for t in models.SCHEMAS}
    second = {r.name: r for r in pull_sources(ctx, {"database"})}
    assert second["database_logs"].ingested == 0  # unchanged files are not read again
    assert {t: ctx.store.count_rows(t, DAY) for t in models.SCHEMAS} == counts
    assert counts[models.SLOW_QUERIES] > 0 and counts[models.MEMBERS] == 3 * 96


def test_a_day_without_database_input_is_not_verifiable_in_every_section(tmp_path: Path) -> None:
    path = params_file(tmp_path, "  hygiene:\n    enabled: true\n")
    ctx = ReviewContext(load_params(path), DAY)
    review = load_database_review(ctx)
    assert review.findings == []
    sections = [
        review.overview_section(),
        review.activity_section(),
        review.resources_section(),
        review.replication_section(),
        review.slow_queries_section(),
        review.indexes_section(),
        review.hygiene_section(),
    ]
    for section in sections:
        assert section.coverage, f"section {section.name} shows nothing and says nothing"
        assert all(c.remedy for c in section.coverage)
    covered = {item for s in sections for c in s.coverage for item in c.checklist}
    assert {
        "Monitor database performance",
        "Database query monitoring",
        "MongoDB indexes",
        "Data validation",
    } <= covered
    assert "database.uri" in sections[0].coverage[0].remedy


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_failed_live_look_still_reviews_the_snapshots_already_taken(
    tmp_path: Path, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSREVIEW_DB_URI", f"mongodb://opsreview:pw-x1@127.0.0.1:{closed_port()}/admin")
    path = params_file(
        tmp_path,
        '  uri: "${OPSREVIEW_DB_URI}"\n  connect_timeout_ms: 300\n  socket_timeout_ms: 300\n'
        f"  snapshot_dir: {demo_folder / 'snapshots'}\n",
    )
    ctx = ReviewContext(load_params(path), DAY)
    (result,) = pull_sources(ctx, {"database"})
    assert result.status == "failed"
    assert [f.check for f in result.findings] == ["database.source_failed"]
    assert "still read" in result.findings[0].title and "pw-x1" not in result.findings[0].title
    assert ctx.store.count_rows(models.SERVER, DAY) == 96  # the day's cron snapshots are in the store


def test_one_bad_snapshot_or_log_file_is_named_and_the_others_are_read(tmp_path: Path, demo_folder: Path) -> None:
    folder = _copy(demo_folder, tmp_path / "database")
    snapshots = sorted((folder / "snapshots").rglob("*.json"))
    in_day = [p for p in snapshots if p.parent.name == DAY.isoformat()]
    broken = json.loads(in_day[10].read_text(encoding="utf-8"))
    broken["slow_queries"] = [1]  # the right format, a wrong value inside
    in_day[10].write_text(json.dumps(broken), encoding="utf-8")
    in_day[11].write_text("{not json", encoding="utf-8")
    logs = sorted((folder / "logs" / "db-1").iterdir())
    gz = next(p for p in logs if p.suffix == ".gz")
    data = bytearray(gz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte inside the compressed stream
    gz.write_bytes(bytes(data))
    path = params_file(
        tmp_path,
        f"  snapshot_dir: {folder / 'snapshots'}\n  log_files:\n    - host: db-1\n      paths: ['{folder / 'logs' / 'db-1'}/']\n",
    )
    ctx = ReviewContext(load_params(path), DAY)
    results = {r.name: r for r in pull_sources(ctx, {"database"})}
    snap, logs_result = results["database"], results["database_logs"]
    assert snap.status == "ok" and logs_result.status == "ok"
    assert ctx.store.count_rows(models.SERVER, DAY) < 96  # the two bad files of the day are out
    (problem,) = snap.findings
    assert problem.check == "database.collector_error" and problem.value == 2
    assert any(in_day[11].name in p for p in problem.evidence["inputs"])
    (damaged,) = logs_result.findings
    assert gz.name in damaged.title
    assert ctx.store.count_rows(models.SLOW_QUERIES, DAY) > 0  # the review day's own file was still read


def test_a_source_error_quoting_its_input_is_masked_in_the_finding(tmp_path: Path) -> None:
    from opsreview import sources

    def pull(ctx: ReviewContext) -> sources.SourceResult:
        raise ValueError('Malformed JSON at line 3: Input: "card 4000056655665556 for order 17"')

    sources.register_source("test_quoting", area="database")(pull)
    try:
        path = params_file(tmp_path, "  hygiene:\n    enabled: true\n")
        (result,) = [
            r for r in pull_sources(ReviewContext(load_params(path), DAY), {"database"}) if r.name == "test_quoting"
        ]
    finally:
        sources._REGISTRY.pop("test_quoting")
    text = json.dumps([result.to_dict(), *(f.to_dict() for f in result.findings)])
    assert "4000056655665556" not in text and "5556" in text
