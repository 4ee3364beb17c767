"""Payment KPIs per local hour and day, and against the trailing baseline.

Pure functions over ``payment_events`` frames (see :mod:`.models`).

Counting rules
--------------
* **One attempt per PaymentIntent**, or per Charge when a charge has no PaymentIntent: every
  ``payment_intent``/``charge`` event is keyed by its ``payment_intent`` (the object's own id
  for PaymentIntent events). Retries inside one PaymentIntent (a declined card, then another)
  are one attempt.
* An attempt counts in the period (local hour or day) of its **first authorization-creating**
  event (``payment_intent.created`` or its first charge; without one, its first PaymentIntent
  event other than a cancelation), with its **latest** state. With a window (start, end),
  only attempts created in it count: a capture, a refund, a cancelation or a dispute about an
  older payment makes no attempt. The latest state: events are ordered by ``created`` (``ts`` where missing), ties by the
  natural progression of statuses, and each field is its latest non-null value.
* Its ``result``, in this order: ``authorized`` (latest status ``succeeded`` or
  ``requires_capture``, or an ``authorized``/``manual_review`` outcome that no failure
  followed); ``threeds_dropoff`` (it reached ``requires_action`` and no outcome came after:
  3-D Secure never completed); ``blocked`` (outcome ``blocked``: the gateway's fraud rules, not
  the issuer); ``issuer_declined`` (outcome ``issuer_declined``, or a failure with a
  ``decline_code`` and no outcome); ``pending`` (processing / pending / waiting for the
  customer); ``canceled``; ``other``.
* A charge's own outcome (authorized / issuer_declined / blocked) wins over one derived from
  a PaymentIntent event (a Radar block stays ``blocked``); only ``payment_intent.payment_failed``
  events carry a decline (:func:`opsreview.payments.normalize.event_row`).
* **Authorization rate** (``auth_rate``) is per issuer answer: each charge once (see
  :func:`authorizations`), authorized ÷ (authorized + issuer_declined); a decline followed by
  a successful retry is one of each. Blocks and 3-DS drop-offs never reached the issuer and
  are shown apart. **Success rate** (``success_rate``) is the same per attempt. Both NaN when
  the denominator is 0. The declines tables count per failed charge too.
* **Abandonment** = 3-DS drop-offs ÷ attempts that reached ``requires_action``.
* **Successful charges** = authorized attempts. **Dispute rate** = disputes created in the
  period ÷ successful charges of the period (a daily early warning; the networks' VAMP/ECP
  ratios are monthly). **Refund rate** (per currency) = amount refunded in the period ÷ the
  period's volume.
* Refunds: one per refund object (``object_type`` "refund", not failed or canceled), and one
  per refunded charge that has no refund object in the frame (``charge.refunded``, its latest
  ``amount_refunded``). Disputes: one per dispute object opened by a ``charge.dispute.created``
  event. Both count in the period of their creation.
* Money: integer minor units, per currency, never mixed; sums stay integers; the average
  ticket is the volume ÷ charges with a known amount, rounded half up to an integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

import numpy as np
import pandas as pd

from opsreview.payments.params import PaymentThresholds

__all__ = [
    "ATTEMPT_COLUMNS",
    "RESULTS",
    "attempts",
    "auth_rate_band",
    "authorizations",
    "decline_spikes",
    "declines",
    "disputes",
    "hourly_baseline",
    "kpis",
    "empty_columns",
    "local_period",
    "minor_units",
    "money",
    "refunds",
]

Zone = str | tzinfo

SUCCEEDED = frozenset({"succeeded", "requires_capture", "captured"})
PENDING = frozenset({"processing", "pending", "requires_confirmation", "requires_payment_method", "requires_action"})
RESULTS = ("authorized", "issuer_declined", "blocked", "threeds_dropoff", "pending", "canceled", "other")
# Tie-break of events created in the same second: the order a payment moves through.
_STATUS_RANK = {
    "requires_payment_method": 0,
    "requires_confirmation": 1,
    "requires_action": 2,
    "processing": 3,
    "pending": 3,
    "requires_capture": 4,
    "failed": 5,
    "canceled": 5,
    "succeeded": 6,
}
_LAST_FIELDS = (
    "status",
    "outcome",
    "decline_code",
    "failure_code",
    "order_id",
    "customer",
    "amount",
    "currency",
    "card_brand",
    "card_country",
    "card_bin",
    "card_last4",
    "three_ds",
    "livemode",
)
ATTEMPT_COLUMNS = [
    "attempt_id",
    "payment_intent",
    "charges",
    "order_id",
    "customer",
    "idempotency_keys",
    "result",
    "status",
    "status_since",
    "outcome",
    "decline_code",
    "failure_code",
    "amount",
    "currency",
    "card_brand",
    "card_country",
    "card_bin",
    "card_last4",
    "three_ds",
    "livemode",
    "reached_requires_action",
    "first",
    "last",
    "events",
    "last_event_id",
]


def local_period(ts: pd.Series, tz: Zone, freq: str = "h") -> pd.Series:
    """The local hour (``freq="h"``) or day (``"D"``) each UTC timestamp falls in, as the
    period's tz-aware local start. The two 01:00 hours of a DST fall-back stay apart (their
    offsets differ); zones with half-hour offsets get their own local hours."""
    stamps = pd.to_datetime(ts, utc=True)
    local = stamps.dt.tz_convert(tz)
    if freq.upper() == "D":
        day = local.dt.tz_localize(None).dt.normalize()
        return day.dt.tz_localize(tz, ambiguous=np.ones(len(day), dtype=bool), nonexistent="shift_forward")
    if freq.lower() != "h":
        raise ValueError(f"freq is 'h' or 'D', not {freq!r}")
    naive = stamps.dt.tz_localize(None)
    offset = local.dt.tz_localize(None) - naive
    wall = (naive + offset).dt.floor("h")
    return (wall - offset).dt.tz_localize("UTC").dt.tz_convert(tz)


def minor_units(values: pd.Series) -> pd.Series:
    """Amounts as nullable integers (Arrow's int64 with nulls arrives as float64): fractions
    are refused (NA), never rounded."""
    if isinstance(values.dtype, pd.Int64Dtype):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.where(numbers.isna() | (numbers == np.floor(numbers)))
    return whole.astype("Int64")


def _event_time(events: pd.DataFrame) -> pd.Series:
    created = pd.to_datetime(events["created"], utc=True)
    return created.fillna(pd.to_datetime(events["ts"], utc=True))


def empty_columns(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _sorted(events: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    frame = events.assign(
        _key=key,
        _time=_event_time(events),
        _rank=events["status"].map(_STATUS_RANK).fillna(-1),
    )
    return frame.sort_values(["_key", "_time", "_rank"], kind="stable")


def _sets(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[["_key", column]].dropna()
    values = values[values[column].astype(str).str.len() > 0]
    return values.groupby("_key")[column].agg(lambda s: sorted(set(s)))


Window = tuple[object, object] | None

# Events that start an authorization: a PaymentIntent's creation, or a charge (each charge is
# one authorization). Other charge events (captured, refunded, updated, expired) are about a
# charge that already exists; a PaymentIntent's cancelation is about one that already exists.
CREATING = frozenset({"payment_intent.created", "charge.succeeded", "charge.failed", "charge.pending"})
_NOT_CREATING_PI = frozenset({"payment_intent.canceled"})


def _bounds(window: Window) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """A (start, end) window as UTC timestamps (naive means UTC); None for no window."""
    if window is None:
        return None
    start, end = (pd.Timestamp(w) for w in window)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return start, end


def _inside(times: pd.Series, window: Window) -> pd.Series:
    """Whether each time falls in [start, end) (all True without a window; NaT never inside one)."""
    bounds = _bounds(window)
    if bounds is None:
        return pd.Series(True, index=times.index)
    stamps = pd.to_datetime(times, utc=True)
    return ((stamps >= bounds[0]) & (stamps < bounds[1])).fillna(False).astype(bool)


def attempts(events: pd.DataFrame, window: Window = None) -> pd.DataFrame:
    """One row per payment attempt (see the module's counting rules).

    ``first`` is when the attempt's first authorization-creating event happened
    (``payment_intent.created`` or its first charge: :data:`CREATING`; without one, its first
    PaymentIntent event other than a cancelation; without any of those, its first event).
    With a ``window`` (start, end) only attempts whose authorization-creating event falls in
    [start, end) are kept: events about older payments (a refund, a capture, a cancelation
    of a payment created before) make no attempt. The outcome of a charge (authorized /
    issuer_declined / blocked) wins over one derived from a PaymentIntent event.

    Columns: ``attempt_id`` (the PaymentIntent, or the charge without one),
    ``payment_intent`` (None for a lone charge), ``charges`` (list of charge ids),
    ``order_id``, ``customer``, ``idempotency_keys`` (list), ``result`` (one of
    :data:`RESULTS`), ``status`` (latest), ``status_since`` (when it reached its latest
    status), ``outcome``, ``decline_code``, ``failure_code``, ``amount`` (Int64),
    ``currency``, ``card_brand``, ``card_country``, ``card_bin``, ``card_last4``,
    ``three_ds``, ``livemode``, ``reached_requires_action`` (bool), ``first``, ``last``
    (UTC), ``events`` (count), ``last_event_id``."""
    if events.empty:
        return empty_columns(ATTEMPT_COLUMNS)
    ev = events[events["object_type"].isin(["payment_intent", "charge"])]
    if ev.empty:
        return empty_columns(ATTEMPT_COLUMNS)
    own_pi = ev["object_id"].where(ev["object_type"] == "payment_intent")
    key = ev["payment_intent"].fillna(own_pi).fillna(ev["object_id"])
    ev = _sorted(ev, key)
    grouped = ev.groupby("_key", sort=True)
    out = grouped[list(_LAST_FIELDS)].last()
    # the charge's own outcome wins over the PaymentIntent's (a Radar block stays blocked)
    charge_outcome = ev["outcome"].where(ev["object_type"] == "charge").groupby(ev["_key"]).last()
    out["outcome"] = charge_outcome.reindex(out.index).combine_first(out["outcome"])
    types = ev["type"].astype(str)
    creating = types.isin(CREATING)
    pi_live = (ev["object_type"] == "payment_intent") & ~types.isin(_NOT_CREATING_PI)
    born = ev["_time"].where(creating).groupby(ev["_key"]).min()
    born = born.combine_first(ev["_time"].where(pi_live).groupby(ev["_key"]).min())
    born = born.reindex(out.index)
    out["first"] = born.fillna(grouped["_time"].min())
    out["last"] = grouped["_time"].max()
    out["events"] = grouped.size()
    out["last_event_id"] = grouped["event_id"].last()
    pi_ids = ev["payment_intent"].fillna(own_pi)
    out["payment_intent"] = pi_ids.groupby(ev["_key"]).first()
    charge_ids = ev["object_id"].where(ev["object_type"] == "charge").fillna(ev["charge"])
    charges = _sets(ev.assign(_charge=charge_ids), "_charge")
    out["charges"] = [charges.get(k, []) for k in out.index]
    keys = _sets(ev[~ev["idempotency_key"].astype(str).str.contains(r"\*\*\*", na=False)], "idempotency_key")
    out["idempotency_keys"] = [keys.get(k, []) for k in out.index]
    out["amount"] = minor_units(out["amount"])

    # when the latest status was reached: the start of the last run of equal statuses
    with_status = ev[ev["status"].notna()]
    change = with_status["status"] != with_status.groupby("_key")["status"].shift()
    run = change.astype(int).groupby(with_status["_key"]).cumsum()
    last_run = run.groupby(with_status["_key"]).transform("max")
    out["status_since"] = with_status.loc[run == last_run].groupby("_key")["_time"].min()

    requires_action = (ev["status"] == "requires_action") | ev["type"].astype(str).str.endswith(".requires_action")
    out["reached_requires_action"] = requires_action.groupby(ev["_key"]).any()
    last_action = ev["_time"].where(requires_action).groupby(ev["_key"]).max()
    last_outcome = ev["_time"].where(ev["outcome"].notna()).groupby(ev["_key"]).max()
    out["result"] = _results(out, last_action.reindex(out.index), last_outcome.reindex(out.index))
    if window is not None:
        out = out[born.notna() & _inside(born, window)]
    out.index.name = "attempt_id"
    return out.reset_index()[ATTEMPT_COLUMNS]


AUTH_COLUMNS = [
    "auth_id",
    "attempt_id",
    "charge",
    "outcome",
    "decline_code",
    "card_brand",
    "card_country",
    "card_bin",
    "card_last4",
    "ts",
]
# The answers an authorization can get, as kpis counts them (manual_review: the issuer said yes).
_ANSWERS = {"authorized": "authorized", "manual_review": "authorized", "issuer_declined": "issuer_declined"}
_ANSWERS_ALL = {**_ANSWERS, "blocked": "blocked"}
_AUTH_FIELDS = ["outcome", "decline_code", "card_brand", "card_country", "card_bin", "card_last4"]


def authorizations(events: pd.DataFrame, window: Window = None) -> pd.DataFrame:
    """One row per authorization: each charge once (``charge.succeeded`` / ``charge.failed`` /
    ``charge.pending`` events of one charge id, its latest outcome), with ``outcome`` one of
    ``authorized`` (``manual_review`` included), ``issuer_declined``, ``blocked`` (the
    gateway's rules: no issuer answer). A PaymentIntent with no charge event in the frame gives
    one authorization per ``payment_intent.payment_failed`` event with a decline outcome and
    one ``authorized`` for its first ``payment_intent.succeeded`` /
    ``payment_intent.amount_capturable_updated``. With a ``window`` (start, end), only those
    whose first event falls in [start, end).

    Columns: ``auth_id`` (the charge, or the PaymentIntent event), ``attempt_id``, ``charge``,
    ``outcome``, ``decline_code``, ``card_brand``, ``card_country``, ``card_bin``,
    ``card_last4``, ``ts`` (UTC)."""
    if events.empty:
        return empty_columns(AUTH_COLUMNS)
    types = events["type"].astype(str)
    own_pi = events["object_id"].where(events["object_type"] == "payment_intent")
    key = events["payment_intent"].fillna(own_pi).fillna(events["object_id"])
    charge_ev = events[(events["object_type"] == "charge") & types.isin(CREATING)]
    parts = []
    if len(charge_ev):
        ch = _sorted(charge_ev, charge_ev["object_id"])
        grouped = ch.groupby("_key", sort=True)
        got = grouped[_AUTH_FIELDS].last()
        got["ts"] = grouped["_time"].min()
        got["attempt_id"] = key[ch.index].groupby(ch["_key"]).first()
        got["charge"] = got.index
        got["auth_id"] = got.index
        parts.append(got)
    with_charges = set(key[charge_ev.index].dropna())
    pi_ev = events[(events["object_type"] == "payment_intent") & ~key.isin(with_charges)]
    if len(pi_ev):
        pi_types = pi_ev["type"].astype(str)
        failed = pi_ev[
            (pi_types == "payment_intent.payment_failed") & pi_ev["outcome"].isin(["issuer_declined", "blocked"])
        ]
        ok = pi_ev[pi_types.isin(["payment_intent.succeeded", "payment_intent.amount_capturable_updated"])]
        ok = ok.assign(_time=_event_time(ok)).sort_values("_time", kind="stable")
        ok = ok.drop_duplicates("object_id").assign(outcome="authorized")
        for frame in (failed, ok):
            if len(frame):
                parts.append(
                    frame.assign(
                        ts=_event_time(frame),
                        attempt_id=key[frame.index],
                        charge=frame["charge"],
                        auth_id=frame["event_id"],
                    )
                )
    if not parts:
        return empty_columns(AUTH_COLUMNS)
    out = pd.concat([p[AUTH_COLUMNS] for p in parts], ignore_index=True)
    out["outcome"] = out["outcome"].map(_ANSWERS_ALL)
    out = out[out["outcome"].notna() & _inside(out["ts"], window)]
    return out.sort_values(["ts", "auth_id"], kind="stable").reset_index(drop=True)


def _results(out: pd.DataFrame, last_action: pd.Series, last_outcome: pd.Series) -> np.ndarray:
    status = out["status"].astype(object)
    outcome = out["outcome"].astype(object)
    failed = status.isin(["failed", "requires_payment_method", "canceled"])
    no_outcome_after_3ds = out["reached_requires_action"] & (last_outcome.isna() | (last_outcome < last_action))
    conditions = [
        status.isin(SUCCEEDED) | (outcome.isin(["authorized", "manual_review"]) & ~failed),
        no_outcome_after_3ds,
        outcome == "blocked",
        (outcome == "issuer_declined") | (outcome.isna() & out["decline_code"].notna() & failed),
        status.isin(PENDING),
        status == "canceled",
    ]
    choices = ["authorized", "threeds_dropoff", "blocked", "issuer_declined", "pending", "canceled"]
    return np.select([np.asarray(c, dtype=bool) for c in conditions], choices, default="other")


def _objects(events: pd.DataFrame, mask: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    ev = events[mask]
    ev = _sorted(ev, ev["object_id"])
    grouped = ev.groupby("_key", sort=True)
    out = grouped[list(columns)].last()
    out["ts"] = grouped["_time"].min()
    return out


REFUND_COLUMNS = ["refund_id", "charge", "payment_intent", "amount", "currency", "status", "ts", "via"]


REFUND_CREATED = frozenset({"refund.created", "charge.refund.created"})


def refunds(events: pd.DataFrame, window: Window = None) -> pd.DataFrame:
    """Refunds (see the counting rules). Columns: ``refund_id`` (None for a refunded charge
    without refund object), ``charge``, ``payment_intent``, ``amount`` (Int64), ``currency``,
    ``status``, ``ts`` (when created, UTC), ``via`` ("refund" | "charge.refunded").

    A refund counts when it was created: its ``refund.created`` event (its first event when
    the frame has none), or the ``charge.refunded`` event of a charge refunded without refund
    object. With a ``window`` (start, end) only refunds created in [start, end) count; a
    refund object with no creation event in the frame is then not counted (an update of an
    older refund)."""
    if events.empty:
        return empty_columns(REFUND_COLUMNS)
    fields = ["charge", "payment_intent", "amount", "currency", "status"]
    is_refund = events["object_type"] == "refund"
    objs = _objects(events, is_refund, fields)
    created = events[is_refund & events["type"].astype(str).isin(REFUND_CREATED)]
    born = _event_time(created).groupby(created["object_id"]).min().reindex(objs.index)
    with_creation = objs[born.notna()]
    if window is not None:
        objs = objs[born.notna() & _inside(born, window)]
        objs = objs.assign(ts=born[objs.index])
    else:
        objs = objs.assign(ts=born.fillna(objs["ts"]))
    objs = objs[~objs["status"].isin(["failed", "canceled"])]
    objs = objs.assign(via="refund", refund_id=objs.index)
    refunded = (events["type"] == "charge.refunded") & (events["object_type"] == "charge")
    charges = _objects(events, refunded, ["payment_intent", "amount_refunded", "currency", "status"])
    known = with_creation if window is not None else _objects(events, is_refund, fields)
    charges = charges[~charges.index.isin(set(known["charge"].dropna()))]
    charges = charges[_inside(charges["ts"], window)]
    charges = charges.assign(
        via="charge.refunded", refund_id=None, charge=charges.index, amount=charges["amount_refunded"]
    )
    parts = [p[REFUND_COLUMNS] for p in (objs, charges) if len(p)]
    if not parts:
        return empty_columns(REFUND_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["amount"] = minor_units(out["amount"])
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


DISPUTE_COLUMNS = ["dispute_id", "charge", "payment_intent", "amount", "currency", "status", "ts"]


def disputes(events: pd.DataFrame, window: Window = None) -> pd.DataFrame:
    """Disputes, one per dispute object that has a ``charge.dispute.created`` event (updates
    and closings of an older dispute open none). Columns: ``dispute_id``, ``charge``,
    ``payment_intent``, ``amount`` (Int64), ``currency``, ``status`` (latest), ``ts`` (when
    created, UTC). With a ``window`` (start, end), only disputes created in [start, end)."""
    if events.empty:
        return empty_columns(DISPUTE_COLUMNS)
    mask = (events["object_type"] == "dispute") | events["type"].astype(str).str.startswith("charge.dispute.")
    created = events[mask & (events["type"] == "charge.dispute.created")]
    if created.empty:
        return empty_columns(DISPUTE_COLUMNS)
    born = _event_time(created).groupby(created["object_id"]).min()
    born = born[_inside(born, window)]
    mask = mask & events["object_id"].isin(set(born.index))
    if not mask.any():
        return empty_columns(DISPUTE_COLUMNS)
    out = _objects(events, mask, ["charge", "payment_intent", "amount", "currency", "status"])
    out["ts"] = born.reindex(out.index)
    out.index.name = "dispute_id"
    out = out.reset_index()[DISPUTE_COLUMNS]
    out["amount"] = minor_units(out["amount"])
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


KPI_COLUMNS = [
    "period",
    "attempts",
    "authorized",
    "issuer_declined",
    "blocked",
    "threeds_dropoff",
    "pending",
    "canceled",
    "other",
    "attempts_authorized",
    "attempts_issuer_declined",
    "attempts_blocked",
    "requires_action",
    "auth_rate",
    "success_rate",
    "abandonment",
    "refunds",
    "disputes",
    "dispute_rate",
]
_ATTEMPT_RESULTS = {
    "authorized": "attempts_authorized",
    "issuer_declined": "attempts_issuer_declined",
    "blocked": "attempts_blocked",
}


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def kpis(events: pd.DataFrame, tz: Zone, freq: str = "h", window: Window = None) -> pd.DataFrame:
    """KPIs per local hour (``freq="h"``, with an ``hour`` column) or day (``"D"``).

    Columns: ``period`` (local start, tz-aware), ``attempts`` (PaymentIntents, or lone
    charges, in the period of their first authorization-creating event);
    ``authorized``, ``issuer_declined``, ``blocked``: **authorizations** (each charge once,
    see :func:`authorizations`) in the period of the charge - a decline followed by a
    successful retry is one of each; ``threeds_dropoff``, ``pending``, ``canceled``,
    ``other``: attempts by result; ``attempts_authorized``, ``attempts_issuer_declined``,
    ``attempts_blocked``: attempts by result; ``requires_action`` (attempts that reached it);
    ``auth_rate`` = authorized ÷ (authorized + issuer_declined) per issuer answer;
    ``success_rate`` = the same per attempt (attempts_authorized ÷ (attempts_authorized +
    attempts_issuer_declined)); ``abandonment``, ``refunds``, ``disputes``, ``dispute_rate``
    (disputes ÷ authorized charges); rates are floats, NaN without a denominator; ``hour``
    (0-23) for hourly frames. ``window`` (start, end) keeps only attempts, authorizations,
    refunds and disputes that began in [start, end) (see :func:`attempts`)."""
    att = attempts(events, window)
    auth = authorizations(events, window)
    columns = KPI_COLUMNS + (["hour"] if freq.lower() == "h" else [])
    ref, dis = refunds(events, window), disputes(events, window)
    if att.empty and auth.empty and ref.empty and dis.empty:
        return empty_columns(columns)
    parts = []
    if len(att):
        counts = pd.crosstab(local_period(att["first"], tz, freq), att["result"])
        counts = counts.reindex(columns=list(RESULTS), fill_value=0)
        counts["attempts"] = counts.sum(axis=1)
        counts = counts.rename(columns=_ATTEMPT_RESULTS)
        ra = att.groupby(local_period(att["first"], tz, freq))["reached_requires_action"].sum()
        counts["requires_action"] = ra.astype("int64")
        parts.append(counts)
    if len(auth):
        answers = pd.crosstab(local_period(auth["ts"], tz, freq), auth["outcome"])
        parts.append(answers.reindex(columns=["authorized", "issuer_declined", "blocked"], fill_value=0))
    if len(ref):
        parts.append(ref.groupby(local_period(ref["ts"], tz, freq)).size().rename("refunds").to_frame())
    if len(dis):
        parts.append(dis.groupby(local_period(dis["ts"], tz, freq)).size().rename("disputes").to_frame())
    out = pd.concat(parts, axis=1)
    counted = ["attempts", "authorized", "issuer_declined", "blocked", "threeds_dropoff", "pending", "canceled"]
    counted += ["other", *_ATTEMPT_RESULTS.values(), "requires_action", "refunds", "disputes"]
    for col in counted:
        out[col] = out[col].fillna(0).astype("int64") if col in out else 0
    out["auth_rate"] = _rate(out["authorized"], out["authorized"] + out["issuer_declined"])
    out["success_rate"] = _rate(
        out["attempts_authorized"], out["attempts_authorized"] + out["attempts_issuer_declined"]
    )
    out["abandonment"] = _rate(out["threeds_dropoff"], out["requires_action"])
    out["dispute_rate"] = _rate(out["disputes"], out["authorized"])
    out.index.name = "period"
    out = out.reset_index().sort_values("period").reset_index(drop=True)
    if freq.lower() == "h":
        out["hour"] = out["period"].dt.hour.astype("int64")
    return out[columns]


MONEY_COLUMNS = [
    "period",
    "currency",
    "charges",
    "volume",
    "avg_ticket",
    "refunds",
    "refunded",
    "refund_rate",
    "disputes",
    "disputed",
]


def _int_sum(values: pd.Series) -> int:
    return int(sum(int(v) for v in values.dropna()))


def money(events: pd.DataFrame, tz: Zone, freq: str = "D", window: Window = None) -> pd.DataFrame:
    """Volume, refunds and disputes per local period and currency (minor units, ints).

    Columns: ``period``, ``currency`` ("?" when unknown), ``charges`` (authorized attempts),
    ``volume``, ``avg_ticket`` (ints), ``refunds``, ``refunded`` (amount), ``refund_rate``
    (refunded ÷ volume, float), ``disputes``, ``disputed`` (amount). ``window`` as in
    :func:`kpis`."""
    att = attempts(events, window)
    att = att[att["result"] == "authorized"]
    ref, dis = refunds(events, window), disputes(events, window)
    rows: dict[tuple[pd.Timestamp, str], dict[str, int]] = {}

    def bucket(frame: pd.DataFrame, time: str) -> pd.core.groupby.DataFrameGroupBy:
        keyed = frame.assign(_p=local_period(frame[time], tz, freq), _c=frame["currency"].fillna("?"))
        return keyed.groupby(["_p", "_c"], sort=True)

    def row(key: tuple[pd.Timestamp, str]) -> dict[str, int]:
        return rows.setdefault(
            key,
            {"charges": 0, "volume": 0, "known": 0, "refunds": 0, "refunded": 0, "disputes": 0, "disputed": 0},
        )

    if len(att):
        for key, group in bucket(att, "first"):
            r = row(key)
            r["charges"], r["volume"] = len(group), _int_sum(group["amount"])
            r["known"] = int(group["amount"].notna().sum())
    if len(ref):
        for key, group in bucket(ref, "ts"):
            r = row(key)
            r["refunds"], r["refunded"] = len(group), _int_sum(group["amount"])
    if len(dis):
        for key, group in bucket(dis, "ts"):
            r = row(key)
            r["disputes"], r["disputed"] = len(group), _int_sum(group["amount"])
    if not rows:
        return empty_columns(MONEY_COLUMNS)
    records = []
    for (period, currency), r in sorted(rows.items(), key=lambda item: (item[0][0], item[0][1])):
        volume, known = r["volume"], r["known"]
        records.append(
            {
                "period": period,
                "currency": currency,
                "charges": r["charges"],
                "volume": volume,
                "avg_ticket": (2 * volume + known) // (2 * known) if known else None,
                "refunds": r["refunds"],
                "refunded": r["refunded"],
                "refund_rate": r["refunded"] / volume if volume else np.nan,
                "disputes": r["disputes"],
                "disputed": r["disputed"],
            }
        )
    out = pd.DataFrame(records, columns=MONEY_COLUMNS)
    out["avg_ticket"] = out["avg_ticket"].astype("Int64")
    return out


DIMENSIONS = ("decline_code", "card_brand", "card_country", "card_bin")
DECLINE_COLUMNS = [
    "dimension",
    "value",
    "declines",
    "issuer_declined",
    "blocked",
    "share",
    "attempts",
    "decline_rate",
]


def declines(events: pd.DataFrame, dimensions: Sequence[str] = DIMENSIONS, window: Window = None) -> pd.DataFrame:
    """Declined authorizations (issuer declines and blocks, each failed charge once: a decline
    followed by a successful retry still counts) by each dimension where present.

    Columns: ``dimension``, ``value``, ``declines``, ``issuer_declined``, ``blocked``,
    ``share`` (of all declines), ``attempts`` (all authorizations with that value: see
    :func:`authorizations`), ``decline_rate`` (declines ÷ attempts). Sorted by dimension,
    then declines. ``window`` as in :func:`authorizations`."""
    auth = authorizations(events, window)
    if auth.empty:
        return empty_columns(DECLINE_COLUMNS)
    auth = auth.assign(
        _issuer=auth["outcome"] == "issuer_declined",
        _blocked=auth["outcome"] == "blocked",
    )
    total = int(auth["_issuer"].sum() + auth["_blocked"].sum())
    parts = []
    for dim in dimensions:
        known = auth[auth[dim].notna()]
        if known.empty:
            continue
        g = known.groupby(dim).agg(
            issuer_declined=("_issuer", "sum"), blocked=("_blocked", "sum"), attempts=("outcome", "size")
        )
        g["declines"] = g["issuer_declined"] + g["blocked"]
        g = g[g["declines"] > 0]
        g["share"] = g["declines"] / total if total else np.nan
        g["decline_rate"] = g["declines"] / g["attempts"]
        g = g.reset_index().rename(columns={dim: "value"}).assign(dimension=dim)
        parts.append(g.sort_values(["declines", "value"], ascending=[False, True]))
    if not parts:
        return empty_columns(DECLINE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[DECLINE_COLUMNS]
    for col in ("declines", "issuer_declined", "blocked", "attempts"):
        out[col] = out[col].astype("int64")
    return out


BAND_COLUMNS = ["hour", "baseline_median", "baseline_p10", "baseline_p90", "baseline_days"]


def hourly_baseline(baseline: pd.DataFrame, tz: Zone, min_attempts: int = 1) -> pd.DataFrame:
    """The authorization rate (per issuer answer) of each local hour over the baseline days:
    ``hour``, ``baseline_median``, ``baseline_p10``, ``baseline_p90``, ``baseline_days`` (days
    whose hour had at least ``min_attempts`` authorized + issuer-declined authorizations)."""
    hourly = kpis(baseline, tz, "h")
    if hourly.empty:
        return empty_columns(BAND_COLUMNS)
    judged = hourly[(hourly["authorized"] + hourly["issuer_declined"]) >= min_attempts]
    if judged.empty:
        return empty_columns(BAND_COLUMNS)
    grouped = judged.groupby("hour")["auth_rate"]
    out = pd.DataFrame(
        {
            "baseline_median": grouped.median(),
            "baseline_p10": grouped.quantile(0.1),
            "baseline_p90": grouped.quantile(0.9),
            "baseline_days": grouped.size().astype("int64"),
        }
    )
    out.index.name = "hour"
    return out.reset_index()[BAND_COLUMNS]


def auth_rate_band(today: pd.DataFrame, baseline: pd.DataFrame, tz: Zone, min_attempts: int = 1) -> pd.DataFrame:
    """Today's hourly authorization rate with the baseline band of the same local hour.

    Columns: ``period``, ``hour``, ``attempts``, ``authorized``, ``issuer_declined``
    (authorizations, as in :func:`kpis`), ``auth_rate`` (per issuer answer), ``baseline_median``, ``baseline_p10``, ``baseline_p90``,
    ``baseline_days`` (0 where the baseline has no such hour)."""
    hourly = kpis(today, tz, "h")
    columns = ["period", "hour", "attempts", "authorized", "issuer_declined", "auth_rate", *BAND_COLUMNS[1:]]
    if hourly.empty:
        return empty_columns(columns)
    band = hourly_baseline(baseline, tz, min_attempts)
    out = (
        hourly.merge(band, on="hour", how="left")
        if len(band)
        else hourly.assign(baseline_median=np.nan, baseline_p10=np.nan, baseline_p90=np.nan, baseline_days=0)
    )
    out["baseline_days"] = out["baseline_days"].fillna(0).astype("int64")
    for col in ("baseline_median", "baseline_p10", "baseline_p90"):
        out[col] = out[col].astype(float)
    return out[columns]


SPIKE_COLUMNS = [
    "dimension",
    "value",
    "declines",
    "attempts",
    "baseline_declines",
    "baseline_attempts",
    "baseline_share",
    "expected",
    "factor",
    "spike",
]


def _declined_by(auth: pd.DataFrame, dim: str, bin_digits: int) -> pd.Series:
    declined = auth[auth["outcome"].isin(["issuer_declined", "blocked"]) & auth[dim].notna()]
    values = declined[dim].astype(str)
    if dim == "card_bin":
        values = values.str[:bin_digits]
    return values.value_counts()


def decline_spikes(
    today: pd.DataFrame,
    baseline: pd.DataFrame,
    thresholds: PaymentThresholds,
    dimensions: Sequence[str] = ("decline_code", "card_bin"),
    bin_digits: int = 6,
) -> pd.DataFrame:
    """Decline codes and BIN ranges (``card_bin``'s first ``bin_digits`` digits) declined
    more today than the baseline predicts, counted per authorization (each failed charge once,
    see :func:`authorizations`).

    expected = (baseline declines with the value ÷ baseline authorizations) × today's
    authorizations; ``spike`` when declines ≥ ``decline_spike_min`` and declines ≥
    ``decline_spike_factor`` × expected (a value never declined in the baseline has expected 0
    and factor inf). A baseline with fewer than ``auth_rate_min_attempts`` authorizations
    predicts nothing: ``expected``, ``factor`` and ``baseline_share`` are NaN and nothing is a
    spike. Columns: ``dimension``, ``value``, ``declines``, ``attempts`` (today's
    authorizations, all), ``baseline_declines``, ``baseline_attempts``, ``baseline_share``,
    ``expected``, ``factor``, ``spike``. Spikes first, then by factor."""
    auth_today, auth_base = authorizations(today), authorizations(baseline)
    if auth_today.empty:
        return empty_columns(SPIKE_COLUMNS)
    n_today, n_base = len(auth_today), len(auth_base)
    judged = n_base >= thresholds.auth_rate_min_attempts
    parts = []
    for dim in dimensions:
        now = _declined_by(auth_today, dim, bin_digits)
        if now.empty:
            continue
        before = _declined_by(auth_base, dim, bin_digits) if n_base else pd.Series(dtype="int64")
        frame = pd.DataFrame({"value": now.index.astype(str), "declines": now.to_numpy(dtype="int64")})
        frame["dimension"] = dim
        frame["attempts"] = n_today
        frame["baseline_declines"] = frame["value"].map(before).fillna(0).astype("int64")
        frame["baseline_attempts"] = n_base
        if judged:
            frame["baseline_share"] = frame["baseline_declines"] / n_base
            frame["expected"] = frame["baseline_share"] * n_today
            with np.errstate(divide="ignore"):
                frame["factor"] = np.where(
                    frame["expected"] > 0,
                    frame["declines"] / frame["expected"].where(frame["expected"] > 0),
                    np.inf,
                )
            frame["spike"] = (frame["declines"] >= thresholds.decline_spike_min) & (
                frame["declines"] >= thresholds.decline_spike_factor * frame["expected"]
            )
        else:  # no baseline worth the name: nothing to compare with
            frame["baseline_share"] = np.nan
            frame["expected"] = np.nan
            frame["factor"] = np.nan
            frame["spike"] = False
        parts.append(frame)
    if not parts:
        return empty_columns(SPIKE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[SPIKE_COLUMNS]
    for col in ("baseline_share", "expected", "factor"):
        out[col] = out[col].astype(float)
    out["spike"] = out["spike"].astype(bool)
    return out.sort_values(
        ["spike", "factor", "declines"], ascending=[False, False, False], na_position="last"
    ).reset_index(drop=True)
