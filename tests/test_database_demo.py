"""Database demo: the snapshot files and mongod logs it writes, read back from the files alone."""

from __future__ import annotations

import bisect
import datetime as dt
import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from bson import json_util
from bson.json_util import RELAXED_JSON_OPTIONS

from opsreview.database import models
from opsreview.database.demo import write_demo
from opsreview.database.slowlog import read_log_file
from opsreview.database.snapshot import flatten, read_snapshots

TZ = ZoneInfo("Europe/Berlin")
END = dt.date(2026, 12, 5)
DAYS = [END - dt.timedelta(days=i) for i in range(7, -1, -1)]
UTC = dt.UTC

SNAPSHOT_KEYS = {"format", "ts", "host", "topology", "replies", "slow_queries", "hygiene", "privileges", "errors"}
REPLY_KEYS = {
    "serverStatus",
    "connectionStatus",
    "dbStats",
    "listCollections",
    "collStats",
    "listIndexes",
    "indexStats",
    "currentOp",
    "replSetGetStatus",
    "oplog",
}
HYGIENE_KEYS = {
    "sampled",
    "soft_delete_field",
    "soft_deleted",
    "password_field",
    "password_values",
    "not_bcrypt",
    "bcrypt_low_cost",
    "md5_like",
    "other_strong",
    "max_doc_bytes",
    "oversize_docs",
}
# Cumulative serverStatus counters (paths): they only grow while the process runs.
COUNTERS = [
    *(("opcounters", k) for k in ("insert", "query", "update", "delete", "getmore", "command")),
    *(("opLatencies", k, f) for k in ("reads", "writes", "commands", "transactions") for f in ("latency", "ops")),
    ("connections", "totalCreated"),
    *(("asserts", k) for k in ("regular", "warning", "msg", "user", "rollovers")),
    *(("network", k) for k in ("bytesIn", "bytesOut", "numRequests")),
    ("extra_info", "page_faults"),
    ("transactions", "totalCommitted"),
    ("transactions", "totalAborted"),
    ("wiredTiger", "cache", "bytes read into cache"),
    ("wiredTiger", "cache", "bytes written from cache"),
]


def generate(out: Path, seed: int = 42, days: list[dt.date] = DAYS) -> dict[str, Any]:
    return write_demo(out, days, TZ, np.random.default_rng(seed))


def local_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), TZ).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ).astimezone(UTC)
    return start, end


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def date_of(value: dict[str, str]) -> dt.datetime:
    return parse_ts(value["$date"])


def dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def read_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("dbdemo")
    truth = generate(out)
    return out, truth


@pytest.fixture(scope="module")
def root(demo: tuple[Path, dict[str, Any]]) -> Path:
    return demo[0] / "database"


@pytest.fixture(scope="module")
def truth(demo: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return dict(demo[1]["database"])


@pytest.fixture(scope="module")
def snaps(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = [(p, json.loads(p.read_text(encoding="utf-8"))) for p in (root / "snapshots").rglob("*.json")]
    return sorted(found, key=lambda item: parse_ts(item[1]["ts"]))


@pytest.fixture(scope="module")
def logs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Parsed lines per log file name."""
    return {
        p.name: [json.loads(line) for line in read_text(p).splitlines()]
        for p in sorted((root / "logs" / "db-1").iterdir())
    }


def all_lines(logs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return sorted((line for lines in logs.values() for line in lines), key=lambda d: d["t"]["$date"])


def line_time(line: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(line["t"]["$date"])


def is_collscan_by_user(line: dict[str, Any]) -> bool:
    attr = line.get("attr", {})
    command = attr.get("command", {})
    return (
        line["id"] == 51803
        and attr.get("ns") == "shop.orders"
        and attr.get("planSummary") == "COLLSCAN"
        and command.get("find") == "orders"
        and list(command.get("filter", {})) == ["userId"]
        and command.get("sort") == {"createdAt": -1}
    )


def on_review_day(when: dt.datetime) -> bool:
    start, end = local_bounds(END)
    return start <= when < end


# -- layout and format -------------------------------------------------------------------------------


def test_layout_snapshot_folders_by_utc_date_and_rotated_logs(
    root: Path, snaps: list[tuple[Path, dict[str, Any]]]
) -> None:
    for path, doc in snaps:
        ts = parse_ts(doc["ts"])
        assert path.parent.name == f"{ts:%Y-%m-%d}"
        assert path.name == f"{ts:%H%M%S}-db-1_27017.json"
    snapshot_dates = sorted({p.parent.name for p, _ in snaps})
    names = sorted(p.name for p in (root / "logs" / "db-1").iterdir())
    assert names == sorted(["mongod.log", *(f"mongod.log.{d}.gz" for d in snapshot_dates[:-1])])
    assert snapshot_dates[-1] == END.isoformat()  # the review day's evening is the last UTC day


def test_every_snapshot_has_the_format(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
    for path, doc in snaps:
        assert set(doc) == SNAPSHOT_KEYS, path
        assert doc["format"] == "opsreview-mongodb-snapshot/1"
        assert doc["host"] == "db-1:27017" and doc["topology"] == "replicaset"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["ts"])
        assert doc["slow_queries"] == [] and doc["errors"] == []
        replies = doc["replies"]
        assert set(replies) == REPLY_KEYS
        status = replies["serverStatus"]
        assert status["process"] == "mongod" and status["version"].startswith("7.0.") and status["ok"] == 1
        assert date_of(status["localTime"]) == parse_ts(doc["ts"])
        for section in ("connections", "opcounters", "opcountersRepl", "opLatencies", "globalLock", "asserts"):
            assert section in status
        for name in ("current", "available", "totalCreated", "active"):
            assert isinstance(status["connections"][name], int)
        assert set(status["globalLock"]["currentQueue"]) == {"total", "readers", "writers"}
        assert set(status["wiredTiger"]["cache"]) >= {
            "bytes currently in the cache",
            "maximum bytes configured",
            "tracked dirty bytes in the cache",
            "bytes read into cache",
            "bytes written from cache",
        }
        repl = status["repl"]
        assert repl["setName"] == "rs0" and repl["isWritablePrimary"] is True and repl["secondary"] is False
        assert repl["primary"] == repl["me"] == "db-1:27017" and len(repl["hosts"]) == 3
        auth = replies["connectionStatus"]["authInfo"]
        assert auth["authenticatedUsers"] == [{"user": "opsreview", "db": "admin"}]
        assert {r["role"] for r in auth["authenticatedUserRoles"]} == {"clusterMonitor", "read"}
        assert doc["privileges"] == {
            "user": "opsreview@admin",
            "roles": '["clusterMonitor@admin", "read@local", "read@shop"]',
            "excess_roles": "[]",
            "excess_actions": "[]",
            "read_only": True,
        }
        names = [c["name"] for c in replies["listCollections"]["shop"]]
        assert sorted(names) == ["carts", "orders", "payments", "products", "sessions", "users"]
        assert replies["dbStats"]["shop"]["collections"] == len(names)
        assert replies["dbStats"]["shop"]["objects"] == sum(replies["collStats"][f"shop.{n}"]["count"] for n in names)
        for name in names:
            ns = f"shop.{name}"
            stats = replies["collStats"][ns]
            index_names = [i["name"] for i in replies["listIndexes"][ns]]
            assert set(stats["indexSizes"]) == set(index_names) and stats["nindexes"] == len(index_names)
            assert [s["name"] for s in replies["indexStats"][ns]] == index_names
            assert all(s["host"] == "db-1:27017" for s in replies["indexStats"][ns])
        assert replies["currentOp"] == []
        assert set(replies["oplog"]) == {"first", "last"} and "$timestamp" in replies["oplog"]["first"]


def test_snapshots_are_relaxed_extended_json_as_json_util_writes_it(
    snaps: list[tuple[Path, dict[str, Any]]],
) -> None:
    for path, _ in snaps[:: max(1, len(snaps) // 40)]:
        text = path.read_text(encoding="utf-8").rstrip("\n")
        loaded = json_util.loads(text)
        assert isinstance(loaded["replies"]["serverStatus"]["localTime"], dt.datetime)
        again = json_util.dumps(loaded, json_options=RELAXED_JSON_OPTIONS, separators=(",", ":"))
        assert again == text, path


def test_snapshots_every_15_minutes_within_the_local_days(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
    times = [parse_ts(doc["ts"]) for _, doc in snaps]
    first, _ = local_bounds(DAYS[0])
    _, last = local_bounds(DAYS[-1])
    assert all(first <= t < last for t in times)
    per_day = Counter(t.astimezone(TZ).date() for t in times)
    assert per_day == dict.fromkeys(DAYS, 96)
    gaps = {round((b - a).total_seconds() / 60) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {15}


def test_counters_never_decrease_except_across_a_restart(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
    restarts = 0
    for (_, a), (_, b) in zip(snaps, snaps[1:], strict=False):
        sa, sb = a["replies"]["serverStatus"], b["replies"]["serverStatus"]
        elapsed = (parse_ts(b["ts"]) - parse_ts(a["ts"])).total_seconds()
        if sb["uptime"] < sa["uptime"]:
            restarts += 1
            continue
        assert abs((sb["uptime"] - sa["uptime"]) - elapsed) <= 2
        for path in COUNTERS:
            assert dig(sb, path) >= dig(sa, path), (b["ts"], path)
        for ns, stats in b["replies"]["indexStats"].items():
            before = {s["name"]: s for s in a["replies"]["indexStats"][ns]}
            for s in stats:
                assert s["accesses"]["since"] == before[s["name"]]["accesses"]["since"]
                assert s["accesses"]["ops"] >= before[s["name"]]["accesses"]["ops"]
    assert restarts == 0  # this demo's db-1 runs the whole week


def test_more_operations_by_day_than_by_night(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
    rates: dict[str, list[float]] = {"day": [], "night": []}
    for (_, a), (_, b) in zip(snaps, snaps[1:], strict=False):
        hour = parse_ts(b["ts"]).astimezone(TZ).hour
        ops = b["replies"]["serverStatus"]["opcounters"]["query"] - a["replies"]["serverStatus"]["opcounters"]["query"]
        seconds = (parse_ts(b["ts"]) - parse_ts(a["ts"])).total_seconds()
        if 13 <= hour < 18:
            rates["day"].append(ops / seconds)
        elif 2 <= hour < 5:
            rates["night"].append(ops / seconds)
    assert np.mean(rates["day"]) > 2.5 * np.mean(rates["night"]) > 0


def test_storage_grows_daily_and_the_disk_lasts(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
    last_of_day: dict[dt.date, dict[str, Any]] = {}
    for _, doc in snaps:
        last_of_day[parse_ts(doc["ts"]).astimezone(TZ).date()] = doc["replies"]["dbStats"]["shop"]
    data = [last_of_day[d]["dataSize"] for d in DAYS]
    assert all(b > a for a, b in zip(data, data[1:], strict=False))
    assert {doc["replies"]["dbStats"]["shop"]["fsTotalSize"] for _, doc in snaps} == {34_342_961_152}
    hours = np.array([(parse_ts(doc["ts"]) - parse_ts(snaps[0][1]["ts"])).total_seconds() / 3600 for _, doc in snaps])
    used = np.array([doc["replies"]["dbStats"]["shop"]["fsUsedSize"] for _, doc in snaps], dtype=float)
    per_day = np.polyfit(hours, used, 1)[0] * 24
    free = 34_342_961_152 - used[-1]
    assert per_day > 0
    assert 365 < free / per_day < 100_000  # finite, and nothing to worry about this year


# -- the planted problems, read back from the files -----------------------------------------------


def test_unused_index_reads_back(snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]) -> None:
    first, last = snaps[0][1]["replies"]["indexStats"], snaps[-1][1]["replies"]["indexStats"]
    review_start, _ = local_bounds(END)
    idle = []
    for ns, stats in last.items():
        before = {s["name"]: s["accesses"]["ops"] for s in first[ns]}
        for s in stats:
            if s["accesses"]["ops"] == before[s["name"]]:
                idle.append({"ns": ns, "name": s["name"]})
                assert s["accesses"]["ops"] == 0
                assert date_of(s["accesses"]["since"]) < review_start - dt.timedelta(days=7)
    assert idle == [truth["unused_index"]] == [{"ns": "shop.orders", "name": "legacy_status_1"}]


def test_redundant_index_is_the_only_prefix_of_another(
    snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]
) -> None:
    found = []
    for ns, indexes in snaps[-1][1]["replies"]["listIndexes"].items():
        plain = [i for i in indexes if "text" not in i["key"].values()]
        for a in plain:
            for b in plain:
                ka, kb = list(a["key"].items()), list(b["key"].items())
                if a is not b and len(ka) < len(kb) and kb[: len(ka)] == ka and not a.get("unique"):
                    found.append({"ns": ns, "name": a["name"], "covered_by": b["name"]})
    assert found == [truth["redundant_index"]]
    assert found == [{"ns": "shop.products", "name": "category_1", "covered_by": "category_1_price_-1"}]


def test_only_carts_has_no_validator(snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]) -> None:
    for _, doc in (snaps[0], snaps[-1]):
        without = []
        for coll in doc["replies"]["listCollections"]["shop"]:
            options = coll["options"]
            if "validator" not in options:
                without.append(f"shop.{coll['name']}")
                continue
            assert "$jsonSchema" in options["validator"]
            assert options["validationLevel"] == "strict" and options["validationAction"] == "error"
        assert without == truth["no_validator"] == ["shop.carts"]


def lags(doc: dict[str, Any]) -> dict[str, float]:
    members = doc["replies"]["replSetGetStatus"]["members"]
    primary = next(m for m in members if m["stateStr"] == "PRIMARY")
    return {
        m["name"]: (date_of(primary["optimeDate"]) - date_of(m["optimeDate"])).total_seconds()
        for m in members
        if m["stateStr"] == "SECONDARY"
    }


def test_replication_lag_spike_on_db3_reads_back(
    snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]
) -> None:
    review = []
    for _, doc in snaps:
        status = doc["replies"]["replSetGetStatus"]
        assert status["set"] == "rs0" and status["myState"] == 1
        assert [(m["name"], m["state"], m["health"]) for m in status["members"]] == [
            ("db-1:27017", 1, 1),
            ("db-2:27017", 2, 1),
            ("db-3:27017", 2, 1),
        ]
        lag = lags(doc)
        assert 0 <= lag["db-2:27017"] < 2
        when = parse_ts(doc["ts"])
        if on_review_day(when):
            review.append((when, lag["db-3:27017"]))
        else:
            assert 0 <= lag["db-3:27017"] < 2
    spike = truth["lag_spike"]
    high = [(when, lag) for when, lag in review if lag >= 10]
    assert spike["member"] == "db-3:27017"
    assert max(lag for _, lag in review) == spike["max_lag_s"]
    assert 90 <= spike["max_lag_s"] <= 130
    assert high[0][0] == dt.datetime.fromisoformat(spike["from"])
    assert high[-1][0] == dt.datetime.fromisoformat(spike["to"])
    assert dt.timedelta(hours=1) <= high[-1][0] - high[0][0] <= dt.timedelta(hours=2)
    # One contiguous episode: every review-day snapshot between from and to is behind.
    inside = [lag for when, lag in review if high[0][0] <= when <= high[-1][0]]
    assert len(inside) == len(high)


def test_hygiene_once_a_day_counts_only_and_md5_on_users(
    snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]
) -> None:
    with_hygiene = [doc for _, doc in snaps if doc["hygiene"]]
    days = [parse_ts(doc["ts"]).astimezone(TZ).date() for doc in with_hygiene]
    assert days == DAYS
    for doc in with_hygiene:
        assert parse_ts(doc["ts"]).hour == 3
        for ns, entry in doc["hygiene"].items():
            assert set(entry) == HYGIENE_KEYS, ns
            for key, value in entry.items():
                if key in ("soft_delete_field", "password_field"):
                    assert value is None or re.fullmatch(r"[A-Za-z_]{1,30}", value)
                else:
                    assert isinstance(value, int) and value >= 0, (ns, key)
            assert entry["md5_like"] + entry["other_strong"] <= entry["not_bcrypt"] <= entry["password_values"]
            assert entry["password_values"] <= entry["sampled"] and entry["oversize_docs"] == 0
            if ns != "shop.users":
                assert entry["password_field"] is None and entry["password_values"] == 0
    users = with_hygiene[-1]["hygiene"]["shop.users"]
    assert {"ns": "shop.users", "md5_like": users["md5_like"], "sampled": users["sampled"]} == truth["md5_passwords"]
    assert users["md5_like"] == 37 and users["sampled"] == 200 and users["not_bcrypt"] == 37
    assert users["bcrypt_low_cost"] == 0 and users["password_field"] == "passwordHash"
    assert all(doc["hygiene"]["shop.users"]["md5_like"] > 0 for doc in with_hygiene)  # an old problem


def test_no_credentials_or_hash_values_in_any_file(root: Path) -> None:
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        text = read_text(path)
        assert "mongodb://" not in text and "mongodb+srv://" not in text, path
        assert not re.search(r"\$2[aby]\$\d\d\$", text), path
        assert not re.search(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])", text), path
        assert 'passwordHash":"' not in text and 'password":"' not in text, path


# -- logs --------------------------------------------------------------------------------------------------


def test_log_lines_are_compact_mongod_json(logs: dict[str, list[dict[str, Any]]], root: Path) -> None:
    for name, lines in logs.items():
        texts = read_text(root / "logs" / "db-1" / name).splitlines()
        day = name.removeprefix("mongod.log.").removesuffix(".gz") if name != "mongod.log" else END.isoformat()
        times = []
        for text, line in zip(texts, lines, strict=True):
            assert text == json.dumps(line, separators=(",", ":"), ensure_ascii=False)
            keys = list(line)
            assert keys[:6] == ["t", "s", "c", "id", "ctx", "msg"] and keys[6:] in ([], ["attr"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["t"]["$date"])
            assert line["s"] == "I"
            times.append(line_time(line))
        assert times == sorted(times)
        assert {f"{t:%Y-%m-%d}" for t in times} == {day}
    full_days = [lines for name, lines in logs.items() if len(lines) > 1000]
    assert len(full_days) == 8
    assert all(1000 < len(lines) < 10_000 for lines in full_days)


def test_slow_query_shapes_every_day(logs: dict[str, list[dict[str, Any]]]) -> None:
    by_day: dict[dt.date, set[str]] = {}
    for line in all_lines(logs):
        if line["id"] != 51803:
            continue
        attr = line["attr"]
        assert attr["durationMillis"] >= 100
        command = attr["command"]
        if attr["ns"] == "shop.products" and "find" in command:
            kind = "find products"
        elif attr["ns"] == "shop.orders" and "aggregate" in command:
            kind = "aggregate orders"
        elif attr["ns"] == "shop.carts" and attr["type"] == "update" and line["c"] == "WRITE":
            kind = "update carts"
        elif "getMore" in command and "originatingCommand" in attr:
            kind = "getMore"
        elif attr["ns"] == "shop.sessions" and "findAndModify" in command:
            kind = "findAndModify sessions"
        elif is_collscan_by_user(line):
            kind = "collscan"
        else:
            raise AssertionError(f"unexpected slow query {line}")
        by_day.setdefault(line_time(line).astimezone(TZ).date(), set()).add(kind)
    usual = {"find products", "aggregate orders", "update carts", "getMore", "findAndModify sessions"}
    for day in DAYS:
        assert by_day[day] == (usual | {"collscan"} if day == END else usual), day


def test_collscan_on_orders_by_user_on_the_review_day_only(
    logs: dict[str, list[dict[str, Any]]], snaps: list[tuple[Path, dict[str, Any]]], truth: dict[str, Any]
) -> None:
    collscans = [line for line in all_lines(logs) if is_collscan_by_user(line)]
    assert collscans and all(on_review_day(line_time(line)) for line in collscans)
    shape = truth["collscan_shape"]
    assert shape["count"] == len(collscans) >= 100
    assert shape["ns"] == "shop.orders" and shape["filter_fields"] == ["userId"]
    assert shape["suggestion"] == "db.orders.createIndex({userId: 1, createdAt: -1})"
    times = [parse_ts(doc["ts"]) for _, doc in snaps]
    for line in collscans:
        attr = line["attr"]
        when = line_time(line)
        nearest = snaps[int(np.argmin([abs((t - when).total_seconds()) for t in times]))][1]
        count = nearest["replies"]["collStats"]["shop.orders"]["count"]
        assert abs(attr["docsExamined"] - count) <= 0.005 * count
        assert attr["keysExamined"] == 0 and 0 <= attr["nreturned"] <= 20
    # No index serves it: none on orders starts with userId.
    for _, doc in (snaps[0], snaps[-1]):
        assert all(next(iter(i["key"])) != "userId" for i in doc["replies"]["listIndexes"]["shop.orders"])


def test_connection_lines_agree_with_server_status(
    logs: dict[str, list[dict[str, Any]]], snaps: list[tuple[Path, dict[str, Any]]]
) -> None:
    lines = [line for line in all_lines(logs) if line["id"] in (22943, 22944)]
    times = [line_time(line) for line in lines]
    accepted = [line["attr"]["connectionId"] for line in lines if line["id"] == 22943]
    assert accepted == sorted(accepted) and len(set(accepted)) == len(accepted)
    accepted_times = [t for line, t in zip(lines, times, strict=True) if line["id"] == 22943]
    for (_, a), (_, b) in zip(snaps, snaps[1:], strict=False):
        ta, tb = parse_ts(a["ts"]), parse_ts(b["ts"])
        new = bisect.bisect_right(accepted_times, tb) - bisect.bisect_right(accepted_times, ta)
        ca, cb = a["replies"]["serverStatus"]["connections"], b["replies"]["serverStatus"]["connections"]
        assert cb["totalCreated"] - ca["totalCreated"] == new
        j = bisect.bisect_right(times, tb)
        if j:
            assert lines[j - 1]["attr"]["connectionCount"] == cb["current"]
        assert cb["current"] + cb["available"] == ca["current"] + ca["available"]


def test_slow_queries_run_on_open_connections(logs: dict[str, list[dict[str, Any]]]) -> None:
    lines = all_lines(logs)
    first_logged = min(line["attr"]["connectionId"] for line in lines if line["id"] == 22943)
    open_conns: dict[int, str] = {}
    ended: set[int] = set()
    slow = 0
    for line in lines:
        if line["id"] == 22943:
            open_conns[line["attr"]["connectionId"]] = line["attr"]["remote"]
        elif line["id"] == 22944:
            ended.add(line["attr"]["connectionId"])
            open_conns.pop(line["attr"]["connectionId"], None)
        elif line["id"] == 51803:
            slow += 1
            conn = int(line["ctx"].removeprefix("conn"))
            assert conn not in ended
            if conn >= first_logged:
                assert open_conns[conn] == line["attr"]["remote"]
    assert slow > 1000


# -- determinism, other calendars, and the readers of the other modules -----------------------------------


def test_same_seed_same_bytes_other_seed_other_data(demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "again"
    generate(out, seed=8)
    assert digest(out / "database") != digest(demo[0] / "database")
    assert generate(out, seed=42) == demo[1]  # over the other seed's files: nothing stale is left
    assert digest(out / "database") == digest(demo[0] / "database")


def test_days_across_a_dst_change(tmp_path: Path) -> None:
    days = [dt.date(2027, 3, 27), dt.date(2027, 3, 28)]  # Europe/Berlin skips 02:00-03:00 on the 28th
    truth = generate(tmp_path, seed=3, days=days)["database"]
    docs = [json.loads(p.read_text()) for p in (tmp_path / "database" / "snapshots").rglob("*.json")]
    per_day = Counter(parse_ts(d["ts"]).astimezone(TZ).date() for d in docs)
    assert per_day == {days[0]: 96, days[1]: 92}
    assert sum(1 for d in docs if d["hygiene"]) == 2
    spike_from = dt.datetime.fromisoformat(truth["lag_spike"]["from"]).astimezone(TZ)
    assert spike_from.date() == days[1] and 15 <= spike_from.hour < 17


def test_read_log_file_counts_the_demo_slow_queries(
    root: Path, logs: dict[str, list[dict[str, Any]]], truth: dict[str, Any]
) -> None:
    collscans = 0
    for name, lines in logs.items():
        table, read = read_log_file(root / "logs" / "db-1" / name, "db-1:27017")
        assert table.schema.equals(models.SLOW_QUERIES_SCHEMA)
        models.to_arrow(models.LOG_READS, [read])
        expected = sum(1 for line in lines if line["id"] == 51803)
        assert (read["lines"], read["slow_queries"], read["non_json"], read["truncated"]) == (
            len(lines),
            expected,
            0,
            0,
        )
        assert table.num_rows == expected
        rows = table.to_pylist()
        for row in rows:
            if row["plan_summary"] == "COLLSCAN" and on_review_day(row["ts"]):
                collscans += 1
                assert row["ns"] == "shop.orders" and row["op"] == "find"
                assert json.loads(row["shape"]) == {"filter": {"userId": 1}, "sort": {"createdAt": -1}}
    assert collscans == truth["collscan_shape"]["count"]


def test_read_snapshots_and_flatten_take_the_demo_files(root: Path, truth: dict[str, Any]) -> None:
    skipped: list[Path] = []
    assert len(list(read_snapshots(root / "snapshots", {END}, TZ))) == 96
    docs = list(read_snapshots(root / "snapshots", set(DAYS), TZ, skipped=skipped))
    assert skipped == [] and len(docs) == 96 * len(DAYS)
    tables: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        for name, rows in flatten(doc).items():
            tables.setdefault(name, []).extend(rows)
    frames = {name: models.to_arrow(name, rows).to_pandas() for name, rows in tables.items()}
    n = len(docs)
    sizes = {name: len(frame) for name, frame in frames.items()}
    assert sizes == {
        models.SERVER: n,
        models.DATABASES: n,
        models.COLLECTIONS: 6 * n,
        models.INDEXES: 20 * n,
        models.MEMBERS: 3 * n,
        models.CURRENT_OPS: 0,
        models.SHARDS: 0,
        models.PRIVILEGES: n,
        models.HYGIENE: 6 * len(DAYS),
        models.ERRORS: 0,
        models.SLOW_QUERIES: 0,
    }
    server = frames[models.SERVER]
    assert not server.isna().any().any()  # every column the flattener reads is in the demo's replies
    assert set(server["role"]) == {"primary"} and set(server["set_name"]) == {"rs0"}
    assert not frames[models.DATABASES].isna().any().any()
    collections = frames[models.COLLECTIONS]
    assert sorted(set(collections.loc[~collections["has_validator"], "ns"])) == truth["no_validator"]
    last = frames[models.INDEXES].query("ts == ts.max()")
    assert last.drop(columns=["ttl_seconds", "collation"]).notna().all().all()  # no TTL, no collation: None
    assert last.loc[last["ops"] == 0, ["ns", "name"]].to_dict("records") == [truth["unused_index"]]
    members = frames[models.MEMBERS]
    review = members[[on_review_day(t) for t in members["ts"]]]
    assert review.loc[review["member"] == "db-3:27017", "lag_s"].max() == truth["lag_spike"]["max_lag_s"]
    assert members.loc[members["member"] == "db-2:27017", "lag_s"].max() < 2
    hygiene = frames[models.HYGIENE]
    users = hygiene[(hygiene["ns"] == "shop.users") & np.array([on_review_day(t) for t in hygiene["ts"]])]
    assert users[["md5_like", "sampled"]].to_dict("records") == [{"md5_like": 37, "sampled": 200}]
    assert set(frames[models.PRIVILEGES]["read_only"]) == {True}
