"""The finding model shared by every area, and helpers to rank and count findings."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

FINDINGS_MIME = "application/vnd.opsreview.findings+json"
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
    """

    area: str
    check: str
    severity: Severity
    title: str
    value: Any = None
    threshold: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    checklist: tuple[str, ...] = ()

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
