"""The summary notebook's "Incident timeline": the day's anomaly windows of every area on one
axis (a row per area, bars coloured by severity, deploys as vertical lines) and the incidents
they group into (:mod:`opsreview.run.timeline`), with their stories.

:func:`incident_timeline` builds it (tested); :func:`show_timeline` only displays it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from opsreview.context import ReviewContext
from opsreview.display import show_figure, show_table
from opsreview.findings import SEVERITY_COLOURS, Finding, Severity
from opsreview.localtime import Zone
from opsreview.run.summary import RunState
from opsreview.run.timeline import Deploy, Incident, build_incidents, finding_window, load_deploys
from opsreview.share import shareable

POINT = pd.Timedelta(minutes=2)  # a finding at one instant is drawn this wide, to be seen


@dataclass
class TimelineView:
    """What the section shows: ``note`` is always set (what the day's timeline amounts to);
    ``figure`` and ``table`` only when there are windows; ``problems`` are unreadable markers."""

    incidents: list[Incident]
    note: str
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None
    problems: list[str] = field(default_factory=list)


def incident_timeline(review: ReviewContext, run: RunState) -> TimelineView:
    """The day's incidents, chart and table; says so when there are no windows, and that the
    timeline is not verifiable when no area ran (no data is not a quiet day)."""
    settings = review.params.timeline
    tz = review.params.timezone
    deploys, problems = load_deploys(settings)
    start, end = (pd.Timestamp(t) for t in review.params.day_window(review.day))
    deploys = [d for d in deploys if start <= d.at < end]
    if not run.areas_run:
        note = (
            f"Not verifiable: no area review ran for {review.day}, so there are no anomaly windows to put on a "
            "timeline (this is no data, not a quiet day)."
        )
        return TimelineView([], note, problems=problems)
    incidents = build_incidents(run.findings, deploys, settings, review.day)
    if not incidents:
        ran = ", ".join(sorted(run.areas_run))
        note = f"No anomaly windows today: no finding of the areas that ran ({ran}) has a time window."
        return TimelineView([], note, problems=problems)
    worst = incidents[0]
    note = (
        f"{len(incidents)} incident(s) from the day's anomaly windows; the first: {worst.story(tz)}. "
        f"Windows at most {settings.merge_gap_minutes} min apart are one incident."
    )
    return TimelineView(
        incidents,
        note,
        timeline_chart(run.findings, deploys, tz, (start, end)),
        incidents_table(incidents, tz),
        problems,
    )


def incidents_table(incidents: list[Incident], tz: Zone) -> pd.DataFrame:
    """One row per incident, the most important first (times of another day than the review's
    with their date, as in the stories)."""
    rows = [
        {
            "rank": rank,
            "severity": i.severity.name,
            "from": i.clock(i.start, tz),
            "to": i.clock(i.end, tz, end=True),
            "minutes": round(i.minutes, 1),
            "areas": ", ".join(i.areas),
            "findings": len(i.findings),
            "deploys": ", ".join(f"{d.label} {i.clock(d.at, tz)}" for d in i.deploys),
            "story": i.story(tz),
        }
        for rank, i in enumerate(incidents, 1)
    ]
    return pd.DataFrame(rows)


def _local(ts: pd.Timestamp, tz: Zone) -> pd.Timestamp:
    """Naive local time for the chart's axis (what the reader's clock showed)."""
    return pd.Timestamp(ts).tz_convert(tz).tz_localize(None)


def timeline_chart(
    findings: list[Finding], deploys: list[Deploy], tz: Zone, day: tuple[pd.Timestamp, pd.Timestamp]
) -> go.Figure:
    """One row per area, each window a bar coloured by its severity; deploys as dashed lines."""
    fig = go.Figure()
    windowed = [(w, f) for f in findings if (w := finding_window(f)) is not None]
    areas = list(dict.fromkeys(f.area for _, f in sorted(windowed, key=lambda item: item[1].area)))
    for severity in reversed(Severity):
        rows = [(w, f) for w, f in windowed if f.severity is severity]
        if not rows:
            continue
        fig.add_bar(
            name=severity.name,
            orientation="h",
            y=[f.area for _, f in rows],
            base=[_local(w[0], tz) for w, _ in rows],
            x=[max(w[1] - w[0], POINT).total_seconds() * 1000 for w, _ in rows],
            marker_color=SEVERITY_COLOURS[severity.name],
            text=[html.escape(f.title[:160]) for _, f in rows],
            hovertemplate="%{text}<extra>%{y}</extra>",
            textposition="none",
        )
    for deploy in deploys:
        x = _local(deploy.at, tz)
        fig.add_shape(
            type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper", line={"color": "#374151", "dash": "dash"}
        )
        fig.add_annotation(
            x=x,
            y=1,
            xref="x",
            yref="paper",
            text=html.escape(deploy.version or "deploy"),
            showarrow=False,
            yanchor="bottom",
        )
    fig.update_layout(
        title=f"Anomaly windows and deploys ({tz})",
        barmode="overlay",
        height=max(220, 60 * len(areas) + 120),
        margin={"t": 50, "b": 40, "l": 90},
        xaxis={"type": "date", "range": [_local(day[0], tz), _local(day[1], tz)], "title": f"local time ({tz})"},
        yaxis={"categoryorder": "array", "categoryarray": areas[::-1], "title": None},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def show_timeline(view: TimelineView) -> None:
    """Display the section: the note, then the chart and the incidents' table, then any marker problem."""
    display(HTML(shareable(f"<p>{html.escape(view.note)}</p>")))
    if view.figure is not None:
        show_figure(view.figure)
    if view.table is not None:
        show_table(view.table, max_rows=50, caption="Incidents, most important first")
    for problem in view.problems:
        display(HTML(shareable(f"<p><b>Deploy markers left out:</b> {html.escape(problem)}</p>")))
