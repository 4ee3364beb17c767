"""The probes notebook's data: one call loads the day and 30 days of history, analyses and judges it.

:func:`load_probe_review` reads the store once (every Parquet part of the days plus any
uncompacted spool) and returns a :class:`ProbeReview` whose attributes are the notebook's
sections: uptime, outages, latency, certificates, security matrix and findings; one method
per notebook section returns its :class:`~opsreview.display.Section` (chart and table) for
:func:`~opsreview.display.show_section`. Tables for display (:meth:`ProbeReview.table`) show
local times in the params' timezone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import Finding
from opsreview.localtime import local_columns
from opsreview.probes import analysis, charts
from opsreview.probes import findings as probefindings
from opsreview.probes.source import history_days, load_probe_results


@dataclass
class ProbeReview:
    day: dt.date
    tz: ZoneInfo
    window: tuple[dt.datetime, dt.datetime]
    results: pd.DataFrame  # the review day
    history: pd.DataFrame  # http rows of the review day and the 29 days before
    uptime: pd.DataFrame
    outages: pd.DataFrame
    segments: pd.DataFrame
    latency_hourly: pd.DataFrame
    latency_day: pd.DataFrame
    latency_daily: pd.DataFrame
    certificates: pd.DataFrame
    security: pd.DataFrame
    gaps: pd.DataFrame
    tls_days: tuple[float, float] = (21.0, 7.0)  # warning, critical
    findings: list[Finding] = field(default_factory=list)

    @property
    def matrix(self) -> pd.DataFrame:
        return analysis.security_matrix(self.security)

    def uptime_section(self) -> Section:
        return Section("uptime", [charts.uptime_timeline(self)], [("Uptime % per probe", self.table("uptime"))])

    def outages_section(self) -> Section:
        return Section("outages", tables=[("", self.table("outages"))])

    def latency_section(self) -> Section:
        return Section("latency", [charts.latency_chart(self)], [("Latency of the day, ms", self.table("latency_day"))])

    def certificates_section(self) -> Section:
        return Section("certificates", [charts.certificate_card(self)], [("", self.table("certificates"))])

    def security_section(self) -> Section:
        return Section("security", [charts.security_heatmap(self)], [("", self.matrix)])

    def table(self, name: str) -> pd.DataFrame:
        """A section's table for display: local times, rounded numbers."""
        df = local_columns(getattr(self, name), self.tz, "%Y-%m-%d %H:%M")
        for column in df.columns:
            if pd.api.types.is_float_dtype(df[column]):
                df[column] = df[column].round(2)
        return df


def analyse(day_results: pd.DataFrame, history: pd.DataFrame, ctx: ReviewContext) -> ProbeReview:
    """Everything the notebook shows, from the day's results and the ``http`` rows of the 30
    days ending with it (pure apart from reading params and dates from ``ctx``)."""
    params = ctx.params
    settings = params.probes
    start, end = ctx.window
    day = analysis.in_window(day_results, start, end)
    results_30d = analysis.http_rows(history)
    http_day = analysis.http_rows(day)
    review = ProbeReview(
        day=ctx.day,
        tz=params.tz,
        window=(start, end),
        results=day,
        history=results_30d,
        uptime=analysis.uptime_table(results_30d, end),
        outages=analysis.find_outages(http_day, settings.thresholds.outage_min_failures),
        segments=analysis.state_segments(http_day),
        latency_hourly=analysis.latency_over_time(http_day, "1h"),
        latency_day=analysis.latency_summary(http_day),
        latency_daily=analysis.latency_by_day(results_30d, params.timezone),
        certificates=analysis.certificates(day),
        security=analysis.security_results(day),
        gaps=analysis.monitoring_gaps(http_day, pd.Timedelta(minutes=settings.thresholds.stale_after_minutes)),
        tls_days=(settings.tls.warning_days, settings.tls.critical_days),
    )
    review.findings = [
        *probefindings.outage_findings(review.outages, settings, params.tz),
        *probefindings.uptime_findings(review.uptime, settings),
        *probefindings.latency_findings(review.latency_day, settings),
        *probefindings.certificate_findings(review.certificates, settings),
        *probefindings.security_findings(review.security),
        *probefindings.data_findings(day, review.gaps, settings, ctx.day, params.tz),
        *probefindings.coverage_findings(day),
    ]
    return review


def load_probe_review(ctx: ReviewContext) -> ProbeReview:
    """Read the review day and the ``http`` rows of its 30-day history from the store; analyse them."""
    day = load_probe_results(ctx.store, [ctx.day])
    earlier = load_probe_results(ctx.store, history_days(ctx.day)[:-1], checks=["http"])
    parts = [f for f in (earlier, analysis.http_rows(day)) if len(f)]
    history = pd.concat(parts, ignore_index=True) if parts else earlier
    return analyse(day, history, ctx)
