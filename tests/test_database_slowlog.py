"""Slow operations from MongoDB structured logs (4.4-8.0) and system.profile: rows, counts, masking, files."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from opsreview import engine
from opsreview.database import models, shapes, slowlog
from opsreview.database.slowlog import profile_row, read_log_file, slow_query_row
from opsreview.exceptions import SourceError

FIXTURES = Path(__file__).parent / "fixtures" / "mongodb_logs"
HOST = "db-a:27017"
VERSIONS = ("4.4", "6.0", "7.0", "8.0")


def _log(version: str) -> Path:
    return FIXTURES / f"mongod-{version}.log"


def _rows(version: str) -> list[dict[str, Any]]:
    table, _ = read_log_file(_log(version), HOST)
    return list(table.to_pylist())


def _by_op(rows: list[dict[str, Any]], op: str, ns: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["op"] == op and (ns is None or r["ns"] == ns)]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- what each version's lines give ---------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "lines", "slow", "non_json", "truncated", "first", "last"),
    [
        ("4.4", 9, 3, 1, 0, "2024-03-04T08:00:00.101+00:00", "2024-03-04T08:02:30.777+00:00"),
        ("6.0", 8, 5, 0, 0, "2024-03-04T09:00:00.000+00:00", "2024-03-04T09:12:44.001+00:00"),
        ("7.0", 8, 5, 0, 1, "2024-03-04T09:00:00.000+00:00", "2024-03-04T09:09:00.000+00:00"),
        ("8.0", 10, 6, 1, 0, "2024-03-04T11:00:00.000+00:00", "2024-03-04T11:06:00.000+00:00"),
    ],
)
def test_each_fixture_is_counted(
    version: str, lines: int, slow: int, non_json: int, truncated: int, first: str, last: str
) -> None:
    before = datetime.now(UTC)
    table, read = read_log_file(_log(version), HOST)
    assert table.schema == models.SLOW_QUERIES_SCHEMA
    assert table.num_rows == slow
    assert read["path"] == str(_log(version)) and read["host"] == HOST
    assert (read["lines"], read["slow_queries"], read["non_json"], read["truncated"]) == (
        lines,
        slow,
        non_json,
        truncated,
    )
    assert (read["first_ts"], read["last_ts"]) == (_utc(first), _utc(last))
    assert before <= read["ts"] <= datetime.now(UTC)
    models.to_arrow(models.LOG_READS, [read])  # the row fits its table
    assert set(table.column("host").to_pylist()) == {HOST}
    assert set(table.column("source").to_pylist()) == {str(_log(version))}


def test_4_4_find_write_statement_and_the_write_commands_own_line() -> None:
    rows = _rows("4.4")
    (find,) = _by_op(rows, "find")
    assert find["ts"] == _utc("2024-03-04T08:01:12.417+00:00")
    assert (find["ns"], find["app_name"], find["plan_summary"]) == ("shop.orders", "shop-api", "COLLSCAN")
    assert (find["duration_ms"], find["working_ms"]) == (412.0, None)
    assert (find["docs_examined"], find["keys_examined"], find["nreturned"]) == (184467, 0, 3)
    assert find["has_sort_stage"] is True and find["used_disk"] is None
    assert (find["shape_key"], find["shape_key_kind"], find["query_hash"]) == ("5F9A2C11", "queryHash", "5F9A2C11")
    assert find["plan_cache_shape_hash"] is None and find["query_shape_hash"] is None
    assert json.loads(find["shape"]) == {
        "filter": {"customerEmail": 1, "status": {"$in": [1]}},
        "sort": {"createdAt": -1},
    }
    example = json.loads(find["example"])
    assert example["find"] == "orders" and example["$db"] == "shop"
    assert "lsid" not in example and "$clusterTime" not in example

    statement, batch = _by_op(rows, "update")
    assert (statement["ns"], statement["n_modified"], statement["plan_summary"]) == ("shop.users", 1, "IDHACK")
    assert statement["shape_key_kind"] == "computed"
    assert statement["shape_key"] == shapes.shape_key("shop.users", "update", json.loads(statement["shape"]))
    assert json.loads(statement["shape"]) == {
        "filter": {"_id": 1},
        "update": {"$set": {"lastLoginIp": 1, "lastLoginAt": 1}, "$inc": {"loginCount": 1}},
        "multi": False,
        "upsert": False,
    }
    # the update command's own line: ns "shop.$cmd" names its collection, no statement in it
    assert (batch["ns"], batch["shape"], batch["duration_ms"]) == ("shop.users", "{}", 132.0)
    assert batch["shape_key"] != statement["shape_key"]


def test_6_0_aggregate_getmore_regexes_and_remove() -> None:
    rows = _rows("6.0")
    (agg,) = _by_op(rows, "aggregate")
    assert agg["used_disk"] is True and agg["has_sort_stage"] is True and agg["duration_ms"] == 1874
    assert [next(iter(stage)) for stage in json.loads(agg["shape"])["pipeline"]] == [
        "$match",
        "$lookup",
        "$unwind",
        "$group",
        "$sort",
        "$limit",
    ]
    (more,) = _by_op(rows, "getMore")
    # a getMore's shape is its originating find's
    assert json.loads(more["shape"]) == {
        "filter": {"merchantId": 1, "createdAt": {"$gte": 1}},
        "sort": {"createdAt": 1},
    }
    assert (more["nreturned"], more["query_hash"], more["shape_key"]) == (100, "9E8D7C6B", "9E8D7C6B")
    assert json.loads(more["example"])["originatingCommand"]["filter"] == {"merchantId": 1, "createdAt": {"$gte": 1}}
    (regex,) = _by_op(rows, "find", "shop.customers")
    assert json.loads(regex["shape"]) == {
        "filter": {"email": "/^…/", "lastName": "/…/"},
        "projection": {"passwordHash": 0, "email": 1},
    }
    removal, batch = _by_op(rows, "delete")
    assert removal["ns"] == batch["ns"] == "shop.sessions"
    assert json.loads(removal["shape"]) == {"filter": {"sessionToken": 1, "expiresAt": {"$lt": 1}}}


def test_7_0_offsets_plan_cache_and_a_truncated_line() -> None:
    rows = _rows("7.0")
    products = _by_op(rows, "find", "shop.products")[0]
    assert products["ts"] == _utc("2024-03-04T09:04:09.215+00:00")  # written as 10:04:09.215+01:00
    assert products["from_plan_cache"] is True
    assert json.loads(products["shape"])["sort"] == {"popularity": -1, "_id": 1}
    (fam,) = _by_op(rows, "findAndModify")
    assert json.loads(fam["shape"]) == {
        "filter": {"orderNumber": 1, "status": 1},
        "sort": {"createdAt": -1},
        "update": {"$set": {"status": 1, "trackingCode": 1}},
    }
    assert "txnNumber" not in fam["example"] and "autocommit" not in fam["example"]
    (count,) = _by_op(rows, "count")
    assert (count["plan_summary"], count["docs_examined"], count["nreturned"]) == ("COLLSCAN", 1250000, None)
    (distinct,) = _by_op(rows, "distinct")
    assert json.loads(distinct["shape"]) == {"key": "shippingAddress.city", "filter": {"merchantId": 1}}
    (cut,) = [r for r in rows if r["truncated"]]
    # still a row: what the server kept of the command, and its own hash
    assert (cut["op"], cut["ns"], cut["duration_ms"], cut["shape_key"]) == ("find", "shop.orders", 921.0, "0A1B2C3D")
    assert json.loads(cut["shape"]) == {"filter": {"_id": {"$in": [1]}}}
    assert sum(r["truncated"] for r in rows) == 1


def test_8_0_query_shape_hash_working_millis_and_renamed_plan_cache_hash() -> None:
    rows = _rows("8.0")
    (find,) = _by_op(rows, "find")
    assert (find["shape_key_kind"], find["shape_key"]) == ("queryShapeHash", find["query_shape_hash"])
    assert len(find["query_shape_hash"]) == 64
    assert (find["plan_cache_shape_hash"], find["query_hash"]) == ("A1B2C3D4", "A1B2C3D4")
    assert (find["duration_ms"], find["working_ms"]) == (763.0, 512.0)
    (agg,) = _by_op(rows, "aggregate")
    assert agg["shape_key_kind"] == "queryShapeHash" and agg["working_ms"] == 8123.0
    assert json.loads(agg["shape"])["pipeline"][0] == {
        "$match": {
            "$or": [{"status": 1}, {"refundAmount": {"$gt": 1}}],
            "$expr": {"$gt": ["$refundAmount", {"$multiply": ["$total", 1]}]},
        }
    }
    (more,) = _by_op(rows, "getMore")
    assert (more["shape_key_kind"], more["shape_key"]) == ("planCacheShapeHash", "C3D4E5F6")
    assert json.loads(more["shape"])["pipeline"][1] == {"$group": {"_id": "$carrier", "parcels": {"$sum": 1}}}
    (update,) = _by_op(rows, "update")
    assert (update["ns"], update["n_modified"], update["shape_key_kind"]) == ("shop.carts", 4210, "planCacheShapeHash")
    assert json.loads(update["shape"])["update"] == {
        "$set": {"state": 1},
        "$push": {"history": {"$each": [1], "$slice": 1}},
    }
    (insert,) = _by_op(rows, "insert")
    assert (insert["shape"], insert["shape_key_kind"]) == ("{}", "computed")
    (command,) = _by_op(rows, "command")
    assert (command["ns"], command["shape"], command["duration_ms"]) == (
        "shop.orders",
        '{"command":"createIndexes"}',
        5410.0,
    )


def test_rows_are_rows_of_the_table() -> None:
    assert tuple(models.SLOW_QUERIES_SCHEMA.names) == slowlog.COLUMNS
    for version in VERSIONS:
        rows = _rows(version)
        assert models.to_arrow(models.SLOW_QUERIES, rows).num_rows == len(rows)


# --- values never kept ------------------------------------------------------------------------

_NAME_KEYS = {"from", "localField", "foreignField", "as", "key"}  # names, kept by design
_VALUE_FIELDS = {"filter", "query", "q", "u", "update", "pipeline", "lsid", "$clusterTime", "getMore"}


def _leaves(value: Any, out: set[Any], parent: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k.startswith("$") and k in ("$oid", "$date", "$numberLong", "$uuid", "$binary", "$regularExpression"):
                _leaves(v, out, "value")
            elif k not in _NAME_KEYS:
                _leaves(v, out, k)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, out, parent)
    elif isinstance(value, str):
        if not value.startswith("$") and len(value) >= 3:  # shorter ones ("0", "i") are in every text
            out.add(value)
    elif isinstance(value, int | float) and not isinstance(value, bool) and value not in (0, 1, -1):
        out.add(value)


def _secrets() -> set[Any]:
    """Every value the fixtures' commands hold (filters, updates, pipelines, cursor and session ids)."""
    found: set[Any] = set()
    for version in VERSIONS:
        for line in _log(version).read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            attr = entry.get("attr", {})
            if entry.get("id") != 51803:
                continue
            for command in (attr.get("command"), attr.get("originatingCommand")):
                if not command:
                    continue
                for name, value in command.items():
                    names_a_collection = name == "update" and isinstance(value, str)  # {"update": "<collection>"}
                    if name in _VALUE_FIELDS and not names_a_collection:
                        _leaves(value, found)
            if "errMsg" in attr:
                found.add(re.search(r'"(.+@.+)"', attr["errMsg"]).group(1))  # type: ignore[union-attr]
    return found


def test_no_value_from_the_commands_reaches_any_row() -> None:
    secrets = _secrets()
    assert {"jane.doe@example.com", "64b7f0c2e13a4b5d6f708192", "marc.lemaire@example.org", 4999, 89.95} <= secrets
    assert len(secrets) > 40
    texts = [secret for secret in secrets if isinstance(secret, str)]
    numbers = [secret for secret in secrets if not isinstance(secret, str)]
    checked = 0
    for version in VERSIONS:
        for row in _rows(version):
            for column, cell in row.items():
                if not isinstance(cell, str):
                    continue
                checked += 1
                for secret in texts:  # as a token: "paid" may be inside a field name such as "paidAt"
                    assert not re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", cell), (version, column, secret)
                if column in ("shape", "example"):
                    for number in numbers:
                        assert not re.search(rf"(?<![\w.]){re.escape(str(number))}(?![\w.])", cell), (
                            version,
                            column,
                            number,
                        )
    assert checked > 100


def test_an_example_is_cut_at_2_kb() -> None:
    filter_ = {f"field_{i:03d}": {"$in": [i, i + 1]} for i in range(300)}
    entry = {
        "t": {"$date": "2024-03-04T08:00:00Z"},
        "id": 51803,
        "attr": {"type": "command", "ns": "a.b", "command": {"find": "b", "filter": filter_}},
    }
    row = slow_query_row(entry, "s", HOST)
    assert row is not None
    assert len(row["example"].encode()) <= slowlog.EXAMPLE_MAX_BYTES and row["example"].endswith("…")
    assert row["example"].startswith('{"find":"b","filter":{"field_000":{"$in":[1]}')
    assert len(row["shape"]) > 2048  # the shape itself is whole


# --- entries ------------------------------------------------------------------------------------


def test_lines_other_than_slow_queries_give_no_row() -> None:
    for line in _log("8.0").read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        assert (slow_query_row(entry, "s", HOST) is None) == (entry["id"] != 51803)
    assert slow_query_row([1, 2], "s", HOST) is None
    assert slow_query_row({"id": "51803"}, "s", HOST) is None


def test_a_slow_query_line_without_command_or_time_is_still_a_row() -> None:
    row = slow_query_row(
        {"id": 51803, "attr": {"type": "update", "ns": "db.c", "durationMillis": 200, "nModified": 3}}, "s", HOST
    )
    assert row is not None
    assert (row["ts"], row["op"], row["shape"], row["example"], row["n_modified"]) == (None, "update", "{}", None, 3)
    assert row["shape_key_kind"] == "computed"


def test_canonical_extended_json_numbers_and_dates() -> None:
    entry = {
        "t": {"$date": {"$numberLong": "1709539272417"}},
        "id": 51803,
        "attr": {
            "type": "command",
            "ns": "a.b",
            "command": {"find": "b"},
            "durationMillis": {"$numberLong": "150"},
            "docsExamined": {"$numberInt": "7"},
        },
    }
    row = slow_query_row(entry, "s", HOST)
    assert row is not None
    assert (row["ts"], row["duration_ms"], row["docs_examined"]) == (_utc("2024-03-04T08:01:12.417+00:00"), 150.0, 7)


def test_a_file_with_canonical_extended_json_dates(tmp_path: Path) -> None:
    entry = orjson.loads(_log("8.0").read_bytes().splitlines()[2])
    entry["t"] = {"$date": {"$numberLong": "1709550161330"}}
    path = tmp_path / "canonical.log"
    path.write_bytes(orjson.dumps(entry) + b"\n")
    (row,) = read_log_file(path, HOST)[0].to_pylist()
    assert row["ts"] == _utc("2024-03-04T11:02:41.330+00:00")
    assert row == slow_query_row(entry, str(path), HOST)


def test_profile_documents_of_every_kind() -> None:
    when = datetime(2024, 3, 4, 8, 30, 0, 250000)
    find = {
        "op": "query",
        "ns": "shop.orders",
        "command": {"find": "orders", "filter": {"email": "zoe@example.net", "name": re.compile("^Zo")}, "$db": "shop"},
        "keysExamined": 0,
        "docsExamined": 5000,
        "nreturned": 2,
        "hasSortStage": True,
        "planSummary": "COLLSCAN",
        "queryHash": "11223344",
        "millis": 240,
        "ts": when,  # naive, as pymongo returns it without tz_aware: UTC
        "appName": "shop-api",
    }
    row = profile_row(find, "profile:shop", HOST)
    assert row is not None
    assert (row["op"], row["ns"], row["duration_ms"], row["ts"]) == (
        "find",
        "shop.orders",
        240.0,
        when.replace(tzinfo=UTC),
    )
    assert json.loads(row["shape"]) == {"filter": {"email": 1, "name": "/^…/"}}
    assert (row["shape_key_kind"], row["source"], row["app_name"]) == ("queryHash", "profile:shop", "shop-api")
    assert "zoe" not in row["example"]

    more = {
        "op": "getmore",
        "ns": "shop.orders",
        "command": {"getMore": 99, "collection": "orders"},
        "originatingCommand": {"aggregate": "orders", "pipeline": [{"$match": {"total": Decimal("10.5")}}]},
        "millis": 120,
        "workingMillis": 100,
        "planCacheShapeHash": "55667788",
        "queryShapeHash": "AB" * 32,
        "ts": {"$date": "2024-03-04T09:00:00.000+02:00"},
    }
    row = profile_row(more, "profile:shop", HOST)
    assert row is not None
    assert (row["op"], row["working_ms"], row["shape_key_kind"]) == ("getMore", 100.0, "queryShapeHash")
    assert json.loads(row["shape"]) == {"pipeline": [{"$match": {"total": 1}}]}
    assert row["ts"] == _utc("2024-03-04T07:00:00+00:00")

    update = {
        "op": "update",
        "ns": "shop.users",
        "command": {"q": {"_id": uuid.uuid4()}, "u": {"$set": {"a": "b"}}, "multi": False},
        "nModified": 1,
        "millis": 101,
        "ts": datetime.now(UTC),
    }
    row = profile_row(update, "profile:shop", HOST)
    assert row is not None and row["op"] == "update" and json.loads(row["shape"])["update"] == {"$set": {"a": 1}}

    removal = {
        "op": "remove",
        "ns": "shop.s",
        "command": {"q": {"t": "tok-1"}, "limit": 0},
        "millis": 300,
        "ts": datetime.now(UTC),
    }
    row = profile_row(removal, "profile:shop", HOST)
    assert row is not None and (row["op"], row["shape"]) == ("delete", '{"filter":{"t":1}}')

    older = {
        "op": "update",
        "ns": "shop.users",
        "query": {"email": "x@y.z"},
        "updateobj": {"$inc": {"n": 2}},
        "millis": 130,
        "ts": datetime.now(UTC),
    }
    row = profile_row(older, "profile:shop", HOST)
    assert row is not None and json.loads(row["shape"]) == {"filter": {"email": 1}, "update": {"$inc": {"n": 1}}}

    agg = {
        "op": "command",
        "ns": "shop.orders",
        "command": {"aggregate": "orders", "pipeline": [], "cursor": {}},
        "millis": 500,
        "ts": datetime.now(UTC),
    }
    row = profile_row(agg, "profile:shop", HOST)
    assert row is not None and row["op"] == "aggregate"

    assert profile_row("not a document", "profile:shop", HOST) is None
    rows = [profile_row(doc, "profile:shop", HOST) for doc in (find, more, update, removal, older, agg)]
    models.to_arrow(models.SLOW_QUERIES, [r for r in rows if r is not None])


def test_a_command_the_profiler_cut_is_flagged_and_its_text_dropped() -> None:
    doc = {
        "op": "query",
        "ns": "shop.orders",
        "command": {"$truncated": '{ find: "orders", filter: { email: "kim@example.com" } }', "comment": "x"},
        "millis": 900,
        "ts": datetime.now(UTC),
    }
    row = profile_row(doc, "profile:shop", HOST)
    assert row is not None and row["truncated"] is True
    assert "kim@" not in row["example"] and "kim@" not in row["shape"]


# --- files --------------------------------------------------------------------------------------


def _same_rows(left: pa.Table, right: pa.Table) -> None:
    assert left.drop(["source"]).equals(right.drop(["source"]))


def _all_lines(tmp_path: Path) -> Path:
    path = tmp_path / "all.log"
    path.write_bytes(b"".join(_log(v).read_bytes() for v in VERSIONS))
    return path


def test_a_gzip_copy_gives_the_same_rows_and_counts(tmp_path: Path) -> None:
    plain = _all_lines(tmp_path)
    packed = tmp_path / "all.log.gz"
    with plain.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    table, read = read_log_file(plain, HOST)
    table_gz, read_gz = read_log_file(packed, HOST)
    assert table.num_rows == 19
    _same_rows(table, table_gz)
    assert set(table_gz.column("source").to_pylist()) == {str(packed)}
    for key in ("lines", "slow_queries", "non_json", "truncated", "first_ts", "last_ts"):
        assert read[key] == read_gz[key], key


def test_a_gzip_file_with_two_members_is_read_whole(tmp_path: Path) -> None:
    packed = tmp_path / "rotated.log.gz"
    packed.write_bytes(gzip.compress(_log("4.4").read_bytes()) + gzip.compress(_log("8.0").read_bytes()))
    table, read = read_log_file(packed, HOST)
    assert (table.num_rows, read["lines"]) == (9, 19)


@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_a_damaged_gzip_file_is_an_error_naming_it(tmp_path: Path, damage: str) -> None:
    data = gzip.compress(_all_lines(tmp_path).read_bytes())
    if damage == "cut":
        data = data[: len(data) // 2]
    else:
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
    path = tmp_path / "damaged.log.gz"
    path.write_bytes(data)
    with pytest.raises(SourceError) as caught:
        read_log_file(path, HOST)
    assert str(path) in str(caught.value) and "gzip" in str(caught.value)


def test_lines_that_are_not_json_objects_are_counted_never_an_error(tmp_path: Path) -> None:
    agg = _log("6.0").read_bytes().splitlines()[2]
    count = _log("7.0").read_bytes().splitlines()[4]
    lines = [
        agg,
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b"plain text from a wrapper",
        b'{"t":{"$date":"2024-03-04T09:59:00.000+00:00"},"s":"I","c":"COMMAND","id":51803,"attr":{"command":{',
        b'{"t":{"$date":"2024-03-04T09:59:01.000+00:00"},"id":51803,"attr":{"type":"command" "ns":"x"}}',
        count,
        b'{"t":{"$date":"2024-03-04T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":22943,"attr":{}}\r',
        b"\xff\xfe not utf-8",
    ]
    path = tmp_path / "odd.log"
    path.write_bytes(b"\n".join(lines))  # no newline at the end
    table, read = read_log_file(path, HOST)
    assert sorted(table.column("op").to_pylist()) == ["aggregate", "count"]
    assert read["lines"] == 10
    # blank, array, string, text, cut object, bytes: not shaped like an object; the broken
    # object is: it holds a slow-query id that DuckDB could not read
    assert read["non_json"] == 7
    assert read["slow_queries"] == 2


def test_a_broken_slow_query_line_among_aligned_ones_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _log("8.0").read_bytes().splitlines()
    broken = lines[2].replace(b'"type":"command",', b'"type":"command"', 1)  # one comma less: not JSON
    path = tmp_path / "broken.log"
    path.write_bytes(b"\n".join([*lines[:3], broken, *lines[3:]]) + b"\n")
    columns: list[int | None] = []
    found = slowlog._ids_in_column

    def spy(*args: Any) -> int | None:
        result = found(*args)
        columns.append(result)
        return result

    monkeypatch.setattr(slowlog, "_ids_in_column", spy)
    table, read = read_log_file(path, HOST)
    assert columns and None not in columns  # every line has "id" in the same column: no search needed
    assert (table.num_rows, read["lines"], read["non_json"]) == (6, 11, 2)


def test_a_log_rewritten_with_spaces_is_read_too(tmp_path: Path) -> None:
    entries = [orjson.loads(line) for line in _log("8.0").read_bytes().splitlines() if line.startswith(b"{")]
    lines = [json.dumps(e) for e in entries]  # "id": 51803, as Python writes JSON
    lines.insert(
        3, '{"t": {"$date": "2024-03-04T11:01:00.000+00:00"}, "id": 51803, "attr": {"type": "command" "ns": "x"}}'
    )
    path = tmp_path / "spaced.log"
    path.write_text("\n".join(lines) + "\n")
    table, read = read_log_file(path, HOST)
    assert table.num_rows == 6 and read["lines"] == 10
    assert read["non_json"] == 1  # the broken one
    assert table.drop(["source"]).equals(read_log_file(_log("8.0"), HOST)[0].drop(["source"]))


def test_a_file_whose_name_looks_like_a_pattern_is_read_as_itself(tmp_path: Path) -> None:
    odd = tmp_path / "mongod[1]*.log"
    shutil.copy(_log("8.0"), odd)
    shutil.copy(_log("4.4"), tmp_path / "mongod1x.log")  # what the name would match as a pattern
    table, read = read_log_file(odd, HOST)
    assert table.num_rows == 6 and read["path"] == str(odd)
    assert set(table.column("source").to_pylist()) == {str(odd)}


def test_an_empty_file_gives_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    table, read = read_log_file(path, HOST)
    assert table.num_rows == 0 and table.schema == models.SLOW_QUERIES_SCHEMA
    assert (read["lines"], read["non_json"], read["first_ts"], read["last_ts"]) == (0, 0, None, None)


def test_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="missing.log"):
        read_log_file(tmp_path / "missing.log", HOST)


def test_chunks_split_anywhere_give_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _all_lines(tmp_path)
    whole, read = read_log_file(path, HOST)
    for chunk in (97, 1000, 1733, 4096):
        monkeypatch.setattr(slowlog, "CHUNK_BYTES", chunk)
        table, counted = read_log_file(path, HOST)
        assert table.equals(whole), chunk
        assert counted == {**read, "ts": counted["ts"]}, chunk


def test_one_thread_or_every_core_give_the_same_rows(tmp_path: Path) -> None:
    path = _all_lines(tmp_path)
    one, read_one = read_log_file(path, HOST, threads=1)
    every, read_every = read_log_file(path, HOST)
    assert one.equals(every)
    assert read_one == {**read_every, "ts": read_one["ts"]}


def test_rows_read_from_a_file_are_the_rows_of_its_parsed_lines() -> None:
    for version in VERSIONS:
        source = str(_log(version))
        expected = []
        for line in _log(version).read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            row = slow_query_row(entry, source, HOST)
            if row is not None:
                expected.append(row)
        assert _rows(version) == expected, version


def test_rows_of_one_shape_hash_share_the_first_ones_shape_and_example(tmp_path: Path) -> None:
    lines = _log("4.4").read_bytes().splitlines()
    find = orjson.loads(lines[4])
    other = orjson.loads(lines[4])
    other["attr"]["command"]["filter"] = {"customerEmail": "lee@example.com", "status": {"$in": ["x"]}}
    other["attr"]["command"]["comment"] = "second"
    other["attr"]["durationMillis"] = 999
    unhashed = orjson.loads(lines[4])
    del unhashed["attr"]["queryHash"]
    unhashed["attr"]["command"]["comment"] = "third"
    path = tmp_path / "same-hash.log"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (find, other, unhashed)) + b"\n")
    first, second, third = read_log_file(path, HOST)[0].to_pylist()
    assert (first["shape_key"], second["shape_key"]) == ("5F9A2C11", "5F9A2C11")
    assert (second["shape"], second["example"]) == (first["shape"], first["example"])
    assert "comment" not in second["example"] and second["duration_ms"] == 999
    # without a server hash each command is masked: its own example, the key computed from the shape
    assert third["shape_key_kind"] == "computed" and '"comment":1' in third["example"]
    assert third["shape"] == first["shape"]


def test_rows_feed_the_shape_table(tmp_path: Path) -> None:
    table, _ = read_log_file(_all_lines(tmp_path), HOST)
    per_shape = shapes.shape_table(engine.connect().from_arrow(table))
    assert per_shape["count"].sum() == 19
    top = per_shape.iloc[0]
    assert (top["ns"], top["op"], top["total_ms"], top["shape_key_kind"]) == (
        "shop.orders",
        "aggregate",
        8130.0,
        "queryShapeHash",
    )
    assert top["collscan"] and top["in_memory_sort"] and top["working_ms_total"] == 8123
