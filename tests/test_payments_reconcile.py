"""Reconciliation of the gateway's payments against the app's orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from opsreview.payments.reconcile import (
    amount_mismatches,
    double_charges,
    orders_paid_without_payment,
    payments_without_paid_order,
    stuck_payments,
    unmatched_refunds,
)
from tests.test_payments_kpis import authorized, declined, ev, events_frame, orders_frame

END = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
T = END - timedelta(hours=5)


def none(value: Any) -> Any:
    """Missing text as None (pandas' string columns hold NaN)."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def ago(minutes: float) -> datetime:
    return END - timedelta(minutes=minutes)


def paid(
    order_id: str, pi: str | None, amount: int = 1000, currency: str = "eur", status: str = "paid"
) -> dict[str, Any]:
    return {
        "ts": T,
        "order_id": order_id,
        "status": status,
        "paid": status == "paid",
        "amount": amount,
        "currency": currency,
        "payment_intent": pi,
        "updated": T,
    }


@pytest.fixture
def events() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    rows += authorized("pi_1", T, 1000, order_id="o1")
    rows += declined("pi_3", T, "do_not_honor", order_id="o3")
    rows += authorized("pi_4", T, 1000, order_id="o4")
    rows += authorized("pi_5", T, 1000, order_id="o_missing")
    rows.append(
        ev(
            T,
            "charge.succeeded",
            "charge",
            "ch_6",
            status="succeeded",
            outcome="authorized",
            amount=900,
            currency="eur",
        )
    )
    rows += authorized("pi_7", T, 1000, order_id="o7")
    rows.append(
        ev(
            T,
            "refund.created",
            "refund",
            "re_7",
            charge="ch_pi_7",
            payment_intent="pi_7",
            amount=1000,
            currency="eur",
            status="succeeded",
        )
    )
    rows += authorized("pi_8a", T, 1000, order_id="o8") + authorized(
        "pi_8b", T + timedelta(minutes=2), 1000, order_id="o8"
    )
    rows += authorized("pi_9a", T, 700, order_id="o9a", idempotency_key="idem-9")
    rows += authorized("pi_9b", T + timedelta(days=1), 700, order_id="o9b", idempotency_key="idem-9")
    rows += authorized("pi_10", T, 1100, order_id="o10")
    rows += authorized("pi_11", T, 1000, "usd", order_id="o11")
    # refunds: matched, unknown charge, of a failed payment, more than the payment
    rows.append(
        ev(T, "refund.created", "refund", "re_ok", charge="ch_pi_1", amount=200, currency="eur", status="succeeded")
    )
    rows.append(
        ev(
            T,
            "refund.created",
            "refund",
            "re_orphan",
            charge="ch_unknown",
            amount=50,
            currency="eur",
            status="succeeded",
        )
    )
    rows.append(
        ev(
            T,
            "refund.created",
            "refund",
            "re_fail",
            payment_intent="pi_3",
            amount=1000,
            currency="eur",
            status="succeeded",
        )
    )
    rows.append(
        ev(T, "refund.created", "refund", "re_10a", charge="ch_pi_10", amount=600, currency="eur", status="succeeded")
    )
    rows.append(
        ev(T, "refund.created", "refund", "re_10b", charge="ch_pi_10", amount=600, currency="eur", status="succeeded")
    )
    # stuck or not
    rows.append(
        ev(
            ago(60),
            "payment_intent.processing",
            "payment_intent",
            "pi_s1",
            status="processing",
            amount=400,
            currency="eur",
            order_id="os1",
        )
    )
    rows.append(
        ev(
            ago(120),
            "payment_intent.created",
            "payment_intent",
            "pi_s2",
            status="requires_payment_method",
            amount=500,
            currency="eur",
        )
    )
    rows.append(
        ev(
            ago(100),
            "payment_intent.requires_action",
            "payment_intent",
            "pi_s2",
            status="requires_action",
            amount=500,
            currency="eur",
        )
    )
    rows.append(
        ev(
            ago(20),
            "payment_intent.requires_action",
            "payment_intent",
            "pi_s2",
            status="requires_action",
            amount=500,
            currency="eur",
        )
    )
    rows.append(
        ev(
            ago(10),
            "payment_intent.processing",
            "payment_intent",
            "pi_s3",
            status="processing",
            amount=300,
            currency="eur",
        )
    )
    rows.append(ev(ago(31), "charge.pending", "charge", "ch_s4", status="pending", amount=200, currency="eur"))
    rows.append(
        ev(
            ago(90),
            "payment_intent.processing",
            "payment_intent",
            "pi_s5",
            status="processing",
            amount=100,
            currency="eur",
        )
    )
    rows += authorized("pi_s5", ago(80), 100)  # completed: not stuck
    return events_frame(rows)


@pytest.fixture
def orders() -> pd.DataFrame:
    return orders_frame(
        [
            paid("o1", "pi_1"),
            paid("o2", None),  # paid, the gateway has nothing
            paid("o3", "pi_3"),  # paid, its payment failed
            paid("o4", None, status="pending"),
            paid("o7", "pi_7", status="refunded"),
            paid("o8", "pi_8a"),
            paid("o9a", "pi_9a", 700),
            paid("o9b", "pi_9b", 700),
            paid("o10", "pi_10", 1000),
            paid("o11", None, 1000, "eur"),
        ]
    )


def test_stuck_payments(events: pd.DataFrame) -> None:
    out = stuck_payments(events, END, stuck_minutes=30)
    assert list(out.columns) == [
        "attempt_id",
        "payment_intent",
        "order_id",
        "status",
        "since",
        "minutes",
        "amount",
        "currency",
        "last_event_id",
    ]
    # pi_s2 has been in requires_action for 100 minutes: an abandoned 3-D Secure challenge, not stuck
    assert out["attempt_id"].tolist() == ["pi_s1", "ch_s4"]
    assert out["status"].tolist() == ["processing", "pending"]
    assert out["minutes"].tolist() == pytest.approx([60, 31])  # since it first reached the status
    assert out["order_id"].iloc[0] == "os1" and out["amount"].tolist() == [400, 200]
    assert stuck_payments(events, END, stuck_minutes=50)["attempt_id"].tolist() == ["pi_s1"]
    assert stuck_payments(events, END, stuck_minutes=70).empty
    # a naive window end is UTC
    assert len(stuck_payments(events, END.replace(tzinfo=None), 30)) == 2


def test_orders_paid_without_payment(orders: pd.DataFrame, events: pd.DataFrame) -> None:
    out = orders_paid_without_payment(orders, events)
    assert list(out.columns) == [
        "order_id",
        "status",
        "amount",
        "currency",
        "payment_intent",
        "updated",
        "payment_status",
    ]
    assert out["order_id"].tolist() == ["o2", "o3"]
    by_id = out.set_index("order_id")
    assert pd.isna(by_id.loc["o2", "payment_status"])
    assert by_id.loc["o3", "payment_status"] == "requires_payment_method"


def test_an_order_linked_by_metadata_only_is_matched(orders: pd.DataFrame, events: pd.DataFrame) -> None:
    # o11 has no payment_intent stored; pi_11's metadata names it: paid (its currency is another matter)
    out = orders_paid_without_payment(orders, events)
    assert "o11" not in out["order_id"].tolist()
    assert out["order_id"].tolist() == ["o2", "o3"]


def test_payments_without_paid_order(orders: pd.DataFrame, events: pd.DataFrame) -> None:
    out = payments_without_paid_order(orders, events)
    assert list(out.columns) == [
        "attempt_id",
        "payment_intent",
        "order_id",
        "amount",
        "currency",
        "refunded",
        "succeeded_at",
        "order_status",
        "reason",
    ]
    got = {r["attempt_id"]: (none(r["order_id"]), r["reason"], none(r["order_status"])) for r in out.to_dict("records")}
    # pi_7 (fully refunded), pi_1 and pi_8b (paid orders, pi_8b linked by metadata) are not there
    assert got == {
        "ch_6": (None, "no order id", None),
        "pi_5": ("o_missing", "order not found", None),
        "pi_4": ("o4", "order not paid", "pending"),
        "pi_s5": (None, "no order id", None),
    }
    assert out.set_index("attempt_id").loc["pi_4", "amount"] == 1000


def test_double_charges(events: pd.DataFrame) -> None:
    out = double_charges(events)
    assert list(out.columns) == [
        "key_kind",
        "key",
        "payments",
        "attempt_ids",
        "currency",
        "amount",
        "refunded",
        "first",
        "last",
    ]
    rows = out.to_dict("records")
    assert [(r["key_kind"], r["key"], r["attempt_ids"], r["amount"], r["currency"]) for r in rows] == [
        ("idempotency_key", "idem-9", ["pi_9a", "pi_9b"], 1400, "eur"),
        ("order_id", "o8", ["pi_8a", "pi_8b"], 2000, "eur"),
    ]
    assert rows[1]["last"] - rows[1]["first"] == pd.Timedelta(minutes=2)


def test_double_charges_in_mixed_currencies_are_not_summed() -> None:
    rows = authorized("pi_a", END, 1000, "eur", order_id="o") + authorized("pi_b", END, 1000, "usd", order_id="o")
    out = double_charges(events_frame(rows))
    assert out["currency"].tolist() == ["eur,usd"] and pd.isna(out["amount"].iloc[0])


def test_amount_and_currency_mismatches(orders: pd.DataFrame, events: pd.DataFrame) -> None:
    out = amount_mismatches(orders, events)
    assert list(out.columns) == [
        "order_id",
        "attempt_id",
        "kind",
        "order_amount",
        "order_currency",
        "payment_amount",
        "payment_currency",
        "difference",
    ]
    records = out.to_dict("records")
    assert [(r["order_id"], r["attempt_id"], r["kind"]) for r in records] == [
        ("o10", "pi_10", "amount"),
        ("o11", "pi_11", "currency"),
    ]
    assert records[0]["difference"] == 100 and pd.isna(records[1]["difference"])
    assert (records[1]["order_currency"], records[1]["payment_currency"]) == ("eur", "usd")


def test_refunds_with_no_matching_charge(events: pd.DataFrame) -> None:
    out = unmatched_refunds(events)
    assert list(out.columns) == [
        "refund_id",
        "charge",
        "payment_intent",
        "amount",
        "currency",
        "ts",
        "reason",
        "charge_status",
    ]
    got = {r["refund_id"]: (r["reason"], none(r["charge_status"])) for r in out.to_dict("records")}
    # re_orphan's charge is not among the events: it may be older than them, so it is not judged
    assert got == {
        "re_fail": ("charge not succeeded", "requires_payment_method"),
        "re_10a": ("exceeds charge", "succeeded"),
        "re_10b": ("exceeds charge", "succeeded"),
    }
    assert out.attrs["unjudged"] == 1
    assert unmatched_refunds(events, reasons=["charge not found"]).empty


def test_a_refund_naming_no_charge_is_charge_not_found(events: pd.DataFrame) -> None:
    bare = ev(T, "refund.created", "refund", "re_bare", amount=10, currency="eur", status="succeeded")
    everything = pd.concat([events, events_frame([bare])], ignore_index=True)
    out = unmatched_refunds(everything, reasons=["charge not found"])
    assert out["refund_id"].tolist() == ["re_bare"] and out.attrs["unjudged"] == 1
    since = unmatched_refunds(everything, events_since=T - timedelta(days=30))
    assert "re_orphan" not in since["refund_id"].tolist() and since.attrs["unjudged"] == 1


def test_orders_older_than_the_events_are_not_judged(orders: pd.DataFrame, events: pd.DataFrame) -> None:
    old = [
        {**paid("o_old", "pi_old"), "updated": T - timedelta(days=2)},  # paid before the events start
        {**paid("o_old3", "pi_3"), "updated": T - timedelta(days=2)},  # its payment's failure is in the events
        {**paid("o_nodate", None), "updated": None},
    ]
    both = pd.concat([orders, orders_frame(old)], ignore_index=True)
    out = orders_paid_without_payment(both, events)  # coverage: the earliest event, T
    assert out["order_id"].tolist() == ["o2", "o3", "o_nodate", "o_old3"]
    assert out.attrs["unjudged"] == 1
    since = orders_paid_without_payment(both, events, events_since=T - timedelta(days=3))
    assert since["order_id"].tolist() == ["o2", "o3", "o_nodate", "o_old", "o_old3"]
    assert since.attrs["unjudged"] == 0
    later = orders_paid_without_payment(both, events, events_since=(T + timedelta(minutes=1)).replace(tzinfo=None))
    assert later["order_id"].tolist() == ["o3", "o_nodate", "o_old3"]  # o2 (updated at T) is before it now
    assert later.attrs["unjudged"] == 2


def test_empty_inputs() -> None:
    events, orders = events_frame([]), orders_frame([])
    assert stuck_payments(events, END, 30).empty
    assert orders_paid_without_payment(orders, events).empty
    assert orders_paid_without_payment(orders, events).attrs["unjudged"] == 0
    assert payments_without_paid_order(orders, events).empty
    assert double_charges(events).empty and amount_mismatches(orders, events).empty
    assert unmatched_refunds(events).empty
    # orders but no events: every paid order is unmatched
    assert orders_paid_without_payment(orders_frame([paid("o1", "pi_1")]), events)["order_id"].tolist() == ["o1"]
