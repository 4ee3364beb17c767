"""The collector against a real MongoDB, when ``OPSREVIEW_TEST_MONGODB_URI`` names one.

Read-only like the collector itself: nothing is created or written; the test only looks at
what :func:`take_snapshot` read and at every command it sent (pymongo command monitoring).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from opsreview.database import collector, models
from opsreview.database.params import DatabaseParams
from opsreview.database.snapshot import flatten
from tests.mongo_fake import ALLOWED, READ_STAGES

URI_ENV = "OPSREVIEW_TEST_MONGODB_URI"

pytestmark = pytest.mark.skipif(
    not os.environ.get(URI_ENV), reason=f"{URI_ENV} is not set: no real MongoDB to read (set it to a read-only login)"
)

# What the driver itself sends (the login, cursor continuations, session cleanup): no maxTimeMS.
DRIVER_COMMANDS = {"saslStart", "saslContinue", "authenticate", "getMore", "killCursors", "endSessions"}


class Recorder(CommandListener):
    def __init__(self) -> None:
        self.started_commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.started_commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def test_a_real_server_snapshot_is_read_only_and_flattens(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    real_open = collector.open_client

    def open_client(*args: Any, listeners: Any = (), **kwargs: Any) -> Any:
        return real_open(*args, listeners=[*listeners, recorder], **kwargs)

    monkeypatch.setattr(collector, "open_client", open_client)
    params = DatabaseParams(
        uri="${" + URI_ENV + "}",
        rate_interval_s=1,
        max_collections=20,
        profile_limit=50,
        hygiene={"sample_size": 20},
    )
    first, second = collector.take_snapshot(params)

    assert first["format"] == "opsreview-mongodb-snapshot/1"
    assert first["topology"] in {"standalone", "replicaset", "mongos"}
    for key in ("serverStatus", "connectionStatus"):
        assert key in first["replies"], first["errors"]
    assert set(second["replies"]) == {"serverStatus"}

    with MongoClient(os.environ[URI_ENV], serverSelectionTimeoutMS=5000) as client:
        names = set(client.list_database_names()) - {"admin", "local", "config"}
    assert set(first["replies"].get("dbStats", {})) == names
    if first["topology"] == "replicaset":
        assert "replSetGetStatus" in first["replies"]
        assert set(first["replies"]["oplog"]) == {"first", "last"}

    assert recorder.started_commands
    for name, doc in recorder.started_commands:
        if name in DRIVER_COMMANDS:
            continue
        assert name in ALLOWED, (name, doc)
        assert doc.get("maxTimeMS") == params.max_time_ms, (name, doc)
        if name == "aggregate":
            assert {next(iter(stage)) for stage in doc["pipeline"]} <= READ_STAGES, doc
        if name == "profile":
            assert doc["profile"] == -1 and not {"slowms", "sampleRate", "filter"} & set(doc), doc

    for snap in (first, second):
        tables = flatten(snap)
        for table, rows in tables.items():
            models.to_arrow(table, rows)
        assert len(tables[models.SERVER]) == 1
    assert os.environ[URI_ENV] not in repr(first)
