"""Gateway events (Stripe event objects) as ``payment_events`` rows, and what could not be used.

:func:`event_row` turns one event object - from the events API, a JSONL export or a flat CSV
export already shaped as one - into a row of :data:`opsreview.payments.models.EVENTS_SCHEMA`,
or says why not (``malformed``, ``unknown_type``, ``missing_amount``, ``float_amount``,
``future``): those are counted by :class:`Counts`, never raised. :func:`dedupe` keeps one row
per event id (the latest ``created``: deliveries repeat and arrive out of order).

What the rows never hold (PCI DSS v4.0 3.4.1): a full card number (any card-like value is
reduced to BIN + last four by :func:`card_parts`, text fields are masked with
:func:`opsreview.masking.masked`), a CVV, track data, an API key. Amounts are integer minor
units: a float or a fraction is refused (``float_amount``), never rounded.

Stripe's amounts are already in the currency's smallest unit, zero-decimal currencies (JPY,
KRW, ...) included: ``amount: 500, currency: "jpy"`` is 500 yen. :func:`to_minor` converts a
*major*-unit decimal (a flat export's ``12.34``) with the currency's exponent
(:func:`currency_exponent`), exactly, with :class:`decimal.Decimal`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from opsreview.masking import MASK, card_issuer_plausible, luhn_valid, masked

# Why an event gives no row (the payment_ingest counters of the same names).
REASONS = ("malformed", "unknown_type", "missing_amount", "float_amount", "future")
# An event this much after `now` is from the future (clocks of the gateway and of this host
# disagree by seconds, not minutes).
FUTURE_SKEW = timedelta(minutes=5)

# Currencies whose API amounts have no minor unit (Stripe's zero-decimal list), and those with
# three decimals. ISK, HUF and TWD are two-decimal in Stripe's API (its "special cases"),
# whatever ISO 4217 says, so they keep the default of 2.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_CURRENCY = re.compile(r"^[a-z]{3}$")

# Event type families the review uses; the object type each carries.
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("charge.dispute.", "dispute"),
    ("charge.refund.", "refund"),
    ("refund.", "refund"),
    ("charge.", "charge"),
    ("payment_intent.", "payment_intent"),
)
_OUTCOMES = frozenset({"authorized", "issuer_declined", "blocked", "manual_review", "invalid"})
# Failure codes of a charge that mean the issuer said no (when no `outcome` says so itself).
_ISSUER_CODES = frozenset(
    {
        "card_declined",
        "insufficient_funds",
        "expired_card",
        "incorrect_cvc",
        "incorrect_number",
        "authentication_required",
        "do_not_honor",
        "generic_decline",
    }
)
_THREE_DS = {
    "authenticated": "authenticated",
    "attempt_acknowledged": "attempt_acknowledged",
    "failed": "failed",
    "exempted": "authenticated",
    "not_supported": None,
    "processing_error": "failed",
}
_DIGITS = re.compile(r"\D")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


# -- amounts and currencies -------------------------------------------------------------


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of a currency's major unit, as Stripe's API counts them."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


class FloatAmount(ValueError):
    """An amount with a fraction where integer minor units are required."""


def minor_units(value: Any) -> int | None:
    """An amount in minor units as an int; None when absent. A float or a decimal with a
    fraction, or a string with a decimal point, raises :class:`FloatAmount`; anything else not a
    number raises ValueError. Integral JSON/BSON numbers (``1000.0``, as some writers store
    integers) are accepted exactly."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite amount")
        if not value.is_integer() or abs(value) >= 2**53:
            raise FloatAmount(repr(value))
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not a finite amount")
        if value != value.to_integral_value():
            raise FloatAmount(str(value))
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        try:
            Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {text[:20]!r}") from None
        raise FloatAmount(text[:20])  # "12.00" as minor units: a decimal point where none belongs
    raise ValueError(f"not an amount: {type(value).__name__}")


def to_minor(major: str | Decimal, currency: str) -> int:
    """A major-unit amount (``"12.34"`` USD) as minor units (1234), exactly. A fraction beyond
    the currency's exponent (``"12.345"`` USD, ``"500.5"`` JPY) raises :class:`FloatAmount`;
    text that is not a decimal number raises ValueError."""
    if isinstance(major, Decimal):
        number = major
    else:
        text = str(major).strip().replace("_", "")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError(f"not a decimal amount: {text[:20]!r}")
        number = Decimal(text)
    if not number.is_finite():
        raise ValueError("not a finite amount")
    scaled = number.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise FloatAmount(str(major))
    return int(scaled)


def _currency(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if _CURRENCY.match(value) else None


# -- cards ------------------------------------------------------------------------------


def card_parts(value: Any) -> tuple[str | None, str | None]:
    """A card-like value (a full number, spaced or dashed, or already masked as
    ``424242******4242``) reduced to (BIN, last four): the BIN from 13-19 digits or from a
    masked number showing its first six, the last four from four or more digits; never more
    than six digits of the front. Nothing else of the value survives."""
    if value is None:
        return None, None
    text = str(value)
    digits = _DIGITS.sub("", text)
    hidden = re.search(r"[*xX•#]", text) is not None
    if 13 <= len(digits) <= 19 and not hidden:
        return digits[:6], digits[-4:]
    tail = re.search(r"(\d{4})\D*$", text)
    head = re.match(r"^\D*(\d{6})", text) if hidden else None
    return (head.group(1) if head else None), (tail.group(1) if tail else None)


def _bin(value: Any) -> str | None:
    """The BIN from an `iin` field: its first six digits when it has six or more."""
    if value is None:
        return None
    digits = _DIGITS.sub("", str(value))
    return digits[:6] if len(digits) >= 6 else None


def _last4(value: Any) -> str | None:
    if value is None:
        return None
    digits = _DIGITS.sub("", str(value))
    return digits[-4:] if len(digits) >= 4 else None


# -- event objects ----------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """A timestamp: unix seconds (Stripe's ``created``), an ISO-8601 string, or a datetime
    (naive means UTC); None when it is none of them."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float | Decimal):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
                return datetime.fromtimestamp(float(text), UTC)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def object_type_of(event_type: str) -> str | None:
    """The object type an event type carries, None when the review does not use the type."""
    for prefix, kind in _FAMILIES:
        if event_type.startswith(prefix):
            return kind
    return None


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def get_path(obj: Any, dotted: str) -> Any:
    """The value at a dotted path (``payment.card.last4``), or None."""
    return _get(obj, *dotted.split("."))


def _id(value: Any) -> str | None:
    """An id, or the id of an expanded object; never free text."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, str) and _ID.match(value):
        return value
    return None


def text_field(value: Any, limit: int = 120) -> str | None:
    """A short text field as it may be stored: masked (secrets, cards), cut at ``limit``.

    Besides :func:`opsreview.masking.masked` (whose card pattern wants a word boundary, so as
    not to take ids for cards), any Luhn-valid run of 13-19 digits that starts as a card does
    keeps only its last four here, wherever it sits (``pay-4111111111111111``): a stored
    field never holds a card number."""
    if value is None or isinstance(value, Mapping | list):
        return None
    text = _scrub_cards(masked(str(value).strip()))
    return text[:limit] or None


_DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


def _scrub_cards(text: str) -> str:
    if len(text) < 13:
        return text

    def replace(match: re.Match[str]) -> str:
        digits = match.group(0)
        if card_issuer_plausible(digits) and luhn_valid(digits):
            return MASK + digits[-4:]
        return digits

    return _DIGIT_RUN.sub(replace, text)


def stable_id(obj: Any) -> str:
    """A stable id for an event that has none (a hash of its canonical JSON)."""
    canonical = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return "h_" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _card_details(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The card of a charge (payment_method_details.card), of a payment intent's latest charge
    when expanded, or of its last payment error's payment method."""
    for path in (
        ("payment_method_details", "card"),
        ("latest_charge", "payment_method_details", "card"),
        ("last_payment_error", "payment_method", "card"),
        ("last_payment_error", "source"),
        ("source",),
    ):
        card = _get(obj, *path)
        if isinstance(card, Mapping) and card:
            return card
    return {}


# PaymentIntent events whose `last_payment_error` is news: the failed confirmation itself. Any
# other PaymentIntent event (canceled, requires_action, processing, ...) may still carry the
# error of an earlier failure, which is not a new decline.
_PI_FAILURE_EVENTS = frozenset({"payment_intent.payment_failed"})
# The int64 range every integer column of the rows must fit (Arrow's int64).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _outcome(
    obj: Mapping[str, Any], kind: str, status: str | None, event_type: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """(outcome, decline_code, failure_code) of a payment intent or a charge.

    A charge's own ``outcome.type`` (authorized / issuer_declined / blocked / ...) wins over
    anything derived from codes: a Radar block stays ``blocked`` whatever its decline code.
    A PaymentIntent event gives a decline (and its decline and failure codes) only when it is
    ``payment_intent.payment_failed`` (``event_type`` None: any event, as before); other
    PaymentIntent events give ``authorized`` from their status, or nothing."""
    own = _get(obj, "outcome")
    outcome = own if isinstance(own, Mapping) else _get(obj, "latest_charge", "outcome")
    failure_event = kind == "charge" or event_type is None or event_type in _PI_FAILURE_EVENTS
    error = _get(obj, "last_payment_error") if kind == "payment_intent" and failure_event else None
    error = error if isinstance(error, Mapping) else {}
    if failure_event:
        failure_code = text_field(
            error.get("code") or obj.get("failure_code") or _get(obj, "latest_charge", "failure_code"), 60
        )
        decline_code = text_field(error.get("decline_code"), 60)
    else:
        failure_code = decline_code = None
    result: str | None = None
    if isinstance(outcome, Mapping):
        kind_value = outcome.get("type")
        result = kind_value if kind_value in _OUTCOMES else None
        if result not in (None, "authorized") and not failure_event:
            result = None  # an earlier charge's decline, seen again on a later PaymentIntent event
        if result not in (None, "authorized") and decline_code is None:
            decline_code = text_field(outcome.get("reason"), 60)
    if result is None and kind in ("payment_intent", "charge"):
        declined = decline_code is not None or failure_code in _ISSUER_CODES or error.get("type") == "card_error"
        if failure_event and declined and status not in ("succeeded", "requires_capture"):
            result = "issuer_declined"
        elif status in ("succeeded", "requires_capture") or (kind == "charge" and obj.get("paid") is True):
            result = "authorized"
    return result, decline_code, failure_code


def _int64(value: int | None) -> int | None:
    """``value`` when it fits int64; ValueError otherwise (the event is malformed)."""
    if value is not None and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("amount outside int64")
    return value


def event_row(event: Any, source: str, now: datetime, order_key: str) -> tuple[dict[str, Any] | None, str | None]:
    """One Stripe event object as a ``payment_events`` row, or (None, reason) with reason one of
    :data:`REASONS`. Never raises on bad input."""
    if not isinstance(event, Mapping):
        return None, "malformed"
    event_type = event.get("type")
    obj = _get(event, "data", "object")
    created = parse_time(event.get("created"))
    if not isinstance(event_type, str) or not event_type or not isinstance(obj, Mapping) or created is None:
        return None, "malformed"
    kind = object_type_of(event_type)
    if kind is None:
        return None, "unknown_type"
    if created > now + FUTURE_SKEW:
        return None, "future"
    try:
        amount = _int64(minor_units(obj.get("amount")))
        refunded = _int64(minor_units(obj.get("amount_refunded")))
    except FloatAmount:
        return None, "float_amount"
    except ValueError:
        return None, "malformed"
    if amount is None:
        return None, "missing_amount"
    currency = _currency(obj.get("currency"))
    if currency is None:
        return None, "malformed"
    event_id = _id(event.get("id")) or stable_id(event)
    status = text_field(obj.get("status"), 40)
    outcome, decline_code, failure_code = (
        _outcome(obj, kind, status, event_type) if kind in ("payment_intent", "charge") else (None, None, None)
    )
    card = _card_details(obj)
    # Stripe's public objects carry no BIN; an app that records it in metadata (`card_bin`) gives it
    card_bin = _bin(card.get("iin")) or _bin(_get(obj, "metadata", "card_bin"))
    card_last4 = _last4(card.get("last4"))
    if card.get("number") is not None:  # a full number where none belongs: keep BIN + last four only
        number_bin, number_last4 = card_parts(card.get("number"))
        card_bin, card_last4 = card_bin or number_bin, card_last4 or number_last4
    three_ds = _THREE_DS.get(str(_get(card, "three_d_secure", "result")))
    if three_ds is None and (status == "requires_action" or event_type == "payment_intent.requires_action"):
        three_ds = "required"
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get(order_key) is None:
        metadata = _get(obj, "latest_charge", "metadata")
    order = metadata.get(order_key) if isinstance(metadata, Mapping) else None
    if kind == "payment_intent":
        payment_intent = _id(obj.get("id"))
        charge = _id(obj.get("latest_charge"))
    elif kind == "charge":
        payment_intent = _id(obj.get("payment_intent"))
        charge = _id(obj.get("id"))
    else:
        payment_intent = _id(obj.get("payment_intent"))
        charge = _id(obj.get("charge"))
    customer = _id(obj.get("customer"))
    pending = event.get("pending_webhooks")
    if isinstance(pending, int) and not isinstance(pending, bool) and not 0 <= pending <= INT64_MAX:
        return None, "malformed"  # a negative count, or one Arrow's int64 cannot hold
    livemode = event.get("livemode")
    row: dict[str, Any] = {
        "ts": created,
        "source": source,
        "event_id": event_id,
        "type": event_type[:80],
        "object_type": kind,
        "object_id": _id(obj.get("id")),
        "payment_intent": payment_intent,
        "charge": charge,
        "order_id": text_field(order, 120),
        "customer": customer if customer and customer.startswith("cus_") else None,
        "amount": amount,
        "amount_refunded": refunded,
        "currency": currency,
        "status": status,
        "outcome": outcome,
        "decline_code": decline_code,
        "failure_code": failure_code,
        "card_brand": text_field(card.get("brand") or card.get("network"), 20),
        "card_country": text_field(card.get("country"), 2),
        "card_bin": card_bin,
        "card_last4": card_last4,
        "three_ds": three_ds,
        "idempotency_key": text_field(_get(event, "request", "idempotency_key"), 120),
        "livemode": livemode if isinstance(livemode, bool) else None,
        "pending_webhooks": pending if isinstance(pending, int) and not isinstance(pending, bool) else None,
        "api_version": text_field(event.get("api_version"), 20),
        "created": created,
    }
    return row, None


# -- counting and deduplication ---------------------------------------------------------


@dataclass
class Counts:
    """The ``payment_ingest`` counters of one location (a file, a collection, the API)."""

    location: str
    rows: int = 0
    duplicates: int = 0
    malformed: int = 0
    unknown_type: int = 0
    missing_amount: int = 0
    float_amount: int = 0
    future: int = 0
    mixed_currency: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    notes: list[str] = field(default_factory=list)
    _currencies: dict[str, str] = field(default_factory=dict, repr=False)

    def refuse(self, reason: str) -> None:
        """Count an event that gave no row (``reason`` one of :data:`REASONS`)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        setattr(self, reason, getattr(self, reason) + 1)

    def add(self, row: Mapping[str, Any] | None, reason: str | None) -> None:
        """Count what :func:`event_row` returned (a row is counted as read, and its currency
        checked against the other events of its payment)."""
        if row is None:
            self.refuse(reason or "malformed")
            return
        ts = row.get("ts")
        if isinstance(ts, datetime):
            self.oldest = ts if self.oldest is None or ts < self.oldest else self.oldest
            self.newest = ts if self.newest is None or ts > self.newest else self.newest
        self.rows += 1
        key = row.get("payment_intent") or row.get("charge")
        currency = row.get("currency")
        if key and currency:
            seen = self._currencies.setdefault(str(key), str(currency))
            if seen != currency:
                self.mixed_currency += 1

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def ingest_row(self, source: str, ts: datetime) -> dict[str, Any]:
        """The ``payment_ingest`` row (``rows`` after deduplication is the caller's to set)."""
        return {
            "ts": ts,
            "source": source,
            "location": self.location,
            "rows": self.rows,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "unknown_type": self.unknown_type,
            "missing_amount": self.missing_amount,
            "float_amount": self.float_amount,
            "future": self.future,
            "mixed_currency": self.mixed_currency,
            "oldest": self.oldest,
            "newest": self.newest,
            "note": "; ".join(self.notes) or None,
        }


def dedupe(rows: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One row per ``event_id``: the one with the latest ``created`` (on a tie, the one read
    last: a later delivery of the same event). Returns the rows sorted by (created, event_id)
    and how many were dropped."""
    kept: dict[str, dict[str, Any]] = {}
    total = 0
    for row in rows:
        total += 1
        key = str(row.get("event_id"))
        current = kept.get(key)
        if current is None or _when(current) <= _when(row):
            kept[key] = dict(row)
    ordered = sorted(kept.values(), key=lambda r: (_when(r), str(r.get("event_id"))))
    return ordered, total - len(kept)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(row: Mapping[str, Any]) -> datetime:
    value = row.get("created") or row.get("ts")
    return value if isinstance(value, datetime) else _EPOCH


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
