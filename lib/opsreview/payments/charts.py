"""Figures of the payments notebook: the authorization rate against its baseline band, and
the webhook endpoint's outcomes per hour."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from opsreview.localtime import local_times

if TYPE_CHECKING:
    from opsreview.payments.review import PaymentReview


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=220, xaxis_visible=False, yaxis_visible=False)
    return fig


def _range(review: PaymentReview) -> list[str]:
    start, end = (t.astimezone(review.tz).replace(tzinfo=None) for t in review.window)
    return [start.isoformat(), end.isoformat()]


def auth_rate_band(review: PaymentReview) -> go.Figure:
    title = f"Authorization rate per hour against the baseline band (p10–p90), {review.day}"
    band = review.band
    if band.empty:
        return _empty(title, "no payment attempt this day")
    x = local_times(band["period"], review.tz)
    fig = go.Figure()
    if band["baseline_p90"].notna().any():
        fig.add_scatter(
            x=x, y=band["baseline_p90"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
        )
        fig.add_scatter(
            x=x,
            y=band["baseline_p10"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(37,99,235,0.15)",
            name="baseline p10–p90",
        )
        fig.add_scatter(
            x=x,
            y=band["baseline_median"],
            mode="lines",
            line={"color": "#2563eb", "dash": "dot"},
            name="baseline median",
        )
    fig.add_scatter(
        x=x,
        y=band["auth_rate"],
        mode="lines+markers",
        line={"color": "#111827"},
        name="today",
        customdata=band[["attempts"]].to_numpy(),
        hovertemplate="%{x}: %{y:.1%} of %{customdata[0]} attempts<extra></extra>",
    )
    fig.update_layout(
        title=title,
        height=360,
        xaxis={"type": "date", "range": _range(review)},
        yaxis={"tickformat": ".0%"},
        legend={"orientation": "h"},
    )
    return fig


def webhook_outcomes(review: PaymentReview) -> go.Figure:
    title = "Webhook deliveries per hour by outcome"
    hourly = review.webhook_hourly
    if hourly.empty:
        return _empty(title, "no delivery this day")
    x = local_times(hourly["period"], review.tz)
    fig = go.Figure()
    colours = {
        "handled": "#16a34a",
        "duplicate": "#9ca3af",
        "signature_failed": "#b45309",
        "stale": "#d97706",
        "error": "#b91c1c",
    }
    for outcome, colour in colours.items():
        if outcome in hourly and hourly[outcome].sum():
            fig.add_bar(x=x, y=hourly[outcome], name=outcome, marker_color=colour)
    fig.update_layout(
        title=title,
        barmode="stack",
        height=340,
        xaxis={"type": "date", "range": _range(review)},
        legend={"orientation": "h"},
    )
    return fig
