"""Figures of the backups notebook: the size of every backup over time, good ones and not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from opsreview.findings import SEVERITY_COLOURS
from opsreview.localtime import local_times

if TYPE_CHECKING:
    from opsreview.backups.review import BackupReview


def backup_sizes(review: BackupReview) -> go.Figure:
    """One bar per backup (MB) per source, the ones that are not good in the critical colour."""
    fig = go.Figure()
    title = f"Backup sizes, the last {review.params.lookback_days} days up to {review.day}"
    backups = review.backups
    if backups.empty or backups["size_bytes"].isna().all():
        fig.add_annotation(text="no backup with a size", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(title=title, height=220, xaxis_visible=False, yaxis_visible=False)
        return fig
    for (kind, source), series in backups.groupby(["kind", "source"], sort=True):
        ok = series["ok"].fillna(False).astype(bool)
        fig.add_bar(
            x=local_times(series["finished_at"], review.tz),
            y=series["size_bytes"].astype(float) / 1e6,
            name=f"{kind}: {str(source).rsplit('/', 1)[-1]}",
            marker_color=[SEVERITY_COLOURS["info"] if good else SEVERITY_COLOURS["critical"] for good in ok],
            text=series["name"],
            hovertemplate="%{text}<br>%{y:.1f} MB<extra></extra>",
        )
    fig.update_layout(title=title, height=320, barmode="group", yaxis_title="MB", legend_orientation="h")
    return fig
