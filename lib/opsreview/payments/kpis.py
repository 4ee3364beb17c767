"""Payment KPIs per local hour and day, and against the trailing baseline.

Pure functions over ``payment_events`` frames (see :mod:`.models`).

Counting rules
--------------
* **One attempt per PaymentIntent**, or per Charge when a charge has no PaymentIntent: every
  ``payment_intent``/``charge`` event is keyed by its ``payment_intent`` (the object's own id
  for PaymentIntent events). Retries inside one PaymentIntent (a declined card, then another)
  are one attempt.
* An attempt counts in the period (local hour or day) of its **first** event, with its
  **latest** state: events are ordered by ``created`` (``ts`` where missing), ties by the
  natural progression of statuses, and each field is its latest non-null value.
* Its ``result``, in this order: ``authorized`` (latest status ``succeeded`` or
  ``requires_capture``, or an ``authorized``/``manual_review`` outcome that no failure
  followed); ``threeds_dropoff`` (it reached ``requires_action`` and no outcome came after:
  3-D Secure never completed); ``blocked`` (outcome ``blocked``: the gateway's fraud rules, not
  the issuer); ``issuer_declined`` (outcome ``issuer_declined``, or a failure with a
  ``decline_code`` and no outcome); ``pending`` (processing / pending / waiting for the
  customer); ``canceled``; ``other``.
* **Authorization rate** = authorized ÷ (authorized + issuer_declined): blocked and 3-DS
  drop-offs are shown apart, not counted as declines (they never reached the issuer). NaN
  when the denominator is 0.
* **Abandonment** = 3-DS drop-offs ÷ attempts that reached ``requires_action``.
* **Successful charges** = authorized attempts. **Dispute rate** = disputes created in the
  period ÷ successful charges of the period (a daily early warning; the networks' VAMP/ECP
  ratios are monthly). **Refund rate** (per currency) = amount refunded in the period ÷ the
  period's volume.
* Refunds: one per refund object (``object_type`` "refund", not failed or canceled), and one
  per refunded charge that has no refund object in the frame (``charge.refunded``, its latest
  ``amount_refunded``). Disputes: one per dispute object (``charge.dispute.*`` events). Both
  count in the period of their first event.
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


def attempts(events: pd.DataFrame) -> pd.DataFrame:
    """One row per payment attempt (see the module's counting rules).

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
    out["first"] = grouped["_time"].min()
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
    out.index.name = "attempt_id"
    return out.reset_index()[ATTEMPT_COLUMNS]


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


def refunds(events: pd.DataFrame) -> pd.DataFrame:
    """Refunds (see the counting rules). Columns: ``refund_id`` (None for a refunded charge
    without refund object), ``charge``, ``payment_intent``, ``amount`` (Int64), ``currency``,
    ``status``, ``ts`` (first seen, UTC), ``via`` ("refund" | "charge.refunded")."""
    if events.empty:
        return empty_columns(REFUND_COLUMNS)
    fields = ["charge", "payment_intent", "amount", "currency", "status"]
    objs = _objects(events, events["object_type"] == "refund", fields)
    objs = objs[~objs["status"].isin(["failed", "canceled"])]
    objs = objs.assign(via="refund", refund_id=objs.index)
    refunded = (events["type"] == "charge.refunded") & (events["object_type"] == "charge")
    charges = _objects(events, refunded, ["payment_intent", "amount_refunded", "currency", "status"])
    charges = charges[~charges.index.isin(set(objs["charge"].dropna()))]
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


def disputes(events: pd.DataFrame) -> pd.DataFrame:
    """Disputes, one per dispute object. Columns: ``dispute_id``, ``charge``,
    ``payment_intent``, ``amount`` (Int64), ``currency``, ``status`` (latest), ``ts`` (first
    seen, UTC)."""
    if events.empty:
        return empty_columns(DISPUTE_COLUMNS)
    mask = (events["object_type"] == "dispute") | events["type"].astype(str).str.startswith("charge.dispute.")
    if not mask.any():
        return empty_columns(DISPUTE_COLUMNS)
    out = _objects(events, mask, ["charge", "payment_intent", "amount", "currency", "status"])
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
    "requires_action",
    "auth_rate",
    "abandonment",
    "refunds",
    "disputes",
    "dispute_rate",
]


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def kpis(events: pd.DataFrame, tz: Zone, freq: str = "h") -> pd.DataFrame:
    """KPIs per local hour (``freq="h"``, with an ``hour`` column) or day (``"D"``).

    Columns: ``period`` (local start, tz-aware), ``attempts``, one count per result
    (``authorized``, ``issuer_declined``, ``blocked``, ``threeds_dropoff``, ``pending``,
    ``canceled``, ``other``), ``requires_action`` (attempts that reached it), ``auth_rate``,
    ``abandonment``, ``refunds``, ``disputes``, ``dispute_rate`` (rates are floats, NaN
    without a denominator); ``hour`` (0-23) for hourly frames."""
    att = attempts(events)
    columns = KPI_COLUMNS + (["hour"] if freq.lower() == "h" else [])
    ref, dis = refunds(events), disputes(events)
    if att.empty and ref.empty and dis.empty:
        return empty_columns(columns)
    parts = []
    if len(att):
        counts = pd.crosstab(local_period(att["first"], tz, freq), att["result"])
        counts = counts.reindex(columns=list(RESULTS), fill_value=0)
        counts["attempts"] = counts.sum(axis=1)
        ra = att.groupby(local_period(att["first"], tz, freq))["reached_requires_action"].sum()
        counts["requires_action"] = ra.astype("int64")
        parts.append(counts)
    if len(ref):
        parts.append(ref.groupby(local_period(ref["ts"], tz, freq)).size().rename("refunds").to_frame())
    if len(dis):
        parts.append(dis.groupby(local_period(dis["ts"], tz, freq)).size().rename("disputes").to_frame())
    out = pd.concat(parts, axis=1)
    for col in ["attempts", *RESULTS, "requires_action", "refunds", "disputes"]:
        out[col] = out[col].fillna(0).astype("int64") if col in out else 0
    out["auth_rate"] = _rate(out["authorized"], out["authorized"] + out["issuer_declined"])
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


def money(events: pd.DataFrame, tz: Zone, freq: str = "D") -> pd.DataFrame:
    """Volume, refunds and disputes per local period and currency (minor units, ints).

    Columns: ``period``, ``currency`` ("?" when unknown), ``charges`` (authorized attempts),
    ``volume``, ``avg_ticket`` (ints), ``refunds``, ``refunded`` (amount), ``refund_rate``
    (refunded ÷ volume, float), ``disputes``, ``disputed`` (amount)."""
    att = attempts(events)
    att = att[att["result"] == "authorized"]
    ref, dis = refunds(events), disputes(events)
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


def declines(events: pd.DataFrame, dimensions: Sequence[str] = DIMENSIONS) -> pd.DataFrame:
    """Declined attempts (issuer declines and blocks) by each dimension where present.

    Columns: ``dimension``, ``value``, ``declines``, ``issuer_declined``, ``blocked``,
    ``share`` (of all declines), ``attempts`` (all attempts with that value),
    ``decline_rate`` (declines ÷ attempts). Sorted by dimension, then declines."""
    att = attempts(events)
    if att.empty:
        return empty_columns(DECLINE_COLUMNS)
    att = att.assign(
        _issuer=att["result"] == "issuer_declined",
        _blocked=att["result"] == "blocked",
    )
    total = int(att["_issuer"].sum() + att["_blocked"].sum())
    parts = []
    for dim in dimensions:
        known = att[att[dim].notna()]
        if known.empty:
            continue
        g = known.groupby(dim).agg(
            issuer_declined=("_issuer", "sum"), blocked=("_blocked", "sum"), attempts=("result", "size")
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
    """The authorization rate of each local hour over the baseline days: ``hour``,
    ``baseline_median``, ``baseline_p10``, ``baseline_p90``, ``baseline_days`` (days whose
    hour had at least ``min_attempts`` authorized + issuer-declined attempts)."""
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

    Columns: ``period``, ``hour``, ``attempts``, ``authorized``, ``issuer_declined``,
    ``auth_rate``, ``baseline_median``, ``baseline_p10``, ``baseline_p90``,
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


def _declined_by(att: pd.DataFrame, dim: str, bin_digits: int) -> pd.Series:
    declined = att[att["result"].isin(["issuer_declined", "blocked"]) & att[dim].notna()]
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
    more today than the baseline predicts.

    expected = (baseline declines with the value ÷ baseline attempts) × today's attempts;
    ``spike`` when declines ≥ ``decline_spike_min`` and declines ≥ ``decline_spike_factor`` ×
    expected (a value never declined in the baseline has expected 0 and factor inf).
    Columns: ``dimension``, ``value``, ``declines``, ``attempts`` (today's, all),
    ``baseline_declines``, ``baseline_attempts``, ``baseline_share``, ``expected``,
    ``factor``, ``spike``. Spikes first, then by factor."""
    att_today, att_base = attempts(today), attempts(baseline)
    if att_today.empty:
        return empty_columns(SPIKE_COLUMNS)
    n_today, n_base = len(att_today), len(att_base)
    parts = []
    for dim in dimensions:
        now = _declined_by(att_today, dim, bin_digits)
        if now.empty:
            continue
        before = _declined_by(att_base, dim, bin_digits) if n_base else pd.Series(dtype="int64")
        frame = pd.DataFrame({"value": now.index.astype(str), "declines": now.to_numpy(dtype="int64")})
        frame["dimension"] = dim
        frame["attempts"] = n_today
        frame["baseline_declines"] = frame["value"].map(before).fillna(0).astype("int64")
        frame["baseline_attempts"] = n_base
        frame["baseline_share"] = frame["baseline_declines"] / n_base if n_base else np.nan
        frame["expected"] = frame["baseline_share"].fillna(0) * n_today
        with np.errstate(divide="ignore"):
            frame["factor"] = np.where(
                frame["expected"] > 0, frame["declines"] / frame["expected"].where(frame["expected"] > 0), np.inf
            )
        frame["spike"] = (frame["declines"] >= thresholds.decline_spike_min) & (
            frame["declines"] >= thresholds.decline_spike_factor * frame["expected"]
        )
        parts.append(frame)
    if not parts:
        return empty_columns(SPIKE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[SPIKE_COLUMNS]
    out["factor"] = out["factor"].astype(float)
    out["spike"] = out["spike"].astype(bool)
    return out.sort_values(["spike", "factor", "declines"], ascending=[False, False, False]).reset_index(drop=True)
