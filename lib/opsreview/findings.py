"""The finding model shared by every area, helpers to rank and count findings, and the
:class:`Coverage` fact: what a section could not check today and how to make it checkable."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

FINDINGS_MIME = "application/vnd.opsreview.findings+json"
COVERAGE_MIME = "application/vnd.opsreview.coverage+json"
# The day's headline numbers of an area ({"area": ..., "kpis": {name: number}}): summary.json
# ``kpis`` and the trend sparklines of the outputs index.
KPIS_MIME = "application/vnd.opsreview.kpis+json"
# The one severity palette of every table, badge and chart.
SEVERITY_COLOURS = {"critical": "#b91c1c", "warning": "#b45309", "info": "#1d4ed8"}


class Severity(enum.IntEnum):
    """Ordered severities; compare with ``>=``."""

    info = 0
    warning = 1
    critical = 2

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls[value]
        except KeyError:
            raise ValueError(f"unknown severity {value!r} (info, warning, critical)") from None


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer should know, with the evidence behind it.

    ``check`` is a stable id (``logs.5xx_rate``); ``value``/``threshold`` are what was measured
    and what it was compared with; ``evidence`` holds small JSON-able facts (time window,
    sample lines - already redacted); ``checklist`` names production-checklist items it bears on.

    ``subject`` is what the finding is about within its check (a route ``GET /api/orders``, a
    host, a query shape, a probe, a backup file): with ``area`` and ``check`` it makes the
    finding's stable fingerprint (the alerts' "same finding as yesterday"). ``start``/``end``
    are the anomaly's window (ISO 8601 with offset) when it has one: the incident timeline puts
    every area's windows on one axis.
    """

    area: str
    check: str
    severity: Severity
    title: str
    value: Any = None
    threshold: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    checklist: tuple[str, ...] = ()
    subject: str = ""
    start: str | None = None
    end: str | None = None

    @property
    def fingerprint(self) -> str:
        """``area/check/subject``: the same finding on another day or run has the same one."""
        return f"{self.area}/{self.check}/{self.subject}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.name
        data["checklist"] = list(self.checklist)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            area=str(data["area"]),
            check=str(data["check"]),
            severity=Severity.parse(data["severity"]),
            title=str(data["title"]),
            value=data.get("value"),
            threshold=data.get("threshold"),
            evidence=dict(data.get("evidence") or {}),
            checklist=tuple(data.get("checklist") or ()),
            subject=str(data.get("subject") or ""),
            start=data.get("start") or None,
            end=data.get("end") or None,
        )


def rank_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; stable within a severity."""
    return sorted(findings, key=lambda f: -int(f.severity))


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity.name for f in findings)
    return {s.name: counts.get(s.name, 0) for s in reversed(Severity)}


def worst_severity(findings: Iterable[Finding]) -> Severity | None:
    severities = [f.severity for f in findings]
    return max(severities) if severities else None


@dataclass(frozen=True)
class Coverage:
    """What one section of an area could not check today, and how to make it checkable.

    Not a finding: no input is no evidence either way, so it has no severity and never sets the
    exit code, but it must never read as "no findings". ``missing`` names the input that is
    absent ("No response times"), ``detail`` where (which hosts, formats or probes), ``effect``
    what the section cannot show or check without it, ``remedy`` what to configure to get it;
    ``sources`` are the hosts/probes concerned and ``checklist`` the
    items of the area's own checklist that this makes *not verifiable* (empty when the section
    is a view, not a check). Sections carry these (:class:`opsreview.display.Section`), the
    notebook emits them under :data:`COVERAGE_MIME`, the runner collects them into
    ``summary.json`` (``coverage``), the day page and the summary's checklist.
    """

    area: str
    section: str
    missing: str
    detail: str = ""
    remedy: str = ""
    sources: tuple[str, ...] = ()
    checklist: tuple[str, ...] = ()
    effect: str = ""

    @property
    def reason(self) -> str:
        """What is missing and where, in one line."""
        return f"{self.missing}: {self.detail}" if self.detail else self.missing

    @property
    def text(self) -> str:
        """The sentence shown in the section's place."""
        effect = f" ({self.effect})" if self.effect else ""
        remedy = f" To get it: {self.remedy}" if self.remedy else ""
        return f"Not verifiable today: {self.reason}{effect}.{remedy}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"], data["checklist"] = list(self.sources), list(self.checklist)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Coverage:
        return cls(
            area=str(data["area"]),
            section=str(data["section"]),
            missing=str(data["missing"]),
            detail=str(data.get("detail") or ""),
            remedy=str(data.get("remedy") or ""),
            sources=tuple(str(s) for s in data.get("sources") or ()),
            checklist=tuple(str(c) for c in data.get("checklist") or ()),
            effect=str(data.get("effect") or ""),
        )


def kpi_number(value: Any) -> float | None:
    """A KPI value as summary.json keeps it: a finite number, else None (no data that day)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


# --- peak windows ------------------------------------------------------------------------------
# A finding over many occurrences (a slow query shape, an error fingerprint) seen from first to
# last across the day has a span too long to place on the incident timeline. Its peak is the
# densest PEAK_MINUTES of occurrences, computed in the same SQL that counts them (a window
# function over the rows already read): its first and last occurrence. The peak is the finding's
# window only when it holds at least half the occurrences (a burst); a shape or error spread
# over the day keeps its first/last-seen span, as its peak would be noise.
PEAK_MINUTES = 60


def peak_sql(partition: str, ts: str = "ts") -> tuple[str, str]:
    """SQL for the peak: the window columns to add to the occurrences (``peak_n``,
    ``peak_first``), and the aggregate of a ``GROUP BY`` over them (a struct ``peak`` of
    ``first``, ``last``, ``n``: the earliest densest window)."""
    over = (
        f"OVER (PARTITION BY {partition} ORDER BY {ts} "
        f"RANGE BETWEEN INTERVAL {PEAK_MINUTES} MINUTES PRECEDING AND CURRENT ROW)"
    )
    window = f"count(*) {over} AS peak_n, min({ts}) {over} AS peak_first"
    aggregate = (
        f"arg_max({{'first': peak_first, 'last': {ts}, 'n': peak_n}}, {{'n': peak_n, 'early': -epoch_us({ts})}})"
    )
    return window, aggregate


def peak_window(first: Any, last: Any, peak: Any, count: Any) -> tuple[Any, Any, bool]:
    """The finding's window: ``(start, end, is_peak)``, the peak's first and last occurrence when
    it holds at least half of ``count`` occurrences and the first/last-seen span is longer than
    :data:`PEAK_MINUTES`, else ``first`` and ``last``."""
    if not isinstance(peak, dict) or first is None or last is None or not count:
        return first, last, False
    try:
        spread = (last - first).total_seconds() > PEAK_MINUTES * 60
    except (TypeError, AttributeError):
        return first, last, False
    if spread and int(peak["n"]) * 2 >= int(count):
        return peak["first"], peak["last"], True
    return first, last, False
