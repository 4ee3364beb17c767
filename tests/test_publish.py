"""`opsreview publish` (atomic, idempotent, one-line errors) and the outputs index it renders
(30-day status strip, KPI sparklines from each day's summary.json)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from opsreview.cli import main
from opsreview.exceptions import OutputsError
from opsreview.run import index_page, publish
from opsreview.run.report import ASSETS_DIR, PLOTLY_ASSET, render_outputs_index

NEWEST = dt.date(2026, 11, 30)


def write_day(outputs: Path, day: dt.date, status: str, kpis: dict[str, dict[str, Any]]) -> None:
    folder = outputs / day.isoformat()
    folder.mkdir(parents=True)
    summary = {
        "date": day.isoformat(),
        "environment": "test",
        "status": status,
        "counts": {"critical": int(status == "alert"), "warning": 0, "info": 0},
        "notebooks": [{"name": "logs", "status": "ok", "html": "logs.html", "ipynb": "logs.ipynb"}],
        "kpis": kpis,
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "index.html").write_text(f"<p>{day}</p>", encoding="utf-8")
    (folder / "logs.html").write_text(f"<p>logs {day}</p>", encoding="utf-8")
    (folder / "logs.ipynb").write_text("{}", encoding="utf-8")


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    for offset, status in ((0, "alert"), (1, "ok"), (2, "failed"), (5, "ok")):
        day = NEWEST - dt.timedelta(days=offset)
        write_day(out, day, status, {"logs": {"5xx_rate": 0.01 * (offset + 1), "p95_ms": 100.0 + offset}})
    (out / "2026-11-29" / "summary.json").write_text(
        json.dumps(
            {**json.loads((out / "2026-11-29" / "summary.json").read_text()), "kpis": {"logs": {"5xx_rate": None}}}
        )
    )
    (out / ".staging-2026-12-01-123").mkdir()  # a run in progress is never published
    (out / ASSETS_DIR).mkdir()
    (out / ASSETS_DIR / PLOTLY_ASSET).write_text("/* plotly */", encoding="utf-8")
    (out / "params.yaml").write_text(f"environment: t\nstore: {tmp_path / 'store'}\noutputs: {out}\n", encoding="utf-8")
    return out


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_publish_one_day_copies_it_the_assets_and_an_index_whose_links_resolve(outputs: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    code = main(["publish", "--params", str(outputs / "params.yaml"), "--to", str(site), "--date", "2026-11-30"])
    assert code == 0
    published = tree(site)
    source = tree(outputs / "2026-11-30")
    assert {k: v for k, v in published.items() if k.startswith("2026-11-30/")} == {
        f"2026-11-30/{k}": v for k, v in source.items()
    }
    assert f"{ASSETS_DIR}/{PLOTLY_ASSET}" in published and "index.html" in published
    assert not any(k.startswith("2026-11-29") for k in published)  # only the day asked for
    index = (site / "index.html").read_text(encoding="utf-8")
    for href in re.findall(r"href='([^']+)'", index):
        assert (site / href).exists(), href
    assert not [p for p in site.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_publishing_again_gives_the_same_tree(outputs: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish.publish_days(outputs, site, None)
    first = tree(site)
    publish.publish_days(outputs, site, None)
    assert tree(site) == first
    assert {k.split("/")[0] for k in first} == {
        "2026-11-25",
        "2026-11-28",
        "2026-11-29",
        "2026-11-30",
        ASSETS_DIR,
        "index.html",
    }


def test_a_publish_that_fails_midway_leaves_the_previous_copy_whole(
    outputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    publish.publish_days(outputs, site, [NEWEST])
    before = tree(site)
    (outputs / NEWEST.isoformat() / "logs.html").write_text("<p>changed</p>", encoding="utf-8")
    real_copy = shutil.copy2

    def failing_copy(src: Any, dst: str, **kwargs: Any) -> Any:
        if os.fspath(src).endswith("logs.ipynb"):
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copy2", failing_copy)
    with pytest.raises(OutputsError, match="No space left on device"):
        publish.publish_days(outputs, site, [NEWEST])
    assert tree(site) == before
    assert not [p for p in site.iterdir() if p.name.startswith(".")]


def test_missing_day_and_unwritable_target_are_one_line_exit_2(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = str(outputs / "params.yaml")
    site = tmp_path / "site"
    assert main(["publish", "--params", params, "--to", str(site), "--date", "2026-11-27"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no finished review for 2026-11-27" in err
    assert not site.exists()  # nothing written
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["publish", "--params", params, "--to", str(blocker / "site"), "--all"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"publish target {blocker / 'site'}: cannot create" in err


def test_index_strip_has_thirty_days_with_each_status_and_links_only_runs(outputs: Path) -> None:
    page = render_outputs_index(outputs)
    cells = re.findall(r"<(a|span) class='cell st-([a-z-]+)'[^>]*title='([0-9-]+): ([a-z ]+)'", page)
    assert len(cells) == 30
    assert cells[-1][2] == "2026-11-30" and cells[0][2] == "2026-11-01"
    by_day = {day: (tag, css) for tag, css, day, _ in cells}
    assert by_day["2026-11-30"] == ("a", "alert") and by_day["2026-11-29"] == ("a", "ok")
    assert by_day["2026-11-28"] == ("a", "failed") and by_day["2026-11-27"] == ("span", "no-run")
    assert sum(1 for tag, *_ in cells if tag == "a") == 4
    assert "<script" not in page


def test_sparklines_follow_the_kpis_of_each_summary_with_gaps(outputs: Path) -> None:
    days = index_page.load_summaries(outputs)
    window = index_page.strip_days(days)
    series = index_page.kpi_series(days, window)
    rates = series["logs"]["5xx_rate"]
    assert rates[-1] == 0.01 and rates[-2] is None and rates[-3] == 0.03 and rates[-6] == 0.06
    assert rates[:-6] == [None] * 24
    page = render_outputs_index(outputs)
    spark = re.search(r"<svg class='spark'[^>]*aria-label='logs 5xx rate over 30 days'>.*?</svg>", page)
    assert spark is not None
    # no run on 11-29: the line breaks there; the newest day is the last point, at the right edge
    assert spark.group(0).count("<polyline") == 0 and spark.group(0).count("<circle") == 4
    assert "1.00 %" in page  # the newest 5xx rate, as a percentage


def test_sparkline_scales_between_the_lowest_and_highest_value() -> None:
    svg = index_page.sparkline([1.0, 3.0, 2.0], width=100, height=30)
    points = re.search(r"points='([^']+)'", svg)
    assert points is not None
    assert points.group(1) == "0.0,28.0 50.0,2.0 100.0,15.0"
    assert "<line" in index_page.sparkline([None, None])  # no data at all: a dashed baseline


def test_symbolic_links_in_a_day_are_not_published(outputs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "store-file.txt"
    secret.write_text("not for the site", encoding="utf-8")
    (outputs / "2026-11-30" / "store-link.txt").symlink_to(secret)
    site = tmp_path / "site"
    publish.publish_days(outputs, site, None)
    assert (site / "2026-11-30" / "summary.json").exists()
    assert not (site / "2026-11-30" / "store-link.txt").exists()
    assert "not for the site" not in "".join(p.read_text(errors="replace") for p in site.rglob("*") if p.is_file())
