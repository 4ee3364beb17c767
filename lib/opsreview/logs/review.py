"""What the log areas' reviews share: the sectioned review object, local-time tables, and
the day's `log_files` rows (how well each file read).

:class:`SectionedReview` holds the review's params, a bounded UTC DuckDB connection
(:func:`opsreview.engine.connect`) and the findings of each section run so far; the access-log
review (:mod:`opsreview.logs.access.review`) and the application-error review
(:mod:`opsreview.logs.app.review`) are both one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from opsreview import engine
from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import Coverage, Finding
from opsreview.masking import mask_sensitive
from opsreview.relations import sql_string

_KINDS = {  # log kind -> (area, params key, source name, what its rows are)
    "access": ("logs", "logs.access", "access_logs", "access-log requests"),
    "app": ("errors", "logs.app", "app_logs", "application-log events"),
}


class SectionedReview:
    """What the notebooks' review objects share: the review's params, a UTC DuckDB connection,
    and the findings of each section run so far."""

    def __init__(self, review: ReviewContext, hosts: list[str]) -> None:
        self.review = review
        self.tz = review.params.timezone
        self.th = review.params.logs.thresholds
        self.hosts = hosts
        self.con = engine.connect()
        self._sections: dict[str, list[Finding]] = {}

    @property
    def findings(self) -> list[Finding]:
        """Findings of every section run so far (each section counted once)."""
        return [f for found in self._sections.values() for f in found]

    def _done(self, section: Section) -> Section:
        self._sections[section.name] = section.findings
        return section

    def no_lines(self, section: Section, kind: str, checklist: tuple[str, ...] = ()) -> Coverage:
        """Record that ``section`` had no line of ``kind`` (``access``, ``app``) to read today: none
        configured, or none of the day in the store. ``checklist``: the items this leaves unchecked."""
        area, key, source, what = _KINDS[kind]
        if self.hosts:
            detail = f"the store holds none from {', '.join(self.hosts)} for {self.review.day}"
            remedy = (
                f"check these hosts' paths under `{key}` and the `{source}` source on the day page "
                "(what was read, what failed); `opsreview pull` fills the store"
            )
        else:
            detail = f"no host is configured under `{key}`"
            remedy = (
                f"list each host's log files under `{key}` in the params (params/production.example.yaml shows how)"
            )
        return section.not_verifiable(area, f"No {what}", detail, remedy, self.hosts, checklist)

    def elapsed_window(self, last: Any) -> tuple[dt.datetime, dt.datetime]:
        """The part of the review day to judge: all of it once it is over; while it is still
        running, up to the minute after ``last`` (the newest line seen: lines arrive with each
        pull, so their end is no gap). Its start is never cut."""
        start, end = self.review.window
        if last is None or pd.isna(last) or dt.datetime.now(dt.UTC) >= end:
            return start, end
        return start, min(end, (pd.Timestamp(last) + pd.Timedelta(minutes=1)).to_pydatetime())


LOG_FILE_COLUMNS = [
    "path",
    "host",
    "day",
    "lines",
    "parsed",
    "unparsed",
    "non_requests",
    "too_long",
    "samples",
    "error",
    "kind",
    "format",
]


def hosts_logging_around(review: ReviewContext, kind: str) -> tuple[set[str], set[str]]:
    """Hosts with parsed lines of ``kind`` on a day before the review day, and on a day after
    it, from `log_files`: whether a quiet start or end of the day is a log beginning or ending."""
    days = review.store.days("log_files")
    rel = review.store.relation("log_files", [d for d in days if d != review.day])
    if rel is None:
        return set(), set()
    rows = rel.filter(f"kind = {sql_string(kind)} AND parsed > 0").aggregate("host, min(day), max(day)").fetchall()
    return {h for h, first, _ in rows if first < review.day}, {h for h, _, last in rows if last > review.day}


def log_files(review: ReviewContext, kind: str) -> pd.DataFrame:
    """The day's `log_files` rows of one kind (``access`` or ``app``)."""
    rel = review.store.relation("log_files", [review.day])
    if rel is None:
        return pd.DataFrame(columns=LOG_FILE_COLUMNS)
    df = rel.filter(f"kind = {sql_string(kind)}").df().reindex(columns=LOG_FILE_COLUMNS)
    # Unparsed samples are shown as evidence: mask what redact() alone does not know (JWTs, cards).
    df["samples"] = [[mask_sensitive(str(s)) for s in (v if v is not None else [])] for v in df["samples"]]
    return df.sort_values(["host", "path"]).reset_index(drop=True)
