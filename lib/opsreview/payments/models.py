"""The store tables of the payments area: names and Arrow schemas (the contract between the
sources, the demo and the review).

Every table has ``ts`` (UTC) and ``source`` (``stripe``, ``export:<file name>``,
``mongo:<collection>``, ``demo``). Amounts are integer minor units (cents) with an ISO-4217
``currency`` in lower case, never floats. No table holds a full card number, a CVV, a card's
track data, an API key or a webhook secret: cards are kept as ``card_bin`` (first six
digits) and ``card_last4`` only (PCI DSS v4.0 3.4.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([("ts", TS), ("source", _S), *fields])


# One row per gateway event (deduplicated on event_id: deliveries repeat and arrive out of order).
EVENTS = "payment_events"
EVENTS_SCHEMA = _schema(
    ("event_id", _S),  # evt_...; exports without ids get a stable hash of the row
    ("type", _S),  # payment_intent.succeeded, charge.failed, charge.refunded, charge.dispute.created, ...
    ("object_type", _S),  # payment_intent | charge | refund | dispute | checkout.session | other
    ("object_id", _S),  # pi_... / ch_... / re_... / dp_...
    ("payment_intent", _S),  # the PaymentIntent it belongs to (charges, refunds, disputes)
    ("charge", _S),  # the Charge it belongs to (refunds, disputes)
    ("order_id", _S),  # metadata.order_id (name set in params)
    ("customer", _S),  # cus_... (an id, never an e-mail)
    ("amount", _I),  # minor units
    ("amount_refunded", _I),
    ("currency", _S),
    (
        "status",
        _S,
    ),  # the object's status: succeeded | requires_payment_method | requires_action | processing | canceled | failed | ...
    ("outcome", _S),  # authorized | issuer_declined | blocked | manual_review | invalid | None
    ("decline_code", _S),  # last_payment_error.decline_code / outcome.reason
    ("failure_code", _S),  # last_payment_error.code / failure_code
    ("card_brand", _S),
    ("card_country", _S),
    ("card_bin", _S),  # first six digits when the source gives them (never more)
    ("card_last4", _S),
    ("three_ds", _S),  # 3-D Secure result when present: authenticated | attempt_acknowledged | failed | required | None
    ("idempotency_key", _S),  # request.idempotency_key (masked if it looks like a secret)
    ("livemode", _B),
    ("pending_webhooks", _I),  # deliveries not yet acknowledged by an endpoint
    ("api_version", _S),
    ("created", TS),  # the event's own `created` (ts is the same; kept for exports that differ)
)

# Orders and payments as the app stores them (its MongoDB), for reconciliation.
ORDERS = "payment_orders"
ORDERS_SCHEMA = _schema(
    ("order_id", _S),
    ("status", _S),  # the app's order status: pending | paid | cancelled | refunded | ...
    ("paid", _B),  # the app considers it paid (status mapped through params)
    ("amount", _I),
    ("currency", _S),
    ("payment_intent", _S),  # the gateway object the app linked
    ("updated", TS),
)

# What the app's webhook endpoint did with each delivery (its webhook-events collection or log).
DELIVERIES = "payment_webhook_deliveries"
DELIVERIES_SCHEMA = _schema(
    ("event_id", _S),
    ("type", _S),
    ("outcome", _S),  # handled | duplicate | signature_failed | stale | error
    ("http_status", _I),
    ("event_created", TS),  # the event's `created`
    ("lag_s", _F),  # handled - created
    ("detail", _S),  # one line, masked
)

# What a source read and what it could not use (counted, never a crash).
INGEST = "payment_ingest"
INGEST_SCHEMA = _schema(
    ("location", _S),  # file path, collection, or the API
    ("rows", _I),
    ("duplicates", _I),  # events seen again (same event_id)
    ("malformed", _I),  # not an object / not parseable
    ("unknown_type", _I),
    ("missing_amount", _I),
    ("float_amount", _I),  # an amount with a fraction (refused: minor units are integers)
    ("future", _I),  # created after the pull
    ("mixed_currency", _I),  # an order and its payment in different currencies
    ("oldest", TS),
    ("newest", TS),
    ("note", _S),  # e.g. "the events API keeps 30 days: asked from 2026-10-01"
)

# A card number, CVV or track data found where it must not be: never the number itself.
EXPOSURES = "payment_exposures"
EXPOSURES_SCHEMA = _schema(
    ("where", _S),  # file:line, collection.field (document id), event id
    ("kind", _S),  # pan | cvv | track
    ("card_bin", _S),
    ("card_last4", _S),
    ("brand", _S),  # from the prefix table
    ("test_card", _B),  # a documented test number (allowed by params or not)
)

SCHEMAS: dict[str, pa.Schema] = {
    EVENTS: EVENTS_SCHEMA,
    ORDERS: ORDERS_SCHEMA,
    DELIVERIES: DELIVERIES_SCHEMA,
    INGEST: INGEST_SCHEMA,
    EXPOSURES: EXPOSURES_SCHEMA,
}


def to_arrow(table: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts; missing keys are nulls, unknown keys an error) as the table's Arrow table."""
    schema = SCHEMAS[table]
    names = set(schema.names)
    rows = list(rows)
    for row in rows:
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"{table}: unknown column(s) {sorted(unknown)}")
    return pa.Table.from_pydict({n: [r.get(n) for r in rows] for n in schema.names}, schema=schema)


def empty_frame(table: str) -> pd.DataFrame:
    return SCHEMAS[table].empty_table().to_pandas()
