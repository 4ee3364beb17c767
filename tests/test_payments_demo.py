"""Payments demo: the Stripe events, the webhook log and the orders it writes, read back from the
files alone (json per line), and the planted facts of the ground truth found in them."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from opsreview.payments.demo import luhn_check_digit, write_demo

TZ = ZoneInfo("Europe/Berlin")
END = dt.date(2026, 12, 5)
DAYS = [END - dt.timedelta(days=i) for i in range(7, -1, -1)]
SEED = 42
UTC = dt.UTC
REVIEW_START = dt.datetime.combine(END, dt.time(), TZ).timestamp()
REVIEW_END = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), TZ).timestamp()

EVENT_KEYS = ["id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request", "type"]
TYPES = {
    "payment_intent.created",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
    "charge.succeeded",
    "charge.failed",
    "charge.refunded",
    "charge.dispute.created",
}
PI_STATUS = {"requires_payment_method", "requires_action", "processing", "succeeded", "canceled"}
PI_STATUS_OF = {
    "payment_intent.created": "requires_payment_method",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.processing": "processing",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.canceled": "canceled",
}
DECLINE_CODES = {"insufficient_funds", "generic_decline", "do_not_honor", "expired_card", "incorrect_cvc"}
LOG_KEYS = [
    "timestamp",
    "level",
    "message",
    "event_id",
    "type",
    "outcome",
    "http_status",
    "event_created",
    "lag_ms",
]
OUTCOME_STATUS = {"handled": 200, "duplicate": 200, "signature_failed": 400, "stale": 400, "error": 500}
OUTCOME_LEVEL = {"handled": "info", "duplicate": "info", "signature_failed": "warn", "stale": "warn", "error": "error"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STRIPE_ID = re.compile(r"^(evt|pi|ch|dp|txn|pm|req)_[0-9A-Za-z]{24}$")
# Documented test cards (Stripe's docs, the card networks' samples): the planted number is none.
TEST_CARDS = {"4242424242424242", "4000056655665556", "4111111111111111", "5555555555554444", "378282246310005"}


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def when(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def local_hour(unix: float) -> tuple[dt.date, int]:
    local = dt.datetime.fromtimestamp(unix, TZ)
    return local.date(), local.hour


# -- the data set, generated once ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("paydemo")
    truth = write_demo(out, DAYS, TZ, np.random.default_rng(SEED))
    return out, truth


@pytest.fixture(scope="module")
def root(demo: tuple[Path, dict[str, Any]]) -> Path:
    return demo[0] / "payments"


@pytest.fixture(scope="module")
def truth(demo: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return demo[1]["payments"]


@pytest.fixture(scope="module")
def lines(root: Path) -> dict[str, list[str]]:
    """The raw lines of each events file."""
    return {p.name: p.read_text(encoding="utf-8").splitlines() for p in sorted((root / "events").iterdir())}


@pytest.fixture(scope="module")
def events(lines: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Every distinct event, by id."""
    out: dict[str, dict[str, Any]] = {}
    for file_lines in lines.values():
        for line in file_lines:
            doc = json.loads(line)
            out.setdefault(doc["id"], doc)
    return out


@pytest.fixture(scope="module")
def log(root: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((root / "webhooks").iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["_file"] = path.name
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def deliveries(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in log if "outcome" in row]


@pytest.fixture(scope="module")
def orders(root: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (root / "orders" / "orders.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {row["_id"]: row for row in rows}
    assert len(by_id) == len(rows)
    return by_id


@pytest.fixture(scope="module")
def by_intent(events: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The events of each PaymentIntent (its own, its charges', its disputes'), oldest first."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in events.values():
        obj = ev["data"]["object"]
        pi = obj["id"] if obj["object"] == "payment_intent" else obj["payment_intent"]
        out[pi].append(ev)
    for evs in out.values():
        evs.sort(key=lambda e: e["created"])
    return out


@pytest.fixture(scope="module")
def attempts(events: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """charge.succeeded / charge.failed: one per authorization attempt."""
    return [ev for ev in events.values() if ev["type"] in ("charge.succeeded", "charge.failed")]


# -- shape ------------------------------------------------------------------------------------------


def test_layout_files_by_utc_day(root: Path, demo: tuple[Path, dict[str, Any]]) -> None:
    utc_days = {
        dt.datetime.fromtimestamp(t, UTC).date()
        for t in (dt.datetime.combine(DAYS[0], dt.time(), TZ).timestamp(), REVIEW_END - 1)
    }
    first, last = min(utc_days), max(utc_days)
    expected = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    assert sorted(p.name for p in (root / "events").iterdir()) == [f"events-{d}.jsonl" for d in expected]
    assert sorted(p.name for p in (root / "webhooks").iterdir()) == [f"webhooks-{d}.log" for d in expected]
    assert (root / "orders" / "orders.jsonl").is_file()
    assert sorted(demo[1]) == ["payments"]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_card(card: dict[str, Any]) -> None:
    assert set(card) >= {"brand", "country", "last4", "exp_month", "exp_year", "funding", "network", "three_d_secure"}
    assert "iin" not in card and "number" not in card and "cvc" not in card
    assert card["brand"] in {"visa", "mastercard", "amex"} and card["network"] == card["brand"]
    assert re.fullmatch(r"[A-Z]{2}", card["country"]) and re.fullmatch(r"\d{4}", card["last4"])
    assert _int(card["exp_month"]) and 1 <= card["exp_month"] <= 12 and _int(card["exp_year"])
    assert card["funding"] in {"credit", "debit", "prepaid"}
    tds = card["three_d_secure"]
    assert tds is None or tds["result"] == "authenticated"


def test_every_event_line_is_a_stripe_event_with_integer_amounts(lines: dict[str, list[str]]) -> None:
    seen = 0
    for name, file_lines in lines.items():
        for line in file_lines:
            ev = json.loads(line)
            seen += 1
            assert list(ev) == EVENT_KEYS
            assert STRIPE_ID.match(ev["id"]) and ev["id"].startswith("evt_")
            assert ev["object"] == "event" and ev["api_version"] == "2024-06-20" and ev["livemode"] is True
            assert (
                _int(ev["created"]) and name == f"events-{dt.datetime.fromtimestamp(ev['created'], UTC).date()}.jsonl"
            )
            assert ev["pending_webhooks"] in (0, 1)
            assert set(ev["request"]) == {"id", "idempotency_key"}
            assert ev["type"] in TYPES
            obj = ev["data"]["object"]
            assert _int(obj["amount"]) and obj["amount"] > 0
            assert obj["currency"] in {"eur", "usd", "gbp"}
            assert obj["livemode"] is True
            kind = ev["type"].split(".")[0]
            if ev["type"] == "charge.dispute.created":
                assert obj["object"] == "dispute" and obj["charge"].startswith("ch_")
                assert obj["payment_intent"].startswith("pi_")
            elif kind == "payment_intent":
                assert obj["object"] == "payment_intent" and obj["id"].startswith("pi_")
                assert obj["status"] in PI_STATUS and _int(obj["amount_received"])
                assert obj["metadata"]["order_id"].startswith("ord_")
                assert "client_secret" not in obj
                if ev["type"] == "payment_intent.payment_failed":
                    err = obj["last_payment_error"]
                    assert err["type"] == "card_error" and err["decline_code"] in DECLINE_CODES | {"fraudulent"}
                    assert err["code"] in {"card_declined", "expired_card", "incorrect_cvc"} and err["message"]
                    assert obj["status"] == "requires_payment_method"
                elif ev["type"] != "payment_intent.canceled":  # a cancelled one keeps its last error
                    assert obj["last_payment_error"] is None
                assert obj["status"] == PI_STATUS_OF[ev["type"]]
            else:
                assert obj["object"] == "charge" and STRIPE_ID.match(obj["id"]) and obj["id"].startswith("ch_")
                assert _int(obj["amount_refunded"]) and 0 <= obj["amount_refunded"] <= obj["amount"]
                assert obj["payment_intent"].startswith("pi_") and obj["metadata"]["order_id"].startswith("ord_")
                assert re.fullmatch(r"\d{6}", obj["metadata"]["card_bin"])
                assert obj["outcome"]["type"] in {"authorized", "issuer_declined", "blocked"}
                assert obj["payment_method_details"]["type"] == "card"
                _check_card(obj["payment_method_details"]["card"])
                assert obj["status"] == ("failed" if ev["type"] == "charge.failed" else "succeeded")
                if ev["type"] == "charge.refunded":
                    assert obj["amount_refunded"] > 0 and ev["data"]["previous_attributes"]["amount_refunded"] == 0
    assert seen > 40_000


def test_duplicated_and_out_of_order_events_as_a_webhook_stream_delivers_them(lines: dict[str, list[str]]) -> None:
    repeated, out_of_order = 0, 0
    for file_lines in lines.values():
        first: dict[str, str] = {}
        newest = 0
        for line in file_lines:
            ev = json.loads(line)
            if ev["id"] in first:
                repeated += 1
                assert line == first[ev["id"]]  # the same event, byte for byte
            first.setdefault(ev["id"], line)
            out_of_order += ev["created"] < newest
            newest = max(newest, ev["created"])
    assert repeated >= 20 and out_of_order >= 100


def test_every_delivery_line_has_the_documented_shape(
    deliveries: list[dict[str, Any]], log: list[dict[str, Any]]
) -> None:
    for row in deliveries:
        assert [k for k in row if k != "_file"] == LOG_KEYS
        assert STAMP.match(row["timestamp"]) and row["_file"] == f"webhooks-{row['timestamp'][:10]}.log"
        assert row["message"] == "stripe webhook"
        assert row["http_status"] == OUTCOME_STATUS[row["outcome"]] and row["level"] == OUTCOME_LEVEL[row["outcome"]]
        assert _int(row["event_created"]) and _int(row["lag_ms"]) and row["lag_ms"] > 0
        stamp = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()
        assert row["lag_ms"] == round(stamp * 1000) - row["event_created"] * 1000
    handled = sorted(r["lag_ms"] for r in deliveries if r["outcome"] == "handled")
    assert 200 <= handled[len(handled) // 2] <= 3000 and handled[len(handled) * 9 // 10] < 4000
    assert {r["outcome"] for r in deliveries} == set(OUTCOME_STATUS)
    assert len(log) - len(deliveries) == 1  # the PAN line is the only other message


def test_the_log_delivers_every_event_of_the_files(
    events: dict[str, dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    handled = Counter(r["event_id"] for r in deliveries if r["outcome"] == "handled")
    assert set(handled) == set(events) and max(handled.values()) == 1
    for row in deliveries:
        if row["outcome"] in ("handled", "duplicate", "error"):
            ev = events[row["event_id"]]
            assert (row["type"], row["event_created"]) == (ev["type"], ev["created"])
    failed_first = {r["event_id"] for r in deliveries if r["outcome"] == "error"}
    assert {i for i, ev in events.items() if ev["pending_webhooks"] == 1} == failed_first


def test_orders_have_the_app_shape(orders: dict[str, dict[str, Any]], events: dict[str, dict[str, Any]]) -> None:
    intents = {ev["data"]["object"]["id"] for ev in events.values() if ev["type"] == "payment_intent.created"}
    for doc in orders.values():
        assert list(doc) == ["_id", "status", "total", "currency", "paymentIntentId", "userId", "updatedAt"]
        assert doc["status"] in {"pending", "paid", "cancelled", "refunded"}
        assert _int(doc["total"]) and doc["currency"] in {"eur", "usd", "gbp"}
        assert doc["paymentIntentId"] in intents and re.fullmatch(r"[0-9a-f]{24}", doc["userId"])
        assert STAMP.match(doc["updatedAt"])
        assert dt.datetime.fromisoformat(doc["updatedAt"].replace("Z", "+00:00")).timestamp() < REVIEW_END
    assert len(orders) == len(intents) - 1  # one order has two PaymentIntents


# -- background -------------------------------------------------------------------------------------


def test_background_matches_a_realistic_shop(
    events: dict[str, dict[str, Any]], attempts: list[dict[str, Any]], by_intent: dict[str, list[dict[str, Any]]]
) -> None:
    per_day = Counter(
        dt.datetime.fromtimestamp(ev["created"], TZ).date()
        for ev in events.values()
        if ev["type"] == "payment_intent.created"
    )
    assert sorted(per_day) == DAYS and all(1_500 <= n <= 3_000 for n in per_day.values())
    baseline = [a for a in attempts if a["created"] < REVIEW_START]
    outcome = Counter(a["data"]["object"]["outcome"]["type"] for a in baseline)
    assert 0.90 <= outcome["authorized"] / (outcome["authorized"] + outcome["issuer_declined"]) <= 0.94
    assert 0.005 <= outcome["blocked"] / len(baseline) <= 0.02
    codes = Counter(a["data"]["object"]["outcome"]["reason"] for a in baseline if a["type"] == "charge.failed")
    assert set(codes) == DECLINE_CODES | {"highest_risk_level"}
    assert codes["do_not_honor"] / sum(codes.values()) < 0.25
    currencies = Counter(a["data"]["object"]["currency"] for a in attempts)
    assert 0.75 <= currencies["eur"] / len(attempts) <= 0.85 and currencies["usd"] > 0 and currencies["gbp"] > 0
    succeeded = sum(1 for ev in events.values() if ev["type"] == "charge.succeeded")
    refunds = sum(1 for ev in events.values() if ev["type"] == "charge.refunded")
    disputes = sum(1 for ev in events.values() if ev["type"] == "charge.dispute.created")
    assert 0.01 <= refunds / succeeded <= 0.03 and 0.0005 <= disputes / succeeded <= 0.004
    action = [pi for pi, evs in by_intent.items() if any(e["type"] == "payment_intent.requires_action" for e in evs)]
    assert 0.05 <= len(action) / len(by_intent) <= 0.11
    never = [pi for pi in action if not any(e["type"] == "payment_intent.succeeded" for e in by_intent[pi])]
    assert 0.08 <= len(never) / len(action) <= 0.30


def test_more_payments_in_the_evening_than_at_night(events: dict[str, dict[str, Any]]) -> None:
    hours = Counter(local_hour(ev["created"])[1] for ev in events.values() if ev["type"] == "payment_intent.created")
    assert hours[20] > 4 * hours[4] and hours[12] > 3 * hours[4]


# -- planted ---------------------------------------------------------------------------------------------


def _auth_rate(rows: list[dict[str, Any]]) -> float:
    kinds = Counter(a["data"]["object"]["outcome"]["type"] for a in rows)
    return kinds["authorized"] / (kinds["authorized"] + kinds["issuer_declined"])


def test_decline_spike_reads_back_from_the_events(attempts: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    spike = truth["decline_spike"]
    start, end = when(spike["from"]), when(spike["to"])
    assert spike["decline_code"] == "do_not_honor" and spike["card_bin_prefix"] == "414709"
    assert 45 * 60 <= end - start <= 75 * 60 and REVIEW_START <= start < end <= REVIEW_END

    def spike_declines(lo: float, hi: float) -> list[dict[str, Any]]:
        return [
            a
            for a in attempts
            if a["type"] == "charge.failed"
            and a["data"]["object"]["outcome"]["reason"] == "do_not_honor"
            and a["data"]["object"]["metadata"]["card_bin"].startswith(spike["card_bin_prefix"])
            and lo <= a["created"] < hi
        ]

    inside = spike_declines(start, end)
    assert len(inside) == spike["declines"] >= 20
    for a in inside:
        card = a["data"]["object"]["payment_method_details"]["card"]
        assert (card["brand"], card["country"]) == ("visa", "DE")
    # elsewhere that BIN range declines do_not_honor a few times a day at most
    elsewhere = Counter(local_hour(a["created"])[0] for a in spike_declines(0, start) + spike_declines(end, REVIEW_END))
    assert max(elsewhere.values(), default=0) <= 6
    bin_rows = [a for a in attempts if a["data"]["object"]["metadata"]["card_bin"] == "414709" and a["created"] < start]
    assert len(bin_rows) > 500 and _auth_rate([a for a in bin_rows if a["created"] < REVIEW_START]) > 0.88
    # the hour of the spike is well below the same hour's band on the seven days before
    hour = local_hour(start)[1]
    review_hour = [a for a in attempts if local_hour(a["created"]) == (END, hour)]
    before = [_auth_rate([a for a in attempts if local_hour(a["created"]) == (d, hour)]) for d in DAYS[:-1]]
    assert _auth_rate(review_hour) < min(before) - 0.08


def test_webhook_outage_and_its_retries_read_back_from_the_log(
    deliveries: list[dict[str, Any]], events: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    outage = truth["webhook_outage"]
    start, end = when(outage["from"]), when(outage["to"])
    assert 35 * 60 <= end - start <= 45 * 60 and start >= REVIEW_START

    def at(row: dict[str, Any]) -> float:
        return dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()

    inside = [r for r in deliveries if start <= at(r) < end]
    assert inside and all((r["outcome"], r["http_status"], r["level"]) == ("error", 500, "error") for r in inside)
    assert len(inside) == outage["failed_deliveries"]
    failed_ids = {r["event_id"] for r in inside}
    assert len(failed_ids) == outage["retried_events"] > 100
    rows_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in deliveries:
        if r["event_id"] in failed_ids:
            rows_of[r["event_id"]].append(r)
    first_gaps = []
    for event_id in failed_ids:
        rows = sorted(rows_of[event_id], key=at)
        assert len(rows) >= 2 and rows[0]["outcome"] == "error"
        handled = [r for r in rows if r["outcome"] == "handled"]
        assert len(handled) == 1 and at(handled[0]) >= end  # handled once, after the outage
        assert all(r["outcome"] == "error" for r in rows if at(r) < at(handled[0]))
        tries = rows[: rows.index(handled[0]) + 1]
        gaps = [at(b) - at(a) for a, b in zip(tries, tries[1:], strict=False)]
        first_gaps.append(gaps[0])
        assert gaps == sorted(gaps)  # the back-off grows
        assert events[event_id]["pending_webhooks"] == 1
    first_gaps.sort()
    assert 50 <= first_gaps[len(first_gaps) // 2] <= 80  # Stripe's first retry comes after about a minute
    # outside the outage, a 500 is rare
    outside = [r for r in deliveries if r["outcome"] == "error" and not start <= at(r) < end]
    assert len(outside) < 0.002 * len(deliveries)


def test_stuck_payments_stay_processing_to_the_end_of_the_day(
    by_intent: dict[str, list[dict[str, Any]]], orders: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    stuck = truth["stuck_payments"]
    assert len(stuck) == 2 and len(set(stuck)) == 2
    for pi in stuck:
        last = by_intent[pi][-1]
        assert last["type"] == "payment_intent.processing" and last["data"]["object"]["status"] == "processing"
        assert REVIEW_END - last["created"] >= 3 * 3600
        order = orders[last["data"]["object"]["metadata"]["order_id"]]
        assert order["status"] == "pending" and order["paymentIntentId"] == pi
    # no other PaymentIntent ends the review day processing for more than a few minutes
    others = [
        pi
        for pi, evs in by_intent.items()
        if pi not in stuck and evs[-1]["type"] == "payment_intent.processing" and REVIEW_END - evs[-1]["created"] > 300
    ]
    assert others == []


def test_double_charge_two_succeeded_intents_for_one_order(
    by_intent: dict[str, list[dict[str, Any]]], orders: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    succeeded_by_order: dict[str, set[str]] = defaultdict(set)
    charges_by_order: dict[str, set[str]] = defaultdict(set)
    for pi, evs in by_intent.items():
        for ev in evs:
            obj = ev["data"]["object"]
            if ev["type"] == "payment_intent.succeeded":
                succeeded_by_order[obj["metadata"]["order_id"]].add(pi)
            if ev["type"] == "charge.succeeded":
                charges_by_order[obj["metadata"]["order_id"]].add(obj["id"])
    twice = {order: pis for order, pis in succeeded_by_order.items() if len(pis) > 1}
    double = truth["double_charge"]
    assert twice == {double["order_id"]: set(double["payment_intents"])}
    assert len(charges_by_order[double["order_id"]]) == 2
    created = [
        next(e for e in by_intent[pi] if e["type"] == "payment_intent.created") for pi in double["payment_intents"]
    ]
    keys = [e["request"]["idempotency_key"] for e in created]
    assert all(keys) and keys[0] != keys[1]
    assert 40 <= created[1]["created"] - created[0]["created"] <= 90
    assert orders[double["order_id"]]["status"] == "paid"


def test_amount_mismatch_is_the_only_paid_order_unlike_its_payment(
    by_intent: dict[str, list[dict[str, Any]]], orders: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    paid: dict[str, dict[str, Any]] = {}
    for evs in by_intent.values():
        for ev in evs:
            if ev["type"] == "payment_intent.succeeded":
                paid[ev["data"]["object"]["id"]] = ev["data"]["object"]
    unlike = []
    for order in orders.values():
        pi = paid.get(order["paymentIntentId"])
        if order["status"] == "paid":
            assert pi is not None
            if (pi["amount"], pi["currency"]) != (order["total"], order["currency"]):
                unlike.append((order["_id"], order["total"], pi["amount"], pi["currency"]))
    m = truth["amount_mismatch"]
    assert unlike == [(m["order_id"], m["order_amount"], m["paid_amount"], m["currency"])]
    assert (m["order_amount"], m["paid_amount"], m["currency"]) == (4999, 4599, "eur")


def test_orders_follow_their_payments(
    by_intent: dict[str, list[dict[str, Any]]], orders: dict[str, dict[str, Any]]
) -> None:
    for order in orders.values():
        types = {e["type"] for e in by_intent[order["paymentIntentId"]]}
        if order["status"] == "cancelled":
            assert "payment_intent.canceled" in types and "payment_intent.succeeded" not in types
        elif order["status"] == "refunded":
            refunds = [e for e in by_intent[order["paymentIntentId"]] if e["type"] == "charge.refunded"]
            assert refunds and refunds[-1]["data"]["object"]["refunded"] is True
        elif order["status"] == "pending":
            assert "payment_intent.succeeded" not in types and "payment_intent.canceled" not in types


CARD_RUN = re.compile(r"(?<![0-9A-Za-z])\d{13,19}(?![0-9A-Za-z])")


def test_pan_in_one_log_line_only(
    root: Path, demo: tuple[Path, dict[str, Any]], log: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    pan = truth["pan_in_log"]
    path = demo[0] / pan["file"]
    assert path.is_file() and path.parent == root / "webhooks"
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        found += [(m, line) for m in CARD_RUN.findall(line) if luhn(m)]
    assert len(found) == 1
    number, line = found[0]
    row = json.loads(line)
    assert row["level"] == "error" and number in row["message"] and "outcome" not in row
    assert len(number) == 16 and number.startswith("4") and number not in TEST_CARDS
    assert (number[:6], number[-4:]) == (pan["card_bin"], pan["card_last4"])
    at = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()
    assert REVIEW_START <= at < REVIEW_END
    assert number not in json.dumps(demo[1])
    # nowhere else: no other file holds a Luhn-valid card-length run of digits
    for other in sorted(root.rglob("*")):
        if other.is_file() and other != path:
            text = other.read_text(encoding="utf-8")
            assert number not in text
            assert not [m for m in CARD_RUN.findall(text) if luhn(m)], other


def test_luhn_check_digit() -> None:
    assert luhn_check_digit("7992739871") == "3"  # the textbook example
    assert luhn_check_digit("424242424242424") == "2"
    for payload in ("455673123456789", "37828224631000", "601100009013942"):
        assert luhn(payload + luhn_check_digit(payload))
        assert not luhn(payload + str((int(luhn_check_digit(payload)) + 1) % 10))


# -- determinism ------------------------------------------------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    truth = write_demo(tmp_path / "a", DAYS, TZ, np.random.default_rng(SEED))
    assert truth == demo[1]
    assert _files(tmp_path / "a" / "payments") == _files(demo[0] / "payments")
    # writing again over the same folder leaves no file of the earlier run
    other = write_demo(tmp_path / "a", DAYS[-3:], TZ, np.random.default_rng(SEED + 1))
    assert other != truth
    files = _files(tmp_path / "a" / "payments")
    assert len([n for n in files if n.startswith("events")]) == 4
    assert files["orders/orders.jsonl"] != _files(demo[0] / "payments")["orders/orders.jsonl"]


def test_days_across_a_dst_change(tmp_path: Path) -> None:
    days = [dt.date(2026, 3, 28), dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
    truth = write_demo(tmp_path, days, TZ, np.random.default_rng(7))["payments"]
    start = dt.datetime.combine(days[0], dt.time(), TZ).timestamp()
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), TZ).timestamp()
    created = [
        json.loads(line)["created"]
        for path in (tmp_path / "payments" / "events").iterdir()
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert start <= min(created) and max(created) < end
    assert dt.datetime.fromisoformat(truth["decline_spike"]["from"]).astimezone(TZ).strftime("%H:%M") == "20:00"


def test_needs_days(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_demo(tmp_path, [], TZ, np.random.default_rng(1))
