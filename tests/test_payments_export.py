"""payments.export and payments.normalize: JSONL (plain, gzip) and CSV exports, every kind of
bad input counted, card numbers reduced to BIN + last four, amounts exact."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from opsreview.exceptions import SourceError
from opsreview.masking import luhn_valid
from opsreview.payments.export import read_export
from opsreview.payments.models import EVENTS, INGEST, to_arrow
from opsreview.payments.normalize import FloatAmount, card_parts, event_row, to_minor
from opsreview.payments.params import ExportSource

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
T = int((NOW - timedelta(hours=3)).timestamp())
PAN = "4111111111111111"  # Luhn-valid Visa test number
PAN_MC = "5500005555555559"


def _charge_event(n: int, **over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"ch_{n:04d}",
        "object": "charge",
        "amount": 2000 + n,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "failed" if n % 3 == 0 else "succeeded",
        "paid": n % 3 != 0,
        "payment_intent": f"pi_{n:04d}",
        "customer": "cus_ABC123",
        "metadata": {"order_id": f"ord-{n}"},
        "outcome": {"type": "issuer_declined", "reason": "do_not_honor"}
        if n % 3 == 0
        else {"type": "authorized", "reason": None},
        "failure_code": "card_declined" if n % 3 == 0 else None,
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": "visa",
                "country": "US",
                "last4": "1111",
                "iin": "411111",
                "three_d_secure": {"result": "authenticated"},
            },
        },
    }
    obj.update(over.pop("obj", {}))
    event: dict[str, Any] = {
        "id": f"evt_{n:04d}",
        "object": "event",
        "type": "charge.failed" if n % 3 == 0 else "charge.succeeded",
        "created": T + n,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "api_version": "2024-06-20",
        "request": {"id": "req_1", "idempotency_key": f"idem-{n}"},
    }
    event.update(over)
    return event


def _write_jsonl(path: Path, lines: list[Any], gz: bool = False) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _no_full_pan(rows: list[dict[str, Any]], *pans: str) -> None:
    dump = json.dumps(rows, default=str)
    for pan in pans:
        assert pan not in dump
    for run in re.findall(r"\d{13,19}", dump):  # no Luhn-valid card-length run of digits at all
        assert not luhn_valid(run), run


BAD_LINES: list[tuple[str, Any]] = [
    ("malformed", "{not json"),
    ("malformed", '["an", "array"]'),
    ("malformed", {"id": "evt_x1", "type": "charge.succeeded", "created": T}),  # no data.object
    ("unknown_type", _charge_event(50, type="customer.created")),
    ("missing_amount", _charge_event(51, obj={"amount": None})),
    (
        "float_amount",
        '{"id":"evt_f","type":"charge.succeeded","created":'
        + str(T)
        + ',"data":{"object":{"amount":12.5,"currency":"usd"}}}',
    ),
    ("future", _charge_event(52, created=int((NOW + timedelta(hours=2)).timestamp()))),
]


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_events_and_every_bad_kind_counted(tmp_path: Path, gz: bool) -> None:
    good = [_charge_event(n) for n in range(1, 7)]
    lines: list[Any] = [*good, *(line for _, line in BAD_LINES), good[0]]  # the last one: a duplicate
    path = _write_jsonl(tmp_path / ("events.jsonl.gz" if gz else "events.jsonl"), lines, gz)
    rows, ingest = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert [r["event_id"] for r in rows] == [f"evt_{n:04d}" for n in range(1, 7)]
    assert ingest["rows"] == 6 and ingest["duplicates"] == 1
    for reason in ("malformed", "unknown_type", "missing_amount", "float_amount", "future"):
        assert ingest[reason] == sum(1 for r, _ in BAD_LINES if r == reason), reason
    declined = next(r for r in rows if r["event_id"] == "evt_0003")
    assert declined["outcome"] == "issuer_declined" and declined["decline_code"] == "do_not_honor"
    assert declined["failure_code"] == "card_declined"
    ok = next(r for r in rows if r["event_id"] == "evt_0001")
    assert ok["outcome"] == "authorized" and ok["amount"] == 2001 and ok["currency"] == "usd"
    assert (ok["card_brand"], ok["card_country"], ok["card_bin"], ok["card_last4"]) == ("visa", "US", "411111", "1111")
    assert ok["three_ds"] == "authenticated" and ok["order_id"] == "ord-1" and ok["customer"] == "cus_ABC123"
    assert ok["idempotency_key"] == "idem-1" and ok["pending_webhooks"] == 1 and ok["livemode"] is False
    assert ok["source"] == f"export:{path.name}" and ok["ts"] == datetime.fromtimestamp(T + 1, UTC)
    assert ingest["oldest"] == datetime.fromtimestamp(T + 1, UTC)
    assert to_arrow(EVENTS, rows).num_rows == 6 and to_arrow(INGEST, [ingest]).num_rows == 1


def test_mixed_currencies_of_one_payment_are_counted(tmp_path: Path) -> None:
    charge = _charge_event(1)
    refund = _charge_event(
        2, type="charge.refund.updated", obj={"object": "refund", "id": "re_1", "charge": "ch_0001", "currency": "eur"}
    )
    refund["data"]["object"]["payment_intent"] = "pi_0001"
    other = _charge_event(4, obj={"currency": "gbp"})  # another payment in another currency: normal
    path = _write_jsonl(tmp_path / "mixed.jsonl", [charge, refund, other])
    rows, ingest = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert len(rows) == 3 and ingest["mixed_currency"] == 1
    assert {r["currency"] for r in rows} == {"usd", "eur", "gbp"}
    assert next(r for r in rows if r["event_id"] == "evt_0002")["object_type"] == "refund"


def test_full_card_numbers_in_a_jsonl_export_are_reduced(tmp_path: Path) -> None:
    leaky = _charge_event(
        1,
        obj={
            "payment_method_details": {"card": {"brand": "visa", "number": PAN, "cvc": "873", "last4": None}},
            "metadata": {"order_id": f"order {PAN}"},
        },
        request={"idempotency_key": f"pay-{PAN_MC}"},
    )
    path = _write_jsonl(tmp_path / "leak.jsonl", [leaky])
    rows, _ = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert rows[0]["card_bin"] == "411111" and rows[0]["card_last4"] == "1111"
    assert "1111" in rows[0]["order_id"] and "5559" in rows[0]["idempotency_key"]
    _no_full_pan(rows, PAN, PAN_MC)
    assert "873" not in json.dumps(
        {k: v for k, v in rows[0].items() if k not in ("ts", "created", "amount")}, default=str
    )


def test_secret_looking_idempotency_key_is_masked(tmp_path: Path) -> None:
    secret = "sk_live_" + "a1B2c3D4e5F6g7H8"
    path = _write_jsonl(tmp_path / "k.jsonl", [_charge_event(1, request={"idempotency_key": secret})])
    rows, _ = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert secret not in json.dumps(rows, default=str) and rows[0]["idempotency_key"]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(json.dumps(_charge_event(n)) for n in range(1, 200)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    rows, ingest = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert 0 < len(rows) < 199
    assert "ends early" in ingest["note"]


def test_unreadable_file_is_a_source_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SourceError, match="nope.jsonl"):
        read_export(missing, ExportSource(paths=[str(missing)]), NOW, "order_id")
    with pytest.raises(SourceError, match="folder"):
        read_export(tmp_path, ExportSource(paths=[str(tmp_path)]), NOW, "order_id")


CSV_HEADER = "id,kind,when,total,cur,state,pan,intent,order,decline\n"
COLUMNS = {
    "event_id": "id",
    "type": "kind",
    "created": "when",
    "amount": "total",
    "currency": "cur",
    "status": "state",
    "card_number": "pan",
    "payment_intent": "intent",
    "order_id": "order",
    "decline_code": "decline",
}


def test_csv_major_units_exact_and_bad_rows_counted(tmp_path: Path) -> None:
    iso = (NOW - timedelta(hours=1)).isoformat()
    future = (NOW + timedelta(days=1)).isoformat()
    lines = [
        f"e1,payment_intent.succeeded,{iso},12.34,USD,succeeded,{PAN},pi_1,o1,\n",
        f"e2,payment_intent.payment_failed,{iso},0.10,usd,requires_payment_method,{PAN_MC},pi_2,o2,do_not_honor\n",
        f"e3,payment_intent.succeeded,{iso},500,jpy,succeeded,,pi_3,o3,\n",  # zero-decimal
        f"e4,payment_intent.succeeded,{iso},1.005,kwd,succeeded,,pi_4,o4,\n",  # three decimals: exact
        f"e5,payment_intent.succeeded,{iso},12.345,usd,succeeded,,pi_5,o5,\n",  # beyond cents: refused
        f"e6,payment_intent.succeeded,{iso},500.5,jpy,succeeded,,pi_6,o6,\n",  # a fraction of a yen: refused
        f"e7,payment_intent.succeeded,{iso},,usd,succeeded,,pi_7,o7,\n",  # missing amount
        f"e8,customer.created,{iso},1.00,usd,,,,o8,\n",  # unknown type
        f"e9,payment_intent.succeeded,{future},1.00,usd,succeeded,,pi_9,o9,\n",  # future
        "e10,payment_intent.succeeded,not a date,1.00,usd,succeeded,,pi_10,o10,\n",  # malformed
        "e11,too,few\n",  # malformed
        f"e12,payment_intent.succeeded,{iso},12.3.4,usd,succeeded,,pi_12,o12,\n",  # malformed amount
        f"e13,charge.refunded,{iso},3.00,eur,succeeded,,pi_1,o1,\n",  # pi_1 was usd: mixed
    ]
    path = tmp_path / "flat.csv"
    path.write_text(CSV_HEADER + "".join(lines), encoding="utf-8")
    source = ExportSource(paths=[str(path)], format="csv", columns=COLUMNS, amount_unit="major")
    rows, ingest = read_export(path, source, NOW, "order_id")
    by_id = {r["event_id"]: r for r in rows}
    assert set(by_id) == {"e1", "e2", "e3", "e4", "e13"}
    assert by_id["e1"]["amount"] == 1234 and by_id["e1"]["currency"] == "usd"
    assert by_id["e2"]["amount"] == 10 and by_id["e2"]["decline_code"] == "do_not_honor"
    assert by_id["e2"]["outcome"] == "issuer_declined"
    assert by_id["e3"]["amount"] == 500 and by_id["e4"]["amount"] == 1005
    assert all(type(r["amount"]) is int for r in rows)
    assert (by_id["e1"]["card_bin"], by_id["e1"]["card_last4"]) == ("411111", "1111")
    assert (by_id["e2"]["card_bin"], by_id["e2"]["card_last4"]) == ("550000", "5559")
    assert by_id["e1"]["order_id"] == "o1" and by_id["e1"]["payment_intent"] == "pi_1"
    assert (ingest["float_amount"], ingest["missing_amount"], ingest["unknown_type"]) == (2, 1, 1)
    assert (ingest["future"], ingest["malformed"], ingest["mixed_currency"]) == (1, 3, 1)
    _no_full_pan(rows, PAN, PAN_MC)
    assert to_arrow(EVENTS, rows).num_rows == 5


def test_csv_minor_units_refuse_a_decimal_point_and_ids_are_stable(tmp_path: Path) -> None:
    path = tmp_path / "minor.csv"
    path.write_text(
        "type,created,amount,currency\n"
        f"charge.succeeded,{T},1999,usd\n"
        f"charge.succeeded,{T},19.99,usd\n"
        f"charge.succeeded,{T},1999,usd\n",  # the same row again: the same hashed id, a duplicate
        encoding="utf-8",
    )
    source = ExportSource(paths=[str(path)], format="csv")
    rows, ingest = read_export(path, source, NOW, "order_id")
    assert [r["amount"] for r in rows] == [1999]
    assert ingest["float_amount"] == 1 and ingest["duplicates"] == 1
    again, _ = read_export(path, source, NOW, "order_id")
    assert again[0]["event_id"] == rows[0]["event_id"].strip() and rows[0]["event_id"].startswith("h_")


def test_csv_without_required_columns_names_them(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"bad.csv.*currency"):
        read_export(path, ExportSource(paths=[str(path)], format="csv"), NOW, "order_id")


# -- normalize, directly -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        ("12.34", "usd", 1234),
        ("0.01", "eur", 1),
        ("1000", "jpy", 1000),
        ("1000", "krw", 1000),
        ("1.234", "bhd", 1234),
        ("19.9", "usd", 1990),
        ("-5.50", "gbp", -550),
        ("0.1", "usd", 10),  # 0.1 is not exactly a binary float: Decimal keeps it exact
        ("123456789012345.67", "usd", 12345678901234567),
    ],
)
def test_to_minor_is_exact(major: str, currency: str, minor: int) -> None:
    assert to_minor(major, currency) == minor


@pytest.mark.parametrize(("major", "currency"), [("0.001", "usd"), ("1.5", "jpy"), ("1.2345", "kwd")])
def test_to_minor_refuses_a_fraction_beyond_the_exponent(major: str, currency: str) -> None:
    with pytest.raises(FloatAmount):
        to_minor(major, currency)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (PAN, ("411111", "1111")),
        ("4111 1111 1111 1111", ("411111", "1111")),
        ("4111-1111-1111-1111", ("411111", "1111")),
        ("411111******1111", ("411111", "1111")),
        ("************1111", (None, "1111")),
        ("1111", (None, "1111")),
        ("12", (None, None)),
        (None, (None, None)),
        ("6011000990139424123", ("601100", "4123")),  # 19 digits: six, never more
    ],
)
def test_card_parts(value: str | None, expected: tuple[str | None, str | None]) -> None:
    assert card_parts(value) == expected
    assert all(part is None or len(part) <= 6 for part in card_parts(value))


def test_event_row_bin_never_longer_than_six() -> None:
    event = _charge_event(1, obj={"payment_method_details": {"card": {"iin": "41111111", "last4": "1111"}}})
    row, reason = event_row(event, "t", NOW, "order_id")
    assert reason is None and row is not None and row["card_bin"] == "411111"


def test_event_row_never_raises_on_junk() -> None:
    for junk in [None, 1, "x", [], {"type": 5}, {"type": "charge.succeeded", "created": True, "data": {"object": {}}}]:
        row, reason = event_row(junk, "t", NOW, "order_id")
        assert row is None and reason == "malformed"
    row, reason = event_row(_charge_event(1, obj={"amount": Decimal("12.5")}), "t", NOW, "order_id")
    assert row is None and reason == "float_amount"
    row, reason = event_row(_charge_event(1, obj={"amount": True}), "t", NOW, "order_id")
    assert row is None and reason == "malformed"


def test_payment_intent_requires_action_and_last_payment_error() -> None:
    pi = {
        "id": "evt_pi",
        "type": "payment_intent.payment_failed",
        "created": T,
        "data": {
            "object": {
                "id": "pi_9",
                "object": "payment_intent",
                "amount": 700,
                "currency": "eur",
                "status": "requires_payment_method",
                "last_payment_error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "payment_method": {"card": {"brand": "mastercard", "country": "DE", "last4": "4444"}},
                },
                "metadata": {"shop_order": "S-1"},
            }
        },
    }
    row, _ = event_row(pi, "t", NOW, "shop_order")
    assert row is not None
    assert (row["outcome"], row["decline_code"], row["failure_code"]) == (
        "issuer_declined",
        "insufficient_funds",
        "card_declined",
    )
    assert (row["card_brand"], row["card_last4"], row["order_id"]) == ("mastercard", "4444", "S-1")
    action = dict(pi, type="payment_intent.requires_action")
    action["data"] = {"object": {**pi["data"]["object"], "status": "requires_action", "last_payment_error": None}}
    row, _ = event_row(action, "t", NOW, "shop_order")
    assert row is not None and row["three_ds"] == "required" and row["outcome"] is None
    dispute = {
        "id": "evt_dp",
        "type": "charge.dispute.created",
        "created": T,
        "data": {
            "object": {
                "id": "dp_1",
                "object": "dispute",
                "amount": 700,
                "currency": "eur",
                "charge": "ch_9",
                "payment_intent": "pi_9",
                "status": "needs_response",
            }
        },
    }
    row, _ = event_row(dispute, "t", NOW, "order_id")
    assert row is not None and (row["object_type"], row["charge"], row["payment_intent"]) == ("dispute", "ch_9", "pi_9")


def test_numbers_beyond_int64_in_an_export_are_malformed_not_an_overflow(tmp_path: Path) -> None:
    lines = [
        _charge_event(1),
        _charge_event(2, obj={"amount": 2**70}),  # a JSON integer no int64 holds
        _charge_event(4, obj={"amount_refunded": -(2**64)}),
        _charge_event(5, pending_webhooks=2**63),
        _charge_event(7, pending_webhooks=-1),
    ]
    path = _write_jsonl(tmp_path / "events.jsonl", lines)
    rows, ingest = read_export(path, ExportSource(paths=[str(path)]), NOW, "order_id")
    assert [r["event_id"] for r in rows] == ["evt_0001"]
    assert ingest["rows"] == 1 and ingest["malformed"] == 4
    assert to_arrow(EVENTS, rows).num_rows == 1
