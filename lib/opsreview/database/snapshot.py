"""Snapshot files: one JSON document per snapshot, and their rows in the store tables.

A snapshot (see :mod:`.collector`; the demo writes the same format) is kept as
``<folder>/<YYYY-MM-DD>/<HHMMSS>-<host>.json`` by its UTC day and time, written atomically
(a temporary file renamed into place; never over an existing file). :func:`read_snapshots`
reads the files of the review's local days; a file that is not JSON or not this format is
logged (``log.warning`` naming it), skipped and counted.

:func:`flatten` turns one snapshot into rows of every table of ``models.SNAPSHOT_TABLES``
plus ``db_slow_queries``. Every row has ``ts`` (the snapshot's time, or the slow query's
own) and ``host``. A reply that is missing gives no rows for its table: nothing is
invented, a field the reply does not hold is None. Collection options are read in either
form: the collector's reduced one (``hasValidator``, never the validator itself) or a full
``listCollections`` reply (older snapshots, the demo). An index's ``since`` over several
shards is the latest one: only from then on did every shard count its accesses.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opsreview.database import models
from opsreview.localtime import Zone
from opsreview.secrets import redact

log = logging.getLogger(__name__)

FORMAT = "opsreview-mongodb-snapshot/1"
_NAME = re.compile(r"^(\d{6})-(.+)\.json$")


# -- files --------------------------------------------------------------------------------


def _parse_ts(value: Any) -> datetime | None:
    """A datetime (UTC) from an ISO string, an Extended JSON date/timestamp or a datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, Mapping):
        if "$date" in value:
            inner = value["$date"]
            if isinstance(inner, Mapping) and "$numberLong" in inner:
                inner = int(inner["$numberLong"])
            if isinstance(inner, int | float) and not isinstance(inner, bool):
                try:
                    return datetime.fromtimestamp(inner / 1000, tz=UTC)
                except (OverflowError, OSError, ValueError):
                    return None
            return _parse_ts(inner)
        if "$timestamp" in value:
            t = (value["$timestamp"] or {}).get("t")
            return datetime.fromtimestamp(t, tz=UTC) if isinstance(t, int | float) else None
    return None


def _safe_host(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", host).strip("_") or "unknown"


def write_snapshot(folder: Path, snapshot: dict[str, Any]) -> Path:
    """Write one snapshot as ``<folder>/<UTC day>/<HHMMSS>-<host>.json``; the path written.

    Atomic (written aside, then linked into place) and never over an existing file: a second
    snapshot in the same second gets ``-2``, ``-3``... The text is redacted before it is
    written (no resolved secret can reach the file).
    """
    if snapshot.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    ts = _parse_ts(snapshot.get("ts"))
    if ts is None:
        raise ValueError("the snapshot has no valid ts")
    ts = ts.astimezone(UTC)
    day_dir = Path(folder) / ts.strftime("%Y-%m-%d")
    day_dir.mkdir(parents=True, exist_ok=True)
    text = redact(json.dumps(snapshot, ensure_ascii=False, allow_nan=False))
    stem = f"{ts.strftime('%H%M%S')}-{_safe_host(str(snapshot.get('host') or 'unknown'))}"
    fd, tmp_name = tempfile.mkstemp(dir=day_dir, prefix=".", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        n = 1
        while True:
            target = day_dir / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
            try:
                os.link(tmp, target)
            except FileExistsError:
                n += 1
                continue
            return target
    finally:
        tmp.unlink(missing_ok=True)


def _tz(tz: Zone) -> Any:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def read_snapshots(
    folder: Path, days: set[date], tz: Zone, *, skipped: list[Path] | None = None
) -> Iterator[dict[str, Any]]:
    """The snapshots taken on the local ``days`` (in ``tz``), oldest first.

    A file that is not valid JSON or not a snapshot of this format is logged with
    ``log.warning`` (naming the file), skipped and appended to ``skipped`` when given.
    """
    folder = Path(folder)
    zone = _tz(tz)
    utc_days: set[date] = set()
    for day in days:
        utc_days.update({day - timedelta(days=1), day, day + timedelta(days=1)})
    candidates: list[tuple[datetime, Path]] = []
    for utc_day in sorted(utc_days):
        day_dir = folder / utc_day.isoformat()
        if not day_dir.is_dir():
            continue
        for path in day_dir.iterdir():
            match = _NAME.match(path.name)
            if not match or not path.is_file():
                continue
            hhmmss = match.group(1)
            try:
                when = datetime.combine(utc_day, datetime.strptime(hhmmss, "%H%M%S").time(), tzinfo=UTC)
            except ValueError:
                continue
            if when.astimezone(zone).date() in days:
                candidates.append((when, path))
    for _, path in sorted(candidates):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("database snapshot %s skipped: not valid JSON (%s)", path, type(exc).__name__)
            if skipped is not None:
                skipped.append(path)
            continue
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or _parse_ts(doc.get("ts")) is None:
            log.warning("database snapshot %s skipped: not an %s document", path, FORMAT)
            if skipped is not None:
                skipped.append(path)
            continue
        yield doc


# -- flattening ---------------------------------------------------------------------------


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _int(value: Any) -> int | None:
    value = _num(value)
    return int(value) if value is not None else None


def _num(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, Mapping):
        for key in ("$numberLong", "$numberInt", "$numberDouble", "$numberDecimal"):
            if key in value:
                try:
                    number = float(value[key])
                except (TypeError, ValueError):
                    return None
                return int(number) if key in ("$numberLong", "$numberInt") else number
    return None


def _float(value: Any) -> float | None:
    value = _num(value)
    return float(value) if value is not None else None


def _bool(value: Any) -> bool | None:
    return bool(value) if value is not None else None


def _role(status: Mapping[str, Any], topology: str | None) -> str:
    if topology == "mongos" or status.get("process") == "mongos":
        return "mongos"
    repl = status.get("repl")
    if not isinstance(repl, Mapping):
        return "standalone" if topology in (None, "standalone") else "other"
    if repl.get("isWritablePrimary") or repl.get("ismaster"):
        return "primary"
    if repl.get("secondary"):
        return "secondary"
    if repl.get("arbiterOnly"):
        return "arbiter"
    return "other"


def _server_row(snapshot: Mapping[str, Any], base: dict[str, Any]) -> dict[str, Any] | None:
    status = _get(snapshot, "replies", "serverStatus")
    if not isinstance(status, Mapping):
        return None
    cache = _get(status, "wiredTiger", "cache") or {}
    lat = status.get("opLatencies") or {}
    row = dict(base)
    row.update(
        set_name=_get(status, "repl", "setName"),
        role=_role(status, snapshot.get("topology")),
        version=status.get("version"),
        uptime_s=_float(status.get("uptime")),
        conn_current=_int(_get(status, "connections", "current")),
        conn_available=_int(_get(status, "connections", "available")),
        conn_total_created=_int(_get(status, "connections", "totalCreated")),
        asserts_rollovers=_int(_get(status, "asserts", "rollovers")),
        net_bytes_in=_int(_get(status, "network", "bytesIn")),
        net_bytes_out=_int(_get(status, "network", "bytesOut")),
        net_requests=_int(_get(status, "network", "numRequests")),
        page_faults=_int(_get(status, "extra_info", "page_faults")),
        cache_bytes=_int(cache.get("bytes currently in the cache")),
        cache_max_bytes=_int(cache.get("maximum bytes configured")),
        cache_dirty_bytes=_int(cache.get("tracked dirty bytes in the cache")),
        cache_read_into_bytes=_int(cache.get("bytes read into cache")),
        cache_written_from_bytes=_int(cache.get("bytes written from cache")),
        queue_total=_int(_get(status, "globalLock", "currentQueue", "total")),
        queue_readers=_int(_get(status, "globalLock", "currentQueue", "readers")),
        queue_writers=_int(_get(status, "globalLock", "currentQueue", "writers")),
        active_readers=_int(_get(status, "globalLock", "activeClients", "readers")),
        active_writers=_int(_get(status, "globalLock", "activeClients", "writers")),
        txn_current_active=_int(_get(status, "transactions", "currentActive")),
        txn_current_open=_int(_get(status, "transactions", "currentOpen")),
        txn_total_committed=_int(_get(status, "transactions", "totalCommitted")),
        txn_total_aborted=_int(_get(status, "transactions", "totalAborted")),
        oplog_first=_parse_ts(_get(snapshot, "replies", "oplog", "first")),
        oplog_last=_parse_ts(_get(snapshot, "replies", "oplog", "last")),
    )
    for op in ("insert", "query", "update", "delete", "getmore", "command"):
        row[f"op_{op}"] = _int(_get(status, "opcounters", op))
    for op in ("insert", "update", "delete"):
        row[f"repl_{op}"] = _int(_get(status, "opcountersRepl", op))
    for kind in ("reads", "writes", "commands", "transactions"):
        row[f"lat_{kind}_us"] = _int(_get(lat, kind, "latency"))
        row[f"lat_{kind}_ops"] = _int(_get(lat, kind, "ops"))
    for kind in ("regular", "warning", "msg", "user"):
        row[f"asserts_{kind}"] = _int(_get(status, "asserts", kind))
    return row


def _database_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for db, stats in (_get(snapshot, "replies", "dbStats") or {}).items():
        if not isinstance(stats, Mapping):
            continue
        rows.append(
            {
                **base,
                "db": db,
                "collections": _int(stats.get("collections")),
                "views": _int(stats.get("views")),
                "objects": _int(stats.get("objects")),
                "avg_obj_size": _float(stats.get("avgObjSize")),
                "data_size": _int(stats.get("dataSize")),
                "storage_size": _int(stats.get("storageSize")),
                "indexes": _int(stats.get("indexes")),
                "index_size": _int(stats.get("indexSize")),
                "fs_used_size": _int(stats.get("fsUsedSize")),
                "fs_total_size": _int(stats.get("fsTotalSize")),
            }
        )
    return rows


def _collection_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    coll_stats = _get(snapshot, "replies", "collStats") or {}
    rows = []
    for db, entries in (_get(snapshot, "replies", "listCollections") or {}).items():
        for entry in entries or []:
            name = entry.get("name")
            ns = f"{db}.{name}"
            options = entry.get("options") or {}
            found = coll_stats.get(ns)
            stats: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            has_validator = bool(options.get("hasValidator") or options.get("validator"))
            rows.append(
                {
                    **base,
                    "ns": ns,
                    "db": db,
                    "coll": name,
                    "type": entry.get("type"),
                    "count": _int(stats.get("count")),
                    "size": _int(stats.get("size")),
                    "avg_obj_size": _float(stats.get("avgObjSize")),
                    "storage_size": _int(stats.get("storageSize")),
                    "free_storage_size": _int(stats.get("freeStorageSize")),
                    "total_index_size": _int(stats.get("totalIndexSize")),
                    # listCollections names a capped collection in its options; none: not capped
                    "capped": bool(stats.get("capped", options.get("capped", False))),
                    "has_validator": has_validator,
                    # the server's defaults when a validator has no explicit level/action
                    "validation_level": options.get("validationLevel", "strict") if has_validator else None,
                    "validation_action": options.get("validationAction", "error") if has_validator else None,
                }
            )
    return rows


def _key_json(key: Any) -> str | None:
    if not isinstance(key, Mapping):
        return None

    def plain(value: Any) -> Any:
        number = _num(value)
        if number is not None:
            return int(number) if float(number).is_integer() else number
        return value

    return json.dumps({k: plain(v) for k, v in key.items()}, ensure_ascii=False)


_INDEX_COLLATION = "collation" in models.INDEXES_SCHEMA.names


def _index_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    replies = snapshot.get("replies") or {}
    all_stats = replies.get("indexStats") or {}
    sizes_by_ns = replies.get("collStats") or {}
    rows = []
    for ns, specs in (replies.get("listIndexes") or {}).items():
        stats = all_stats.get(ns)
        by_name: dict[str, list[Mapping[str, Any]]] = {}
        for doc in stats or []:
            by_name.setdefault(str(doc.get("name")), []).append(doc)
        sizes = _get(sizes_by_ns, ns, "indexSizes") or {}
        for spec in specs or []:
            name = str(spec.get("name"))
            docs = by_name.get(name, [])
            ops: int | None = None
            since: datetime | None = None
            building: bool | None = None
            if stats is not None:
                counted = [_int(_get(d, "accesses", "ops")) for d in docs]
                ops = sum(c for c in counted if c is not None) if any(c is not None for c in counted) else None
                moments = [m for m in (_parse_ts(_get(d, "accesses", "since")) for d in docs) if m is not None]
                # summed over shards, the counters cover only the time since the LATEST reset:
                # an index is judged unused from the shard that restarted last
                since = max(moments) if moments else None
                building = any(bool(d.get("building")) for d in docs)
            ttl = spec.get("expireAfterSeconds")
            extra: dict[str, Any] = {}
            if _INDEX_COLLATION:  # only once db_indexes has the column
                locale = _get(spec, "collation", "locale")
                extra["collation"] = str(locale) if locale is not None else None
            rows.append(
                {
                    **extra,
                    **base,
                    "ns": ns,
                    "name": name,
                    "key": _key_json(spec.get("key")),
                    "ops": ops,
                    "since": since,
                    "size_bytes": _int(sizes.get(name)) if isinstance(sizes, Mapping) else None,
                    "unique": bool(spec.get("unique")),
                    "sparse": bool(spec.get("sparse")),
                    "hidden": bool(spec.get("hidden")),
                    "partial": "partialFilterExpression" in spec,
                    "ttl_seconds": _float(ttl) if ttl is not None else None,
                    "building": building,
                }
            )
    return rows


def _member_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    status = _get(snapshot, "replies", "replSetGetStatus")
    if not isinstance(status, Mapping):
        return []
    members = [m for m in status.get("members") or [] if isinstance(m, Mapping)]
    primary = next((m for m in members if m.get("state") == 1), None)
    primary_optime = _parse_ts(primary.get("optimeDate")) if primary else None
    rows = []
    for m in members:
        optime = _parse_ts(m.get("optimeDate"))
        # A member that is down or not a data-bearing secondary reports an old (often 1970)
        # optime: that is no lag, its state says what is wrong.
        serving = m.get("state") in (1, 2) and _float(m.get("health")) != 0.0
        lag = (primary_optime - optime).total_seconds() if serving and primary_optime and optime else None
        rows.append(
            {
                **base,
                "set_name": status.get("set"),
                "member": m.get("name"),
                "state": _int(m.get("state")),
                "state_str": m.get("stateStr"),
                "health": _float(m.get("health")),
                "optime": optime,
                "lag_s": lag,
                "last_heartbeat": _parse_ts(m.get("lastHeartbeat")),
                "is_self": bool(m.get("self")),
            }
        )
    return rows


def _current_op_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    ops = _get(snapshot, "replies", "currentOp")
    rows = []
    for op in ops or []:
        command = op.get("command") if op.get("command") is not None else op.get("originatingCommand")
        opid = op.get("opid")
        rows.append(
            {
                **base,
                "opid": str(opid) if opid is not None else None,
                "op": op.get("op"),
                "ns": op.get("ns"),
                "secs_running": _float(op.get("secs_running")),
                "plan_summary": op.get("planSummary"),
                "app_name": op.get("appName"),
                "shape": json.dumps(command, ensure_ascii=False) if command is not None else None,
                "waiting_for_lock": _bool(op.get("waitingForLock")),
            }
        )
    return rows


def _shard_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    replies = snapshot.get("replies") or {}
    shards = replies.get("shards")
    if not isinstance(shards, list):
        return []
    chunks = replies.get("chunks")
    balancer = replies.get("balancerStatus") or {}
    rows = []
    for shard in shards:
        name = shard.get("_id")
        host = shard.get("host")
        rows.append(
            {
                **base,
                "shard": name,
                "shard_host": redact(str(host)) if host is not None else None,
                "state": _int(shard.get("state")),
                "chunks": _int(chunks.get(name, 0)) if isinstance(chunks, Mapping) else None,
                "balancer_mode": balancer.get("mode"),
                "balancer_running": _bool(balancer.get("inBalancerRound")),
            }
        )
    return rows


def _slow_rows(snapshot: Mapping[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    names = set(models.SLOW_QUERIES_SCHEMA.names)
    rows = []
    for entry in snapshot.get("slow_queries") or []:
        row = {k: v for k, v in entry.items() if k in names}
        row["ts"] = _parse_ts(entry.get("ts")) or base["ts"]
        row["host"] = entry.get("host") or base["host"]
        rows.append(row)
    return rows


def flatten(snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every snapshot table and ``db_slow_queries`` (a table with no reply: no rows)."""
    ts = _parse_ts(snapshot.get("ts"))
    if ts is None:
        raise ValueError("the snapshot has no valid ts")
    base = {"ts": ts.astimezone(UTC), "host": snapshot.get("host")}
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in (*models.SNAPSHOT_TABLES, models.SLOW_QUERIES)}
    server = _server_row(snapshot, base)
    if server is not None:
        tables[models.SERVER].append(server)
    tables[models.DATABASES] = _database_rows(snapshot, base)
    tables[models.COLLECTIONS] = _collection_rows(snapshot, base)
    tables[models.INDEXES] = _index_rows(snapshot, base)
    tables[models.MEMBERS] = _member_rows(snapshot, base)
    tables[models.CURRENT_OPS] = _current_op_rows(snapshot, base)
    tables[models.SHARDS] = _shard_rows(snapshot, base)
    privileges = snapshot.get("privileges")
    if isinstance(privileges, Mapping) and privileges:
        names = set(models.PRIVILEGES_SCHEMA.names) - {"ts", "host"}
        tables[models.PRIVILEGES].append({**base, **{k: v for k, v in privileges.items() if k in names}})
    hygiene_names = set(models.HYGIENE_SCHEMA.names) - {"ts", "host", "ns"}
    for ns, row in (snapshot.get("hygiene") or {}).items():
        tables[models.HYGIENE].append({**base, "ns": ns, **{k: v for k, v in row.items() if k in hygiene_names}})
    for error in snapshot.get("errors") or []:
        tables[models.ERRORS].append(
            {**base, "command": error.get("command"), "code": _int(error.get("code")), "error": error.get("error")}
        )
    tables[models.SLOW_QUERIES] = _slow_rows(snapshot, base)
    return tables
