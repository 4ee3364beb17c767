"""A fake MongoDB for the collector's tests: mockupdb serving the recorded replies of a version.

``FakeMongo("7.0", "replicaset")`` listens on a free localhost port and answers the real
pymongo driver over a real socket with the replies of
``tests/fixtures/mongodb/<version>/<topology>/<command>.json`` (see the README there for
where each comes from). It speaks just enough of the protocol for the collector:

- the handshake (``isMaster``/``hello``; the host fields are rewritten to the fake's own
  address so that the driver never goes looking for the recorded hostnames) and a real
  SCRAM-SHA-256 login for ``user``/``password`` (a wrong password fails as a server would);
- the read commands of the collector, answered from the fixtures (cursors in one batch);
- anything else: ``CommandNotFound`` (code 59), as a server answers an unknown command.

Every request is recorded (:attr:`received`). A test can make it ``slow`` (replies after N
seconds, from a timer thread, so the socket timeout fires on the client; ``hello_delay_s``
delays the handshake alone), ``silent`` (never
replies, not even to the handshake), refuse a command with ``Unauthorized`` (code 13) or
refuse every login, time a command out with ``MaxTimeMSExpired`` (code 50; ``timeouts``),
and swap a reply (``replies[name] = ...``). ``close()`` stops it.

``listCollections`` applies a ``filter`` on ``name``; a ``find`` on a collection of
``sample.json`` returns its first ``limit`` documents (the hygiene read of a small collection).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bson import Int64, json_util
from bson.binary import Binary
from mockupdb import MockupDB

FIXTURES = Path(__file__).parent / "fixtures" / "mongodb"
VERSIONS = ("6.0", "7.0", "8.0")
TOPOLOGIES = ("standalone", "replicaset", "mongos")
# What the driver sends by itself: the handshake and login, and endSessions at close.
DRIVER_COMMANDS = frozenset({"hello", "ismaster", "saslstart", "saslcontinue", "endsessions", "ping"})
ITERATIONS = 4096


def load_fixture(version: str, topology: str, name: str) -> Any:
    """A fixture file as BSON types (Extended JSON), or None when the topology has none."""
    path = FIXTURES / version / topology / f"{name}.json"
    if not path.exists():
        return None
    return json_util.loads(path.read_text(encoding="utf-8"))


def load_privileges(name: str) -> Any:
    return json_util.loads((FIXTURES / "privileges" / f"{name}.json").read_text(encoding="utf-8"))


def _fail(code: int, code_name: str, errmsg: str) -> dict[str, Any]:
    return {"ok": 0, "code": code, "codeName": code_name, "errmsg": errmsg}


def _cursor(ns: str, docs: list[Any]) -> dict[str, Any]:
    return {"cursor": {"id": Int64(0), "ns": ns, "firstBatch": docs}, "ok": 1}


class FakeMongo:
    """One fake mongod/mongos; use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        version: str = "7.0",
        topology: str = "standalone",
        *,
        user: str = "opsreview",
        password: str = "Fake-Passw0rd-for-tests",
        role: str = "primary",
        primary: FakeMongo | None = None,
    ) -> None:
        self.version = version
        self.topology = topology
        self.user = user
        self.password = password
        self.role = role  # replica set members: primary | secondary
        self.primary = primary  # a secondary's primary (another FakeMongo)
        self.peers: list[FakeMongo] = []
        self.replies: dict[str, Any] = {}
        for path in sorted((FIXTURES / version / topology).glob("*.json")):
            self.replies[path.stem] = json_util.loads(path.read_text(encoding="utf-8"))
        self.received: list[dict[str, Any]] = []
        self.delay_s = 0.0
        self.hello_delay_s = 0.0
        self.silent = False
        self.refuse_auth = False
        self.unauthorized: set[str] = set()
        self.timeouts: set[str] = set()  # commands (or first stages) answered with MaxTimeMSExpired
        self._lock = threading.Lock()
        self._conversations: dict[int, dict[str, bytes]] = {}
        self._next_conversation = 1
        self._timers: list[threading.Timer] = []
        self._salt = os.urandom(16)
        self.server = MockupDB(request_timeout=60)
        self.server.autoresponds(self._handle)
        self.server.run()

    # -- test controls ---------------------------------------------------------------------

    @property
    def address(self) -> str:
        return str(self.server.address_string)

    def uri(self, password: str | None = None, **options: str) -> str:
        """A connection string with the login (``password`` overrides the right one)."""
        secret = self.password if password is None else password
        query = "&".join(f"{k}={v}" for k, v in {"authSource": "admin", **options}.items())
        return f"mongodb://{quote_plus(self.user)}:{quote_plus(secret)}@{self.address}/?{query}"

    def commands(self) -> list[dict[str, Any]]:
        """The requests received so far, each ``{"name", "db", "doc"}`` (a copy)."""
        with self._lock:
            return list(self.received)

    def app_commands(self) -> list[dict[str, Any]]:
        """The requests other than what the driver sends by itself (handshake, login, endSessions)."""
        return [c for c in self.commands() if c["name"].lower() not in DRIVER_COMMANDS]

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        # mockupdb's accept loop wakes once a second to see whether it should stop: mark it
        # stopped and wake it with a connection, so that closing takes milliseconds, not 1 s.
        self.server._stopped = True
        with contextlib.suppress(OSError), socket.create_connection(self.server.address, timeout=1):
            pass
        self.server.stop()

    def __enter__(self) -> FakeMongo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol ----------------------------------------------------------------------

    def _handle(self, request: Any) -> bool:
        doc = request.doc
        name = next(iter(doc)) if doc else ""
        db = doc.get("$db") or (request.namespace or "admin").split(".")[0]
        with self._lock:
            self.received.append({"name": name, "db": db, "doc": copy.deepcopy(dict(doc))})
        if self.silent:
            return True  # never answer: the client's timeouts must end it
        lowered = name.lower()
        if lowered in ("hello", "ismaster"):
            hello = self._hello(doc, legacy=lowered == "ismaster")
            if self.hello_delay_s > 0:
                self._later(self.hello_delay_s, request, hello)
            else:
                request.replies(hello)
            return True
        if lowered == "saslstart":
            request.replies(self._sasl_start(doc))
            return True
        if lowered == "saslcontinue":
            request.replies(self._sasl_continue(doc))
            return True
        reply = self._reply(name, db, doc)
        if self.delay_s > 0:
            self._later(self.delay_s, request, reply)
        else:
            request.replies(reply)
        return True

    def _later(self, seconds: float, request: Any, reply: dict[str, Any]) -> None:
        timer = threading.Timer(seconds, self._late_reply, (request, reply))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    @staticmethod
    def _late_reply(request: Any, reply: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the client gave up and closed the socket: as intended
            request.replies(reply)

    def _hello(self, doc: dict[str, Any], *, legacy: bool) -> dict[str, Any]:
        reply = copy.deepcopy(self.replies["hello"])
        reply.pop("topologyVersion", None)  # no streaming monitor: the driver polls
        if self.topology == "replicaset":
            members = [self] + self.peers if self.primary is None else [self.primary] + self.primary.peers
            reply["hosts"] = [m.address for m in members]
            reply["me"] = self.address
            reply["primary"] = (self.primary or self).address
            reply["isWritablePrimary"] = self.role == "primary"
            reply["secondary"] = self.role == "secondary"
        if legacy:
            reply["ismaster"] = reply.pop("isWritablePrimary", True)
        if doc.get("helloOk"):
            reply["helloOk"] = True
        if "saslSupportedMechs" in doc and doc["saslSupportedMechs"] == f"admin.{self.user}":
            reply["saslSupportedMechs"] = ["SCRAM-SHA-256"]
        return reply

    def _salted(self) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", self.password.encode("utf-8"), self._salt, ITERATIONS)

    def _sasl_start(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_auth or doc.get("mechanism") != "SCRAM-SHA-256":
            return _fail(18, "AuthenticationFailed", "Authentication failed.")
        payload = bytes(doc["payload"])
        first_bare = payload.split(b",", 2)[2]  # "n,,n=user,r=nonce"
        fields = dict(item.split(b"=", 1) for item in first_bare.split(b","))
        if fields.get(b"n", b"").decode() != self.user:
            return _fail(18, "AuthenticationFailed", "Authentication failed.")
        nonce = fields[b"r"] + base64.b64encode(os.urandom(18))
        server_first = b"r=" + nonce + b",s=" + base64.b64encode(self._salt) + b",i=" + str(ITERATIONS).encode()
        with self._lock:
            cid = self._next_conversation
            self._next_conversation += 1
            self._conversations[cid] = {"first_bare": first_bare, "server_first": server_first, "nonce": nonce}
        return {"conversationId": cid, "done": False, "payload": Binary(server_first), "ok": 1}

    def _sasl_continue(self, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            state = self._conversations.pop(int(doc.get("conversationId", 0)), None)
        if state is None:
            return _fail(17, "ProtocolError", "No SASL session state found")
        final = bytes(doc["payload"])
        without_proof, _, proof = final.rpartition(b",p=")
        fields = dict(item.split(b"=", 1) for item in without_proof.split(b","))
        if fields.get(b"r") != state["nonce"]:
            return _fail(18, "AuthenticationFailed", "Authentication failed.")
        salted = self._salted()
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        auth_message = b",".join((state["first_bare"], state["server_first"], without_proof))
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        given = base64.b64decode(proof)
        recovered = bytes(a ^ b for a, b in zip(given, signature, strict=False))
        if len(given) != len(signature) or hashlib.sha256(recovered).digest() != stored_key:
            return _fail(18, "AuthenticationFailed", "Authentication failed.")
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        verifier = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest())
        return {
            "conversationId": int(doc["conversationId"]),
            "done": True,
            "payload": Binary(b"v=" + verifier),
            "ok": 1,
        }

    def _refused(self, key: str, db: str) -> dict[str, Any] | None:
        if key in self.unauthorized:
            return _fail(13, "Unauthorized", f"not authorized on {db} to execute command {{ {key}: 1 }}")
        if key in self.timeouts:
            return _fail(50, "MaxTimeMSExpired", "operation exceeded time limit")
        return None

    def _reply(self, name: str, db: str, doc: dict[str, Any]) -> dict[str, Any]:
        key = name
        if name == "aggregate":
            pipeline = doc.get("pipeline") or [{}]
            key = next(iter(pipeline[0]), "aggregate")
        refused = self._refused(key, db)
        if refused is not None:
            return refused
        replies = self.replies
        if name in ("serverStatus", "connectionStatus", "getLog", "buildInfo", "replSetGetStatus", "balancerStatus"):
            reply = replies.get(name)
            if reply is None:
                if name == "replSetGetStatus":
                    return _fail(76, "NoReplicationEnabled", "not running with --replSet")
                return _fail(59, "CommandNotFound", f"no such command: '{name}'")
            return copy.deepcopy(reply)
        if name == "listDatabases":
            reply = copy.deepcopy(replies["listDatabases"])
            if doc.get("nameOnly"):
                reply = {"databases": [{"name": d["name"]} for d in reply["databases"]], "ok": 1}
            return reply
        if name == "dbStats":
            reply = (replies.get("dbStats") or {}).get(db)
            return (
                copy.deepcopy(reply)
                if reply is not None
                else {"db": db, "collections": 0, "views": 0, "objects": 0, "ok": 1}
            )
        if name == "listCollections":
            listed = copy.deepcopy((replies.get("listCollections") or {}).get(db, []))
            wanted = (doc.get("filter") or {}).get("name")
            if wanted is not None:
                listed = [c for c in listed if c.get("name") == wanted]
            size = (doc.get("cursor") or {}).get("batchSize")
            reply = _cursor(f"{db}.$cmd.listCollections", listed[:size] if size else listed)
            if size and len(listed) > size:
                reply["cursor"]["id"] = Int64(4242)  # more to read
            return reply
        if name == "listIndexes":
            ns = f"{db}.{doc['listIndexes']}"
            specs = (replies.get("listIndexes") or {}).get(ns)
            if specs is None:
                return _fail(26, "NamespaceNotFound", f"ns does not exist: {ns}")
            return _cursor(ns, copy.deepcopy(specs))
        if name == "profile":
            status = (replies.get("profile") or {}).get(db)
            return (
                copy.deepcopy(status) if status is not None else {"was": 0, "slowms": 100, "sampleRate": 1.0, "ok": 1}
            )
        if name == "aggregate":
            return self._aggregate(db, doc, key)
        if name == "find":
            return self._find(db, doc)
        if name == "endSessions":
            return {"ok": 1}
        return _fail(59, "CommandNotFound", f"no such command: '{name}'")

    def _aggregate(self, db: str, doc: dict[str, Any], stage: str) -> dict[str, Any]:
        coll = doc.get("aggregate")
        ns = f"{db}.{coll}"
        pipeline = doc.get("pipeline") or []
        if stage == "$collStats":
            return _cursor(ns, copy.deepcopy((self.replies.get("collStats") or {}).get(ns, [])))
        if stage == "$indexStats":
            return _cursor(ns, copy.deepcopy((self.replies.get("indexStats") or {}).get(ns, [])))
        if stage == "$sample":
            size = int(pipeline[0]["$sample"].get("size", 0))
            return _cursor(ns, copy.deepcopy((self.replies.get("sample") or {}).get(ns, []))[:size])
        if stage == "$currentOp":
            ops = copy.deepcopy(self.replies.get("currentOp") or [])
            for step in pipeline[1:]:
                if "$match" in step:
                    bound = step["$match"].get("secs_running", {}).get("$gt")
                    if bound is not None:
                        ops = [op for op in ops if op.get("secs_running", 0) > bound]
            return _cursor("admin.$cmd.aggregate", ops)
        if stage == "$group" and ns == "config.chunks":
            return _cursor(ns, copy.deepcopy(self.replies.get("chunks") or []))
        return _fail(59, "CommandNotFound", f"the fake has no reply for {stage} on {ns}")

    def _find(self, db: str, doc: dict[str, Any]) -> dict[str, Any]:
        coll = doc["find"]
        ns = f"{db}.{coll}"
        limit = int(doc.get("limit") or 0)
        if ns == "local.oplog.rs":
            oplog = self.replies.get("oplog")
            if oplog is None:
                return _cursor(ns, [])
            order = (doc.get("sort") or {}).get("$natural", 1)
            return _cursor(ns, [copy.deepcopy(oplog["first" if order == 1 else "last"])])
        if ns == "config.shards":
            return _cursor(ns, copy.deepcopy(self.replies.get("shards") or []))
        if coll == "system.profile":
            docs = copy.deepcopy((self.replies.get("systemProfile") or {}).get(db, []))
            return _cursor(ns, docs[:limit] if limit else docs)
        docs = copy.deepcopy((self.replies.get("sample") or {}).get(ns, []))
        return _cursor(ns, docs[:limit] if limit else docs)


def fakes() -> Iterator[tuple[str, str]]:
    """Every version x topology the fixtures cover."""
    for version in VERSIONS:
        for topology in TOPOLOGIES:
            yield version, topology


# The read-only allowlist as the brief states it, written out independently of the code under test (the
# collector and live tests check what was sent against it).
ALLOWED = {
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
    "profile",
}
READ_STAGES = {
    "$collStats",
    "$indexStats",
    "$currentOp",
    "$match",
    "$sample",
    "$project",
    "$group",
    "$sort",
    "$limit",
    "$count",
}
