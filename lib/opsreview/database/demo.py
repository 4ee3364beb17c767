"""Demo data of the database area: a week and a day of the shop API's MongoDB 7.0 replica set.

`write_demo` writes, deterministically for the generator it is handed, under ``out/database/``:

- ``snapshots/<UTC date>/<HHMMSS>-db-1_27017.json``: what the collector would have written every
  15 minutes from ``db-1:27017`` (the primary of ``rs0``; ``db-2`` and ``db-3`` are secondaries):
  the raw command replies as relaxed Extended JSON (format ``opsreview-mongodb-snapshot/1``),
  with cumulative counters that follow a daily traffic curve, collections that grow a little
  every day, and a once-a-day ``hygiene`` sample (the 03:00 UTC snapshot);
- ``logs/db-1/mongod.log`` (the last UTC day) and ``mongod.log.<UTC date>.gz`` (earlier UTC
  days, rotated at midnight UTC): mongod's 4.4+ structured log (one compact JSON object per line)
  with connection accepted/ended (the same connections the snapshots count), client metadata,
  authentication, WiredTiger checkpoints every minute and ``Slow query`` lines (slowms 100) of
  several shapes: find on products, an aggregation on orders, cart updates, getMore of the
  nightly export, findAndModify on sessions.

Planted, and returned as ground truth under ``"database"``:

- ``collscan_shape``: a release at 10:40 local on the review day starts reading a user's orders
  by ``userId`` sorted by ``createdAt: -1`` with no index behind it: ``COLLSCAN`` slow queries on
  ``shop.orders`` (docsExamined = the collection's count, nreturned <= 20) on the review day only;
  the fix is ``db.orders.createIndex({userId: 1, createdAt: -1})``;
- ``unused_index``: ``shop.orders`` ``legacy_status_1`` has 0 accesses since db-1 started,
  more than three weeks before the review day;
- ``redundant_index``: ``shop.products`` ``category_1`` is a prefix of ``category_1_price_-1``;
- ``lag_spike``: db-3 falls up to about two minutes behind the primary for two hours on the
  review afternoon (db-2 and db-3 otherwise stay under 2 s);
- ``no_validator``: ``shop.carts`` is the only collection without a ``$jsonSchema`` validator;
- ``md5_passwords``: the review day's hygiene sample of ``shop.users`` finds 37 of 200 password
  hashes that look like unsalted MD5 (the rest are bcrypt, cost 12).

Nothing here holds a connection string, a password or a hash value: hygiene is counts only.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd

from opsreview.mongo import privileges_row

SNAPSHOT_FORMAT = "opsreview-mongodb-snapshot/1"
SET_NAME = "rs0"
PRIMARY = "db-1:27017"
SNAPSHOT_HOST = "db-1_27017"  # the host in snapshot file names, as the collector writes it
MEMBERS = (PRIMARY, "db-2:27017", "db-3:27017")
MEMBER_IPS = {"db-1:27017": "10.0.3.21", "db-2:27017": "10.0.3.22", "db-3:27017": "10.0.3.23"}
VERSION = "7.0.15"
DB = "shop"
SNAPSHOT_MINUTES = 15
SLOW_MS = 100
FS_TOTAL_SIZE = 34_342_961_152  # a 32 GiB data disk as the filesystem reports it
CACHE_MAX = 3_758_096_384  # WiredTiger default on 8 GiB of RAM: (8 - 1) / 2 GiB
MAX_CONNECTIONS = 51_200  # 80% of ulimit -n 64000

API_IPS = ("10.0.1.15", "10.0.1.16")  # api-1, api-2
WORKER_IP = "10.0.1.21"
COLLECTOR_IP = "10.0.2.5"
EXPORTER_IP = "10.0.2.9"

RELEASE_LOCAL = "10:40"  # the review day's deploy that brings the unindexed query
LAG_LOCAL = ("15:00", "17:00")  # db-3's replication lag spike on the review day
LAG_PEAK_S = 120.0
MD5_LIKE = 37
SAMPLE_SIZE = 200
BCRYPT_COST = 12
COLLSCAN_SUGGESTION = "db.orders.createIndex({userId: 1, createdAt: -1})"

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


# -- the shop database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    name: str
    key: tuple[tuple[str, Any], ...]
    bytes_per_doc: float
    ops_per_day: float  # $indexStats accesses on db-1
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class _Coll:
    name: str
    count: int  # documents when the first day starts
    per_day: float  # net growth per day (follows the traffic curve)
    swing: float  # daily in-and-out (TTL churn), in documents
    obj_bytes: int  # average BSON size
    compression: float  # storageSize / size
    free_share: float  # freeStorageSize / storageSize
    max_doc: int  # the largest document a 200-document sample sees
    indexes: tuple[_Index, ...]
    validator: Mapping[str, Any] | None = None
    soft_delete: tuple[str, float] | None = None  # field, share of documents
    password_field: str | None = None


def _schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$jsonSchema": {
            "bsonType": "object",
            "required": required,
            "properties": properties,
        }
    }


_ID = _Index("_id_", (("_id", 1),), 22.0, 0.0)


def _id_index(ops_per_day: float) -> _Index:
    return _Index(_ID.name, _ID.key, _ID.bytes_per_doc, ops_per_day)


COLLECTIONS: tuple[_Coll, ...] = (
    _Coll(
        "users",
        61_400,
        140,
        0,
        780,
        0.45,
        0.03,
        1_912,
        (_id_index(9_000), _Index("email_1", (("email", 1),), 34, 7_000, (("unique", True),))),
        _schema(
            ["email", "passwordHash", "createdAt"],
            {
                "email": {"bsonType": "string", "pattern": "^.+@.+$"},
                "passwordHash": {"bsonType": "string"},
                "name": {"bsonType": "string"},
                "createdAt": {"bsonType": "date"},
                "deletedAt": {"bsonType": ["date", "null"]},
            },
        ),
        ("deletedAt", 0.015),
        "passwordHash",
    ),
    _Coll(
        "orders",
        842_000,
        2_400,
        0,
        3_200,
        0.38,
        0.02,
        9_204,
        (
            _id_index(6_000),
            _Index("status_1_createdAt_-1", (("status", 1), ("createdAt", -1)), 28, 900),
            _Index("legacy_status_1", (("legacy_status", 1),), 14, 0),
            _Index(
                "paymentIntentId_1",
                (("paymentIntentId", 1),),
                40,
                3_000,
                (("unique", True), ("partialFilterExpression", {"paymentIntentId": {"$exists": True}})),
            ),
        ),
        _schema(
            ["userId", "items", "total", "status", "createdAt"],
            {
                "userId": {"bsonType": "objectId"},
                "items": {"bsonType": "array", "minItems": 1},
                "total": {"bsonType": ["double", "decimal", "int"], "minimum": 0},
                "status": {"enum": ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]},
                "legacy_status": {"bsonType": "string"},
                "paymentIntentId": {"bsonType": "string"},
                "createdAt": {"bsonType": "date"},
            },
        ),
    ),
    _Coll(
        "products",
        12_480,
        3,
        0,
        4_100,
        0.33,
        0.04,
        14_388,
        (
            _id_index(60_000),
            _Index("slug_1", (("slug", 1),), 40, 45_000, (("unique", True),)),
            _Index("category_1_price_-1", (("category", 1), ("price", -1)), 32, 30_000),
            _Index("category_1", (("category", 1),), 18, 800),
            _Index(
                "name_text",
                (("_fts", "text"), ("_ftsx", 1)),
                260,
                12_000,
                (
                    ("weights", {"name": 1}),
                    ("default_language", "english"),
                    ("language_override", "language"),
                    ("textIndexVersion", 3),
                ),
            ),
        ),
        _schema(
            ["name", "slug", "category", "price"],
            {
                "name": {"bsonType": "string"},
                "slug": {"bsonType": "string"},
                "category": {"bsonType": "string"},
                "price": {"bsonType": ["double", "decimal", "int"], "minimum": 0},
                "isDeleted": {"bsonType": "bool"},
            },
        ),
        ("isDeleted", 0.03),
    ),
    _Coll(
        "carts",
        31_200,
        40,
        900,
        1_900,
        0.40,
        0.12,
        6_120,
        (
            _id_index(3_000),
            _Index("userId_1", (("userId", 1),), 26, 14_000, (("unique", True),)),
            _Index("updatedAt_1", (("updatedAt", 1),), 20, 60, (("expireAfterSeconds", 2_592_000),)),
        ),
        None,
    ),
    _Coll(
        "sessions",
        84_000,
        0,
        6_000,
        520,
        0.50,
        0.18,
        731,
        (
            _id_index(20_000),
            _Index("userId_1", (("userId", 1),), 26, 2_500),
            _Index("expiresAt_1", (("expiresAt", 1),), 20, 300, (("expireAfterSeconds", 0),)),
        ),
        _schema(
            ["userId", "expiresAt"],
            {"userId": {"bsonType": "objectId"}, "expiresAt": {"bsonType": "date"}},
        ),
    ),
    _Coll(
        "payments",
        871_000,
        2_600,
        0,
        1_150,
        0.40,
        0.02,
        2_431,
        (
            _id_index(2_000),
            _Index("orderId_1", (("orderId", 1),), 26, 2_600),
            _Index("providerEventId_1", (("providerEventId", 1),), 42, 3_200, (("unique", True),)),
        ),
        _schema(
            ["orderId", "provider", "amount", "currency", "status", "createdAt"],
            {
                "orderId": {"bsonType": "objectId"},
                "provider": {"enum": ["stripe"]},
                "amount": {"bsonType": ["int", "long"], "minimum": 0},
                "currency": {"bsonType": "string", "minLength": 3, "maxLength": 3},
                "status": {"bsonType": "string"},
                "providerEventId": {"bsonType": "string"},
                "createdAt": {"bsonType": "date"},
            },
        ),
    ),
)

UNUSED_INDEX = ("orders", "legacy_status_1")

# connectionStatus with showPrivileges of the collector's login: clusterMonitor, read on shop and local
# (the privileges a 7.0 server lists for those roles).
_READ = ["changeStream", "collStats", "dbHash", "dbStats", "find", "killCursors", "listCollections", "listIndexes"]
_READ += ["listSearchIndexes", "planCacheRead"]
CONNECTION_STATUS: dict[str, Any] = {
    "authInfo": {
        "authenticatedUsers": [{"user": "opsreview", "db": "admin"}],
        "authenticatedUserRoles": [
            {"role": "clusterMonitor", "db": "admin"},
            {"role": "read", "db": DB},
            {"role": "read", "db": "local"},
        ],
        "authenticatedUserPrivileges": [
            {
                "resource": {"cluster": True},
                "actions": [
                    "connPoolStats",
                    "getCmdLineOpts",
                    "getDefaultRWConcern",
                    "getLog",
                    "getParameter",
                    "getShardMap",
                    "hostInfo",
                    "inprog",
                    "listDatabases",
                    "listSessions",
                    "listShards",
                    "replSetGetConfig",
                    "replSetGetStatus",
                    "serverStatus",
                    "shardingState",
                    "top",
                ],
            },
            {
                "resource": {"db": "", "collection": ""},
                "actions": ["collStats", "dbStats", "getDatabaseVersion", "getShardVersion", "indexStats", "useUUID"],
            },
            {"resource": {"db": "", "collection": "system.profile"}, "actions": ["find"]},
            {"resource": {"db": "config", "collection": ""}, "actions": sorted([*_READ, "indexStats"])},
            {"resource": {"db": "local", "collection": ""}, "actions": sorted([*_READ, "indexStats"])},
            {"resource": {"db": "local", "collection": "system.replset"}, "actions": ["find"]},
            {"resource": {"db": DB, "collection": ""}, "actions": list(_READ)},
            {"resource": {"db": DB, "collection": "system.js"}, "actions": list(_READ)},
        ],
    },
    "ok": 1.0,
}
REDUNDANT_INDEX = ("products", "category_1", "category_1_price_-1")


# -- time helpers ----------------------------------------------------------------------------------


def _to_dt(seconds: float) -> dt.datetime:
    """Epoch seconds as an aware UTC datetime at millisecond resolution (what BSON dates hold)."""
    return _EPOCH + dt.timedelta(milliseconds=round(seconds * 1000))


def _log_time(seconds: float) -> str:
    d = _to_dt(seconds)
    return f"{d:%Y-%m-%dT%H:%M:%S}.{d.microsecond // 1000:03d}+00:00"


def _ejson_date(seconds: float) -> dict[str, str]:
    d = _to_dt(seconds)
    return {"$date": f"{d:%Y-%m-%dT%H:%M:%S}.{d.microsecond // 1000:03d}Z"}


def _rdate(seconds: float) -> dict[str, str]:
    """A BSON date as relaxed Extended JSON, exactly as ``bson.json_util.dumps`` writes it."""
    d = _to_dt(seconds)
    fraction = f".{d.microsecond // 1000:03d}" if d.microsecond else ""
    return {"$date": f"{d:%Y-%m-%dT%H:%M:%S}{fraction}Z"}


def _rts(seconds: float, inc: int = 1) -> dict[str, dict[str, int]]:
    """A BSON timestamp as relaxed Extended JSON."""
    return {"$timestamp": {"t": int(seconds), "i": inc}}


def _rbinary_uuid(raw: bytes) -> dict[str, dict[str, str]]:
    """A UUID (BSON binary subtype 4) as relaxed Extended JSON."""
    return {"$binary": {"base64": base64.b64encode(raw).decode("ascii"), "subType": "04"}}


def _local_start(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(), tz).timestamp()


def _local_at(day: dt.date, hhmm: str, tz: ZoneInfo) -> float:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tz).timestamp()


def _local_hours(seconds: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    local = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(tz)
    return np.asarray(local.hour + local.minute / 60.0 + local.second / 3600.0, dtype=float)


def _curve(hours: np.ndarray) -> np.ndarray:
    """The shop's daily traffic (peak mid-afternoon, a second one in the evening), mean about 1."""
    raw = 0.25 + np.exp(-((hours - 14.5) ** 2) / 18.0) + 0.45 * np.exp(-((hours - 20.5) ** 2) / 6.0)
    return raw / 0.7117


def _sample_times(
    rng: np.random.Generator, start: float, end: float, n: int, tz: ZoneInfo, not_before: float | None = None
) -> np.ndarray:
    """n sorted epoch seconds in [start, end) following the traffic curve (none before not_before)."""
    grid = np.arange(start, end, 60.0)
    weights = _curve(_local_hours(grid, tz))
    if not_before is not None:
        weights = np.where(grid >= not_before, weights, 0.0)
    picked = rng.choice(len(grid), size=n, p=weights / weights.sum())
    return np.sort(grid[picked] + rng.random(n) * 59.9)


def _hex(rng: np.random.Generator, nbytes: int) -> str:
    return bytes(rng.integers(0, 256, size=nbytes, dtype=np.uint8).tolist()).hex()


def _uuid(rng: np.random.Generator) -> str:
    h = bytearray(rng.integers(0, 256, size=16, dtype=np.uint8).tolist())
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    s = h.hex()
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


def _oid(rng: np.random.Generator, seconds: float) -> dict[str, str]:
    return {"$oid": f"{int(seconds):08x}{_hex(rng, 8)}"}


def _shape_hash(name: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{name}".encode()).hexdigest()[:8].upper()


# -- connections -------------------------------------------------------------------------------------


@dataclass
class _Conn:
    opened: float  # -inf: opened before the first day (not in these logs)
    closed: float  # +inf: still open after the last day
    remote: str
    app: str
    cid: int = 0
    uuid: str = ""


@dataclass
class _Connections:
    conns: list[_Conn]
    created_before: int  # connections accepted since start-up before the first opened in `conns`
    pools: list[tuple[float, float, list[_Conn]]]  # shop-api pool generations: (from, to, conns)
    worker: list[_Conn]
    opened_sorted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    closed_sorted: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def current(self, t: float) -> int:
        opened = int(np.searchsorted(self.opened_sorted, t, side="right"))
        closed = int(np.searchsorted(self.closed_sorted, t, side="right"))
        return opened - closed

    def total_created(self, t: float) -> int:
        finite = self.opened_sorted[np.isfinite(self.opened_sorted)]
        return self.created_before + int(np.searchsorted(finite, t, side="right"))

    def app_conn(self, rng: np.random.Generator, t: float) -> _Conn:
        for start, end, conns in self.pools:
            if start <= t < end:
                return conns[int(rng.integers(0, len(conns)))]
        raise ValueError(f"no shop-api pool open at {t}")


def _port(rng: np.random.Generator) -> int:
    return int(rng.integers(32_768, 61_000))


def _connections(
    rng: np.random.Generator,
    days: list[dt.date],
    tz: ZoneInfo,
    snapshot_ts: np.ndarray,
    deploys: list[float],
    start: float,
    end: float,
) -> _Connections:
    inf = float("inf")
    conns: list[_Conn] = []
    # Opened before the window, in start-up order: replication and heartbeats of the two
    # secondaries, the exporter, the worker's pool and the API's pools.
    for member in MEMBERS[1:]:
        conns += [_Conn(-inf, inf, f"{MEMBER_IPS[member]}:{_port(rng)}", "internal") for _ in range(3)]
    conns.append(_Conn(-inf, inf, f"{EXPORTER_IP}:{_port(rng)}", "mongodb_exporter"))
    worker = [_Conn(-inf, inf, f"{WORKER_IP}:{_port(rng)}", "shop-worker") for _ in range(3)]
    conns += worker
    pool = [_Conn(-inf, inf, f"{API_IPS[i % 2]}:{_port(rng)}", "shop-api") for i in range(20)]
    conns += pool
    for i, c in enumerate(conns):
        c.cid = 3 + i if i < 7 else 412 + 37 * i  # earlier ids were used by start-up and the old pools
    first_id = 18_000 + int(rng.integers(0, 3_000))

    # A rolling deploy: the new processes connect, then the old ones drain and close theirs.
    pools: list[tuple[float, float, list[_Conn]]] = []
    since = -inf
    for deploy in sorted(deploys):
        for c in pool:
            c.closed = deploy + 0.2 + float(rng.random()) * 1.5
        new_pool = [
            _Conn(deploy - 7.0 + float(rng.random()) * 3.0, inf, f"{API_IPS[i % 2]}:{_port(rng)}", "shop-api")
            for i in range(20)
        ]
        pools.append((since, deploy, pool))
        conns += new_pool
        pool, since = new_pool, deploy
    pools.append((since, inf, pool))

    # The API's pools grow with traffic (and idle connections close after maxIdleTimeMS).
    for day in days:
        d_start, d_end = _local_start(day, tz), _local_start(day + dt.timedelta(days=1), tz)
        n = int(rng.poisson(170))
        for t in _sample_times(rng, d_start, d_end, n, tz):
            life = 60.0 + float(rng.exponential(25 * 60))
            conns.append(
                _Conn(float(t), float(t) + life, f"{API_IPS[int(rng.integers(0, 2))]}:{_port(rng)}", "shop-api")
            )
    # The collector: one short connection per snapshot.
    for ts in snapshot_ts:
        opened = float(ts) - 1.2 - float(rng.random()) * 0.6
        conns.append(
            _Conn(opened, float(ts) + 1.4 + float(rng.random()) * 2.0, f"{COLLECTOR_IP}:{_port(rng)}", "opsreview")
        )

    new = sorted((c for c in conns if np.isfinite(c.opened)), key=lambda c: c.opened)
    for i, c in enumerate(new):
        c.cid = first_id + i
    for c in conns:
        c.uuid = _uuid(rng)
        if c.closed >= end:
            c.closed = inf
    out = _Connections(conns, first_id - 1, pools, worker)
    out.opened_sorted = np.sort(np.array([c.opened for c in conns]))
    out.closed_sorted = np.sort(np.array([c.closed for c in conns]))
    return out


_CLIENT_DOCS: dict[str, dict[str, Any]] = {
    "shop-api": {
        "driver": {"name": "nodejs|Mongoose", "version": "6.9.0|8.7.2"},
        "platform": "Node.js v20.18.0, LE",
        "os": {"name": "linux", "architecture": "x64", "version": "6.1.0-27-cloud-amd64", "type": "Linux"},
        "application": {"name": "shop-api"},
    },
    "opsreview": {
        "application": {"name": "opsreview"},
        "driver": {"name": "PyMongo", "version": "4.10.1"},
        "os": {"type": "Linux", "name": "Linux", "architecture": "x86_64", "version": "6.1.0-27-cloud-amd64"},
        "platform": "CPython 3.11.2.final.0",
    },
}
_USERS = {"shop-api": "shop", "opsreview": "opsreview"}


def _connection_lines(rng: np.random.Generator, conns: _Connections) -> list[tuple[float, dict[str, Any]]]:
    events: list[tuple[float, int, _Conn]] = []
    for c in conns.conns:
        if np.isfinite(c.opened):
            events.append((c.opened, 1, c))
        if np.isfinite(c.closed):
            events.append((c.closed, -1, c))
    events.sort(key=lambda e: (e[0], -e[1]))
    lines: list[tuple[float, dict[str, Any]]] = []
    for t, kind, c in events:
        count = conns.current(t)
        common = {"remote": c.remote, "isLoadBalanced": False, "uuid": {"uuid": {"$uuid": c.uuid}}}
        if kind == 1:
            attr = {**common, "connectionId": c.cid, "connectionCount": count}
            lines.append((t, _line(t, "NETWORK", 22943, "listener", "Connection accepted", attr)))
            t_meta = t + 0.001 + float(rng.random()) * 0.003
            meta = {
                "remote": c.remote,
                "client": f"conn{c.cid}",
                "negotiatedCompressors": [],
                "doc": _CLIENT_DOCS[c.app],
            }
            lines.append((t_meta, _line(t_meta, "NETWORK", 51800, f"conn{c.cid}", "client metadata", meta)))
            t_auth = t_meta + 0.004 + float(rng.random()) * 0.012
            auth = {
                "client": c.remote,
                "isSpeculative": True,
                "isClusterMember": False,
                "mechanism": "SCRAM-SHA-256",
                "user": _USERS[c.app],
                "db": "admin",
                "result": 0,
                "metrics": {"conversation_duration": {"micros": int(rng.integers(2_000, 9_000))}},
                "extraInfo": {},
            }
            lines.append((t_auth, _line(t_auth, "ACCESS", 5286306, f"conn{c.cid}", "Successfully authenticated", auth)))
        else:
            attr = {**common, "connectionId": c.cid, "connectionCount": count}
            lines.append((t, _line(t, "NETWORK", 22944, f"conn{c.cid}", "Connection ended", attr)))
    return lines


def _line(t: float, component: str, msg_id: int, ctx: str, msg: str, attr: dict[str, Any] | None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "t": {"$date": _log_time(t)},
        "s": "I",
        "c": component,
        "id": msg_id,
        "ctx": ctx,
        "msg": msg,
    }
    if attr:
        line["attr"] = attr
    return line


def _checkpoint_lines(rng: np.random.Generator, start: float, end: float) -> list[tuple[float, dict[str, Any]]]:
    lines: list[tuple[float, dict[str, Any]]] = []
    first = start + float(rng.random()) * 60
    snapshot = 90_000 + int(rng.integers(0, 50_000))
    write_gen = 2_000_000 + int(rng.integers(0, 500_000))
    for t in np.arange(first, end, 60.0):
        t = float(t) + float(rng.random()) * 0.08
        snapshot += int(rng.integers(200, 4_000))
        stable = int(t) - 1
        text = (
            f"saving checkpoint snapshot min: {snapshot}, snapshot max: {snapshot} snapshot count: 0, "
            f"oldest timestamp: ({stable - 300}, 1) , meta checkpoint timestamp: ({stable}, 1) base write gen: {write_gen}"
        )
        message = {
            "ts_sec": int(t),
            "ts_usec": int(round((t - int(t)) * 1e6)),
            "thread": "1:0x7f3a2c1f8640",
            "session_name": "WT_SESSION.checkpoint",
            "category": "WT_VERB_CHECKPOINT_PROGRESS",
            "category_id": 7,
            "verbose_level": "DEBUG_1",
            "verbose_level_id": 1,
            "msg": text,
        }
        lines.append((t, _line(t, "WTCHKPT", 22430, "Checkpointer", "WiredTiger message", {"message": message})))
    return lines


# -- slow queries ------------------------------------------------------------------------------------


@dataclass
class _Slow:
    t: float
    kind: str  # read | write | command: the opLatencies bucket the operation counts in
    duration_ms: int
    line: dict[str, Any]
    planted: bool = False


def _locks(yields: int, write: bool = False) -> dict[str, Any]:
    n = yields + 1
    if not write:
        return {"FeatureCompatibilityVersion": {"acquireCount": {"r": n}}, "Global": {"acquireCount": {"r": n}}}
    return {
        "ParallelBatchWriterMode": {"acquireCount": {"r": n}},
        "FeatureCompatibilityVersion": {"acquireCount": {"w": n}},
        "ReplicationStateTransition": {"acquireCount": {"w": n}},
        "Global": {"acquireCount": {"w": n}},
        "Database": {"acquireCount": {"w": n}},
        "Collection": {"acquireCount": {"w": n}},
    }


def _storage(rng: np.random.Generator, p_read: float, scale: int) -> dict[str, Any]:
    if rng.random() >= p_read:
        return {}
    read = int(scale * (0.5 + rng.random()))
    return {"data": {"bytesRead": read, "timeReadingMicros": int(read / (180 + 200 * rng.random()))}}


def _duration(rng: np.random.Generator, median_extra: float, sigma: float = 0.6) -> int:
    return SLOW_MS + int(median_extra * np.exp(rng.normal(0.0, sigma)))


CATEGORIES = ("shoes", "dresses", "laptops", "usb-c", "coffee", "garden", "lamps", "toys")


def _slow_queries(
    rng: np.random.Generator,
    day: dt.date,
    tz: ZoneInfo,
    conns: _Connections,
    count_at: Callable[[str, float], int],
    review: bool,
) -> list[_Slow]:
    start, end = _local_start(day, tz), _local_start(day + dt.timedelta(days=1), tz)
    out: list[_Slow] = []

    def lsid() -> dict[str, Any]:
        return {"id": {"$uuid": _uuid(rng)}}

    # 1. Product listing by category, a deep page: IXSCAN, but many keys skipped.
    qh, pk = _shape_hash("products.find", "q"), _shape_hash("products.find", "p")
    for t in _sample_times(rng, start, end, int(rng.poisson(55)), tz):
        c = conns.app_conn(rng, t)
        skip = int(rng.integers(10, 40)) * 20
        dur = _duration(rng, 45)
        keys = skip + 20 + int(rng.integers(0, 5))
        attr = {
            "type": "command",
            "ns": f"{DB}.products",
            "appName": "shop-api",
            "command": {
                "find": "products",
                "filter": {
                    "category": str(rng.choice(CATEGORIES)),
                    "price": {"$gte": int(rng.integers(0, 50)), "$lte": int(rng.integers(100, 900))},
                },
                "sort": {"price": -1},
                "skip": skip,
                "limit": 20,
                "lsid": lsid(),
                "$db": DB,
            },
            "planSummary": "IXSCAN { category: 1, price: -1 }",
            "planningTimeMicros": int(rng.integers(90, 400)),
            "keysExamined": keys,
            "docsExamined": keys,
            "cursorExhausted": True,
            "numYields": int(dur // 10),
            "nreturned": 20,
            "queryHash": qh,
            "planCacheKey": pk,
            "queryFramework": "classic",
            "reslen": int(rng.integers(30_000, 60_000)),
            "locks": _locks(int(dur // 10)),
            "readConcern": {"level": "local", "provenance": "implicitDefault"},
            "storage": _storage(rng, 0.3, 2_000_000),
            "cpuNanos": int(dur * 1e6 * (0.5 + 0.4 * rng.random())),
            "remote": c.remote,
            "protocol": "op_msg",
            "durationMillis": dur,
        }
        out.append(_Slow(float(t), "read", dur, _line(float(t), "COMMAND", 51803, f"conn{c.cid}", "Slow query", attr)))

    # 2. Revenue by day for the admin dashboard: orders by status and date.
    qh, pk = _shape_hash("orders.aggregate", "q"), _shape_hash("orders.aggregate", "p")
    for t in _sample_times(rng, start, end, int(rng.poisson(30)), tz):
        c = conns.app_conn(rng, t)
        days_back = int(rng.choice([7, 30, 30, 90]))
        docs = int(days_back * 2_000 * (0.9 + 0.2 * rng.random()))
        dur = _duration(rng, docs / 160, 0.35)
        status = str(rng.choice(["paid", "paid", "shipped", "delivered"]))
        pipeline = [
            {"$match": {"status": status, "createdAt": {"$gte": _ejson_date(float(t) - days_back * 86_400)}}},
            {
                "$group": {
                    "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$createdAt"}},
                    "revenue": {"$sum": "$total"},
                    "orders": {"$sum": 1},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        attr = {
            "type": "command",
            "ns": f"{DB}.orders",
            "appName": "shop-api",
            "command": {"aggregate": "orders", "pipeline": pipeline, "cursor": {}, "lsid": lsid(), "$db": DB},
            "planSummary": "IXSCAN { status: 1, createdAt: -1 }",
            "planningTimeMicros": int(rng.integers(200, 900)),
            "keysExamined": docs,
            "docsExamined": docs,
            "cursorExhausted": True,
            "numYields": docs // 1000,
            "nreturned": days_back,
            "queryHash": qh,
            "planCacheKey": pk,
            "queryFramework": "sbe",
            "reslen": 120 + 70 * days_back,
            "locks": _locks(docs // 1000),
            "readConcern": {"level": "local", "provenance": "implicitDefault"},
            "storage": _storage(rng, 0.6, docs * 1_200),
            "cpuNanos": int(dur * 1e6 * (0.6 + 0.3 * rng.random())),
            "remote": c.remote,
            "protocol": "op_msg",
            "durationMillis": dur,
        }
        out.append(_Slow(float(t), "read", dur, _line(float(t), "COMMAND", 51803, f"conn{c.cid}", "Slow query", attr)))

    # 3. Adding to a cart: an upsert on carts by userId (the op-level line, type "update").
    qh, pk = _shape_hash("carts.update", "q"), _shape_hash("carts.update", "p")
    for t in _sample_times(rng, start, end, int(rng.poisson(70)), tz):
        c = conns.app_conn(rng, t)
        dur = _duration(rng, 25, 0.5)
        attr = {
            "type": "update",
            "ns": f"{DB}.carts",
            "appName": "shop-api",
            "command": {
                "q": {"userId": _oid(rng, float(t) - 86_400 * float(rng.integers(1, 700)))},
                "u": {
                    "$push": {
                        "items": {
                            "productId": _oid(rng, 1.70e9),
                            "qty": int(rng.integers(1, 4)),
                            "price": float(rng.integers(199, 19_999)) / 100,
                        }
                    },
                    "$set": {"updatedAt": _ejson_date(float(t))},
                },
                "multi": False,
                "upsert": True,
            },
            "planSummary": "IXSCAN { userId: 1 }",
            "keysExamined": 1,
            "docsExamined": 1,
            "nMatched": 1,
            "nModified": 1,
            "nUpserted": 0,
            "numYields": 0,
            "queryHash": qh,
            "planCacheKey": pk,
            "locks": _locks(0, write=True),
            "flowControl": {"acquireCount": 1},
            "storage": _storage(rng, 0.1, 40_000),
            "cpuNanos": int(dur * 1e6 * 0.2),
            "remote": c.remote,
            "durationMillis": dur,
        }
        out.append(_Slow(float(t), "write", dur, _line(float(t), "WRITE", 51803, f"conn{c.cid}", "Slow query", attr)))

    # 4. The nightly export of yesterday's orders by the worker: slow getMore batches.
    qh, pk = _shape_hash("orders.export", "q"), _shape_hash("orders.export", "p")
    t = _local_at(day, "02:00", tz) + float(rng.random()) * 20
    c = conns.worker[int(rng.integers(0, len(conns.worker)))]
    cursor_id = int(rng.integers(10**17, 9 * 10**18))
    originating = {
        "find": "orders",
        "filter": {
            "status": {"$in": ["paid", "shipped"]},
            "createdAt": {"$gte": _ejson_date(start - 86_400), "$lt": _ejson_date(start)},
        },
        "batchSize": 1000,
        "lsid": lsid(),
        "$db": DB,
    }
    batches = 2 + int(rng.integers(0, 2))
    for _ in range(batches):
        t += 0.3 + float(rng.random()) * 1.5
        dur = _duration(rng, 80, 0.5)
        attr = {
            "type": "command",
            "ns": f"{DB}.orders",
            "appName": "shop-worker",
            "command": {
                "getMore": cursor_id,
                "collection": "orders",
                "batchSize": 1000,
                "lsid": originating["lsid"],
                "$db": DB,
            },
            "originatingCommand": originating,
            "planSummary": "IXSCAN { status: 1, createdAt: -1 }",
            "cursorid": cursor_id,
            "keysExamined": 1001,
            "docsExamined": 1000,
            "numYields": 8,
            "nreturned": 1000,
            "queryHash": qh,
            "planCacheKey": pk,
            "queryFramework": "classic",
            "reslen": int(1000 * 3_150 + rng.integers(0, 5_000)),
            "locks": _locks(8),
            "readConcern": {"level": "local", "provenance": "implicitDefault"},
            "storage": _storage(rng, 0.9, 3_200_000),
            "cpuNanos": int(dur * 1e6 * 0.4),
            "remote": c.remote,
            "protocol": "op_msg",
            "durationMillis": dur,
        }
        out.append(_Slow(t, "read", dur, _line(t, "COMMAND", 51803, f"conn{c.cid}", "Slow query", attr)))
        t += dur / 1000

    # 5. Touching a session: findAndModify on sessions by user, newest first.
    qh, pk = _shape_hash("sessions.fam", "q"), _shape_hash("sessions.fam", "p")
    for t in _sample_times(rng, start, end, int(rng.poisson(25)), tz):
        c = conns.app_conn(rng, t)
        dur = _duration(rng, 20, 0.5)
        attr = {
            "type": "command",
            "ns": f"{DB}.sessions",
            "appName": "shop-api",
            "command": {
                "findAndModify": "sessions",
                "query": {
                    "userId": _oid(rng, float(t) - 86_400 * float(rng.integers(1, 700))),
                    "expiresAt": {"$gt": _ejson_date(float(t))},
                },
                "sort": {"expiresAt": -1},
                "update": {"$set": {"lastSeenAt": _ejson_date(float(t))}},
                "new": True,
                "upsert": False,
                "lsid": lsid(),
                "txnNumber": int(rng.integers(1, 400)),
                "$db": DB,
            },
            "planSummary": "IXSCAN { userId: 1 }",
            "keysExamined": int(rng.integers(1, 6)),
            "docsExamined": int(rng.integers(1, 6)),
            "hasSortStage": True,
            "nMatched": 1,
            "nModified": 1,
            "nUpserted": 0,
            "numYields": 0,
            "queryHash": qh,
            "planCacheKey": pk,
            "reslen": int(rng.integers(380, 520)),
            "locks": _locks(0, write=True),
            "flowControl": {"acquireCount": 1},
            "writeConcern": {"w": "majority", "wtimeout": 0, "provenance": "implicitDefault"},
            "storage": {},
            "cpuNanos": int(dur * 1e6 * 0.15),
            "remote": c.remote,
            "protocol": "op_msg",
            "durationMillis": dur,
        }
        out.append(
            _Slow(float(t), "command", dur, _line(float(t), "COMMAND", 51803, f"conn{c.cid}", "Slow query", attr))
        )

    # Planted: after the review day's release, a user's orders by userId, newest first: COLLSCAN.
    if review:
        qh, pk = _shape_hash("orders.byUser", "q"), _shape_hash("orders.byUser", "p")
        release = _local_at(day, RELEASE_LOCAL, tz)
        for t in _sample_times(rng, start, end, int(rng.poisson(230)), tz, not_before=release + 60):
            c = conns.app_conn(rng, t)
            docs = count_at("orders", float(t))
            dur = int(docs * 0.00095 * np.exp(rng.normal(0.0, 0.2)))
            yields = docs // 1000 + int(rng.integers(0, 20))
            returned = int(min(20, rng.geometric(0.22) - 1))
            attr = {
                "type": "command",
                "ns": f"{DB}.orders",
                "appName": "shop-api",
                "command": {
                    "find": "orders",
                    "filter": {"userId": _oid(rng, float(t) - 86_400 * float(rng.integers(1, 700)))},
                    "sort": {"createdAt": -1},
                    "limit": 20,
                    "lsid": lsid(),
                    "$db": DB,
                },
                "planSummary": "COLLSCAN",
                "planningTimeMicros": int(rng.integers(60, 200)),
                "keysExamined": 0,
                "docsExamined": docs,
                "hasSortStage": True,
                "cursorExhausted": True,
                "numYields": yields,
                "nreturned": returned,
                "queryHash": qh,
                "planCacheKey": pk,
                "queryFramework": "classic",
                "reslen": 230 + returned * 3_150,
                "locks": _locks(yields),
                "readConcern": {"level": "local", "provenance": "implicitDefault"},
                "storage": _storage(rng, 0.25, 40_000_000),
                "cpuNanos": int(dur * 1e6 * (0.8 + 0.15 * rng.random())),
                "remote": c.remote,
                "protocol": "op_msg",
                "durationMillis": dur,
            }
            line = _line(float(t), "COMMAND", 51803, f"conn{c.cid}", "Slow query", attr)
            out.append(_Slow(float(t), "read", dur, line, planted=True))
    return out


# -- snapshots ---------------------------------------------------------------------------------------


def _grid(days: list[dt.date], tz: ZoneInfo, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Quarter-hour slots over the local days (UTC-aligned) and the seconds the collector took."""
    slots: list[float] = []
    for day in days:
        start, end = _local_start(day, tz), _local_start(day + dt.timedelta(days=1), tz)
        first = np.ceil(start / (SNAPSHOT_MINUTES * 60)) * SNAPSHOT_MINUTES * 60
        slots += list(np.arange(first, end, SNAPSHOT_MINUTES * 60.0))
    slot_arr = np.array(slots)
    taken = slot_arr + rng.integers(1, 4, size=len(slot_arr))
    return slot_arr, taken.astype(float)


def _cumulate(
    rng: np.random.Generator, work: np.ndarray, per_day: float, start_value: float, sigma: float = 0.05
) -> np.ndarray:
    """A cumulative counter: per_day times the traffic done in each interval, with a little noise."""
    increments = work * per_day * np.exp(rng.normal(0.0, sigma, size=len(work)))
    return np.floor(start_value + np.cumsum(increments)).astype(np.int64)


@dataclass
class _Series:
    ts: np.ndarray
    values: dict[str, np.ndarray]


def _work(ts: np.ndarray, tz: ZoneInfo, day_factor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per snapshot: the interval's length in days, its load and the traffic done in it (in days)."""
    dt_days = np.diff(np.concatenate([[ts[0] - SNAPSHOT_MINUTES * 60], ts])) / 86_400
    load = _curve(_local_hours(ts - SNAPSHOT_MINUTES * 30, tz)) * day_factor
    return dt_days, load, load * dt_days


def _server_series(
    rng: np.random.Generator,
    ts: np.ndarray,
    dt_days: np.ndarray,
    load: np.ndarray,
    work: np.ndarray,
    uptime0: float,
    slow: list[_Slow],
) -> _Series:
    n = len(ts)
    up_days = uptime0 / 86_400
    v: dict[str, np.ndarray] = {}
    rates = {"insert": 7_500, "query": 640_000, "update": 58_000, "delete": 2_200, "getmore": 6_000}
    for name, per_day in rates.items():
        v[f"op_{name}"] = _cumulate(rng, work, per_day, per_day * up_days * 0.97)
    command_inc = work * 300_000 + dt_days * 1_100_000
    v["op_command"] = np.floor(2_900_000 * up_days * 0.5 + np.cumsum(command_inc)).astype(np.int64)

    # Latency: the mean grows with load; slow operations add their whole duration.
    extra = {"read": np.zeros(n), "write": np.zeros(n), "command": np.zeros(n)}
    for s in slow:
        i = int(np.searchsorted(ts, s.t, side="left"))
        if i < n:
            extra[s.kind][i] += s.duration_ms * 1000
    reads = np.diff(np.concatenate([[0], v["op_query"] + v["op_getmore"]]))
    writes = np.diff(np.concatenate([[0], v["op_insert"] + v["op_update"] + v["op_delete"]]))
    commands = np.diff(np.concatenate([[0], v["op_command"]]))
    reads[0], writes[0], commands[0] = 0, 0, 0
    mean = 380 + 260 * load / max(load.max(), 1e-9)
    v["lat_reads_ops"] = v["op_query"] + v["op_getmore"]
    v["lat_writes_ops"] = v["op_insert"] + v["op_update"] + v["op_delete"]
    v["lat_commands_ops"] = v["op_command"]
    v["lat_reads_us"] = np.floor(v["lat_reads_ops"][0] * 420 + np.cumsum(reads * mean + extra["read"])).astype(np.int64)
    v["lat_writes_us"] = np.floor(
        v["lat_writes_ops"][0] * 1_100 + np.cumsum(writes * mean * 2.6 + extra["write"])
    ).astype(np.int64)
    v["lat_commands_us"] = np.floor(
        v["lat_commands_ops"][0] * 160 + np.cumsum(commands * 150 + extra["command"])
    ).astype(np.int64)
    v["txn_committed"] = _cumulate(rng, work, 2_350, 2_350 * up_days)
    v["txn_aborted"] = _cumulate(rng, work, 9, 9 * up_days, 0.5)
    txn_ops = v["txn_committed"] + v["txn_aborted"]
    v["lat_txn_ops"] = txn_ops
    v["lat_txn_us"] = np.floor(
        txn_ops[0] * 12_000 + np.cumsum(np.diff(np.concatenate([[txn_ops[0]], txn_ops])) * 11_500)
    ).astype(np.int64)

    planted = np.zeros(n)
    for s in slow:
        if s.planted:
            i = int(np.searchsorted(ts, s.t, side="left"))
            if i < n:
                planted[i] += 1
    v["cache_read_into"] = np.floor(
        2.1e9 * up_days * 0.95 + np.cumsum(work * 2.1e9 * np.exp(rng.normal(0, 0.1, n)) + planted * 6e6)
    ).astype(np.int64)
    v["cache_written_from"] = _cumulate(rng, work, 1.4e9, 1.4e9 * up_days)
    v["cache_bytes"] = (CACHE_MAX * (0.772 + 0.02 * load / load.max() + rng.normal(0, 0.004, n))).astype(np.int64)
    v["cache_dirty"] = (
        CACHE_MAX * np.clip(0.004 + 0.006 * load / load.max() + rng.normal(0, 0.001, n), 0.0005, None)
    ).astype(np.int64)
    busy = load / load.max()
    v["queue_readers"] = rng.binomial(2, 0.08 * busy)
    v["queue_writers"] = rng.binomial(1, 0.05 * busy)
    v["active_readers"] = rng.binomial(4, 0.3 * busy)
    v["active_writers"] = rng.binomial(2, 0.2 * busy)
    v["asserts_user"] = _cumulate(rng, work, 45, 45 * up_days, 0.4)
    requests_inc = np.diff(np.concatenate([[0], v["lat_reads_ops"] + v["lat_writes_ops"] + v["lat_commands_ops"]]))
    requests_inc[0] = 0
    v["net_requests"] = np.int64(int(3_500_000 * up_days)) + np.cumsum(requests_inc).astype(np.int64)
    v["net_in"] = np.int64(int(1.3e9 * up_days)) + np.cumsum(requests_inc * 365).astype(np.int64)
    v["net_out"] = np.int64(int(7.9e9 * up_days)) + np.cumsum(requests_inc * 2_260 + planted * 9_000).astype(np.int64)
    v["page_faults"] = _cumulate(rng, work, 60, 60 * up_days + 41_000, 0.3) + np.cumsum(planted * 3).astype(np.int64)
    v["txn_active"] = rng.binomial(1, 0.1 * busy)
    v["uptime"] = uptime0 + (ts - ts[0])
    v["work"] = np.cumsum(work)
    return _Series(ts, v)


def _collection_series(
    rng: np.random.Generator, ts: np.ndarray, cum_work: np.ndarray, tz: ZoneInfo
) -> dict[str, dict[str, np.ndarray]]:
    load = _curve(_local_hours(ts, tz))
    out: dict[str, dict[str, np.ndarray]] = {}
    for coll in COLLECTIONS:
        count = (
            coll.count
            + coll.per_day * cum_work
            + coll.swing * (load - 1.0)
            + rng.normal(0, max(coll.swing, 1) * 0.02, len(ts))
        )
        count = np.round(count).astype(np.int64)
        obj = coll.obj_bytes * (1.0 + 0.00002 * cum_work)
        size = np.round(count * obj).astype(np.int64)
        storage = np.ceil(size * coll.compression / 1_048_576) * 1_048_576
        storage = np.maximum.accumulate(storage).astype(np.int64)
        free = (storage * coll.free_share * (1 + rng.normal(0, 0.05, len(ts)))).astype(np.int64)
        series = {"count": count, "size": size, "avg": obj, "storage": storage, "free": free}
        for index in coll.indexes:
            isize = np.ceil(count * index.bytes_per_doc / 4096) * 4096
            series[f"ix:{index.name}"] = np.maximum.accumulate(isize).astype(np.int64)
        out[coll.name] = series
    return out


def _count_function(ts: np.ndarray, counts: dict[str, dict[str, np.ndarray]]) -> Callable[[str, float], int]:
    """The collection's document count at any time (what collStats would have said)."""

    def count_at(name: str, t: float) -> int:
        return int(round(float(np.interp(t, ts, counts[name]["count"].astype(float)))))

    return count_at


def _key(index: _Index) -> dict[str, Any]:
    return dict(index.key)


def _index_spec(index: _Index) -> dict[str, Any]:
    spec: dict[str, Any] = {"v": 2, "key": _key(index), "name": index.name}
    spec.update(dict(index.options))
    return spec


def _lag_profile(rng: np.random.Generator, ts: np.ndarray, review: dt.date, tz: ZoneInfo) -> dict[str, np.ndarray]:
    n = len(ts)
    lags = {"db-2:27017": rng.integers(0, 2, size=n), "db-3:27017": rng.integers(0, 2, size=n)}
    start, end = _local_at(review, LAG_LOCAL[0], tz), _local_at(review, LAG_LOCAL[1], tz)
    inside = (ts >= start) & (ts < end)
    x = (ts[inside] - start) / (end - start)
    peak = LAG_PEAK_S - float(rng.integers(0, 4))
    spike = np.round(peak * np.sin(np.pi * x) ** 1.5 * (1 + rng.normal(0, 0.03, inside.sum())))
    lags["db-3:27017"] = lags["db-3:27017"].astype(float)
    lags["db-3:27017"][inside] = np.maximum(spike, lags["db-3:27017"][inside])
    return {k: np.asarray(v, dtype=np.int64) for k, v in lags.items()}


def _hygiene(rng: np.random.Generator, review: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for coll in COLLECTIONS:
        sampled = SAMPLE_SIZE
        soft_field, soft = None, 0
        if coll.soft_delete is not None:
            soft_field = coll.soft_delete[0]
            soft = int(rng.binomial(sampled, coll.soft_delete[1]))
            if soft == 0:
                soft_field = None
        password_values = md5 = 0
        if coll.password_field is not None:
            password_values = sampled
            md5 = MD5_LIKE if review else int(rng.binomial(sampled, MD5_LIKE / SAMPLE_SIZE))
        max_doc = int(coll.max_doc * (0.9 + 0.1 * rng.random()))
        out[f"{DB}.{coll.name}"] = {
            "sampled": sampled,
            "soft_delete_field": soft_field,
            "soft_deleted": soft,
            "password_field": coll.password_field,
            "password_values": password_values,
            "not_bcrypt": md5,
            "bcrypt_low_cost": 0,
            "md5_like": md5,
            "other_strong": 0,
            "max_doc_bytes": max_doc,
            "oversize_docs": 0,
        }
    return out


def _snapshot(
    i: int,
    series: _Series,
    colls: dict[str, dict[str, np.ndarray]],
    conns: _Connections,
    lags: dict[str, np.ndarray],
    started: float,
    oplog_first: np.ndarray,
    collection_uuids: dict[str, dict[str, Any]],
    primary_optime: float,
    heartbeat_ago: dict[str, float],
    hygiene: dict[str, Any],
    privileges: dict[str, Any],
) -> dict[str, Any]:
    t = float(series.ts[i])
    now = _rdate(t)
    v = {k: a[i] for k, a in series.values.items()}
    current = conns.current(t)
    server_status = {
        "host": PRIMARY.split(":")[0],
        "version": VERSION,
        "process": "mongod",
        "pid": 1187,
        "uptime": float(round(v["uptime"])),
        "uptimeMillis": int(v["uptime"] * 1000),
        "uptimeEstimate": int(v["uptime"]),
        "localTime": now,
        "asserts": {"regular": 0, "warning": 0, "msg": 0, "user": int(v["asserts_user"]), "rollovers": 0},
        "connections": {
            "current": current,
            "available": MAX_CONNECTIONS - current,
            "totalCreated": conns.total_created(t),
            "active": max(1, int(v["active_readers"] + v["active_writers"]) + 1),
        },
        "extra_info": {"note": "fields vary by platform", "page_faults": int(v["page_faults"])},
        "globalLock": {
            "totalTime": int(v["uptime"] * 1e6),
            "currentQueue": {
                "total": int(v["queue_readers"] + v["queue_writers"]),
                "readers": int(v["queue_readers"]),
                "writers": int(v["queue_writers"]),
            },
            "activeClients": {
                "total": int(v["active_readers"] + v["active_writers"]),
                "readers": int(v["active_readers"]),
                "writers": int(v["active_writers"]),
            },
        },
        "network": {"bytesIn": int(v["net_in"]), "bytesOut": int(v["net_out"]), "numRequests": int(v["net_requests"])},
        "opLatencies": {
            "reads": {"latency": int(v["lat_reads_us"]), "ops": int(v["lat_reads_ops"])},
            "writes": {"latency": int(v["lat_writes_us"]), "ops": int(v["lat_writes_ops"])},
            "commands": {"latency": int(v["lat_commands_us"]), "ops": int(v["lat_commands_ops"])},
            "transactions": {"latency": int(v["lat_txn_us"]), "ops": int(v["lat_txn_ops"])},
        },
        "opcounters": {
            name: int(v[f"op_{name}"]) for name in ("insert", "query", "update", "delete", "getmore", "command")
        },
        "opcountersRepl": {"insert": 412, "query": 0, "update": 1_877, "delete": 96, "getmore": 0, "command": 38},
        "repl": {
            "topologyVersion": {"processId": {"$oid": f"{int(started):08x}d3a4b5c6d7e8f901"}, "counter": 6},
            "hosts": list(MEMBERS),
            "setName": SET_NAME,
            "setVersion": 5,
            "isWritablePrimary": True,
            "secondary": False,
            "primary": PRIMARY,
            "me": PRIMARY,
            "lastWrite": {
                "opTime": {"ts": _rts(int(primary_optime), 1), "t": 14},
                "lastWriteDate": _rdate(int(primary_optime)),
            },
        },
        "transactions": {
            "currentActive": int(v["txn_active"]),
            "currentInactive": 0,
            "currentOpen": int(v["txn_active"]),
            "totalAborted": int(v["txn_aborted"]),
            "totalCommitted": int(v["txn_committed"]),
            "totalStarted": int(v["txn_aborted"] + v["txn_committed"] + v["txn_active"]),
        },
        "wiredTiger": {
            "cache": {
                "bytes currently in the cache": int(v["cache_bytes"]),
                "maximum bytes configured": CACHE_MAX,
                "tracked dirty bytes in the cache": int(v["cache_dirty"]),
                "bytes read into cache": int(v["cache_read_into"]),
                "bytes written from cache": int(v["cache_written_from"]),
            }
        },
        "ok": 1.0,
    }

    list_collections = []
    coll_stats: dict[str, Any] = {}
    list_indexes: dict[str, Any] = {}
    index_stats: dict[str, Any] = {}
    totals = {"objects": 0, "data": 0, "storage": 0, "indexes": 0, "index_size": 0}
    since = _rdate(started)
    work = float(v["work"])
    up0_days = float(series.values["uptime"][0]) / 86_400
    for coll in COLLECTIONS:
        s = colls[coll.name]
        ns = f"{DB}.{coll.name}"
        options: dict[str, Any] = {}
        if coll.validator is not None:
            options = {"validator": dict(coll.validator), "validationLevel": "strict", "validationAction": "error"}
        list_collections.append(
            {
                "name": coll.name,
                "type": "collection",
                "options": options,
                "info": {"readOnly": False, "uuid": collection_uuids[coll.name]},
                "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            }
        )
        sizes = {index.name: int(s[f"ix:{index.name}"][i]) for index in coll.indexes}
        count, size, storage = int(s["count"][i]), int(s["size"][i]), int(s["storage"][i])
        coll_stats[ns] = {
            "count": count,
            "size": size,
            "avgObjSize": int(size / count),
            "storageSize": storage,
            "freeStorageSize": int(s["free"][i]),
            "capped": False,
            "nindexes": len(coll.indexes),
            "indexBuilds": [],
            "totalIndexSize": sum(sizes.values()),
            "indexSizes": sizes,
            "totalSize": storage + sum(sizes.values()),
        }
        list_indexes[ns] = [_index_spec(index) for index in coll.indexes]
        index_stats[ns] = [
            {
                "name": index.name,
                "key": _key(index),
                "host": PRIMARY,
                "accesses": {"ops": int(index.ops_per_day * (up0_days + work)), "since": since},
                "spec": _index_spec(index),
            }
            for index in coll.indexes
        ]
        totals["objects"] += count
        totals["data"] += size
        totals["storage"] += storage
        totals["indexes"] += len(coll.indexes)
        totals["index_size"] += sum(sizes.values())
    fs_used = 3_318_000_000 + totals["storage"] + totals["index_size"] + int(series.values["journal"][i])
    db_stats = {
        "db": DB,
        "collections": len(COLLECTIONS),
        "views": 0,
        "objects": totals["objects"],
        "avgObjSize": totals["data"] / totals["objects"],
        "dataSize": totals["data"],
        "storageSize": totals["storage"],
        "indexes": totals["indexes"],
        "indexSize": totals["index_size"],
        "totalSize": totals["storage"] + totals["index_size"],
        "scaleFactor": 1,
        "fsUsedSize": fs_used,
        "fsTotalSize": FS_TOTAL_SIZE,
        "ok": 1.0,
    }
    members = []
    for member_id, member in enumerate(MEMBERS):
        if member == PRIMARY:
            optime = primary_optime
            members.append(
                {
                    "_id": member_id,
                    "name": member,
                    "health": 1.0,
                    "state": 1,
                    "stateStr": "PRIMARY",
                    "uptime": int(v["uptime"]),
                    "optime": {"ts": _rts(int(optime), 1), "t": 14},
                    "optimeDate": _rdate(int(optime)),
                    "lastAppliedWallTime": _rdate(optime),
                    "lastDurableWallTime": _rdate(optime),
                    "syncSourceHost": "",
                    "syncSourceId": -1,
                    "infoMessage": "",
                    "electionTime": _rts(int(started) + 12, 1),
                    "electionDate": _rdate(int(started) + 12),
                    "configVersion": 5,
                    "configTerm": 14,
                    "self": True,
                    "lastHeartbeatMessage": "",
                }
            )
            continue
        optime = int(primary_optime) - int(lags[member][i])
        beat = t - heartbeat_ago[member]
        members.append(
            {
                "_id": member_id,
                "name": member,
                "health": 1.0,
                "state": 2,
                "stateStr": "SECONDARY",
                "uptime": int(v["uptime"]) - 9,
                "optime": {"ts": _rts(optime, 1), "t": 14},
                "optimeDurable": {"ts": _rts(optime, 1), "t": 14},
                "optimeDate": _rdate(optime),
                "optimeDurableDate": _rdate(optime),
                "lastAppliedWallTime": _rdate(optime),
                "lastDurableWallTime": _rdate(optime),
                "lastHeartbeat": _rdate(beat),
                "lastHeartbeatRecv": _rdate(beat + 0.4),
                "pingMs": 0,
                "lastHeartbeatMessage": "",
                "syncSourceHost": PRIMARY,
                "syncSourceId": 0,
                "infoMessage": "",
                "configVersion": 5,
                "configTerm": 14,
            }
        )
    repl_status = {
        "set": SET_NAME,
        "date": now,
        "myState": 1,
        "term": 14,
        "syncSourceHost": "",
        "syncSourceId": -1,
        "heartbeatIntervalMillis": 2000,
        "majorityVoteCount": 2,
        "writeMajorityCount": 2,
        "votingMembersCount": 3,
        "writableVotingMembersCount": 3,
        "members": members,
        "ok": 1.0,
    }
    return {
        "format": SNAPSHOT_FORMAT,
        "ts": f"{_to_dt(t):%Y-%m-%dT%H:%M:%S}Z",
        "host": PRIMARY,
        "topology": "replicaset",
        "replies": {
            "serverStatus": server_status,
            "connectionStatus": CONNECTION_STATUS,
            "dbStats": {DB: db_stats},
            "listCollections": {DB: list_collections},
            "collStats": coll_stats,
            "listIndexes": list_indexes,
            "indexStats": index_stats,
            "currentOp": [],
            "replSetGetStatus": repl_status,
            "oplog": {"first": _rts(int(oplog_first[i]), 1), "last": _rts(int(primary_optime), 1)},
        },
        "slow_queries": [],
        "hygiene": hygiene,
        "privileges": privileges,
        "errors": [],
    }


# -- writing -------------------------------------------------------------------------------------------


def _write_gz(path: Path, text: str) -> None:
    """Gzip with no name and no time in the header: the same data gives the same bytes."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as fh:
        fh.write(text.encode("utf-8"))


def _write_logs(folder: Path, lines: list[tuple[float, dict[str, Any]]]) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    lines.sort(key=lambda item: item[0])
    by_day: dict[str, list[str]] = {}
    for t, line in lines:
        by_day.setdefault(f"{_to_dt(t):%Y-%m-%d}", []).append(orjson.dumps(line).decode("utf-8"))
    last = max(by_day)
    for day, texts in by_day.items():
        text = "\n".join(texts) + "\n"
        if day == last:
            (folder / "mongod.log").write_text(text, encoding="utf-8")
        else:
            _write_gz(folder / f"mongod.log.{day}.gz", text)
    return {day: len(texts) for day, texts in by_day.items()}


def write_demo(out: Path, days: list[dt.date], tz: ZoneInfo, rng: np.random.Generator) -> dict[str, Any]:
    """Write the database area's demo files under ``out/database`` and return its ground truth.

    ``days`` are consecutive local days of ``tz``; the last is the review day. The same ``rng``
    state gives the same bytes.
    """
    if not days:
        raise ValueError("write_demo needs at least one day")
    review = days[-1]
    root = out / "database"
    for child in ("snapshots", "logs"):
        target = root / child
        if target.exists():
            for path in sorted(target.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            target.rmdir()
    start, end = _local_start(days[0], tz), _local_start(review + dt.timedelta(days=1), tz)
    review_start = _local_start(review, tz)

    slots, ts = _grid(days, tz, rng)
    started = float(np.floor(start - 23 * 86_400 - float(rng.integers(3_600, 20 * 3_600)) - float(rng.random())))
    started += float(rng.integers(0, 1000)) / 1000
    factors = {day: 0.9 + 0.2 * float(rng.random()) for day in days}
    local_days = pd.to_datetime(ts, unit="s", utc=True).tz_convert(tz).date
    day_factor = np.array([factors.get(d, 1.0) for d in local_days])
    dt_days, load, work = _work(ts, tz, day_factor)
    cum_work = np.cumsum(work)

    deploys = [_local_at(review, RELEASE_LOCAL, tz)]
    if len(days) > 3:
        deploys.insert(0, _local_at(days[2], "15:20", tz))
    conns = _connections(rng, days, tz, ts, deploys, start, end)
    colls = _collection_series(rng, ts, cum_work, tz)
    count_at = _count_function(ts, colls)

    slow: list[_Slow] = []
    for day in days:
        slow += _slow_queries(rng, day, tz, conns, count_at, day == review)
    slow = [s for s in slow if start <= s.t < end]
    series = _server_series(rng, ts, dt_days, load, work, ts[0] - started, slow)
    series.values["journal"] = (190_000_000 + rng.normal(0, 1_500_000, len(ts))).astype(np.int64)
    lags = _lag_profile(rng, ts, review, tz)
    primary_optime = ts - rng.random(len(ts)) * 1.5
    window = (38.4 + rng.normal(0, 0.05, len(ts))) * 86_400
    oplog_first = np.maximum.accumulate(np.floor(primary_optime - window))
    uuids = {c.name: _rbinary_uuid(bytes(rng.integers(0, 256, size=16, dtype=np.uint8).tolist())) for c in COLLECTIONS}

    privileges = privileges_row(CONNECTION_STATUS)
    snap_root = root / "snapshots"
    for i, (slot, t) in enumerate(zip(slots, ts, strict=True)):
        slot_dt = _to_dt(float(slot))
        hygiene: dict[str, Any] = {}
        if slot_dt.hour == 3 and slot_dt.minute == 0:
            hygiene = _hygiene(rng, local_days[i] == review)
        beats = {member: 0.2 + float(rng.random()) * 1.8 for member in MEMBERS[1:]}
        doc = _snapshot(
            i,
            series,
            colls,
            conns,
            lags,
            started,
            oplog_first,
            uuids,
            float(primary_optime[i]),
            beats,
            hygiene,
            privileges,
        )
        when = _to_dt(float(t))
        folder = snap_root / f"{when:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = orjson.dumps(doc).decode("utf-8")
        (folder / f"{when:%H%M%S}-{SNAPSHOT_HOST}.json").write_text(text + "\n", encoding="utf-8")

    lines = _connection_lines(rng, conns)
    lines += _checkpoint_lines(rng, start, end)
    lines += [(s.t, s.line) for s in slow]
    _write_logs(root / "logs" / PRIMARY.split(":")[0], lines)

    planted = [s for s in slow if s.planted and review_start <= s.t < end]
    on_review = (ts >= review_start) & (ts < end)
    lag3 = lags["db-3:27017"]
    high = np.flatnonzero(on_review & (lag3 >= 10))
    unused_coll, unused_name = UNUSED_INDEX
    redundant_coll, redundant_name, covered_by = REDUNDANT_INDEX
    return {
        "database": {
            "collscan_shape": {
                "ns": f"{DB}.orders",
                "filter_fields": ["userId"],
                "suggestion": COLLSCAN_SUGGESTION,
                "count": len(planted),
            },
            "unused_index": {"ns": f"{DB}.{unused_coll}", "name": unused_name},
            "redundant_index": {"ns": f"{DB}.{redundant_coll}", "name": redundant_name, "covered_by": covered_by},
            "lag_spike": {
                "member": "db-3:27017",
                "max_lag_s": float(lag3[on_review].max()),
                "from": pd.Timestamp(float(ts[high[0]]), unit="s", tz="UTC").isoformat(),
                "to": pd.Timestamp(float(ts[high[-1]]), unit="s", tz="UTC").isoformat(),
            },
            "no_validator": [f"{DB}.{c.name}" for c in COLLECTIONS if c.validator is None],
            "md5_passwords": {"ns": f"{DB}.users", "md5_like": MD5_LIKE, "sampled": SAMPLE_SIZE},
        }
    }
