"""payments.app_db against a fake MongoDB (mockupdb, as tests/mongo_fake.py serves the database
area): the real driver over a real socket, every command recorded and checked."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from opsreview.exceptions import SourceError
from opsreview.masking import luhn_valid
from opsreview.payments.app_db import read_app_db
from opsreview.payments.models import DELIVERIES, EVENTS, INGEST, ORDERS, to_arrow
from opsreview.payments.params import AppDbParams
from tests.mongo_fake import FakeMongo, _cursor

ENV = "OPSREVIEW_TEST_APP_DB_URI"
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
START, END = datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
PAN = "4111111111111111"


class AppMongo(FakeMongo):
    """The fake, serving ``find`` from in-memory collections: the projection and the limit
    applied as a server would (top-level fields), newest first as asked."""

    def __init__(self) -> None:
        self.collections: dict[str, list[dict[str, Any]]] = {}
        super().__init__("7.0", "standalone")

    def _find(self, db: str, doc: dict[str, Any]) -> dict[str, Any]:
        docs = [dict(d) for d in self.collections.get(doc["find"], [])]
        projection = doc.get("projection")
        if projection:
            keep = {path.split(".")[0] for path, on in projection.items() if on}
            docs = [{k: v for k, v in d.items() if k in keep} for d in docs]
        limit = int(doc.get("limit") or 0)
        return _cursor(f"{db}.{doc['find']}", docs[:limit] if limit else docs)


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


ORDERS_DOCS = [
    {
        "_id": ObjectId(),
        "orderNo": "A1",
        "state": "paid",
        "total": {"cents": 1999, "cur": "USD"},
        "pi": "pi_1",
        "updatedAt": _at(5),
        "customerEmail": "x@example.com",
    },
    {
        "_id": ObjectId(),
        "orderNo": "A2",
        "state": "pending",
        "total": {"cents": 500, "cur": "EUR"},
        "pi": "pi_2",
        "updatedAt": _at(6),
    },
    {
        "_id": ObjectId(),
        "orderNo": "A3",
        "state": "Completed",
        "total": {"cents": 12.5, "cur": "usd"},
        "pi": "pi_3",
        "updatedAt": _at(7),
    },
]
PAYMENTS_DOCS = [
    {
        "_id": ObjectId(),
        "ref": "pay_1",
        "intent": "pi_1",
        "amountMinor": 1999,
        "ccy": "usd",
        "status": "succeeded",
        "createdAt": _at(5),
        "card": {"number": PAN, "cvv": "873", "brand": "visa"},
    },
    {
        "_id": ObjectId(),
        "ref": "pay_2",
        "intent": "pi_2",
        "amountMinor": 500.0,
        "ccy": "usd",
        "status": "succeeded",
        "createdAt": _at(6),
        "card": {"number": "5500 0055 5555 5559", "cvv": "874", "brand": "mastercard"},
    },
    {
        "_id": ObjectId(),
        "ref": "pay_3",
        "intent": "pi_3",
        "amountMinor": 12.5,
        "ccy": "usd",
        "status": "succeeded",
        "createdAt": _at(7),
    },
    {"_id": ObjectId(), "ref": "pay_4", "intent": "pi_4", "ccy": "usd", "status": "processing", "createdAt": _at(8)},
    # an older copy of pay_1 (the app wrote it twice): the latest is kept
    {
        "_id": ObjectId(),
        "ref": "pay_1",
        "intent": "pi_1",
        "amountMinor": 1999,
        "ccy": "usd",
        "status": "processing",
        "createdAt": _at(4.5),
    },
]
WEBHOOK_DOCS = [
    {
        "_id": ObjectId(),
        "eventId": "evt_1",
        "type": "payment_intent.succeeded",
        "result": "handled",
        "status": 200,
        "created": _at(5),
        "handledAt": _at(5) + timedelta(seconds=2.5),
    },
    {
        "_id": ObjectId(),
        "eventId": "evt_2",
        "type": "charge.failed",
        "result": "signature_failed",
        "status": 400,
        "created": _at(6),
        "handledAt": _at(6) + timedelta(seconds=400),
        "error": f"bad sig for card {PAN} key sk_live_abcdefgh12345678",
    },
]


def _params(**kw: Any) -> AppDbParams:
    values: dict[str, Any] = {
        "uri": f"${{{ENV}}}",
        "database": "shop",
        "max_time_ms": 1234,
        "max_documents": 50,
        "connect_timeout_ms": 1000,
        "socket_timeout_ms": 2000,
        "orders": {
            "collection": "orders",
            "fields": {
                "order_id": "orderNo",
                "status": "state",
                "amount": "total.cents",
                "currency": "total.cur",
                "payment_intent": "pi",
                "updated": "updatedAt",
            },
        },
        "payments": {
            "collection": "payments",
            "fields": {
                "event_id": "ref",
                "payment_intent": "intent",
                "amount": "amountMinor",
                "currency": "ccy",
                "status": "status",
                "ts": "createdAt",
                "card_number": "card.number",
                "card_brand": "card.brand",
            },
        },
        "webhook_events": {
            "collection": "webhookEvents",
            "fields": {
                "event_id": "eventId",
                "type": "type",
                "outcome": "result",
                "http_status": "status",
                "event_created": "created",
                "ts": "handledAt",
                "detail": "error",
            },
        },
    }
    values.update(kw)
    return AppDbParams.model_validate(values)


@pytest.fixture(scope="module")
def fake() -> Iterator[AppMongo]:
    server = AppMongo()
    server.collections = {"orders": ORDERS_DOCS, "payments": PAYMENTS_DOCS, "webhookEvents": WEBHOOK_DOCS}
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def uri(fake: AppMongo, monkeypatch: pytest.MonkeyPatch) -> str:
    value = fake.uri()
    monkeypatch.setenv(ENV, value)
    fake.refuse_auth = False
    fake.unauthorized = set()
    with fake._lock:
        fake.received.clear()
    return value


def test_reads_the_three_collections(fake: AppMongo, uri: str) -> None:
    out = read_app_db(_params(), START, END, NOW)
    orders = {r["order_id"]: r for r in out[ORDERS]}
    assert set(orders) == {"A1", "A2", "A3"}
    assert orders["A1"]["paid"] is True and orders["A2"]["paid"] is False and orders["A3"]["paid"] is True
    assert orders["A1"]["amount"] == 1999 and orders["A1"]["currency"] == "usd"
    assert orders["A3"]["amount"] is None  # 12.5 cents: refused, counted
    payments = {r["event_id"]: r for r in out[EVENTS]}
    assert set(payments) == {"pay_1", "pay_2"}
    assert payments["pay_1"]["status"] == "succeeded"
    assert payments["pay_2"]["amount"] == 500 and type(payments["pay_2"]["amount"]) is int
    assert (payments["pay_1"]["card_bin"], payments["pay_1"]["card_last4"]) == ("411111", "1111")
    assert (payments["pay_2"]["card_bin"], payments["pay_2"]["card_last4"]) == ("550000", "5559")
    deliveries = {r["event_id"]: r for r in out[DELIVERIES]}
    assert deliveries["evt_1"]["lag_s"] == 2.5 and deliveries["evt_1"]["http_status"] == 200
    assert deliveries["evt_2"]["outcome"] == "signature_failed" and deliveries["evt_2"]["lag_s"] == 400
    detail = deliveries["evt_2"]["detail"]
    assert PAN not in detail and "sk_live_abcdefgh12345678" not in detail and "1111" in detail
    ingest = {r["location"]: r for r in out[INGEST]}
    assert set(ingest) == {"shop.orders", "shop.payments", "shop.webhookEvents"}
    assert ingest["shop.payments"]["float_amount"] == 1 and ingest["shop.payments"]["missing_amount"] == 1
    assert ingest["shop.payments"]["duplicates"] == 1 and ingest["shop.payments"]["rows"] == 2
    assert ingest["shop.orders"]["float_amount"] == 1
    assert ingest["shop.orders"]["mixed_currency"] == 1  # A2 in eur, its payment pi_2 in usd
    dump = json.dumps(out, default=str)
    for secret in (PAN, "5500005555555559", "5500 0055 5555 5559", "873", "874", "x@example.com", uri):
        assert secret not in dump
    for run in re.findall(r"\d{13,19}", dump):
        assert not luhn_valid(run)
    for table in (ORDERS, EVENTS, DELIVERIES, INGEST):
        assert to_arrow(table, out[table]).num_rows == len(out[table])


def test_every_command_is_bounded_and_projected(fake: AppMongo, uri: str) -> None:
    params = _params()
    read_app_db(params, START, END, NOW)
    finds = [c for c in fake.app_commands() if c["name"] == "find"]
    assert {c["doc"]["find"] for c in finds} == {"orders", "payments", "webhookEvents"}
    maps = {"orders": params.orders, "payments": params.payments, "webhookEvents": params.webhook_events}
    times = {"orders": "updatedAt", "payments": "createdAt", "webhookEvents": "handledAt"}
    for command in fake.app_commands():
        assert command["doc"]["maxTimeMS"] == 1234, command["name"]
    for command in finds:
        doc = command["doc"]
        mapping = maps[doc["find"]]
        assert mapping is not None
        assert command["db"] == "shop"
        assert doc["limit"] == 50
        assert set(doc["projection"]) == {"_id", *mapping.fields.values()}
        assert "card.cvv" not in doc["projection"] and "customerEmail" not in doc["projection"]
        time_field = times[doc["find"]]
        assert list(doc["sort"].items()) == [(time_field, -1)]
        bounds = doc["filter"][time_field]
        assert bounds["$gte"].replace(tzinfo=UTC) == START - timedelta(days=1)
        assert bounds["$lt"].replace(tzinfo=UTC) == END
        assert set(doc["filter"]) == {time_field}


def test_max_documents_is_said(fake: AppMongo, uri: str) -> None:
    out = read_app_db(_params(max_documents=2), START, END, NOW)
    ingest = {r["location"]: r for r in out[INGEST]}
    assert "max_documents (2) reached" in ingest["shop.payments"]["note"]
    assert len(out[ORDERS]) == 2


def test_refused_login_is_a_source_error_without_the_password(fake: AppMongo, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "Wr0ng-Secret-Passw0rd"
    monkeypatch.setenv(ENV, fake.uri(password=wrong))
    with pytest.raises(SourceError) as info:
        read_app_db(_params(), START, END, NOW)
    message = str(info.value)
    assert info.value.source == "payments" and "app database" in message
    assert wrong not in message and fake.password not in message


def test_unreachable_server_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(ENV, f"mongodb://u:Secret-Pw-123@127.0.0.1:{port}/?authSource=admin")
    with pytest.raises(SourceError) as info:
        read_app_db(_params(connect_timeout_ms=300), START, END, NOW)
    assert "Secret-Pw-123" not in str(info.value)


def test_a_refused_collection_is_a_note_not_a_failure(fake: AppMongo, uri: str) -> None:
    fake.unauthorized = {"find"}
    out = read_app_db(_params(), START, END, NOW)
    assert out[ORDERS] == [] and out[EVENTS] == []
    notes = [r["note"] for r in out[INGEST]]
    assert len(notes) == 3 and all(n and "not read" in n and "not authorized" in n for n in notes)


def test_a_map_without_a_time_field_is_refused_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "mongodb://127.0.0.1:9/")
    params = _params(orders={"collection": "orders", "fields": {"order_id": "orderNo"}})
    with pytest.raises(SourceError, match="map a time field"):
        read_app_db(params, START, END, NOW)
