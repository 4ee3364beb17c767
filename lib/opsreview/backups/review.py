"""The backups review of one day: what each section of the `backups` notebook shows.

:func:`load_backup_review` reads what the day's pull stored (the inventory of backups as it
stood at the end of the review day, PBM's agents and PITR ranges, the restore drills, what each
input gave) and the collections the database review saw that day (the ``db_collections``
table, read by name when it is there), then analyses and judges them.

For drilling in from JupyterLab: ``bk.backups`` (one row per backup), ``bk.drills`` (one row
per drill), ``bk.pbm`` (agents and PITR ranges), ``bk.reads``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.backups import analysis, charts, models
from opsreview.backups import findings as bkfindings
from opsreview.backups.params import BackupsParams
from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import Finding
from opsreview.localtime import local_columns
from opsreview.store import Store

AREA = "backups"
DB_COLLECTIONS = "db_collections"  # the database area's table, read by name (no import of that area)
_SOURCES = ("backups_inventory",)
_CONFIGURE = (
    "list archive folders under `backups.archives` (path, pattern with the backup time, timezone), "
    "or PBM's status under `backups.pbm`, or the backup job's manifests under `backups.manifests`"
)


@dataclass
class BackupReview:
    day: dt.date
    tz: ZoneInfo
    as_of: pd.Timestamp
    params: BackupsParams
    backups: pd.DataFrame
    reads: pd.DataFrame
    pbm: pd.DataFrame
    drill_rows: pd.DataFrame
    db_collections: pd.DataFrame
    configured: bool = False
    last_good: pd.Series | None = None
    age_hours: float | None = None
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    size_drops: pd.DataFrame = field(default_factory=pd.DataFrame)
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    manifest_mismatches: pd.DataFrame = field(default_factory=pd.DataFrame)
    newest_archive: pd.Series | None = None
    expected_collections: list[str] = field(default_factory=list)
    missing_collections: list[str] = field(default_factory=list)
    pbm_nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    pitr_gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    pitr_problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    drills: pd.DataFrame = field(default_factory=pd.DataFrame)
    drill_age_days: float | None = None
    findings: list[Finding] = field(default_factory=list)

    def table(self, frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
        df = frame[[c for c in columns if c in frame.columns]] if columns else frame
        df = df.copy()
        for column in df.columns:
            if df[column].map(lambda v: isinstance(v, list | tuple) or hasattr(v, "tolist")).any():
                df[column] = df[column].map(lambda v: ", ".join(map(str, list(v))) if v is not None else "")
        return local_columns(df, self.tz, "%Y-%m-%d %H:%M")

    def _of(self, *checks: str) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]

    def _no_backups(self, section: Section, items: tuple[str, ...]) -> bool:
        if self.configured:
            return False
        section.not_verifiable(
            AREA,
            "No backup source",
            "no archive folder, PBM or backup manifest is configured",
            _CONFIGURE,
            _SOURCES,
            items,
        )
        return True

    # -- sections ---------------------------------------------------------------------------
    def inventory_section(self) -> Section:
        """Every backup of the last days; its age against the RPO, gaps, size drift, failures."""
        section = Section(
            "inventory",
            findings=self._of(
                "backups.rpo",
                "backups.schedule_gap",
                "backups.size_drop",
                "backups.failed",
                "backups.manifest_mismatch",
            ),
        )
        items = (bkfindings.DATABASE_BACKUPS, bkfindings.REGULAR_VERIFIED, bkfindings.STRATEGY)
        if self._no_backups(section, items):
            return section
        section.figures.append(charts.backup_sizes(self))
        columns = [
            "name",
            "kind",
            "finished_at",
            "size_bytes",
            "ok",
            "status",
            "error",
            "server_version",
            "tool_version",
        ]
        section.tables.append(("Backups (newest first)", self.table(self.backups.iloc[::-1], columns)))
        if len(self.gaps):
            section.tables.append(("Gaps in the schedule", self.table(self.gaps)))
        if len(self.size_drops):
            section.tables.append(("Far smaller than the trailing median", self.table(self.size_drops)))
        return section

    def archives_section(self) -> Section:
        """Archive readability (magic, prelude, gzip, end markers) and the collections they hold."""
        section = Section(
            "archives",
            findings=self._of("backups.archive_unreadable", "backups.archive_truncated", "backups.collections_missing"),
        )
        items = (bkfindings.DATABASE_BACKUPS, bkfindings.REGULAR_VERIFIED)
        if self._no_backups(section, items):
            return section
        archives = self.backups[self.backups["kind"] == "archive"] if len(self.backups) else self.backups
        if not self.params.archives:
            # PBM or manifests speak to the backups: a fact to show, not an item left unverifiable
            section.not_verifiable(
                AREA,
                "No archive folder",
                "no `backups.archives` is configured: no backup file is opened and checked",
                "list the folder of the mongodump archives under `backups.archives`",
                _SOURCES,
                (),
                effect="readability and contents of the backup files are not checked",
            )
            return section
        columns = ["name", "status", "size_bytes", "documents", "collections", "unfinished", "error"]
        section.tables.append(("Archives", self.table(archives.iloc[::-1], columns)))
        if self.db_collections.empty:
            section.not_verifiable(
                AREA,
                "No collection list of the database",
                f"the store holds no `{DB_COLLECTIONS}` of {self.day}: the archives' collections are not compared with the database's",
                "configure the `database` area (its snapshots list the collections)",
                ("database",),
                (bkfindings.DATABASE_BACKUPS,),
                effect="a backup missing a collection is not found",
            )
        elif self.missing_collections:
            section.tables.append(
                (
                    "Collections the database has and the newest archive lacks",
                    pd.DataFrame({"ns": self.missing_collections}),
                )
            )
        return section

    def pbm_section(self) -> Section:
        """PBM agents and PITR continuity."""
        section = Section("pbm", findings=self._of("backups.pbm_node", "backups.pitr_gap", "backups.pitr_error"))
        if self.params.pbm is None:
            section.not_verifiable(
                AREA,
                "No Percona Backup for MongoDB",
                "`backups.pbm` is not configured",
                "if PBM takes the backups, point `backups.pbm.status_file`/`list_file` at the JSON that "
                "`pbm status --out=json` and `pbm list --out=json` write, or set `backups.pbm.command`",
                ("backups_inventory",),
                (),
                effect="agent health and point-in-time ranges are not shown",
            )
            return section
        if len(self.pbm):
            nodes = self.pbm[self.pbm["kind"] == "node"]
            if len(nodes):
                section.tables.append(
                    ("PBM agents", self.table(nodes, ["rs", "host", "role", "agent", "ok", "errors"]))
                )
            ranges = self.pbm[self.pbm["kind"] == "pitr_range"]
            if len(ranges):
                section.tables.append(
                    ("PITR ranges", self.table(ranges, ["start", "end", "no_base_snapshot", "errors"]))
                )
        return section

    def drills_section(self) -> Section:
        """Restore drills: the age of the last good one, and the ones whose counts or hashes differ."""
        section = Section("drills", findings=self._of("backups.drill_age", "backups.drill_failed"))
        if self.drills.empty:
            section.not_verifiable(
                AREA,
                "No restore drill recorded",
                "no drill record was read" if self.params.drills else "`backups.drills` is not configured",
                "restore a backup into a scratch database, compare per-collection counts (and `dbHash`) with the "
                "source, and record the result as JSON (schema in the params docs) listed under `backups.drills`",
                ("backups_drills",),
                (bkfindings.RESTORE_TESTED,),
                effect="that a backup can be restored is not verified",
            )
            return section
        columns = [
            "ts",
            "backup",
            "target",
            "ok",
            "recorded_ok",
            "collections",
            "count_mismatches",
            "hash_mismatches",
            "evidence",
            "error",
        ]
        section.tables.append(("Restore drills (newest first)", self.table(self.drills.iloc[::-1], columns)))
        return section

    def reads_section(self) -> Section:
        """What each input gave."""
        section = Section("reads", findings=self._of("backups.bad_input"))
        if len(self.reads):
            section.tables.append(
                ("What each input gave", self.table(self.reads, ["source", "location", "status", "detail", "rows"]))
            )
        return section


def _read(store: Store, table: str, day: dt.date) -> pd.DataFrame:
    df = store.read(table, [day])
    if df.empty and not len(df.columns):
        return models.empty_frame(table)
    for f in models.SCHEMAS[table]:
        if f.type == models.TS and f.name in df.columns:
            df[f.name] = pd.to_datetime(df[f.name], utc=True)
    return df


def _db_collections(store: Store, day: dt.date) -> pd.DataFrame:
    """The collections the database review saw: its latest snapshot of the day, else of the day
    before (never of a later day: the review of a day uses what was known by then)."""
    for when in (day, day - dt.timedelta(days=1)):
        df = store.read(DB_COLLECTIONS, [when])
        if len(df) and {"ns", "db"} <= set(df.columns):
            if "ts" in df.columns:
                df = df[df["ts"] == df["ts"].max()]
            return df.reset_index(drop=True)
    return pd.DataFrame(columns=["ns", "db", "type"])


def build_review(
    day: dt.date,
    tz: ZoneInfo,
    as_of: object,
    params: BackupsParams,
    backups: pd.DataFrame,
    reads: pd.DataFrame,
    pbm: pd.DataFrame,
    drill_rows: pd.DataFrame,
    db_collections: pd.DataFrame,
) -> BackupReview:
    """Analyse and judge the tables (no store: tests and other callers pass frames)."""
    at = pd.Timestamp(as_of).tz_convert("UTC")
    p = params
    shown = analysis.reconcile(analysis.before(backups, at))  # a row another source contradicts shows not ok
    review = BackupReview(day, tz, at, p, shown, reads, pbm, drill_rows, db_collections)
    review.configured = p.configured
    review.last_good = analysis.last_good(backups, at)
    review.age_hours = analysis.age_hours(backups, at)
    review.gaps = analysis.schedule_gaps(backups, at, p.schedule_hours, p.schedule_tolerance)
    review.size_drops = analysis.size_drops(backups, at, p.size_drop_ratio, p.size_median_of)
    review.failed = analysis.failed(backups, at)
    review.manifest_mismatches = analysis.manifest_mismatches(backups, at)
    review.newest_archive = analysis.newest_readable(backups, at)
    review.expected_collections = analysis.expected_collections(db_collections, p.databases, p.exclude_collections)
    if review.newest_archive is not None and review.expected_collections:
        review.missing_collections = analysis.missing_collections(
            list(review.newest_archive["collections"]), review.expected_collections
        )
    review.pbm_nodes = analysis.pbm_node_problems(pbm)
    review.pitr_gaps = analysis.pitr_gaps(pbm, at - pd.Timedelta(days=p.lookback_days), at)
    review.pitr_problems = analysis.pitr_problems(pbm)
    review.drills = analysis.drill_summary(drill_rows)
    review.drill_age_days = analysis.drill_age_days(review.drills, at)
    review.findings = bkfindings.all_findings(review)
    return review


def load_backup_review(ctx: ReviewContext) -> BackupReview:
    """What the notebook calls: the review day's stored backups, judged."""
    store = ctx.store
    return build_review(
        ctx.day,
        ctx.params.tz,
        ctx.window[1],
        ctx.params.backups,
        _read(store, models.INVENTORY, ctx.day),
        _read(store, models.READS, ctx.day),
        _read(store, models.PBM, ctx.day),
        _read(store, models.DRILLS, ctx.day),
        _db_collections(store, ctx.day),
    )
