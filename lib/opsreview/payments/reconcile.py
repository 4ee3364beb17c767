"""Reconciliation: the gateway's payments against the app's orders.

Pure functions over ``payment_events`` and ``payment_orders`` frames. Payments are the
attempts of :func:`.kpis.attempts` (one per PaymentIntent, or per charge without one, with its
latest state). A payment belongs to an order through the order's ``payment_intent`` (the link
the app stored) or, failing that, the payment's ``order_id`` (the gateway object's metadata).

Give the events of the whole period the orders cover (the baseline days too). The events'
coverage starts at ``events_since`` (when the pull asked from) or, without it, at the earliest
event's time: an order or a refund whose payment may be older than that is not judged (see
:func:`orders_paid_without_payment` and :func:`unmatched_refunds`; the count of rows left out
is in the result's ``attrs["unjudged"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from opsreview.payments.kpis import SUCCEEDED, _event_time, attempts, empty_columns, minor_units, refunds

__all__ = [
    "STUCK_STATUSES",
    "amount_mismatches",
    "double_charges",
    "orders_paid_without_payment",
    "payments_without_paid_order",
    "stuck_payments",
    "unmatched_refunds",
]

# requires_action is not stuck: a customer who leaves a 3-D Secure challenge is the abandonment
# KPI (kpis' threeds_dropoff), not a payment the gateway or the app sits on.
STUCK_STATUSES = ("pending", "processing")


def _succeeded(events: pd.DataFrame) -> pd.DataFrame:
    att = attempts(events)
    return att[att["status"].isin(SUCCEEDED) | (att["result"] == "authorized")]


STUCK_COLUMNS = [
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


def stuck_payments(events: pd.DataFrame, window_end: datetime | pd.Timestamp, stuck_minutes: float) -> pd.DataFrame:
    """Payments whose latest status is pending or processing (:data:`STUCK_STATUSES`; not
    requires_action, an abandoned 3-D Secure challenge) and has been so for longer than
    ``stuck_minutes`` at ``window_end``.

    Limitation: ``payment_events`` has no payment-method type, so bank debits (SEPA Direct
    Debit, ACH, BACS...) that stay ``processing`` for days by design cannot be left out and
    are reported once they pass ``stuck_minutes``. Columns: ``attempt_id``,
    ``payment_intent``, ``order_id``, ``status``, ``since`` (UTC, when it reached that status),
    ``minutes`` (float), ``amount`` (Int64), ``currency``, ``last_event_id``. Longest first."""
    att = attempts(events)
    att = att[att["status"].isin(STUCK_STATUSES)]
    if att.empty:
        return empty_columns(STUCK_COLUMNS)
    end = pd.Timestamp(window_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    since = pd.to_datetime(att["status_since"], utc=True).fillna(pd.to_datetime(att["first"], utc=True))
    minutes = (end - since).dt.total_seconds() / 60
    out = att.assign(since=since, minutes=minutes.astype(float))
    out = out[out["minutes"] > stuck_minutes]
    return out.sort_values("minutes", ascending=False)[STUCK_COLUMNS].reset_index(drop=True)


def _coverage_start(events: pd.DataFrame, events_since: datetime | pd.Timestamp | None) -> pd.Timestamp | None:
    """Where the events' coverage starts (UTC): ``events_since``, else the earliest event's
    time; None when neither is known (no events)."""
    if events_since is not None:
        start = pd.Timestamp(events_since)
        return start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    if events.empty:
        return None
    earliest = _event_time(events).min()
    return None if pd.isna(earliest) else pd.Timestamp(earliest)


def _orders(orders: pd.DataFrame) -> pd.DataFrame:
    latest = orders.sort_values("updated", kind="stable", na_position="first")
    latest = latest.drop_duplicates("order_id", keep="last")
    return latest.assign(amount=minor_units(latest["amount"]))


def _links(orders: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """(order_id, attempt_id) pairs: by the order's payment_intent, else by the payment's order_id."""
    by_pi = (
        orders[["order_id", "payment_intent"]]
        .dropna()
        .merge(payments[["attempt_id", "payment_intent"]].dropna(), on="payment_intent")[["order_id", "attempt_id"]]
    )
    linked = set(by_pi["attempt_id"])
    by_meta = payments[~payments["attempt_id"].isin(linked)][["order_id", "attempt_id"]].dropna()
    return pd.concat([by_pi, by_meta], ignore_index=True).drop_duplicates()


ORPHAN_ORDER_COLUMNS = [
    "order_id",
    "status",
    "amount",
    "currency",
    "payment_intent",
    "updated",
    "payment_status",
]


def orders_paid_without_payment(
    orders: pd.DataFrame, events: pd.DataFrame, events_since: datetime | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Orders the app marks paid with no successful payment linked to them. Columns:
    ``order_id``, ``status``, ``amount`` (Int64), ``currency``, ``payment_intent``, ``updated``,
    ``payment_status`` (latest status of a linked payment that did not succeed; None when
    the gateway has no payment for the order at all).

    Orders whose payment is older than the events' coverage (``events_since``, else the
    earliest event) are not judged: left out, and counted in ``attrs["unjudged"]``. The
    payment's age is the order's ``updated`` (when the app last wrote it, normally when it
    was marked paid): an order updated before the coverage with no linked payment among the
    events is unjudged (a linked payment the events show not succeeding is judged: its
    events are in the coverage). An order paid before the coverage but updated since (shipped,
    say) is still judged; an order without ``updated`` is judged. With no events and no
    ``events_since`` there is no coverage to compare with: every order is judged."""
    if orders.empty:
        out = empty_columns(ORPHAN_ORDER_COLUMNS)
        out.attrs["unjudged"] = 0
        return out
    paid = _orders(orders)
    paid = paid[paid["paid"].fillna(False).astype(bool)]
    att = attempts(events)
    links = _links(paid, att) if len(att) else pd.DataFrame(columns=["order_id", "attempt_id"])
    linked = links.merge(att[["attempt_id", "status", "result", "last"]], on="attempt_id") if len(links) else None
    if linked is None or linked.empty:
        out = paid.assign(payment_status=None)
    else:
        ok = linked["status"].isin(SUCCEEDED) | (linked["result"] == "authorized")
        good_orders = set(linked.loc[ok, "order_id"])
        latest = linked.sort_values("last").drop_duplicates("order_id", keep="last").set_index("order_id")["status"]
        out = paid[~paid["order_id"].isin(good_orders)]
        out = out.assign(payment_status=out["order_id"].map(latest))
    start = _coverage_start(events, events_since)
    unjudged = 0
    if start is not None and len(out):
        seen = set(linked["order_id"]) if linked is not None else set()
        older = (pd.to_datetime(out["updated"], utc=True) < start).fillna(False).astype(bool)
        before = older & ~out["order_id"].isin(seen)
        unjudged = int(before.sum())
        out = out[~before]
    result = out[ORPHAN_ORDER_COLUMNS].sort_values("order_id").reset_index(drop=True)
    result.attrs["unjudged"] = unjudged
    return result


ORPHAN_PAYMENT_COLUMNS = [
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


def _refunded_by_attempt(events: pd.DataFrame, att: pd.DataFrame) -> pd.Series:
    """Amount refunded per attempt (Int64), from refunds matched by PaymentIntent or charge."""
    ref = refunds(events)
    if ref.empty or att.empty:
        return pd.Series(0, index=att["attempt_id"], dtype="Int64")
    by_charge = {charge: a for a, charges in zip(att["attempt_id"], att["charges"], strict=True) for charge in charges}
    pis = set(att["payment_intent"].dropna())
    owner = [
        pi if isinstance(pi, str) and pi in pis else by_charge.get(ch)
        for pi, ch in zip(ref["payment_intent"], ref["charge"], strict=True)
    ]
    ref = ref.assign(_owner=owner).dropna(subset=["_owner", "amount"])
    sums = {k: sum(int(v) for v in g) for k, g in ref.groupby("_owner")["amount"]}
    return pd.Series([sums.get(a, 0) for a in att["attempt_id"]], index=att["attempt_id"], dtype="Int64")


def payments_without_paid_order(orders: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Successful payments whose order the app does not mark paid (fully refunded payments
    left out: nothing is owed). Columns: ``attempt_id``, ``payment_intent``, ``order_id``,
    ``amount`` (Int64), ``currency``, ``refunded`` (Int64), ``succeeded_at`` (UTC, when it
    reached its status), ``order_status`` (None: no such order), ``reason`` ("no order
    id" | "order not found" | "order not paid")."""
    ok = _succeeded(events)
    if ok.empty:
        return empty_columns(ORPHAN_PAYMENT_COLUMNS)
    refunded = _refunded_by_attempt(events, ok)
    ok = ok.assign(refunded=refunded.to_numpy(), succeeded_at=ok["status_since"])
    ok = ok[~(ok["amount"].notna() & (ok["refunded"] >= ok["amount"]) & (ok["amount"] > 0))]
    ords = _orders(orders) if len(orders) else empty_columns(["order_id", "status", "paid", "payment_intent"])
    links = _links(ords, ok) if len(ords) else pd.DataFrame(columns=["order_id", "attempt_id"])
    info = ords.set_index("order_id")[["status", "paid"]] if len(ords) else None
    orders_of: dict[str, list[str]] = {}
    for order_id, attempt_id in zip(links["order_id"], links["attempt_id"], strict=True):
        orders_of.setdefault(attempt_id, []).append(order_id)
    rows = []
    for record in ok.to_dict("records"):
        linked = orders_of.get(record["attempt_id"], [])
        order_id = linked[0] if linked else record["order_id"]
        if info is not None and linked and any(bool(info.at[o, "paid"]) is True for o in linked if o in info.index):
            continue
        if not isinstance(order_id, str):
            reason, status = "no order id", None
        elif info is None or order_id not in info.index:
            reason, status = "order not found", None
        else:
            reason, status = "order not paid", info.at[order_id, "status"]
        rows.append({**record, "order_id": order_id, "order_status": status, "reason": reason})
    out = pd.DataFrame(rows, columns=ORPHAN_PAYMENT_COLUMNS) if rows else empty_columns(ORPHAN_PAYMENT_COLUMNS)
    for col in ("amount", "refunded"):
        out[col] = minor_units(out[col])
    return out.sort_values(["reason", "attempt_id"]).reset_index(drop=True)


DOUBLE_COLUMNS = [
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


def double_charges(events: pd.DataFrame) -> pd.DataFrame:
    """Two or more successful payments for one order (``key_kind`` "order_id") or one
    idempotency key ("idempotency_key"). Columns: ``key_kind``, ``key``, ``payments``,
    ``attempt_ids`` (list), ``currency`` (comma-joined when mixed), ``amount`` (Int64 sum;
    NA when currencies are mixed), ``refunded`` (Int64, refunds of those payments; NA when
    mixed), ``first``, ``last`` (UTC, when they succeeded)."""
    ok = _succeeded(events)
    if ok.empty:
        return empty_columns(DOUBLE_COLUMNS)
    ok = ok.assign(refunded=_refunded_by_attempt(events, ok).to_numpy(), _at=ok["status_since"].fillna(ok["last"]))
    by_key = ok[["attempt_id", "idempotency_keys"]].explode("idempotency_keys").dropna()
    groups: list[tuple[str, str, list[str]]] = []
    for kind, pairs, column in (("order_id", ok, "order_id"), ("idempotency_key", by_key, "idempotency_keys")):
        for key, ids in pairs.dropna(subset=[column]).groupby(column)["attempt_id"]:
            unique = sorted(set(ids))
            if len(unique) > 1:
                groups.append((kind, str(key), unique))
    rows = []
    indexed = ok.set_index("attempt_id")
    for kind, key, ids in groups:
        part = indexed.loc[ids]
        currencies = sorted(set(part["currency"].dropna()))
        single = len(currencies) == 1 and part["currency"].notna().all()
        rows.append(
            {
                "key_kind": kind,
                "key": key,
                "payments": len(ids),
                "attempt_ids": ids,
                "currency": ",".join(currencies) if currencies else None,
                "amount": sum(int(v) for v in part["amount"].dropna()) if single else None,
                "refunded": sum(int(v) for v in part["refunded"].dropna()) if single else None,
                "first": part["_at"].min(),
                "last": part["_at"].max(),
            }
        )
    if not rows:
        return empty_columns(DOUBLE_COLUMNS)
    out = pd.DataFrame(rows, columns=DOUBLE_COLUMNS)
    for col in ("amount", "refunded"):
        out[col] = out[col].astype("Int64")
    return out.sort_values(["key_kind", "key"]).reset_index(drop=True)


MISMATCH_COLUMNS = [
    "order_id",
    "attempt_id",
    "kind",
    "order_amount",
    "order_currency",
    "payment_amount",
    "payment_currency",
    "difference",
]


def amount_mismatches(orders: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Successful payments whose amount or currency differs from their order's. Columns:
    ``order_id``, ``attempt_id``, ``kind`` ("currency" | "amount"), ``order_amount``,
    ``order_currency``, ``payment_amount``, ``payment_currency``, ``difference``
    (payment - order, Int64; NA when the currencies differ)."""
    ok = _succeeded(events)
    if ok.empty or orders.empty:
        return empty_columns(MISMATCH_COLUMNS)
    ords = _orders(orders)
    links = _links(ords, ok)
    if links.empty:
        return empty_columns(MISMATCH_COLUMNS)
    joined = links.merge(ords[["order_id", "amount", "currency"]], on="order_id").merge(
        ok[["attempt_id", "amount", "currency"]], on="attempt_id", suffixes=("_order", "_payment")
    )
    oc, pc = joined["currency_order"].str.lower(), joined["currency_payment"].str.lower()
    currency = oc.notna() & pc.notna() & (oc != pc)
    both = joined["amount_order"].notna() & joined["amount_payment"].notna()
    amount = ~currency & both & (joined["amount_order"] != joined["amount_payment"]).fillna(False)
    bad = joined[currency | amount].copy()
    if bad.empty:
        return empty_columns(MISMATCH_COLUMNS)
    bad["kind"] = np.where(currency[bad.index], "currency", "amount")
    out = pd.DataFrame(
        {
            "order_id": bad["order_id"],
            "attempt_id": bad["attempt_id"],
            "kind": bad["kind"],
            "order_amount": minor_units(bad["amount_order"]),
            "order_currency": bad["currency_order"],
            "payment_amount": minor_units(bad["amount_payment"]),
            "payment_currency": bad["currency_payment"],
        }
    )
    diff = [
        int(p) - int(o) if k == "amount" else None
        for k, o, p in zip(out["kind"], out["order_amount"], out["payment_amount"], strict=True)
    ]
    out["difference"] = pd.array(diff, dtype="Int64")
    return out[MISMATCH_COLUMNS].sort_values(["order_id", "attempt_id"]).reset_index(drop=True)


UNMATCHED_REFUND_COLUMNS = [
    "refund_id",
    "charge",
    "payment_intent",
    "amount",
    "currency",
    "ts",
    "reason",
    "charge_status",
]


def unmatched_refunds(
    events: pd.DataFrame,
    reasons: Sequence[str] | None = None,
    events_since: datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Refunds with no matching successful charge. Columns: ``refund_id``, ``charge``,
    ``payment_intent``, ``amount`` (Int64), ``currency``, ``ts``, ``reason`` ("charge not
    found" | "charge not succeeded" | "exceeds charge": the payment's refunds add up to more
    than it was, same currency), ``charge_status`` (latest status of the payment, when found).
    ``reasons`` keeps only those reasons.

    A refund whose charge (or PaymentIntent) is not among the events may be of a charge older
    than the events' coverage (``events_since``, else the earliest event), and no event dates
    a charge the events do not hold: such a refund is not judged (left out, counted in
    ``attrs["unjudged"]``). "charge not found" is left for refunds that name neither a charge
    nor a PaymentIntent (unmatchable whatever the coverage). As a refund comes from the events,
    a coverage is always known when there is one (the earliest event): ``events_since`` does
    not change which refunds are judged, it is accepted for symmetry. A refund of a charge
    that truly does not exist (an app record with a wrong charge id) is therefore unjudged
    too, not reported.
    """
    ref = refunds(events)
    if ref.empty:
        out = empty_columns(UNMATCHED_REFUND_COLUMNS)
        out.attrs["unjudged"] = 0
        return out
    att = attempts(events)
    by_charge = {c: a for a, charges in zip(att["attempt_id"], att["charges"], strict=True) for c in charges}
    by_pi = set(att["payment_intent"].dropna())
    info = att.set_index("attempt_id")
    owners = [
        pi if isinstance(pi, str) and pi in by_pi else by_charge.get(ch)
        for pi, ch in zip(ref["payment_intent"], ref["charge"], strict=True)
    ]
    ref = ref.assign(_owner=owners)
    totals: dict[str, int] = {}
    for owner, amount, currency in zip(ref["_owner"], ref["amount"], ref["currency"], strict=True):
        if isinstance(owner, str) and not pd.isna(amount) and currency == info.at[owner, "currency"]:
            totals[owner] = totals.get(owner, 0) + int(amount)
    covered = _coverage_start(events, events_since) is not None
    rows = []
    unjudged = 0
    for record in ref.to_dict("records"):
        owner = record.pop("_owner")
        status = None
        if not isinstance(owner, str):
            named = any(isinstance(record[k], str) and record[k] for k in ("charge", "payment_intent"))
            if named and covered:  # the charge may be older than the events' coverage
                unjudged += 1
                continue
            reason = "charge not found"
        else:
            status = info.at[owner, "status"]
            paid = info.at[owner, "amount"]
            if not (status in SUCCEEDED or info.at[owner, "result"] == "authorized"):
                reason = "charge not succeeded"
            elif not pd.isna(paid) and totals.get(owner, 0) > int(paid):
                reason = "exceeds charge"
            else:
                continue
        rows.append({**record, "reason": reason, "charge_status": status})
    out = pd.DataFrame(rows, columns=UNMATCHED_REFUND_COLUMNS) if rows else empty_columns(UNMATCHED_REFUND_COLUMNS)
    if reasons is not None:
        out = out[out["reason"].isin(list(reasons))]
    out["amount"] = minor_units(out["amount"])
    out = out.reset_index(drop=True)
    out.attrs["unjudged"] = unjudged
    return out
