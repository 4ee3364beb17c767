"""Plotly figures of the log and error review: small, offline-friendly, local time on the x axis.

No external fonts, images or map tiles: every figure renders from the report's own
``plotly.min.js``. Times are shown in the review's timezone (as naive local timestamps, so
plotly does not shift them again). Series are aggregated before they get here, so a figure
stays a few tens of kilobytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from opsreview.localtime import local_times

__all__ = [
    "agents_chart",
    "clients_chart",
    "errors_over_time_chart",
    "fingerprints_chart",
    "ingest_chart",
    "latency_chart",
    "requests_chart",
    "route_latency_chart",
    "routes_chart",
    "status_chart",
]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
STATUS_COLOURS = {"s2xx": "#16a34a", "s3xx": "#0ea5e9", "s4xx": "#f59e0b", "s5xx": "#dc2626", "other": "#6b7280"}
LEVEL_COLOURS = {"fatal": "#7f1d1d", "error": "#dc2626", "warn": "#f59e0b", "info": "#0ea5e9", "debug": "#9ca3af"}
WINDOW_COLOUR = "rgba(220, 38, 38, 0.12)"


def _layout(fig: go.Figure, title: str, height: int = 340, **kwargs: object) -> go.Figure:
    layout: dict[str, object] = {
        "title": {"text": title, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "font": {"family": FONT, "size": 12},
        "template": "plotly_white",
        "legend": {"orientation": "h", "y": -0.18},
        "hovermode": "x unified",
    }
    fig.update_layout(**(layout | kwargs))
    return fig


def _shade(fig: go.Figure, windows: pd.DataFrame | None, tz: str, label: str = "") -> None:
    if windows is None or windows.empty:
        return
    for row in windows.head(20).to_dict("records"):
        fig.add_vrect(
            x0=pd.Timestamp(row["start"]).tz_convert(tz).tz_localize(None),
            x1=pd.Timestamp(row["end"]).tz_convert(tz).tz_localize(None),
            fillcolor=WINDOW_COLOUR,
            line_width=0,
            annotation_text=label or str(row.get("route", "")),
            annotation_position="top left",
            annotation_font_size=10,
        )


def _empty(title: str, note: str = "no data for this day") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=220)


def requests_chart(
    per_minute: pd.DataFrame,
    expected: pd.DataFrame | None,
    tz: str,
    gaps: pd.DataFrame | None = None,
    bursts: pd.DataFrame | None = None,
) -> go.Figure:
    """Requests per minute today, and the baseline's expectation for the same minutes; gaps and
    bursts shaded."""
    title = "Requests per minute"
    if per_minute.empty:
        return _empty(title)
    fig = go.Figure()
    fig.add_scatter(
        x=local_times(per_minute["minute"], tz),
        y=per_minute["requests"],
        name="today",
        line={"color": "#60a5fa", "width": 1},
    )
    if expected is not None and not expected.empty:  # drawn over today's noisy line
        fig.add_scatter(
            x=local_times(expected["minute"], tz),
            y=expected["expected"].round(1),
            name="baseline (median)",
            line={"color": "#111827", "width": 1.5},
        )
    _shade(fig, gaps, tz, "gap")
    _shade(fig, bursts, tz, "burst")
    return _layout(fig, title, yaxis_title="requests / min")


def status_chart(mix: pd.DataFrame, tz: str, windows: pd.DataFrame | None = None) -> go.Figure:
    """Requests per 5 minutes by status class (stacked), 5xx burst windows shaded."""
    title = "Status classes over time"
    if mix.empty:
        return _empty(title)
    fig = go.Figure()
    x = local_times(mix["bucket"], tz)
    for col, name in (("s2xx", "2xx"), ("s3xx", "3xx"), ("s4xx", "4xx"), ("s5xx", "5xx"), ("other", "other")):
        if col in mix and mix[col].sum() > 0:
            fig.add_bar(x=x, y=mix[col], name=name, marker_color=STATUS_COLOURS[col])
    _shade(fig, windows, tz)
    return _layout(fig, title, barmode="stack", bargap=0, yaxis_title="requests / 5 min")


def latency_chart(over_time: pd.DataFrame, tz: str, baseline_p95: float | None = None) -> go.Figure:
    """p50 / p95 / p99 response time per 5 minutes, with the baseline's p95 as a reference line."""
    title = "Response time (ms)"
    if over_time.empty or over_time["p95"].isna().all():
        return _empty(title, "no response times in this log format")
    fig = go.Figure()
    x = local_times(over_time["bucket"], tz)
    for col, colour in (("p50", "#16a34a"), ("p95", "#f59e0b"), ("p99", "#dc2626")):
        fig.add_scatter(x=x, y=over_time[col].round(1), name=col, line={"color": colour, "width": 1})
    if baseline_p95 is not None and pd.notna(baseline_p95):
        # a trace, not add_hline: on a log axis plotly places a line's annotation in log units
        fig.add_scatter(
            x=[x.min(), x.max()],
            y=[float(baseline_p95)] * 2,
            name="baseline p95",
            mode="lines",
            line={"color": "#6b7280", "width": 1, "dash": "dot"},
        )
    return _layout(fig, title, yaxis_title="ms", yaxis_type="log")


def route_latency_chart(comparison: pd.DataFrame, n: int = 15) -> go.Figure:
    """p95 per route today against the baseline's p95 (the busiest ``n`` routes)."""
    title = "p95 by route: today vs baseline"
    top = comparison.dropna(subset=["p95"]).head(n).iloc[::-1]
    if top.empty:
        return _empty(title, "no response times in this log format")
    fig = go.Figure()
    if "base_p95" in top:
        fig.add_bar(
            y=top["route"], x=top["base_p95"].round(1), name="baseline p95", orientation="h", marker_color="#9ca3af"
        )
    fig.add_bar(y=top["route"], x=top["p95"].round(1), name="today p95", orientation="h", marker_color="#f59e0b")
    return _layout(
        fig, title, height=max(300, 24 * len(top) + 120), barmode="group", xaxis_title="ms", hovermode="y unified"
    )


def routes_chart(summary: pd.DataFrame, n: int = 15) -> go.Figure:
    """The busiest routes, split into ok / 4xx / 5xx."""
    title = "Top routes by volume"
    top = summary.head(n).iloc[::-1]
    if top.empty:
        return _empty(title)
    fig = go.Figure()
    ok = top["requests"] - top["s4xx"] - top["s5xx"]
    for values, name, colour in (
        (ok, "ok", "#16a34a"),
        (top["s4xx"], "4xx", "#f59e0b"),
        (top["s5xx"], "5xx", "#dc2626"),
    ):
        fig.add_bar(y=top["route"], x=values, name=name, orientation="h", marker_color=colour)
    return _layout(fig, title, height=max(300, 24 * len(top) + 120), barmode="stack", hovermode="y unified")


def clients_chart(clients: pd.DataFrame, n: int = 15) -> go.Figure:
    """The busiest clients with the share of their requests answered 4xx."""
    title = "Top clients"
    top = clients.head(n).iloc[::-1]
    if top.empty:
        return _empty(title)
    fig = go.Figure()
    failed = (top["requests"] * top["share_4xx"]).round()
    fig.add_bar(y=top["client"], x=top["requests"] - failed, name="not 4xx", orientation="h", marker_color="#2563eb")
    fig.add_bar(y=top["client"], x=failed, name="4xx", orientation="h", marker_color="#f59e0b")
    return _layout(fig, title, height=max(300, 24 * len(top) + 120), barmode="stack", hovermode="y unified")


def agents_chart(categories: pd.DataFrame) -> go.Figure:
    """Requests per user-agent category (browser, app, bot, scanner, library, none)."""
    title = "Requests by user-agent category"
    if categories.empty:
        return _empty(title)
    fig = go.Figure(go.Bar(x=categories["category"], y=categories["requests"], marker_color="#2563eb"))
    return _layout(fig, title, height=300, yaxis_type="log", yaxis_title="requests")


def outliers_chart(slowest: pd.DataFrame, sizes: pd.DataFrame, tz: str) -> go.Figure:
    """The slowest requests over the day (ms, log axis) and oversized responses (MB)."""
    title = "Slowest requests and oversized responses"
    if slowest.empty and sizes.empty:
        return _empty(title, "no timed requests and no oversized responses")
    fig = go.Figure()
    if not slowest.empty:
        fig.add_scatter(
            x=local_times(slowest["ts"], tz),
            y=slowest["response_time_ms"],
            mode="markers",
            name="slowest requests (ms)",
            marker={"color": "#dc2626", "size": 8},
            text=slowest["method"] + " " + slowest["url"].astype(str).str[:80],
            hovertemplate="%{x|%H:%M:%S}  %{y:.0f} ms<br>%{text}<extra></extra>",
        )
    if not sizes.empty:
        fig.add_scatter(
            x=local_times(sizes["ts"], tz),
            y=sizes["bytes"] / 1e6,
            mode="markers",
            name="oversized responses (MB)",
            yaxis="y2",
            marker={"color": "#7c3aed", "size": 8, "symbol": "diamond"},
            text=sizes["route"].astype(str),
            hovertemplate="%{x|%H:%M:%S}  %{y:.1f} MB<br>%{text}<extra></extra>",
        )
    return _layout(
        fig,
        title,
        yaxis={"title": "ms", "type": "log"},
        yaxis2={"title": "MB", "overlaying": "y", "side": "right", "showgrid": False},
    )


def secrets_chart(found: pd.DataFrame) -> go.Figure:
    """Requests with a secret or card number in the URL, by kind (a bar per route)."""
    title = "Secrets and card numbers in logged URLs"
    if found.empty:
        return _empty(title, "none found in the day's URLs")
    fig = go.Figure()
    for route, rows in found.groupby("route", sort=False):
        fig.add_bar(x=rows["kind"], y=rows["requests"], name=str(route))
    return _layout(fig, title, height=300, barmode="stack", yaxis_title="requests")


def errors_over_time_chart(
    events: pd.DataFrame, tz: str, levels: Sequence[str] = ("fatal", "error", "warn")
) -> go.Figure:
    """Application events per 15 minutes and level (errors and warnings)."""
    title = "Errors and warnings over time"
    shown = events[events["level"].isin(levels)]
    if shown.empty:
        return _empty(title, "no errors or warnings this day")
    fig = go.Figure()
    for level in levels:
        rows = shown[shown["level"] == level]
        if not rows.empty:
            fig.add_bar(
                x=local_times(rows["bucket"], tz), y=rows["events"], name=level, marker_color=LEVEL_COLOURS[level]
            )
    return _layout(fig, title, barmode="stack", bargap=0, yaxis_title="events / 15 min")


def fingerprints_chart(fps: pd.DataFrame, n: int = 15) -> go.Figure:
    """The most frequent error fingerprints, new ones highlighted."""
    title = "Top error fingerprints"
    top = fps.head(n).iloc[::-1]
    if top.empty:
        return _empty(title, "no errors or warnings this day")
    labels = (top["error_type"].fillna("") + " " + top["pattern"].str.slice(0, 60)).str.strip()
    colours = ["#dc2626" if bool(new) else "#6b7280" for new in top.get("new", pd.Series(False, index=top.index))]
    fig = go.Figure(go.Bar(y=labels, x=top["count"], orientation="h", marker_color=colours))
    return _layout(fig, title + " (red: new today)", height=max(300, 24 * len(top) + 120), hovermode="y unified")


def ingest_chart(files: pd.DataFrame) -> go.Figure:
    """Parsed and unparsed lines per log file of the day."""
    title = "Lines per file: parsed / unparsed"
    if files.empty:
        return _empty(title, "no log files ingested for this day")
    names = files["host"] + " " + files["path"].str.rsplit("/", n=1).str[-1]
    fig = go.Figure()
    fig.add_bar(y=names, x=files["parsed"], name="parsed", orientation="h", marker_color="#16a34a")
    fig.add_bar(y=names, x=files["unparsed"], name="unparsed", orientation="h", marker_color="#dc2626")
    return _layout(fig, title, height=max(260, 26 * len(files) + 120), barmode="stack", hovermode="y unified")
