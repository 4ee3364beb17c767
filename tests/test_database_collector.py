"""The MongoDB collector against a fake server: the real pymongo driver over a real socket.

Each version (6.0, 7.0, 8.0) x topology (standalone, replica set member, mongos) is served by
:class:`tests.mongo_fake.FakeMongo` from the fixtures of ``tests/fixtures/mongodb``; the
expectations below are read from those fixture files, never from what the collector wrote.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from opsreview import mongo as db_client
from opsreview.database import collector, models
from opsreview.database.params import DatabaseParams
from opsreview.exceptions import SourceError
from opsreview.mongo import (
    CommandFailure,
    aggregate,
    check_privileges,
    find,
    open_client,
    privileges_row,
    run_command,
)
from tests.mongo_fake import (
    ALLOWED,
    DRIVER_COMMANDS,
    READ_STAGES,
    TOPOLOGIES,
    VERSIONS,
    FakeMongo,
    load_fixture,
    load_privileges,
)

PASSWORD = "Fake-Passw0rd-for-tests"
ENV = "OPSREVIEW_TEST_FAKE_MONGODB"
COMBOS = [(v, t) for v in VERSIONS for t in TOPOLOGIES]
IDS = [f"{v}-{t}" for v, t in COMBOS]


@contextmanager
def params_for(uri: str, **overrides: Any) -> Iterator[DatabaseParams]:
    """Params whose ``uri`` references an environment variable holding ``uri`` (set only inside)."""
    old = os.environ.get(ENV)
    os.environ[ENV] = uri
    try:
        values: dict[str, Any] = {"rate_interval_s": 0, "socket_timeout_ms": 3000, "connect_timeout_ms": 3000}
        values.update(overrides)
        yield DatabaseParams(uri="${" + ENV + "}", **values)
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old


def rs_options(fake: FakeMongo) -> dict[str, str]:
    return {"replicaSet": "rs0"} if fake.topology == "replicaset" else {}


@pytest.fixture(scope="module")
def taken() -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    """One snapshot per version x topology, with what each fake received."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for version, topology in COMBOS:
        with FakeMongo(version, topology) as fake, params_for(fake.uri(**rs_options(fake))) as params:
            snaps = collector.take_snapshot(params)
            out[(version, topology)] = {"snaps": snaps, "fake": fake, "commands": fake.commands(), "params": params}
    yield out


def fx(version: str, topology: str, name: str) -> Any:
    """A fixture file as plain JSON types (relaxed Extended JSON, as the snapshot keeps replies)."""
    return collector.ejson(load_fixture(version, topology, name))


# -- what the snapshot holds --------------------------------------------------------------


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_snapshot_holds_what_each_reply_said(taken: dict[Any, Any], version: str, topology: str) -> None:
    got = taken[(version, topology)]
    (snap,) = got["snaps"]
    replies = snap["replies"]
    assert snap["format"] == "opsreview-mongodb-snapshot/1"
    assert snap["topology"] == topology
    assert snap["host"] == got["fake"].address
    assert snap["errors"] == []

    status = fx(version, topology, "serverStatus")
    assert replies["serverStatus"]["connections"]["current"] == status["connections"]["current"]
    assert replies["serverStatus"]["version"] == status["version"]
    assert replies["serverStatus"]["opcounters"] == status["opcounters"]
    assert replies["connectionStatus"]["authInfo"] == fx(version, topology, "connectionStatus")["authInfo"]

    db_stats = fx(version, topology, "dbStats")
    assert set(replies["dbStats"]) == {"shop", "reports"}
    assert replies["dbStats"]["shop"]["objects"] == db_stats["shop"]["objects"]
    listed = fx(version, topology, "listCollections")
    assert [c["name"] for c in replies["listCollections"]["shop"]] == [c["name"] for c in listed["shop"]]
    options = {c["name"]: c["options"] for c in replies["listCollections"]["shop"]}
    audit = next(c for c in listed["shop"] if c["name"] == "audit_log")["options"]
    # whether there is a validator, never the validator itself (its enum lists values)
    assert options["audit_log"] == {
        "hasValidator": True,
        "validationLevel": audit["validationLevel"],
        "validationAction": audit["validationAction"],
    }
    assert options["orders_by_day"] == {"hasValidator": False, "viewOn": "orders"}  # no view pipeline
    assert options["events"] == {"hasValidator": False, "capped": True}
    assert options["users"] == {"hasValidator": False}
    if version == "8.0":
        assert options["metrics"] == {"hasValidator": False, "timeseries": True}

    coll_stats = fx(version, topology, "collStats")
    # views, time series and system collections have no $collStats read; counts are storageStats'
    assert set(replies["collStats"]) == set(coll_stats)
    for ns, docs in coll_stats.items():
        assert replies["collStats"][ns]["count"] == sum(d["storageStats"]["count"] for d in docs)
        assert replies["collStats"][ns]["size"] == sum(d["storageStats"]["size"] for d in docs)
    specs = fx(version, topology, "listIndexes")
    assert set(replies["listIndexes"]) == set(specs)
    kept = ("key", "name", "unique", "sparse", "hidden", "expireAfterSeconds")
    for ns, ns_specs in specs.items():
        assert [s["name"] for s in replies["listIndexes"][ns]] == [s["name"] for s in ns_specs]
        for got_spec, spec in zip(replies["listIndexes"][ns], ns_specs, strict=True):
            assert {k: v for k, v in got_spec.items() if k in kept} == {k: v for k, v in spec.items() if k in kept}
    by_name = {s["name"]: s for ns_specs in replies["listIndexes"].values() for s in ns_specs}
    # a partial filter's values are masked; a collation keeps its locale alone; text options go
    assert by_name["status_1"]["partialFilterExpression"] == {"status": {"$in": [1]}}
    assert by_name["email_1"]["collation"] == {"locale": "en"}
    assert set(by_name["name_text_description_text"]) == {"key", "name"}
    assert "pending" not in json.dumps(replies["listIndexes"])
    usage = fx(version, topology, "indexStats")
    assert set(replies["indexStats"]) == set(usage)
    for ns, docs in usage.items():
        for got_doc, doc in zip(replies["indexStats"][ns], docs, strict=True):
            assert {k: v for k, v in got_doc.items() if k != "spec"} == {k: v for k, v in doc.items() if k != "spec"}
            assert {k: v for k, v in got_doc["spec"].items() if k in kept} == {
                k: v for k, v in doc["spec"].items() if k in kept
            }
            if "partialFilterExpression" in doc["spec"]:
                assert got_doc["spec"]["partialFilterExpression"] == {"status": {"$in": [1]}}

    ops = fx(version, topology, "currentOp")
    slow_ops = [op for op in ops if op["secs_running"] > got["params"].current_op_min_secs]
    assert [op["opid"] for op in replies["currentOp"]] == [op["opid"] for op in slow_ops]
    assert all("lsid" not in op and "clientMetadata" not in op for op in replies["currentOp"])

    if topology == "replicaset":
        assert replies["replSetGetStatus"]["members"] == fx(version, topology, "replSetGetStatus")["members"]
        # the gossip the driver and server exchange is not part of the reply
        assert "$clusterTime" in load_fixture(version, topology, "replSetGetStatus")
        assert not {"$clusterTime", "operationTime"} & set(replies["replSetGetStatus"])
        oplog = fx(version, topology, "oplog")
        assert replies["oplog"] == {"first": oplog["first"]["ts"], "last": oplog["last"]["ts"]}
    else:
        assert "replSetGetStatus" not in replies and "oplog" not in replies
    if topology == "mongos":
        assert replies["balancerStatus"]["mode"] == fx(version, topology, "balancerStatus")["mode"]
        assert [s["_id"] for s in replies["shards"]] == [s["_id"] for s in fx(version, topology, "shards")]
        assert replies["chunks"] == {c["_id"]: c["n"] for c in fx(version, topology, "chunks")}
    else:
        assert not {"balancerStatus", "shards", "chunks"} & set(replies)

    log_lines = [json.loads(line) for line in fx(version, topology, "getLog")["log"] if line.startswith("{")]
    expected_slow = sum(1 for e in log_lines if e.get("id") == 51803)
    if topology != "mongos":  # the profiler is never read through mongos
        expected_slow += len(fx(version, topology, "systemProfile")["shop"])  # shop: was 1; reports: was 0
    assert len(snap["slow_queries"]) == expected_slow

    samples = fx(version, topology, "sample")
    assert set(snap["hygiene"]) == set(coll_stats)
    users = snap["hygiene"]["shop.users"]
    assert set(users) == set(models.HYGIENE_SCHEMA.names) - {"ts", "host"} and users["ns"] == "shop.users"
    assert set(snap["privileges"]) == set(models.PRIVILEGES_SCHEMA.names) - {"ts", "host"}
    assert users["sampled"] == len(samples["shop.users"])
    assert users["password_values"] == sum(1 for d in samples["shop.users"] if isinstance(d.get("passwordHash"), str))
    assert snap["hygiene"]["shop.products"]["sampled"] == 0
    assert snap["privileges"]["read_only"] is True


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_no_query_value_reaches_the_snapshot(taken: dict[Any, Any], version: str, topology: str) -> None:
    (snap,) = taken[(version, topology)]["snaps"]
    text = json.dumps(snap)
    # values of the recorded $currentOp commands, getLog lines and profile entries, and of the samples
    for value in (
        "jane.doe@example.com",
        "alice@example.com",
        "SKU-1192",
        "64b7c1e2f1a2b3c4d5e6f708",
        "$2b$12$C6UzMDM",
        '"refund"',  # an enum of the audit_log validator
        '"pending"',  # a value of the status_1 partial filter
        "$dateTrunc",  # the orders_by_day view's pipeline
    ):
        assert value not in text
    assert PASSWORD not in text


@pytest.mark.parametrize(("version", "topology"), COMBOS, ids=IDS)
def test_every_command_is_read_only_and_carries_max_time_ms(taken: dict[Any, Any], version: str, topology: str) -> None:
    got = taken[(version, topology)]
    max_time = got["params"].max_time_ms
    sent = [c for c in got["commands"] if c["name"].lower() not in DRIVER_COMMANDS or "maxTimeMS" in c["doc"]]
    assert len(sent) > 20
    for c in sent:
        doc, name = c["doc"], c["name"]
        assert name in ALLOWED, c
        assert doc.get("maxTimeMS") == max_time, c
        if name == "aggregate":
            assert {next(iter(stage)) for stage in doc["pipeline"]} <= READ_STAGES, c
        if name == "profile":
            assert doc["profile"] == -1 and not {"slowms", "sampleRate", "filter"} & set(doc), c
        if name == "find":
            assert isinstance(doc.get("limit"), int) and doc["limit"] > 0, c
    driver = {c["name"].lower() for c in got["commands"] if c not in sent}
    assert driver <= DRIVER_COMMANDS
    assert "saslstart" in driver  # the login happened (SCRAM-SHA-256 with the password)
    assert any(c["name"] == "hello" for c in sent)  # the collector's own hello carries maxTimeMS too
    if topology == "mongos":
        assert not any(c["name"] == "profile" or c["doc"].get("find") == "system.profile" for c in sent)


# -- bounds -------------------------------------------------------------------------------


def test_a_second_snapshot_gives_serverstatus_again_after_the_rate_interval() -> None:
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), rate_interval_s=0.3) as params:
        first, second = collector.take_snapshot(params)
        statuses = [c for c in fake.commands() if c["name"] == "serverStatus"]
    assert len(statuses) == 2
    assert set(second["replies"]) == {"serverStatus"}
    assert second["host"] == first["host"] and second["format"] == first["format"]
    gap = (collector_ts(second) - collector_ts(first)).total_seconds()
    assert 0.3 <= gap < 2


def collector_ts(snap: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(snap["ts"])


def test_max_collections_keeps_the_largest_and_bounds_the_size_scan() -> None:
    stats = fx("7.0", "standalone", "collStats")
    by_size = sorted(stats, key=lambda ns: -stats[ns][0]["storageStats"]["size"])
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), max_collections=2) as params:
        (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
    assert list(snap["replies"]["collStats"]) == by_size[:2]
    assert set(snap["replies"]["listIndexes"]) == set(by_size[:2]) == set(snap["hygiene"])
    coll_stats_reads = [c for c in sent if c["name"] == "aggregate" and "$collStats" in c["doc"]["pipeline"][0]]
    assert len(coll_stats_reads) == len(stats)  # 7 collections <= 5 x 2: every size was read
    assert snap["errors"] == []

    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), max_collections=1) as params:
        (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
    coll_stats_reads = [c for c in sent if c["name"] == "aggregate" and "$collStats" in c["doc"]["pipeline"][0]]
    assert len(coll_stats_reads) == 5  # 7 candidates, at most 5 x max_collections read
    assert [e["command"] for e in snap["errors"]] == ["$collStats"]
    assert "7 collections" in snap["errors"][0]["error"]


def test_a_database_with_more_collections_than_one_batch_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "LIST_COLLECTIONS_LIMIT", 4)
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), databases=["shop"]) as params:
        (snap,) = collector.take_snapshot(params)
        listings = [c["doc"] for c in fake.app_commands() if c["name"] == "listCollections"]
    assert [d["cursor"] for d in listings] == [{"batchSize": 4}]
    assert len(snap["replies"]["listCollections"]["shop"]) == 4
    assert [(e["command"], e["code"]) for e in snap["errors"]] == [("listCollections shop", None)]
    assert "more than 4 collections" in snap["errors"][0]["error"]


def test_hygiene_never_samples_a_view() -> None:
    with (
        FakeMongo("8.0", "standalone") as fake,
        params_for(fake.uri(), hygiene={"collections": ["shop.orders_by_day", "shop.metrics", "shop.users"]}) as params,
    ):
        (snap,) = collector.take_snapshot(params)
        sampled = [
            c["doc"]["aggregate"]
            for c in fake.app_commands()
            if c["name"] == "aggregate" and "$sample" in c["doc"]["pipeline"][0]
        ]
    assert sampled == ["users"] and list(snap["hygiene"]) == ["shop.users"]


def test_databases_from_params_skip_list_databases_and_hygiene_follows_its_params() -> None:
    with (
        FakeMongo("8.0", "standalone") as fake,
        params_for(
            fake.uri(), databases=["shop"], hygiene={"collections": ["shop.users"], "sample_size": 3}, get_log=False
        ) as params,
    ):
        (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
    names = [c["name"] for c in sent]
    assert "listDatabases" not in names and "getLog" not in names
    assert set(snap["replies"]["dbStats"]) == {"shop"}
    samples = [c for c in sent if c["name"] == "aggregate" and "$sample" in c["doc"]["pipeline"][0]]
    assert [(c["doc"]["aggregate"], c["doc"]["pipeline"][0]["$sample"]["size"]) for c in samples] == [("users", 3)]
    assert list(snap["hygiene"]) == ["shop.users"] and snap["hygiene"]["shop.users"]["sampled"] == 3

    with (
        FakeMongo("8.0", "standalone") as fake,
        params_for(fake.uri(), hygiene={"enabled": False}, profiler=False) as params,
    ):
        (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
    assert not any(c["name"] == "aggregate" and "$sample" in c["doc"]["pipeline"][0] for c in sent)
    assert not any(c["name"] == "profile" for c in sent)
    assert snap["hygiene"] == {}


def test_current_op_is_watched_once_a_look_and_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "CURRENT_OP_LOOK_S", 0.05)
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), current_op_window_s=0.1) as params:
        (snap,) = collector.take_snapshot(params)
        looks = [c for c in fake.app_commands() if c["name"] == "aggregate" and "$currentOp" in c["doc"]["pipeline"][0]]
    assert len(looks) == 3  # at 0, 0.05 and 0.1 s
    assert all(c["db"] == "admin" and c["doc"]["aggregate"] == 1 for c in looks)
    assert all(c["doc"]["pipeline"][1] == {"$match": {"secs_running": {"$gt": 5.0}}} for c in looks)
    ops = fx("7.0", "standalone", "currentOp")
    assert sorted(op["opid"] for op in snap["replies"]["currentOp"]) == sorted(
        op["opid"] for op in ops if op["secs_running"] > params.current_op_min_secs
    )


def test_reads_go_to_the_member_the_read_preference_picks_and_stay_there() -> None:
    with (
        FakeMongo("7.0", "replicaset") as primary,
        FakeMongo("7.0", "replicaset", role="secondary", primary=primary) as one,
        FakeMongo("7.0", "replicaset", role="secondary", primary=primary) as two,
    ):
        primary.peers += [one, two]
        # the secondaries answer the handshake late: a collector that chose before every member
        # was checked would take the primary
        one.hello_delay_s = two.hello_delay_s = 0.2
        hosts = ",".join(m.address for m in (primary, one, two))
        uri = primary.uri(replicaSet="rs0").replace(primary.address, hosts)
        with params_for(uri, read_preference="secondaryPreferred") as params:
            (snap,) = collector.take_snapshot(params)
        assert primary.app_commands() == []
        chosen, other = (one, two) if one.app_commands() else (two, one)
        assert snap["host"] == chosen.address
        # pinned: all ~40 commands to the one secondary (unpinned, each would pick either)
        assert len(chosen.app_commands()) > 30 and other.app_commands() == []
        with params_for(uri, read_preference="primary", get_log=False, profiler=False) as params:
            (snap,) = collector.take_snapshot(params)
        assert snap["host"] == primary.address
        assert any(c["name"] == "serverStatus" for c in primary.app_commands())


# -- failures -----------------------------------------------------------------------------


def _assert_clean(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    text = f"{exc} {exc!r} {exc.__cause__!r} {exc.__context__!r}"
    assert PASSWORD not in text and "Passw0rd" not in text
    assert PASSWORD not in caplog.text
    assert "\n" not in str(exc)


@pytest.mark.parametrize("topology", ["standalone", "mongos"])
def test_a_slow_server_ends_within_the_socket_timeout(topology: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeMongo("8.0", topology) as fake:
        fake.delay_s = 5.0
        with params_for(fake.uri(), socket_timeout_ms=500, connect_timeout_ms=500) as params:
            started = time.monotonic()
            with pytest.raises(SourceError) as err:
                collector.take_snapshot(params)
            elapsed = time.monotonic() - started
    assert elapsed < 3 * 0.5, elapsed
    assert err.value.source == "database"
    assert "timed out" in str(err.value)
    _assert_clean(err.value, caplog)


def test_a_silent_server_ends_within_the_connect_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeMongo("7.0", "replicaset") as fake:
        fake.silent = True
        with params_for(fake.uri(replicaSet="rs0"), socket_timeout_ms=500, connect_timeout_ms=500) as params:
            started = time.monotonic()
            with pytest.raises(SourceError) as err:
                collector.take_snapshot(params)
            elapsed = time.monotonic() - started
    assert elapsed < 3 * 0.5, elapsed
    assert fake.commands(), "the fake was reached (and said nothing)"
    _assert_clean(err.value, caplog)


def test_an_unreachable_server_is_a_source_error(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    uri = f"mongodb://opsreview:{PASSWORD}@localhost:{port}/?authSource=admin"
    with params_for(uri, socket_timeout_ms=500, connect_timeout_ms=500) as params:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            collector.take_snapshot(params)
    assert time.monotonic() - started < 1.5
    assert f"localhost:{port}" in str(err.value)
    _assert_clean(err.value, caplog)


@pytest.mark.parametrize("how", ["wrong password", "refused"])
def test_an_authentication_failure_is_a_source_error(how: str, caplog: pytest.LogCaptureFixture) -> None:
    with FakeMongo("7.0", "standalone") as fake:
        if how == "refused":
            fake.refuse_auth = True
            uri = fake.uri()
        else:
            uri = fake.uri(password="Not-The-Right-Passw0rd")
        with params_for(uri) as params, pytest.raises(SourceError) as err:
            collector.take_snapshot(params)
        assert fake.app_commands() == []
    assert "Authentication failed" in str(err.value)
    assert "Not-The-Right-Passw0rd" not in f"{err.value} {caplog.text}"
    _assert_clean(err.value, caplog)


def test_a_missing_uri_or_variable_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="database.uri is not set"):
        collector.take_snapshot(DatabaseParams())
    os.environ.pop(ENV, None)
    with pytest.raises(SourceError, match=ENV):
        collector.take_snapshot(DatabaseParams(uri="${" + ENV + "}"))


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_one_unauthorized_command_is_an_error_entry_and_the_rest_is_read(topology: str) -> None:
    with FakeMongo("7.0", topology) as fake:
        fake.unauthorized = {"$indexStats", "getLog"}
        with params_for(fake.uri(**rs_options(fake))) as params:
            (snap,) = collector.take_snapshot(params)
    errors = snap["errors"]
    expected = {f"$indexStats {ns}" for ns in fx("7.0", topology, "collStats")} | {"getLog"}
    assert {e["command"] for e in errors} == expected
    assert {e["code"] for e in errors} == {13}
    assert all("not authorized" in e["error"] and "\n" not in e["error"] for e in errors)
    assert "indexStats" not in snap["replies"]
    for key in (
        "serverStatus",
        "connectionStatus",
        "dbStats",
        "listCollections",
        "collStats",
        "listIndexes",
        "currentOp",
    ):
        assert key in snap["replies"], key
    assert snap["hygiene"]


def test_a_refused_serverstatus_leaves_the_rest() -> None:
    with FakeMongo("6.0", "standalone") as fake:
        fake.unauthorized = {"serverStatus"}
        with params_for(fake.uri()) as params:
            (snap,) = collector.take_snapshot(params)
    assert "serverStatus" not in snap["replies"]
    assert [(e["command"], e["code"]) for e in snap["errors"]] == [("serverStatus", 13)]
    assert "dbStats" in snap["replies"]


# -- privileges ---------------------------------------------------------------------------


def test_excess_privileges_of_a_readwrite_dbadmin_login_are_found() -> None:
    with FakeMongo("8.0", "standalone") as fake:
        fake.replies["connectionStatus"] = load_privileges("readWrite-dbAdmin")
        with params_for(fake.uri()) as params:
            (snap,) = collector.take_snapshot(params)
            client = open_client(params)
            try:
                row = check_privileges(client, params)
            finally:
                client.close()
    assert row == snap["privileges"]
    assert row["read_only"] is False
    assert row["user"] == "shop-api@admin"
    assert set(json.loads(row["excess_roles"])) == {"readWrite@shop", "dbAdmin@shop"}
    excess = set(json.loads(row["excess_actions"]))
    assert {
        "insert",
        "update",
        "remove",
        "dropCollection",
        "createIndex",
        "dropDatabase",
        "enableProfiler",
        "collMod",
    } <= excess
    assert not {"find", "collStats", "serverStatus", "listIndexes", "indexStats", "inprog"} & excess


@pytest.mark.parametrize("version", VERSIONS)
def test_a_cluster_monitor_and_read_login_is_read_only(version: str) -> None:
    row = privileges_row(load_fixture(version, "standalone", "connectionStatus"))
    assert row["read_only"] is True
    assert json.loads(row["excess_roles"]) == [] and json.loads(row["excess_actions"]) == []
    assert json.loads(row["roles"]) == ["clusterMonitor@admin", "read@local", "read@shop"]
    assert privileges_row(load_privileges("clusterMonitor-read"))["read_only"] is True


def test_no_login_is_not_judged_read_only() -> None:
    row = privileges_row(load_privileges("no-auth"))
    assert row["user"] is None and row["read_only"] is None


def test_a_custom_role_is_listed_and_judged_by_its_actions() -> None:
    reply = load_privileges("clusterMonitor-read")
    reply["authInfo"]["authenticatedUserRoles"].append({"role": "opsreviewExtra", "db": "admin"})
    reply["authInfo"]["authenticatedUserPrivileges"].append(
        {"resource": {"db": "shop", "collection": "orders"}, "actions": ["find", "planCacheRead"]}
    )
    row = privileges_row(reply)
    assert json.loads(row["excess_roles"]) == ["opsreviewExtra@admin"]
    assert row["read_only"] is True
    reply["authInfo"]["authenticatedUserPrivileges"].append(
        {"resource": {"anyResource": True}, "actions": ["anyAction"]}
    )
    assert privileges_row(reply)["read_only"] is False


# -- the gate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate() -> Iterator[tuple[FakeMongo, Any, DatabaseParams]]:
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), max_time_ms=1234) as params:
        client = open_client(params)
        try:
            yield fake, client, params
        finally:
            client.close()


@pytest.mark.parametrize(
    ("db", "command"),
    [
        ("shop", {"insert": "orders", "documents": [{"a": 1}]}),
        ("shop", {"delete": "orders", "deletes": [{"q": {}, "limit": 0}]}),
        ("shop", {"drop": "orders"}),
        ("shop", {"createIndexes": "orders", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}),
        ("shop", {"profile": 1}),
        ("shop", {"profile": 0, "slowms": 50}),
        ("shop", {"profile": -1, "slowms": 50}),
        ("admin", {"killOp": 1, "op": 12}),
        ("admin", {"setParameter": 1, "logLevel": 2}),
        ("admin", {"serverStatus": 1, "writeConcern": {"w": 1}}),
        ("admin", {"count": "orders"}),
    ],
)
def test_the_gate_refuses_anything_outside_the_allowlist(gate: Any, db: str, command: dict[str, Any]) -> None:
    fake, client, params = gate
    before = len(fake.commands())
    result = run_command(client, params, db, command)
    assert isinstance(result, CommandFailure) and result.kind == "refused" and not result.fatal
    assert result.message.startswith("refused by opsreview")
    assert len(fake.commands()) == before, "nothing was sent"


@pytest.mark.parametrize(
    "pipeline",
    [
        [{"$match": {}}, {"$out": "copy"}],
        [{"$merge": {"into": "copy"}}],
        [{"$lookup": {"from": "users", "localField": "u", "foreignField": "_id", "as": "u"}}],
        [{"$match": {}}, {"$collStats": {"storageStats": {}}}],
        [{"$unionWith": "users"}],
        [{"$match": {}, "$out": "copy"}],
    ],
)
def test_the_gate_refuses_pipelines_that_are_not_read_only(gate: Any, pipeline: list[dict[str, Any]]) -> None:
    fake, client, params = gate
    before = len(fake.commands())
    result = aggregate(client, params, "shop", "orders", pipeline)
    assert isinstance(result, CommandFailure) and result.kind == "refused"
    assert len(fake.commands()) == before


def test_the_gate_adds_max_time_ms_and_returns_replies(gate: Any) -> None:
    fake, client, params = gate
    reply = run_command(client, params, "admin", {"serverStatus": 1})
    assert isinstance(reply, dict) and reply["version"] == fx("7.0", "standalone", "serverStatus")["version"]
    docs = find(client, params, "local", "oplog.rs", sort=[("$natural", -1)], limit=1)
    assert docs == []  # a standalone's fixture has no oplog
    stats = aggregate(client, params, "shop", "orders", [{"$collStats": {"storageStats": {}}}])
    assert (
        isinstance(stats, list)
        and stats[0]["storageStats"]["count"]
        == fx("7.0", "standalone", "collStats")["shop.orders"][0]["storageStats"]["count"]
    )
    sent = fake.commands()[-3:]
    assert [c["name"] for c in sent] == ["serverStatus", "find", "aggregate"]
    assert all(c["doc"]["maxTimeMS"] == 1234 for c in sent)


def test_a_server_error_is_a_one_line_failure_with_its_code(gate: Any) -> None:
    fake, client, params = gate
    result = run_command(client, params, "admin", {"replSetGetStatus": 1})
    assert isinstance(result, CommandFailure)
    assert (result.command, result.code, result.kind, result.fatal) == ("replSetGetStatus", 76, "server", False)
    assert result.message == "not running with --replSet"
    assert result.as_error() == {"command": "replSetGetStatus", "code": 76, "error": "not running with --replSet"}


def test_a_network_failure_is_fatal_and_redacted() -> None:
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), socket_timeout_ms=300) as params:
        client = open_client(params)
        try:
            assert isinstance(run_command(client, params, "admin", {"buildInfo": 1}), dict)
            fake.delay_s = 2.0
            result = run_command(client, params, "admin", {"buildInfo": 1})
        finally:
            client.close()
    assert isinstance(result, CommandFailure)
    assert result.kind == "network" and result.fatal and result.code is None
    assert "timed out" in result.message and PASSWORD not in result.message


def test_one_line_redacts_a_resolved_password() -> None:
    db_client.remember_uri_secrets(f"mongodb://someone:{PASSWORD}@db.example:27017/")
    message = db_client.one_line(ValueError(f"could not use\n{PASSWORD} at db.example"))
    assert PASSWORD not in message and "\n" not in message and "***" in message


# -- bounded reads at the gate ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({}, "positive limit"),
        ({"limit": 0}, "positive limit"),
        ({"limit": -5}, "positive limit"),
    ],
)
def test_the_gate_refuses_a_find_without_a_positive_limit(gate: Any, kwargs: dict[str, Any], why: str) -> None:
    fake, client, params = gate
    before = len(fake.commands())
    result = find(client, params, "shop", "orders", **kwargs)
    assert isinstance(result, CommandFailure) and result.kind == "refused" and why in result.message
    assert len(fake.commands()) == before, "nothing was sent"
    # a raw find command through run_command has no way around the limit either
    raw = run_command(client, params, "shop", {"find": "orders", "filter": {}})
    assert isinstance(raw, CommandFailure) and raw.kind == "refused"
    assert len(fake.commands()) == before


def test_the_gate_sends_a_find_without_a_limit_only_when_the_caller_says_it_is_bounded(gate: Any) -> None:
    fake, client, params = gate
    docs = find(client, params, "shop", "sessions", filter={"_id": 1}, bounded=True)
    assert docs == []  # the fake has no sessions documents
    sent = fake.commands()[-1]
    assert sent["name"] == "find" and "limit" not in sent["doc"] and sent["doc"]["maxTimeMS"] == 1234
    # the oplog reads: limit 1, as the collector sends them
    assert find(client, params, "local", "oplog.rs", sort=[("$natural", 1)], limit=1) == []
    assert fake.commands()[-1]["doc"]["limit"] == 1


@pytest.mark.parametrize(
    ("coll", "pipeline"),
    [
        ("orders", []),
        ("orders", [{"$match": {"status": 1}}]),  # no $limit: every matching document
        ("orders", [{"$match": {}}, {"$project": {"a": 1}}]),
        ("orders", [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]),  # $group only on config.chunks
        ("orders", [{"$project": {"a": 1}}, {"$limit": 1}]),
        ("orders", [{"$sort": {"a": 1}}, {"$limit": 1}]),
        ("orders", [{"$count": "n"}]),
        ("orders", [{"$sample": {"size": 0}}]),
        ("orders", [{"$sample": {"size": 10_001}}]),
        ("orders", [{"$sample": {}}]),
    ],
)
def test_the_gate_refuses_an_aggregate_that_does_not_start_bounded(
    gate: Any, coll: str, pipeline: list[dict[str, Any]]
) -> None:
    fake, client, params = gate
    before = len(fake.commands())
    result = aggregate(client, params, "shop", coll, pipeline)
    assert isinstance(result, CommandFailure) and result.kind == "refused", result
    assert len(fake.commands()) == before


@pytest.mark.parametrize(
    ("db", "coll", "pipeline"),
    [
        ("shop", "orders", [{"$match": {"status": 1}}, {"$sort": {"at": -1}}, {"$limit": 10}]),
        ("shop", "orders", [{"$sample": {"size": 10_000}}]),
        ("config", "chunks", [{"$group": {"_id": "$shard", "n": {"$sum": 1}}}]),
        ("admin", None, [{"$currentOp": {}}, {"$match": {}}, {"$limit": 5}]),
    ],
)
def test_the_gate_sends_the_bounded_aggregates(
    gate: Any, db: str, coll: str | None, pipeline: list[dict[str, Any]]
) -> None:
    fake, client, params = gate
    before = len(fake.commands())
    result = aggregate(client, params, db, coll, pipeline)
    assert not (isinstance(result, CommandFailure) and result.kind == "refused"), result
    sent = fake.commands()[before:]
    assert [c["name"] for c in sent] == ["aggregate"] and sent[0]["doc"]["pipeline"] == pipeline


# -- bounded hygiene reads ----------------------------------------------------------------


def _reads(fake: FakeMongo) -> list[tuple[str, str, str, int]]:
    """(method, db, collection, size) of every hygiene read: $sample or find on a sampled collection."""
    out = []
    for c in fake.app_commands():
        doc = c["doc"]
        if c["name"] == "aggregate" and "$sample" in doc["pipeline"][0]:
            out.append(("$sample", c["db"], doc["aggregate"], doc["pipeline"][0]["$sample"]["size"]))
        elif c["name"] == "find" and c["db"] not in ("local", "config") and doc["find"] != "system.profile":
            assert doc.get("filter") == {} and "projection" not in doc and "sort" not in doc, doc
            out.append(("find", c["db"], doc["find"], doc["limit"]))
    return out


@pytest.mark.parametrize("size", [200, 250, 10_000])
def test_a_collection_under_20_times_the_sample_is_read_with_a_limited_find(size: int) -> None:
    namespaces = ["shop.users", "shop.products", "reports.daily"]
    counts = {ns: fx("7.0", "standalone", "collStats")[ns][0]["storageStats"]["count"] for ns in namespaces}
    with (
        FakeMongo("7.0", "standalone") as fake,
        params_for(fake.uri(), hygiene={"collections": namespaces, "sample_size": size}) as params,
    ):
        (snap,) = collector.take_snapshot(params)
        reads = _reads(fake)
    expected = [("find" if counts[ns] < 20 * size else "$sample", *ns.split("."), size) for ns in namespaces]
    assert reads == expected
    if size == 250:  # products (4210 documents) is under 20 x 250: no $sample scanning it
        assert ("find", "shop", "products", 250) in reads
    samples = fx("7.0", "standalone", "sample")
    assert snap["hygiene"]["shop.users"]["sampled"] == len(samples["shop.users"])
    assert set(snap["hygiene"]) == set(namespaces) and snap["errors"] == []


def test_a_configured_namespace_is_checked_before_it_is_sampled() -> None:
    with (
        FakeMongo("8.0", "standalone") as fake,
        params_for(
            fake.uri(),
            databases=["shop"],
            hygiene={"collections": ["shop.nope", "reports.daily", "reports.gone", "shop.orders_by_day", "shop.users"]},
        ) as params,
    ):
        (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
        reads = _reads(fake)
    # reports is not reviewed: its collection is looked up by name, its count read, then sampled
    lookups = [c for c in sent if c["name"] == "listCollections" and c["db"] == "reports"]
    assert [c["doc"]["filter"] for c in lookups] == [{"name": "daily"}, {"name": "gone"}]
    stats = [
        c["doc"]["aggregate"] for c in sent if c["name"] == "aggregate" and "$collStats" in c["doc"]["pipeline"][0]
    ]
    assert "daily" in stats and "gone" not in stats and "nope" not in stats
    assert [(m, db, coll) for m, db, coll, _ in reads] == [("find", "reports", "daily"), ("$sample", "shop", "users")]
    errors = {e["command"]: e["error"] for e in snap["errors"]}
    assert errors == {
        "hygiene shop.nope": "no such collection: not sampled",
        "hygiene reports.gone": "no such collection: not sampled",
        "hygiene shop.orders_by_day": "a view, not a collection: not sampled",
    }
    assert set(snap["hygiene"]) == {"reports.daily", "shop.users"}


def test_a_collection_whose_count_is_unknown_is_not_sampled() -> None:
    with FakeMongo("7.0", "standalone") as fake:
        fake.unauthorized = {"$collStats"}
        with params_for(fake.uri(), hygiene={"collections": ["shop.users"]}) as params:
            (snap,) = collector.take_snapshot(params)
            reads = _reads(fake)
    assert reads == [] and snap["hygiene"] == {}
    assert {
        "command": "hygiene shop.users",
        "code": None,
        "error": "document count unknown ($collStats): not sampled",
    } in snap["errors"]


# -- the whole-snapshot bounds ------------------------------------------------------------


def _stop_entry(snap: dict[str, Any]) -> tuple[int, str]:
    import re

    entries = [e for e in snap["errors"] if e["command"] == "snapshot"]
    assert len(entries) == 1, snap["errors"]
    assert entries[0] is snap["errors"][-1]
    match = re.fullmatch(r"stopped: (\d+) read\(s\) skipped \((.+)\)", entries[0]["error"])
    assert match, entries[0]
    return int(match.group(1)), match.group(2)


def test_the_snapshot_deadline_stops_sending_and_keeps_what_was_read() -> None:
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri()) as params:
        (full,) = collector.take_snapshot(params)
        everything = len(fake.app_commands())
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri()) as params:
        fake.delay_s = 0.05  # every reply 50 ms late: ~40 commands need 2 s
        short = params.model_copy(update={"snapshot_deadline_s": 0.5})  # below the params' 5 s floor: a test only
        started = time.monotonic()
        (snap,) = collector.take_snapshot(short)
        elapsed = time.monotonic() - started
        sent = len(fake.app_commands())
    assert elapsed < 0.5 + 0.4, elapsed  # at most the command under way when the deadline passed
    assert 0 < sent < everything
    skipped, why = _stop_entry(snap)
    assert why == "the snapshot deadline of 0.5 s passed" and skipped > 0
    assert snap["replies"]["serverStatus"]["version"] == full["replies"]["serverStatus"]["version"]
    assert "_stop" not in json.dumps(full) and not any(e["command"] == "snapshot" for e in full["errors"])


def test_the_rate_look_is_not_taken_past_the_deadline() -> None:
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri()) as params:
        rated = params.model_copy(update={"snapshot_deadline_s": 0.5, "rate_interval_s": 2})
        snaps = collector.take_snapshot(rated)
        statuses = [c for c in fake.app_commands() if c["name"] == "serverStatus"]
    assert len(snaps) == 1 and len(statuses) == 1
    skipped, _ = _stop_entry(snaps[0])
    assert skipped >= 1


def test_three_timeouts_in_a_row_stop_the_snapshot() -> None:
    with FakeMongo("7.0", "standalone") as fake:
        fake.timeouts = {"$collStats"}
        with params_for(fake.uri()) as params:
            (snap,) = collector.take_snapshot(params)
        sent = fake.app_commands()
    stats = [i for i, c in enumerate(sent) if c["name"] == "aggregate" and "$collStats" in c["doc"]["pipeline"][0]]
    assert len(stats) == 3 and stats[-1] == len(sent) - 1, "nothing was sent after the third timeout"
    timed_out = [e for e in snap["errors"] if e["code"] == 50]
    assert len(timed_out) == 3 and all("exceeded time limit" in e["error"] for e in timed_out)
    skipped, why = _stop_entry(snap)
    assert why.startswith("the server is struggling: stopped")
    assert skipped >= len(fx("7.0", "standalone", "collStats")) - 3  # at least the other sizes
    assert "serverStatus" in snap["replies"] and "listCollections" in snap["replies"]


def test_timeouts_that_are_not_consecutive_do_not_stop_it() -> None:
    with FakeMongo("7.0", "standalone") as fake:
        fake.timeouts = {"$indexStats"}  # each between two listIndexes that answer
        with params_for(fake.uri()) as params:
            (snap,) = collector.take_snapshot(params)
    assert len([e for e in snap["errors"] if e["code"] == 50]) == len(fx("7.0", "standalone", "collStats"))
    assert not any(e["command"] == "snapshot" for e in snap["errors"])
    assert snap["hygiene"] and "currentOp" in snap["replies"]


# -- one snapshot at a time ---------------------------------------------------------------


def test_a_snapshot_while_another_holds_the_lock_is_refused(tmp_path: Any) -> None:
    import fcntl

    folder = tmp_path / "snaps"
    folder.mkdir()
    with FakeMongo("7.0", "standalone") as fake, params_for(fake.uri(), snapshot_dir=str(folder)) as params:
        with open(folder / ".snapshot.lock", "w") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(SourceError, match="another snapshot is running") as err:
                collector.take_snapshot(params)
            assert err.value.source == "database"
            assert fake.commands() == [], "the server was not even reached"
            fcntl.flock(held.fileno(), fcntl.LOCK_UN)
        (snap,) = collector.take_snapshot(params)
        assert snap["errors"] == []
    assert list(folder.iterdir()) == [], "the lock file is removed once the snapshot is done"


def test_two_snapshots_of_the_same_params_at_once_through_collect_live(tmp_path: Any) -> None:
    import threading

    from opsreview.database.source import collect_live, snapshot_folder
    from opsreview.params import load_params

    with FakeMongo("7.0", "standalone") as fake:
        os.environ[ENV] = fake.uri()
        try:
            path = tmp_path / "p.yaml"
            path.write_text(
                "environment: t\ntimezone: UTC\nstore: store\noutputs: out\n"
                f'database:\n  uri: "${{{ENV}}}"\n  rate_interval_s: 0\n  snapshot_dir: snaps\n',
                encoding="utf-8",
            )
            params = load_params(path)
            folder = snapshot_folder(params)
            fake.delay_s = 0.05  # the first snapshot takes ~2 s
            first: list[Any] = []
            runner = threading.Thread(target=lambda: first.append(collect_live(params, folder)))
            runner.start()
            deadline = time.monotonic() + 5
            while not fake.app_commands() and time.monotonic() < deadline:
                time.sleep(0.01)
            with pytest.raises(SourceError, match="another snapshot is running"):
                collect_live(params, folder)
            runner.join(10)
        finally:
            os.environ.pop(ENV, None)
    assert not runner.is_alive() and len(first) == 1 and len(first[0]) == 1
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert written == first[0], "one snapshot written, no lock file left"


def test_without_a_snapshot_dir_the_lock_is_per_server(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with FakeMongo("7.0", "standalone") as slow, FakeMongo("7.0", "standalone") as other:
        slow.delay_s = 0.05
        results: list[Any] = []
        with params_for(slow.uri()) as params:
            runner = threading.Thread(target=lambda: results.append(collector.take_snapshot(params)))
            runner.start()
            deadline = time.monotonic() + 5
            while not slow.app_commands() and time.monotonic() < deadline:
                time.sleep(0.01)
            locks = list((tmp_path / "opsreview").iterdir())
            assert len(locks) == 1 and PASSWORD not in locks[0].name
            with pytest.raises(SourceError, match="another snapshot is running"):
                collector.take_snapshot(params)
        with params_for(other.uri()) as params:  # another server is not blocked
            (snap,) = collector.take_snapshot(params)
        runner.join(10)
    assert snap["errors"] == [] and len(results) == 1
    assert list((tmp_path / "opsreview").iterdir()) == []
