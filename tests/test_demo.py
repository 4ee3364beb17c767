"""Demo data: deterministic for a seed, with the incidents it claims in ground-truth.json."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from opsreview.demo import demo_is_current, generate_demo

END = dt.date(2026, 11, 23)


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "store" not in p.parts):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        h.update(path.relative_to(folder).as_posix().encode() + data)
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=3, requests_per_day=5000, seed=7, end_date=END)
    return out


def test_same_seed_same_data_other_seed_other_data(demo: Path, tmp_path: Path) -> None:
    generate_demo(tmp_path / "again", days=3, requests_per_day=5000, seed=7, end_date=END)
    generate_demo(tmp_path / "other", days=3, requests_per_day=5000, seed=8, end_date=END)
    assert digest(tmp_path / "again") == digest(demo)
    assert digest(tmp_path / "other") != digest(demo)


def test_layout_and_ground_truth(demo: Path) -> None:
    truth = json.loads((demo / "ground-truth.json").read_text())
    assert truth["review_date"] == "2026-11-23" and truth["timezone"] == "Europe/Berlin"
    kinds = {i["kind"] for i in truth["incidents"]}
    assert {"5xx_burst", "latency_regression", "auth_401_burst", "health_outage", "tls_expiry"} <= kinds
    assert demo_is_current(demo, END) and not demo_is_current(demo, END + dt.timedelta(days=1))
    for host in ("api-1", "api-2"):
        names = sorted(p.name for p in (demo / "access" / host).iterdir())
        assert names[-1] == "access-2026-11-23.log" and names[0].endswith(".log.gz")
    assert (demo / "store" / "probe_results" / "date=2026-11-23").is_dir()


def test_access_lines_carry_the_planted_401_burst(demo: Path) -> None:
    truth = json.loads((demo / "ground-truth.json").read_text())
    burst = next(i for i in truth["incidents"] if i["kind"] == "auth_401_burst")
    lines = [
        line
        for host in ("api-1", "api-2")
        for line in (demo / "access" / host / "access-2026-11-23.log").read_text().splitlines()
        + (demo / "access" / host / "access-2026-11-22.log").read_text().splitlines()
    ]
    stuffing = [
        ln for ln in lines if ln.startswith(burst["client"] + " ") and '"POST /api/auth/login HTTP/1.1" 401 ' in ln
    ]
    assert len(stuffing) == burst["requests"]
    assert all(ln.endswith(" ms") for ln in lines)


def test_a_demo_without_an_areas_data_is_not_current(demo: Path, tmp_path: Path) -> None:
    assert demo_is_current(demo, END)
    truth = json.loads((demo / "ground-truth.json").read_text(encoding="utf-8"))
    assert {"database", "payments"} <= set(truth)
    older = tmp_path / "older"
    older.mkdir()
    del truth["payments"]  # a data set written before the payments area existed
    (older / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    assert not demo_is_current(older, END)
