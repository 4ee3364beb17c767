"""Query shapes: MongoDB commands with every value masked, and the per-shape table of slow operations.

A *shape* is what identifies a query regardless of its values - the fields it filters on, the
operators, the sort, the pipeline stages - the way ``queryShapeHash`` (8.0) and ``queryHash``
(4.2-7.x) do on the server. Values become ``1``; what changes index use is kept:

- operators (``{"createdAt": {"$gte": 1, "$lt": 1}}``), ``$in``/``$nin``/``$all`` lists collapse
  to ``[1]`` (their length is a value), ``$and``/``$or``/``$nor`` keep one element per branch;
- regular expressions become ``"/^…/"`` when anchored at the start (an index range scan) and
  ``"/…/"`` otherwise (a full index or collection scan), whatever form they are written in:
  Extended JSON ``{"$regularExpression": {...}}``, ``{"$regex": ..., "$options": ...}`` or a
  ``/.../flags`` string (the shell's form: a plain string value that looks like ``/.../`` is read
  as a regular expression too; its text is never kept either way);
- sort directions (``1``/``-1``) and projection inclusion/exclusion flags (``1``/``0``);
- field names, stage names, ``$field`` paths and the collection names of ``$lookup``/``$out``/...

Extended JSON values (``{"$oid": ...}``, ``{"$date": ...}``, ``{"$numberLong": ...}``, binary,
UUID, timestamps, ...) and equality on a whole subdocument or array are values: ``1``. Nothing
that is a value is ever kept, in shapes or in :func:`mask_command`'s examples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from opsreview.findings import peak_sql

if TYPE_CHECKING:  # masking needs neither: only shape_table loads them, when called
    import duckdb
    import pandas as pd

__all__ = [
    "NOISE_FIELDS",
    "OPS",
    "command_collection",
    "command_shape",
    "mask_command",
    "masked_command_shape",
    "mask_expr",
    "mask_pipeline",
    "mask_value",
    "op_of",
    "shape_json",
    "shape_key",
    "shape_key_of_json",
    "shape_table",
]

OPS = ("find", "aggregate", "count", "distinct", "update", "delete", "insert", "findAndModify", "getMore", "command")
_OP_NAMES = {op.lower(): op for op in OPS if op != "command"}

# Extended JSON wrappers of a single value (canonical and relaxed, v1 and v2).
_EJSON_VALUE = frozenset(
    {
        "$oid",
        "$date",
        "$numberLong",
        "$numberInt",
        "$numberDouble",
        "$numberDecimal",
        "$binary",
        "$uuid",
        "$timestamp",
        "$minKey",
        "$maxKey",
        "$undefined",
        "$symbol",
        "$code",
        "$scope",
        "$dbPointer",
        "$ref",
        "$id",
    }
)
_LOGICAL = frozenset({"$and", "$or", "$nor"})
_LISTS = frozenset({"$in", "$nin", "$all"})
# A field path or variable in an aggregation expression ("$amount", "$$NOW", "$items.sku").
_FIELD_PATH = re.compile(r"\$\$?[A-Za-z_][A-Za-z0-9_.]*")
# The mongo shell's /pattern/flags.
_REGEX_STRING = re.compile(r"/(.*)/([a-z]*)", re.DOTALL)
# Driver and session fields of a command: noise for a shape, and some of them carry keys.
NOISE_FIELDS = frozenset(
    {
        "lsid",
        "$clusterTime",
        "$readPreference",
        "signature",
        "txnNumber",
        "autocommit",
        "startTransaction",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
        "$audit",
        "$client",
        "$configServerState",
        "$topologyTime",
        "$configTime",
        "mayBypassWriteBlocking",
        "$queryOptions",
        "shardVersion",
        "databaseVersion",
        "clientOperationKey",
    }
)
# Commands whose first field names a collection (kept in examples); any other command's
# first value is masked (createUser's user name, getLog's argument, ...).
_COLLECTION_COMMANDS = frozenset(
    {
        "find",
        "aggregate",
        "count",
        "distinct",
        "update",
        "delete",
        "insert",
        "findandmodify",
        "createindexes",
        "dropindexes",
        "listindexes",
        "collmod",
        "drop",
        "create",
        "validate",
        "compact",
        "collstats",
        "mapreduce",
        "bulkwrite",
        "analyze",
    }
)
# Option fields whose value is a name (kept), and boolean options (kept as booleans).
_NAME_FIELDS = frozenset({"$db", "collection", "key", "hint"})
_STAGE_NAME_FIELDS = frozenset(
    {
        "from",
        "localField",
        "foreignField",
        "as",
        "connectFromField",
        "connectToField",
        "depthField",
        "distanceField",
        "includeArrayIndex",
        "coll",
        "db",
        "key",
        "into",
        "on",
        "whenMatched",
        "whenNotMatched",
    }
)
Shape = dict[str, Any]


# --- values --------------------------------------------------------------------------------


_PLAIN = frozenset({str, int, float, bool, list, type(None)})  # JSON types that are not documents


def _is_map(value: Any) -> bool:
    kind = type(value)
    return kind is dict or (kind not in _PLAIN and isinstance(value, Mapping))


def _regex_marker(pattern: Any) -> str:
    text = pattern if isinstance(pattern, str) else ""
    return "/^…/" if text.startswith(("^", "\\A")) else "/…/"


def _as_regex(value: Any) -> str | None:
    """The regex marker when ``value`` is a regular expression in any written form, else None."""
    kind = type(value)
    if kind is str:
        if value[:1] != "/":
            return None
        found = _REGEX_STRING.fullmatch(value)
        return _regex_marker(found.group(1)) if found else None
    if kind in _PLAIN:
        return None
    if kind is dict or isinstance(value, Mapping):
        if "$regularExpression" in value and len(value) == 1:
            inner = value["$regularExpression"]
            return _regex_marker(inner.get("pattern") if _is_map(inner) else None)
        if "$regex" in value and set(value) <= {"$regex", "$options"}:
            regex = value["$regex"]
            # {"$regex": {"$regularExpression": ...}} or {"$regex": "/^a/"} are regexes too
            nested = _as_regex(regex) if not isinstance(regex, str) or regex.startswith("/") else None
            return nested or _regex_marker(regex)
        return None
    pattern = getattr(value, "pattern", None)  # re.Pattern, bson.regex.Regex (system.profile read with pymongo)
    if isinstance(pattern, str | bytes) and hasattr(value, "flags"):
        return _regex_marker(pattern.decode("utf-8", "replace") if isinstance(pattern, bytes) else pattern)
    return None


def _is_ejson_value(value: Mapping[str, Any]) -> bool:
    return not _EJSON_VALUE.isdisjoint(value)


def _is_operator_doc(value: Mapping[str, Any]) -> bool:
    for key in value:
        if type(key) is not str or not key.startswith("$"):
            return False
    return bool(value)


def _regex_in(value: Mapping[str, Any]) -> str | None:
    return _as_regex(value) if "$regularExpression" in value or "$regex" in value else None


def mask_value(value: Any) -> Any:
    """A filter (or any value in one) with every value replaced by ``1``, operators and field names kept.

    A document is read as a query: its fields are conditions, its ``$`` keys operators.
    """
    if _is_map(value):
        regex = _regex_in(value)
        if regex is not None:
            return regex
        if _is_ejson_value(value):
            return 1
        return {str(k): _mask_entry(str(k), v) for k, v in value.items()}
    regex = _as_regex(value)
    return regex if regex is not None else 1


def _mask_entry(key: str, value: Any) -> Any:
    """One ``key: value`` of a query document."""
    if key[:1] != "$":
        return _mask_condition(value)
    if key in _LOGICAL:
        return [mask_value(v) for v in value] if isinstance(value, list) else 1
    if key in _LISTS:
        return [1]
    if key == "$regex":
        return _regex_marker(value) if isinstance(value, str) else (_as_regex(value) or "/…/")
    if key == "$not":
        return _mask_condition(value)
    if key == "$elemMatch":
        return mask_value(value) if _is_map(value) else 1
    if key == "$expr":
        return mask_expr(value)
    return _mask_operand(value)


def _mask_condition(value: Any) -> Any:
    """The value of a field in a query: an operator document is kept as such, anything else is a value."""
    kind = type(value)
    if kind is str:
        return (_as_regex(value) or 1) if value[:1] == "/" else 1
    if kind in _PLAIN:
        return 1  # a scalar or an array compared for equality
    if kind is dict or isinstance(value, Mapping):
        regex = _regex_in(value)
        if regex is not None:
            return regex
        if _is_operator_doc(value) and not _is_ejson_value(value):
            return mask_value(value)
        return 1  # a subdocument compared for equality, or an Extended JSON value
    return _as_regex(value) or 1


def _mask_operand(value: Any) -> Any:
    """The argument of an operator other than the logical and list ones ($gte, $exists, $near, ...)."""
    kind = type(value)
    if kind is str:
        return (_as_regex(value) or 1) if value[:1] == "/" else 1
    if kind in _PLAIN:
        return 1
    if kind is dict or isinstance(value, Mapping):
        regex = _regex_in(value)
        if regex is not None:
            return regex
        if _is_operator_doc(value) and not _is_ejson_value(value):
            return {str(k): _mask_operand(v) for k, v in value.items()}  # $near: {$geometry, $maxDistance}
        return 1
    return _as_regex(value) or 1


# --- aggregation ---------------------------------------------------------------------------


def mask_expr(value: Any) -> Any:
    """An aggregation expression: operators, field names and ``$field`` paths kept, literals ``1``."""
    kind = type(value)
    if kind is str:
        if value[:1] == "$":
            return value if _FIELD_PATH.fullmatch(value) else 1
        return (_as_regex(value) or 1) if value[:1] == "/" else 1
    if kind is list:
        return [mask_expr(v) for v in value]
    if kind in _PLAIN:
        return 1
    if kind is dict or isinstance(value, Mapping):
        regex = _regex_in(value)
        if regex is not None:
            return regex
        if _is_ejson_value(value):
            return 1
        return {str(k): (1 if k == "$literal" else mask_expr(v)) for k, v in value.items()}
    return _as_regex(value) or 1


def _mask_sort(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return 1
    out: dict[str, Any] = {}
    for k, v in spec.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            out[str(k)] = {"$meta": 1} if isinstance(v, Mapping) else 1
        else:
            out[str(k)] = -1 if v < 0 else 1
    return out


def _mask_projection(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return 1
    out: dict[str, Any] = {}
    for k, v in spec.items():
        key = str(k)
        if isinstance(v, bool | int | float):
            out[key] = 1 if v else 0
        elif isinstance(v, Mapping) and _is_operator_doc(v):
            out[key] = {str(op): (mask_value(arg) if op == "$elemMatch" else mask_expr(arg)) for op, arg in v.items()}
        elif isinstance(v, Mapping):
            out[key] = _mask_projection(v)
        else:
            out[key] = mask_expr(v)
    return out


def _name(value: Any) -> Any:
    """A collection or field name (kept when a string; a pipeline or document is masked)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_name(v) for v in value] if all(isinstance(v, str) for v in value) else mask_pipeline(value)
    if isinstance(value, Mapping):
        return {str(k): _name(v) for k, v in value.items()}
    return 1


def _mask_named(spec: Any, pipelines: tuple[str, ...] = ("pipeline",), filters: tuple[str, ...] = ()) -> Any:
    if not isinstance(spec, Mapping):
        return _name(spec) if isinstance(spec, str) else mask_expr(spec)
    out: dict[str, Any] = {}
    for k, v in spec.items():
        if k in pipelines:
            out[k] = mask_pipeline(v)
        elif k in filters:
            out[k] = mask_value(v)
        elif k in _STAGE_NAME_FIELDS:
            out[k] = _name(v)
        else:
            out[k] = mask_expr(v)
    return out


def _mask_stage(stage: Any) -> Any:
    if not isinstance(stage, Mapping):
        return 1
    out: dict[str, Any] = {}
    for name, arg in stage.items():
        out[str(name)] = _mask_stage_arg(str(name), arg)
    return out


def _mask_stage_arg(name: str, arg: Any) -> Any:
    if name == "$match":
        return mask_value(arg)
    if name in ("$limit", "$skip", "$documents"):
        return 1
    if name == "$sort":
        return _mask_sort(arg)
    if name == "$project":
        return _mask_projection(arg)
    if name in ("$count", "$out", "$unset"):
        return _name(arg)
    if name == "$unwind":
        return _mask_named(arg) if isinstance(arg, Mapping) else mask_expr(arg)
    if name in ("$lookup", "$unionWith", "$merge"):
        return _mask_named(arg, pipelines=("pipeline", "whenMatched") if name == "$merge" else ("pipeline",))
    if name == "$graphLookup":
        return _mask_named(arg, filters=("restrictSearchWithMatch",))
    if name == "$geoNear":
        return _mask_named(arg, filters=("query",))
    if name == "$facet":
        return {str(k): mask_pipeline(v) for k, v in arg.items()} if isinstance(arg, Mapping) else 1
    if name == "$sample":
        return {"size": 1}
    return mask_expr(arg)


def mask_pipeline(pipeline: Any) -> list[Any] | int:
    """An aggregation pipeline masked stage by stage (stage and field names kept)."""
    if not isinstance(pipeline, list):
        return 1
    return [_mask_stage(stage) for stage in pipeline]


# --- updates -------------------------------------------------------------------------------


def _mask_update_operand(value: Any) -> Any:
    if isinstance(value, Mapping) and _is_operator_doc(value) and not _is_ejson_value(value):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in ("$each", "$in", "$nin"):
                out[k] = [1]
            elif k == "$sort":
                out[k] = (
                    _mask_sort(v) if isinstance(v, Mapping) else (-1 if isinstance(v, int | float) and v < 0 else 1)
                )
            else:
                out[k] = _mask_operand(v)
        return out
    return 1


def _mask_update(update: Any) -> Any:
    """An update: operators and field names kept (a replacement keeps its top-level field names)."""
    if isinstance(update, list):
        return mask_pipeline(update)
    if not isinstance(update, Mapping):
        return 1
    if not any(isinstance(k, str) and k.startswith("$") for k in update):
        return {str(k): 1 for k in update}
    out: dict[str, Any] = {}
    for op, fields in update.items():
        if isinstance(fields, Mapping) and str(op).startswith("$"):
            out[str(op)] = {str(f): _mask_update_operand(v) for f, v in fields.items()}
        else:
            out[str(op)] = 1
    return out


def _mask_statement(stmt: Any) -> Any:
    """One element of ``updates`` or ``deletes`` (or a WRITE log line's ``command``)."""
    if not isinstance(stmt, Mapping):
        return 1
    out: dict[str, Any] = {}
    for k, v in stmt.items():
        if k == "q":
            out[k] = mask_value(v)
        elif k == "u":
            out[k] = _mask_update(v)
        elif k in ("multi", "upsert") and isinstance(v, bool):
            out[k] = v
        elif k == "arrayFilters":
            out[k] = [mask_value(x) for x in v] if isinstance(v, list) else 1
        elif k == "hint":
            out[k] = _hint(v)
        elif k == "sort":
            out[k] = _mask_sort(v)
        else:
            out[k] = _generic(v)
    return out


def _hint(value: Any) -> Any:
    return value if isinstance(value, str) else _mask_sort(value)


def _generic(value: Any) -> Any:
    """A field of a command with no known meaning: keys kept, every scalar ``1``."""
    if isinstance(value, Mapping):
        return 1 if _is_ejson_value(value) else {str(k): _generic(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_generic(v) for v in value[:1]] if value else []
    return 1


# --- commands ------------------------------------------------------------------------------


def command_collection(command: Any) -> str | None:
    """The collection a command names in its first field (``{"find": "orders", ...}``), else None."""
    if not isinstance(command, Mapping) or not command:
        return None
    key, value = next(iter(command.items()))
    return value if isinstance(value, str) and str(key).lower() in _COLLECTION_COMMANDS else None


def op_of(command: Any) -> str:
    """find | aggregate | count | distinct | update | delete | insert | findAndModify | getMore | command."""
    if not isinstance(command, Mapping) or not command:
        return "command"
    first = str(next(iter(command)))
    return _OP_NAMES.get(first.lower(), "command")


def _statement(command: Mapping[str, Any], many: str) -> Mapping[str, Any] | None:
    """The first statement of an update/delete command, or the command itself when it is one (WRITE lines)."""
    if "q" in command:
        return command
    stmts = command.get(many)
    if isinstance(stmts, list) and stmts and isinstance(stmts[0], Mapping):
        return stmts[0]
    return None


def _same(value: Any) -> Any:
    return value


# (filter, sort, projection, pipeline, update) maskers: for a raw command, and for one already masked
_MASKERS = (mask_value, _mask_sort, _mask_projection, mask_pipeline, _mask_update)
_AS_IS = (_same, _same, _same, _same, _same)


def command_shape(op: str, command: Any) -> Shape:
    """The shape that identifies a query: its filter, sort, projection, pipeline or update, values masked.

    ``op`` is the operation (:func:`op_of` or the log line's type); for ``getMore`` pass the
    ``originatingCommand``: a getMore's shape is that of the query that opened the cursor.
    """
    return _shape(op, command, _MASKERS)


def masked_command_shape(op: str, masked: Any) -> Shape:
    """:func:`command_shape` of a command already masked by :func:`mask_command` (which it equals, faster)."""
    return _shape(op, masked, _AS_IS)


def _shape(op: str, command: Any, maskers: tuple[Any, ...]) -> Shape:
    if not isinstance(command, Mapping):
        return {"command": op}
    value, sort, projection, pipeline, update = maskers
    if op == "getMore":
        origin = op_of(command)
        if origin in ("getMore", "command"):
            return {"command": "getMore"}
        return _shape(origin, command, maskers)
    if op == "find":
        shape: Shape = {}
        if "filter" in command:
            shape["filter"] = value(command["filter"])
        if "sort" in command:
            shape["sort"] = sort(command["sort"])
        if "projection" in command:
            shape["projection"] = projection(command["projection"])
        return shape
    if op == "aggregate":
        return {"pipeline": pipeline(command.get("pipeline", []))}
    if op == "count":
        return {"filter": value(command.get("query") or {})}
    if op == "distinct":
        key = command.get("key")
        return {"key": key if isinstance(key, str) else 1, "filter": value(command.get("query") or {})}
    if op == "update":
        stmt = _statement(command, "updates")
        if stmt is None:
            return {}  # the write command's own line: drivers send statements as a sequence the server does not log
        shape = {"filter": value(stmt.get("q") or {}), "update": update(stmt.get("u"))}
        for flag in ("multi", "upsert"):
            if isinstance(stmt.get(flag), bool):
                shape[flag] = stmt[flag]
        return shape
    if op == "delete":
        stmt = _statement(command, "deletes")
        return {} if stmt is None else {"filter": value(stmt.get("q") or {})}
    if op == "findAndModify":
        shape = {"filter": value(command.get("query") or {})}
        if "sort" in command:
            shape["sort"] = sort(command["sort"])
        if "update" in command:
            shape["update"] = update(command["update"])
        if command.get("remove") is True:
            shape["remove"] = True
        return shape
    if op == "insert":
        return {}
    name = next(iter(command), "command")
    return {"command": str(name)}


def mask_command(command: Any) -> Any:
    """The whole command, values masked and driver/session fields (``lsid``, ``$clusterTime``, ...) dropped.

    For examples and ``$currentOp``: keeps field, operator, stage and collection names, sort
    directions and boolean options; every value is ``1``.
    """
    if not isinstance(command, Mapping):
        return 1
    if "q" in command and op_of(command) == "command":  # a statement: a WRITE log line's command
        return _mask_statement(command)
    out: dict[str, Any] = {}
    first = True
    for key, value in command.items():
        k = str(key)
        if first:
            first = False
            if k == "explain" and isinstance(value, Mapping):
                out[k] = mask_command(value)
            elif k.lower() in _COLLECTION_COMMANDS and isinstance(value, str):
                out[k] = value
            else:
                out[k] = 1
            continue
        if k in NOISE_FIELDS:
            continue
        if k in ("filter", "query", "q"):
            out[k] = mask_value(value)
        elif k == "sort":
            out[k] = _mask_sort(value)
        elif k in ("projection", "fields"):
            out[k] = _mask_projection(value)
        elif k == "pipeline":
            out[k] = mask_pipeline(value)
        elif k in ("update", "u"):
            out[k] = _mask_update(value)
        elif k in ("updates", "deletes"):
            out[k] = [_mask_statement(s) for s in value] if isinstance(value, list) else 1
        elif k == "documents":
            out[k] = (
                [{str(f): 1 for f in d} if isinstance(d, Mapping) else 1 for d in value]
                if isinstance(value, list)
                else 1
            )
        elif k == "hint":
            out[k] = _hint(value)
        elif k in _NAME_FIELDS and isinstance(value, str):
            out[k] = value
        elif k == "let":
            out[k] = mask_expr(value)
        elif k == "arrayFilters":
            out[k] = [mask_value(x) for x in value] if isinstance(value, list) else 1
        elif isinstance(value, bool):
            out[k] = value
        else:
            out[k] = _generic(value)
    return out


def shape_key(ns: str | None, op: str, shape: Any) -> str:
    """A stable short hex digest (16 hex digits) of ``ns``, ``op`` and the shape's canonical JSON (field order kept)."""
    return shape_key_of_json(ns, op, orjson.dumps(shape))


def shape_key_of_json(ns: str | None, op: str, shape_json: bytes) -> str:
    """:func:`shape_key` of a shape already serialised with ``orjson.dumps`` (saves a second dump)."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{ns or ''}\x00{op}\x00".encode())
    digest.update(shape_json)
    return digest.hexdigest()


def shape_json(shape: Any) -> str:
    """The shape (or masked command) as compact JSON, field order kept."""
    return orjson.dumps(shape).decode()


# --- the per-shape table -------------------------------------------------------------------

SHAPE_COLUMNS = (
    "ns",
    "op",
    "shape_key",
    "count",
    "total_ms",
    "mean_ms",
    "p95_ms",
    "max_ms",
    "working_ms_total",
    "docs_examined",
    "keys_examined",
    "nreturned",
    "docs_per_returned",
    "keys_per_returned",
    "plan_summary",
    "collscan",
    "in_memory_sort",
    "used_disk",
    "app_names",
    "first_seen",
    "last_seen",
    "peak",
    "shape",
    "example",
    "shape_key_kind",
)

_PEAK_COLUMNS, _PEAK = peak_sql("ns, op, shape_key")
_SHAPE_SQL = f"""
SELECT
    ns, op, shape_key,
    count(*)::BIGINT AS count,
    coalesce(sum(duration_ms), 0)::DOUBLE AS total_ms,
    avg(duration_ms)::DOUBLE AS mean_ms,
    quantile_cont(duration_ms, 0.95)::DOUBLE AS p95_ms,
    max(duration_ms)::DOUBLE AS max_ms,
    sum(working_ms)::DOUBLE AS working_ms_total,
    coalesce(sum(docs_examined), 0)::BIGINT AS docs_examined,
    coalesce(sum(keys_examined), 0)::BIGINT AS keys_examined,
    coalesce(sum(nreturned), 0)::BIGINT AS nreturned,
    (coalesce(sum(docs_examined), 0) / greatest(coalesce(sum(nreturned), 0), 1))::DOUBLE AS docs_per_returned,
    (coalesce(sum(keys_examined), 0) / greatest(coalesce(sum(nreturned), 0), 1))::DOUBLE AS keys_per_returned,
    mode(plan_summary) AS plan_summary,
    coalesce(bool_or(contains(plan_summary, 'COLLSCAN')), false) AS collscan,
    coalesce(bool_or(has_sort_stage), false) AS in_memory_sort,
    coalesce(bool_or(used_disk), false) AS used_disk,
    string_agg(DISTINCT app_name, ', ' ORDER BY app_name) AS app_names,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    {_PEAK} AS peak,
    arg_max(shape, coalesce(duration_ms, -1)) AS shape,
    arg_max(example, coalesce(duration_ms, -1)) AS example,
    mode(shape_key_kind) AS shape_key_kind
FROM (SELECT *, {_PEAK_COLUMNS} FROM t)
GROUP BY ns, op, shape_key
ORDER BY total_ms DESC, ns, op, shape_key
"""


def shape_table(rel: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """Slow operations (rows of ``db_slow_queries``) per (ns, op, shape_key), the costliest first.

    Time: count, total/mean/p95/max of ``duration_ms`` and the sum of 8.0's ``working_ms``
    (null when no row has it). Work: examined and returned sums, and examined per returned
    (``sum examined / max(sum returned, 1)``). Plan: the most frequent ``plan_summary``, and
    whether any run scanned the collection, sorted in memory or used disk. Who and when:
    the application names, first and last seen, and ``peak``: the densest hour of runs
    (:func:`opsreview.findings.peak_sql`). ``shape`` and ``example`` come from the
    slowest run. Computed in DuckDB over the relation (a day may hold millions of rows).
    """
    from opsreview.relations import run_sql

    return run_sql(rel, _SHAPE_SQL)
