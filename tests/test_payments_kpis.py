"""Payment KPIs: attempts and their results, rates, money per currency, declines, baseline band, spikes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.payments.kpis import (
    attempts,
    auth_rate_band,
    decline_spikes,
    declines,
    disputes,
    hourly_baseline,
    kpis,
    local_period,
    money,
    refunds,
)
from opsreview.payments.models import EVENTS, ORDERS, to_arrow
from opsreview.payments.params import PaymentThresholds

# -- builders of Stripe-shaped payment_events / payment_orders frames (the reconcile tests use them too)
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


PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)  # 10:05 in Paris
VISA_FR = {"card_brand": "visa", "card_country": "FR", "card_bin": "411111"}
MC_US = {"card_brand": "mastercard", "card_country": "US", "card_bin": "555555"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def day() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    rows += authorized("pi_ok", at(0), 1000, **VISA_FR)
    rows += declined("pi_dec", at(1), "do_not_honor", **VISA_FR)
    # declined, then another card succeeded: one attempt, authorized
    rows += declined("pi_retry", at(2), "insufficient_funds", charge="ch_retry_1", **MC_US)
    rows += authorized("pi_retry", at(3), 2500, **MC_US)
    rows += declined("pi_block", at(4), "highest_risk_level", outcome="blocked", **MC_US)
    rows += requires_action("pi_3ds", at(5))  # 3-D Secure never completed
    rows += requires_action("pi_3ds_ok", at(6)) + authorized("pi_3ds_ok", at(7), 1999)
    rows += requires_action("pi_3ds_dec", at(8)) + declined("pi_3ds_dec", at(9), "generic_decline", **MC_US)
    # declined, then 3-D Secure on a new card and abandoned: the old outcome does not count
    rows += declined("pi_dec_3ds", at(10), "do_not_honor", **VISA_FR) + requires_action("pi_dec_3ds", at(11))
    # a charge without PaymentIntent, an hour later, in dollars
    rows.append(
        ev(
            at(60),
            "charge.succeeded",
            "charge",
            "ch_lone",
            status="succeeded",
            outcome="authorized",
            amount=500,
            currency="usd",
        )
    )
    rows.append(
        ev(
            at(61),
            "payment_intent.processing",
            "payment_intent",
            "pi_proc",
            status="processing",
            amount=700,
            currency="eur",
        )
    )
    # refunds: one refund object, one refunded charge without refund object; a failed refund
    rows.append(
        ev(
            at(62),
            "refund.created",
            "refund",
            "re_1",
            charge="ch_pi_ok",
            payment_intent="pi_ok",
            amount=300,
            currency="eur",
            status="succeeded",
        )
    )
    rows.append(
        ev(
            at(63),
            "charge.refunded",
            "charge",
            "ch_lone",
            status="succeeded",
            amount=500,
            amount_refunded=500,
            currency="usd",
        )
    )
    rows.append(
        ev(at(64), "refund.created", "refund", "re_bad", charge="ch_pi_ok", amount=100, currency="eur", status="failed")
    )
    # a dispute, two events
    rows.append(
        ev(
            at(65),
            "charge.dispute.created",
            "dispute",
            "dp_1",
            charge="ch_pi_retry",
            payment_intent="pi_retry",
            amount=2500,
            currency="eur",
            status="needs_response",
        )
    )
    rows.append(
        ev(
            at(66),
            "charge.dispute.updated",
            "dispute",
            "dp_1",
            charge="ch_pi_retry",
            payment_intent="pi_retry",
            amount=2500,
            currency="eur",
            status="under_review",
        )
    )
    return events_frame(rows)


def test_one_attempt_per_payment_intent_with_its_latest_result(day: pd.DataFrame) -> None:
    att = attempts(day).set_index("attempt_id")
    assert att["result"].to_dict() == {
        "ch_lone": "authorized",
        "pi_3ds": "threeds_dropoff",
        "pi_3ds_dec": "issuer_declined",
        "pi_3ds_ok": "authorized",
        "pi_block": "blocked",
        "pi_dec": "issuer_declined",
        "pi_dec_3ds": "threeds_dropoff",
        "pi_ok": "authorized",
        "pi_proc": "pending",
        "pi_retry": "authorized",
    }
    assert att.loc["pi_retry", "charges"] == ["ch_pi_retry", "ch_retry_1"]
    assert att.loc["pi_retry", "amount"] == 2500
    assert att.loc["ch_lone", "payment_intent"] is None or pd.isna(att.loc["ch_lone", "payment_intent"])
    assert att["reached_requires_action"].sum() == 4
    assert str(att["amount"].dtype) == "Int64"


def test_hourly_kpis_in_local_time(day: pd.DataFrame) -> None:
    out = kpis(day, PARIS, "h")
    assert [p.isoformat() for p in out["period"]] == ["2026-03-10T10:00:00+01:00", "2026-03-10T11:00:00+01:00"]
    assert out["hour"].tolist() == [10, 11]
    first = out.iloc[0]
    # authorizations: each charge once (pi_retry's declined first card and pi_dec_3ds's declined charge count)
    assert (first["attempts"], first["authorized"], first["issuer_declined"], first["blocked"]) == (8, 3, 4, 1)
    assert (first["attempts_authorized"], first["attempts_issuer_declined"], first["attempts_blocked"]) == (3, 2, 1)
    assert (first["threeds_dropoff"], first["requires_action"]) == (2, 4)
    assert first["auth_rate"] == pytest.approx(3 / 7)
    assert first["success_rate"] == pytest.approx(3 / 5)
    assert first["abandonment"] == pytest.approx(2 / 4)
    second = out.iloc[1]
    assert (second["attempts"], second["authorized"], second["pending"]) == (2, 1, 1)
    assert (second["refunds"], second["disputes"]) == (2, 1)
    assert second["dispute_rate"] == pytest.approx(1 / 1)


def test_daily_kpis(day: pd.DataFrame) -> None:
    out = kpis(day, PARIS, "D")
    assert len(out) == 1 and "hour" not in out.columns
    row = out.iloc[0]
    assert row["period"].isoformat() == "2026-03-10T00:00:00+01:00"
    assert (row["attempts"], row["authorized"], row["issuer_declined"]) == (10, 4, 4)
    assert row["auth_rate"] == pytest.approx(4 / 8)  # per issuer answer; blocks never reached the issuer
    assert (row["attempts_authorized"], row["attempts_issuer_declined"]) == (4, 2)
    assert row["success_rate"] == pytest.approx(4 / 6)  # per PaymentIntent; 3-DS drop-offs not in it
    assert row["dispute_rate"] == pytest.approx(1 / 4)


def test_no_denominator_is_nan_not_zero() -> None:
    out = kpis(events_frame(requires_action("pi_x", T0)), "UTC", "D")
    assert pd.isna(out["auth_rate"].iloc[0]) and pd.isna(out["dispute_rate"].iloc[0])
    assert out["abandonment"].iloc[0] == 1.0


def test_refunds_and_disputes(day: pd.DataFrame) -> None:
    ref = refunds(day)
    assert ref[["refund_id", "charge", "amount", "currency", "via"]].to_dict("records") == [
        {"refund_id": "re_1", "charge": "ch_pi_ok", "amount": 300, "currency": "eur", "via": "refund"},
        {"refund_id": None, "charge": "ch_lone", "amount": 500, "currency": "usd", "via": "charge.refunded"},
    ]
    dis = disputes(day)
    assert dis[["dispute_id", "amount", "status"]].to_dict("records") == [
        {"dispute_id": "dp_1", "amount": 2500, "status": "under_review"}
    ]


def test_money_per_currency_stays_integer(day: pd.DataFrame) -> None:
    out = money(day, PARIS, "D")
    eur = out[out["currency"] == "eur"].iloc[0]
    usd = out[out["currency"] == "usd"].iloc[0]
    assert (eur["charges"], eur["volume"], eur["avg_ticket"]) == (3, 1000 + 2500 + 1999, 1833)
    assert (eur["refunds"], eur["refunded"], eur["disputes"], eur["disputed"]) == (1, 300, 1, 2500)
    assert eur["refund_rate"] == pytest.approx(300 / 5499)
    assert (usd["charges"], usd["volume"], usd["avg_ticket"], usd["refunded"]) == (1, 500, 500, 500)
    assert usd["refund_rate"] == 1.0
    for value in (eur["volume"], eur["refunded"], eur["disputed"], eur["avg_ticket"]):
        assert isinstance(value, int) or str(type(value)).endswith("int64'>")


def test_average_ticket_rounds_half_up_in_integers() -> None:
    rows = authorized("pi_a", T0, 1) + authorized("pi_b", T0, 2)  # 1.5 -> 2
    rows += authorized("pi_big", T0, 2**60, currency="jpy") + authorized("pi_big2", T0, 2**60 + 1, currency="jpy")
    out = money(events_frame(rows), "UTC").set_index("currency")
    assert out.loc["eur", "avg_ticket"] == 2
    assert int(out.loc["jpy", "volume"]) == 2**61 + 1  # exact beyond float precision
    assert int(out.loc["jpy", "avg_ticket"]) == 2**60 + 1


def test_declines_by_code_brand_country_bin(day: pd.DataFrame) -> None:
    out = declines(day)
    got = {
        (r["dimension"], r["value"]): (r["declines"], r["issuer_declined"], r["blocked"])
        for r in out.to_dict("records")
    }
    # per failed charge: pi_retry's first card and pi_dec_3ds's charge count though neither attempt ended declined
    assert got == {
        ("decline_code", "do_not_honor"): (2, 2, 0),
        ("decline_code", "generic_decline"): (1, 1, 0),
        ("decline_code", "highest_risk_level"): (1, 0, 1),
        ("decline_code", "insufficient_funds"): (1, 1, 0),
        ("card_brand", "visa"): (2, 2, 0),
        ("card_brand", "mastercard"): (3, 2, 1),
        ("card_country", "FR"): (2, 2, 0),
        ("card_country", "US"): (3, 2, 1),
        ("card_bin", "411111"): (2, 2, 0),
        ("card_bin", "555555"): (3, 2, 1),
    }
    mc = out[(out["dimension"] == "card_brand") & (out["value"] == "mastercard")].iloc[0]
    assert mc["attempts"] == 4 and mc["decline_rate"] == pytest.approx(3 / 4)  # 4 mastercard charges
    assert mc["share"] == pytest.approx(3 / 5)


def test_local_period_across_dst_and_days() -> None:
    stamps = pd.Series(
        pd.to_datetime(
            ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-03-09T23:30:00Z", "2026-03-29T01:30:00Z"], utc=True
        )
    )
    hours = local_period(stamps, PARIS, "h")
    assert [h.isoformat() for h in hours] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",  # the second 02:00 of the fall-back night is its own hour
        "2026-03-10T00:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    days = local_period(stamps, PARIS, "D")
    assert [d.isoformat() for d in days] == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-03-10T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
    ]
    kolkata = local_period(pd.Series(pd.to_datetime(["2026-03-10T10:10:00Z"], utc=True)), "Asia/Kolkata", "h")
    assert kolkata.iloc[0].isoformat() == "2026-03-10T15:00:00+05:30"


def _hour_of(day_index: int, hour_utc: int, authorized_n: int, declined_n: int, tag: str) -> list[dict[str, Any]]:
    base = datetime(2026, 3, 1 + day_index, hour_utc, 10, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(authorized_n):
        rows += authorized(f"pi_{tag}_{day_index}_a{i}", base + timedelta(seconds=i))
    for i in range(declined_n):
        rows += declined(f"pi_{tag}_{day_index}_d{i}", base + timedelta(seconds=30 + i), "generic_decline")
    return rows


def test_baseline_band_per_local_hour() -> None:
    baseline: list[dict[str, Any]] = []
    for d, k in enumerate([5, 6, 7, 8, 9]):
        baseline += _hour_of(d, 9, k, 10 - k, "b")  # 10:xx in Paris: rates 0.5 .. 0.9
    baseline += _hour_of(0, 14, 1, 0, "c")  # 15:xx, one day only
    today = _hour_of(9, 9, 3, 7, "t") + _hour_of(9, 12, 2, 0, "u")  # 10:xx at 0.3; 13:xx no baseline
    band = hourly_baseline(events_frame(baseline), PARIS)
    assert band["hour"].tolist() == [10, 15]
    ten = band.iloc[0]
    assert (ten["baseline_median"], ten["baseline_days"]) == (pytest.approx(0.7), 5)
    assert ten["baseline_p10"] == pytest.approx(0.54) and ten["baseline_p90"] == pytest.approx(0.86)
    out = auth_rate_band(events_frame(today), events_frame(baseline), PARIS)
    assert out["hour"].tolist() == [10, 13]
    assert out["auth_rate"].tolist() == pytest.approx([0.3, 1.0])
    assert out["baseline_median"].iloc[0] == pytest.approx(0.7) and pd.isna(out["baseline_median"].iloc[1])
    assert out["baseline_days"].tolist() == [5, 0]
    # hours with fewer judged attempts than asked are left out of the band
    assert hourly_baseline(events_frame(baseline), PARIS, min_attempts=2)["hour"].tolist() == [10]


def test_decline_spikes_against_the_baseline_share() -> None:
    thresholds = PaymentThresholds(decline_spike_factor=3.0, decline_spike_min=20)
    baseline: list[dict[str, Any]] = []
    for d in range(5):  # 100 attempts a day: 2 do_not_honor, 3 insufficient_funds
        t = datetime(2026, 3, 1 + d, 12, tzinfo=UTC)
        for i in range(95):
            baseline += authorized(f"pi_b{d}_{i}", t, card_bin="400000")
        for i in range(2):
            baseline += declined(f"pi_b{d}_dnh{i}", t, "do_not_honor", card_bin="400000")
        for i in range(3):
            baseline += declined(f"pi_b{d}_if{i}", t, "insufficient_funds", card_bin="400000")
    today: list[dict[str, Any]] = []
    t = datetime(2026, 3, 10, 12, tzinfo=UTC)
    for i in range(57):
        today += authorized(f"pi_t{i}", t, card_bin="400000")
    for i in range(30):  # the planted spike: one BIN range
        today += declined(f"pi_t_dnh{i}", t, "do_not_honor", card_bin="455555")
    for i in range(3):
        today += declined(f"pi_t_if{i}", t, "insufficient_funds", card_bin="400000")
    for i in range(10):  # many times its share, but fewer than the minimum
        today += declined(f"pi_t_fr{i}", t, "fraudulent", card_bin="400000")
    out = decline_spikes(events_frame(today), events_frame(baseline), thresholds)
    rows = {(r["dimension"], r["value"]): r for r in out.to_dict("records")}
    dnh = rows[("decline_code", "do_not_honor")]
    assert (dnh["declines"], dnh["attempts"], dnh["baseline_declines"], dnh["baseline_attempts"]) == (30, 100, 10, 500)
    assert dnh["expected"] == pytest.approx(2.0) and dnh["factor"] == pytest.approx(15.0) and dnh["spike"]
    new_bin = rows[("card_bin", "455555")]
    assert new_bin["expected"] == 0 and new_bin["factor"] == float("inf") and new_bin["spike"]
    assert not rows[("decline_code", "insufficient_funds")]["spike"]
    assert rows[("decline_code", "insufficient_funds")]["factor"] == pytest.approx(1.0)
    assert not rows[("decline_code", "fraudulent")]["spike"]
    assert not rows[("card_bin", "400000")]["spike"]
    assert out["spike"].tolist()[:2] == [True, True] and out["spike"].sum() == 2
    # BIN ranges: the first four digits put 455555 and 400000 apart still, 4 digits of 45xxxx together
    by4 = decline_spikes(events_frame(today), events_frame(baseline), thresholds, ("card_bin",), bin_digits=2)
    assert by4["value"].tolist()[0] == "45"


def test_empty_frames() -> None:
    empty = events_frame([])
    assert attempts(empty).empty and kpis(empty, "UTC").empty and money(empty, "UTC").empty
    assert declines(empty).empty and refunds(empty).empty and disputes(empty).empty
    assert auth_rate_band(empty, empty, "UTC").empty
    assert decline_spikes(empty, empty, PaymentThresholds()).empty


def test_bad_amounts_and_unknown_objects_are_counted_not_crashed() -> None:
    rows = authorized("pi_frac", T0, 1000) + authorized("pi_none", T0, 2000) + authorized("pi_fine", T0, 3000)
    rows.append(ev(T0, "customer.created", "other", "cus_1"))
    frame = events_frame(rows)
    # a frame from elsewhere: amounts as floats, one with a fraction, one missing
    frame["amount"] = frame["amount"].astype(float)
    frame.loc[frame["payment_intent"].eq("pi_frac") | frame["object_id"].eq("pi_frac"), "amount"] = 10.5
    frame.loc[frame["payment_intent"].eq("pi_none") | frame["object_id"].eq("pi_none"), "amount"] = None
    att = attempts(frame).set_index("attempt_id")
    assert len(att) == 3 and str(att["amount"].dtype) == "Int64"
    assert pd.isna(att.loc["pi_frac", "amount"]) and pd.isna(att.loc["pi_none", "amount"])
    eur = money(frame, "UTC").iloc[0]
    assert (eur["charges"], eur["volume"], eur["avg_ticket"]) == (3, 3000, 3000)
