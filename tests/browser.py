"""Open rendered reports in Debian's headless Chromium with the network blocked."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import skip_or_fail

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class PageReport:
    plots: int
    drawn: int
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    text: str = ""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    return str(path)


def open_report(html: Path) -> PageReport:
    """Load a report from file://, abort every non-file request, count drawn plotly charts."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    errors: list[str] = []
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()

            def guard(route, request) -> None:  # type: ignore[no-untyped-def]
                if request.url.startswith("file://"):
                    route.continue_()
                else:
                    blocked.append(request.url)
                    route.abort()

            page.route("**/*", guard)
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(html.as_uri(), wait_until="load")
            plots = page.locator(".opsreview-plot").count()
            if plots:
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.opsreview-plot')].every(d => d.querySelector('svg.main-svg'))",
                    timeout=20_000,
                )
            drawn = page.evaluate(
                "() => [...document.querySelectorAll('.opsreview-plot')].filter(d => d.querySelector('svg.main-svg')).length"
            )
            text = page.inner_text("body")
        finally:
            browser.close()
    return PageReport(plots=plots, drawn=drawn, console_errors=errors, blocked=blocked, text=text)
