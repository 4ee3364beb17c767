"""Query shapes: masking MongoDB commands (values never kept), shape keys, and the per-shape table."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from opsreview import engine
from opsreview.database import models
from opsreview.database.shapes import (
    SHAPE_COLUMNS,
    command_shape,
    mask_command,
    mask_value,
    masked_command_shape,
    op_of,
    shape_key,
    shape_table,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mongodb_logs"


# --- mask_value ------------------------------------------------------------------------------


def test_equality_values_become_one_and_operators_stay() -> None:
    query = {"email": "ann@example.com", "createdAt": {"$gte": {"$date": "2024-01-01T00:00:00Z"}, "$lt": 1712345678}}
    assert mask_value(query) == {"email": 1, "createdAt": {"$gte": 1, "$lt": 1}}


def test_list_operators_collapse_and_logical_operators_keep_their_branches() -> None:
    query = {
        "status": {"$in": ["a", "b", "c"]},
        "tags": {"$all": ["x", "y"]},
        "kind": {"$nin": [7, 8]},
        "$or": [{"a": 5}, {"b": {"$gt": 6}}, {"$and": [{"c": "q"}, {"d": {"$ne": None}}]}],
        "$nor": [{"e": True}],
    }
    assert mask_value(query) == {
        "status": {"$in": [1]},
        "tags": {"$all": [1]},
        "kind": {"$nin": [1]},
        "$or": [{"a": 1}, {"b": {"$gt": 1}}, {"$and": [{"c": 1}, {"d": {"$ne": 1}}]}],
        "$nor": [{"e": 1}],
    }


@pytest.mark.parametrize(
    ("regex", "marker"),
    [
        ({"$regularExpression": {"pattern": "^jane", "options": "i"}}, "/^…/"),
        ({"$regularExpression": {"pattern": "jane$", "options": ""}}, "/…/"),
        ({"$regex": "^ab", "$options": "i"}, "/^…/"),
        ({"$regex": "ab"}, "/…/"),
        ({"$regex": "\\Aab"}, "/^…/"),
        ("/^secret-prefix/i", "/^…/"),
        ("/middle/", "/…/"),
        (re.compile("^compiled"), "/^…/"),
        (re.compile("compiled"), "/…/"),
    ],
)
def test_regexes_in_every_form_keep_only_whether_they_are_anchored(regex: Any, marker: str) -> None:
    assert mask_value({"name": regex}) == {"name": marker}
    assert mask_value({"name": {"$not": regex}}) == {"name": {"$not": marker}}


def test_regex_with_other_operators_keeps_them() -> None:
    assert mask_value({"name": {"$regex": "^x", "$ne": "xy"}}) == {"name": {"$regex": "/^…/", "$ne": 1}}


@pytest.mark.parametrize(
    "value",
    [
        {"$oid": "64b7f0c2e13a4b5d6f708192"},
        {"$date": "2024-03-04T08:01:12.900Z"},
        {"$date": {"$numberLong": "1709539272000"}},
        {"$numberLong": "9007199254740993"},
        {"$numberDecimal": "12.50"},
        {"$binary": {"base64": "AAEC", "subType": "04"}},
        {"$uuid": "7c1f0a52-3e9b-4d7a-9f1e-2b6c8d4e5f60"},
        {"$timestamp": {"t": 1, "i": 2}},
        {"city": "Lyon", "zip": "69001"},  # equality on a whole subdocument
        ["a", "b"],  # equality on an array
        None,
        True,
        Decimal("3.14"),
        uuid.UUID(int=5),
        datetime(2024, 1, 1, tzinfo=UTC),
    ],
)
def test_values_of_any_kind_become_one(value: Any) -> None:
    assert mask_value({"field": value}) == {"field": 1}
    assert mask_value({"field": {"$eq": value}}) == {"field": {"$eq": 1}}


def test_elem_match_expr_and_geo_operands_keep_their_structure() -> None:
    query = {
        "items": {"$elemMatch": {"sku": "A-1", "qty": {"$gt": 3}}},
        "scores": {"$elemMatch": {"$gte": 80, "$lt": 85}},
        "$expr": {"$gt": ["$spent", {"$multiply": ["$budget", 1.5]}]},
        "loc": {"$near": {"$geometry": {"type": "Point", "coordinates": [4.8, 45.7]}, "$maxDistance": 500}},
        "n": {"$exists": False, "$type": "string", "$size": 3, "$mod": [4, 2]},
    }
    assert mask_value(query) == {
        "items": {"$elemMatch": {"sku": 1, "qty": {"$gt": 1}}},
        "scores": {"$elemMatch": {"$gte": 1, "$lt": 1}},
        "$expr": {"$gt": ["$spent", {"$multiply": ["$budget", 1]}]},
        "loc": {"$near": {"$geometry": 1, "$maxDistance": 1}},
        "n": {"$exists": 1, "$type": 1, "$size": 1, "$mod": 1},
    }


def test_expressions_keep_field_paths_but_not_strings_that_only_start_with_a_dollar() -> None:
    query = {"$expr": {"$eq": ["$passwordHash", "$2b$12$abcdefghijklmnopqrstuv"]}}
    assert mask_value(query) == {"$expr": {"$eq": ["$passwordHash", 1]}}


# --- command_shape ---------------------------------------------------------------------------


def test_find_shape_has_filter_sort_projection_only_when_present() -> None:
    full = {"find": "orders", "filter": {"a": 5}, "sort": {"b": -1, "c": 1}, "projection": {"x": 1, "y": 0}, "limit": 9}
    assert command_shape("find", full) == {
        "filter": {"a": 1},
        "sort": {"b": -1, "c": 1},
        "projection": {"x": 1, "y": 0},
    }
    assert command_shape("find", {"find": "orders", "filter": {"a": 5}}) == {"filter": {"a": 1}}
    assert command_shape("find", {"find": "orders"}) == {}


def test_aggregate_shape_masks_stage_by_stage() -> None:
    command = {
        "aggregate": "orders",
        "pipeline": [
            {"$match": {"customerId": "c-991", "total": {"$gte": 4999}}},
            {"$lookup": {"from": "customers", "localField": "customerId", "foreignField": "_id", "as": "c"}},
            {"$unwind": {"path": "$c", "preserveNullAndEmptyArrays": True}},
            {
                "$group": {
                    "_id": "$c.country",
                    "n": {"$sum": 1},
                    "big": {"$sum": {"$cond": [{"$gt": ["$total", 10000]}, 1, 0]}},
                }
            },
            {"$sort": {"n": -1}},
            {"$skip": 40},
            {"$limit": 20},
            {"$project": {"secret": 0, "label": {"$concat": ["$c.name", " VIP"]}}},
            {"$facet": {"top": [{"$limit": 3}]}},
            {"$out": "report_2024"},
        ],
        "cursor": {},
    }
    assert command_shape("aggregate", command) == {
        "pipeline": [
            {"$match": {"customerId": 1, "total": {"$gte": 1}}},
            {"$lookup": {"from": "customers", "localField": "customerId", "foreignField": "_id", "as": "c"}},
            {"$unwind": {"path": "$c", "preserveNullAndEmptyArrays": 1}},
            {
                "$group": {
                    "_id": "$c.country",
                    "n": {"$sum": 1},
                    "big": {"$sum": {"$cond": [{"$gt": ["$total", 1]}, 1, 1]}},
                }
            },
            {"$sort": {"n": -1}},
            {"$skip": 1},
            {"$limit": 1},
            {"$project": {"secret": 0, "label": {"$concat": ["$c.name", 1]}}},
            {"$facet": {"top": [{"$limit": 1}]}},
            {"$out": "report_2024"},
        ]
    }


def test_count_distinct_and_find_and_modify_shapes() -> None:
    assert command_shape("count", {"count": "users", "query": {"age": {"$gt": 37}}}) == {"filter": {"age": {"$gt": 1}}}
    assert command_shape("count", {"count": "users"}) == {"filter": {}}
    assert command_shape("distinct", {"distinct": "o", "key": "city", "query": {"m": "m_7"}}) == {
        "key": "city",
        "filter": {"m": 1},
    }
    fam = {
        "findAndModify": "o",
        "query": {"n": "ORD-1"},
        "sort": {"t": -1},
        "update": {"$set": {"s": "shipped"}},
        "new": True,
    }
    assert command_shape("findAndModify", fam) == {"filter": {"n": 1}, "sort": {"t": -1}, "update": {"$set": {"s": 1}}}
    removal = {"findAndModify": "o", "query": {"n": "ORD-2"}, "remove": True}
    assert command_shape("findAndModify", removal) == {"filter": {"n": 1}, "remove": True}


def test_update_shape_from_the_first_statement_or_a_bare_statement() -> None:
    statement = {
        "q": {"_id": {"$oid": "64b7f0c2e13a4b5d6f708192"}},
        "u": {
            "$set": {"ip": "203.0.113.9"},
            "$push": {"h": {"$each": [{"at": 5}], "$slice": -20}},
            "$unset": {"tmp": ""},
        },
        "multi": True,
        "upsert": False,
    }
    expected = {
        "filter": {"_id": 1},
        "update": {"$set": {"ip": 1}, "$push": {"h": {"$each": [1], "$slice": 1}}, "$unset": {"tmp": 1}},
        "multi": True,
        "upsert": False,
    }
    assert command_shape("update", {"update": "users", "updates": [statement, {"q": {}, "u": {}}]}) == expected
    assert command_shape("update", statement) == expected
    replacement = {"q": {"k": "v"}, "u": {"name": "Ann", "age": 44}}
    assert command_shape("update", replacement) == {"filter": {"k": 1}, "update": {"name": 1, "age": 1}}
    pipeline_update = {"q": {"k": "v"}, "u": [{"$set": {"lastUse": "$$NOW", "n": 3}}]}
    assert command_shape("update", pipeline_update)["update"] == [{"$set": {"lastUse": "$$NOW", "n": 1}}]
    # the write command's own log line carries no statement
    assert command_shape("update", {"update": "users", "ordered": True}) == {}


def test_delete_insert_getmore_and_other_commands() -> None:
    assert command_shape("delete", {"delete": "s", "deletes": [{"q": {"t": "tok"}, "limit": 0}]}) == {
        "filter": {"t": 1}
    }
    assert command_shape("delete", {"q": {"t": "tok"}, "limit": 1}) == {"filter": {"t": 1}}
    assert command_shape("insert", {"insert": "users", "documents": [{"email": "x@y.z"}]}) == {}
    origin = {"find": "orders", "filter": {"m": "m_1"}, "sort": {"c": 1}}
    assert command_shape("getMore", origin) == command_shape("find", origin) == {"filter": {"m": 1}, "sort": {"c": 1}}
    assert command_shape("getMore", {"getMore": 12345, "collection": "orders"}) == {"command": "getMore"}
    assert command_shape("command", {"createIndexes": "orders", "indexes": []}) == {"command": "createIndexes"}


@pytest.mark.parametrize(
    ("command", "op"),
    [
        ({"find": "c"}, "find"),
        ({"aggregate": "c"}, "aggregate"),
        ({"count": "c"}, "count"),
        ({"distinct": "c"}, "distinct"),
        ({"update": "c"}, "update"),
        ({"delete": "c"}, "delete"),
        ({"insert": "c"}, "insert"),
        ({"findAndModify": "c"}, "findAndModify"),
        ({"findandmodify": "c"}, "findAndModify"),
        ({"getMore": 5}, "getMore"),
        ({"createIndexes": "c"}, "command"),
        ({}, "command"),
        (None, "command"),
    ],
)
def test_op_of_is_the_first_key(command: Any, op: str) -> None:
    assert op_of(command) == op


# --- mask_command ----------------------------------------------------------------------------


def test_mask_command_drops_session_noise_and_keeps_names() -> None:
    command = {
        "find": "orders",
        "filter": {"email": "ann@example.com"},
        "limit": 77,
        "comment": "user ann@example.com asked",
        "hint": {"email": 1},
        "lsid": {"id": {"$uuid": "7c1f0a52-3e9b-4d7a-9f1e-2b6c8d4e5f60"}},
        "$clusterTime": {"clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "signature": {"hash": "h", "keyId": 9}},
        "$readPreference": {"mode": "secondaryPreferred"},
        "txnNumber": 4,
        "autocommit": False,
        "startTransaction": True,
        "apiVersion": "1",
        "signature": {"hash": "h"},
        "allowDiskUse": True,
        "$db": "shop",
    }
    assert mask_command(command) == {
        "find": "orders",
        "filter": {"email": 1},
        "limit": 1,
        "comment": 1,
        "hint": {"email": 1},
        "allowDiskUse": True,
        "$db": "shop",
    }


def test_mask_command_masks_documents_and_statements() -> None:
    insert = {"insert": "users", "documents": [{"email": "a@b.c", "pw": "hash"}, {"email": "d@e.f"}], "ordered": True}
    assert mask_command(insert) == {
        "insert": "users",
        "documents": [{"email": 1, "pw": 1}, {"email": 1}],
        "ordered": True,
    }
    update = {"update": "users", "updates": [{"q": {"e": "a@b.c"}, "u": {"$set": {"n": "Ann"}}, "upsert": True}]}
    assert mask_command(update) == {
        "update": "users",
        "updates": [{"q": {"e": 1}, "u": {"$set": {"n": 1}}, "upsert": True}],
    }
    delete = {"delete": "s", "deletes": [{"q": {"t": "tok"}, "limit": 1}]}
    assert mask_command(delete) == {"delete": "s", "deletes": [{"q": {"t": 1}, "limit": 1}]}
    # a WRITE log line's command is a bare statement
    assert mask_command({"q": {"t": "tok"}, "u": {"$inc": {"n": 5}}, "multi": False}) == {
        "q": {"t": 1},
        "u": {"$inc": {"n": 1}},
        "multi": False,
    }


def test_mask_command_keeps_the_first_value_only_when_it_names_a_collection() -> None:
    assert mask_command({"createUser": "alice", "pwd": "s3cret-Passw0rd", "roles": ["root"]}) == {
        "createUser": 1,
        "pwd": 1,
        "roles": [1],
    }
    assert mask_command({"getMore": 7251198461233907713, "collection": "orders"}) == {
        "getMore": 1,
        "collection": "orders",
    }
    assert mask_command({"$truncated": '{ find: "orders", filter: { email: "ann@example.com" } }'}) == {"$truncated": 1}
    assert mask_command({"explain": {"find": "o", "filter": {"a": "v"}}, "verbosity": "queryPlanner"}) == {
        "explain": {"find": "o", "filter": {"a": 1}},
        "verbosity": 1,
    }


def _fixture_commands() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(FIXTURES.glob("*.log")):
        for line in path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            attr = entry.get("attr", {})
            if entry.get("id") == 51803:
                kind = {"update": "update", "remove": "delete"}.get(attr["type"])
                found.append((kind or op_of(attr["command"]), attr["command"]))
                if "originatingCommand" in attr:
                    found.append(("getMore", attr["originatingCommand"]))
    assert len(found) >= 15
    return found


def test_the_shape_of_a_masked_command_is_the_shape_of_the_command() -> None:
    for op, command in _fixture_commands():
        masked = mask_command(command)
        assert masked_command_shape(op, masked) == command_shape(op, command), command
        assert command_shape(op, masked) == command_shape(op, command), command
        assert mask_command(masked) == masked, command


# --- shape_key -------------------------------------------------------------------------------


def test_shape_key_is_stable_short_hex_and_ignores_values() -> None:
    first = command_shape("find", {"find": "o", "filter": {"a": "x", "b": {"$gt": 5}}, "sort": {"c": -1}})
    second = command_shape("find", {"find": "o", "filter": {"a": "y", "b": {"$gt": 900}}, "sort": {"c": -1}})
    key = shape_key("shop.o", "find", first)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert key == shape_key("shop.o", "find", second)
    assert key == shape_key("shop.o", "find", orjson.loads(orjson.dumps(first)))  # a stored shape gives the same key


def test_shape_key_depends_on_namespace_operation_field_order_and_sort_direction() -> None:
    base = {"filter": {"a": 1}, "sort": {"b": 1, "c": 1}}
    key = shape_key("shop.o", "find", base)
    assert key != shape_key("shop.p", "find", base)
    assert key != shape_key("shop.o", "getMore", base)
    assert key != shape_key("shop.o", "find", {"filter": {"a": 1}, "sort": {"c": 1, "b": 1}})
    assert key != shape_key("shop.o", "find", {"filter": {"a": 1}, "sort": {"b": -1, "c": 1}})


# --- shape_table -----------------------------------------------------------------------------

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def _rows() -> list[dict[str, Any]]:
    def row(i: int, key: str, ms: float, **kw: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "ts": T0 + timedelta(minutes=i),
            "host": "db-a:27017",
            "source": "mongod.log",
            "ns": "shop.orders",
            "op": "find",
            "shape_key": key,
            "shape_key_kind": "queryHash",
            "shape": f'{{"filter":{{"k{key}":1}}}}',
            "duration_ms": ms,
            "example": f"example {key} {ms}",
        }
        base.update(kw)
        return base

    return [
        row(
            0,
            "A",
            100,
            plan_summary="IXSCAN { a: 1 }",
            docs_examined=10,
            keys_examined=20,
            nreturned=5,
            app_name="api",
            working_ms=90,
        ),
        row(
            1,
            "A",
            200,
            plan_summary="IXSCAN { a: 1 }",
            docs_examined=10,
            keys_examined=20,
            nreturned=5,
            app_name="worker",
        ),
        row(
            2,
            "A",
            300,
            plan_summary="COLLSCAN",
            docs_examined=1000,
            keys_examined=0,
            nreturned=0,
            app_name="api",
            working_ms=250,
        ),
        row(
            3,
            "A",
            400,
            plan_summary="IXSCAN { a: 1 }",
            docs_examined=10,
            keys_examined=20,
            nreturned=0,
            has_sort_stage=True,
        ),
        row(
            9, "A", 1000, plan_summary="IXSCAN { a: 1 }", docs_examined=0, keys_examined=0, nreturned=0, used_disk=True
        ),
        row(4, "B", 2500, docs_examined=50_000, keys_examined=0, nreturned=0, app_name="cron"),
        row(5, "C", 150, op="update", ns="shop.users", shape_key_kind="computed", plan_summary="IDHACK"),
    ]


def test_shape_table_aggregates_per_shape_costliest_first() -> None:
    rel = engine.connect().from_arrow(models.to_arrow(models.SLOW_QUERIES, _rows()))
    table = shape_table(rel)
    assert list(table.columns) == list(SHAPE_COLUMNS)
    assert list(table["shape_key"]) == ["B", "A", "C"]  # total 2500, 2000, 150
    a = table.set_index("shape_key").loc["A"]
    assert a["count"] == 5
    assert a["total_ms"] == 2000 and a["mean_ms"] == 400 and a["max_ms"] == 1000
    assert a["p95_ms"] == pytest.approx(880)  # between 400 and 1000, 0.8 of the way (continuous quantile)
    assert a["working_ms_total"] == 340  # the rows without working_ms do not count
    assert (a["docs_examined"], a["keys_examined"], a["nreturned"]) == (1030, 60, 10)
    assert a["docs_per_returned"] == pytest.approx(103) and a["keys_per_returned"] == pytest.approx(6)
    assert a["plan_summary"] == "IXSCAN { a: 1 }"  # the most frequent
    assert a["collscan"] and a["in_memory_sort"] and a["used_disk"]
    assert a["app_names"] == "api, worker"
    assert a["first_seen"] == T0 and a["last_seen"] == T0 + timedelta(minutes=9)
    assert a["example"] == "example A 1000" and a["shape"] == '{"filter":{"kA":1}}'
    assert a["shape_key_kind"] == "queryHash"
    b = table.set_index("shape_key").loc["B"]
    assert b["docs_per_returned"] == 50_000  # nothing returned: divided by 1
    assert b["app_names"] == "cron" and not b["collscan"] and not b["in_memory_sort"] and not b["used_disk"]
    c = table.set_index("shape_key").loc["C"]
    assert pd.isna(c["working_ms_total"])  # no row had workingMillis
    assert pd.isna(c["app_names"]) and c["ns"] == "shop.users" and c["op"] == "update"
    assert c["shape_key_kind"] == "computed"


def test_shape_table_keeps_apart_the_same_key_on_two_namespaces_or_ops() -> None:
    rows = _rows()[:2]
    rows[1]["ns"] = "shop.archive"
    rows.append({**_rows()[2], "op": "getMore"})
    table = shape_table(engine.connect().from_arrow(models.to_arrow(models.SLOW_QUERIES, rows)))
    assert sorted(zip(table["ns"], table["op"], strict=True)) == [
        ("shop.archive", "find"),
        ("shop.orders", "find"),
        ("shop.orders", "getMore"),
    ]


def test_shape_table_of_no_rows_is_empty_with_its_columns() -> None:
    table = shape_table(engine.connect().from_arrow(models.SCHEMAS[models.SLOW_QUERIES].empty_table()))
    assert table.empty and list(table.columns) == list(SHAPE_COLUMNS)
