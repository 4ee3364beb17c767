"""PCI exposure: full card numbers, CVVs and track data where they must not be.

Card numbers in text are found by the kernel's detector (:data:`opsreview.masking.CARD`, the
pattern :func:`opsreview.masking.mask_sensitive` masks with: 13-19 digits, plain or grouped by
spaces, dashes, ``+`` or ``%20``, not glued to letters or other digits) and its
:func:`~opsreview.masking.luhn_valid`; this module adds what a PCI finding needs and masking
does not: the brand, from an issuer-prefix table *per length* (:data:`BRANDS`), the BIN and
last four (PCI DSS v4.0 3.4.1: at most BIN + last four are displayed), and whether the number
is a documented test card (:data:`TEST_CARDS`).

No function here returns or logs a full number: rows carry ``card_bin`` (first six digits),
``card_last4`` and ``brand`` only, as the ``payment_exposures`` table does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from opsreview.masking import CARD, luhn_valid

__all__ = [
    "BRANDS",
    "TEST_CARDS",
    "bin_last4",
    "brand_of",
    "find_pans",
    "find_sensitive_fields",
    "scan_document",
    "scan_lines",
]

# Brand -> (issuer prefixes as inclusive ranges of equal-length digit strings, lengths).
# Sources: ISO/IEC 7812 IIN tables as published by the networks and processors (Cybersource's
# "card type identification", Wikipedia's "Payment card number"): Visa 4 (13, 16, 19);
# Mastercard 51-55 and 2221-2720 (16); Amex 34, 37 (15); Discover 6011, 644-649, 65 (16-19);
# JCB 3528-3589 (16-19); Diners Club 300-305, 3095, 36, 38-39 (14-19: Stripe's test Diners
# cards have 14 and 16 digits); UnionPay 62 (16-19, includes the 622126-622925 range co-branded
# with Discover); Maestro 5018, 5020, 5038, 5893, 6304, 6759, 6761-6763 (12-19; 13-19 here,
# the detector's shortest).
BRANDS: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[int]]] = {
    "visa": ((("4", "4"),), frozenset({13, 16, 19})),
    "mastercard": ((("51", "55"), ("2221", "2720")), frozenset({16})),
    "amex": ((("34", "34"), ("37", "37")), frozenset({15})),
    "discover": ((("6011", "6011"), ("644", "649"), ("65", "65")), frozenset(range(16, 20))),
    "jcb": ((("3528", "3589"),), frozenset(range(16, 20))),
    "diners": ((("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), frozenset(range(14, 20))),
    "unionpay": ((("62", "62"),), frozenset(range(16, 20))),
    "maestro": (
        (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"), ("6304", "6304"), ("6759", "6759"))
        + (("6761", "6763"),),
        frozenset(range(13, 20)),
    ),
}

# Longest prefixes first: Maestro's 6759 before nothing else, Discover's 6011 before a 6x rule.
_PREFIXES: list[tuple[str, str, str, frozenset[int]]] = sorted(
    ((lo, hi, brand, lengths) for brand, (ranges, lengths) in BRANDS.items() for lo, hi in ranges),
    key=lambda p: -len(p[0]),
)

# Documented test numbers (never a real cardholder's): Stripe's testing page (cards by brand,
# declines, 3-D Secure, disputes) and the numbers other gateways (Braintree, Adyen,
# Cybersource, PayPal) publish and people paste into Stripe-based apps.
TEST_CARDS: frozenset[str] = frozenset(
    {
        # Stripe: by brand
        "4242424242424242",
        "4000056655665556",
        "5555555555554444",
        "2223003122003222",
        "5200828282828210",
        "5105105105105100",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "6011981111111113",
        "3056930009020004",
        "36227206271667",
        "30569309025904",
        "38520000023237",
        "6555900000604105",
        "3566002020360505",
        "3530111333300000",
        "6200000000000005",
        "6200000000000047",
        "6205500000000000004",
        "4012888888881881",
        # Stripe: declines, fraud, disputes, 3-D Secure, outcomes
        "4000000000000002",
        "4000000000009995",
        "4000000000009987",
        "4000000000009979",
        "4000000000000069",
        "4000000000000127",
        "4000000000000119",
        "4100000000000019",
        "4000000000004954",
        "4000000000000101",
        "4000000000000259",
        "4000000000002685",
        "4000000000001976",
        "4000000000005423",
        "4000000000000077",
        "4000000000000093",
        "4000000000000010",
        "4000000000000028",
        "4000000000000036",
        "4000000000000044",
        "4000000000000341",
        "4000000000003220",
        "4000002500003155",
        "4000002760003184",
        "4000008260003178",
        "4000000000003063",
        "4000008400001629",
        "4000000000003055",
        "4000000000003097",
        # other gateways' published test numbers
        "4111111111111111",
        "4222222222222",
        "5500000000000004",
        "5454545454545454",
        "378734493671000",
        "6011000000000004",
        "36259600000004",
        "2223000048400011",
        "6759411100000008",
    }
)

_CANDIDATE = re.compile(CARD)
_NOT_DIGITS = re.compile(r"%20|[^0-9]")


def brand_of(digits: str) -> str | None:
    """The brand whose issuer prefix *and* length ``digits`` (digits only) has; None: no card."""
    for lo, hi, brand, lengths in _PREFIXES:
        head = digits[: len(lo)]
        if len(digits) in lengths and len(head) == len(lo) and lo <= head <= hi:
            return brand
    return None


def bin_last4(pan: str) -> tuple[str, str]:
    """``(bin, last4)`` of a card number (separators allowed): the first six and the last four
    digits, all that may be shown. Raises ValueError for anything but 13-19 digits."""
    digits = _NOT_DIGITS.sub("", pan)
    if not 13 <= len(digits) <= 19:
        raise ValueError(f"a card number has 13-19 digits, not {len(digits)}")
    return digits[:6], digits[-4:]


def _row(where: str, kind: str, digits: str | None, brand: str | None, test: bool) -> dict[str, Any]:
    card_bin, last4 = bin_last4(digits) if digits else (None, None)
    return {
        "where": where,
        "kind": kind,
        "card_bin": card_bin,
        "card_last4": last4,
        "brand": brand,
        "test_card": test,
    }


def _pans(text: str) -> Iterable[str]:
    """Digit strings of the Luhn-valid, brand-plausible card numbers in ``text``."""
    pos = 0
    while (match := _CANDIDATE.search(text, pos)) is not None:
        # restart after the number, not after the boundary it consumed: "4242... 5555..."
        pos = match.end(2)
        digits = _NOT_DIGITS.sub("", match.group(2))
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and brand_of(digits) is not None:
            yield digits


def find_pans(text: str, allow_test_cards: bool = False, where: str = "") -> list[dict[str, Any]]:
    """Full card numbers in ``text`` as ``payment_exposures`` rows (``where``, ``kind`` = "pan",
    ``card_bin``, ``card_last4``, ``brand``, ``test_card``), in order of appearance.

    A card number: 13-19 digits (spaces/dashes between groups allowed), Luhn-valid, with an
    issuer prefix valid for its length (:data:`BRANDS`). Documented test numbers are rows with
    ``test_card`` true, or no row at all when ``allow_test_cards``.
    """
    rows = []
    for digits in _pans(text):
        test = digits in TEST_CARDS
        if test and allow_test_cards:
            continue
        rows.append(_row(where, "pan", digits, brand_of(digits), test))
    return rows


def scan_lines(lines: Iterable[str], where_prefix: str, allow_test_cards: bool = False) -> list[dict[str, Any]]:
    """:func:`find_pans` over lines of a file; ``where`` is ``<where_prefix>:<line number>`` (from 1)."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if any(c.isdigit() for c in line):
            rows.extend(find_pans(line, allow_test_cards, f"{where_prefix}:{number}"))
    return rows


# Field names (lower case, without `_`/`-`/spaces) that hold a card's security code or track data.
_CVV_NAMES = frozenset(
    {"cvv", "cvc", "cvv2", "cvc2", "cid", "csc", "cav2", "securitycode", "cardsecuritycode", "cardcvv", "cardcvc"}
)
_TRACK_NAMES = frozenset({"track", "track1", "track2", "trackdata", "track1data", "track2data", "magstripe"})
_CVV_VALUE = re.compile(r"[0-9]{3,4}")
# ISO/IEC 7813: track 1 `%B<PAN>^<NAME>^<YYMM>...`, track 2 `;<PAN>=<YYMM>...` (sentinels optional).
_TRACK1 = re.compile(r"%?B([0-9]{13,19})\^[^^]{2,26}\^[0-9]{4}")
_TRACK2 = re.compile(r";?([0-9]{13,19})=[0-9]{4}")


def _name(key: object) -> str:
    return re.sub(r"[\s_-]", "", str(key)).lower()


def _walk(value: Any, path: str) -> Iterable[tuple[str, str, Any]]:
    """(path, field name, value) of every leaf of a document (mappings and lists)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, path.rsplit(".", 1)[-1].split("[", 1)[0], value


def _plausible_cvv(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= 9999
    return isinstance(value, str) and _CVV_VALUE.fullmatch(value.strip()) is not None


def _track_pan(value: Any) -> str | None:
    """The PAN of track data in ``value`` (None: no plausible track data)."""
    if not isinstance(value, str):
        return None
    match = _TRACK1.search(value) or _TRACK2.search(value)
    return match.group(1) if match else None


def find_sensitive_fields(doc: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """Stored CVV/CVC or track data in a document (nested mappings and lists), as
    ``payment_exposures`` rows: ``kind`` "cvv" (a field named cvv, cvc, cvv2, securityCode, ...
    holding 3-4 digits) or "track" (a field named track1/track2/trackData, ... holding track-1
    or track-2 data; its PAN's BIN and last four when present). ``where`` is
    ``<where>.<field path>``; the value itself is never in a row."""
    rows: list[dict[str, Any]] = []
    for path, field, value in _walk(doc, ""):
        name = _name(field)
        at = f"{where}.{path}" if where else path
        if name in _CVV_NAMES and _plausible_cvv(value):
            rows.append(_row(at, "cvv", None, None, False))
        elif name in _TRACK_NAMES:
            pan = _track_pan(value)
            if pan is not None:
                rows.append(_row(at, "track", pan, brand_of(pan), pan in TEST_CARDS))
    return rows


def scan_document(doc: Mapping[str, Any], where: str, allow_test_cards: bool = False) -> list[dict[str, Any]]:
    """Everything exposed in a document: :func:`find_sensitive_fields`, and card numbers
    (:func:`find_pans`) in any text or integer value, ``where`` being the field's path."""
    rows = find_sensitive_fields(doc, where)
    tracks = {row["where"] for row in rows if row["kind"] == "track"}
    for path, _field, value in _walk(doc, ""):
        at = f"{where}.{path}" if where else path
        if at in tracks:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            rows.extend(find_pans(value, allow_test_cards, at))
    return rows
