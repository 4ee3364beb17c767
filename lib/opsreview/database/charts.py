"""Figures of the database notebook: ops/s, latency per op type, connections, cache,
replication lag, the slowest query shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from opsreview.localtime import local_times

if TYPE_CHECKING:
    from opsreview.database.review import DatabaseReview

_PALETTE = ("#2563eb", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563")
_OPS = ("query", "insert", "update", "delete", "getmore", "command")
_LATENCY = ("reads", "writes", "commands")


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=220, xaxis_visible=False, yaxis_visible=False)
    return fig


def _x_range(review: DatabaseReview) -> list[str]:
    start, end = (t.astimezone(review.tz).replace(tzinfo=None) for t in review.window)
    return [start.isoformat(), end.isoformat()]


def _per_host(
    review: DatabaseReview,
    df: pd.DataFrame,
    title: str,
    series: list[tuple[str, str]],
    y_title: str,
    percent: bool = False,
) -> go.Figure:
    """One line per (host, series) over the day."""
    if df.empty:
        return _empty(title, "no data for this day")
    fig = go.Figure()
    colour = 0
    hosts = sorted(df["host"].unique())
    for host in hosts:
        part = df[df["host"] == host].sort_values("ts")
        x = local_times(part["ts"], review.tz)
        for column, label in series:
            if column not in part or part[column].isna().all():
                continue
            name = label if len(hosts) == 1 else f"{host} {label}"
            fig.add_scatter(
                x=x, y=part[column], mode="lines", name=name, line={"color": _PALETTE[colour % len(_PALETTE)]}
            )
            colour += 1
    fig.update_layout(
        title=title,
        height=340,
        xaxis={"type": "date", "range": _x_range(review)},
        yaxis={"title": y_title, "tickformat": ".0%" if percent else None, "rangemode": "tozero"},
        margin={"t": 40, "b": 40},
        legend={"orientation": "h"},
    )
    return fig


def ops_per_second(review: DatabaseReview) -> go.Figure:
    return _per_host(
        review,
        review.rates,
        f"Operations per second, {review.day} ({review.tz.key})",
        [(f"op_{op}_per_s", op) for op in _OPS],
        "ops/s",
    )


def latency_per_op(review: DatabaseReview) -> go.Figure:
    return _per_host(
        review,
        review.rates,
        "Mean latency per operation (Δ opLatencies / Δ ops)",
        [(f"{kind}_ms_per_op", kind) for kind in _LATENCY],
        "ms",
    )


def connections(review: DatabaseReview) -> go.Figure:
    df = review.server.copy()
    if len(df):
        total = df["conn_current"].astype("float64") + df["conn_available"].astype("float64")
        df["conn_used"] = df["conn_current"].astype("float64") / total.where(total > 0)
    fig = _per_host(
        review,
        df,
        "Connections in use (current ÷ (current + available))",
        [("conn_used", "in use")],
        "share",
        percent=True,
    )
    threshold = review.params.thresholds.connections_warning
    fig.add_hline(y=threshold, line_dash="dot", line_color="#b45309", annotation_text=f"warning {threshold:.0%}")
    return fig


def cache(review: DatabaseReview) -> go.Figure:
    df = review.server.copy()
    if len(df):
        cache_max = df["cache_max_bytes"].astype("float64").where(df["cache_max_bytes"] > 0)
        df["cache_used"] = df["cache_bytes"].astype("float64") / cache_max
        df["cache_dirty"] = df["cache_dirty_bytes"].astype("float64") / cache_max
    return _per_host(
        review,
        df,
        "WiredTiger cache: used and dirty share",
        [("cache_used", "used"), ("cache_dirty", "dirty")],
        "share",
        percent=True,
    )


def replication_lag(review: DatabaseReview) -> go.Figure:
    title = "Replication lag per member (primary optime − member optime)"
    members = review.members
    if members.empty or members["lag_s"].isna().all():
        return _empty(title, "no replica set status for this day")
    fig = go.Figure()
    for i, (member, part) in enumerate(members.sort_values("ts").groupby("member", sort=True)):
        fig.add_scatter(
            x=local_times(part["ts"], review.tz),
            y=part["lag_s"],
            mode="lines",
            name=str(member),
            line={"color": _PALETTE[i % len(_PALETTE)]},
        )
    threshold = review.params.thresholds.lag_warning_s
    fig.add_hline(y=threshold, line_dash="dot", line_color="#b45309", annotation_text=f"warning {threshold:g} s")
    fig.update_layout(
        title=title,
        height=340,
        xaxis={"type": "date", "range": _x_range(review)},
        yaxis={"title": "seconds", "rangemode": "tozero"},
        margin={"t": 40, "b": 40},
        legend={"orientation": "h"},
    )
    return fig


def slow_shapes(review: DatabaseReview, top: int = 10) -> go.Figure:
    title = "Slow query shapes by total time (top 10)"
    shapes = review.shapes
    if shapes.empty:
        return _empty(title, "no slow operation this day")
    top_shapes = shapes.nlargest(top, "total_ms").iloc[::-1]
    labels = [f"{r['op']} {r['ns']} · {str(r['shape_key'])[:8]}" for r in top_shapes.to_dict("records")]
    colours = ["#b91c1c" if bool(c) else "#2563eb" for c in top_shapes["collscan"]]
    fig = make_subplots(rows=1, cols=1)
    fig.add_bar(
        y=labels,
        x=top_shapes["total_ms"] / 1000.0,
        orientation="h",
        marker_color=colours,
        customdata=top_shapes[["count", "p95_ms", "plan_summary"]].astype(str).to_numpy(),
        hovertemplate="%{y}<br>%{x:.1f} s in %{customdata[0]} runs, p95 %{customdata[1]} ms<br>%{customdata[2]}<extra></extra>",
        name="total s",
    )
    fig.update_layout(
        title=title + " — red: collection scan",
        height=160 + 28 * len(top_shapes),
        xaxis_title="seconds",
        margin={"l": 260, "t": 40, "b": 40},
        showlegend=False,
    )
    return fig
