"""Snapshots of a live MongoDB: one read-only pass, every reply kept as relaxed Extended JSON.

:func:`take_snapshot` connects with the resolved ``database.uri``, asks ``hello`` (through the
read preference) which node answers and what it is (standalone, replica set member, mongos),
pins itself to that node when the connection string names several, and reads:

- ``serverStatus``, ``connectionStatus`` (with ``showPrivileges``: the privileges row);
- replica set members: ``replSetGetStatus`` and the oplog window (first and last ``ts`` of
  ``local.oplog.rs``, ``$natural`` order, one document each, ``ts`` only);
- mongos: ``balancerStatus``, ``config.shards`` and the chunk count per shard (a ``$group``
  over ``config.chunks``);
- per database (``database.databases``, else every database but admin, local and config):
  ``dbStats`` and ``listCollections``; ``$collStats`` storage statistics (counts are the
  estimates of ``storageStats.count``, never a scan) of up to 5 × ``max_collections``
  collections, of which the ``max_collections`` largest are kept and get ``listIndexes``
  and ``$indexStats``;
- ``$currentOp`` operations running longer than ``current_op_min_secs``: one look, or one
  a second for ``current_op_window_s``; their command is masked at once
  (:func:`opsreview.database.shapes.mask_command`): no query value reaches the snapshot;
- slow queries: ``getLog: "global"`` (log id 51803) and the newest ``profile_limit``
  entries of ``system.profile`` in databases whose profiler is on (``{profile: -1}`` reads
  the level and changes nothing; never through mongos);
- hygiene: ``hygiene.sample_size`` documents of ``hygiene.collections`` (or of the largest
  collections) reduced at once to counts (:func:`hygiene_row`). A namespace is read only
  when it exists, is a plain collection (a view would run its pipeline, a time series
  unpack its buckets) and its ``$collStats`` count is known: with at least
  20 × ``sample_size`` documents a ``$sample`` (the server's random cursor), below that a
  ``find`` with ``limit(sample_size)`` (a ``$sample`` of more than 5 % of a collection
  scans and sorts all of it);

What the snapshot keeps of collection and index options is reduced at once: of
``listCollections`` whether there is a validator, the validation level and action, capped,
the view's source collection and whether it is a time series (never the validator nor a
view's pipeline: both can hold literal values); of ``listIndexes`` the key, name, unique,
sparse, hidden, ``expireAfterSeconds``, the ``partialFilterExpression`` masked
(:func:`opsreview.database.shapes.mask_value`: every value ``1``) and the collation's locale
(``$indexStats`` repeats each spec: reduced the same way).

Bounds of the whole snapshot: no command is sent once ``snapshot_deadline_s`` has passed,
nor after 3 consecutive timeouts (``MaxTimeMSExpired``: the server is struggling); what was
read is kept and one ``errors`` entry says how many reads were skipped and why. A lock file
(``.snapshot.lock``, ``fcntl.flock``) in ``snapshot_dir`` - without one, in
``~/.cache/opsreview`` keyed by the servers of the connection string - keeps a second
snapshot of the same params from running alongside: it raises
:class:`~opsreview.exceptions.SourceError`.

Every command goes through :mod:`opsreview.mongo` (read-only allowlist,
``maxTimeMS``, failures as records). A command that fails - forbidden, timed out on the
server, unknown to this version - is an entry of ``errors`` and the rest goes on; an
unreachable server, a failed login or a network timeout raises
:class:`~opsreview.exceptions.SourceError` with one redacted line. With
``rate_interval_s`` > 0 a second snapshot (``serverStatus`` only) follows that much later,
so that counters give rates.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import json_util
from bson.json_util import RELAXED_JSON_OPTIONS
from pymongo import MongoClient

from opsreview.database.params import DatabaseParams
from opsreview.exceptions import SourceError
from opsreview.mongo import (
    AddressRecorder,
    CommandFailure,
    aggregate,
    find,
    one_line,
    open_client,
    privileges_row,
    run_command,
)
from opsreview.secrets import MissingSecretError, redact

log = logging.getLogger(__name__)

FORMAT = "opsreview-mongodb-snapshot/1"
SKIPPED_DATABASES = frozenset({"admin", "local", "config"})
CURRENT_OP_LOOK_S = 1.0  # one $currentOp look a second while watching
SLOW_QUERY_LOG_ID = 51803
SIZE_SCAN_FACTOR = 5  # $collStats of at most this many times max_collections, to find the largest
CURRENT_OP_LIMIT = 1000
SHARDS_LIMIT = 1000
LIST_COLLECTIONS_LIMIT = 10_000  # collections listed per database (one batch, no getMore)
# $sample uses the server's random cursor only when it asks for less than 5 % of the
# collection; above that it scans and sorts the whole collection: below this many times
# sample_size documents, a find with a limit reads the hygiene sample instead.
SAMPLE_SCAN_FACTOR = 20
# Server error codes of a command that ran out of time: MaxTimeMSExpired, ExceededTimeLimit,
# NetworkInterfaceExceededTimeLimit.
TIMEOUT_CODES = frozenset({50, 262, 202})
MAX_CONSECUTIVE_TIMEOUTS = 3
LOCK_NAME = ".snapshot.lock"

# Gossip and session metadata the driver and the server exchange: not part of the reply.
_REPLY_METADATA = (
    "$clusterTime",
    "operationTime",
    "$configServerState",
    "$gleStats",
    "$topologyTime",
    "$configTime",
    "lastCommittedOpTime",
)
# $collStats storageStats fields kept (the WiredTiger and indexDetails blocks are dropped).
_STORAGE_FIELDS = (
    "count",
    "size",
    "avgObjSize",
    "storageSize",
    "freeStorageSize",
    "totalIndexSize",
    "totalSize",
    "indexSizes",
    "nindexes",
    "capped",
    "max",
    "maxSize",
    "numOrphanDocs",
    "scaleFactor",
)
_SUMMED_STORAGE = ("count", "size", "storageSize", "freeStorageSize", "totalIndexSize", "totalSize", "numOrphanDocs")
# $currentOp fields kept; command/originatingCommand are kept masked, everything else
# (lsid, cursor, clientMetadata, effectiveUsers, transaction, ...) is dropped.
_CURRENT_OP_FIELDS = (
    "shard",
    "type",
    "host",
    "desc",
    "connectionId",
    "client",
    "appName",
    "active",
    "opid",
    "secs_running",
    "microsecs_running",
    "op",
    "ns",
    "planSummary",
    "numYields",
    "waitingForLock",
    "waitingForFlowControl",
    "killPending",
    "msg",
    "queryFramework",
)


class _Fatal(Exception):
    def __init__(self, failure: CommandFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def ejson(doc: Any) -> Any:
    """A reply as relaxed Extended JSON (plain JSON types), gossip metadata removed."""
    if isinstance(doc, Mapping):
        doc = {k: v for k, v in doc.items() if k not in _REPLY_METADATA}
    return json.loads(json_util.dumps(doc, json_options=RELAXED_JSON_OPTIONS))


def _jsonable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A store row with datetimes as ISO-8601 UTC strings (for the snapshot file)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        out[key] = value
    return out


def _topology(hello: Mapping[str, Any]) -> str:
    if hello.get("msg") == "isdbgrid":
        return "mongos"
    if hello.get("setName"):
        return "replicaset"
    return "standalone"


def _host(address: tuple[str, int | None] | None) -> str:
    if not address:
        return "unknown"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Reader:
    """Runs commands through the client gate; collects failures, stops on fatal ones.

    Once ``deadline`` (a :func:`time.monotonic` instant) has passed, or after
    :data:`MAX_CONSECUTIVE_TIMEOUTS` timeouts in a row, it sends nothing more: every further
    read returns None at once and is counted in :attr:`skipped`; :attr:`stopped` says why.
    """

    def __init__(
        self, client: MongoClient[dict[str, Any]], params: DatabaseParams, deadline: float | None = None
    ) -> None:
        self.client = client
        self.params = params
        self.deadline = deadline
        self.errors: list[dict[str, Any]] = []
        self.stopped: str | None = None
        self.skipped = 0
        self._timeouts = 0

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason
            log.warning("database: snapshot stopped: %s", reason)

    def may_send(self) -> bool:
        """False (and the read counted as skipped) once the snapshot has stopped."""
        if self.stopped is None and self.deadline is not None and time.monotonic() >= self.deadline:
            self.stop(f"the snapshot deadline of {self.params.snapshot_deadline_s:g} s passed")
        if self.stopped is not None:
            self.skipped += 1
            return False
        return True

    def stop_error(self) -> dict[str, Any] | None:
        """The ``errors`` entry of a stopped snapshot, or None."""
        if self.stopped is None:
            return None
        return {
            "command": "snapshot",
            "code": None,
            "error": f"stopped: {self.skipped} read(s) skipped ({self.stopped})",
        }

    def _ok(self, result: Any) -> Any:
        if isinstance(result, CommandFailure):
            if result.fatal:
                raise _Fatal(result)
            self.errors.append(result.as_error())
            if result.code in TIMEOUT_CODES:
                self._timeouts += 1
                if self._timeouts >= MAX_CONSECUTIVE_TIMEOUTS:
                    self.stop(f"the server is struggling: stopped after {self._timeouts} consecutive timeouts")
            else:
                self._timeouts = 0
            return None
        self._timeouts = 0
        return result

    def command(self, db: str, doc: Mapping[str, Any], label: str | None = None) -> dict[str, Any] | None:
        if not self.may_send():
            return None
        result: dict[str, Any] | None = self._ok(run_command(self.client, self.params, db, doc, label=label))
        return result

    def aggregate(
        self,
        db: str,
        coll: str | None,
        pipeline: list[dict[str, Any]],
        label: str | None = None,
        batch_size: int | None = None,
    ) -> list[dict[str, Any]] | None:
        if not self.may_send():
            return None
        docs: list[dict[str, Any]] | None = self._ok(
            aggregate(self.client, self.params, db, coll, pipeline, label=label, batch_size=batch_size)
        )
        return docs

    def find(self, db: str, coll: str, **kwargs: Any) -> list[dict[str, Any]] | None:
        if not self.may_send():
            return None
        docs: list[dict[str, Any]] | None = self._ok(find(self.client, self.params, db, coll, **kwargs))
        return docs


def _storage_stats(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The storageStats of a ``$collStats`` reply: one document, or one per shard (summed)."""
    stats: list[Mapping[str, Any]] = [d["storageStats"] for d in docs if isinstance(d.get("storageStats"), Mapping)]
    if not stats:
        return None
    if len(stats) == 1 and "shard" not in docs[0]:
        return {k: stats[0][k] for k in _STORAGE_FIELDS if k in stats[0]}
    merged: dict[str, Any] = {}
    for key in _SUMMED_STORAGE:
        values = [s[key] for s in stats if isinstance(s.get(key), int | float)]
        if values:
            merged[key] = sum(values)
    if merged.get("count"):
        merged["avgObjSize"] = merged.get("size", 0) / merged["count"]
    elif "count" in merged:
        merged["avgObjSize"] = 0
    sizes: dict[str, Any] = {}
    for s in stats:
        for name, size in (s.get("indexSizes") or {}).items():
            sizes[name] = sizes.get(name, 0) + size
    merged["indexSizes"] = sizes
    merged["nindexes"] = max((s.get("nindexes") or 0) for s in stats)
    merged["capped"] = any(bool(s.get("capped")) for s in stats)
    merged["shards"] = {
        str(d.get("shard")): {k: d["storageStats"].get(k) for k in ("count", "size", "storageSize")}
        for d in docs
        if isinstance(d.get("storageStats"), Mapping)
    }
    return merged


def collection_options(options: Any) -> dict[str, Any]:
    """What a snapshot keeps of a ``listCollections`` entry's ``options``: whether there is a
    validator, its level and action, capped, the view's source and whether it is a time
    series. Never the validator or a view's pipeline: both can hold literal values."""
    if not isinstance(options, Mapping):
        return {"hasValidator": False}
    kept: dict[str, Any] = {"hasValidator": bool(options.get("validator"))}
    for key in ("validationLevel", "validationAction", "viewOn"):
        if isinstance(options.get(key), str):
            kept[key] = options[key]
    if "capped" in options:
        kept["capped"] = bool(options["capped"])
    if "timeseries" in options:
        kept["timeseries"] = bool(options["timeseries"])
    return kept


_INDEX_FIELDS = ("name", "unique", "sparse", "hidden", "expireAfterSeconds")


def index_spec(spec: Any) -> dict[str, Any]:
    """What a snapshot keeps of a ``listIndexes`` spec: key, name, unique, sparse, hidden,
    ``expireAfterSeconds``, the ``partialFilterExpression`` masked (every value ``1``) and
    the collation's ``locale`` alone."""
    from opsreview.database.shapes import mask_value

    if not isinstance(spec, Mapping):
        return {}
    kept: dict[str, Any] = {}
    if isinstance(spec.get("key"), Mapping):
        kept["key"] = spec["key"]
    for key in _INDEX_FIELDS:
        if key in spec:
            kept[key] = spec[key]
    if "partialFilterExpression" in spec:
        kept["partialFilterExpression"] = mask_value(spec["partialFilterExpression"])
    collation = spec.get("collation")
    if isinstance(collation, Mapping) and isinstance(collation.get("locale"), str):
        kept["collation"] = {"locale": collation["locale"]}
    return kept


_INDEX_STATS_FIELDS = ("name", "key", "host", "shard", "accesses", "building")


def index_usage(doc: Any) -> dict[str, Any]:
    """What a snapshot keeps of an ``$indexStats`` document: its counters, and its ``spec``
    reduced like a ``listIndexes`` spec (:func:`index_spec`)."""
    if not isinstance(doc, Mapping):
        return {}
    kept = {k: doc[k] for k in _INDEX_STATS_FIELDS if k in doc}
    if "spec" in doc:
        kept["spec"] = index_spec(doc["spec"])
    return kept


def _masked_op(op: Mapping[str, Any]) -> dict[str, Any]:
    from opsreview.database.shapes import mask_command

    kept = {k: op[k] for k in _CURRENT_OP_FIELDS if k in op}
    for key in ("command", "originatingCommand"):
        if isinstance(op.get(key), Mapping):
            kept[key] = mask_command(op[key])
    return kept


class _Snapshot:
    def __init__(self, reader: _Reader, params: DatabaseParams, host: str, topology: str) -> None:
        self.r = reader
        self.params = params
        self.host = host
        self.topology = topology
        self.replies: dict[str, Any] = {}
        self.slow_queries: list[dict[str, Any]] = []
        self.hygiene: dict[str, Any] = {}
        self.privileges: dict[str, Any] = {}
        self.types: dict[str, str] = {}  # ns -> collection | view | timeseries, from listCollections
        self.listed: set[str] = set()  # databases whose listCollections was read
        self.storage: dict[str, dict[str, Any]] = {}  # ns -> storage stats read ($collStats)

    def collect(self) -> None:
        self._server()
        if self.topology == "replicaset":
            self._replica_set()
        elif self.topology == "mongos":
            self._sharding()
        databases = self._databases()
        largest = self._collections(databases)
        self._current_ops()
        if self.params.get_log:
            self._get_log()
        if self.params.profiler and self.topology != "mongos":
            self._profiles(databases)
        if self.params.hygiene.enabled:
            self._hygiene(largest)

    def _server(self) -> None:
        status = self.r.command("admin", {"serverStatus": 1})
        if status is not None:
            self.replies["serverStatus"] = ejson(status)
        conn = self.r.command("admin", {"connectionStatus": 1, "showPrivileges": True})
        if conn is not None:
            self.replies["connectionStatus"] = ejson(conn)
            self.privileges = privileges_row(conn)

    def _replica_set(self) -> None:
        status = self.r.command("admin", {"replSetGetStatus": 1})
        if status is not None:
            self.replies["replSetGetStatus"] = ejson(status)
        window: dict[str, Any] = {}
        for key, order in (("first", 1), ("last", -1)):
            docs = self.r.find(
                "local",
                "oplog.rs",
                projection={"ts": 1, "_id": 0},
                sort=[("$natural", order)],
                limit=1,
                label=f"oplog {key} ts",
            )
            if docs:
                window[key] = ejson(docs[0].get("ts"))
        if window:
            self.replies["oplog"] = window

    def _sharding(self) -> None:
        balancer = self.r.command("admin", {"balancerStatus": 1})
        if balancer is not None:
            self.replies["balancerStatus"] = ejson(balancer)
        shards = self.r.find("config", "shards", limit=SHARDS_LIMIT, label="find config.shards")
        if shards is not None:
            self.replies["shards"] = [ejson(s) for s in shards]
        chunks = self.r.aggregate(
            "config", "chunks", [{"$group": {"_id": "$shard", "n": {"$sum": 1}}}], label="chunks per shard"
        )
        if chunks is not None:
            self.replies["chunks"] = {str(c["_id"]): int(c["n"]) for c in chunks}

    def _databases(self) -> list[str]:
        if self.params.databases:
            return list(self.params.databases)
        reply = self.r.command("admin", {"listDatabases": 1, "nameOnly": True, "authorizedDatabases": True})
        if reply is None:
            return []
        names = [str(d.get("name")) for d in reply.get("databases") or []]
        return sorted(n for n in names if n not in SKIPPED_DATABASES)

    def _collections(self, databases: list[str]) -> list[tuple[str, str]]:
        """dbStats, listCollections and storage stats; the largest collections, bounded."""
        db_stats: dict[str, Any] = {}
        listed: dict[str, Any] = {}
        candidates: list[tuple[str, str]] = []
        for db in databases:
            stats = self.r.command(db, {"dbStats": 1}, label=f"dbStats {db}")
            if stats is not None:
                db_stats[db] = ejson(stats)
            reply = self.r.command(
                db,
                {"listCollections": 1, "authorizedCollections": True, "cursor": {"batchSize": LIST_COLLECTIONS_LIMIT}},
                label=f"listCollections {db}",
            )
            if reply is None:
                continue
            cursor = reply.get("cursor") or {}
            batch = cursor.get("firstBatch") or []
            if cursor.get("id"):  # more than one batch: the rest is not read (no getMore)
                self.r.errors.append(
                    {
                        "command": f"listCollections {db}",
                        "code": None,
                        "error": f"more than {LIST_COLLECTIONS_LIMIT} collections: the first {len(batch)} read",
                    }
                )
            entries = [
                {"name": c.get("name"), "type": c.get("type"), "options": collection_options(c.get("options"))}
                for c in batch
            ]
            listed[db] = ejson(entries)
            if not cursor.get("id"):  # every collection of db is known: a name not listed does not exist
                self.listed.add(db)
            for entry in entries:
                name = str(entry["name"])
                self.types[f"{db}.{name}"] = str(entry["type"])
                if entry["type"] == "collection" and not name.startswith("system."):
                    candidates.append((db, name))
        if db_stats:
            self.replies["dbStats"] = db_stats
        if listed:
            self.replies["listCollections"] = listed

        cap = self.params.max_collections * SIZE_SCAN_FACTOR
        candidates.sort()
        if len(candidates) > cap:
            self.r.errors.append(
                {
                    "command": "$collStats",
                    "code": None,
                    "error": f"{len(candidates)} collections: sizes read for the first {cap} (5 x max_collections)",
                }
            )
        storage: dict[str, dict[str, Any]] = {}
        for db, coll in candidates[:cap]:
            docs = self.r.aggregate(db, coll, [{"$collStats": {"storageStats": {}}}])
            stats = _storage_stats(docs) if docs else None
            if stats is not None:
                storage[f"{db}.{coll}"] = stats
        self.storage.update(storage)
        ranked = sorted(storage, key=lambda ns: (-(storage[ns].get("size") or 0), ns))
        kept = ranked[: self.params.max_collections]
        if kept:
            self.replies["collStats"] = {ns: ejson(storage[ns]) for ns in kept}
        largest = [(ns.split(".", 1)[0], ns.split(".", 1)[1]) for ns in kept]

        indexes: dict[str, Any] = {}
        index_stats: dict[str, Any] = {}
        for db, coll in largest:
            ns = f"{db}.{coll}"
            reply = self.r.command(db, {"listIndexes": coll}, label=f"listIndexes {ns}")
            if reply is not None:
                specs = (reply.get("cursor") or {}).get("firstBatch") or []
                indexes[ns] = ejson([index_spec(spec) for spec in specs])
            docs = self.r.aggregate(db, coll, [{"$indexStats": {}}])
            if docs is not None:
                index_stats[ns] = ejson([index_usage(doc) for doc in docs])
        if indexes:
            self.replies["listIndexes"] = indexes
        if index_stats:
            self.replies["indexStats"] = index_stats
        return largest

    def _current_ops(self) -> None:
        window = self.params.current_op_window_s
        looks = 1 if window <= 0 else int(window // CURRENT_OP_LOOK_S) + 1
        pipeline: list[dict[str, Any]] = [
            {"$currentOp": {"allUsers": True, "idleConnections": False}},
            {"$match": {"secs_running": {"$gt": self.params.current_op_min_secs}}},
            {"$limit": CURRENT_OP_LIMIT},
        ]
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        read = False
        for i in range(looks):
            if i:
                if self.r.stopped is not None:
                    break
                time.sleep(CURRENT_OP_LOOK_S)
            ops = self.r.aggregate("admin", None, pipeline, label="$currentOp")
            if ops is None:
                break
            read = True
            for op in ops:
                # the server filtered already; a look that raced a finishing op is kept out too
                if (op.get("secs_running") or 0) <= self.params.current_op_min_secs:
                    continue
                seen[(str(op.get("shard")), str(op.get("opid")))] = _masked_op(op)
        if read:
            self.replies["currentOp"] = ejson(list(seen.values()))

    def _get_log(self) -> None:
        from opsreview.database.slowlog import slow_query_row

        reply = self.r.command("admin", {"getLog": "global"})
        if reply is None:
            return
        for line in reply.get("log") or []:
            try:
                entry = json.loads(line)
            except (TypeError, ValueError):
                continue
            if not isinstance(entry, dict) or entry.get("id") != SLOW_QUERY_LOG_ID:
                continue
            row = slow_query_row(entry, "getLog", self.host)
            if row is not None:
                self.slow_queries.append(_jsonable_row(row))

    def _profiles(self, databases: list[str]) -> None:
        from opsreview.database.slowlog import profile_row

        for db in databases:
            status = self.r.command(db, {"profile": -1}, label=f"profile -1 {db}")
            if not status or not status.get("was"):
                continue
            docs = self.r.find(
                db,
                "system.profile",
                sort=[("$natural", -1)],
                limit=self.params.profile_limit,
                label=f"find {db}.system.profile",
            )
            for doc in docs or []:
                row = profile_row(doc, f"profile:{db}", self.host)
                if row is not None:
                    self.slow_queries.append(_jsonable_row(row))

    def _hygiene(self, largest: list[tuple[str, str]]) -> None:
        from opsreview.database.hygiene import hygiene_row

        hygiene = self.params.hygiene
        if hygiene.collections:
            targets = [tuple(ns.split(".", 1)) for ns in hygiene.collections if "." in ns]
        else:
            targets = list(largest)
        for db, coll in targets[: self.params.max_collections]:
            ns = f"{db}.{coll}"
            count = self._sample_count(db, coll)
            if count is None:
                continue
            size = hygiene.sample_size
            if count < SAMPLE_SCAN_FACTOR * size:
                # a $sample of more than 5 % of the collection would scan and sort all of it
                docs = self.r.find(db, coll, limit=size, label=f"find {ns} (hygiene sample)")
            else:
                docs = self.r.aggregate(db, coll, [{"$sample": {"size": size}}], batch_size=size)
            if docs is None:
                continue
            self.hygiene[ns] = _jsonable_row(hygiene_row(ns, docs, hygiene))
            del docs  # the sampled documents go no further

    def _sample_count(self, db: str, coll: str) -> int | None:
        """The document count of ``db.coll`` when it may be sampled: it exists, is a plain
        collection and its ``$collStats`` count is known; else None (and why, in ``errors``,
        for a namespace of ``hygiene.collections``)."""
        ns = f"{db}.{coll}"
        label = f"hygiene {ns}"
        kind = self.types.get(ns)
        if kind is None and db not in self.listed:
            reply = self.r.command(
                db,
                {"listCollections": 1, "filter": {"name": coll}, "authorizedCollections": True},
                label=f"listCollections {ns}",
            )
            if reply is None:
                return None
            found = (reply.get("cursor") or {}).get("firstBatch") or []
            kind = str(found[0].get("type")) if found else None
            if kind is not None:
                self.types[ns] = kind
        if kind is None:
            self.r.errors.append({"command": label, "code": None, "error": "no such collection: not sampled"})
            return None
        if kind != "collection":
            # a view would run its pipeline, a time series unpack its buckets: never sampled
            self.r.errors.append({"command": label, "code": None, "error": f"a {kind}, not a collection: not sampled"})
            return None
        stats = self.storage.get(ns)
        if stats is None:
            docs = self.r.aggregate(db, coll, [{"$collStats": {"storageStats": {}}}])
            stats = _storage_stats(docs) if docs else None
            if stats is not None:
                self.storage[ns] = stats
        count = stats.get("count") if stats else None
        if isinstance(count, bool) or not isinstance(count, int | float):
            if self.r.stopped is None:
                self.r.errors.append(
                    {"command": label, "code": None, "error": "document count unknown ($collStats): not sampled"}
                )
            return None
        return int(count)

    def document(self, ts: datetime) -> dict[str, Any]:
        stop = self.r.stop_error()
        return {
            "format": FORMAT,
            "ts": ts.astimezone(UTC).isoformat(),
            "host": self.host,
            "topology": self.topology,
            "replies": self.replies,
            "slow_queries": self.slow_queries,
            "hygiene": self.hygiene,
            "privileges": self.privileges,
            "errors": self.r.errors + ([stop] if stop is not None else []),
        }


def _source_error(message: str) -> SourceError:
    return SourceError("database", redact(message))


def _await_discovery(client: MongoClient[dict[str, Any]], timeout_s: float) -> None:
    """Wait (at most ``timeout_s``) until the driver has checked every member it knows of.

    Server selection takes the first suitable member that answers: without this wait a
    secondary not yet checked would lose to the primary under ``secondaryPreferred``. When no
    member could be reached at all, fail now with what the checks said.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        servers = list(client.topology_description.server_descriptions().values())
        if servers and all(s.is_server_type_known or s.error is not None for s in servers):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    if servers and not any(s.is_server_type_known for s in servers):
        reasons = "; ".join(sorted({one_line(s.error) for s in servers if s.error is not None}))
        raise _Fatal(CommandFailure("hello", None, reasons or "no member answered", "network"))


def _connect(params: DatabaseParams, uri: str) -> tuple[list[MongoClient[dict[str, Any]]], _Reader, str, str]:
    """Open the client, find the node the read preference picks, pin to it if needed."""
    recorder = AddressRecorder()
    clients: list[MongoClient[dict[str, Any]]] = []
    try:
        first = open_client(params, uri, listeners=[recorder])
        clients.append(first)
        _await_discovery(first, params.connect_timeout_ms / 1000)
        hello = run_command(first, params, "admin", {"hello": 1})
        if isinstance(hello, CommandFailure):
            raise _Fatal(hello if hello.fatal else CommandFailure("hello", hello.code, hello.message, "network"))
        address = recorder.last_address
        topology = _topology(hello)
        client = first
        known = first.topology_description.server_descriptions()
        if len(known) > 1 and address is not None:
            client = open_client(params, uri, direct=address)
            clients.append(client)
        return clients, _Reader(client, params), _host(address), topology
    except BaseException:
        for c in clients:
            c.close()
        raise


def _lock_path(params: DatabaseParams, uri: str, folder: Path | None) -> Path:
    """The lock file of the snapshots of ``params``: in the snapshot folder, or - when the
    folder is not known here - in ``~/.cache/opsreview``, named by a digest of the servers of
    the connection string (never its credentials)."""
    folder = folder if folder is not None else params.snapshot_dir
    if folder is not None:
        return Path(folder) / LOCK_NAME
    match = re.match(r"^([A-Za-z0-9+.-]+)://(?:[^@/?#]*@)?([^/?#]*)", uri)
    servers = f"{match.group(1)}://{match.group(2)}" if match else "?"
    digest = hashlib.sha256(servers.encode("utf-8")).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "opsreview" / f"database-snapshot-{digest}.lock"


@contextmanager
def snapshot_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` (``fcntl.flock``, non-blocking) while the snapshot runs; a snapshot of the
    same params already running raises :class:`SourceError`. The file is removed on release;
    a lock taken on a file another holder had just removed is taken again on the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SourceError(
                    "database", f"another snapshot is running (lock {path} is held): this one was not taken"
                ) from None
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file while we opened it: take the new one
    else:
        raise SourceError("database", f"could not take the snapshot lock {path}")
    try:
        yield
    finally:
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def take_snapshot(
    params: DatabaseParams, *, now: datetime | None = None, lock_dir: Path | None = None
) -> list[dict[str, Any]]:
    """One snapshot document (two with ``rate_interval_s`` > 0: the second is serverStatus only).

    Raises :class:`SourceError` (one redacted line) when the server cannot be reached, the
    login fails or another snapshot of the same params is running (the lock file lives in
    ``lock_dir``, default ``params.snapshot_dir``); a command that fails alone is an entry
    of the snapshot's ``errors``. No command is sent after ``params.snapshot_deadline_s``.
    """
    if params.uri is None:
        raise SourceError("database", "database.uri is not set: nothing to connect to")
    try:
        uri = params.uri.resolve()
    except MissingSecretError as exc:
        raise _source_error(str(exc.args[0] if exc.args else exc)) from None
    deadline = time.monotonic() + params.snapshot_deadline_s
    with snapshot_lock(_lock_path(params, uri, lock_dir)):
        try:
            clients, reader, host, topology = _connect(params, uri)
        except ValueError as exc:
            raise _source_error(f"invalid connection string: {exc}") from None
        except _Fatal as exc:
            raise _source_error(f"cannot read MongoDB: {exc.failure.message}") from None
        try:
            reader.deadline = deadline
            started = time.monotonic()
            ts = now or datetime.now(UTC)
            snap = _Snapshot(reader, params, host, topology)
            try:
                snap.collect()
            except _Fatal as exc:
                raise _source_error(f"cannot read MongoDB ({exc.failure.command}): {exc.failure.message}") from None
            rate = params.rate_interval_s
            if rate > 0 and reader.stopped is None and started + rate >= deadline:
                reader.stop(f"the rate look after {rate:g} s would pass the snapshot deadline")
            if rate > 0 and reader.stopped is not None:
                reader.skipped += 1  # the second serverStatus
            first = snap.document(ts)
            snapshots = [first]
            if rate > 0 and reader.stopped is None:
                time.sleep(max(0.0, started + rate - time.monotonic()))
                second = _Snapshot(_Reader(reader.client, params, deadline), params, host, topology)
                elapsed = time.monotonic() - started
                try:
                    status = second.r.command("admin", {"serverStatus": 1})
                except _Fatal as exc:
                    first["errors"].append(exc.failure.as_error())
                else:
                    if status is not None:
                        second.replies["serverStatus"] = ejson(status)
                        snapshots.append(second.document(ts + timedelta(seconds=elapsed)))
                    else:
                        first["errors"].extend(second.document(ts)["errors"])
            return snapshots
        finally:
            for client in clients:
                client.close()
