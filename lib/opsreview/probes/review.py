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
from opsreview.findings import Finding, kpi_number
from opsreview.localtime import local_columns
from opsreview.probes import analysis, charts
from opsreview.probes import findings as probefindings
from opsreview.probes.findings import HEALTH, HTTPS
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
    targets: tuple[str, ...] = ()  # configured probe targets (to say why a day has no results)
    prometheus: bool = False  # results are also read from Prometheus

    @property
    def matrix(self) -> pd.DataFrame:
        return analysis.security_matrix(self.security)

    def kpis(self) -> dict[str, float | None]:
        """The day's headline number: the uptime % of the worst probe (None: no health checks)."""
        day = self.uptime["uptime_day"].dropna() if "uptime_day" in self.uptime.columns else pd.Series([])
        return {"uptime_pct": kpi_number(day.min()) if len(day) else None}

    def uptime_section(self) -> Section:
        section = Section("uptime", [charts.uptime_timeline(self)], [("Uptime % per probe", self.table("uptime"))])
        self._lacking(section, "http", "health checks", (HEALTH,))  # the 7/30-day columns still show
        return section

    def outages_section(self) -> Section:
        section = Section("outages")
        if not self._lacking(section, "http", "health checks", (HEALTH,)):
            section.tables.append(("", self.table("outages")))
        return section

    def latency_section(self) -> Section:
        section = Section("latency")
        if not self._lacking(section, "http", "health checks", (HEALTH,)):
            section.figures.append(charts.latency_chart(self))
            section.tables.append(("Latency of the day, ms", self.table("latency_day")))
        return section

    def certificates_section(self) -> Section:
        section = Section("certificates")
        if not self._lacking(section, "tls", "TLS checks", (HTTPS,)):
            section.figures.append(charts.certificate_card(self))
            section.tables.append(("", self.table("certificates")))
        return section

    def security_section(self) -> Section:
        section = Section("security")
        security_items = tuple(i for i in probefindings.ALL_ITEMS if i not in (HEALTH, HTTPS))
        if self._no_results(section, security_items):
            return section
        section.figures.append(charts.security_heatmap(self))
        section.tables.append(("", self.matrix))
        # the items no check of the day spoke to (the ``probes.coverage`` finding), with the
        # check family that would: how to make them verifiable
        uncovered = [f for f in self.findings if f.check == "probes.coverage"]
        items = [i for f in uncovered for i in f.checklist if i in security_items]
        if items:
            families = {item: family for family, item in probefindings.CHECKLIST_BY_FAMILY.items()}
            wanted = list(dict.fromkeys(families.get(i, "auth") for i in items))  # RBAC: auth with admin routes
            section.not_verifiable(
                "probes",
                "No security checks",
                f"no result today speaks to {', '.join(items)}",
                f"enable `checks: [{', '.join(wanted)}]` on a target under `probes.targets` (role checks need "
                "`auth.admin` endpoints; `exposure` and rate-limit bursts need `allow_active: true`)",
                self.targets,
                items,
            )
        return section

    def _no_results(self, section: Section, checklist: tuple[str, ...]) -> bool:
        """Say in ``section`` that the day has no probe result at all (and why it may not); True if so."""
        if not self.results.empty:
            return False
        if self.targets or self.prometheus:
            configured = ", ".join([*self.targets, *(["probes.prometheus"] if self.prometheus else [])])
            detail = f"the store holds none for {self.day} (configured: {configured})"
            remedy = "schedule `opsreview probe --params P --once` every minute from cron (README: Probes)" + (
                "; check that Prometheus answers (the `probes` source on the day page)" if self.prometheus else ""
            )
        else:
            detail = "no target is configured under `probes.targets` and no `probes.prometheus`"
            remedy = (
                "add the API's health URL under `probes.targets` and schedule `opsreview probe --params P --once` "
                "every minute (or point `probes.prometheus` at blackbox_exporter's Prometheus)"
            )
        section.not_verifiable("probes", "No probe results", detail, remedy, self.targets, checklist)
        return True

    def _lacking(self, section: Section, check: str, what: str, checklist: tuple[str, ...]) -> bool:
        """Say in ``section`` that the day has no ``check`` result (no result at all, or none of
        that family); True if so."""
        if self._no_results(section, checklist):
            return True
        if (self.results["check"] == check).any():
            return False
        if check == "tls":
            detail = "no target probed an `https://` URL with the `tls` check today"
            remedy = "probe the API's `https://` URL under `probes.targets` (its `tls` check is on by default)"
        else:
            detail = f"the day's probe results hold no `{check}` check"
            remedy = f"add `{check}` to the `checks:` of a target under `probes.targets`"
        section.not_verifiable("probes", f"No {what}", detail, remedy, self.targets, checklist)
        return True

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
        targets=tuple(t.name for t in settings.targets),
        prometheus=settings.prometheus is not None,
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
