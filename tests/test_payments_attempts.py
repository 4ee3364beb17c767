"""Payment attempts and KPIs built from Stripe-shaped event objects through ``event_row``:
outcome attribution, authorization rate per issuer answer, old payments outside the window,
no spike without a baseline, out-of-range numbers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from opsreview.payments.models import EVENTS, to_arrow
from opsreview.payments.normalize import Counts, event_row

NOW = datetime(2026, 10, 20, 23, 0, tzinfo=UTC)
DAY = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
_n = itertools.count(1)
CARD = {"brand": "visa", "country": "FR", "last4": "4242"}


def stripe_event(type_: str, at: datetime, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{next(_n)}",
        "object": "event",
        "type": type_,
        "created": int(at.timestamp()),
        "livemode": False,
        "pending_webhooks": 0,
        "data": {"object": obj},
        **extra,
    }


def pi_obj(pi: str, status: str, error: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": 1000,
        "currency": "eur",
        "status": status,
        "last_payment_error": error,
        **more,
    }


def charge_obj(ch: str, pi: str | None, ok: bool, outcome: str, reason: str | None = None, **more: Any) -> dict:
    return {
        "id": ch,
        "object": "charge",
        "amount": 1000,
        "currency": "eur",
        "payment_intent": pi,
        "status": "succeeded" if ok else "failed",
        "paid": ok,
        "failure_code": None if ok else "card_declined",
        "outcome": {"type": outcome, "reason": reason},
        "payment_method_details": {"card": CARD},
        **more,
    }


def card_error(decline_code: str) -> dict[str, Any]:
    return {"type": "card_error", "code": "card_declined", "decline_code": decline_code}


def row(event: dict[str, Any]) -> dict[str, Any]:
    out, reason = event_row(event, "test", NOW, "order_id")
    assert reason is None and out is not None, reason
    return out


def frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    return to_arrow(EVENTS, [row(e) for e in events]).to_pandas()


# -- 1. outcome attribution ---------------------------------------------------------------


def test_only_payment_failed_pi_events_carry_a_decline() -> None:
    at = DAY + timedelta(hours=9)
    error = card_error("insufficient_funds")
    failed = row(stripe_event("payment_intent.payment_failed", at, pi_obj("pi_1", "requires_payment_method", error)))
    assert (failed["outcome"], failed["decline_code"]) == ("issuer_declined", "insufficient_funds")
    canceled = row(stripe_event("payment_intent.canceled", at, pi_obj("pi_1", "canceled", error)))
    assert (canceled["outcome"], canceled["decline_code"], canceled["failure_code"]) == (None, None, None)
    action = row(stripe_event("payment_intent.requires_action", at, pi_obj("pi_1", "requires_action", error)))
    assert action["outcome"] is None and action["decline_code"] is None


def test_a_charge_outcome_type_wins_over_its_codes() -> None:
    at = DAY + timedelta(hours=9)
    blocked = row(stripe_event("charge.failed", at, charge_obj("ch_1", "pi_1", False, "blocked", "fraudulent")))
    assert (blocked["outcome"], blocked["decline_code"]) == ("blocked", "fraudulent")


# -- 5. out-of-range numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "pending"),
    [(2**63, 0), (-(2**63) - 1, 0), ("99999999999999999999", 0), (1000, 2**63), (1000, -1)],
)
def test_numbers_outside_int64_or_negative_pending_are_malformed(amount: Any, pending: int) -> None:
    at = DAY + timedelta(hours=9)
    obj = charge_obj("ch_big", "pi_big", True, "authorized", amount=amount)
    event = stripe_event("charge.succeeded", at, obj, pending_webhooks=pending)
    out, reason = event_row(event, "test", NOW, "order_id")
    assert out is None and reason == "malformed"
    counts = Counts("x")
    counts.add(out, reason)
    assert counts.malformed == 1 and counts.rows == 0


def test_int64_edges_still_reach_arrow() -> None:
    at = DAY + timedelta(hours=9)
    obj = charge_obj("ch_edge", "pi_edge", True, "authorized", amount=2**63 - 1)
    event = stripe_event("charge.succeeded", at, obj, pending_webhooks=2**63 - 1)
    table = to_arrow(EVENTS, [row(event)])
    assert table.column("amount").to_pylist() == [2**63 - 1]
