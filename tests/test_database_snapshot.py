"""Snapshot files and their rows: write/read by day, and flatten into the store tables.

The snapshots flattened here are taken by the collector from the fake server (real driver,
real socket); the expected row values are computed from the fixture files.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from opsreview.database import collector, models
from opsreview.database.params import DatabaseParams
from opsreview.database.snapshot import flatten, read_snapshots, write_snapshot
from opsreview.secrets import remember_secret
from tests.mongo_fake import TOPOLOGIES, VERSIONS, FakeMongo, load_fixture

ENV = "OPSREVIEW_TEST_FAKE_MONGODB_SNAPSHOT"
COMBOS = [(v, t) for v in VERSIONS for t in TOPOLOGIES]
IDS = [f"{v}-{t}" for v, t in COMBOS]
NOW = datetime(2026, 12, 6, 21, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def snapshots() -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for version, topology in COMBOS:
        with FakeMongo(version, topology) as fake:
            options = {"replicaSet": "rs0"} if topology == "replicaset" else {}
            os.environ[ENV] = fake.uri(**options)
            try:
                params = DatabaseParams(uri="${" + ENV + "}", rate_interval_s=0)
                (snap,) = collector.take_snapshot(params, now=NOW)
            finally:
                os.environ.pop(ENV, None)
        out[(version, topology)] = snap
    yield out


def fx(version: str, topology: str, name: str) -> Any:
    """A fixture file with BSON types (dates are datetimes, Int64 ints)."""
    return load_fixture(version, topology, name)


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- flatten ------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_flatten_gives_rows_that_fit_every_schema(snapshots: dict[Any, Any], version: str, topology: str) -> None:
    snap = snapshots[(version, topology)]
    tables = flatten(snap)
    assert set(tables) == {*models.SNAPSHOT_TABLES, models.SLOW_QUERIES}
    for name, rows in tables.items():
        table = models.to_arrow(name, rows)
        assert table.num_rows == len(rows)
        for row in rows:
            assert row["host"] == snap["host"]
            assert isinstance(row["ts"], datetime) and row["ts"].utcoffset().total_seconds() == 0
            if name != models.SLOW_QUERIES:
                assert row["ts"] == NOW
    expected_members = 3 if topology == "replicaset" else 0
    expected_shards = 2 if topology == "mongos" else 0
    assert len(tables[models.MEMBERS]) == expected_members
    assert len(tables[models.SHARDS]) == expected_shards
    assert len(tables[models.SERVER]) == 1 and len(tables[models.PRIVILEGES]) == 1
    assert tables[models.ERRORS] == []


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_the_server_row_says_what_serverstatus_said(snapshots: dict[Any, Any], version: str, topology: str) -> None:
    (row,) = flatten(snapshots[(version, topology)])[models.SERVER]
    status = fx(version, topology, "serverStatus")
    assert row["version"] == status["version"]
    assert row["uptime_s"] == status["uptime"]
    assert (row["conn_current"], row["conn_available"], row["conn_total_created"]) == (
        status["connections"]["current"],
        status["connections"]["available"],
        status["connections"]["totalCreated"],
    )
    assert row["op_query"] == status["opcounters"]["query"] and row["op_command"] == status["opcounters"]["command"]
    assert row["lat_reads_us"] == status["opLatencies"]["reads"]["latency"]
    assert row["lat_reads_ops"] == status["opLatencies"]["reads"]["ops"]
    assert row["net_bytes_out"] == status["network"]["bytesOut"]
    assert row["page_faults"] == status["extra_info"]["page_faults"]
    assert row["asserts_user"] == status["asserts"]["user"]
    assert row["txn_total_committed"] == status["transactions"]["totalCommitted"]
    if topology == "mongos":  # a router has no storage engine, no global lock, no replication counters
        assert row["role"] == "mongos"
        assert row["cache_bytes"] is None and row["queue_total"] is None and row["repl_insert"] is None
    else:
        cache = status["wiredTiger"]["cache"]
        assert row["cache_bytes"] == cache["bytes currently in the cache"]
        assert row["cache_max_bytes"] == cache["maximum bytes configured"]
        assert row["cache_dirty_bytes"] == cache["tracked dirty bytes in the cache"]
        assert row["queue_total"] == status["globalLock"]["currentQueue"]["total"]
        assert row["active_readers"] == status["globalLock"]["activeClients"]["readers"]
        assert row["repl_update"] == status["opcountersRepl"]["update"]
    if topology == "replicaset":
        oplog = fx(version, topology, "oplog")
        assert row["role"] == "primary" and row["set_name"] == "rs0"
        assert row["oplog_first"] == datetime.fromtimestamp(oplog["first"]["ts"].time, tz=UTC)
        assert row["oplog_last"] == datetime.fromtimestamp(oplog["last"]["ts"].time, tz=UTC)
    else:
        assert row["oplog_first"] is None and row["oplog_last"] is None
        assert row["set_name"] is None
    if topology == "standalone":
        assert row["role"] == "standalone"


@pytest.mark.parametrize("version", VERSIONS)
def test_member_rows_give_lag_behind_the_primary(snapshots: dict[Any, Any], version: str) -> None:
    rows = {r["member"]: r for r in flatten(snapshots[(version, "replicaset")])[models.MEMBERS]}
    members = fx(version, "replicaset", "replSetGetStatus")["members"]
    primary = next(m for m in members if m["state"] == 1)
    for m in members:
        row = rows[m["name"]]
        assert (row["state"], row["state_str"], row["health"], row["set_name"]) == (
            m["state"],
            m["stateStr"],
            m["health"],
            "rs0",
        )
        assert row["is_self"] is bool(m.get("self"))
        if "optimeDate" in m:
            assert row["lag_s"] == (utc(primary["optimeDate"]) - utc(m["optimeDate"])).total_seconds()
        else:  # unreachable: no optime, no lag
            assert row["lag_s"] is None and row["optime"] is None
        assert row["last_heartbeat"] == (utc(m["lastHeartbeat"]) if "lastHeartbeat" in m else None)
    lags = sorted(r["lag_s"] for r in rows.values() if r["lag_s"] is not None)
    assert lags[0] == 0 and (lags[-1] > 0 or version == "8.0")


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_index_rows_join_list_indexes_index_stats_and_sizes(
    snapshots: dict[Any, Any], version: str, topology: str
) -> None:
    rows = {(r["ns"], r["name"]): r for r in flatten(snapshots[(version, topology)])[models.INDEXES]}
    specs = fx(version, topology, "listIndexes")
    stats = fx(version, topology, "indexStats")
    coll_stats = fx(version, topology, "collStats")
    assert set(rows) == {(ns, s["name"]) for ns, ss in specs.items() for s in ss}
    for ns, ss in specs.items():
        for spec in ss:
            row = rows[(ns, spec["name"])]
            assert row["key"] == json.dumps(dict(spec["key"]))  # field order kept
            docs = [d for d in stats[ns] if d["name"] == spec["name"]]
            assert row["ops"] == sum(d["accesses"]["ops"] for d in docs)  # summed over shards
            # over shards: the latest reset, from when every shard counted
            assert row["since"] == max(utc(d["accesses"]["since"]) for d in docs)
            assert row["size_bytes"] == sum(d["storageStats"]["indexSizes"][spec["name"]] for d in coll_stats[ns])
            assert row["unique"] is bool(spec.get("unique")) and row["sparse"] is bool(spec.get("sparse"))
            assert row["hidden"] is bool(spec.get("hidden"))
            assert row["partial"] is ("partialFilterExpression" in spec)
            assert row["ttl_seconds"] == spec.get("expireAfterSeconds")
            assert row["building"] is False
    assert rows[("shop.orders", "userId_1_createdAt_-1")]["key"] == '{"userId": 1, "createdAt": -1}'
    assert rows[("shop.sessions", "lastSeen_1")]["ttl_seconds"] == 1209600


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_collection_and_database_rows(snapshots: dict[Any, Any], version: str, topology: str) -> None:
    tables = flatten(snapshots[(version, topology)])
    rows = {r["ns"]: r for r in tables[models.COLLECTIONS]}
    listed = fx(version, topology, "listCollections")
    assert set(rows) == {f"{db}.{c['name']}" for db, cs in listed.items() for c in cs}
    coll_stats = fx(version, topology, "collStats")
    for ns, docs in coll_stats.items():
        assert rows[ns]["count"] == sum(d["storageStats"]["count"] for d in docs)
        assert rows[ns]["storage_size"] == sum(d["storageStats"]["storageSize"] for d in docs)
        assert rows[ns]["total_index_size"] == sum(d["storageStats"]["totalIndexSize"] for d in docs)
    view = rows["shop.orders_by_day"]
    assert view["type"] == "view" and view["count"] is None and view["size"] is None
    assert rows["shop.events"]["capped"] is True and rows["shop.orders"]["capped"] is False
    audit_options = next(c for c in listed["shop"] if c["name"] == "audit_log")["options"]
    audit = rows["shop.audit_log"]
    assert audit["has_validator"] is True
    assert (audit["validation_level"], audit["validation_action"]) == (
        audit_options["validationLevel"],
        audit_options["validationAction"],
    )
    assert rows["shop.users"]["has_validator"] is False and rows["shop.users"]["validation_level"] is None
    if version == "8.0":
        assert rows["shop.metrics"]["type"] == "timeseries"

    dbs = {r["db"]: r for r in tables[models.DATABASES]}
    stats = fx(version, topology, "dbStats")
    assert set(dbs) == set(stats)
    for db, s in stats.items():
        assert (dbs[db]["objects"], dbs[db]["data_size"], dbs[db]["index_size"]) == (
            s["objects"],
            s["dataSize"],
            s["indexSize"],
        )
        assert (dbs[db]["fs_used_size"], dbs[db]["fs_total_size"]) == (s["fsUsedSize"], s["fsTotalSize"])


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_current_op_shard_privilege_hygiene_and_slow_rows(
    snapshots: dict[Any, Any], version: str, topology: str
) -> None:
    snap = snapshots[(version, topology)]
    tables = flatten(snap)
    ops = [op for op in fx(version, topology, "currentOp") if op["secs_running"] > 5]
    rows = tables[models.CURRENT_OPS]
    assert [r["opid"] for r in rows] == [str(op["opid"]) for op in ops]
    for row, op in zip(rows, ops, strict=True):
        assert (row["ns"], row["op"], row["plan_summary"], row["app_name"]) == (
            op["ns"],
            op["op"],
            op.get("planSummary"),
            op.get("appName"),
        )
        assert row["secs_running"] == op["secs_running"] and row["waiting_for_lock"] is op["waitingForLock"]
        shape = json.loads(row["shape"])
        assert next(iter(shape)) == next(iter(op["command"]))
        assert "jane.doe@example.com" not in row["shape"] and "250" not in row["shape"]

    if topology == "mongos":
        shards = {r["shard"]: r for r in tables[models.SHARDS]}
        chunks = {c["_id"]: c["n"] for c in fx(version, topology, "chunks")}
        balancer = fx(version, topology, "balancerStatus")
        for shard in fx(version, topology, "shards"):
            row = shards[shard["_id"]]
            assert (row["shard_host"], row["state"], row["chunks"]) == (
                shard["host"],
                shard["state"],
                chunks[shard["_id"]],
            )
            assert (row["balancer_mode"], row["balancer_running"]) == (balancer["mode"], balancer["inBalancerRound"])

    (priv,) = tables[models.PRIVILEGES]
    assert priv["read_only"] is True and priv["user"] == "opsreview@admin"
    hygiene = {r["ns"]: r for r in tables[models.HYGIENE]}
    assert set(hygiene) == set(snap["hygiene"])
    assert hygiene["shop.users"]["password_field"] == "passwordHash"
    assert hygiene["shop.users"]["md5_like"] == 1 and hygiene["shop.users"]["bcrypt_low_cost"] == 1

    slow = tables[models.SLOW_QUERIES]
    log_times = sorted(
        datetime.fromisoformat(json.loads(line)["t"]["$date"])
        for line in fx(version, topology, "getLog")["log"]
        if line.startswith("{") and json.loads(line)["id"] == 51803
    )
    assert sorted(r["ts"] for r in slow if r["source"] == "getLog") == log_times  # the log line's own time
    profiled = [r for r in slow if r["source"] == "profile:shop"]
    if topology == "mongos":
        assert profiled == []
    else:
        docs = fx(version, topology, "systemProfile")["shop"]
        assert sorted(r["ts"] for r in profiled) == sorted(utc(d["ts"]) for d in docs)
        assert {r["duration_ms"] for r in profiled} == {float(d["millis"]) for d in docs}


def test_missing_replies_give_no_rows_and_invent_nothing() -> None:
    bare = {
        "format": "opsreview-mongodb-snapshot/1",
        "ts": "2026-12-06T10:00:00+00:00",
        "host": "db:27017",
        "topology": "standalone",
        "replies": {},
    }
    assert all(rows == [] for rows in flatten(bare).values())

    status = collector.ejson(load_fixture("7.0", "standalone", "serverStatus"))
    only_status = {**bare, "replies": {"serverStatus": status}}
    tables = flatten(only_status)
    assert len(tables[models.SERVER]) == 1
    assert all(rows == [] for name, rows in tables.items() if name != models.SERVER)

    stats = collector.ejson(load_fixture("7.0", "standalone", "dbStats"))
    tables = flatten(
        {
            **bare,
            "replies": {"dbStats": stats},
            "errors": [{"command": "serverStatus", "code": 13, "error": "not authorized"}],
        }
    )
    assert tables[models.SERVER] == []
    assert len(tables[models.DATABASES]) == 2
    assert [(e["command"], e["code"]) for e in tables[models.ERRORS]] == [("serverStatus", 13)]

    # an index list without $indexStats: no usage is invented
    specs = collector.ejson(load_fixture("7.0", "standalone", "listIndexes"))
    rows = flatten({**bare, "replies": {"listIndexes": specs}})[models.INDEXES]
    assert rows and all(
        r["ops"] is None and r["since"] is None and r["size_bytes"] is None and r["building"] is None for r in rows
    )
    models.to_arrow(models.INDEXES, rows)

    # a collection listed without storage statistics: no count
    listed = collector.ejson(load_fixture("7.0", "standalone", "listCollections"))
    rows = flatten({**bare, "replies": {"listCollections": listed}})[models.COLLECTIONS]
    assert rows and all(r["count"] is None and r["size"] is None for r in rows)


def test_a_second_snapshot_flattens_to_one_server_row() -> None:
    with FakeMongo("6.0", "replicaset") as fake:
        os.environ[ENV] = fake.uri(replicaSet="rs0")
        try:
            params = DatabaseParams(
                uri="${" + ENV + "}", rate_interval_s=0.1, get_log=False, hygiene={"enabled": False}
            )
            first, second = collector.take_snapshot(params)
        finally:
            os.environ.pop(ENV, None)
    tables = flatten(second)
    (row,) = tables[models.SERVER]
    assert row["role"] == "primary" and row["oplog_first"] is None  # the oplog is read once, in the first
    assert all(rows == [] for name, rows in tables.items() if name != models.SERVER)
    assert row["ts"] > flatten(first)[models.SERVER][0]["ts"]


# -- files --------------------------------------------------------------------------------


def snap_at(ts: str, host: str = "db-1:27017", **extra: Any) -> dict[str, Any]:
    return {
        "format": "opsreview-mongodb-snapshot/1",
        "ts": ts,
        "host": host,
        "topology": "standalone",
        "replies": {"serverStatus": {"version": "7.0.12", "connections": {"current": 3}}},
        "slow_queries": [],
        "hygiene": {},
        "privileges": {},
        "errors": [],
        **extra,
    }


def test_write_snapshot_names_the_file_by_utc_day_time_and_host(tmp_path: Path) -> None:
    snap = snap_at("2024-07-01T22:36:49.358000-02:00", host="mongo-rs-1.svc:27017")
    path = write_snapshot(tmp_path, snap)
    assert path == tmp_path / "2024-07-02" / "003649-mongo-rs-1.svc_27017.json"
    assert json.loads(path.read_text(encoding="utf-8")) == snap
    again = write_snapshot(tmp_path, snap)
    assert again.name == "003649-mongo-rs-1.svc_27017-2.json" and path.exists()
    assert sorted(p.name for p in (tmp_path / "2024-07-02").iterdir()) == [again.name, path.name]  # no temporary left


def test_write_snapshot_redacts_resolved_secrets_and_refuses_other_documents(tmp_path: Path) -> None:
    remember_secret("Very-Secret-Value-42")
    snap = snap_at("2026-12-06T10:00:00Z", errors=[{"command": "x", "code": None, "error": "saw Very-Secret-Value-42"}])
    text = write_snapshot(tmp_path, snap).read_text(encoding="utf-8")
    assert "Very-Secret-Value-42" not in text and "***" in text
    with pytest.raises(ValueError):
        write_snapshot(tmp_path, {"format": "something else", "ts": "2026-12-06T10:00:00Z"})
    with pytest.raises(ValueError):
        write_snapshot(tmp_path, {**snap, "ts": "yesterday"})


def test_read_snapshots_takes_the_local_days(tmp_path: Path) -> None:
    times = ["2024-06-30T23:30:00Z", "2024-07-01T03:00:00Z", "2024-07-01T23:30:00Z", "2024-07-02T05:00:00Z"]
    for ts in times:
        write_snapshot(tmp_path, snap_at(ts))
    new_york = [s["ts"] for s in read_snapshots(tmp_path, {date(2024, 7, 1)}, "America/New_York")]
    assert new_york == ["2024-07-01T23:30:00Z"]  # 19:30 on the 1st in New York; 03:00Z is still the 30th there
    tokyo = [s["ts"] for s in read_snapshots(tmp_path, {date(2024, 7, 1)}, "Asia/Tokyo")]
    assert tokyo == ["2024-06-30T23:30:00Z", "2024-07-01T03:00:00Z"]
    both = [s["ts"] for s in read_snapshots(tmp_path, {date(2024, 7, 1), date(2024, 7, 2)}, "UTC")]
    assert both == times[1:]
    assert list(read_snapshots(tmp_path / "nowhere", {date(2024, 7, 1)}, "UTC")) == []


def test_read_snapshots_skips_and_counts_damaged_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = write_snapshot(tmp_path, snap_at("2024-07-01T10:00:00Z"))
    day = good.parent
    (day / "100500-broken.json").write_text('{"format": "opsreview-mongodb-snapshot/1", "ts": ', encoding="utf-8")
    (day / "100600-other.json").write_text(
        json.dumps({"format": "someone-else/2", "ts": "2024-07-01T10:06:00Z"}), encoding="utf-8"
    )
    (day / "100700-list.json").write_text("[1, 2]", encoding="utf-8")
    (day / "notes.txt").write_text("not a snapshot name: ignored", encoding="utf-8")
    skipped: list[Path] = []
    with caplog.at_level(logging.WARNING):
        found = list(read_snapshots(tmp_path, {date(2024, 7, 1)}, "UTC", skipped=skipped))
    assert [s["ts"] for s in found] == ["2024-07-01T10:00:00Z"]
    assert sorted(p.name for p in skipped) == ["100500-broken.json", "100600-other.json", "100700-list.json"]
    for name in ("100500-broken.json", "100600-other.json", "100700-list.json"):
        assert name in caplog.text
    assert "notes.txt" not in caplog.text


def test_a_written_snapshot_reads_back_and_flattens_the_same(snapshots: dict[Any, Any], tmp_path: Path) -> None:
    snap = snapshots[("7.0", "mongos")]
    write_snapshot(tmp_path, snap)
    (back,) = read_snapshots(tmp_path, {NOW.date()}, "UTC")
    assert back == snap
    assert flatten(back) == flatten(snap)


def test_an_index_collation_locale_reaches_the_rows(snapshots: dict[Any, Any]) -> None:
    snap = snapshots[("7.0", "standalone")]
    assert "collation" in models.INDEXES_SCHEMA.names
    rows = {r["name"]: r for r in flatten(snap)[models.INDEXES]}
    specs = {s["name"]: s for ss in fx("7.0", "standalone", "listIndexes").values() for s in ss}
    assert rows["email_1"]["collation"] == specs["email_1"]["collation"]["locale"] == "en"
    assert all(r["collation"] is None for name, r in rows.items() if "collation" not in specs[name])
