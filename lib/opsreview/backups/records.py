"""The JSON the backups area reads: the team's backup manifests, restore-drill records and
Percona Backup for MongoDB's ``status``/``list`` output, as rows of :mod:`.models` tables.

Nothing here raises for what a file holds: an unreadable file or an entry with a bad date is a
``backup_reads`` row (status ``unreadable`` / ``bad_entry``) naming the file and the entry, and
the other entries are still read. The schemas of manifests and drills are documented in
:mod:`opsreview.backups.params`; PBM's field names are those of ``cmd/pbm/status.go``,
``cmd/pbm/list.go`` and ``cmd/pbm/main.go`` (``snapshotStat``, ``pitrRange``) of
github.com/percona/percona-backup-mongodb.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 64 * 1024 * 1024  # a manifest, drill or PBM file larger than this is not read


class BadEntry(ValueError):
    """One entry of a file that cannot be used; the message names the key."""


def load_json(path: Path) -> Any:
    """A JSON file's value; OSError/ValueError name the problem (the caller records them)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES} bytes ({size})")
    return json.loads(path.read_text(encoding="utf-8"))


def entries(value: Any) -> Iterator[tuple[int, Any]]:
    """The entries of a file holding one object or a list of them."""
    if isinstance(value, list):
        yield from enumerate(value)
    else:
        yield 0, value


def parse_time(value: Any, key: str) -> dt.datetime:
    """An ISO 8601 time with its offset, as UTC (a time without an offset is ambiguous: an error)."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and value.strip():
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadEntry(f"{key} {value!r} is not an ISO 8601 time") from None
    else:
        raise BadEntry(f"{key} is missing" if value is None else f"{key} {value!r} is not an ISO 8601 time")
    if when.tzinfo is None:
        raise BadEntry(f"{key} {value!r} has no UTC offset")
    return when.astimezone(dt.UTC)


def _int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadEntry(f"{key} {value!r} is not a non-negative number")
    return int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def manifest_row(entry: Any, location: str, now: dt.datetime) -> dict[str, Any]:
    """One manifest entry as a ``backup_inventory`` row (BadEntry names what is wrong)."""
    if not isinstance(entry, dict):
        raise BadEntry("an entry is not a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise BadEntry("name is missing")
    finished = parse_time(entry.get("finished_at"), "finished_at")
    started = parse_time(entry["started_at"], "started_at") if entry.get("started_at") is not None else None
    if "ok" in entry:
        ok = entry["ok"] is True
        status = "ok" if ok else "failed"
    else:
        status = str(entry.get("status") or "").lower()
        if status not in ("ok", "failed", "running"):
            raise BadEntry(f"status {entry.get('status')!r} is not ok, failed or running")
        ok = status == "ok"
    collections = entry.get("collections")
    names = sorted(collections) if isinstance(collections, dict | list) else None
    return {
        "ts": now,
        "name": name,
        "kind": "manifest",
        "source": location,
        "location": _str(entry.get("location")),
        "started_at": started,
        "finished_at": finished,
        "size_bytes": _int(entry.get("size_bytes"), "size_bytes"),
        "ok": ok,
        "status": status,
        "error": _str(entry.get("error")),
        "server_version": _str(entry.get("server_version")),
        "tool_version": _str(entry.get("tool_version")),
        "collections": [str(n) for n in names] if names is not None else None,
    }


def drill_rows(entry: Any, drill_id: str, location: str) -> list[dict[str, Any]]:
    """One drill record as ``backup_drills`` rows, one per collection compared."""
    if not isinstance(entry, dict):
        raise BadEntry("an entry is not a JSON object")
    when = parse_time(entry.get("when"), "when")
    ok = entry.get("ok")
    if not isinstance(ok, bool):
        raise BadEntry(f"ok {ok!r} is not true or false")
    base = {
        "ts": when,
        "drill": drill_id,
        "backup": _str(entry.get("backup")),
        "target": _str(entry.get("target")),
        "ok": ok,
        "error": _str(entry.get("error")),
        "location": location,
    }
    collections = entry.get("collections") or []
    if not isinstance(collections, list):
        raise BadEntry("collections is not a list")
    rows = []
    for index, coll in enumerate(collections):
        if not isinstance(coll, dict) or not isinstance(coll.get("ns"), str):
            raise BadEntry(f"collections[{index}] has no ns")
        source_hash, restored_hash = coll.get("source_hash"), coll.get("restored_hash")
        rows.append(
            {
                **base,
                "ns": coll["ns"],
                "source_count": _int(coll.get("source_count"), f"collections[{index}].source_count"),
                "restored_count": _int(coll.get("restored_count"), f"collections[{index}].restored_count"),
                "hash_match": None if not source_hash or not restored_hash else source_hash == restored_hash,
            }
        )
    return rows or [base]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unix(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC)


PbmRows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]


def pbm_status_rows(status: Any, now: dt.datetime) -> PbmRows:
    """``pbm status --out=json`` → (``backup_pbm`` rows, ``backup_inventory`` rows, bad entries).

    Sections (``statusOut.MarshalJSON``): ``cluster`` [{rs, nodes: [{host, agent, role, ok,
    errors}]}], ``pitr`` {conf, run, nodes, error}, ``running`` {type, opID, name, startTS,
    status}, ``backups`` {type, path, snapshot: [snapshotStat], pitrChunks: {pitrChunks:
    [pitrRange], size}}. Entry by entry: a replica set, node, snapshot or range of the wrong
    shape is a bad entry (its message names it), the others are still read."""
    if not isinstance(status, dict):
        raise BadEntry("not a JSON object with cluster/pitr/backups sections")
    pbm: list[dict[str, Any]] = []
    bad: list[str] = []
    for i, rs in enumerate(_list(status.get("cluster"), "cluster", bad)):
        if not isinstance(rs, dict):
            bad.append(f"cluster[{i}] is not an object")
            continue
        for j, node in enumerate(_list(rs.get("nodes"), f"cluster[{i}].nodes", bad)):
            if not isinstance(node, dict):
                bad.append(f"cluster[{i}].nodes[{j}] is not an object")
                continue
            errors = node.get("errors")
            pbm.append(
                {
                    "ts": now,
                    "kind": "node",
                    "rs": _str(rs.get("rs")),
                    "host": _str(node.get("host")),
                    "role": _str(node.get("role")),
                    "agent": _str(node.get("agent")),
                    "ok": node.get("ok") is True,
                    "errors": "; ".join(
                        str(e) for e in (errors if isinstance(errors, list) else [errors] if errors else [])
                    )
                    or None,
                }
            )
    pitr = status.get("pitr")
    if isinstance(pitr, dict):
        nodes = pitr.get("nodes")
        pbm.append(
            {
                "ts": now,
                "kind": "pitr",
                "enabled": pitr.get("conf") is True,
                "running": pitr.get("run") is True,
                "ok": not pitr.get("error"),
                "errors": _str(pitr.get("error")) or None,
                "host": ", ".join(str(n) for n in nodes) if isinstance(nodes, list) and nodes else None,
            }
        )
    elif pitr is not None:
        bad.append("pitr is not an object")
    backups = _mapping(status.get("backups"))
    chunks = _mapping(backups.get("pitrChunks"))
    pbm += pitr_range_rows(_list(chunks.get("pitrChunks"), "backups.pitrChunks.pitrChunks", bad), now, bad)
    source = str(backups.get("path") or "pbm")
    inventory = _snapshots(
        _list(backups.get("snapshot"), "backups.snapshot", bad), now, source, "backups.snapshot", bad
    )
    return pbm, inventory, bad


def pbm_list_rows(listing: Any, now: dt.datetime) -> PbmRows:
    """``pbm list --out=json`` → (``backup_pbm`` rows, ``backup_inventory`` rows, bad entries):
    ``backupListOut`` {snapshots: [snapshotStat], pitr: {on, ranges: [pitrRange], rsRanges}}."""
    if not isinstance(listing, dict):
        raise BadEntry("not a JSON object with snapshots/pitr")
    bad: list[str] = []
    pitr = _mapping(listing.get("pitr"))
    pbm = pitr_range_rows(_list(pitr.get("ranges"), "pitr.ranges", bad), now, bad)
    inventory = _snapshots(_list(listing.get("snapshots"), "snapshots", bad), now, "pbm list", "snapshots", bad)
    return pbm, inventory, bad


def _list(value: Any, key: str, bad: list[str]) -> list[Any]:
    """A JSON list (null: empty); anything else is a bad entry."""
    if value is None:
        return []
    if not isinstance(value, list):
        bad.append(f"{key} is not a list")
        return []
    return value


def _snapshots(snaps: list[Any], now: dt.datetime, source: str, key: str, bad: list[str]) -> list[dict[str, Any]]:
    rows = []
    for i, snap in enumerate(snaps):
        try:
            rows.append(snapshot_row(snap, now, source))
        except BadEntry as exc:
            bad.append(f"{key}[{i}]: {exc}")
    return rows


def pitr_range_rows(ranges: list[Any], now: dt.datetime, bad: list[str] | None = None) -> list[dict[str, Any]]:
    """PBM ``pitrRange`` entries as ``backup_pbm`` rows; one without a ``range`` object is a bad
    entry (raised without ``bad``)."""
    rows = []
    for i, item in enumerate(ranges):
        span = item.get("range") if isinstance(item, dict) else None
        if not isinstance(span, dict):
            if bad is None:
                raise BadEntry("a PITR range has no range {start, end}")
            bad.append(f"PITR range {i} has no range {{start, end}}")
            continue
        error = item.get("error")
        rows.append(
            {
                "ts": now,
                "kind": "pitr_range",
                "start": _unix(span.get("start")),
                "end": _unix(span.get("end")),
                "no_base_snapshot": item.get("noBaseSnapshot") is True,
                # an `error` Go value marshals as {} (no exported fields): its presence is the error
                "errors": (error if isinstance(error, str) else "PITR chunk error") if error else None,
                "ok": not error,
            }
        )
    return rows


def snapshot_row(snap: Any, now: dt.datetime, source: str) -> dict[str, Any]:
    """One PBM ``snapshotStat`` as a ``backup_inventory`` row; ``restoreTo`` is when it finished."""
    if not isinstance(snap, dict):
        raise BadEntry("a snapshot is not an object")
    if not snap.get("name"):
        raise BadEntry("a snapshot has no name")
    nss = snap.get("nss")
    if nss is not None and not isinstance(nss, list):
        raise BadEntry(f"nss {nss!r} is not a list")
    status = str(snap.get("status") or "")
    ok = status == "done"
    return {
        "ts": now,
        "name": str(snap["name"]),
        "kind": "pbm",
        "source": source,
        "location": _str(snap.get("profile") or snap.get("storage")),
        "finished_at": _unix(snap.get("restoreTo")),
        "size_bytes": _int(snap.get("size"), "size"),
        "ok": ok,
        "status": "ok" if ok else ("failed" if status in ("error", "canceled", "partlyDone") else "running"),
        "error": _str(snap.get("error")) or (None if ok else f"PBM status {status or 'unknown'}"),
        "tool_version": _str(snap.get("pbmVersion")),
        "backup_type": _str(snap.get("type")),
        "collections": [str(n) for n in snap.get("nss") or []] or None,
    }
