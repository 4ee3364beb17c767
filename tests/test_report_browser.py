"""A rendered report, opened in headless Chromium with no network: charts draw, no errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opsreview.cli import main
from tests.browser import open_report
from tests.nbfactory import write_notebook, write_params

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-11-20"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    nbs = tmp / "nbs"
    write_notebook(nbs, "ok")
    write_notebook(nbs, "critical")
    shutil.copy(ROOT / "notebooks" / "summary.ipynb", nbs / "summary.ipynb")
    params = write_params(tmp / "p.yaml", nbs, tmp / "out", tmp / "store")
    assert main(["run", "--params", str(params), "--date", DAY]) == 1
    return tmp / "out"


def test_chart_draws_offline_without_console_errors(rendered: Path) -> None:
    page = open_report(rendered / DAY / "ok.html")
    assert page.plots == 1 and page.drawn == 1
    assert page.console_errors == []
    assert page.blocked == []  # nothing even tried to reach the network
    assert "sample finding for 2026-11-20" in page.text


def test_summary_report_rolls_up_findings_and_draws(rendered: Path) -> None:
    page = open_report(rendered / DAY / "summary.html")
    assert page.plots >= 1 and page.drawn == page.plots
    assert page.console_errors == [] and page.blocked == []
    assert "a critical finding" in page.text and "sample finding for 2026-11-20" in page.text
    assert "not verifiable" in page.text  # checklist items of areas that did not run


def test_index_pages_have_no_errors(rendered: Path) -> None:
    for html in (rendered / "index.html", rendered / DAY / "index.html"):
        page = open_report(html)
        assert page.console_errors == [] and page.blocked == []
        assert DAY in page.text
