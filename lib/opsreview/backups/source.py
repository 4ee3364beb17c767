"""Sources of the backups area, pulled into the tables of :mod:`opsreview.backups.models`.

- ``backups_inventory``: every backup the configured sources tell of, one row each
  (``backup_inventory``): the archive folders (each archive's prelude read and its body scanned,
  :mod:`.archive`; what each read found is cached by path, size and mtime in the store folder's
  ``backups_archive_reads.json``, so only new or changed archives are opened, and reading stops
  at ``read_deadline_s``), Percona Backup for MongoDB (``pbm status``/``pbm list`` JSON, ``backup_pbm``
  for its agents and PITR ranges) and the team's manifests; ``backup_reads`` says what each
  input gave.
- ``backups_drills``: the recorded restore drills (``backup_drills``).

Both write under the review day: the inventory as it stood at the end of that day (backups
named after it are not counted), so a re-run reads the same answer. :func:`inventory` is the
same read without the store, for callers that need the backups now (the pre-deployment check).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.backups import analysis, models, records
from opsreview.backups.archive import ArchiveRead, read_archive
from opsreview.backups.params import ArchiveSource, BackupsParams, PbmSource
from opsreview.context import ReviewContext
from opsreview.masking import AtRest, mask_at_rest, masked
from opsreview.secrets import redact
from opsreview.sources import SourceResult, register_source

for _table in models.SCHEMAS:
    mask_at_rest(_table, AtRest())  # every text column masked before it is written

_FIELDS = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})", "H": r"(?P<H>\d{2})"}
_FIELDS |= {"M": r"(?P<M>\d{2})", "S": r"(?P<S>\d{2})"}


def name_regex(pattern: str) -> re.Pattern[str]:
    """The file-name pattern (``mongodump-%Y-%m-%dT%H%M.archive.gz``, ``*`` for anything) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "%" and i + 1 < len(pattern) and pattern[i + 1] in _FIELDS:
            out.append(_FIELDS[pattern[i + 1]])
            i += 2
        elif pattern[i] == "*":
            out.append(".*?")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def time_in_name(name: str, regex: re.Pattern[str], tz: ZoneInfo) -> dt.datetime | None:
    """The backup time a file name carries (in ``tz``), as UTC; None when it does not match."""
    match = regex.match(name)
    if match is None:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items()}
    try:
        local = dt.datetime(parts["Y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0), parts.get("S", 0))
    except ValueError:
        return None
    return local.replace(tzinfo=tz).astimezone(dt.UTC)


@dataclass
class BackupInputs:
    """Rows of every table, as read from the configured sources."""

    inventory: list[dict[str, Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    pbm: list[dict[str, Any]] = field(default_factory=list)
    drills: list[dict[str, Any]] = field(default_factory=list)

    def read(
        self, now: dt.datetime, source: str, location: str, status: str, detail: str | None = None, **kw: Any
    ) -> None:
        self.reads.append(
            {
                "ts": now,
                "source": source,
                "location": location,
                "status": status,
                "detail": masked(redact(detail)) if detail else None,
                **kw,
            }
        )


class ArchiveCache:
    """What reading each archive found, kept by (path, size, mtime) in a small JSON file of the
    store folder, so a pull opens only the archives that are new or changed since the last one.
    Written atomically (a temporary file renamed over it); a cache that cannot be read is empty."""

    VERSION = 1

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: dict[str, dict[str, Any]] = {}
        self.hits = 0
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("version") == self.VERSION and isinstance(data.get("archives"), dict):
            self.entries = data["archives"]

    @staticmethod
    def _key(stat: os.stat_result, spec: ArchiveSource, scan_body: bool) -> dict[str, Any]:
        return {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "scan_body": scan_body,
            "max_header_bytes": spec.max_header_bytes,
        }

    def get(self, path: Path, stat: os.stat_result, spec: ArchiveSource, scan_body: bool) -> ArchiveRead | None:
        entry = self.entries.get(str(path))
        if self.path is None or not isinstance(entry, dict) or entry.get("key") != self._key(stat, spec, scan_body):
            return None
        try:
            read = ArchiveRead(**entry["read"])
        except (TypeError, KeyError):
            return None
        self.used[str(path)] = entry
        self.hits += 1
        return read

    def put(self, path: Path, stat: os.stat_result, spec: ArchiveSource, scan_body: bool, read: ArchiveRead) -> None:
        if not (read.error or "").startswith(("cannot open", "read error")):  # an I/O error is tried again
            self.used[str(path)] = {"key": self._key(stat, spec, scan_body), "read": asdict(read)}

    def save(self) -> None:
        """Keep the archives of this pull (the others left the lookback or the folder)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": self.VERSION, "archives": self.used}, handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass
class _Limits:
    """How archives are read in one pull: body scan or not, the deadline (time.monotonic), the cache."""

    deadline: float
    deadline_s: float
    cache: ArchiveCache
    scan_body: bool | None = None  # None: each folder's scan_body


def _archive_rows(
    spec: ArchiveSource,
    since: dt.datetime,
    until: dt.datetime,
    now: dt.datetime,
    out: BackupInputs,
    limits: _Limits,
) -> None:
    folder = Path(spec.path)
    if not folder.is_dir():
        out.read(now, "archives", spec.path, "missing", f"{spec.path} is not a folder (backups.archives.path)")
        return
    regex, tz = name_regex(spec.pattern), ZoneInfo(spec.timezone)
    ignored = older = unread = 0
    scan_body = spec.scan_body if limits.scan_body is None else limits.scan_body
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        out.read(now, "archives", spec.path, "unreadable", f"cannot list {spec.path}: {exc.strerror}")
        return
    candidates: list[tuple[dt.datetime, str]] = []
    for name in names:
        when = time_in_name(name, regex, tz)
        if when is None or not (folder / name).is_file():
            ignored += not name.startswith(".")
            continue
        if when < since or when >= until:
            older += when < since
            continue
        candidates.append((when, name))
    for when, name in sorted(candidates, reverse=True):  # newest first: the deadline leaves the oldest unread
        path = folder / name
        stat: os.stat_result | None = None
        try:
            stat = path.stat()
        except OSError as exc:
            read: ArchiveRead | None = ArchiveRead(str(path)).fail("unreadable", f"cannot stat: {exc.strerror or exc}")
        else:
            read = limits.cache.get(path, stat, spec, scan_body)
        base = {
            "ts": now,
            "name": name,
            "kind": "archive",
            "source": spec.path,
            "location": str(path),
            "started_at": when,
            "finished_at": when,
        }
        if read is None and time.monotonic() >= limits.deadline:
            unread += 1
            size = stat.st_size if stat is not None else None
            out.inventory.append(
                base | {"size_bytes": size, "ok": False, "status": analysis.NOT_READ, "error": "not read (deadline)"}
            )
            continue
        if read is None:
            read = read_archive(path, scan_body=scan_body, max_header_bytes=spec.max_header_bytes)
            if stat is not None:
                limits.cache.put(path, stat, spec, scan_body, read)
        out.inventory.append(
            base
            | {
                "size_bytes": read.size_bytes,
                "ok": read.ok,
                "status": read.status,
                "error": read.error,
                "server_version": read.server_version,
                "tool_version": read.tool_version,
                "backup_type": "gzip" if read.gzip else "plain",
                "collections": read.namespaces,
                "documents": sum(read.documents.values()) if read.scanned else None,
                "unfinished": read.unfinished if read.scanned else [],
            }
        )
        out.read(now, "archives", str(path), "ok" if read.ok else read.status, read.error, bytes_read=read.bytes_read)
    found = sum(1 for r in out.inventory if r["source"] == spec.path) - unread
    detail = f"{found} archive(s) of the last days read"
    if limits.cache.hits:
        detail += f" ({limits.cache.hits} unchanged since the last pull, from the read cache)"
        limits.cache.hits = 0
    if older:
        detail += f"; {older} older than backups.lookback_days not read"
    if ignored:
        detail += f"; {ignored} file(s) not matching the pattern {spec.pattern!r}"
    out.read(now, "archives", spec.path, "ok", detail, rows=found)
    if unread:
        out.read(
            now,
            "archives",
            spec.path,
            analysis.NOT_READ,
            f"{unread} archive(s) not read (deadline: backups.read_deadline_s = {limits.deadline_s:g} s)",
            rows=unread,
        )


def _run_pbm(command: list[str], args: list[str], timeout_s: float) -> Any:
    """Run ``pbm <args> --out=json`` (read-only commands) and parse its JSON; errors name the command."""
    argv = [*command, *args, "--out=json"]
    shown = f"pbm {' '.join(args)} --out=json"
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise OSError(f"{command[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise OSError(f"`{shown}` timed out after {timeout_s:g} s") from None
    if done.returncode != 0:
        first = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise OSError(f"`{shown}` exited {done.returncode}: {first[0] if first else ''}")
    return json.loads(done.stdout.decode("utf-8", "replace"))


def _pbm_rows(spec: PbmSource, since: dt.datetime, until: dt.datetime, now: dt.datetime, out: BackupInputs) -> None:
    inputs: list[tuple[str, str | None, list[str]]] = [
        ("status", spec.status_file, ["status"]),
        ("list", spec.list_file, ["list"]),
    ]
    seen: set[str] = set()
    for what, file, args in inputs:
        if file is None and spec.command is None:
            continue
        location = file if file is not None else f"pbm {what}"
        try:
            value = (
                records.load_json(Path(file))
                if file is not None
                else _run_pbm(list(spec.command or []), args, spec.timeout_s)
            )
            parse = records.pbm_status_rows if what == "status" else records.pbm_list_rows
            pbm, inventory, bad = parse(value, now)
        except FileNotFoundError:
            out.read(now, "pbm", location, "missing", f"{location} does not exist (backups.pbm.{what}_file)")
            continue
        except (OSError, ValueError) as exc:
            out.read(now, "pbm", location, "unreadable", f"{location}: {exc}")
            continue
        for problem in bad:
            out.read(now, "pbm", location, "bad_entry", f"{location}: {problem}")
        if what == "list" and any(r["kind"] == "pitr_range" for r in out.pbm):
            pbm = [r for r in pbm if r["kind"] != "pitr_range"]  # status already gave the ranges
        out.pbm += pbm
        kept = 0
        for row in inventory:
            when = row.get("finished_at")
            if row["name"] in seen or (when is not None and not since <= when < until):
                continue
            seen.add(row["name"])
            out.inventory.append(row)
            kept += 1
        out.read(now, "pbm", location, "ok", f"{kept} backup(s), {len(pbm)} agent/PITR row(s)", rows=kept)


def _files(patterns: list[str], source: str, key: str, now: dt.datetime, out: BackupInputs) -> list[Path]:
    """Files named by ``patterns`` (files, globs, folders); a name that matches nothing is a read row."""
    found: list[Path] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found += sorted(p for p in Path(pattern).iterdir() if p.is_file() and not p.name.startswith("."))
        elif glob.has_magic(pattern):
            matched = sorted(Path(p) for p in glob.glob(pattern) if os.path.isfile(p))
            if not matched:
                out.read(now, source, pattern, "missing", f"{pattern} matches no file ({key})")
            found += matched
        elif os.path.isfile(pattern):
            found.append(Path(pattern))
        else:
            out.read(now, source, pattern, "missing", f"{pattern} does not exist ({key})")
    return found


def _manifest_rows(
    patterns: list[str], since: dt.datetime, until: dt.datetime, now: dt.datetime, out: BackupInputs
) -> None:
    for path in _files(patterns, "manifests", "backups.manifests", now, out):
        try:
            value = records.load_json(path)
        except (OSError, ValueError) as exc:
            out.read(now, "manifests", str(path), "unreadable", f"{path.name}: {exc}")
            continue
        kept = 0
        for index, entry in records.entries(value):
            try:
                row = records.manifest_row(entry, str(path), now)
            except records.BadEntry as exc:
                out.read(now, "manifests", f"{path}#{index}", "bad_entry", f"{path.name} entry {index}: {exc}")
                continue
            if since <= row["finished_at"] < until:
                out.inventory.append(row)
                kept += 1
        out.read(now, "manifests", str(path), "ok", f"{kept} backup(s) of the last days", rows=kept)


def _drill_rows(patterns: list[str], until: dt.datetime, now: dt.datetime, out: BackupInputs) -> None:
    for path in _files(patterns, "drills", "backups.drills", now, out):
        try:
            value = records.load_json(path)
        except (OSError, ValueError) as exc:
            out.read(now, "drills", str(path), "unreadable", f"{path.name}: {exc}")
            continue
        kept = 0
        for index, entry in records.entries(value):
            try:
                rows = records.drill_rows(entry, f"{path.name}#{index}", str(path))
            except records.BadEntry as exc:
                out.read(now, "drills", f"{path}#{index}", "bad_entry", f"{path.name} entry {index}: {exc}")
                continue
            if rows[0]["ts"] < until:
                out.drills += rows
                kept += 1
        out.read(now, "drills", str(path), "ok", f"{kept} drill(s)", rows=kept)


def read_backups(
    params: BackupsParams,
    until: dt.datetime,
    now: dt.datetime | None = None,
    drills: bool = False,
    *,
    cache: Path | None = None,
    scan_body: bool | None = None,
) -> BackupInputs:
    """Read every configured source of backups named before ``until``, of the last
    ``params.lookback_days`` before it (and the drills, with ``drills``).

    Archives are read within ``params.read_deadline_s`` (those not started by then are rows of
    status ``not_read``); with ``cache`` (a JSON file) an archive whose path, size and mtime are
    unchanged since the last read is not opened again. ``scan_body`` overrides each folder's."""
    now = now or dt.datetime.now(dt.UTC)
    since = until - dt.timedelta(days=params.lookback_days)
    out = BackupInputs()
    limits = _Limits(time.monotonic() + params.read_deadline_s, params.read_deadline_s, ArchiveCache(cache), scan_body)
    for spec in params.archives:
        _archive_rows(spec, since, until, now, out, limits)
    if params.archives:
        limits.cache.save()
    if params.pbm is not None:
        _pbm_rows(params.pbm, since, until, now, out)
    _manifest_rows(params.manifests, since, until, now, out)
    if drills:
        _drill_rows(params.drills, until, now, out)
    return out


def inventory(params: BackupsParams, *, now: dt.datetime | None = None) -> pd.DataFrame:
    """The backups the configured sources tell of now, read directly (not from the store).

    One row per backup of the last ``params.lookback_days`` before ``now`` (default: the
    current time), from the archive folders, PBM and the team's manifests. Archives are read
    as the pull reads them (each folder's ``scan_body``; set it false to read the prelude only,
    a ``.gz`` still decompressed to its end so a cut gzip is found), newest first, without the
    store's cache, and within ``params.read_deadline_s``: an archive not started by then is a
    row of status ``not_read`` (``ok`` False, error ``not read (deadline)``), never a good one. Bounded like the pull (no archive is held in
    memory, every PBM command has its timeout). Never raises for a
    missing folder or a bad file: those give no row. Columns (:data:`models.INVENTORY_SCHEMA`):
    ``name``, ``kind`` (archive | pbm | manifest), ``finished_at`` (tz-aware UTC), ``ok``
    (bool), ``size_bytes``, ``error``, ``status``, ``source``, ``location``, ``started_at``,
    ``server_version``, ``tool_version``, ``collections``, ``documents``. Rows are reconciled
    across sources (:func:`.analysis.reconcile`): an ok row whose name another source shows not
    ok (a manifest saying ok for a truncated archive) is ``ok`` False, its ``error`` naming the
    evidence (``archive <file> truncated``). Judge the age of the newest ok one against
    ``params.rpo_hours``.
    """
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    read = read_backups(params, when + dt.timedelta(microseconds=1), now=when)
    return analysis.reconcile(models.frame(models.INVENTORY, read.inventory))


ARCHIVE_CACHE = "backups_archive_reads.json"  # in the store folder: what each archive's read found


def _write(ctx: ReviewContext, table: str, part: str, rows: list[dict[str, Any]]) -> None:
    ctx.store.write_part(table, ctx.day, part, models.to_arrow(table, rows))


@register_source("backups_inventory", area="backups", table=models.INVENTORY, configured=lambda p: p.backups.configured)
def pull_inventory(ctx: ReviewContext) -> SourceResult:
    """The backups as they stood at the end of the review day."""
    read = read_backups(ctx.params.backups, ctx.window[1], cache=ctx.store.root / ARCHIVE_CACHE)
    _write(ctx, models.INVENTORY, "sources", read.inventory)
    _write(ctx, models.PBM, "pbm", read.pbm)
    _write(ctx, models.READS, "inventory", read.reads)
    return SourceResult("backups_inventory", rows=len(read.inventory))


@register_source("backups_drills", area="backups", table=models.DRILLS, configured=lambda p: bool(p.backups.drills))
def pull_drills(ctx: ReviewContext) -> SourceResult:
    """Every recorded restore drill up to the end of the review day."""
    read = BackupInputs()
    now = dt.datetime.now(dt.UTC)
    _drill_rows(ctx.params.backups.drills, ctx.window[1], now, read)
    _write(ctx, models.DRILLS, "drills", read.drills)
    _write(ctx, models.READS, "drills", read.reads)
    return SourceResult("backups_drills", rows=len(read.drills))
