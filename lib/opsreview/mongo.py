"""The MongoDB client of the review, and the one gate every command goes through.

Every area that reads a MongoDB (``database``: the server's health; ``payments``: the app's
orders and payments) opens its client here, with its own params section as the
:class:`MongoSettings` (connection string, timeouts, read preference, ``maxTimeMS``).

:func:`open_client` opens a :class:`~pymongo.MongoClient` with the review's timeouts, the
read preference of the params, ``appname="opsreview"`` and no retried writes or reads (a
retry would double the time a slow server may take). Every command of the collector then
goes through :func:`run_command`, :func:`aggregate` or :func:`find`, which all end in one
private function that

1. refuses anything outside a read-only allowlist (:func:`refusal`): the commands of
   :data:`READ_ONLY_COMMANDS`, aggregations made only of the stages of :data:`READ_STAGES`
   (never ``$out``/``$merge``/``$lookup``), and ``profile`` only as ``{profile: -1}``, which
   reads the profiler's level without changing it (the server only asks for ``find`` on
   ``system.profile`` in that case). Reads must also be bounded: a ``find`` needs a
   positive ``limit`` (unless its caller says the cursor is bounded otherwise), and an
   aggregation must start with a stage that bounds what it reads (:func:`pipeline_refusal`);
2. adds ``maxTimeMS`` (``params.max_time_ms``) to every command it sends;
3. turns every driver error into a :class:`CommandFailure` - one line, redacted, with the
   server's error code - instead of raising. The caller collects them; network failures and
   authentication failures are :attr:`CommandFailure.fatal`: the collector stops there.

:func:`check_privileges` / :func:`privileges_row` read ``connectionStatus`` (with
``showPrivileges``) and tell what the login holds beyond ``clusterMonitor`` + ``read`` /
``readAnyDatabase``: roles and privilege actions that write or administer.

The connection string may hold a password: it is registered with :mod:`opsreview.secrets`
(the whole string and the password alone) before the client exists, and every message that
leaves this module goes through :func:`opsreview.secrets.redact`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

from bson.errors import BSONError
from bson.son import SON
from pymongo import MongoClient
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from opsreview.secrets import SecretRef, redact, remember_secret


class MongoSettings(Protocol):
    """What the client needs of a params section (``database``, ``payments.app_db``)."""

    @property
    def uri(self) -> SecretRef | None: ...
    @property
    def max_time_ms(self) -> int: ...
    @property
    def socket_timeout_ms(self) -> int: ...
    @property
    def connect_timeout_ms(self) -> int: ...
    @property
    def read_preference(self) -> str: ...


@dataclass(frozen=True)
class DefaultSettings:
    """Settings for a call that was given none (a privileges check from a notebook cell)."""

    uri: SecretRef | None = None
    max_time_ms: int = 5000
    socket_timeout_ms: int = 10_000
    connect_timeout_ms: int = 5000
    read_preference: str = "secondaryPreferred"


log = logging.getLogger(__name__)

APP_NAME = "opsreview"

# Commands the collector may send (the first key of the command document).
READ_ONLY_COMMANDS = frozenset(
    {
        "serverStatus",
        "dbStats",
        "listDatabases",
        "listCollections",
        "listIndexes",
        "aggregate",
        "find",
        "replSetGetStatus",
        "connectionStatus",
        "getLog",
        "hello",
        "buildInfo",
        "balancerStatus",
        "profile",  # only {profile: -1}: reads the level, never sets it
    }
)
# Aggregation stages that only read.
READ_STAGES = frozenset(
    {"$collStats", "$indexStats", "$currentOp", "$match", "$sample", "$project", "$group", "$sort", "$limit", "$count"}
)
# Stages that must come first in a pipeline.
_FIRST_STAGES = frozenset({"$collStats", "$indexStats", "$currentOp"})
# First stages that bound what a pipeline reads by themselves: statistics documents (one per
# collection/index/shard), the running operations, and a $sample of a bounded size.
_BOUNDED_FIRST_STAGES = frozenset({"$collStats", "$indexStats", "$currentOp", "$sample"})
MAX_SAMPLE_SIZE = 10_000  # hygiene.sample_size's upper bound
# Options a command document may carry besides its own fields.
_GENERIC_OPTIONS = frozenset({"maxTimeMS", "comment"})
# Fields each command may carry (beyond the generic ones): anything else is refused, so
# that no option can turn a read into something else.
_COMMAND_FIELDS: dict[str, frozenset[str]] = {
    "serverStatus": frozenset(),
    "dbStats": frozenset({"scale", "freeStorage"}),
    "listDatabases": frozenset({"nameOnly", "authorizedDatabases", "filter"}),
    "listCollections": frozenset({"nameOnly", "authorizedCollections", "filter", "cursor"}),
    "listIndexes": frozenset(),
    "replSetGetStatus": frozenset(),
    "connectionStatus": frozenset({"showPrivileges"}),
    "getLog": frozenset(),
    "hello": frozenset(),
    "buildInfo": frozenset(),
    "balancerStatus": frozenset(),
    "profile": frozenset(),
    "aggregate": frozenset({"pipeline", "cursor", "allowDiskUse"}),
    "find": frozenset({"filter", "projection", "sort", "limit", "batchSize", "singleBatch", "skip", "hint"}),
}

# Privilege actions a read-only reviewer legitimately holds: those of clusterMonitor (6.0 to
# 8.0, including the free-monitoring and netstat actions it granted before 7.0), read and
# readAnyDatabase. Anything else writes or administers.
READ_ONLY_ACTIONS = frozenset(
    {
        # read / readAnyDatabase
        "changeStream",
        "collStats",
        "dbHash",
        "dbStats",
        "find",
        "killCursors",
        "listCollections",
        "listIndexes",
        "listSearchIndexes",
        "planCacheRead",
        "listDatabases",
        # clusterMonitor, on the cluster
        "checkFreeMonitoringStatus",
        "connPoolStats",
        "getCmdLineOpts",
        "getDefaultRWConcern",
        "getLog",
        "getParameter",
        "getShardMap",
        "hostInfo",
        "inprog",
        "listClusterCatalog",
        "listSessions",
        "listShards",
        "netstat",
        "operationMetrics",
        "replSetGetConfig",
        "replSetGetStatus",
        "serverStatus",
        "setFreeMonitoring",  # granted by clusterMonitor up to 6.x (free monitoring is gone in 7.0)
        "shardingState",
        "top",
        # clusterMonitor, on every database
        "indexStats",
        "useUUID",
        "getShardVersion",
        "getDatabaseVersion",
    }
)
READ_ONLY_ROLES = frozenset({"clusterMonitor", "read", "readAnyDatabase"})

# Server error codes that mean "this login cannot get in" (not "this command is forbidden").
_AUTH_CODES = frozenset({18, 11})  # AuthenticationFailed, UserNotFound
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class CommandFailure:
    """A command that did not give a reply: what, the server's code, one redacted line.

    ``kind``: ``server`` (the server answered with an error: forbidden, timed out with
    maxTimeMS, unknown command...), ``network`` (unreachable, socket timeout, server
    selection timeout), ``auth`` (the login failed), ``refused`` (not in the read-only
    allowlist: never sent), ``client`` (the driver could not build or decode it).
    """

    command: str
    code: int | None
    message: str
    kind: str = "server"

    @property
    def fatal(self) -> bool:
        """The connection itself failed: nothing further can be read."""
        return self.kind in ("network", "auth")

    def as_error(self) -> dict[str, Any]:
        """The snapshot's ``errors`` entry."""
        return {"command": self.command, "code": self.code, "error": self.message}


class AddressRecorder(CommandListener):
    """Remembers the ``host:port`` that answered the last command (pymongo command monitoring)."""

    def __init__(self) -> None:
        self.last_address: tuple[str, int | None] | None = None

    def started(self, event: CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self.last_address = event.connection_id

    def failed(self, event: CommandFailedEvent) -> None:
        self.last_address = event.connection_id


def remember_uri_secrets(uri: str) -> None:
    """Register the connection string and its password (alone, and percent-decoded) as
    secrets, so that :func:`~opsreview.secrets.redact` masks them wherever they appear."""
    remember_secret(uri)
    match = re.match(r"^[A-Za-z0-9+.-]+://([^/?#]*)@", uri)
    if match and ":" in match.group(1):
        password = match.group(1).split(":", 1)[1]
        remember_secret(password)
        remember_secret(unquote_plus(password))


def client_options(params: MongoSettings) -> dict[str, Any]:
    """The options every client of the collector is opened with."""
    return {
        "socketTimeoutMS": params.socket_timeout_ms,
        "connectTimeoutMS": params.connect_timeout_ms,
        "serverSelectionTimeoutMS": params.connect_timeout_ms,
        "appname": APP_NAME,
        "readPreference": params.read_preference,
        "retryWrites": False,
        "retryReads": False,  # a retried read would double the time a slow server takes
        "maxPoolSize": 2,
        "tz_aware": True,
    }


def open_client(
    params: MongoSettings,
    uri: str | None = None,
    *,
    listeners: Sequence[CommandListener] = (),
    direct: tuple[str, int | None] | None = None,
) -> MongoClient[dict[str, Any]]:
    """A client for ``uri`` (default: ``params.uri`` resolved) with the review's options.

    ``direct`` pins the client to one member (``directConnection``), with the credentials and
    TLS options of the connection string: the collector reads every reply from the node the
    read preference chose. An invalid connection string raises :class:`ValueError` with a
    redacted one-line message.
    """
    if uri is None:
        if params.uri is None:
            raise ValueError("database.uri is not set")
        uri = params.uri.resolve()
    remember_uri_secrets(uri)
    options = client_options(params)
    try:
        if direct is None:
            return MongoClient(uri, event_listeners=list(listeners), **options)
        kwargs = _direct_kwargs(uri)
        kwargs.update(options)
        return MongoClient(
            host=direct[0], port=direct[1], directConnection=True, event_listeners=list(listeners), **kwargs
        )
    except (PyMongoError, ValueError, TypeError) as exc:
        raise ValueError(one_line(exc)) from None


def _direct_kwargs(uri: str) -> dict[str, Any]:
    """Credentials and connection options of ``uri`` for a client pinned to one member."""
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(uri)
    dropped = {"srvservicename", "srvmaxhosts", "directconnection", "replicaset", "loadbalanced"}
    kwargs: dict[str, Any] = {k: v for k, v in parsed["options"].items() if k.lower() not in dropped}
    if parsed.get("username") is not None:
        kwargs["username"] = parsed["username"]
        kwargs["password"] = parsed.get("password")
        if parsed.get("password"):
            remember_secret(parsed["password"])
        lowered = {k.lower() for k in kwargs}
        if "authsource" not in lowered and parsed.get("database"):
            kwargs["authSource"] = parsed["database"]
    return kwargs


def one_line(exc: BaseException) -> str:
    """An exception as one redacted line of at most 300 characters (no server reply dump)."""
    if isinstance(exc, OperationFailure):
        details = exc.details or {}
        text = str(details.get("errmsg") or (exc.args[0] if exc.args else type(exc).__name__))
    elif isinstance(exc, ServerSelectionTimeoutError):
        text = str(exc).split(", Timeout:")[0]  # the topology description repeats it
    else:
        text = str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    text = redact(text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _failure(label: str, exc: BaseException) -> CommandFailure:
    if isinstance(exc, OperationFailure):
        code = exc.code
        kind = "auth" if code in _AUTH_CODES else "server"
    elif isinstance(exc, ConnectionFailure):  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
        code, kind = None, "network"
    else:
        code, kind = None, "client"
    return CommandFailure(label, code, one_line(exc), kind)


# -- the allowlist ----------------------------------------------------------------------


def refusal(name: str, doc: Mapping[str, Any], *, db: str | None = None, bounded: bool = False) -> str | None:
    """Why ``doc`` (a command named ``name``, sent to database ``db``) is not a read-only,
    bounded read, or None when it is.

    A ``find`` needs a positive integer ``limit`` unless ``bounded`` says that its caller
    bounds the cursor otherwise; an ``aggregate`` must pass :func:`pipeline_refusal`.
    """
    if not doc or next(iter(doc)) != name:
        return f"the command document does not start with {name!r}"
    if name not in READ_ONLY_COMMANDS:
        return f"{name} is not a read-only command of the allowlist"
    extra = set(doc) - {name} - _GENERIC_OPTIONS - _COMMAND_FIELDS[name]
    if extra:
        return f"{name} with option(s) {sorted(extra)} is not allowed"
    if name == "profile":
        level = doc[name]
        if isinstance(level, bool) or not isinstance(level, int | float) or level != -1:
            return "profile is allowed only as {profile: -1} (reads the level, never sets it)"
    if name == "find" and not bounded:
        limit = doc.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            return "a find needs a positive limit (an unbounded cursor could read a whole collection)"
    if name == "aggregate":
        collection = doc.get(name)
        return pipeline_refusal(
            doc.get("pipeline"), db=db, collection=collection if isinstance(collection, str) else None
        )
    return None


def pipeline_refusal(pipeline: Any, *, db: str | None = None, collection: str | None = None) -> str | None:
    """Why an aggregation pipeline (on ``db.collection``) is not a read-only, bounded read, or
    None when every stage only reads and the first one bounds what is read.

    The first stage must be one of ``$collStats``, ``$indexStats``, ``$currentOp``, a
    ``$sample`` of 1 to :data:`MAX_SAMPLE_SIZE` documents, a ``$match`` followed (somewhere
    later) by a ``$limit``, or - on ``config.chunks`` only - the ``$group`` of the chunks
    spread.
    """
    if not isinstance(pipeline, list | tuple):
        return "an aggregate needs a pipeline list"
    for i, stage in enumerate(pipeline):
        if not isinstance(stage, Mapping) or len(stage) != 1:
            return f"stage {i} is not a one-key document"
        op = next(iter(stage))
        if op not in READ_STAGES:
            return f"stage {op} is not a read-only stage of the allowlist"
        if op in _FIRST_STAGES and i != 0:
            return f"{op} must be the first stage"
    if not pipeline:
        return "an empty pipeline reads every document"
    first = next(iter(pipeline[0]))
    if first == "$sample":
        size = pipeline[0][first].get("size") if isinstance(pipeline[0][first], Mapping) else None
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_SAMPLE_SIZE:
            return f"a $sample needs a size from 1 to {MAX_SAMPLE_SIZE}"
        return None
    if first in _BOUNDED_FIRST_STAGES:
        return None
    if first == "$match":
        if any(next(iter(stage)) == "$limit" for stage in pipeline[1:]):
            return None
        return "a $match pipeline needs a $limit"
    if first == "$group" and db == "config" and collection == "chunks":
        # The chunks spread (chunks per shard): config.chunks holds one small document per
        # chunk, and the read is bounded by maxTimeMS like every command - kept on purpose.
        return None
    return f"a pipeline starting with {first} is not a bounded read"


# -- the one path every command takes ---------------------------------------------------


def _execute(
    label: str,
    name: str,
    doc: Mapping[str, Any],
    call: Callable[[], Any],
    *,
    db: str | None = None,
    bounded: bool = False,
) -> Any:
    """Check ``doc`` against the allowlist, then run ``call``; driver errors become failures."""
    reason = refusal(name, doc, db=db, bounded=bounded)
    if reason is not None:
        log.warning("database: refused to send %s: %s", label, reason)
        return CommandFailure(label, None, f"refused by opsreview: {reason}", "refused")
    try:
        return call()
    except (PyMongoError, BSONError) as exc:
        failure = _failure(label, exc)
        log.info("database: %s failed: %s", label, failure.message)
        return failure


def run_command(
    client: MongoClient[dict[str, Any]],
    params: MongoSettings,
    db: str,
    command: Mapping[str, Any],
    *,
    label: str | None = None,
) -> dict[str, Any] | CommandFailure:
    """Run a read-only database command (its name first) with ``maxTimeMS``; never raises.

    Returns the reply, or a :class:`CommandFailure` (refused, server error, network error).
    """
    name = next(iter(command)) if command else ""
    label = label or name
    doc: SON[str, Any] = SON(command)
    doc["maxTimeMS"] = params.max_time_ms
    return _execute(label, name, doc, lambda: client[db].command(doc, read_preference=client.read_preference), db=db)


def aggregate(
    client: MongoClient[dict[str, Any]],
    params: MongoSettings,
    db: str,
    collection: str | None,
    pipeline: list[dict[str, Any]],
    *,
    label: str | None = None,
    batch_size: int | None = None,
) -> list[dict[str, Any]] | CommandFailure:
    """Run a read-only aggregation (``collection`` None: a database aggregate such as
    ``$currentOp`` on ``admin``) with ``maxTimeMS``; all documents, or a failure."""
    if label is None:
        first = pipeline[0] if pipeline and isinstance(pipeline[0], Mapping) and pipeline[0] else {"?": None}
        label = f"{next(iter(first))} {db}.{collection}" if collection else f"{next(iter(first))} {db}"
    doc: dict[str, Any] = {"aggregate": collection or 1, "pipeline": pipeline, "cursor": {}}
    kwargs: dict[str, Any] = {"maxTimeMS": params.max_time_ms}
    if batch_size:
        kwargs["batchSize"] = batch_size

    def call() -> list[dict[str, Any]]:
        database = client[db]
        if collection is None:
            return list(database.aggregate(pipeline, **kwargs))
        return list(database[collection].aggregate(pipeline, **kwargs))

    return _execute(label, "aggregate", doc, call, db=db)


def find(
    client: MongoClient[dict[str, Any]],
    params: MongoSettings,
    db: str,
    collection: str,
    *,
    filter: Mapping[str, Any] | None = None,
    projection: Mapping[str, Any] | None = None,
    sort: Sequence[tuple[str, int]] | None = None,
    limit: int | None = None,
    bounded: bool = False,
    label: str | None = None,
) -> list[dict[str, Any]] | CommandFailure:
    """Run a bounded ``find`` with ``maxTimeMS``; documents, or a failure.

    ``limit`` must be a positive integer: a find with no limit (or ``limit <= 0``) is refused
    unless ``bounded`` is True - the caller's explicit word that the cursor is bounded
    otherwise (a filter on a unique key, a capped collection...).
    """
    label = label or f"find {db}.{collection}"
    doc: dict[str, Any] = {"find": collection, "filter": dict(filter or {})}
    if limit is not None:
        doc["limit"] = limit
    if projection is not None:
        doc["projection"] = dict(projection)
    if sort is not None:
        doc["sort"] = dict(sort)

    def call() -> list[dict[str, Any]]:
        coll = client[db][collection]
        cursor = coll.find(
            dict(filter or {}),
            projection=dict(projection) if projection is not None else None,
            sort=list(sort) if sort is not None else None,
            limit=limit or 0,
            batch_size=limit or 0,
            max_time_ms=params.max_time_ms,
        )
        return list(cursor)

    return _execute(label, "find", doc, call, db=db, bounded=bounded)


# -- privileges -------------------------------------------------------------------------


def _role_name(role: Mapping[str, Any]) -> str:
    return f"{role.get('role')}@{role.get('db')}"


def privileges_row(reply: Mapping[str, Any]) -> dict[str, Any]:
    """The ``db_privileges`` columns (all but ``ts``/``host``) from a ``connectionStatus``
    reply read with ``showPrivileges: true``.

    ``excess_roles``: roles other than clusterMonitor, read and readAnyDatabase (a custom
    role is listed: its actions tell whether it writes). ``excess_actions``: privilege
    actions outside :data:`READ_ONLY_ACTIONS` (sorted, unique). ``read_only``: no excess
    action; None when the reply names no authenticated user (no login) or lists no
    privileges to judge.
    """
    info = reply.get("authInfo") or {}
    users = info.get("authenticatedUsers") or []
    roles = info.get("authenticatedUserRoles") or []
    privileges = info.get("authenticatedUserPrivileges")
    user = ",".join(f"{u.get('user')}@{u.get('db')}" for u in users) or None
    role_names = sorted({_role_name(r) for r in roles})
    excess_roles = sorted({_role_name(r) for r in roles if r.get("role") not in READ_ONLY_ROLES})
    excess_actions: set[str] = set()
    for privilege in privileges or []:
        for action in privilege.get("actions") or []:
            if action not in READ_ONLY_ACTIONS:
                excess_actions.add(str(action))
    if user is None or privileges is None:
        read_only: bool | None = None
    else:
        read_only = not excess_actions
    return {
        "user": user,
        "roles": json.dumps(role_names),
        "excess_roles": json.dumps(excess_roles),
        "excess_actions": json.dumps(sorted(excess_actions)),
        "read_only": read_only,
    }


def check_privileges(
    client: MongoClient[dict[str, Any]], params: MongoSettings | None = None
) -> dict[str, Any] | CommandFailure:
    """Read ``connectionStatus`` (``showPrivileges: true``) and return the privileges row."""
    params = params or DefaultSettings()
    reply = run_command(client, params, "admin", {"connectionStatus": 1, "showPrivileges": True})
    if isinstance(reply, CommandFailure):
        return reply
    return privileges_row(reply)
