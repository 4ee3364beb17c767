"""The index of all review dates (``outputs/index.html``): a 30-day status strip, the trend of
each area's headline numbers (KPIs) as inline SVG sparklines, and one row per date.

Everything comes from each day's ``summary.json`` (``status``, ``counts``, ``kpis``), so the
page is the same wherever the day folders are (``opsreview publish`` renders it again in the
published folder). No script and no chart library: the page works offline as it is, and two
renderings of the same days are byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from opsreview.findings import kpi_number
from opsreview.share import shareable

STRIP_DAYS = 30
STATUS_COLOURS = {"ok": "#15803d", "alert": "#b45309", "failed": "#b91c1c", "no run": "#d1d5db"}
# How each KPI reads (label, how its value is shown); others are shown by name.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "5xx_rate": ("5xx rate", "percent"),
    "p95_ms": ("p95 ms", "number"),
    "requests": ("requests", "number"),
    "uptime_pct": ("uptime %", "number"),
    "slow_ops": ("slow operations", "number"),
    "repl_lag_max_s": ("max replication lag s", "number"),
    "auth_rate": ("authorization rate", "percent"),
    "payments": ("payments", "number"),
}
INDEX_CSS = """
.strip{display:flex;flex-wrap:wrap;gap:3px;margin:.5rem 0 1rem}
.strip .cell{display:inline-block;width:1.6rem;height:1.6rem;line-height:1.6rem;text-align:center;border-radius:3px;
font-size:.75em;color:#fff;text-decoration:none}
.strip .st-no-run{color:#374151}
.legend span{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin:0 .25rem 0 .75rem;vertical-align:middle}
svg.spark{vertical-align:middle;overflow:visible;display:block;margin:.25rem 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.75rem;margin:.5rem 0 1rem}
.kpi{border:1px solid #e5e7eb;border-radius:6px;padding:.5rem .75rem}.kpi .name{font-size:.85em;color:#374151}
.kpi .value{font-size:1.15em;font-weight:600}.kpi .range{font-size:.8em;color:#6b7280}
"""


def load_summaries(folder: Path) -> dict[dt.date, dict[str, Any]]:
    """Every finished review day under ``folder`` (a date-named folder with a readable summary.json)."""
    days: dict[dt.date, dict[str, Any]] = {}
    for path in folder.glob("*/summary.json"):
        try:
            day = dt.date.fromisoformat(path.parent.name)
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict):
            days[day] = summary
    return days


def strip_days(days: dict[dt.date, dict[str, Any]], end: dt.date | None = None, n: int = STRIP_DAYS) -> list[dt.date]:
    """The ``n`` days of the strip, oldest first, ending with ``end`` (default: the newest review)."""
    last = end or (max(days) if days else dt.date.today())
    return [last - dt.timedelta(days=i) for i in range(n - 1, -1, -1)]


def day_status(summary: dict[str, Any] | None) -> str:
    """ok / alert / failed / no run."""
    if summary is None:
        return "no run"
    status = str(summary.get("status", ""))
    return status if status in STATUS_COLOURS else "failed"


def status_strip(days: dict[dt.date, dict[str, Any]], window: list[dt.date]) -> str:
    cells = []
    for day in window:
        status = day_status(days.get(day))
        label = f"{day.isoformat()}: {status}"
        style = f"background:{STATUS_COLOURS[status]}"
        css = f"cell st-{status.replace(' ', '-')}"
        if day in days:
            cells.append(
                f"<a class='{css}' style='{style}' href='{day.isoformat()}/index.html' title='{label}' "
                f"aria-label='{label}'>{day.day}</a>"
            )
        else:
            cells.append(f"<span class='{css}' style='{style}' title='{label}' aria-label='{label}'>{day.day}</span>")
    legend = "".join(f"<span style='background:{c}'></span>{html.escape(s)}" for s, c in STATUS_COLOURS.items())
    return f"<div class='strip'>{''.join(cells)}</div><p class='legend'>{legend}</p>"


def sparkline(values: list[float | None], width: int = 150, height: int = 30, label: str = "") -> str:
    """An inline SVG line of ``values`` (None: a gap, no point drawn); the last value is a dot."""
    numbers = [v for v in values if v is not None]
    title = f"<title>{html.escape(label)}</title>" if label else ""
    if not numbers:
        return (
            f"<svg class='spark' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
            f"aria-label='{html.escape(label)}'>{title}<line x1='0' y1='{height / 2}' x2='{width}' y2='{height / 2}' "
            "stroke='#d1d5db' stroke-dasharray='2 3'/></svg>"
        )
    low, high = min(numbers), max(numbers)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        if high == low:  # a flat line reads in the middle
            return round(i * step, 1), height / 2
        return round(i * step, 1), round(height - 2 - (v - low) / span * (height - 4), 1)

    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(point(i, v))
    shapes = []
    for segment in segments:
        if len(segment) > 1:
            coords = " ".join(f"{x},{y}" for x, y in segment)
            shapes.append(f"<polyline fill='none' stroke='#1d4ed8' stroke-width='1.5' points='{coords}'/>")
        elif segment:
            x, y = segment[0]
            shapes.append(f"<circle cx='{x}' cy='{y}' r='1.5' fill='#1d4ed8'/>")
    last = next(((i, v) for i, v in reversed(list(enumerate(values))) if v is not None), None)
    if last is not None:
        x, y = point(*last)
        shapes.append(f"<circle class='last' cx='{x}' cy='{y}' r='2.5' fill='#111'/>")
    return (
        f"<svg class='spark' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{html.escape(label)}'>{title}{''.join(shapes)}</svg>"
    )


def format_kpi(name: str, value: float | None) -> str:
    if value is None:
        return "no data"
    kind = KPI_LABELS.get(name, (name, "number"))[1]
    if kind == "percent":
        return f"{value * 100:.2f} %"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.2f}"


def kpi_series(days: dict[dt.date, dict[str, Any]], window: list[dt.date]) -> dict[str, dict[str, list[float | None]]]:
    """area -> KPI -> one value per day of ``window`` (None: no run, or no data that day)."""
    names: dict[str, dict[str, None]] = {}
    for day in window:
        for area, kpis in (days.get(day, {}).get("kpis") or {}).items():
            if isinstance(kpis, dict):
                names.setdefault(str(area), {}).update(dict.fromkeys(str(k) for k in kpis))
    series: dict[str, dict[str, list[float | None]]] = {}
    for area, kpi_names in names.items():
        for name in kpi_names:
            series.setdefault(area, {})[name] = [
                kpi_number(((days.get(day, {}).get("kpis") or {}).get(area) or {}).get(name)) for day in window
            ]
    return series


def trends(days: dict[dt.date, dict[str, Any]], window: list[dt.date]) -> str:
    series = kpi_series(days, window)
    if not series:
        return "<p>No KPIs yet: the area notebooks emit them (<code>show_kpis</code>) from this version on.</p>"
    cards = []
    for area in sorted(series):
        for name, values in series[area].items():
            label = KPI_LABELS.get(name, (name, "number"))[0]
            known = [v for v in values if v is not None]
            spread = f"{format_kpi(name, min(known))} – {format_kpi(name, max(known))}" if known else "no data"
            aria = f"{area} {label} over {len(window)} days"
            cards.append(
                f"<div class='kpi'><div class='name'>{html.escape(area)} &middot; {html.escape(label)}</div>"
                f"{sparkline(values, label=aria)}<div class='value'>{format_kpi(name, values[-1])}</div>"
                f"<div class='range'>{len(known)} day(s): {spread}</div></div>"
            )
    return f"<div class='kpis'>{''.join(cards)}</div>"


def date_rows(days: dict[dt.date, dict[str, Any]], badge: Any) -> str:
    rows = []
    for day in sorted(days, reverse=True):
        summary = days[day]
        counts = summary.get("counts", {})
        cells = "".join(f"<td class='sev-{sev}'>{counts.get(sev, 0)}</td>" for sev in ("critical", "warning", "info"))
        iso = day.isoformat()
        links = " ".join(
            f"<a href='{iso}/{html.escape(str(nb['html']))}'>{html.escape(str(nb['name']))}</a>"
            for nb in summary.get("notebooks", [])
        )
        rows.append(
            f"<tr><td><a href='{iso}/index.html'>{iso}</a></td>"
            f"<td>{html.escape(str(summary.get('environment', '')))}</td><td>{badge(str(summary.get('status', '?')))}</td>"
            f"{cells}<td>{links}</td></tr>"
        )
    return "".join(rows) or "<tr><td colspan='7'>No reviews yet.</td></tr>"


def render_outputs_index(outputs: Path, end: dt.date | None = None) -> str:
    """The index page of ``outputs`` (see the module docstring)."""
    from opsreview.run.report import _badge, _page

    days = load_summaries(outputs)
    window = strip_days(days, end)
    body = (
        "<h1>opsreview &mdash; daily reviews</h1>"
        f"<h2>Last {len(window)} days</h2>{status_strip(days, window)}"
        f"<h2>Trends</h2>{trends(days, window)}"
        "<h2>All dates</h2><table><tr><th>date</th><th>environment</th><th>status</th>"
        f"<th>critical</th><th>warning</th><th>info</th><th>reports</th></tr>{date_rows(days, _badge)}</table>"
    )
    return shareable(_page("opsreview reviews", body, INDEX_CSS))
