"""Builders of payment_events / payment_orders frames for the payments tests (Stripe-shaped)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from opsreview.payments.models import EVENTS, ORDERS, to_arrow

_ids = itertools.count(1)


def ev(t: datetime, type_: str, object_type: str, object_id: str, **fields: Any) -> dict[str, Any]:
    """One payment_events row created at ``t``."""
    return {
        "ts": t,
        "created": t,
        "source": "test",
        "event_id": f"evt_{next(_ids)}",
        "type": type_,
        "object_type": object_type,
        "object_id": object_id,
        **fields,
    }


def authorized(pi: str, t: datetime, amount: int = 1000, currency: str = "eur", **card: Any) -> list[dict[str, Any]]:
    """A PaymentIntent whose card charge the issuer authorized."""
    common = {"amount": amount, "currency": currency, **card}
    return [
        ev(
            t,
            "charge.succeeded",
            "charge",
            f"ch_{pi}",
            payment_intent=pi,
            status="succeeded",
            outcome="authorized",
            **common,
        ),
        ev(t + timedelta(seconds=1), "payment_intent.succeeded", "payment_intent", pi, status="succeeded", **common),
    ]


def declined(
    pi: str, t: datetime, code: str, outcome: str = "issuer_declined", charge: str | None = None, **card: Any
) -> list[dict[str, Any]]:
    """A PaymentIntent whose charge was declined (issuer) or blocked (gateway rules)."""
    common = {"amount": card.pop("amount", 1000), "currency": card.pop("currency", "eur"), "decline_code": code, **card}
    return [
        ev(
            t,
            "charge.failed",
            "charge",
            charge or f"ch_{pi}",
            payment_intent=pi,
            status="failed",
            outcome=outcome,
            **common,
        ),
        ev(
            t + timedelta(seconds=1),
            "payment_intent.payment_failed",
            "payment_intent",
            pi,
            status="requires_payment_method",
            **common,
        ),
    ]


def requires_action(pi: str, t: datetime, **fields: Any) -> list[dict[str, Any]]:
    return [ev(t, "payment_intent.requires_action", "payment_intent", pi, status="requires_action", **fields)]


def events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return to_arrow(EVENTS, rows).to_pandas()


def orders_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return to_arrow(ORDERS, [{"source": "test", **r} for r in rows]).to_pandas()
