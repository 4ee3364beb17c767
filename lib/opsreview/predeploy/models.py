"""The results of the gate: one :class:`CheckResult` per check, and the :class:`GateResult`.

A check is *pass*, *fail* or *not checked* (with why and what to configure). The verdict is
GO only when no check fails and every check that was not checked is ``optional`` in params.
Each failure is a :class:`~opsreview.findings.Finding` of area ``predeploy`` with the check's
stable id (``predeploy.env``) and the production-checklist items it bears on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from opsreview.findings import Finding, Severity

AREA = "predeploy"
PASS, FAIL, NOT_CHECKED = "pass", "fail", "not checked"

# The production-checklist items each check speaks to (sections "Pre-Deployment" and "Database").
CHECKLIST: dict[str, tuple[str, ...]] = {
    "env": ("All environment variables set",),
    "database": ("Database connection tested",),
    "smoke": ("All endpoints tested",),
    "security": ("Security scan passed",),
    "backup": ("Backup strategy in place",),
    "alerts": ("Monitoring tools configured",),
    "migrations": ("Database migration strategy",),
    "rollback": ("Rollback plan ready",),
}
TITLES: dict[str, str] = {
    "env": "Environment variables set",
    "database": "Database reachable",
    "smoke": "Endpoints answer as expected",
    "security": "Security probes pass",
    "backup": "Backup younger than the RPO",
    "alerts": "Alert channel test message delivered",
    "migrations": "Migrations applied",
    "rollback": "Rollback target recorded",
}


@dataclass
class CheckResult:
    """One check of the gate. ``failures`` are ``(subject, reason)`` pairs, one finding each;
    ``remedy`` says what to configure when the check could not run."""

    name: str
    status: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    remedy: str = ""
    optional: bool = False
    duration_s: float = 0.0

    @property
    def id(self) -> str:
        return f"{AREA}.{self.name}"

    @property
    def blocking(self) -> bool:
        """Whether this check makes the verdict NO-GO."""
        return self.status == FAIL or (self.status == NOT_CHECKED and not self.optional)

    def line(self) -> str:
        """``predeploy.env: FAIL - missing JWT_SECRET`` (one line; the remedy of a not-checked check)."""
        label = {PASS: "pass", FAIL: "FAIL", NOT_CHECKED: "NOT CHECKED"}[self.status]
        if self.status == NOT_CHECKED and self.optional:
            label = "not checked (optional)"
        remedy = f" (to check it: {self.remedy})" if self.status == NOT_CHECKED and self.remedy else ""
        return f"{self.id}: {label} - {self.summary}{remedy}"

    def findings(self) -> list[Finding]:
        """A finding per failure; a blocking not-checked check is one finding too (it blocks the deploy)."""
        items = CHECKLIST.get(self.name, ())
        if self.status == FAIL:
            pairs = self.failures or [("", self.summary)]
            return [
                Finding(
                    severity=Severity.critical,
                    title=f"{TITLES.get(self.name, self.name)}: {reason}",
                    evidence={"status": self.status, **self.evidence},
                    subject=subject,
                    area=AREA,
                    check=self.id,
                    checklist=items,
                )
                for subject, reason in pairs
            ]
        if self.status == NOT_CHECKED and not self.optional:
            return [
                Finding(
                    severity=Severity.warning,
                    title=f"{TITLES.get(self.name, self.name)}: not checked: {self.summary}",
                    evidence={"status": self.status, "remedy": self.remedy, **self.evidence},
                    area=AREA,
                    check=self.id,
                    checklist=items,
                )
            ]
        return []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": TITLES.get(self.name, self.name),
            "status": self.status,
            "optional": self.optional,
            "blocking": self.blocking,
            "detail": self.summary,
            "remedy": self.remedy,
            "failures": [{"subject": s, "reason": r} for s, r in self.failures],
            "evidence": self.evidence,
            "checklist": list(CHECKLIST.get(self.name, ())),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class GateResult:
    """The verdict of one `opsreview predeploy` run."""

    environment: str
    base_url: str | None
    started: dt.datetime
    finished: dt.datetime
    checks: list[CheckResult]
    params_file: str = ""

    @property
    def go(self) -> bool:
        return not any(c.blocking for c in self.checks)

    @property
    def verdict(self) -> str:
        return "GO" if self.go else "NO-GO"

    @property
    def exit_code(self) -> int:
        return 0 if self.go else 1

    @property
    def reasons(self) -> list[str]:
        """One line per check that makes the verdict NO-GO."""
        return [c.line() for c in self.checks if c.blocking]

    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings()]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "go": self.go,
            "exit_code": self.exit_code,
            "environment": self.environment,
            "base_url": self.base_url,
            "params_file": self.params_file,
            "started_at": self.started.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "finished_at": self.finished.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "checked_at": self.finished.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings()],
        }
