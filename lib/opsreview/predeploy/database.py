"""The database checks: the connection of ``database.uri`` tested (``hello``, with its latency)
and, when configured, every migration file applied (a migrate-mongo style changelog).

Both go through the kernel's read-only gate (:mod:`opsreview.mongo`): the client opens with
the review's options and the gate's timeouts (here ``predeploy.timeouts.database_seconds``
for connect, server selection, socket and ``maxTimeMS``), every command is on the allowlist,
and a driver error comes back as one redacted line.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient

from opsreview.exceptions import ParamsError
from opsreview.mongo import CommandFailure, find, open_client, run_command
from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.secrets import MissingSecretError, SecretRef, redact

_REMEDY = 'set database.uri to an ${ENV} reference such as "${MONGODB_URI}"'


@dataclass(frozen=True)
class GateSettings:
    """``params.database``'s connection and read preference with the gate's own time limit."""

    uri: SecretRef | None
    read_preference: str
    max_time_ms: int
    socket_timeout_ms: int
    connect_timeout_ms: int

    @classmethod
    def of(cls, params: Params) -> GateSettings:
        ms = int(params.predeploy.timeouts.database_seconds * 1000)
        return cls(params.database.uri, params.database.read_preference, ms, ms, ms)


def _connect(params: Params) -> tuple[MongoClient[dict[str, Any]] | None, str | None]:
    """A client, or None and why not (one line)."""
    try:
        return open_client(GateSettings.of(params)), None
    except MissingSecretError as exc:
        return None, str(exc.args[0])
    except ValueError as exc:
        return None, f"invalid connection string: {redact(str(exc))}"


def check_database(params: Params) -> CheckResult:
    """``hello`` twice: the first reply includes connecting (and the login), the second is the
    round trip. Pass when both answer (and the round trip is under ``max_db_latency_ms``)."""
    if not params.predeploy.database:
        return CheckResult(
            "database", NOT_CHECKED, "turned off (predeploy.database: false)", remedy="set predeploy.database: true"
        )
    if params.database.uri is None:
        return CheckResult("database", NOT_CHECKED, "no database connection configured", remedy=_REMEDY)
    settings = GateSettings.of(params)
    client, why = _connect(params)
    if client is None:
        return CheckResult(
            "database", FAIL, f"cannot connect: {why}", failures=[("database.uri", f"cannot connect: {why}")]
        )
    try:
        started = time.monotonic()
        first = run_command(client, settings, "admin", {"hello": 1})
        first_ms = (time.monotonic() - started) * 1000
        evidence: dict[str, Any] = {"timeout_seconds": params.predeploy.timeouts.database_seconds}
        if isinstance(first, CommandFailure):
            evidence["error_kind"] = first.kind
            reason = f"not reachable within {settings.connect_timeout_ms / 1000:g} s: {first.message}"
            return CheckResult("database", FAIL, reason, evidence, [("database.uri", reason)])
        started = time.monotonic()
        second = run_command(client, settings, "admin", {"hello": 1})
        latency_ms = (time.monotonic() - started) * 1000
    finally:
        client.close()
    evidence.update(
        {
            "first_reply_ms": round(first_ms, 1),
            "latency_ms": round(latency_ms, 1),
            "max_wire_version": first.get("maxWireVersion"),
            "writable_primary": first.get("isWritablePrimary", first.get("ismaster")),
            "replica_set": first.get("setName"),
            "mongos": first.get("msg") == "isdbgrid",
        }
    )
    if isinstance(second, CommandFailure):
        reason = f"first hello answered, the second failed: {second.message}"
        return CheckResult("database", FAIL, reason, evidence, [("database.uri", reason)])
    limit = params.predeploy.timeouts.max_db_latency_ms
    if limit is not None and latency_ms > limit:
        reason = f"round trip {latency_ms:.0f} ms is above {limit:g} ms"
        return CheckResult("database", FAIL, reason, evidence, [("database.uri", reason)])
    return CheckResult("database", PASS, f"hello answered, round trip {latency_ms:.0f} ms", evidence)


def _as_utc(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return None


def check_migrations(params: Params) -> CheckResult:
    """Every file of the migrations folder is in the changelog collection (by file name)."""
    config = params.predeploy.migrations
    if config is None:
        return CheckResult(
            "migrations",
            NOT_CHECKED,
            "no migrations configured",
            remedy="set predeploy.migrations (database, collection, folder) or list migrations in predeploy.optional",
        )
    if not config.folder.is_dir():
        raise ParamsError(str(params.source_file), "predeploy.migrations.folder", f"{config.folder} is not a folder")
    files = sorted(p.name for p in config.folder.glob(config.pattern) if p.is_file())
    if params.database.uri is None:
        return CheckResult("migrations", NOT_CHECKED, "no database connection configured", remedy=_REMEDY)
    client, why = _connect(params)
    if client is None:
        reason = f"cannot connect: {why}"
        return CheckResult("migrations", FAIL, reason, failures=[(config.collection, reason)])
    try:
        docs = find(
            client,
            GateSettings.of(params),
            config.database,
            config.collection,
            projection={config.file_field: 1, config.applied_field: 1, "_id": 0},
            limit=config.max_documents,
        )
    finally:
        client.close()
    namespace = f"{config.database}.{config.collection}"
    if isinstance(docs, CommandFailure):
        reason = f"cannot read {namespace}: {docs.message}"
        return CheckResult("migrations", FAIL, reason, failures=[(namespace, reason)])
    applied: dict[str, str | None] = {}
    for doc in docs:
        name = doc.get(config.file_field)
        if isinstance(name, str):
            applied[name] = _as_utc(doc.get(config.applied_field))
    if len(docs) >= config.max_documents:  # a longer changelog would read as "not applied"
        reason = (
            f"{namespace} holds {len(docs)}+ entries, more than max_documents ({config.max_documents}): "
            "raise predeploy.migrations.max_documents"
        )
        return CheckResult("migrations", NOT_CHECKED, reason, remedy=reason)
    pending = [name for name in files if name not in applied]
    unapplied_time = [name for name in files if name in applied and applied[name] is None]
    evidence = {
        "collection": namespace,
        "folder": str(config.folder),
        "files": len(files),
        "applied": len(applied),
        "pending": pending,
        "without_applied_at": unapplied_time,
        "last_applied": max((t for t in applied.values() if t), default=None),
        "not_in_folder": sorted(set(applied) - set(files)),
    }
    if not files:
        return CheckResult(
            "migrations",
            NOT_CHECKED,
            f"no file matches {config.pattern} in {config.folder}",
            evidence,
            remedy="point predeploy.migrations.folder/pattern at the app's migration files",
        )
    failures = [(name, f"{name} is not applied") for name in pending]
    failures += [(name, f"{name} has no {config.applied_field}") for name in unapplied_time]
    if failures:
        summary = f"{len(failures)} of {len(files)} migration(s) not applied: " + ", ".join(n for n, _ in failures)
        return CheckResult("migrations", FAIL, summary, evidence, failures)
    return CheckResult("migrations", PASS, f"all {len(files)} migration(s) applied ({namespace})", evidence)
