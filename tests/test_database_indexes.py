"""database.indexes: ESR suggestions from masked shapes, served-by, advice ranking, unused/redundant/hidden."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest

from opsreview.database.indexes import (
    create_index_text,
    hidden_indexes,
    index_advice,
    parse_key,
    redundant_indexes,
    served_by,
    suggest_index,
    unused_indexes,
)
from opsreview.database.models import INDEXES, to_arrow

NOW = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------- keys


def test_parse_key_keeps_order_and_special_types() -> None:
    assert parse_key('{"userId": 1, "createdAt": -1}') == [("userId", 1), ("createdAt", -1)]
    assert parse_key('{"b": -1, "a": 1}') == [("b", -1), ("a", 1)]
    assert parse_key('{"_fts": "text", "_ftsx": 1}') == [("_fts", "text"), ("_ftsx", 1)]
    assert parse_key('{"loc": "2dsphere", "kind": 1}') == [("loc", "2dsphere"), ("kind", 1)]
    assert parse_key('{"tenant": "hashed"}') == [("tenant", "hashed")]
    assert parse_key('{"a": 1.0, "b": -1.0, "c": {"$numberInt": "-1"}}') == [("a", 1), ("b", -1), ("c", -1)]
    for bad in ("[]", "{}", "not json", '{"a": true}', '{"a": 0}'):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_create_index_text() -> None:
    assert (
        create_index_text("orders", [("userId", 1), ("createdAt", -1)])
        == "db.orders.createIndex({userId: 1, createdAt: -1})"
    )
    assert create_index_text("orders", '{"items.sku": 1}') == 'db.orders.createIndex({"items.sku": 1})'
    assert create_index_text("order-items", [("a", 1)]) == 'db.getCollection("order-items").createIndex({a: 1})'
    assert create_index_text("stats", [("a", 1)]) == 'db.getCollection("stats").createIndex({a: 1})'
    assert create_index_text("places", '{"loc": "2dsphere"}') == 'db.places.createIndex({loc: "2dsphere"})'


# ---------------------------------------------------------------------------- ESR suggestions


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # equality + sort + range: E, then S with its direction, then R
        (
            {"filter": {"createdAt": {"$gte": 1, "$lt": 1}, "userId": 1}, "sort": {"total": -1}},
            [("userId", 1), ("total", -1), ("createdAt", 1)],
        ),
        # $eq and $in are equality; the range field comes last whatever its place in the filter
        (
            {"filter": {"amount": {"$gt": 1}, "status": {"$in": [1]}, "shop": {"$eq": 1}}},
            [("status", 1), ("shop", 1), ("amount", 1)],
        ),
        # a sort on an equality field adds nothing
        ({"filter": {"userId": 1}, "sort": {"userId": -1, "createdAt": -1}}, [("userId", 1), ("createdAt", -1)]),
        # a range field that is also sorted on takes the sort's place (and direction)
        (
            {"filter": {"userId": 1, "createdAt": {"$gte": 1}}, "sort": {"createdAt": -1}},
            [("userId", 1), ("createdAt", -1)],
        ),
        # anchored regex is a range; unanchored one gives no bounds
        ({"filter": {"email": "/^…/", "name": "/…/", "shop": 1}}, [("shop", 1), ("email", 1)]),
        ({"filter": {"email": {"$regex": "/^…/i"}, "shop": 1}}, [("shop", 1)]),
        # $ne/$nin/$exists are (loose) ranges, after the tight ones
        (
            {"filter": {"state": {"$ne": 1}, "at": {"$lt": 1}, "tenant": 1}},
            [("tenant", 1), ("at", 1), ("state", 1)],
        ),
        # $and lists merge; dotted paths stay as they are
        (
            {"filter": {"$and": [{"customer.id": 1}, {"at": {"$gte": 1}}], "kind": {"$eq": 1}}},
            [("customer.id", 1), ("kind", 1), ("at", 1)],
        ),
        # $elemMatch on sub-fields
        (
            {"filter": {"items": {"$elemMatch": {"sku": 1, "qty": {"$gt": 1}}}}},
            [("items.sku", 1), ("items.qty", 1)],
        ),
        ({"filter": {"scores": {"$elemMatch": {"$gte": 1, "$lt": 1}}}}, [("scores", 1)]),
        # sort only
        ({"filter": {}, "sort": {"createdAt": -1}}, [("createdAt", -1)]),
        # count / delete / update / findAndModify use their filter (and sort)
        ({"filter": {"status": 1}}, [("status", 1)]),
        ({"filter": {"expiresAt": {"$lt": 1}}, "update": {"$set": {"x": 1}}}, [("expiresAt", 1)]),
        (
            {
                "filter": {"queue": 1, "lockedAt": {"$exists": 1}},
                "sort": {"priority": -1},
                "update": {"$set": {"a": 1}},
            },
            [("queue", 1), ("priority", -1), ("lockedAt", 1)],
        ),
        # distinct: the key after the equality fields
        ({"key": "status", "filter": {"shop": 1}}, [("shop", 1), ("status", 1)]),
        # an $or of one field's equalities is an $in; other fields keep their places
        ({"filter": {"$or": [{"a": 1}, {"a": {"$eq": 1}}], "c": {"$gt": 1}}}, [("a", 1), ("c", 1)]),
        # an $or across fields next to other fields: the other fields only
        ({"filter": {"tenant": 1, "$or": [{"a": 1}, {"b": 1}]}}, [("tenant", 1)]),
        # $where/$expr next to a field: the field
        ({"filter": {"tenant": 1, "$expr": {"$gt": ["$a", "$b"]}}}, [("tenant", 1)]),
    ],
)
def test_suggest_index_esr(shape: dict[str, Any], expected: list[tuple[str, int]]) -> None:
    assert suggest_index(shape) == expected


def test_suggest_index_aggregate_uses_leading_match_and_sort() -> None:
    shape = {
        "pipeline": [
            {"$match": {"userId": 1, "createdAt": {"$gte": 1}}},
            {"$sort": {"createdAt": -1}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
            {"$match": {"n": {"$gt": 1}}},  # after $group: not a collection field
        ]
    }
    assert suggest_index(shape) == [("userId", 1), ("createdAt", -1)]
    # $sort before $match (the optimizer swaps them), consecutive $match stages merge
    swapped = {"pipeline": [{"$sort": {"at": 1}}, {"$match": {"a": 1}}, {"$match": {"b": {"$in": [1]}}}, {"$limit": 1}]}
    assert suggest_index(swapped) == [("a", 1), ("b", 1), ("at", 1)]
    # a $match behind another stage is not the collection's filter
    assert suggest_index({"pipeline": [{"$lookup": {"from": "x"}}, {"$match": {"a": 1}}]}) is None
    assert suggest_index({"pipeline": [{"$geoNear": {"near": 1}}]}) is None


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"filter": {}},
        {"filter": {"$or": [{"a": 1}, {"b": {"$gt": 1}}]}},
        {"filter": {"$or": [{"a": 1}, {"b": 1}]}, "sort": {"c": 1}},
        {"filter": {"$where": "…"}},
        {"filter": {"$expr": {"$eq": ["$a", 1]}}},
        {"filter": {"$text": {"$search": 1}, "shop": 1}},
        {"filter": {"name": "/…/"}},
        {"filter": {"loc": {"$geoWithin": {"$centerSphere": 1}}}},
        {"filter": {"tags": {"$size": 1}}},
        {"pipeline": []},
    ],
)
def test_suggest_index_none_when_nothing_indexable(shape: dict[str, Any]) -> None:
    assert suggest_index(shape) is None


# ---------------------------------------------------------------------------- served_by


def test_served_by_prefix_equality_any_order_and_direction() -> None:
    existing = {
        "_id_": '{"_id": 1}',
        "status_1_userId_1_createdAt_-1_total_1": '{"status": 1, "userId": -1, "createdAt": -1, "total": 1}',
    }
    # E = {userId, status} (any order, any direction), S = createdAt -1
    assert served_by([("userId", 1), ("status", 1), ("createdAt", -1)], existing, equality=2) == (
        "status_1_userId_1_createdAt_-1_total_1"
    )
    # the sort reversed is served too (the index is walked backwards)
    assert served_by([("userId", 1), ("status", 1), ("createdAt", 1)], existing, equality=2)
    # without telling which fields are equalities, order matters
    assert served_by([("userId", 1), ("status", 1), ("createdAt", -1)], existing) is None
    # a field the index lacks, or a range field before the equality block ends
    assert served_by([("userId", 1), ("shop", 1)], existing, equality=2) is None
    assert served_by([("_id", 1)], existing, equality=1) == "_id_"
    assert served_by([("createdAt", -1)], existing) is None  # not a prefix


def test_served_by_mixed_sort_directions_need_all_same_or_all_reversed() -> None:
    same = {"ix": '{"a": 1, "b": -1}'}
    assert served_by([("a", 1), ("b", -1)], same) == "ix"
    assert served_by([("a", -1), ("b", 1)], same) == "ix"  # full reversal
    assert served_by([("a", 1), ("b", 1)], same) is None
    assert served_by([("a", -1), ("b", -1)], same) is None
    # range fields after the sort: any order, any direction
    index = {"ix": '{"t": 1, "at": -1, "x": -1, "y": 1}'}
    assert served_by([("t", 1), ("at", -1), ("y", 1), ("x", 1)], index, equality=1, sort=1) == "ix"
    assert served_by([("t", 1), ("at", 1), ("y", 1), ("x", 1)], index, equality=1, sort=1) == "ix"
    # a hashed field serves an equality, never a sort or range
    hashed = {"h": '{"tenant": "hashed", "at": 1}'}
    assert served_by([("tenant", 1), ("at", 1)], hashed, equality=1) == "h"
    assert served_by([("tenant", 1)], hashed) is None


# ---------------------------------------------------------------------------- index advice


def shape_row(ns: str, key: str, shape: dict[str, Any], **kw: Any) -> dict[str, Any]:
    row = {
        "ns": ns,
        "op": "find",
        "shape_key": key,
        "shape": json.dumps(shape),
        "count": 10,
        "total_ms": 5000.0,
        "docs_examined": 0,
        "keys_examined": 0,
        "nreturned": 10,
        "docs_per_returned": None,
        "keys_per_returned": None,
        "plan_summary": "IXSCAN",
        "collscan": False,
        "in_memory_sort": False,
    }
    row.update(kw)
    if row["docs_per_returned"] is None:
        row["docs_per_returned"] = row["docs_examined"] / max(row["nreturned"], 1)
    if row["keys_per_returned"] is None:
        row["keys_per_returned"] = row["keys_examined"] / max(row["nreturned"], 1)
    return row


def index_rows(rows: list[dict[str, Any]], ts: dt.datetime = NOW, host: str = "db1:27017") -> list[dict[str, Any]]:
    base = {"ts": ts, "host": host, "ops": 5, "since": NOW - dt.timedelta(days=30), "size_bytes": 4096}
    return [{**base, **row} for row in rows]


def indexes_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return to_arrow(INDEXES, rows).to_pandas()


def test_index_advice_ranks_by_wasted_bytes_and_marks_served_shapes() -> None:
    shapes = pd.DataFrame(
        [
            # a COLLSCAN on orders: 1,000,000 examined for 10 returned, 2 KB documents
            shape_row(
                "shop.orders",
                "A",
                {"filter": {"userId": 1, "createdAt": {"$gte": 1}}, "sort": {"createdAt": -1}},
                docs_examined=1_000_000,
                nreturned=10,
                collscan=True,
                plan_summary="COLLSCAN",
            ),
            # more documents wasted on events, but 100-byte ones: ranks below orders
            shape_row(
                "shop.events",
                "B",
                {"filter": {"kind": 1}},
                docs_examined=5_000_000,
                nreturned=0,
                collscan=True,
                plan_summary="COLLSCAN",
            ),
            # an existing index serves it: a plan problem, no command
            shape_row(
                "shop.orders",
                "C",
                {"filter": {"status": {"$in": [1]}, "shop": 1}},
                docs_examined=200_000,
                keys_examined=200_000,
                nreturned=100,
            ),
            # well targeted: not in the advice
            shape_row("shop.orders", "D", {"filter": {"x": 1}}, docs_examined=50, keys_examined=50, nreturned=50),
            # $or across fields: kept, no suggestion, a note
            shape_row(
                "shop.orders",
                "E",
                {"filter": {"$or": [{"email": 1}, {"phone": 1}]}},
                docs_examined=20_000,
                nreturned=1,
                collscan=True,
            ),
        ]
    )
    indexes = indexes_frame(
        index_rows(
            [
                {"ns": "shop.orders", "name": "_id_", "key": '{"_id": 1}'},
                {"ns": "shop.orders", "name": "shop_1_status_1", "key": '{"shop": 1, "status": 1, "at": 1}'},
            ]
        )
    )
    collections = pd.DataFrame(
        [
            {"ts": NOW - dt.timedelta(days=1), "ns": "shop.orders", "avg_obj_size": 999.0},
            {"ts": NOW, "ns": "shop.orders", "avg_obj_size": 2000.0},
            {"ts": NOW, "ns": "shop.events", "avg_obj_size": 100.0},
        ]
    )
    advice = index_advice(shapes, indexes, collections, examined_ratio=1000)
    assert list(advice["shape_key"]) == ["A", "B", "C", "E"]

    a = advice.iloc[0]
    assert a["suggestion"] == '{"userId": 1, "createdAt": -1}'
    assert a["command"] == "db.orders.createIndex({userId: 1, createdAt: -1})"
    assert a["served_by"] is None
    assert a["wasted_docs"] == 999_990
    assert a["avg_obj_size"] == 2000.0  # the latest collection snapshot
    assert a["impact_bytes"] == 999_990 * 2000.0
    assert "COLLSCAN" in a["why"]

    b = advice.iloc[1]
    assert b["impact_bytes"] == 5_000_000 * 100.0
    assert b["command"] == "db.events.createIndex({kind: 1})"

    c = advice.iloc[2]
    assert c["served_by"] == "shop_1_status_1"
    assert c["command"] is None and c["suggestion"] == '{"status": 1, "shop": 1}'
    assert "docs examined per returned" in c["why"]

    e = advice.iloc[3]
    assert e["suggestion"] is None and e["command"] is None
    assert "each branch" in e["note"]


def test_index_advice_merges_prefix_suggestions_and_sees_hidden_indexes() -> None:
    common = {"docs_examined": 100_000, "nreturned": 1, "collscan": True}
    shapes = pd.DataFrame(
        [
            shape_row("shop.orders", "short", {"filter": {"userId": 1}}, total_ms=9000.0, **common),
            shape_row("shop.orders", "long", {"filter": {"userId": 1}, "sort": {"at": -1}}, total_ms=100.0, **common),
            shape_row("shop.users", "hid", {"filter": {"email": 1}}, **common),
        ]
    )
    indexes = indexes_frame(
        index_rows([{"ns": "shop.users", "name": "email_1", "key": '{"email": 1}', "hidden": True}])
    )
    advice = index_advice(shapes, indexes, pd.DataFrame(columns=["ts", "ns", "avg_obj_size"]), examined_ratio=1000)
    by_key = advice.set_index("shape_key")
    # one index for both orders shapes: the longer suggestion keeps the command
    assert by_key.loc["long", "command"] == "db.orders.createIndex({userId: 1, at: -1})"
    assert by_key.loc["short", "same_index_as"] == "long" and by_key.loc["short", "command"] is None
    # a hidden index that would serve it is named; it does not count as serving
    assert by_key.loc["hid", "served_by"] is None
    assert by_key.loc["hid", "served_by_hidden"] == "email_1"
    # unknown object size: impact unknown, ranked after by total_ms
    assert advice["impact_bytes"].isna().all()
    assert list(advice["shape_key"]) == ["short", "hid", "long"]


def test_index_advice_without_poor_shapes_is_empty() -> None:
    shapes = pd.DataFrame([shape_row("a.b", "k", {"filter": {"x": 1}}, docs_examined=10, nreturned=10)])
    empty = pd.DataFrame(columns=["ts", "ns", "avg_obj_size"])
    assert index_advice(shapes, indexes_frame([]), empty, examined_ratio=1000).empty
    assert index_advice(shapes.iloc[:0], indexes_frame([]), empty, examined_ratio=1000).empty


def test_index_advice_does_not_judge_a_grouping_pipeline_by_documents_per_result() -> None:
    grouped = {"pipeline": [{"$match": {"status": 1}}, {"$group": {"_id": "$day", "n": {"$sum": 1}}}]}
    plain = {"pipeline": [{"$match": {"status": 1}}, {"$project": {"total": 1}}]}
    shapes = pd.DataFrame(
        [
            shape_row("shop.orders", "grouped", grouped, op="aggregate", docs_examined=50_000, nreturned=20),
            shape_row("shop.orders", "plain", plain, op="aggregate", docs_examined=50_000, nreturned=20),
            shape_row(
                "shop.orders", "scan", grouped, op="aggregate", docs_examined=50_000, nreturned=20, collscan=True
            ),
        ]
    )
    empty = pd.DataFrame(columns=["ts", "ns", "avg_obj_size"])
    advice = index_advice(shapes, indexes_frame([]), empty, examined_ratio=1000).set_index("shape_key")
    assert set(advice.index) == {"plain", "scan"}  # a collection scan is still one
    assert advice.loc["scan", "why"] == "COLLSCAN"


# ---------------------------------------------------------------------------- unused


def test_unused_indexes_judged_and_exceptions() -> None:
    old = NOW - dt.timedelta(days=30)
    young = NOW - dt.timedelta(days=2)
    earlier = index_rows(
        [{"ns": "shop.orders", "name": "used_later_1", "key": '{"used_later": 1}', "ops": 0}],
        ts=NOW - dt.timedelta(days=1),
    )
    latest = index_rows(
        [
            {"ns": "shop.orders", "name": "_id_", "key": '{"_id": 1}', "ops": 0, "since": old},
            {"ns": "shop.orders", "name": "used_later_1", "key": '{"used_later": 1}', "ops": 7, "since": old},
            {
                "ns": "shop.orders",
                "name": "legacy_1",
                "key": '{"legacy": 1}',
                "ops": 0,
                "since": old,
                "size_bytes": 9000,
            },
            {"ns": "shop.orders", "name": "fresh_1", "key": '{"fresh": 1}', "ops": 0, "since": young},
            {
                "ns": "shop.sessions",
                "name": "exp_1",
                "key": '{"exp": 1}',
                "ops": 0,
                "since": old,
                "ttl_seconds": 3600.0,
            },
            {"ns": "shop.orders", "name": "email_1", "key": '{"email": 1}', "ops": 0, "since": old, "unique": True},
            {"ns": "shop.orders", "name": "new_1", "key": '{"new": 1}', "ops": 0, "since": old, "building": True},
            {"ns": "shop.orders", "name": "nostats_1", "key": '{"n": 1}', "ops": None, "since": None},
            {"ns": "shop.orders", "name": "reads_1", "key": '{"reads": 1}', "ops": 0, "since": old},
        ]
    )
    secondary = index_rows(
        [{"ns": "shop.orders", "name": "reads_1", "key": '{"reads": 1}', "ops": 40, "since": old}], host="db2:27017"
    )
    frame = indexes_frame(earlier + latest + secondary)
    unused = unused_indexes(frame, NOW, days=7)
    got = {(r.name, r.host): r for r in unused.itertuples()}
    assert set(got) == {
        ("legacy_1", "db1:27017"),
        ("fresh_1", "db1:27017"),
        ("email_1", "db1:27017"),
        ("reads_1", "db1:27017"),
    }
    assert got[("legacy_1", "db1:27017")].judged
    assert not got[("fresh_1", "db1:27017")].judged  # counters younger than 7 days: not judged yet
    assert got[("fresh_1", "db1:27017")].age_days == pytest.approx(2)
    assert got[("email_1", "db1:27017")].unique
    assert got[("reads_1", "db1:27017")].ops_other_hosts == 40
    assert got[("legacy_1", "db1:27017")].ops_other_hosts == 0
    assert unused.iloc[0]["name"] == "legacy_1"  # judged first, largest first
    assert unused_indexes(frame, NOW, days=40)["judged"].sum() == 0


# ---------------------------------------------------------------------------- redundant


def test_redundant_prefix_and_duplicates() -> None:
    rows = index_rows(
        [
            {"ns": "shop.orders", "name": "_id_", "key": '{"_id": 1}'},
            {"ns": "shop.orders", "name": "userId_1", "key": '{"userId": 1}', "size_bytes": 111},
            {"ns": "shop.orders", "name": "userId_1_at_-1", "key": '{"userId": 1, "at": -1}'},
            {"ns": "shop.orders", "name": "userId_1_at_-1_total_1", "key": '{"userId": 1, "at": -1, "total": 1}'},
            # the reversal of a prefix: served by walking userId_1_at_-1 backwards
            {"ns": "shop.orders", "name": "userId_-1_at_1", "key": '{"userId": -1, "at": 1}'},
            # not a prefix: a direction differs without a full reversal
            {"ns": "shop.orders", "name": "userId_1_at_1", "key": '{"userId": 1, "at": 1}'},
            # unique / partial / TTL prefixes do more than their key
            {"ns": "shop.orders", "name": "code_1", "key": '{"code": 1}', "unique": True},
            {"ns": "shop.orders", "name": "code_1_x_1", "key": '{"code": 1, "x": 1}'},
            {"ns": "shop.orders", "name": "state_1", "key": '{"state": 1}', "partial": True},
            {"ns": "shop.orders", "name": "state_1_y_1", "key": '{"state": 1, "y": 1}'},
            {"ns": "shop.orders", "name": "at_1", "key": '{"at": 1}', "ttl_seconds": 60.0},
            {"ns": "shop.orders", "name": "at_1_z_1", "key": '{"at": 1, "z": 1}'},
            # a text prefix is not an index prefix
            {"ns": "shop.orders", "name": "a_1", "key": '{"a": 1}'},
            {"ns": "shop.orders", "name": "ab_1_c_1", "key": '{"ab": 1, "c": 1}'},
            # exact duplicates under two names
            {"ns": "shop.orders", "name": "sku_1", "key": '{"sku": 1}'},
            {"ns": "shop.orders", "name": "sku_idx", "key": '{"sku": 1}'},
            # covered only by a hidden index: not redundant
            {"ns": "shop.orders", "name": "m_1", "key": '{"m": 1}'},
            {"ns": "shop.orders", "name": "m_1_n_1", "key": '{"m": 1, "n": 1}', "hidden": True},
            # another collection is never compared
            {"ns": "shop.users", "name": "userId_1", "key": '{"userId": 1}'},
        ]
    )
    found = redundant_indexes(indexes_frame(rows))
    got = {(r.ns, r.index): r for r in found.itertuples()}
    assert set(got) == {
        ("shop.orders", "userId_1"),
        ("shop.orders", "userId_1_at_-1"),
        ("shop.orders", "userId_-1_at_1"),
        ("shop.orders", "sku_idx"),
    }
    assert got[("shop.orders", "userId_1")].covered_by == "userId_1_at_-1_total_1"  # the longest cover
    assert got[("shop.orders", "userId_1")].size_bytes == 111
    assert got[("shop.orders", "userId_1_at_-1")].covered_key == '{"userId": 1, "at": -1, "total": 1}'
    assert got[("shop.orders", "userId_-1_at_1")].kind == "prefix"
    assert got[("shop.orders", "sku_idx")].covered_by == "sku_1"
    assert got[("shop.orders", "sku_idx")].kind == "duplicate"


def test_duplicate_of_a_unique_index_is_the_plain_one() -> None:
    rows = index_rows(
        [
            {"ns": "a.b", "name": "a_unique", "key": '{"a": 1}', "unique": True},
            {"ns": "a.b", "name": "z_plain", "key": '{"a": 1}'},
        ]
    )
    found = redundant_indexes(indexes_frame(rows))
    assert list(zip(found["index"], found["covered_by"], strict=True)) == [("z_plain", "a_unique")]


def test_latest_snapshot_only_and_hidden_indexes() -> None:
    older = index_rows(
        [
            {"ns": "a.b", "name": "x_1", "key": '{"x": 1}'},
            {"ns": "a.b", "name": "x_1_y_1", "key": '{"x": 1, "y": 1}'},
        ],
        ts=NOW - dt.timedelta(days=1),
    )
    # x_1_y_1 was dropped since, and x_1 was hidden
    newer = index_rows([{"ns": "a.b", "name": "x_1", "key": '{"x": 1}', "hidden": True, "size_bytes": 777}])
    frame = indexes_frame(older + newer)
    assert redundant_indexes(frame).empty
    hidden = hidden_indexes(frame)
    assert list(hidden["name"]) == ["x_1"] and list(hidden["size_bytes"]) == [777]
    assert hidden_indexes(indexes_frame(older)).empty


def test_index_advice_takes_range_fields_in_any_order_and_never_trusts_a_partial_index() -> None:
    shape = {"filter": {"status": 1, "createdAt": {"$gte": 1}, "total": {"$lt": 1}}}
    shapes = pd.DataFrame(
        [
            shape_row(
                "shop.orders", "k", shape, collscan=True, plan_summary="COLLSCAN", docs_examined=10_000, nreturned=5
            )
        ]
    )
    empty = pd.DataFrame(columns=["ts", "ns", "avg_obj_size"])
    same_fields_other_order = indexes_frame(
        index_rows([{"ns": "shop.orders", "name": "s_t_c", "key": '{"status": 1, "total": 1, "createdAt": -1}'}])
    )
    advice = index_advice(shapes, same_fields_other_order, empty, examined_ratio=1000)
    assert advice.loc[0, "served_by"] == "s_t_c" and advice.loc[0, "command"] is None
    partial = indexes_frame(
        index_rows(
            [
                {
                    "ns": "shop.orders",
                    "name": "s_c_t",
                    "key": '{"status": 1, "createdAt": 1, "total": 1}',
                    "partial": True,
                }
            ]
        )
    )
    advice = index_advice(shapes, partial, empty, examined_ratio=1000)
    assert advice.loc[0, "served_by"] is None and advice.loc[0, "command"]


@pytest.mark.parametrize(
    "cover",
    [
        '{"a": 1, "_fts": "text", "_ftsx": 1}',  # compound text
        '{"a": 1, "loc": "2dsphere"}',  # compound 2dsphere
        '{"a": 1, "b": "hashed"}',  # compound hashed
        '{"a": 1, "$**": 1}',  # compound wildcard (7.0+)
        '{"a": 1, "b.$**": 1}',
    ],
)
def test_a_special_compound_index_never_covers_a_btree_index(cover: str) -> None:
    rows = index_rows(
        [
            {"ns": "shop.orders", "name": "a_1", "key": '{"a": 1}'},
            {"ns": "shop.orders", "name": "special", "key": cover},
        ]
    )
    assert redundant_indexes(indexes_frame(rows)).empty
    # the same prefix under a plain B-tree index is redundant
    plain = index_rows(
        [
            {"ns": "shop.orders", "name": "a_1", "key": '{"a": 1}'},
            {"ns": "shop.orders", "name": "a_1_b_1", "key": '{"a": 1, "b": 1}'},
        ]
    )
    assert list(redundant_indexes(indexes_frame(plain))["index"]) == ["a_1"]


def test_indexes_of_different_collations_are_never_redundant_with_each_other() -> None:
    rows = index_rows(
        [
            {"ns": "shop.users", "name": "email_1", "key": '{"email": 1}'},
            {"ns": "shop.users", "name": "email_1_ci", "key": '{"email": 1}'},
            {"ns": "shop.users", "name": "name_1", "key": '{"name": 1}'},
            {"ns": "shop.users", "name": "name_1_at_1", "key": '{"name": 1, "at": 1}'},
        ]
    )
    frame = indexes_frame(rows)
    # db_indexes has no collation column yet: without it, keys alone decide
    assert set(redundant_indexes(frame)["index"]) == {"email_1_ci", "name_1"}
    frame["collation"] = [None, "en", "fr", "fr"]  # the locale, when the frame has it
    found = redundant_indexes(frame)
    assert list(zip(found["index"], found["covered_by"], strict=True)) == [("name_1", "name_1_at_1")]
    frame["collation"] = ["en", "en", "fr", None]
    found = redundant_indexes(frame)
    assert list(zip(found["index"], found["covered_by"], strict=True)) == [("email_1_ci", "email_1")]
