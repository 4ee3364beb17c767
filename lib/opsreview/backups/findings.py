"""Findings of the backups area: one per failure, the backup (file, PBM backup, manifest entry)
as its ``subject`` and evidence, judged against the policy in ``backups`` params."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsreview import checklist
from opsreview.findings import Finding, Severity

if TYPE_CHECKING:
    from opsreview.backups.review import BackupReview

AREA = "backups"
DATABASE_BACKUPS = "Database backups"
RESTORE_TESTED = "Backup restoration tested"
REGULAR_VERIFIED = "Regular backups verified"
STRATEGY = "Backup strategy in place"

CHECK_IDS = (
    "backups.rpo",
    "backups.schedule_gap",
    "backups.size_drop",
    "backups.failed",
    "backups.archive_unreadable",
    "backups.archive_truncated",
    "backups.collections_missing",
    "backups.manifest_mismatch",
    "backups.pbm_node",
    "backups.pitr_gap",
    "backups.pitr_error",
    "backups.drill_age",
    "backups.drill_failed",
    "backups.bad_input",
)
# the items each check bears on, as the checklist maps them (one place to change)
CHECKS: dict[str, tuple[str, ...]] = {
    check: tuple(item.text for item in checklist.ITEMS if check in item.checks) for check in CHECK_IDS
}


# the RPO is judged on the newest good backup of all sources: one subject, whichever backup that
# is (its name is evidence), so a breach that lasts keeps its fingerprint as backups come and go
RPO_SUBJECT = "last good backup"


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return None
    return str(pd.Timestamp(value).tz_convert("UTC").isoformat())


def _f(
    check: str,
    severity: Severity,
    title: str,
    subject: str = "",
    value: Any = None,
    threshold: Any = None,
    start: Any = None,
    end: Any = None,
    **evidence: Any,
) -> Finding:
    clean = {k: (_iso(v) if isinstance(v, pd.Timestamp) else v) for k, v in evidence.items() if v is not None}
    return Finding(
        AREA,
        check,
        severity,
        title,
        value,
        threshold,
        clean,
        CHECKS[check],
        subject=subject,
        start=_iso(start),
        end=_iso(end),
    )


def _mb(size: Any) -> str:
    """A size for people: bytes, kB, MB or GB."""
    if size is None or pd.isna(size):
        return "?"
    value = float(size)
    for unit in ("bytes", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def policy_findings(review: BackupReview) -> list[Finding]:
    """Age against the RPO, gaps in the schedule, size drift, failed backups, manifest mismatches."""
    p = review.params
    out: list[Finding] = []
    if review.configured:
        last = review.last_good
        if last is None:
            out.append(
                _f(
                    "backups.rpo",
                    Severity.critical,
                    f"No good backup in the last {p.lookback_days} days",
                    RPO_SUBJECT,
                    None,
                    p.rpo_hours,
                    backups_seen=len(review.backups),
                )
            )
        elif review.age_hours is not None and review.age_hours > p.rpo_hours:
            out.append(
                _f(
                    "backups.rpo",
                    Severity.critical,
                    f"The last good backup is {review.age_hours:.1f} h old (RPO {p.rpo_hours:g} h): {last['name']}",
                    RPO_SUBJECT,
                    round(review.age_hours, 2),
                    p.rpo_hours,
                    start=last["finished_at"],
                    end=review.as_of,
                    backup=str(last["name"]),
                    source=str(last["source"]),
                    kind=str(last["kind"]),
                    finished_at=last["finished_at"],
                )
            )
    for gap in review.gaps.itertuples(index=False):
        out.append(
            _f(
                "backups.schedule_gap",
                Severity.warning,
                f"No backup for {gap.hours:.1f} h between {gap.after} and {gap.before} (expected every {p.schedule_hours:g} h)",
                f"{gap.after} → {gap.before}",
                round(float(gap.hours), 2),
                p.schedule_hours * (1 + p.schedule_tolerance),
                start=gap.start,
                end=gap.end,
                after=gap.after,
                before=gap.before,
                missed_runs=int(gap.missed),
            )
        )
    for row in review.size_drops.itertuples(index=False):
        out.append(
            _f(
                "backups.size_drop",
                Severity.warning,
                f"{row.name} is {row.ratio:.0%} of the trailing median size ({_mb(row.size_bytes)} against {_mb(row.median_bytes)}): likely a partial dump",
                str(row.name),
                round(float(row.ratio), 3),
                p.size_drop_ratio,
                backup=str(row.name),
                kind=str(row.kind),
                size_bytes=int(row.size_bytes),
                median_bytes=float(row.median_bytes),
                finished_at=row.finished_at,
            )
        )
    for row in review.failed.itertuples(index=False):
        if row.kind == "archive":
            truncated = row.status == "truncated"
            check = "backups.archive_truncated" if truncated else "backups.archive_unreadable"
            what = "is truncated" if truncated else ("is corrupt" if row.status == "corrupt" else "cannot be read")
            unfinished = list(row.unfinished) if row.unfinished is not None else []
            out.append(
                _f(
                    check,
                    Severity.critical,
                    f"Archive {row.name} {what}: {row.error}",
                    str(row.name),
                    row.status,
                    backup=str(row.name),
                    file=str(row.location),
                    size_bytes=None if pd.isna(row.size_bytes) else int(row.size_bytes),
                    error=row.error,
                    unfinished=unfinished[:20] or None,
                    finished_at=row.finished_at,
                )
            )
        else:
            out.append(
                _f(
                    "backups.failed",
                    Severity.critical,
                    f"Backup {row.name} ({row.kind}) failed: {row.error or row.status}",
                    str(row.name),
                    row.status,
                    backup=str(row.name),
                    kind=str(row.kind),
                    source=str(row.source),
                    error=row.error,
                    finished_at=row.finished_at,
                )
            )
    for row in review.manifest_mismatches.itertuples(index=False):
        detail = (
            f"the archive is {_mb(row.archive_bytes)}, the manifest says {_mb(row.manifest_bytes)}"
            if row.problem != "no archive of that name"
            else "the manifest records it as done, but no archive of that name is in the folder"
        )
        out.append(
            _f(
                "backups.manifest_mismatch",
                Severity.warning,
                f"Manifest and archive disagree on {row.name}: {detail}",
                str(row.name),
                row.problem,
                backup=str(row.name),
                manifest_bytes=row.manifest_bytes,
                archive_bytes=row.archive_bytes,
            )
        )
    return out


def content_findings(review: BackupReview) -> list[Finding]:
    """Collections the database holds that the newest readable archive does not."""
    if not review.missing_collections or review.newest_archive is None:
        return []
    name = str(review.newest_archive["name"])
    missing = review.missing_collections
    return [
        _f(
            "backups.collections_missing",
            Severity.critical,
            f"{name} does not hold {len(missing)} collection(s) the database has: {', '.join(missing[:8])}",
            name,
            len(missing),
            0,
            backup=name,
            missing=missing[:50],
            expected=len(review.expected_collections),
        )
    ]


def pbm_findings(review: BackupReview) -> list[Finding]:
    out: list[Finding] = []
    for row in review.pbm_nodes.itertuples(index=False):
        out.append(
            _f(
                "backups.pbm_node",
                Severity.critical,
                f"PBM agent on {row.host} ({row.rs}) is not OK: {row.errors or 'no agent or no status'}",
                f"{row.rs}/{row.host}",
                row.errors,
                rs=row.rs,
                host=row.host,
                role=row.role,
                agent=row.agent,
            )
        )
    for row in review.pitr_gaps.itertuples(index=False):
        title = (
            f"No PITR range since {_iso(row.start)}: the last {row.seconds / 3600:.1f} h cannot be restored to a point in time"
            if row.kind == "tail"
            else f"PITR ranges are not continuous: {row.seconds / 3600:.1f} h cannot be restored to a point in time"
        )
        out.append(
            _f(
                "backups.pitr_gap",
                Severity.warning,
                title,
                f"pitr {_iso(row.start)}",
                round(float(row.seconds), 1),
                0,
                start=row.start,
                end=row.end,
            )
        )
    for row in review.pitr_problems.itertuples(index=False):
        if row.kind == "pitr" and not row.errors:
            title, subject = "PITR is enabled but not running: no oplog is being saved (conf: true, run: false)", "pitr"
        elif row.kind == "pitr":
            title, subject = f"PITR oplog slicing reports an error: {row.errors}", "pitr"
        else:
            why = row.errors or "no base snapshot"
            title, subject = f"PITR range {_iso(row.start)} – {_iso(row.end)}: {why}", f"pitr {_iso(row.start)}"
        out.append(_f("backups.pitr_error", Severity.warning, title, subject, row.errors, start=row.start, end=row.end))
    return out


def drill_findings(review: BackupReview) -> list[Finding]:
    p = review.params
    out: list[Finding] = []
    if len(review.drills):
        age = review.drill_age_days
        good = review.drills[review.drills["ok"].astype(bool)]
        if age is None:
            out.append(
                _f(
                    "backups.drill_age",
                    Severity.warning,
                    "No restore drill has succeeded",
                    "",
                    None,
                    p.drill_max_age_days,
                    drills=len(review.drills),
                )
            )
        elif age > p.drill_max_age_days:
            last = good.iloc[-1]
            out.append(
                _f(
                    "backups.drill_age",
                    Severity.warning,
                    f"The last good restore drill is {age:.0f} days old (policy {p.drill_max_age_days:g} days): {last['backup']}",
                    str(last["backup"] or last["drill"]),
                    round(age, 1),
                    p.drill_max_age_days,
                    drill=str(last["drill"]),
                    backup=last["backup"],
                    target=last["target"],
                    when=last["ts"],
                )
            )
    for row in review.drills[~review.drills["ok"].astype(bool)].itertuples(index=False) if len(review.drills) else []:
        why = []
        if not row.recorded_ok:
            why.append(f"recorded as failed ({row.error or 'no error given'})")
        if row.count_mismatches:
            why.append(f"counts differ in {', '.join(row.count_mismatches[:5])}")
        if row.hash_mismatches:
            why.append(f"dbHash differs in {', '.join(row.hash_mismatches[:5])}")
        if not row.evidence:
            why.append("drill without evidence: no collection compared with both source and restored counts")
        out.append(
            _f(
                "backups.drill_failed",
                Severity.critical if len(why) > 1 or row.evidence else Severity.warning,
                f"Restore drill of {row.backup} into {row.target}: {'; '.join(why)}",
                str(row.backup or row.drill),
                len(row.count_mismatches) + len(row.hash_mismatches),
                0,
                drill=str(row.drill),
                when=row.ts,
                count_mismatches=list(row.count_mismatches) or None,
                hash_mismatches=list(row.hash_mismatches) or None,
                evidence=bool(row.evidence),
                error=row.error,
            )
        )
    return out


def input_findings(review: BackupReview) -> list[Finding]:
    """A folder, file or entry that could not be read: named, never a crash."""
    out = []
    reads = review.reads
    statuses = ["missing", "unreadable", "bad_entry", "error", "not_read"]
    bad = reads[reads["status"].isin(statuses)] if len(reads) else reads
    archive_files = set(review.backups["location"].dropna().astype(str)) if len(review.backups) else set()
    for row in bad.itertuples(index=False):
        if row.source == "archives" and str(row.location) in archive_files:
            continue  # an unreadable archive is its own finding (archive_unreadable); a folder is not
        finding = _f(
            "backups.bad_input",
            Severity.warning,
            f"{row.source}: {row.detail}",
            str(row.location),
            row.status,
            source=str(row.source),
            location=str(row.location),
        )
        # the items follow the source: a drill record bears on restores, the rest on the backups
        items = (RESTORE_TESTED,) if row.source == "drills" else (DATABASE_BACKUPS, REGULAR_VERIFIED)
        out.append(replace(finding, checklist=tuple(i for i in items if i in CHECKS["backups.bad_input"])))
    return out


def all_findings(review: BackupReview) -> list[Finding]:
    return [
        *policy_findings(review),
        *content_findings(review),
        *pbm_findings(review),
        *drill_findings(review),
        *input_findings(review),
    ]
