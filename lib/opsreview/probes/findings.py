"""Findings of the probes review, with thresholds from the ``probes`` params section.

Check ids: ``probes.outage``, ``probes.uptime``, ``probes.latency``, ``probes.gap``,
``probes.no_data``, ``probes.tls_expiry``, ``probes.tls``, ``probes.https`` (HTTP→HTTPS
redirect, HSTS), ``probes.headers``, ``probes.cors``, ``probes.auth``, ``probes.rbac``,
``probes.rate_limit``, ``probes.leakage``, ``probes.exposure``, and the info finding
``probes.coverage`` (checklist items no probe result speaks to). Security findings use the
latest result of each check of the day, one finding per probe and group listing every
failing check with its reason. Each finding names the production-checklist items it bears on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.findings import Finding, Severity
from opsreview.localtime import hhmm, local_iso
from opsreview.probes.params import ProbesParams

AREA = "probes"
HEALTH = "Health check endpoint"
HTTPS = "HTTPS/SSL certificate"


@dataclass(frozen=True)
class Group:
    """How failing checks with a given prefix become findings."""

    finding: str
    checklist: str
    severity: Severity
    title: str


# First matching prefix wins (most specific first).
GROUPS: tuple[tuple[str, Group], ...] = (
    ("tls.redirect", Group("probes.https", HTTPS, Severity.warning, "HTTPS not enforced")),
    ("tls.hsts", Group("probes.https", HTTPS, Severity.warning, "HTTPS not enforced")),
    ("tls", Group("probes.tls", HTTPS, Severity.critical, "TLS certificate or connection invalid")),
    ("headers", Group("probes.headers", "Helmet security headers", Severity.warning, "security headers missing")),
    ("cors.credentials", Group("probes.cors", "CORS properly configured", Severity.critical, "CORS too permissive")),
    ("cors", Group("probes.cors", "CORS properly configured", Severity.warning, "CORS too permissive")),
    ("auth.rbac", Group("probes.rbac", "Role-based access control", Severity.critical, "admin routes skip the role check")),
    ("auth.valid_token", Group("probes.auth", "JWT authentication with secure tokens", Severity.warning, "auth check inconclusive")),
    ("auth", Group("probes.auth", "JWT authentication with secure tokens", Severity.critical, "bad tokens accepted")),
    ("rate_limit", Group("probes.rate_limit", "Rate limiting implemented", Severity.warning, "no rate limiting seen")),
    ("leakage", Group("probes.leakage", "Error messages don't leak sensitive info", Severity.warning, "responses leak internals")),
    ("exposure", Group("probes.exposure", "Environment variables secured", Severity.critical, "sensitive files served")),
)  # fmt: skip
CHECKLIST_BY_FAMILY = {
    "http": HEALTH,
    "tls": HTTPS,
    "headers": "Helmet security headers",
    "cors": "CORS properly configured",
    "auth": "JWT authentication with secure tokens",
    "rate_limit": "Rate limiting implemented",
    "leakage": "Error messages don't leak sensitive info",
    "exposure": "Environment variables secured",
}
ALL_ITEMS = (*CHECKLIST_BY_FAMILY.values(), "Role-based access control")


def group_of(check: str) -> Group | None:
    for prefix, group in GROUPS:
        if check == prefix or check.startswith(prefix + "."):
            return group
    return None


def outage_findings(outages: pd.DataFrame, settings: ProbesParams, tz: ZoneInfo) -> list[Finding]:
    findings = []
    limit = settings.thresholds.outage_critical_minutes
    for row in outages.itertuples(index=False):
        severity = Severity.critical if row.duration_min >= limit else Severity.warning
        still = ", still down at its last result" if row.ongoing else ""
        findings.append(
            Finding(
                AREA,
                "probes.outage",
                severity,
                f"{row.probe} down {row.duration_min:.0f} min ({hhmm(row.start, tz)}-{hhmm(row.end, tz)} {tz.key})"
                f"{still}: {row.reason}",
                value=round(float(row.duration_min), 1),
                threshold=limit,
                evidence={
                    "probe": row.probe,
                    "source": row.source,
                    "start": row.start.isoformat(),
                    "end": row.end.isoformat(),
                    "failed_checks": int(row.failures),
                    "status_codes": row.status_codes,
                    "reason": row.reason,
                },
                checklist=(HEALTH,),
                subject=str(row.probe),
                start=local_iso(row.start, tz),
                end=local_iso(row.end, tz),
            )
        )
    return findings


def uptime_findings(uptime: pd.DataFrame, settings: ProbesParams) -> list[Finding]:
    target = settings.thresholds.uptime_percent
    findings = []
    for row in uptime.itertuples(index=False):
        if pd.isna(row.uptime_day) or row.uptime_day >= target:
            continue
        findings.append(
            Finding(
                AREA,
                "probes.uptime",
                Severity.warning,
                f"{row.probe} uptime {row.uptime_day:.2f}% below {target:g}% ({row.failures} of {row.checks} checks failed)",
                value=round(float(row.uptime_day), 3),
                threshold=target,
                evidence={
                    "probe": row.probe,
                    "source": row.source,
                    "uptime_7d": None if pd.isna(row.uptime_7d) else round(float(row.uptime_7d), 3),
                    "uptime_30d": None if pd.isna(row.uptime_30d) else round(float(row.uptime_30d), 3),
                },
                checklist=(HEALTH,),
                subject=str(row.probe),
            )
        )
    return findings


def latency_findings(summary: pd.DataFrame, settings: ProbesParams) -> list[Finding]:
    limits = {t.name: t.expect.max_latency_ms for t in settings.targets if t.expect.max_latency_ms}
    findings = []
    for row in summary.itertuples(index=False):
        limit = limits.get(row.probe, settings.thresholds.latency_p95_ms)
        if row.p95 > limit:
            findings.append(
                Finding(
                    AREA,
                    "probes.latency",
                    Severity.warning,
                    f"{row.probe} p95 latency {row.p95:.0f} ms above {limit:g} ms",
                    value=round(float(row.p95), 1),
                    threshold=limit,
                    evidence={"probe": row.probe, "p50": round(float(row.p50), 1), "p99": round(float(row.p99), 1)},
                    checklist=(HEALTH,),
                    subject=str(row.probe),
                )
            )
    return findings


def certificate_findings(certs: pd.DataFrame, settings: ProbesParams) -> list[Finding]:
    tls = settings.tls
    findings = []
    for row in certs.itertuples(index=False):
        evidence = {
            "probe": row.probe,
            "source": row.source,
            "detail": row.detail,
            "checked": row.checked_at.isoformat(),
        }
        days = row.days_left
        if not pd.isna(days) and days < tls.warning_days:
            severity = Severity.critical if days < tls.critical_days else Severity.warning
            when = f"expired {-days:.1f} days ago" if days < 0 else f"expires in {days:.1f} days"
            evidence["expires_at"] = row.expires_at.isoformat()
            findings.append(
                Finding(
                    AREA,
                    "probes.tls_expiry",
                    severity,
                    f"{row.probe} TLS certificate {when} ({row.expires_at:%Y-%m-%d})",
                    value=round(float(days), 1),
                    threshold=tls.critical_days if severity is Severity.critical else tls.warning_days,
                    evidence=evidence,
                    checklist=(HTTPS,),
                    subject=str(row.probe),
                )
            )
        if not row.ok and (pd.isna(days) or days >= tls.critical_days):
            findings.append(
                Finding(
                    AREA,
                    "probes.tls",
                    Severity.critical,
                    f"{row.probe} TLS: {row.detail}",
                    evidence=evidence,
                    checklist=(HTTPS,),
                    subject=str(row.probe),
                )
            )
    return findings


def security_findings(results: pd.DataFrame) -> list[Finding]:
    """One finding per probe and group over the latest failing security results."""
    failing = results[~results["ok"] & (results["check"] != "tls")] if len(results) else results
    grouped: dict[tuple[str, str], list[tuple[str, str, Group]]] = {}
    for row in failing.itertuples(index=False):
        group = group_of(str(row.check))
        if group is not None:
            grouped.setdefault((str(row.probe), group.finding), []).append((str(row.check), str(row.detail), group))
    findings = []
    for (probe, finding_id), items in sorted(grouped.items()):
        severity = max(group.severity for _, _, group in items)
        # The title quotes the family's summary row (the headers grade) or the most severe failure.
        summary = [item for item in items if "." not in item[0]]
        primary = summary[0] if summary else max(items, key=lambda item: item[2].severity)
        title_group = primary[2]
        others = [c.split(".", 1)[-1] for c, _, _ in items if c != primary[0] and not summary]
        reason = primary[1] + (f" (also failing: {', '.join(others)})" if others else "")
        findings.append(
            Finding(
                AREA,
                finding_id,
                severity,
                f"{probe}: {title_group.title}: {reason}"[:300],
                value=len(items),
                evidence={"probe": probe, "failing": {check: detail for check, detail, _ in items}},
                checklist=tuple(dict.fromkeys(group.checklist for _, _, group in items)),
                subject=probe,
            )
        )
    return findings


def coverage_findings(day: pd.DataFrame) -> list[Finding]:
    """Info: checklist items that no probe result of the day speaks to (not verifiable)."""
    covered = {CHECKLIST_BY_FAMILY[f] for f in day["check"].str.split(".").str[0].unique() if f in CHECKLIST_BY_FAMILY}
    if (day["check"] == "auth.rbac").any():
        covered.add("Role-based access control")
    missing = tuple(item for item in ALL_ITEMS if item not in covered)
    if not missing:
        return []
    return [
        Finding(
            AREA,
            "probes.coverage",
            Severity.info,
            "Not verified by any probe today: " + ", ".join(missing),
            evidence={"not_covered": list(missing)},
            checklist=missing,
            subject="probes",
        )
    ]


def data_findings(
    day: pd.DataFrame, gaps: pd.DataFrame, settings: ProbesParams, review_day: dt.date, tz: ZoneInfo
) -> list[Finding]:
    """Configured targets without results, and gaps in the probing itself (cron not running)."""
    findings = []
    seen = set(day.loc[day["check"] == "http", "probe"].astype(str))
    for target in settings.targets:
        if "http" in target.enabled_checks and target.name not in seen:
            findings.append(
                Finding(
                    AREA,
                    "probes.no_data",
                    Severity.warning,
                    f"No probe results for {target.name} on {review_day}: is `opsreview probe --once` scheduled?",
                    evidence={"probe": target.name},
                    checklist=(HEALTH,),
                    subject=target.name,
                )
            )
    for row in gaps.itertuples(index=False):
        findings.append(
            Finding(
                AREA,
                "probes.gap",
                Severity.warning,
                f"{row.probe}: no probe results for {row.gap_min:.0f} min ({hhmm(row.gap_start, tz)}-{hhmm(row.gap_end, tz)})",
                value=round(float(row.gap_min), 1),
                threshold=settings.thresholds.stale_after_minutes,
                evidence={
                    "probe": row.probe,
                    "source": row.source,
                    "from": row.gap_start.isoformat(),
                    "to": row.gap_end.isoformat(),
                },
                checklist=(HEALTH,),
                subject=str(row.probe),
                start=local_iso(row.gap_start, tz),
                end=local_iso(row.gap_end, tz),
            )
        )
    return findings
