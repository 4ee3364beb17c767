"""The application-error review of one day: what each section of the `errors` notebook shows.

:class:`AppErrorReview` opens the day's `app_events` and the earlier days' (up to
``new_fingerprint_lookback_days``) as lazy DuckDB relations. Sections: events over time per
level and host, error fingerprints (new today, spiking, fatal), and the ingest of the
application-log files. For drilling in::

    errors.today_with_fingerprints().filter("fingerprint = '3f1c0a9b2d4e'").df()
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import Finding, Severity
from opsreview.localtime import local_columns
from opsreview.logs import baseline, charts, health
from opsreview.logs.app import analysis as app_errors
from opsreview.logs.app import findings
from opsreview.logs.evidence import ERROR_TRACKING
from opsreview.logs.review import SectionedReview, hosts_logging_around, log_files
from opsreview.masking import masked
from opsreview.relations import Relation

__all__ = ["AppErrorReview", "open_app_errors"]


class AppErrorReview(SectionedReview):
    """The day's application events, their history, and one method per `errors` notebook section."""

    def __init__(self, review: ReviewContext) -> None:
        super().__init__(review, [s.host for s in review.params.logs.app])
        store = review.store
        self.today: Relation | None = store.relation("app_events", [review.day], self.con)
        horizon = review.day - dt.timedelta(days=self.th.new_fingerprint_lookback_days)
        self.history_days = [d for d in store.days("app_events") if horizon <= d < review.day]
        self.baseline_days = [d for d in review.baseline_days if d in set(self.history_days)]
        self.history: Relation | None = store.relation("app_events", self.history_days, self.con)

    def today_with_fingerprints(self) -> Relation | None:
        """The day's events with ``pattern``, ``frame`` and ``fingerprint`` columns (lazy)."""
        return app_errors.with_fingerprint(self.today) if self.today is not None else None

    def overview(self) -> Section:
        """Errors and warnings over time; events per host and level; hosts that went quiet."""
        section = Section("overview")
        if self.today is None:
            section.figures.append(
                charts.errors_over_time_chart(pd.DataFrame(columns=["bucket", "level", "events"]), self.tz)
            )
            if self.hosts:
                section.findings.append(health.no_data_finding("errors", "application-log events", self.hosts))
            self.no_lines(section, "app", ("Error logging",))
            return self._done(section)
        section.figures.append(charts.errors_over_time_chart(app_errors.events_over_time(self.today), self.tz))
        per_host = app_errors.level_counts(self.today)
        missing = [h for h in self.hosts if h not in set(per_host["host"])]
        section.tables.append(("Events per host and level", local_columns(per_host, self.tz)))
        for host in missing:
            section.findings.append(health.no_data_finding("errors", f"application-log events of {host}", [host]))
        if self.history is not None and self.baseline_days:
            section.findings += self._quiet_hosts()
        return self._done(section)

    def _quiet_hosts(self) -> list[Finding]:
        """Gaps: hosts whose application log went silent where the baseline had lines."""
        assert self.today is not None and self.history is not None
        per_minute = (
            "SELECT to_timestamp(floor(epoch(ts) / 60) * 60) AS minute, host, count(*) AS events FROM t GROUP BY ALL"
        )
        today = self.today.query("t", per_minute)
        base = self.history.filter(
            " OR ".join(f"CAST(timezone('{self.tz}', ts) AS DATE) = DATE '{d}'" for d in self.baseline_days)
        ).query("t", per_minute)
        if today is None or base is None:
            return []
        today_df, base_df = today.df(), base.df()
        for df in (today_df, base_df):
            df["minute"] = pd.to_datetime(df["minute"], utc=True)
        expected = baseline.expected_per_minute(base_df, ["host"], "events", self.tz, self.baseline_days)
        gaps = baseline.quiet_gaps(
            today_df,
            ["host"],
            "events",
            self.elapsed_window(today_df["minute"].max() if not today_df.empty else None),
            expected,
            self.tz,
            min_minutes=self.th.gap_minutes,
            min_expected=self.th.gap_min_expected_lines,
        )
        before, after = (
            hosts_logging_around(self.review, "app") if expected.empty and not gaps.empty else (set(), set())
        )
        return health.gap_findings(
            gaps,
            self.th,
            self.tz,
            what="application log",
            area="errors",
            has_baseline=not expected.empty,
            logged_before=before,
            logged_after=after,
        )

    def fingerprints(self) -> Section:
        """Error fingerprints of the day: new today, spiking against the baseline, fatal."""
        section = Section("fingerprints")
        if self.today is None:  # no events is no evidence of no errors
            self.no_lines(section, "app", ERROR_TRACKING)
            return self._done(section)
        today = app_errors.fingerprints(self.today)
        by_day = (
            app_errors.fingerprints_by_day(self.history, self.tz)
            if self.history is not None
            else pd.DataFrame(columns=["day", "fingerprint", "count"])
        )
        marked = app_errors.mark_new_and_spiking(today, by_day, self.baseline_days)
        section.findings += findings.error_fingerprint_findings(marked, self.th, self.tz, bool(self.history_days))
        if not self.history_days and not marked.empty:
            section.findings.append(
                Finding(
                    "errors",
                    "errors.no_history",
                    Severity.info,
                    "No earlier application events in the store: nothing can be called new yet",
                    evidence={"lookback_days": self.th.new_fingerprint_lookback_days},
                )
            )
        section.figures.append(charts.fingerprints_chart(marked))
        cols = [
            "new",
            "level",
            "count",
            "baseline_per_day",
            "error_type",
            "pattern",
            "frame",
            "first_seen",
            "last_seen",
            "hosts",
            "example",
            "fingerprint",
        ]
        table = marked.reindex(columns=cols)
        for column in ("pattern", "frame", "example"):  # masked in SQL; resolved secrets too
            table[column] = [masked(v) if isinstance(v, str) else v for v in table[column]]
        section.tables.append(("Error fingerprints of the day", local_columns(table, self.tz)))
        return self._done(section)

    def ingest(self) -> Section:
        """Parsed and unparsed lines per application-log file of the day."""
        section = Section("ingest")
        files = log_files(self.review, "app")
        if files.empty and self.today is None:
            self.no_lines(section, "app")
        section.findings += health.unparsed_findings(files, self.th, "app")
        section.figures.append(charts.ingest_chart(files))
        section.tables.append(("Application-log files of the day", files.drop(columns=["kind"], errors="ignore")))
        return self._done(section)


def open_app_errors(review: ReviewContext) -> AppErrorReview:
    """What the `errors` notebook calls after opening the review."""
    return AppErrorReview(review)
