"""Payment attempts and KPIs built from Stripe-shaped event objects through ``event_row``:
outcome attribution, authorization rate per issuer answer, old payments outside the window,
no spike without a baseline, out-of-range numbers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from opsreview.payments.kpis import attempts, decline_spikes, declines, disputes, kpis, money, refunds
from opsreview.payments.models import EVENTS, to_arrow
from opsreview.payments.normalize import Counts, event_row
from opsreview.payments.params import PaymentThresholds

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


def test_a_radar_block_stays_blocked_after_the_payment_intent_failure() -> None:
    at = DAY + timedelta(hours=9)
    events = [
        stripe_event("payment_intent.created", at, pi_obj("pi_r", "requires_payment_method")),
        stripe_event(
            "charge.failed", at + timedelta(seconds=1), charge_obj("ch_r", "pi_r", False, "blocked", "fraudulent")
        ),
        # the PaymentIntent says only "card_declined / fraudulent": on its own it reads as an issuer decline
        stripe_event(
            "payment_intent.payment_failed",
            at + timedelta(seconds=2),
            pi_obj("pi_r", "requires_payment_method", card_error("fraudulent")),
        ),
    ]
    f = frame(events)
    att = attempts(f).set_index("attempt_id")
    assert att.loc["pi_r", "result"] == "blocked" and att.loc["pi_r", "outcome"] == "blocked"
    day = kpis(f, "UTC", "D").iloc[0]
    assert (day["blocked"], day["issuer_declined"], day["attempts_blocked"]) == (1, 0, 1)
    assert pd.isna(day["auth_rate"])  # no issuer ever answered


def test_an_old_failure_on_a_canceled_payment_intent_is_no_decline_today() -> None:
    old_error = card_error("do_not_honor")
    today = [stripe_event("payment_intent.canceled", DAY + timedelta(hours=3), pi_obj("pi_old", "canceled", old_error))]
    f = frame(today)
    att = attempts(f).set_index("attempt_id")
    assert att.loc["pi_old", "result"] == "canceled"
    day = kpis(f, "UTC", "D").iloc[0]
    assert (day["issuer_declined"], day["attempts_issuer_declined"]) == (0, 0)
    assert declines(f).empty
    window = (DAY, DAY + timedelta(days=1))
    assert attempts(f, window).empty and kpis(f, "UTC", "D", window).empty


# -- 2. authorization rate per authorization --------------------------------------------------


def test_a_decline_then_a_successful_retry_is_one_answer_of_each() -> None:
    at = DAY + timedelta(hours=9)
    error = card_error("insufficient_funds")
    events = [
        stripe_event("payment_intent.created", at, pi_obj("pi_1", "requires_payment_method")),
        stripe_event(
            "charge.failed",
            at + timedelta(seconds=1),
            charge_obj("ch_a", "pi_1", False, "issuer_declined", "insufficient_funds"),
        ),
        stripe_event(
            "payment_intent.payment_failed", at + timedelta(seconds=2), pi_obj("pi_1", "requires_payment_method", error)
        ),
        stripe_event("charge.succeeded", at + timedelta(minutes=1), charge_obj("ch_b", "pi_1", True, "authorized")),
        stripe_event(
            "payment_intent.succeeded", at + timedelta(minutes=1, seconds=1), pi_obj("pi_1", "succeeded", error)
        ),
        # the same charge seen again (captured, refunded later): still one authorization
        stripe_event("charge.captured", at + timedelta(minutes=2), charge_obj("ch_b", "pi_1", True, "authorized")),
    ]
    f = frame(events)
    day = kpis(f, "UTC", "D").iloc[0]
    assert (day["attempts"], day["authorized"], day["issuer_declined"]) == (1, 1, 1)
    assert day["auth_rate"] == pytest.approx(0.5)
    assert day["success_rate"] == pytest.approx(1.0) and day["attempts_authorized"] == 1
    got = declines(f).set_index(["dimension", "value"])
    assert got.loc[("decline_code", "insufficient_funds"), "declines"] == 1
    assert got.loc[("card_brand", "visa"), "attempts"] == 2


def test_payment_intents_without_charge_events_answer_per_failure() -> None:
    at = DAY + timedelta(hours=9)
    error = card_error("do_not_honor")
    events = [
        stripe_event("payment_intent.payment_failed", at, pi_obj("pi_2", "requires_payment_method", error)),
        stripe_event(
            "payment_intent.payment_failed",
            at + timedelta(seconds=30),
            pi_obj("pi_2", "requires_payment_method", error),
        ),
        stripe_event("payment_intent.succeeded", at + timedelta(minutes=1), pi_obj("pi_2", "succeeded", error)),
    ]
    day = kpis(frame(events), "UTC", "D").iloc[0]
    assert (day["attempts"], day["authorized"], day["issuer_declined"]) == (1, 1, 2)
    assert day["auth_rate"] == pytest.approx(1 / 3) and day["success_rate"] == pytest.approx(1.0)


# -- 3. old payments are not today's ------------------------------------------------------------


def test_events_about_older_payments_make_no_attempt_in_the_window() -> None:
    yesterday = DAY - timedelta(hours=2)
    window = (DAY, DAY + timedelta(days=1))
    old_charge = charge_obj("ch_old", "pi_old", True, "authorized", amount_refunded=1000)
    events = [
        # created yesterday, charged just after midnight: yesterday's attempt
        stripe_event("payment_intent.created", yesterday, pi_obj("pi_late", "requires_payment_method")),
        stripe_event(
            "charge.succeeded", DAY + timedelta(minutes=1), charge_obj("ch_late", "pi_late", True, "authorized")
        ),
        # about a payment of last week: a capture, a refund, dispute updates
        stripe_event("charge.captured", DAY + timedelta(hours=1), charge_obj("ch_cap", "pi_cap", True, "authorized")),
        stripe_event("charge.refunded", DAY + timedelta(hours=2), old_charge),
        stripe_event(
            "refund.updated",
            DAY + timedelta(hours=2),
            {
                "id": "re_old",
                "object": "refund",
                "amount": 400,
                "currency": "eur",
                "charge": "ch_older",
                "status": "succeeded",
            },
        ),
        stripe_event(
            "charge.dispute.updated",
            DAY + timedelta(hours=4),
            {
                "id": "dp_old",
                "object": "dispute",
                "amount": 1000,
                "currency": "eur",
                "charge": "ch_old",
                "status": "under_review",
            },
        ),
        # today's payment, and a dispute opened today
        stripe_event("payment_intent.created", DAY + timedelta(hours=9), pi_obj("pi_new", "requires_payment_method")),
        stripe_event(
            "charge.succeeded", DAY + timedelta(hours=9, seconds=1), charge_obj("ch_new", "pi_new", True, "authorized")
        ),
        stripe_event("payment_intent.succeeded", DAY + timedelta(hours=9, seconds=2), pi_obj("pi_new", "succeeded")),
        stripe_event(
            "charge.dispute.created",
            DAY + timedelta(hours=10),
            {
                "id": "dp_new",
                "object": "dispute",
                "amount": 1000,
                "currency": "eur",
                "charge": "ch_x",
                "status": "needs_response",
            },
        ),
    ]
    f = frame(events)
    assert attempts(f, window)["attempt_id"].tolist() == ["pi_new"]
    assert len(attempts(f)) == 4  # without a window every payment seen is listed
    ref = refunds(f, window)
    assert ref[["charge", "via"]].to_dict("records") == [{"charge": "ch_old", "via": "charge.refunded"}]
    assert disputes(f, window)["dispute_id"].tolist() == ["dp_new"]
    assert disputes(f)["dispute_id"].tolist() == ["dp_new"]  # an update opens no dispute
    day = kpis(f, "UTC", "D", window).iloc[0]
    assert (day["attempts"], day["attempts_authorized"], day["refunds"], day["disputes"]) == (1, 1, 1, 1)
    assert day["authorized"] == 2  # ch_late and ch_new were authorized today; the capture is no new answer
    eur = money(f, "UTC", "D", window).iloc[0]
    assert (eur["charges"], eur["volume"], eur["refunds"], eur["disputes"]) == (1, 1000, 1, 1)


# -- 4. no baseline, no spike ------------------------------------------------------------------


def _declines_of(prefix: str, at: datetime, n: int, code: str, ok: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        ch = charge_obj(f"ch_{prefix}{i}", f"pi_{prefix}{i}", False, "issuer_declined", code)
        out.append(stripe_event("charge.failed", at, ch))
    for i in range(ok):
        out.append(
            stripe_event(
                "charge.succeeded", at, charge_obj(f"ch_{prefix}ok{i}", f"pi_{prefix}ok{i}", True, "authorized")
            )
        )
    return out


def test_no_spike_without_a_baseline_worth_the_name() -> None:
    thresholds = PaymentThresholds(decline_spike_factor=3.0, decline_spike_min=5, auth_rate_min_attempts=50)
    today = frame(_declines_of("t", DAY + timedelta(hours=9), 20, "do_not_honor", ok=30))
    thin = frame(_declines_of("b", DAY - timedelta(days=1), 0, "do_not_honor", ok=10))
    out = decline_spikes(today, thin, thresholds).set_index(["dimension", "value"])
    dnh = out.loc[("decline_code", "do_not_honor")]
    assert pd.isna(dnh["expected"]) and pd.isna(dnh["factor"]) and not dnh["spike"]
    assert not out["spike"].any() and int(dnh["baseline_attempts"]) == 10
    # the same today against a baseline of 100 authorizations, 1 of them declined so: a spike
    enough = frame(_declines_of("c", DAY - timedelta(days=1), 1, "do_not_honor", ok=99))
    out = decline_spikes(today, enough, thresholds).set_index(["dimension", "value"])
    dnh = out.loc[("decline_code", "do_not_honor")]
    assert dnh["expected"] == pytest.approx(0.5) and dnh["spike"]


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
