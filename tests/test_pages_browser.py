"""The day page, the summary report and the outputs index of a real demo run, in headless
Chromium with the network blocked (issue 14 item 6): every link resolves to a file, every chart
draws (plotly's SVG, the index's sparklines), no console errors, and the layout is readable at a
phone's 390 px and a desktop's 1440 px (the body never scrolls sideways; wide tables scroll in
their own wrapper). Screenshots are kept under ``.pytest-artifacts/browser/`` (git-ignored;
the path is printed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.browser import CHROMIUM_ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / ".pytest-artifacts" / "browser"
WIDTHS = (390, 1440)

# How far the body reaches beyond the viewport: 0 when nothing overflows it. A table wrapper
# with overflow-x (scrolling on its own) is fine, the page itself is not.
OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= doc.clientWidth + 1) return false;
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden'].includes(s.overflowX) && p !== document.body && p !== doc) return false;
    }
    return true;
  }).map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''));
  return {scroll: doc.scrollWidth - doc.clientWidth, wide: wide.slice(0, 5)};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for every page of this module."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def pages(demo_run: dict[str, Any]) -> dict[str, Path]:
    assert demo_run["proc"].returncode in (0, 1), demo_run["proc"].stdout + demo_run["proc"].stderr
    day_dir: Path = demo_run["day_dir"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {ARTIFACTS}")
    return {"index": demo_run["out"] / "index.html", "day": day_dir / "index.html", "summary": day_dir / "summary.html"}


def visit(browser: Any, html: Path, width: int, name: str) -> dict[str, Any]:
    """Open ``html`` at ``width`` px with every non-file request aborted; what the page did."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []

    def guard(route: Any, request: Any) -> None:
        if request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(html.as_uri(), wait_until="load")
        plots = page.locator(".opsreview-plot").count()
        if plots:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.opsreview-plot')].every(d => d.querySelector('svg.main-svg'))",
                timeout=30_000,
            )
        report = {
            "plots": plots,
            "drawn": page.evaluate(
                "() => [...document.querySelectorAll('.opsreview-plot')].filter(d => d.querySelector('svg.main-svg')).length"
            ),
            "sparks": page.evaluate(
                "() => [...document.querySelectorAll('svg.spark')].filter(s => s.querySelector('polyline, circle')).length"
            ),
            "links": page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"),
            "overflow": page.evaluate(OVERFLOW_JS),
            "viewport_meta": page.locator("meta[name=viewport]").count(),
            "errors": errors,
            "blocked": blocked,
        }
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    finally:
        context.close()
    return report


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["index", "day", "summary"])
def test_page_offline_links_charts_and_layout(browser: Any, pages: dict[str, Path], name: str, width: int) -> None:
    report = visit(browser, pages[name], width, name)
    assert report["errors"] == [] and report["blocked"] == []
    assert report["viewport_meta"] == 1
    assert report["overflow"]["scroll"] <= 0 and report["overflow"]["wide"] == [], report["overflow"]
    assert report["drawn"] == report["plots"]
    if name == "summary":
        assert report["plots"] >= 1
    if name == "index":
        assert report["sparks"] >= 4  # logs, probes, database and payments KPIs of the demo day
    files = [link for link in report["links"] if link.startswith("file://")]
    assert files and len(files) == len(report["links"])  # nothing points off the machine
    missing = [link for link in files if not Path(unquote(urlsplit(link).path)).exists()]
    assert missing == []
    assert (ARTIFACTS / f"{name}-{width}.png").stat().st_size > 0
