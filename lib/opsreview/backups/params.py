"""Params section `backups`: where the backups are, what the team's job and restore drills
record, and the policy they are judged against.

Sources (any of them; each is read-only and bounded):

- ``archives``: a folder (or the local mount of an object-store prefix, e.g. s3fs/rclone) of
  ``mongodump --archive[ --gzip]`` files whose names carry the backup time (``pattern``, in
  ``timezone``). Each archive's magic number and prelude are read (server and tool version,
  the collections it holds), and its body is scanned as a stream to its end (gzip integrity,
  every collection's end-of-data marker). The time in the name is the backup's time.
- ``pbm``: Percona Backup for MongoDB, from the files ``pbm status --out=json`` and
  ``pbm list --out=json`` wrote, or by running ``pbm`` (with a timeout; it reads the
  ``PBM_MONGODB_URI`` environment variable, never a params key).
- ``manifests``: JSON files the team's own backup job writes, one object per backup or a list
  of them::

      {"name": "mongodump-2026-12-01T0230.archive.gz",   # required, the backup's name
       "finished_at": "2026-12-01T02:41:10+00:00",       # required, ISO 8601 with offset
       "started_at": "2026-12-01T02:30:00+00:00",        # optional
       "status": "ok",                                   # ok | failed (or "ok": true/false)
       "size_bytes": 48213377,                           # optional, bytes written
       "error": null,                                    # optional, why it failed
       "tool_version": "100.10.0", "server_version": "7.0.14",   # optional
       "collections": {"shop.orders": 842000, ...}}      # optional, ns -> documents (or a list of ns)

- ``drills``: JSON files recording restore drills (a backup restored into a scratch database
  and compared with its source), one object per drill or a list of them::

      {"when": "2026-11-20T10:00:00+00:00",     # required, ISO 8601 with offset
       "backup": "mongodump-2026-11-20T0230.archive.gz",
       "target": "restore_drill_20261120",     # the scratch database restored into
       "ok": true, "error": null,
       "collections": [{"ns": "shop.orders", "source_count": 842000, "restored_count": 842000,
                        "source_hash": "<dbHash md5>", "restored_hash": "<dbHash md5>"}]}

  ``source_hash``/``restored_hash`` are the ``dbHash`` command's per-collection hashes, where
  the drill could take them; a count or hash that differs is a failed drill.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from opsreview.schema import Section


def _resolve(value: str, info: ValidationInfo) -> str:
    """A relative path or glob against the params file's folder (when loaded from one)."""
    base = (info.context or {}).get("base") if isinstance(info.context, dict) else None
    path = Path(value).expanduser()
    if base is None or path.is_absolute():
        return str(path)
    return os.path.normpath(Path(base) / path)


class ArchiveSource(Section):
    path: str = Field(description="folder (or object-store mount) holding the archives, relative to the params file")
    pattern: str = Field(
        "mongodump-%Y-%m-%dT%H%M.archive.gz",
        description="file name with the backup time: %Y %m %d %H %M %S, and * for anything else",
    )
    timezone: str = Field("UTC", description="IANA zone of the time in the file names")
    scan_body: bool = Field(
        True, description="scan each archive's body to its end (gzip integrity, every collection's end marker)"
    )
    max_header_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="bytes of the prelude read at most (magic, header, collection list)"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        return _resolve(value, info)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "%Y" not in value or "%m" not in value or "%d" not in value:
            raise ValueError("the pattern needs at least %Y, %m and %d (the backup's date)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value


class PbmSource(Section):
    status_file: str | None = Field(None, description="a file written by `pbm status --out=json`")
    list_file: str | None = Field(None, description="a file written by `pbm list --out=json`")
    command: list[str] | None = Field(
        None,
        description='run PBM instead of reading files, e.g. ["pbm"] (it reads PBM_MONGODB_URI from the environment)',
    )
    timeout_s: float = Field(30, gt=0, le=600, description="timeout of each pbm command, seconds")

    @field_validator("status_file", "list_file")
    @classmethod
    def _file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _resolve(value, info)


class BackupsParams(Section):
    archives: list[ArchiveSource] = Field(default_factory=list, description="folders of mongodump archives")
    pbm: PbmSource | None = Field(None, description="Percona Backup for MongoDB status and list")
    manifests: list[str] = Field(
        default_factory=list, description="JSON manifests of the team's backup job: files, globs or folders"
    )
    drills: list[str] = Field(
        default_factory=list, description="JSON records of restore drills: files, globs or folders"
    )
    rpo_hours: float = Field(
        26, gt=0, description="the last good backup older than this is a breach of the RPO (26 h for a nightly job)"
    )
    schedule_hours: float = Field(24, gt=0, description="the expected interval between backups")
    schedule_tolerance: float = Field(
        0.5, ge=0, description="an interval longer than schedule_hours × (1 + this) is a gap in the schedule"
    )
    size_drop_ratio: float = Field(
        0.5, gt=0, lt=1, description="a backup smaller than this share of the trailing median is a likely partial dump"
    )
    size_median_of: int = Field(7, ge=2, description="good backups before it in the trailing median")
    drill_max_age_days: float = Field(30, gt=0, description="the last good restore drill older than this is overdue")
    lookback_days: int = Field(14, ge=1, le=400, description="backups read and judged: those of the last N days")
    read_deadline_s: float = Field(
        900,
        ge=0,
        description="seconds of archive reading per pull; archives not started by then are reported as not read "
        "(deadline), not scanned (0: only what the read cache holds)",
    )
    databases: list[str] = Field(
        default_factory=list,
        description="databases a backup must hold (empty: every one the database review saw but admin, config, local)",
    )
    exclude_collections: list[str] = Field(
        default_factory=list, description='collections deliberately not backed up, "db.collection"'
    )

    @field_validator("manifests", "drills")
    @classmethod
    def _paths(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [_resolve(v, info) for v in value]

    @property
    def configured(self) -> bool:
        """Whether any source of backups is configured (drills alone are not backups)."""
        return bool(self.archives) or self.pbm is not None or bool(self.manifests)
