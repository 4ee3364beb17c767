"""Params section `database`: the MongoDB to review, how gently to read it, and thresholds.

The connection string is always a ``${ENV}`` reference (``uri: "${MONGODB_URI}"``): it may
hold a password, so a literal one is refused at load time, and it is resolved only when the
collector connects. The login should hold ``clusterMonitor`` plus ``read`` (on the reviewed
databases and ``local``): the collector checks its own privileges and reports anything more.

Every command carries ``maxTimeMS`` (``max_time_ms``) and the socket a timeout; counts come
from storage statistics (never a scan), hygiene reads a ``$sample`` of ``hygiene.sample_size``
documents per collection, and the profiler's level is never changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from opsreview.schema import Section
from opsreview.secrets import SECRET_REF, SecretRef

ReadPreference = Literal["primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"]


class MongoLogSource(Section):
    host: str = Field(description="the mongod/mongos the log belongs to (shown in evidence)")
    paths: list[str] = Field(
        min_length=1, description="structured log files (4.4+ JSON, .gz allowed), globs or folders"
    )


class HygieneParams(Section):
    enabled: bool = Field(True, description="sample documents for hygiene checks")
    sample_size: int = Field(
        200, ge=1, le=10_000, description="documents read per collection with $sample (never a full scan)"
    )
    collections: list[str] = Field(
        default_factory=list,
        description="namespaces (db.coll) to sample; empty: every collection, up to max_collections",
    )
    password_fields: list[str] = Field(
        default_factory=lambda: ["password", "passwordHash", "password_hash", "hashedPassword"],
        description="fields that hold password hashes (their values are classified, never kept)",
    )
    soft_delete_fields: list[str] = Field(
        default_factory=lambda: ["deletedAt", "deleted_at", "isDeleted", "is_deleted", "deleted"],
        description="fields that mark a document soft-deleted (a date, or true)",
    )
    min_bcrypt_cost: int = Field(10, ge=4, le=31, description="bcrypt cost below this is a finding (OWASP: 10 or more)")
    max_doc_bytes: int = Field(
        1_000_000, gt=0, description="documents larger than this (BSON bytes) are counted as oversize"
    )


class DatabaseThresholds(Section):
    slow_ms: float = Field(
        100, gt=0, description="an operation at or above this is slow (Atlas Performance Advisor's 100 ms)"
    )
    slow_shape_p95_ms: float = Field(500, gt=0, description="a shape whose p95 is above this is a warning")
    slow_shape_total_s: float = Field(60, gt=0, description="a shape that spent more than this in a day is a warning")
    examined_ratio: float = Field(
        1000, gt=1, description="docs or keys examined per document returned above which a shape is poorly targeted"
    )
    collscan_min_docs: int = Field(10_000, ge=0, description="a COLLSCAN on a collection larger than this is a finding")
    connections_warning: float = Field(
        0.8, gt=0, lt=1, description="share of connections in use (current / (current + available))"
    )
    connections_critical: float = Field(0.9, gt=0, le=1)
    cache_dirty_warning: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="dirty share of the WiredTiger cache (eviction starts at 5%, application threads help at 20%)",
    )
    cache_dirty_critical: float = Field(0.20, gt=0, le=1)
    cache_used_warning: float = Field(0.95, gt=0, le=1, description="cache used share (eviction trigger 95%)")
    queue_warning: int = Field(10, ge=1, description="operations queued on the global lock")
    lag_warning_s: float = Field(10, gt=0, description="replication lag of a secondary")
    lag_critical_s: float = Field(60, gt=0)
    oplog_window_hours: float = Field(
        24, gt=0, description="oplog window shorter than this: a secondary down that long cannot catch up"
    )
    unused_index_days: float = Field(
        7, gt=0, description="an index with no access since at least this long ago is unused (Atlas: 7 days)"
    )
    disk_days_warning: float = Field(30, gt=0, description="days until the data disk fills, at the recent growth rate")
    disk_days_critical: float = Field(7, gt=0)
    connection_churn_per_s: float = Field(
        5, gt=0, description="new connections per second over the day above which connections are not pooled"
    )
    no_projection_min_obj_bytes: int = Field(
        16_384,
        gt=0,
        description="a slow find with no projection on a collection whose documents average more than this",
    )
    regression_factor: float = Field(
        3.0, gt=1, description="a shape that spent this many times its baseline's median daily time is a warning"
    )
    new_shape_min_count: int = Field(
        10,
        ge=1,
        description="a slow shape not seen in the baseline is a warning from this many executions (info below)",
    )
    current_op_secs: float = Field(60, gt=0, description="an operation running longer than this is a finding")


class DatabaseParams(Section):
    uri: SecretRef | None = Field(
        None, description='connection string as an ${ENV} reference, e.g. "${MONGODB_URI}"; unset: no live collection'
    )
    read_preference: ReadPreference = Field(
        "primary",
        description="the member the review reads: its serverStatus, slow queries, $currentOp and index usage are what the "
        "review shows (the primary serves the app's writes); secondaryPreferred moves all of it, samples too, to a secondary",
    )
    databases: list[str] = Field(
        default_factory=list, description="databases to review; empty: all but admin, local and config"
    )
    max_collections: int = Field(200, ge=1, description="collections read per run (the largest first)")
    max_time_ms: int = Field(5000, ge=100, le=60_000, description="maxTimeMS of every command")
    socket_timeout_ms: int = Field(10_000, ge=100, le=120_000, description="socket timeout of every read")
    connect_timeout_ms: int = Field(5000, ge=100, le=60_000, description="connect and server selection timeout")
    rate_interval_s: float = Field(
        10,
        ge=0,
        le=300,
        description="two serverStatus samples this far apart give rates (mongostat's Δ/Δt); 0: one sample",
    )
    snapshot_deadline_s: float = Field(
        120,
        ge=5,
        le=3600,
        description="a snapshot sends no further command after this many seconds (what was read is kept, "
        "the reads skipped are counted in its errors)",
    )
    current_op_min_secs: float = Field(5, ge=0, description="$currentOp: operations running longer than this are kept")
    current_op_window_s: float = Field(
        0, ge=0, le=300, description="watch $currentOp this long (one look every 1 s); 0: one look"
    )
    profiler: bool = Field(
        True, description="read system.profile of databases where the profiler is on (its level is never changed)"
    )
    get_log: bool = Field(True, description="read recent slow queries from the server's log buffer (getLog global)")
    profile_limit: int = Field(1000, ge=1, le=100_000, description="newest system.profile entries read per database")
    log_files: list[MongoLogSource] = Field(default_factory=list, description="structured log files of mongod/mongos")
    snapshot_dir: Path | None = Field(
        None,
        description="folder of snapshot JSON files (`opsreview database snapshot` writes here; the demo too); default: <store>/../database-snapshots",
    )
    disk_total_bytes: int | None = Field(
        None, gt=0, description="size of the data disk when fsTotalSize is not reported"
    )
    hygiene: HygieneParams = Field(default_factory=lambda: HygieneParams())
    thresholds: DatabaseThresholds = Field(default_factory=lambda: DatabaseThresholds())

    @field_validator("uri", mode="before")
    @classmethod
    def _uri(cls, value: object) -> object:
        if value is None:
            return value
        text = value.reference if isinstance(value, SecretRef) else str(value)
        if not SECRET_REF.fullmatch(text.strip()):
            raise ValueError(
                'database.uri must be an ${ENV} reference such as "${MONGODB_URI}" (a connection string may hold a password)'
            )
        return text.strip()

    @property
    def configured(self) -> bool:
        return self.uri is not None or bool(self.log_files) or self.snapshot_dir is not None
