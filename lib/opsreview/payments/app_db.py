"""The app's own MongoDB collections: orders, payment records, webhook handling.

:func:`read_app_db` reads each mapped collection (``payments.app_db.orders``, ``.payments``,
``.webhook_events``) through the kernel's read-only gate (:mod:`opsreview.mongo`: ``maxTimeMS``
on every command, read preference of the params, no retried reads): one bounded ``find`` per
collection with

- a filter on the mapped time field within [start - 1 day, end) (a day more than the window:
  a payment stuck since yesterday, an order paid late last night),
- newest first, at most ``max_documents``,
- a projection of the mapped fields only (and ``_id``): never the whole document, so a card
  number or a CVV the app stored in some other field never leaves the server.

Times are BSON dates. Amounts must be integer minor units (an integral double is accepted
exactly; a fraction is counted ``float_amount`` and the amount left out). A mapped card field
(``card_number``) is reduced to BIN + last four by
:func:`opsreview.payments.normalize.card_parts`; every text is masked.

Returns the rows of ``payment_orders``, ``payment_events`` (the app's payment records),
``payment_webhook_deliveries`` and one ``payment_ingest`` row per collection. An unreachable
server or a refused login raises :class:`opsreview.exceptions.SourceError`; a collection the
server refuses (not authorised, maxTimeMS exceeded) is a note of its ingest row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo import MongoClient

from opsreview import mongo
from opsreview.exceptions import SourceError
from opsreview.payments.models import DELIVERIES, EVENTS, INGEST, ORDERS
from opsreview.payments.normalize import (
    Counts,
    FloatAmount,
    card_parts,
    dedupe,
    minor_units,
    parse_time,
    stable_id,
    text_field,
    utc,
)
from opsreview.payments.params import AppDbParams, CollectionMap
from opsreview.secrets import MissingSecretError

LOOKBACK = timedelta(days=1)
# The time field of each map, by preference (the first one mapped).
TIME_FIELDS: dict[str, tuple[str, ...]] = {
    ORDERS: ("updated", "ts"),
    EVENTS: ("ts", "created"),
    DELIVERIES: ("ts", "event_created"),
}
# Columns of the payment records that may be mapped besides the payment_events columns.
CARD_NUMBER = "card_number"


def _source(collection: str) -> str:
    return f"mongo:{collection}"


def _value(doc: Mapping[str, Any], path: str) -> Any:
    """A (dotted) field of a document; None when absent."""
    value: Any = doc
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _time_field(table: str, mapping: CollectionMap) -> str:
    for column in TIME_FIELDS[table]:
        if column in mapping.fields:
            return mapping.fields[column]
    raise SourceError(
        "payments",
        f"app_db {mapping.collection}: map a time field ({' or '.join(TIME_FIELDS[table])}) in fields",
    )


def _fetch(
    client: MongoClient[dict[str, Any]],
    params: AppDbParams,
    table: str,
    mapping: CollectionMap,
    start: datetime,
    end: datetime,
    counts: Counts,
) -> list[dict[str, Any]]:
    """The collection's documents of the window (mapped fields only), newest first."""
    time_field = _time_field(table, mapping)
    projection = {"_id": 1, **{field: 1 for field in sorted(set(mapping.fields.values()))}}
    result = mongo.find(
        client,
        params,
        params.database,
        mapping.collection,
        filter={time_field: {"$gte": start - LOOKBACK, "$lt": end}},
        projection=projection,
        sort=[(time_field, -1)],
        limit=params.max_documents,
        label=f"find {params.database}.{mapping.collection}",
    )
    if isinstance(result, mongo.CommandFailure):
        if result.fatal:
            raise SourceError("payments", f"app database: {result.message}")
        counts.note(f"not read: {result.message}")
        return []
    if len(result) >= params.max_documents:
        counts.note(f"max_documents ({params.max_documents}) reached: older documents of the window not read")
    return result


def _amount(doc: Mapping[str, Any], fields: Mapping[str, str], column: str, counts: Counts) -> tuple[int | None, bool]:
    """(amount, usable): an integer amount, None when absent; a fraction is counted and refused."""
    if column not in fields:
        return None, True
    try:
        return minor_units(_value(doc, fields[column])), True
    except FloatAmount:
        counts.refuse("float_amount")
        return None, False
    except ValueError:
        counts.refuse("malformed")
        return None, False


def _currency(value: Any) -> str | None:
    text = text_field(value, 3)
    return text.lower() if text and len(text) == 3 and text.isalpha() else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _track(counts: Counts, ts: datetime | None) -> None:
    if ts is None:
        return
    counts.oldest = ts if counts.oldest is None or ts < counts.oldest else counts.oldest
    counts.newest = ts if counts.newest is None or ts > counts.newest else counts.newest


def _orders(docs: list[dict[str, Any]], mapping: CollectionMap, params: AppDbParams, counts: Counts) -> list[dict]:
    fields = mapping.fields
    paid_statuses = {s.lower() for s in params.paid_statuses}
    rows = []
    for doc in docs:
        updated = parse_time(_value(doc, _time_field(ORDERS, mapping)))
        if updated is None:
            counts.refuse("malformed")
            continue
        amount, _ = _amount(doc, fields, "amount", counts)
        status = text_field(_value(doc, fields["status"]), 40) if "status" in fields else None
        order_id = _value(doc, fields["order_id"]) if "order_id" in fields else doc.get("_id")
        rows.append(
            {
                "ts": updated,
                "source": _source(mapping.collection),
                "order_id": text_field(order_id, 120),
                "status": status,
                "paid": status.lower() in paid_statuses if status else None,
                "amount": amount,
                "currency": _currency(_value(doc, fields["currency"])) if "currency" in fields else None,
                "payment_intent": text_field(_value(doc, fields["payment_intent"]), 120)
                if "payment_intent" in fields
                else None,
                "updated": updated,
            }
        )
        counts.rows += 1
        _track(counts, updated)
    return rows


_EVENT_TEXT = (
    ("type", 80),
    ("object_type", 40),
    ("object_id", 120),
    ("payment_intent", 120),
    ("charge", 120),
    ("order_id", 120),
    ("status", 40),
    ("outcome", 40),
    ("decline_code", 60),
    ("failure_code", 60),
    ("card_brand", 20),
    ("card_country", 2),
    ("three_ds", 40),
    ("idempotency_key", 120),
    ("api_version", 20),
)


def _payments(docs: list[dict[str, Any]], mapping: CollectionMap, now: datetime, counts: Counts) -> list[dict]:
    fields = mapping.fields
    rows = []
    for doc in docs:
        ts = parse_time(_value(doc, _time_field(EVENTS, mapping)))
        if ts is None:
            counts.refuse("malformed")
            continue
        if ts > now + timedelta(minutes=5):
            counts.refuse("future")
            continue
        amount, usable = _amount(doc, fields, "amount", counts)
        if not usable:
            continue
        if amount is None:
            counts.refuse("missing_amount")
            continue
        refunded, usable = _amount(doc, fields, "amount_refunded", counts)
        if not usable:
            continue
        currency = _currency(_value(doc, fields["currency"])) if "currency" in fields else None
        if currency is None:
            counts.refuse("malformed")
            continue
        row: dict[str, Any] = {"ts": ts, "source": _source(mapping.collection), "amount": amount, "currency": currency}
        row["amount_refunded"] = refunded
        for column, limit in _EVENT_TEXT:
            if column in fields:
                row[column] = text_field(_value(doc, fields[column]), limit)
        customer = text_field(_value(doc, fields["customer"]), 120) if "customer" in fields else None
        row["customer"] = customer if customer and customer.startswith("cus_") else None
        card_bin, card_last4 = None, None
        if CARD_NUMBER in fields:
            card_bin, card_last4 = card_parts(_value(doc, fields[CARD_NUMBER]))
        if "card_bin" in fields:
            card_bin = card_parts(f"{_value(doc, fields['card_bin'])}******0000")[0] or card_bin
        if "card_last4" in fields:
            card_last4 = card_parts(_value(doc, fields["card_last4"]))[1] or card_last4
        row["card_bin"], row["card_last4"] = card_bin, card_last4
        if "livemode" in fields:
            live = _value(doc, fields["livemode"])
            row["livemode"] = live if isinstance(live, bool) else None
        if "pending_webhooks" in fields:
            row["pending_webhooks"] = _int(_value(doc, fields["pending_webhooks"]))
        event_id = text_field(_value(doc, fields["event_id"]), 120) if "event_id" in fields else None
        if event_id is None:
            event_id = f"{mapping.collection}:{doc['_id']}" if doc.get("_id") is not None else stable_id(row)
        row["event_id"] = event_id
        row["type"] = row.get("type") or "app.payment"
        row["object_type"] = row.get("object_type") or "payment_intent"
        row["created"] = ts
        rows.append(row)
        counts.add(row, None)
    return rows


def _deliveries(docs: list[dict[str, Any]], mapping: CollectionMap, counts: Counts) -> list[dict]:
    fields = mapping.fields
    rows = []
    for doc in docs:
        handled = parse_time(_value(doc, fields["ts"])) if "ts" in fields else None
        created = parse_time(_value(doc, fields["event_created"])) if "event_created" in fields else None
        ts = handled or created
        if ts is None:
            counts.refuse("malformed")
            continue
        lag = (handled - created).total_seconds() if handled is not None and created is not None else None
        rows.append(
            {
                "ts": ts,
                "source": _source(mapping.collection),
                "event_id": text_field(_value(doc, fields["event_id"]), 120) if "event_id" in fields else None,
                "type": text_field(_value(doc, fields["type"]), 80) if "type" in fields else None,
                "outcome": text_field(_value(doc, fields["outcome"]), 40) if "outcome" in fields else None,
                "http_status": _int(_value(doc, fields["http_status"])) if "http_status" in fields else None,
                "event_created": created,
                "lag_s": lag,
                "detail": text_field(_value(doc, fields["detail"]), 300) if "detail" in fields else None,
            }
        )
        counts.rows += 1
        _track(counts, ts)
    return rows


def read_app_db(
    params: AppDbParams,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    uri: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``payment_orders``, ``payment_events``, ``payment_webhook_deliveries`` and
    ``payment_ingest`` (one per collection read) from the app's collections."""
    start, end, now = utc(start), utc(end), utc(now)
    out: dict[str, list[dict[str, Any]]] = {ORDERS: [], EVENTS: [], DELIVERIES: [], INGEST: []}
    maps = [(ORDERS, params.orders), (EVENTS, params.payments), (DELIVERIES, params.webhook_events)]
    maps_set = [(table, mapping) for table, mapping in maps if mapping is not None]
    if not maps_set:
        return out
    for table, mapping in maps_set:
        _time_field(table, mapping)  # a missing time field is a params problem: say it before connecting
    if uri is None and params.uri is None:
        raise SourceError("payments", "app_db.uri is not set")
    try:
        client = mongo.open_client(params, uri)
    except MissingSecretError as exc:
        raise SourceError("payments", f"app database: {exc.args[0] if exc.args else exc}") from None
    except ValueError as exc:
        raise SourceError("payments", f"app database: {exc}") from None
    try:
        counts_by_table: dict[str, Counts] = {}
        for table, mapping in maps_set:
            counts = Counts(location=f"{params.database}.{mapping.collection}")
            counts_by_table[table] = counts
            docs = _fetch(client, params, table, mapping, start, end, counts)
            if table == ORDERS:
                out[ORDERS] = _orders(docs, mapping, params, counts)
            elif table == EVENTS:
                rows, duplicates = dedupe(_payments(docs, mapping, now, counts))
                counts.duplicates += duplicates
                counts.rows = len(rows)
                out[EVENTS] = rows
            else:
                out[DELIVERIES] = _deliveries(docs, mapping, counts)
    finally:
        client.close()
    if ORDERS in counts_by_table:
        currencies = {r["payment_intent"]: r["currency"] for r in out[EVENTS] if r.get("payment_intent")}
        for order in out[ORDERS]:
            paid_in = currencies.get(order.get("payment_intent"))
            if paid_in and order.get("currency") and paid_in != order["currency"]:
                counts_by_table[ORDERS].mixed_currency += 1
    out[INGEST] = [counts_by_table[t].ingest_row(_source(m.collection), now) for t, m in maps_set]
    return out
