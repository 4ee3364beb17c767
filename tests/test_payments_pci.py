"""PCI exposure: card numbers (Luhn, issuer prefix per length), CVV/track fields, BIN + last four."""

from __future__ import annotations

import json
import re

import pytest

from opsreview.payments.models import EXPOSURES, to_arrow
from opsreview.payments.pci import (
    TEST_CARDS,
    bin_last4,
    find_pans,
    find_sensitive_fields,
    scan_document,
    scan_lines,
)


def luhn_complete(body: str) -> str:
    """``body`` + the check digit that makes it Luhn-valid (written here, not the code's)."""
    total = 0
    # the check digit will be position 0 from the right; body digits start at position 1
    for position, char in enumerate(reversed(body), start=1):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def card(prefix: str, length: int, fill: str = "3") -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix`` (not a test card)."""
    body = prefix + fill * (length - len(prefix) - 1)
    number = luhn_complete(body)
    assert len(number) == length
    return number


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# (brand, prefix, length): one row per prefix edge and length the brands allow
VALID = [
    ("visa", "4", 13),
    ("visa", "4", 16),
    ("visa", "4", 19),
    ("mastercard", "51", 16),
    ("mastercard", "55", 16),
    ("mastercard", "2221", 16),
    ("mastercard", "2720", 16),
    ("mastercard", "2500", 16),
    ("amex", "34", 15),
    ("amex", "37", 15),
    ("discover", "6011", 16),
    ("discover", "644", 16),
    ("discover", "649", 19),
    ("discover", "65", 16),
    ("jcb", "3528", 16),
    ("jcb", "3589", 19),
    ("diners", "300", 14),
    ("diners", "305", 14),
    ("diners", "3095", 14),
    ("diners", "36", 14),
    ("diners", "38", 16),
    ("diners", "39", 14),
    ("unionpay", "62", 16),
    ("unionpay", "62", 19),
    ("maestro", "5018", 16),
    ("maestro", "5020", 13),
    ("maestro", "5038", 19),
    ("maestro", "6304", 18),
    ("maestro", "6759", 16),
    ("maestro", "6763", 19),
]

# (prefix, length): Luhn-valid, 13-19 digits, but no brand starts so at that length
WRONG_PREFIX_OR_LENGTH = [
    ("4", 14),  # Visa has 13, 16, 19
    ("4", 15),
    ("4", 17),
    ("51", 15),  # Mastercard is 16
    ("2220", 16),  # just below the 2-series
    ("2721", 16),  # just above it
    ("34", 16),  # Amex is 15
    ("37", 14),
    ("3527", 16),  # below JCB
    ("3590", 16),  # above JCB
    ("306", 14),  # between Diners' 305 and 3095
    ("1", 16),
    ("7", 16),
    ("8", 16),
    ("9", 16),
    ("20", 16),  # a date-like start
]


@pytest.mark.parametrize(("brand", "prefix", "length"), VALID)
def test_valid_numbers_of_each_brand_are_found_as_bin_and_last_four(brand: str, prefix: str, length: int) -> None:
    number = card(prefix, length)
    rows = find_pans(f"charge failed for card {number} (retrying)", allow_test_cards=False)
    assert rows == [
        {
            "where": "",
            "kind": "pan",
            "card_bin": number[:6],
            "card_last4": number[-4:],
            "brand": brand,
            "test_card": False,
        }
    ]


@pytest.mark.parametrize(("brand", "prefix", "length"), VALID)
def test_a_wrong_check_digit_is_not_a_card(brand: str, prefix: str, length: int) -> None:
    assert find_pans(f"card {wrong_check_digit(card(prefix, length))}", allow_test_cards=False) == []


@pytest.mark.parametrize(("prefix", "length"), WRONG_PREFIX_OR_LENGTH)
def test_a_luhn_valid_number_with_no_brand_of_that_length_is_not_a_card(prefix: str, length: int) -> None:
    assert find_pans(f"id={card(prefix, length)}", allow_test_cards=False) == []


@pytest.mark.parametrize("length", [10, 11, 12, 20, 21, 24])
def test_too_short_or_too_long_is_not_a_card(length: int) -> None:
    assert find_pans(f"ref {card('4', length)} end", allow_test_cards=False) == []


def test_timestamps_and_order_ids_that_fail_luhn_are_not_cards() -> None:
    # 16 digits of a timestamp (yyyymmddhhmmssff) and a numeric order id, both checked here to fail Luhn
    stamp, order = "4026031014253011", "5512345678901235"
    for number in (stamp, order):
        assert luhn_complete(number[:-1]) != number
    text = f'{{"ts": "{stamp}", "order_id": {order}, "ms": 1767225600123}}'
    assert find_pans(text, allow_test_cards=False) == []


def test_numbers_inside_json_and_log_text_with_separators() -> None:
    visa, amex, mc = card("4", 16, "7"), card("37", 15, "1"), card("2221", 16, "0")
    grouped = " ".join(visa[i : i + 4] for i in range(0, 16, 4))
    amex_grouped = f"{amex[:4]}-{amex[4:10]}-{amex[10:]}"
    text = (
        f'{{"level":"info","msg":"payment","card":"{grouped}","alt":{mc}}}\n'
        f"2026-03-10T12:00:00Z POST /pay?number={amex_grouped}&x=1 400"
    )
    rows = find_pans(text, allow_test_cards=False, where="app.log:7")
    assert [(r["brand"], r["card_bin"], r["card_last4"], r["where"]) for r in rows] == [
        ("visa", visa[:6], visa[-4:], "app.log:7"),
        ("mastercard", mc[:6], mc[-4:], "app.log:7"),
        ("amex", amex[:6], amex[-4:], "app.log:7"),
    ]


def test_adjacent_numbers_are_both_found() -> None:
    a, b = card("4", 16, "5"), card("51", 16, "6")
    rows = find_pans(f"{a} {b}", allow_test_cards=False)
    assert [r["card_last4"] for r in rows] == [a[-4:], b[-4:]]


def test_digits_glued_to_letters_or_longer_ids_are_not_cards() -> None:
    number = card("4", 16, "8")
    for text in (f"ord_{number}", f"x{number}", f"{number}abc", f"9{number}"):
        assert find_pans(text, allow_test_cards=False) == []


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3056930009020004", "diners"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("6205500000000000004", "unionpay"),
        ("4000000000000002", "visa"),
    ],
)
def test_stripe_test_numbers_are_flagged_or_allowed(number: str, brand: str) -> None:
    flagged = find_pans(f"card={number}", allow_test_cards=False)
    assert [(r["brand"], r["test_card"], r["card_last4"]) for r in flagged] == [(brand, True, number[-4:])]
    assert find_pans(f"card={number}", allow_test_cards=True) == []


def test_every_listed_test_card_is_a_card() -> None:
    for number in TEST_CARDS:
        assert luhn_complete(number[:-1]) == number, number
        rows = find_pans(number, allow_test_cards=False)
        assert len(rows) == 1 and rows[0]["test_card"], number


def test_a_real_looking_number_stays_a_finding_when_test_cards_are_allowed() -> None:
    real = card("4", 16, "9")
    rows = find_pans(f"4242424242424242 and {real}", allow_test_cards=True)
    assert [(r["card_last4"], r["test_card"]) for r in rows] == [(real[-4:], False)]


def test_no_output_contains_the_full_number() -> None:
    numbers = [card(p, n) for _, p, n in VALID] + sorted(TEST_CARDS)
    text = "\n".join(f'{{"pan": "{n}"}}' for n in numbers)
    rows = find_pans(text, allow_test_cards=False) + scan_lines(text.splitlines(), "f")
    assert len(rows) == 2 * len(numbers)
    dumped = json.dumps(rows)
    for number in numbers:
        assert number not in dumped
    assert re.search(r"[0-9]{7}", dumped) is None  # no run of digits longer than a BIN
    for row in rows:
        assert len(row["card_bin"]) == 6 and len(row["card_last4"]) == 4


def test_rows_fit_the_exposures_table() -> None:
    rows = scan_lines(["ok", f"pan {card('4', 16)}"], "app.log") + find_sensitive_fields({"cvv": "123"}, "orders/1")
    table = to_arrow(EXPOSURES, rows)
    assert table.num_rows == 2
    assert table.column("where").to_pylist() == ["app.log:2", "orders/1.cvv"]


def test_scan_lines_numbers_lines_from_one() -> None:
    number = card("51", 16, "2")
    rows = scan_lines(["first", "second", f"third {number}", "", f"{number}"], "logs/app.log")
    assert [r["where"] for r in rows] == ["logs/app.log:3", "logs/app.log:5"]


def test_bin_last4() -> None:
    assert bin_last4("4242 4242 4242 4242") == ("424242", "4242")
    assert bin_last4("3782-822463-10005") == ("378282", "0005")
    with pytest.raises(ValueError):
        bin_last4("424242424242")
    with pytest.raises(ValueError):
        bin_last4("4" * 20)


def test_sensitive_fields_with_plausible_values() -> None:
    track2 = card("4", 16, "1")
    doc = {
        "_id": "o1",
        "payment": {
            "cvv": "123",
            "securityCode": 4567,
            "card": {"CVC2": "987", "last4": "4242"},
            "trackData": f";{track2}=29121010000000000000?",
        },
        "history": [{"cvv2": "001"}, {"track1": "%B" + track2 + "^DOE/JANE^2912101000000000000000?"}],
        # not exposures: masked, empty, a check result, a flag, a too-long value, a track name without track data
        "cvc_check": "pass",
        "card": {"cvv": "***", "cvc": "", "cvv2": True, "securitycode": "12345", "track2": "n/a"},
    }
    rows = find_sensitive_fields(doc, "orders/o1")
    assert [(r["where"], r["kind"]) for r in rows] == [
        ("orders/o1.payment.cvv", "cvv"),
        ("orders/o1.payment.securityCode", "cvv"),
        ("orders/o1.payment.card.CVC2", "cvv"),
        ("orders/o1.payment.trackData", "track"),
        ("orders/o1.history[0].cvv2", "cvv"),
        ("orders/o1.history[1].track1", "track"),
    ]
    tracks = [r for r in rows if r["kind"] == "track"]
    assert all((r["card_bin"], r["card_last4"], r["brand"]) == (track2[:6], track2[-4:], "visa") for r in tracks)
    dumped = json.dumps(rows)
    for secret in ("123", "4567", "987", "001", track2):
        assert f'"{secret}"' not in dumped and track2 not in dumped


def test_scan_document_finds_pans_in_values_too() -> None:
    number = card("53", 16, "4")
    doc = {"_id": "p9", "note": f"customer read card {number} on the phone", "raw": int(number), "cvc": "321"}
    rows = scan_document(doc, "payments/p9")
    assert sorted((r["where"], r["kind"]) for r in rows) == [
        ("payments/p9.cvc", "cvv"),
        ("payments/p9.note", "pan"),
        ("payments/p9.raw", "pan"),
    ]
    assert number not in json.dumps(rows)
