"""Index advice from slow-query shapes, and unused, redundant and hidden indexes.

Pure functions over the store tables (:mod:`.models`): the slow-query *shape* table (one row
per ns/op/shape_key), ``db_indexes`` and ``db_collections``.

**Suggestions** (:func:`suggest_index`) follow MongoDB's ESR guideline: equality fields first
(any order among themselves), then the sort fields with their direction, then range fields.
As in the MongoDB manual, ``$eq``, a plain value and ``$in`` are equality; ``$gt/$gte/$lt/$lte``
and an anchored, case-sensitive regex (``/^…/``) are tight ranges; ``$ne``, ``$nin``,
``$exists``, ``$type`` and ``$not`` are loose ranges, placed after the tight ones (Atlas
Performance Advisor ranks them after range queries too; unlike Atlas, which puts sort last, we
keep ESR's sort-before-range so the sort is not done in memory). An unanchored or
case-insensitive regex (``/…/``, ``/^…/i``) gives no index bounds: it is left out. ``$elemMatch: {a: …, b: …}`` on ``items`` gives ``items.a``, ``items.b``
(as keyhole does); ``$elemMatch`` with operators on the element itself gives ``items``.
Not indexed: ``$where``, ``$expr``, ``$size``, ``$mod``, geo operators (those need a 2dsphere
index, which we do not propose), ``$nor``. ``$text`` needs a text index: no suggestion at all.

``$or``: a B-tree index serves an ``$or`` only when *each branch* has its own index. We keep it
simple: an ``$or`` whose branches are all equalities on one same field is an ``$in``
(equality); any other ``$or`` is left out of the suggestion (if the rest of the filter has
fields, those are suggested and the ``$or`` is applied on the fetched documents); when the
``$or`` is the whole filter there is no suggestion and the advice's ``note`` says that each
branch needs its own index. At most 32 fields are kept (MongoDB's compound index limit).

Aggregations: the leading run of ``$match``/``$sort`` stages (the optimizer moves a ``$match``
before a ``$sort`` and merges consecutive ``$match`` stages) stands for the filter and sort.
``distinct``: the distinct key comes after the equality fields, like a sort (a DISTINCT_SCAN
walks it in order). ``findAndModify``: filter and sort; ``update``/``delete``/``count``: filter.

**Served** (:func:`served_by`): an existing index serves a suggestion when the suggestion is a
prefix of the index's key, with the equality fields in any order among themselves (and any
direction), the sort fields in order with the same directions or all of them reversed, and
the range fields in any order (any direction) after them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KeyValue = int | str
Key = list[tuple[str, KeyValue]]  # an index key: directions, or "text"/"2dsphere"/"hashed"
Suggestion = list[tuple[str, int]]  # a suggested key: directions only

MAX_FIELDS = 32  # MongoDB's limit on the fields of a compound index
_RANGE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_LOOSE_OPS = frozenset({"$ne", "$nin", "$exists", "$type", "$not"})
_EQ_OPS = frozenset({"$eq", "$in", "$all"})
_UNINDEXED_OPS = frozenset(
    {"$size", "$mod", "$where", "$expr", "$geoWithin", "$geoIntersects", "$near", "$nearSphere", "$within", "$box"}
)
_MASKED_REGEX = re.compile(r"/(.*)/([a-z]*)", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# Methods and properties of mongosh's `db`: a collection so named needs db.getCollection("…").
_DB_MEMBERS = frozenset(
    {
        "adminCommand",
        "aggregate",
        "auth",
        "commandHelp",
        "createCollection",
        "createUser",
        "createView",
        "currentOp",
        "dropDatabase",
        "getCollection",
        "getCollectionNames",
        "getMongo",
        "getName",
        "getSiblingDB",
        "hello",
        "help",
        "killOp",
        "logout",
        "runCommand",
        "serverStatus",
        "stats",
        "version",
        "watch",
    }
)


# ---------------------------------------------------------------------------- keys


def _key_value(value: Any) -> KeyValue:
    if isinstance(value, dict) and len(value) == 1:  # Extended JSON: {"$numberInt": "1"}
        (kind, inner), *_ = value.items()
        if kind in ("$numberInt", "$numberLong", "$numberDouble", "$numberDecimal"):
            value = float(inner)
    if isinstance(value, bool):
        raise ValueError("an index key value is a number or a string, not a boolean")
    if isinstance(value, int | float):
        if value != value or value == 0:
            raise ValueError("an index key direction is a non-zero number")
        return 1 if value > 0 else -1
    if isinstance(value, str):
        return value
    raise ValueError(f"unexpected index key value of type {type(value).__name__}")


def parse_key(key_json: str) -> Key:
    """``'{"userId": 1, "createdAt": -1}'`` → ``[("userId", 1), ("createdAt", -1)]``, order kept.

    Numeric directions become 1/-1 (``1.0`` and ``{"$numberInt": "1"}`` too); ``text``,
    ``2dsphere``, ``hashed``, … stay strings. Raises ValueError on anything but a non-empty
    JSON object.
    """
    key = json.loads(key_json)  # a dict keeps the JSON object's order
    if not isinstance(key, dict) or not key:
        raise ValueError("an index key is a non-empty JSON object")
    return [(str(name), _key_value(value)) for name, value in key.items()]


def _as_key(key: str | Sequence[tuple[str, KeyValue]] | Mapping[str, KeyValue]) -> Key:
    if isinstance(key, str):
        return parse_key(key)
    if isinstance(key, Mapping):
        return [(str(k), _key_value(v)) for k, v in key.items()]
    return [(str(k), v) for k, v in key]


def key_json(key: Sequence[tuple[str, KeyValue]]) -> str:
    """The key as JSON, field order kept (the ``key`` column's form)."""
    return json.dumps(dict(key))


def _field_text(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else json.dumps(name)


def create_index_text(coll: str, key: str | Sequence[tuple[str, KeyValue]] | Mapping[str, KeyValue]) -> str:
    """The mongosh command: ``db.orders.createIndex({userId: 1, createdAt: -1})``.

    Field names that are not JavaScript identifiers are quoted (``{"items.sku": 1}``); a
    collection whose name is not an identifier, or clashes with a ``db`` method, is reached
    through ``db.getCollection("…")``.
    """
    fields = ", ".join(f"{_field_text(name)}: {json.dumps(value)}" for name, value in _as_key(key))
    target = (
        f"db.{coll}"
        if _IDENTIFIER.fullmatch(coll) and coll not in _DB_MEMBERS
        else f"db.getCollection({json.dumps(coll)})"
    )
    return f"{target}.createIndex({{{fields}}})"


# ---------------------------------------------------------------------------- suggestions


@dataclass
class _Plan:
    """The fields of one shape by role, in first-seen order."""

    equality: list[str] = field(default_factory=list)
    sort: list[tuple[str, int]] = field(default_factory=list)
    tight: list[str] = field(default_factory=list)  # $gt/$lt/anchored regex
    loose: list[str] = field(default_factory=list)  # $ne/$nin/$exists/$type/$not
    blocked: str | None = None  # why no index can be suggested at all ($text)
    ors: int = 0  # $or clauses left out of the suggestion (not one field's equalities)

    def add(self, bucket: list[str], name: str) -> None:
        if name not in bucket:
            bucket.append(name)

    def key(self) -> tuple[Suggestion, int]:
        """The ESR key and how many of its leading fields are equality fields."""
        eq = list(self.equality)
        sort = [(f, d) for f, d in self.sort if f not in eq]
        taken = set(eq) | {f for f, _ in sort}
        ranges: list[str] = []
        for name in [*self.tight, *self.loose]:
            if name not in taken and name not in ranges:
                ranges.append(name)
        key: Suggestion = [(f, 1) for f in eq] + [(f, d) for f, d in sort] + [(f, 1) for f in ranges]
        return key[:MAX_FIELDS], min(len(eq), MAX_FIELDS)


def _regex_kind(text: str, options: str = "") -> str:
    """'tight' for an anchored case-sensitive regex, else 'none' (no index bounds)."""
    match = _MASKED_REGEX.fullmatch(text)
    pattern, flags = (match.group(1), match.group(2)) if match else (text, "")
    flags += options
    return "tight" if pattern.startswith("^") and "i" not in flags and "x" not in flags else "none"


def _is_masked_regex(value: Any) -> bool:
    return isinstance(value, str) and _MASKED_REGEX.fullmatch(value) is not None


def _operand(plan: _Plan, name: str, value: Any) -> None:
    """One field's condition into the plan."""
    if _is_masked_regex(value):
        if _regex_kind(value) == "tight":
            plan.add(plan.tight, name)
        return
    if not isinstance(value, dict) or not value or not all(str(k).startswith("$") for k in value):
        plan.add(plan.equality, name)  # a value, an array or an embedded document: equality
        return
    ops = set(value)
    if "$elemMatch" in ops:
        inner = value["$elemMatch"]
        if isinstance(inner, dict) and inner and not all(str(k).startswith("$") for k in inner):
            sub = _Plan()
            _filter(sub, inner)
            for bucket, sub_bucket in ((plan.equality, sub.equality), (plan.tight, sub.tight), (plan.loose, sub.loose)):
                for sub_name in sub_bucket:
                    plan.add(bucket, f"{name}.{sub_name}")
        elif isinstance(inner, dict):
            _operand(plan, name, inner)
        return
    if ops & _EQ_OPS and not ops & (_RANGE_OPS | {"$regex"}):
        plan.add(plan.equality, name)
    elif ops & _RANGE_OPS or (
        "$regex" in ops and _regex_kind(str(value["$regex"]), str(value.get("$options", ""))) == "tight"
    ):
        plan.add(plan.tight, name)
    elif ops & _LOOSE_OPS:
        plan.add(plan.loose, name)
    # else: $size, $mod, geo operators, ...: not in the suggestion


def _or_as_in(branches: Any) -> str | None:
    """The field of an $or whose branches are all one equality on the same field, else None."""
    if not isinstance(branches, list) or not branches:
        return None
    names = set()
    for branch in branches:
        if not isinstance(branch, dict) or len(branch) != 1:
            return None
        (name, value), *_ = branch.items()
        if name.startswith("$"):
            return None
        probe = _Plan()
        _operand(probe, name, value)
        if probe.equality != [name]:
            return None
        names.add(name)
    return names.pop() if len(names) == 1 else None


def _filter(plan: _Plan, query: Any) -> None:
    if not isinstance(query, dict):
        return
    for name, value in query.items():
        if name == "$and" and isinstance(value, list):
            for clause in value:
                _filter(plan, clause)
        elif name == "$or":
            same = _or_as_in(value)
            if same:
                plan.add(plan.equality, same)
            else:
                plan.ors += 1
        elif name == "$text":
            plan.blocked = "$text needs a text index"
        elif name.startswith("$"):
            continue  # $where, $expr, $nor, $comment, $jsonSchema: not indexable here
        else:
            _operand(plan, name, value)


def _sort(value: Any) -> list[tuple[str, int]]:
    if not isinstance(value, dict):
        return []
    out = []
    for name, direction in value.items():
        if (
            name == "$natural"
            or isinstance(direction, bool)
            or not isinstance(direction, int | float)
            or direction == 0
        ):
            continue  # {$meta: "textScore"}, $natural: not an index order
        out.append((name, 1 if direction > 0 else -1))
    return out


def _plan(shape: Mapping[str, Any]) -> _Plan:
    plan = _Plan()
    if "pipeline" in shape:
        pipeline = shape.get("pipeline")
        for stage in pipeline if isinstance(pipeline, list) else []:
            if not isinstance(stage, dict) or len(stage) != 1:
                break
            (name, body), *_ = stage.items()
            if name == "$match":
                _filter(plan, body)
            elif name == "$sort" and not plan.sort:
                plan.sort = _sort(body)
            else:
                break
        return plan
    _filter(plan, shape.get("filter"))
    plan.sort = _sort(shape.get("sort"))
    if isinstance(shape.get("key"), str) and not plan.sort:  # distinct
        plan.sort = [(shape["key"], 1)]
    return plan


def _suggest(shape: Mapping[str, Any]) -> tuple[Suggestion | None, int, str | None, int | None]:
    """(key, equality fields, note, sort fields) of a shape: the sort fields follow the
    equality fields in the key, the range fields come last (any order serves them)."""
    plan = _plan(shape)
    if plan.blocked:
        return None, 0, plan.blocked, None
    if plan.ors and not (plan.equality or plan.tight or plan.loose):
        return None, 0, "$or across fields: each branch needs its own index (suggest one per branch)", None
    key, n_eq = plan.key()
    if key:
        n_sort = sum(1 for f, _ in key[n_eq:] if f in {name for name, _ in plan.sort})
        return key, n_eq, None, n_sort
    return (
        None,
        0,
        "no indexable filter or sort (no filter, or only $where/$expr/geo operators or unanchored regexes)",
        None,
    )


def suggest_index(shape: Mapping[str, Any]) -> Suggestion | None:
    """The ESR index for a masked shape (see the module's docstring), or None when nothing is indexable.

    ``{"filter": {"userId": 1, "createdAt": {"$gte": 1}}, "sort": {"total": -1}}`` →
    ``[("userId", 1), ("total", -1), ("createdAt", 1)]``.
    """
    key, _, _, _ = _suggest(shape)
    return key


def served_by(
    suggested: Sequence[tuple[str, KeyValue]],
    existing_keys: Mapping[str, str | Sequence[tuple[str, KeyValue]]],
    equality: int = 0,
    sort: int | None = None,
) -> str | None:
    """The name of an existing index (``{name: key}``, key as JSON or pairs) that serves the suggestion.

    ``equality`` is how many leading fields of ``suggested`` are equality fields (any order,
    any direction in the index; a hashed field serves an equality too); the next ``sort``
    fields (default: all the rest) are sort fields, to be matched in order with the same
    directions or all reversed; fields after those are range fields (any order, any
    direction, not hashed). With the defaults every field is a sort field: a plain prefix
    match, or the full reversal of one. The first serving index in ``existing_keys`` order
    wins; None when none does.
    """
    wanted = list(suggested)
    n = len(wanted)
    if n == 0:
        return None
    n_sort = n - equality if sort is None else sort
    eq_fields = {f for f, _ in wanted[:equality]}
    sort_part = wanted[equality : equality + n_sort]
    range_fields = {f for f, _ in wanted[equality + n_sort :]}
    for name, key in existing_keys.items():
        have = _as_key(key)
        if len(have) < n:
            continue
        head = have[:equality]
        if {f for f, _ in head} != eq_fields or any(v not in (1, -1, "hashed") for _, v in head):
            continue
        mid = have[equality : equality + n_sort]
        if [f for f, _ in mid] != [f for f, _ in sort_part] or any(not isinstance(v, int) for _, v in mid):
            continue
        same = all(v == d for (_, v), (_, d) in zip(mid, sort_part, strict=True))
        flipped = all(v == -d for (_, v), (_, d) in zip(mid, sort_part, strict=True) if isinstance(d, int))
        if mid and not (same or flipped):
            continue
        tail = have[equality + n_sort : n]
        if {f for f, _ in tail} != range_fields or any(not isinstance(v, int) for _, v in tail):
            continue
        return str(name)
    return None


# ---------------------------------------------------------------------------- frames


def _ns_coll(ns: str) -> str:
    return ns.split(".", 1)[1] if "." in ns else ns


def _latest_per_host(indexes: pd.DataFrame) -> pd.DataFrame:
    """The rows of each host's latest snapshot."""
    if indexes.empty:
        return indexes
    ts = pd.to_datetime(indexes["ts"], utc=True)
    latest = ts.groupby(indexes["host"]).transform("max")
    return indexes[ts == latest]


def _definitions(indexes: pd.DataFrame) -> pd.DataFrame:
    """One row per ns/name from the latest snapshot of each host (the largest size kept)."""
    latest = _latest_per_host(indexes)
    if latest.empty:
        return latest
    latest = latest.sort_values("size_bytes", ascending=False, na_position="last", kind="stable")
    return latest.drop_duplicates(["ns", "name"]).sort_values(["ns", "name"], kind="stable").reset_index(drop=True)


def _flag(value: Any) -> bool:
    """A nullable boolean cell: None, NaN and pd.NA are False."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(value)


def _bools(frame: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column with nulls as False (all False when the column is absent)."""
    if column not in frame:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame[column].map(_flag).astype(bool)


def _with_none(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Text columns as objects with None for missing (pandas would otherwise store NaN)."""
    for column in columns:
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number


def _is_ttl(value: Any) -> bool:
    return value is not None and not pd.isna(value)


ADVICE_COLUMNS = [
    "ns",
    "shape_key",
    "op",
    "shape",
    "why",
    "suggestion",
    "command",
    "served_by",
    "served_by_hidden",
    "same_index_as",
    "note",
    "wasted_docs",
    "avg_obj_size",
    "impact_bytes",
    "count",
    "total_ms",
]

_SERVED_NOTE = "an existing index serves this shape: a plan problem (plan cache, hint, collation, multikey bounds), not a missing index"
_ADVICE_TEXT = ADVICE_COLUMNS[: ADVICE_COLUMNS.index("note") + 1]  # the text columns


def _ratio(frame: pd.DataFrame, column: str, examined: str) -> pd.Series:
    given = pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(np.nan, index=frame.index)
    if examined in frame and "nreturned" in frame:
        own = pd.to_numeric(frame[examined], errors="coerce") / pd.to_numeric(frame["nreturned"], errors="coerce").clip(
            lower=1
        )
        given = given.fillna(own)
    return given.astype(float)


_REDUCING_STAGES = frozenset({"$group", "$count", "$bucket", "$bucketAuto", "$sortByCount", "$facet"})


def _reduces(shape: Any) -> bool:
    """An aggregation whose pipeline folds documents together ($group, $count, ...): its
    documents examined per document returned is no measure of targeting."""
    if isinstance(shape, str):
        try:
            shape = json.loads(shape)
        except ValueError:
            return False
    pipeline = shape.get("pipeline") if isinstance(shape, dict) else None
    if not isinstance(pipeline, list):
        return False
    return any(isinstance(stage, dict) and _REDUCING_STAGES & set(stage) for stage in pipeline)


def index_advice(
    shapes: pd.DataFrame, indexes: pd.DataFrame, collections: pd.DataFrame, examined_ratio: float
) -> pd.DataFrame:
    """Index suggestions for the poorly targeted shapes, ranked by an estimate of wasted bytes read.

    A shape is taken when it did a COLLSCAN, examined more than ``examined_ratio`` documents
    or keys per document returned (a shape that returned nothing counts as returning one), or
    sorted in memory; ``why`` says which. For each: the ESR ``suggestion`` (key JSON) and its
    ``command``; ``served_by``: an existing, visible index that already serves it (then the
    slowness is a plan problem, not a missing index: ``command`` is None);
    ``served_by_hidden``: a *hidden* index that would serve it (unhiding it is the fix);
    ``same_index_as``: the shape_key of another shape of the same ns whose suggested index
    also serves this one (one index for both: ``command`` only on that one, as Atlas
    de-duplicates prefixes); ``note``: why there is no suggestion, or that an index serves it.

    ``wasted_docs`` = docs_examined − nreturned (not below 0; for updates and deletes nothing
    is "returned", so it is every document examined); ``avg_obj_size`` from the latest
    ``db_collections`` row of the ns; ``impact_bytes`` = wasted_docs × avg_obj_size. Atlas
    Performance Advisor ranks by "total wasted bytes read" but does not publish its formula:
    impact_bytes is *our estimate* in that spirit, not Atlas's number. Rows are ranked by
    impact_bytes (unknown last), then total_ms.
    """
    if shapes.empty:
        return pd.DataFrame(columns=ADVICE_COLUMNS)
    frame = shapes.reset_index(drop=True)
    docs_ratio = _ratio(frame, "docs_per_returned", "docs_examined")
    keys_ratio = _ratio(frame, "keys_per_returned", "keys_examined")
    collscan = _bools(frame, "collscan")
    sorted_in_memory = _bools(frame, "in_memory_sort")
    reducing = [_reduces(shape) for shape in frame.get("shape", pd.Series([None] * len(frame)))]
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for i in range(len(frame)):
        if collscan.iloc[i]:
            reasons[i].append("COLLSCAN")
        if reducing[i]:
            pass  # $group/$count/...: many documents in, few out by design - the ratio says nothing
        elif docs_ratio.iloc[i] > examined_ratio:
            reasons[i].append(f"{docs_ratio.iloc[i]:.0f} docs examined per returned")
        if not reducing[i] and keys_ratio.iloc[i] > examined_ratio:
            reasons[i].append(f"{keys_ratio.iloc[i]:.0f} keys examined per returned")
        if sorted_in_memory.iloc[i]:
            reasons[i].append("in-memory sort")
    keep = [i for i, r in enumerate(reasons) if r]
    if not keep:
        return pd.DataFrame(columns=ADVICE_COLUMNS)
    frame = frame.iloc[keep].reset_index(drop=True)
    whys = ["; ".join(reasons[i]) for i in keep]

    defs = _definitions(indexes) if not indexes.empty else indexes
    visible: dict[str, dict[str, str]] = {}
    hidden: dict[str, dict[str, str]] = {}
    for row in defs.itertuples(index=False) if not defs.empty else []:
        if _flag(getattr(row, "building", False)) or _flag(getattr(row, "partial", False)):
            continue  # a partial index serves only queries that imply its filter: never assumed to serve
        target = hidden if _flag(getattr(row, "hidden", False)) else visible
        target.setdefault(str(row.ns), {})[str(row.name)] = str(row.key)

    sizes: dict[str, float] = {}
    if not collections.empty and {"ns", "avg_obj_size"} <= set(collections.columns):
        latest = collections.assign(_ts=pd.to_datetime(collections["ts"], utc=True)).sort_values("_ts", kind="stable")
        for ns, size in latest.groupby("ns")["avg_obj_size"].last().items():
            if size is not None and not pd.isna(size):
                sizes[str(ns)] = float(size)

    rows: list[dict[str, Any]] = []
    keys: list[tuple[Suggestion | None, int]] = []
    for i, row in enumerate(frame.to_dict("records")):
        ns = str(row["ns"])
        try:
            shape = json.loads(row["shape"]) if isinstance(row["shape"], str) else row["shape"]
        except ValueError:
            shape = None
        key, n_eq, note, n_sort = (
            _suggest(shape) if isinstance(shape, dict) else (None, 0, "shape is not a JSON object", None)
        )
        serving = served_by(key, visible.get(ns, {}), equality=n_eq, sort=n_sort) if key else None
        serving_hidden = served_by(key, hidden.get(ns, {}), equality=n_eq, sort=n_sort) if key and not serving else None
        examined, returned = _num(row.get("docs_examined")), _num(row.get("nreturned"))
        wasted = max(examined - (0.0 if np.isnan(returned) else returned), 0.0) if not np.isnan(examined) else np.nan
        size = sizes.get(ns, np.nan)
        rows.append(
            {
                "ns": ns,
                "shape_key": row.get("shape_key"),
                "op": row.get("op"),
                "shape": row["shape"] if isinstance(row["shape"], str) else json.dumps(row["shape"]),
                "why": whys[i],
                "suggestion": key_json(key) if key else None,
                "command": create_index_text(_ns_coll(ns), key) if key and not serving else None,
                "served_by": serving,
                "served_by_hidden": serving_hidden,
                "same_index_as": None,
                "note": note if not serving else _SERVED_NOTE,
                "wasted_docs": wasted,
                "avg_obj_size": size,
                "impact_bytes": wasted * size,
                "count": row.get("count"),
                "total_ms": row.get("total_ms"),
            }
        )
        keys.append((key if not serving else None, n_eq))

    out = _with_none(pd.DataFrame(rows, columns=ADVICE_COLUMNS), _ADVICE_TEXT)
    out["_order"] = range(len(out))
    out = out.sort_values(["impact_bytes", "total_ms", "_order"], ascending=[False, False, True], na_position="last")
    order = out["_order"].tolist()
    out = out.drop(columns="_order").reset_index(drop=True)
    keys = [keys[i] for i in order]
    _merge_suggestions(out, keys)
    return out


def _merge_suggestions(out: pd.DataFrame, keys: list[tuple[Suggestion | None, int]]) -> None:
    """One index for shapes of an ns whose suggestions another suggestion serves (in place)."""

    def serving(i: int) -> list[int]:
        key, n_eq = keys[i]
        if key is None:
            return []
        found = []
        for j, (other, _) in enumerate(keys):
            if j == i or other is None or out.at[j, "ns"] != out.at[i, "ns"]:
                continue
            if len(other) < len(key) or (len(other) == len(key) and j > i):
                continue  # ties: the higher-ranked shape keeps the command
            if served_by(key, {"_": other}, equality=n_eq):
                found.append(j)
        return found

    candidates = [serving(i) for i in range(len(keys))]
    roots = {i for i, c in enumerate(candidates) if not c}
    for i, found in enumerate(candidates):
        targets = [j for j in found if j in roots]
        if targets:
            j = max(targets, key=lambda j: (len(keys[j][0] or []), -j))
            out.at[i, "same_index_as"] = out.at[j, "shape_key"]
            out.at[i, "command"] = None


UNUSED_COLUMNS = [
    "ns",
    "name",
    "host",
    "key",
    "ops",
    "since",
    "age_days",
    "judged",
    "ops_other_hosts",
    "unique",
    "hidden",
    "size_bytes",
]


def unused_indexes(indexes: pd.DataFrame, now: dt.datetime, days: float) -> pd.DataFrame:
    """Indexes with no access (``ops == 0``) per ns/name/host, from each host's latest snapshot.

    ``_id_``, TTL indexes (their deletes do not count as accesses), indexes being built and
    rows without counters (``$indexStats`` unreadable) are left out. ``judged`` is True when
    the counters run since at least ``days`` before ``now`` (an unused index); False when
    ``since`` is younger - the counters were reset by a restart (or the index is new) and the
    index is *not judged yet*. ``ops_other_hosts``: accesses of the same index on the other
    hosts (an index unused on the primary may serve the secondaries' reads). ``unique``: such an
    index enforces a constraint even when no query uses it. Ordered by judged, then size.
    """
    if indexes.empty:
        return pd.DataFrame(columns=UNUSED_COLUMNS)
    now_ts = pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    latest = _latest_per_host(indexes).copy()
    latest["ops"] = pd.to_numeric(latest["ops"], errors="coerce")
    total_ops = latest.groupby(["ns", "name"])["ops"].transform("sum")
    latest["ops_other_hosts"] = (total_ops - latest["ops"].fillna(0)).astype("int64")
    building = _bools(latest, "building")
    ttl = latest["ttl_seconds"].map(_is_ttl).astype(bool) if "ttl_seconds" in latest else _bools(latest, "_none_")
    mask = (latest["ops"] == 0) & (latest["name"] != "_id_") & ~ttl & ~building
    rows = latest[mask].copy()
    rows["since"] = pd.to_datetime(rows["since"], utc=True)
    rows["age_days"] = (now_ts - rows["since"]).dt.total_seconds() / 86400.0
    rows["judged"] = (rows["age_days"] >= days).fillna(False).astype(bool)
    rows["ops"] = rows["ops"].astype("int64")
    rows["unique"] = _bools(rows, "unique")
    rows["hidden"] = _bools(rows, "hidden")
    rows = rows.sort_values(["judged", "size_bytes", "ns", "name", "host"], ascending=[False, False, True, True, True])
    return rows[UNUSED_COLUMNS].reset_index(drop=True)


REDUNDANT_COLUMNS = ["ns", "index", "covered_by", "key", "covered_key", "size_bytes", "kind"]


def _prefix_of(short: Key, long: Key) -> bool:
    """``short`` is a prefix of ``long`` with the same directions, or of its full reversal."""
    head = long[: len(short)]
    if [f for f, _ in head] != [f for f, _ in short]:
        return False
    if head == short:
        return True
    return all(
        isinstance(a, int) and isinstance(b, int) and a == -b for (_, a), (_, b) in zip(short, head, strict=True)
    )


def _plain_btree(key: Key) -> bool:
    """Every field ascending or descending (1/-1) and none a wildcard (``$**``): a text,
    2dsphere, hashed or wildcard index - even compound - orders its entries otherwise and
    never stands in for a plain B-tree index."""
    return all(isinstance(v, int) and v in (1, -1) and not (f == "$**" or f.endswith(".$**")) for f, v in key)


def _collation(row: Mapping[str, Any]) -> str | None:
    value = row.get("collation")
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def redundant_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Indexes another index of the same ns makes redundant (latest snapshot, one row per index).

    ``index`` (A) is redundant when its key is a strict prefix of ``covered_by``'s (B) key with
    the same directions - or the reversal of such a prefix, which B, walked backwards, serves
    just as well (``kind = "prefix"``) - or when both keys are identical under different names
    (``kind = "duplicate"``; of a pair of plain duplicates the second by name is reported).
    A is never ``_id_``, unique (it enforces a constraint), partial or TTL (its options do more
    than its key). B must be usable where A is: not partial, not sparse (unless A is sparse
    too), not hidden and not being built, a plain B-tree key (every field 1 or -1, no
    wildcard: a compound text, 2dsphere, hashed or wildcard index never covers a B-tree one)
    and - when the frame has a ``collation`` column (the collation's locale) - the same
    collation as A (string bounds under another collation are not A's). keyhole compares keys
    as text with directions ignored; we compare field lists, so ``{a: 1}`` is not a "prefix"
    of ``{ab: 1}``.
    """
    defs = _definitions(indexes) if not indexes.empty else indexes
    if defs.empty:
        return pd.DataFrame(columns=REDUNDANT_COLUMNS)
    items = []
    for row in defs.to_dict("records"):
        try:
            key = parse_key(str(row["key"]))
        except ValueError:
            continue
        items.append((row, key))
    out = []
    for a, a_key in items:
        if a["name"] == "_id_" or _flag(a.get("unique")) or _flag(a.get("partial")) or _is_ttl(a.get("ttl_seconds")):
            continue
        best: tuple[dict[str, Any], Key, str] | None = None
        for b, b_key in items:
            if b is a or b["ns"] != a["ns"] or b["name"] == a["name"]:
                continue
            if _flag(b.get("partial")) or _flag(b.get("hidden")) or _flag(b.get("building")):
                continue
            if _flag(b.get("sparse")) and not _flag(a.get("sparse")):
                continue
            if not _plain_btree(b_key) or _collation(a) != _collation(b):
                continue
            if a_key == b_key:
                plain_pair = not _flag(b.get("unique")) and _flag(b.get("sparse")) == _flag(a.get("sparse"))
                if plain_pair and str(b["name"]) > str(a["name"]):
                    continue  # of two plain duplicates, report the second by name only
                kind = "duplicate"
            elif len(b_key) > len(a_key) and _prefix_of(a_key, b_key):
                kind = "prefix"
            else:
                continue
            if (
                best is None
                or (kind == "duplicate" and best[2] != "duplicate")
                or (kind == best[2] and len(b_key) > len(best[1]))
            ):
                best = (b, b_key, kind)
        if best is not None:
            b, b_key, kind = best
            out.append(
                {
                    "ns": a["ns"],
                    "index": a["name"],
                    "covered_by": b["name"],
                    "key": key_json(a_key),
                    "covered_key": key_json(b_key),
                    "size_bytes": a.get("size_bytes"),
                    "kind": kind,
                }
            )
    return pd.DataFrame(out, columns=REDUNDANT_COLUMNS)


HIDDEN_COLUMNS = ["ns", "name", "key", "size_bytes"]


def hidden_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Hidden indexes (latest snapshot): kept up to date on every write, never used by a query.

    Shown, not a finding by themselves: hiding is how an index is tried out before a drop.
    """
    defs = _definitions(indexes) if not indexes.empty else indexes
    if defs.empty or "hidden" not in defs:
        return pd.DataFrame(columns=HIDDEN_COLUMNS)
    return defs[defs["hidden"].map(_flag)][HIDDEN_COLUMNS].reset_index(drop=True)
