"""Figures of the probes notebook: uptime timeline, latency, certificate card, security matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from opsreview.localtime import local_times

if TYPE_CHECKING:
    from opsreview.probes.review import ProbeReview

_UP, _DOWN, _NONE = "#16a34a", "#dc2626", "#9ca3af"
_PALETTE = ("#2563eb", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563")


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=220, xaxis_visible=False, yaxis_visible=False)
    return fig


def uptime_timeline(review: ProbeReview) -> go.Figure:
    """One lane per probe over the day: green while up, red while down (hover: the reason)."""
    title = f"Probe status, {review.day} ({review.tz.key})"
    segments = review.segments
    if segments.empty:
        return _empty(title, "no http probe results for this day")
    fig = go.Figure()
    lanes = segments["probe"].astype(str) + np.where(segments["source"] == "probe", "", " (" + segments["source"] + ")")
    for state, colour in (("up", _UP), ("down", _DOWN)):
        part = segments[segments["state"] == state]
        lane = lanes[segments["state"] == state]
        start = local_times(part["start"], review.tz)
        width_ms = (part["end"] - part["start"]).dt.total_seconds() * 1000
        fig.add_bar(
            name=state,
            y=lane,
            x=width_ms,
            base=start.astype(str),
            orientation="h",
            marker_color=colour,
            customdata=np.stack([part["checks"].astype(str), part["detail"].astype(str).str.slice(0, 120)], axis=-1)
            if len(part)
            else None,
            hovertemplate="%{y}<br>%{base} for %{x:.0f} ms<br>%{customdata[0]} checks: %{customdata[1]}<extra>"
            + state
            + "</extra>",
        )
    start, end = (t.astimezone(review.tz).replace(tzinfo=None) for t in review.window)
    fig.update_layout(
        title=title,
        barmode="overlay",
        height=140 + 40 * lanes.nunique(),
        xaxis={"type": "date", "range": [start.isoformat(), end.isoformat()]},
        margin={"l": 140, "t": 40, "b": 40},
    )
    return fig


def latency_chart(review: ProbeReview) -> go.Figure:
    """Hourly p50 (dashed) and p95 (solid) latency per probe."""
    title = f"Probe latency per hour, {review.day}"
    hourly = review.latency_hourly
    if hourly.empty:
        return _empty(title, "no answered http probes for this day")
    fig = go.Figure()
    for i, (probe, rows) in enumerate(hourly.groupby("probe")):
        x = local_times(rows["bucket"], review.tz)
        colour = _PALETTE[i % len(_PALETTE)]
        fig.add_scatter(x=x, y=rows["p95"], name=f"{probe} p95", mode="lines+markers", line={"color": colour})
        fig.add_scatter(x=x, y=rows["p50"], name=f"{probe} p50", mode="lines", line={"dash": "dash", "color": colour})
    fig.update_layout(title=title, height=360, yaxis_title="ms", margin={"t": 40, "b": 40})
    return fig


def certificate_card(review: ProbeReview) -> go.Figure:
    """One gauge per certificate: days left, coloured by the warning/critical thresholds."""
    title = "TLS certificates: days until expiry"
    certs = review.certificates
    certs = certs[certs["days_left"].notna()] if len(certs) else certs
    if certs.empty:
        return _empty(title, "no TLS certificate results for this day")
    tls = review.tls_days
    fig = go.Figure()
    n = len(certs)
    top = max(90.0, float(certs["days_left"].max()))
    for i, row in enumerate(certs.itertuples(index=False)):
        colour = _DOWN if row.days_left < tls[1] else "#d97706" if row.days_left < tls[0] else _UP
        fig.add_trace(
            go.Indicator(
                mode="gauge+number",
                value=round(float(row.days_left), 1),
                title={"text": f"{row.probe}<br><sub>expires {row.expires_at:%Y-%m-%d}</sub>"},
                domain={"x": [i / n, (i + 1) / n - 0.04], "y": [0, 0.78]},
                gauge={
                    "axis": {"range": [min(0.0, float(row.days_left)), top]},
                    "bar": {"color": colour},
                    "steps": [
                        {"range": [0, tls[1]], "color": "#fee2e2"},
                        {"range": [tls[1], tls[0]], "color": "#fef3c7"},
                    ],
                },
            )
        )
    fig.update_layout(title=title, height=300, margin={"t": 50, "b": 20})
    return fig


def security_heatmap(review: ProbeReview) -> go.Figure:
    """Check x probe: green pass, red fail, grey not run; hover shows the reason."""
    title = f"Security checks, latest result of {review.day}"
    results = review.security
    if results.empty:
        return _empty(title, "no security checks ran this day")
    z = results.pivot(index="check", columns="probe", values="ok").astype("float")
    text = results.pivot(index="check", columns="probe", values="detail").reindex_like(z).fillna("not run")
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(),
            x=list(z.columns),
            y=list(z.index),
            text=text.to_numpy(),
            hovertemplate="%{y} on %{x}<br>%{text}<extra></extra>",
            colorscale=[[0, _DOWN], [1, _UP]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        title=title,
        height=160 + 22 * len(z.index),
        yaxis={"autorange": "reversed"},
        plot_bgcolor=_NONE,
        margin={"l": 160, "t": 40},
    )
    return fig
