"""Demo data of the payments area: a week and a day of a shop's Stripe payments, its webhook
endpoint's log and its orders.

`write_demo` writes, deterministically for the generator it is handed, under ``out/payments/``:

- ``events/events-<UTC date>.jsonl``: Stripe event objects (API version ``2024-06-20``), one per
  line, in the order the shop's webhook endpoint received them (the export of a webhook stream):
  ``payment_intent.created/processing/requires_action/succeeded/payment_failed/canceled``,
  ``charge.succeeded/failed/refunded`` and ``charge.dispute.created``. Events that Stripe
  delivered twice are there twice (same id, same bytes) and delivery lag makes some arrive before
  older ones. A file holds the events *created* on its UTC day. About 1,800-2,800 PaymentIntents
  a local day (weekends busier), 80% EUR, 12% USD, 8% GBP, on a two-peak daily curve;
  ~5% never confirmed, ~8% ask for 3-D Secure (15% of those abandoned), ~1% blocked by Radar,
  ~8% of authorization attempts declined by the issuer (insufficient_funds, generic_decline,
  do_not_honor, expired_card, incorrect_cvc); declined customers retry (another card, or the same
  one); the app cancels a PaymentIntent after an hour without success; ~2% of successful charges
  are refunded later (a fifth of them partly) and ~0.2% disputed.
  ``metadata`` holds the app's ``order_id`` and, once a card is used, ``card_bin`` (the card's
  first six digits): the demo app's own metadata, since Stripe's public objects carry no BIN.
  Real objects' ``client_secret`` is left out (it is a secret of the customer's browser).
- ``webhooks/webhooks-<UTC date>.log``: the app's webhook endpoint's log, one JSON line per
  delivery: ``{"timestamp", "level", "message": "stripe webhook", "event_id", "type", "outcome",
  "http_status", "event_created", "lag_ms"}``; outcomes ``handled`` (200), ``duplicate`` (200, a
  repeated delivery), ``signature_failed`` and ``stale`` (400, forged or replayed requests, a few a
  day), ``error`` (500, rare; Stripe retries after about a minute, then with growing back-off).
  Lines of other messages may appear (they carry no ``outcome``).
- ``orders/orders.jsonl``: the app's order documents as they stand at the end of the review day
  (``_id, status, total, currency, paymentIntentId, userId, updatedAt``); the app updates an
  order when it handles the webhook event.

Planted on the review day (the last of ``days``) and returned as ground truth under
``"payments"``, computed from the written data:

- ``decline_spike``: from 20:00 to 20:55 local the issuer of BIN 414709 (Visa, DE, about 14% of
  the traffic) answers ``do_not_honor`` to every authorization: declines with
  ``metadata.card_bin`` 414709 (customers retry the same card, then another);
- ``webhook_outage``: from 13:10 to 13:50 local the endpoint answers every delivery with 500
  (``outcome: error``); Stripe retries each event (after ~1 min, then 2, 4, 8 ... min) until it is
  handled after the outage, so every such event id is in the log at least twice; their event
  objects carry ``pending_webhooks: 1``;
- ``stuck_payments``: two PaymentIntents that went ``processing`` in the afternoon and never
  moved again (their orders ``pending``);
- ``double_charge``: one order paid by two succeeded PaymentIntents created a minute apart with
  different idempotency keys;
- ``amount_mismatch``: an order ``paid`` with total 4999 whose succeeded PaymentIntent is 4599 EUR;
- ``pan_in_log``: one error line of the review day's webhook log quotes a full, Luhn-valid card
  number (not a documented test card). The number is only in that file: the ground truth holds
  its BIN and last four.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

API_VERSION = "2024-06-20"
ACCOUNT_TAG = "Qp4LkdIwHu7ix"  # Stripe ids of one account share a middle part

CURRENCIES = (("eur", 0.80), ("usd", 0.12), ("gbp", 0.08))
EUR_COUNTRIES = (("DE", 45), ("FR", 12), ("NL", 10), ("AT", 8), ("IT", 8), ("ES", 7), ("BE", 5), ("IE", 5))
HOME_COUNTRY = {"usd": "US", "gbp": "GB"}
BRANDS = (("visa", 55), ("mastercard", 38), ("amex", 7))
FUNDING = (("credit", 55), ("debit", 40), ("prepaid", 5))
# Documented test card prefixes (Stripe, Visa/Mastercard samples): never a demo BIN.
TEST_PREFIXES = ("4000", "4242", "4111", "4012", "5555", "5200", "5105", "3782", "3714", "2223")

DECLINES = (
    ("insufficient_funds", 40, "card_declined", "Your card has insufficient funds."),
    ("generic_decline", 25, "card_declined", "Your card was declined."),
    ("do_not_honor", 15, "card_declined", "Your card was declined."),
    ("expired_card", 10, "expired_card", "Your card has expired."),
    ("incorrect_cvc", 10, "incorrect_cvc", "Your card's security code is incorrect."),
)
DECLINE_INFO = {code: (error_code, message) for code, _, error_code, message in DECLINES}

UNCONFIRMED = 0.05  # PaymentIntents never confirmed (checkout left before paying)
THREE_DS = 0.095  # confirms that ask for 3-D Secure
THREE_DS_ABANDON = 0.15
BLOCKED = 0.01  # Radar blocks
ISSUER_DECLINE = 0.08  # of the attempts sent to the issuer
PROCESSING = 0.02  # successful card payments that show `processing` first
RETRY_OTHER_CARD = 0.40  # after a decline
REFUND = 0.02
PARTIAL_REFUND = 0.2
DISPUTE = 0.002
CANCEL_AFTER_S = 3600.0  # the app cancels a PaymentIntent without success after an hour
DUPLICATE_DELIVERY = 0.004
ERROR_DELIVERY = 0.0004
SIGNATURE_FAILED_PER_DAY = 2.0
STALE_PER_DAY = 0.5

SPIKE: dict[str, Any] = {
    "bin": "414709",
    "brand": "visa",
    "country": "DE",
    "funding": "credit",
    "share": 0.14,
    "from": "20:00",
    "to": "20:55",
    "same_card_retry": 0.65,
}
OUTAGE = ("13:10", "13:50")
STUCK_LOCAL = ("16:42", "18:27")
DOUBLE_CHARGE_LOCAL = "11:15"
MISMATCH_LOCAL = "10:03"
MISMATCH = (4999, 4599)
PAN_LOCAL = "15:37"
PAN_BINS = ("455673", "492181", "417631", "448590", "465943")  # real-looking Visa BINs, not test cards

_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# -- random draws ---------------------------------------------------------------------------------


class _Rand:
    """Scalar draws from buffers filled by one numpy generator (fast and deterministic)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._u: list[float] = []
        self._ui = 0
        self._n: list[float] = []
        self._ni = 0
        self._chars = ""
        self._ci = 0
        self._hex = ""
        self._hi = 0
        self._digits = ""
        self._di = 0

    def u(self) -> float:
        if self._ui >= len(self._u):
            self._u, self._ui = self.rng.random(1 << 16).tolist(), 0
        value = self._u[self._ui]
        self._ui += 1
        return value

    def normal(self) -> float:
        if self._ni >= len(self._n):
            self._n, self._ni = self.rng.standard_normal(1 << 14).tolist(), 0
        value = self._n[self._ni]
        self._ni += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.u()

    def below(self, n: int) -> int:
        return min(int(self.u() * n), n - 1)

    def chance(self, p: float) -> bool:
        return self.u() < p

    def poisson(self, lam: float) -> int:
        limit, k, prod = math.exp(-lam), 0, self.u()
        while prod > limit:
            k += 1
            prod *= self.u()
        return k

    def token(self, k: int) -> str:
        if self._ci + k > len(self._chars):
            self._chars, self._ci = _ALNUM[self.rng.integers(0, 62, size=1 << 18)].tobytes().decode(), 0
        value = self._chars[self._ci : self._ci + k]
        self._ci += k
        return value

    def hex(self, k: int) -> str:
        if self._hi + k > len(self._hex):
            self._hex, self._hi = _HEX[self.rng.integers(0, 16, size=1 << 16)].tobytes().decode(), 0
        value = self._hex[self._hi : self._hi + k]
        self._hi += k
        return value

    def digits(self, k: int) -> str:
        if self._di + k > len(self._digits):
            self._digits, self._di = _DIGITS[self.rng.integers(0, 10, size=1 << 16)].tobytes().decode(), 0
        value = self._digits[self._di : self._di + k]
        self._di += k
        return value

    def uuid4(self) -> str:
        h = self.hex(30)
        return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[self.below(4)]}{h[15:18]}-{h[18:30]}"


class _Table:
    """A weighted choice among items."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = np.cumsum(np.asarray(weights, dtype=float)).tolist()

    def pick(self, r: _Rand) -> Any:
        return self.items[min(bisect.bisect_right(self.cum, r.u() * self.cum[-1]), len(self.items) - 1)]


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload`` + digit Luhn-valid."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


# -- cards, customers --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bin:
    bin: str
    brand: str
    country: str
    funding: str


@dataclass(frozen=True)
class _Card:
    bin: _Bin
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    payment_method: str


def _new_bin(r: _Rand, brand: str, taken: set[str]) -> str:
    while True:
        if brand == "visa":
            value = "4" + r.digits(5)
        elif brand == "mastercard":
            value = (f"5{1 + r.below(5)}" + r.digits(4)) if r.chance(0.8) else (f"2{2 + r.below(6)}" + r.digits(4))
        else:
            value = ("34" if r.chance(0.4) else "37") + r.digits(4)
        if value not in taken and not value.startswith(TEST_PREFIXES) and not value.startswith(SPIKE["bin"][:4]):
            taken.add(value)
            return value


def _bin_tables(r: _Rand) -> dict[str, _Table]:
    """Per currency, the BINs its cards come from (a few cross-border), Zipf-weighted."""
    taken: set[str] = set()
    brands = _Table([b for b, _ in BRANDS], [w for _, w in BRANDS])
    funding = _Table([f for f, _ in FUNDING], [w for _, w in FUNDING])
    by_country: dict[str, list[_Bin]] = {}
    for country in [c for c, _ in EUR_COUNTRIES] + ["US", "GB", "CH"]:
        bins = []
        for _ in range(14 if country in ("DE", "US", "GB") else 8):
            brand = brands.pick(r)
            bins.append(_Bin(_new_bin(r, brand, taken), brand, country, funding.pick(r)))
        by_country[country] = bins
    spike = _Bin(SPIKE["bin"], SPIKE["brand"], SPIKE["country"], SPIKE["funding"])
    tables: dict[str, _Table] = {}
    for currency, _ in CURRENCIES:
        items: list[_Bin] = []
        weights: list[float] = []
        countries = EUR_COUNTRIES if currency == "eur" else ((HOME_COUNTRY[currency], 100),)
        total = sum(w for _, w in countries)
        for country, share in countries:
            bins = by_country[country]
            zipf = [1.0 / (i + 1) for i in range(len(bins))]
            for b, z in zip(bins, zipf, strict=True):
                items.append(b)
                weights.append(0.97 * share / total * z / sum(zipf))
        for country in ("US", "GB", "CH"):  # travellers and foreign cards
            if country != HOME_COUNTRY.get(currency):
                for b in by_country[country][:3]:
                    items.append(b)
                    weights.append(0.01)
        if currency == "eur":  # the planted issuer: a big German bank, ~8% of all traffic
            items.append(spike)
            weights.append(sum(weights) * SPIKE["share"] / 0.8 / (1 - SPIKE["share"] / 0.8))
        tables[currency] = _Table(items, weights)
    return tables


def _card(r: _Rand, b: _Bin, review_year: int) -> _Card:
    return _Card(
        b,
        r.digits(4),
        1 + r.below(12),
        review_year + 1 + r.below(5),
        r.token(16),
        f"pm_1{r.token(9)}{ACCOUNT_TAG}{r.token(1)}",
    )


# -- one PaymentIntent's life ----------------------------------------------------------------------


@dataclass
class _Ev:
    t: float  # the moment (unix s, fractional); `created` is its floor
    type: str
    obj: dict[str, Any]
    request: tuple[str | None, str | None]
    previous: dict[str, Any] | None = None
    id: str = ""
    pending: int = 0
    first_failed: bool = False


@dataclass
class _Pay:
    pi: str
    order: str
    user: str
    customer: str
    amount: int
    currency: str
    created: float
    order_total: int
    events: list[_Ev] = field(default_factory=list)
    status: str = "requires_payment_method"
    latest_charge: str | None = None
    last_error: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    payment_method: str | None = None
    next_action: dict[str, Any] | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    amount_received: int = 0
    charges: list[dict[str, Any]] = field(default_factory=list)


def _pi_obj(p: _Pay) -> dict[str, Any]:
    return {
        "id": p.pi,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_capturable": 0,
        "amount_received": p.amount_received,
        "canceled_at": p.canceled_at,
        "cancellation_reason": p.cancellation_reason,
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "created": int(p.created),
        "currency": p.currency,
        "customer": p.customer,
        "description": f"Order {p.order}",
        "last_payment_error": dict(p.last_error) if p.last_error else None,
        "latest_charge": p.latest_charge,
        "livemode": True,
        "metadata": dict(p.metadata),
        "next_action": p.next_action,
        "payment_method": p.payment_method,
        "payment_method_types": ["card"],
        "processing": None,
        "status": p.status,
    }


class _Shop:
    def __init__(self, r: _Rand, end: float, review_year: int) -> None:
        self.r = r
        self.end = end
        self.review_year = review_year
        self.bins = _bin_tables(r)
        self.currencies = _Table([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])
        self.declines = _Table([d[0] for d in DECLINES], [d[1] for d in DECLINES])
        self.users = [(self._object_id(), f"cus_{r.token(14)}") for _ in range(12_000)]
        self.user_weights = _Table(range(len(self.users)), [1.0 / (i + 10) ** 0.6 for i in range(len(self.users))])
        self.pays: list[_Pay] = []
        self.spike: tuple[float, float] = (math.inf, math.inf)

    def _object_id(self) -> str:
        return f"{int(1_680_000_000 + self.r.u() * 90_000_000):08x}{self.r.hex(16)}"

    def pi_id(self) -> str:
        return f"pi_3{self.r.token(6)}{ACCOUNT_TAG}{self.r.token(4)}"

    def charge_id(self) -> str:
        return f"ch_3{self.r.token(6)}{ACCOUNT_TAG}{self.r.token(4)}"

    def request(self, key: bool = True) -> tuple[str | None, str | None]:
        return f"req_{self.r.token(14)}", (self.r.uuid4() if key else None)

    def amount(self, currency: str) -> int:
        major = min(max(math.exp(3.55 + 0.75 * self.r.normal()), 4.0), 900.0)
        cents = round(major) * 100 - (1 if self.r.chance(0.7) else 0)
        if major < 50 and self.r.chance(0.5):
            cents += 495 if currency == "eur" else 499
        return int(cents)

    def new_pay(
        self, t: float, currency: str | None = None, amount: int | None = None, order: str | None = None
    ) -> _Pay:
        r = self.r
        currency = currency or self.currencies.pick(r)
        user, customer = self.users[self.user_weights.pick(r)]
        amount = amount if amount is not None else self.amount(currency)
        order = order or f"ord_{r.token(16)}"
        p = _Pay(self.pi_id(), order, user, customer, amount, currency, t, amount)
        p.metadata = {"order_id": order}
        self.add(p, t, "payment_intent.created", self.request())
        self.pays.append(p)
        return p

    def add(
        self,
        p: _Pay,
        t: float,
        etype: str,
        request: tuple[str | None, str | None],
        obj: dict[str, Any] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> bool:
        if t >= self.end:
            return False
        p.events.append(_Ev(t, etype, obj if obj is not None else _pi_obj(p), request, previous))
        return True

    def card(self, currency: str) -> _Card:
        return _card(self.r, self.bins[currency].pick(self.r), self.review_year)

    # A customer's checkout: confirm, maybe 3DS, the issuer's answer, retries, cancellation.
    def checkout(self, p: _Pay) -> None:
        r = self.r
        if r.chance(UNCONFIRMED):
            self.cancel_later(p, p.created)
            return
        t = p.created + r.uniform(15, 240)
        card = self.card(p.currency)
        same = False
        for attempt in range(4):
            if attempt and not same:
                card = self.card(p.currency)
            result, t = self.attempt(p, t, card, first=attempt == 0)
            if result != "declined":
                return
            if card.bin.bin == SPIKE["bin"] and self.in_spike(t) and r.chance(SPIKE["same_card_retry"]):
                same, t = True, t + r.uniform(20, 90)  # the bank's customers try their card again
            elif r.chance(RETRY_OTHER_CARD):
                same, t = False, t + r.uniform(40, 400)
            else:
                break
        self.cancel_later(p, t)

    def in_spike(self, t: float) -> bool:
        return self.spike[0] <= t < self.spike[1]

    def attempt(self, p: _Pay, t: float, card: _Card, first: bool) -> tuple[str, float]:
        """One confirmation with ``card``: succeeded | declined | abandoned (3DS) | over (past the end)."""
        r = self.r
        p.payment_method = card.payment_method
        p.metadata = {"order_id": p.order, "card_bin": card.bin.bin}
        p.last_error = None  # a new confirmation clears the previous attempt's error
        confirm = self.request(key=False)
        three_ds: dict[str, Any] | None = None
        if card.bin.country not in ("US",) and r.chance(THREE_DS * (1.0 if first else 0.5)):
            p.status, p.next_action, p.last_error = "requires_action", {"type": "use_stripe_sdk"}, None
            if not self.add(p, t, "payment_intent.requires_action", confirm):
                return "over", t
            if r.chance(THREE_DS_ABANDON):
                self.cancel_later(p, t)
                return "abandoned", t
            t += r.uniform(15, 120)
            confirm = (None, None)  # completed in the issuer's challenge, not by an API request
            p.next_action = None
            three_ds = {
                "authentication_flow": "challenge",
                "electronic_commerce_indicator": "05" if card.bin.brand == "visa" else "02",
                "result": "authenticated",
                "result_reason": None,
                "transaction_id": r.uuid4(),
                "version": "2.2.0",
            }
        if r.chance(BLOCKED):
            outcome, code = "blocked", "fraudulent"
        elif self.in_spike(t) and card.bin.bin == SPIKE["bin"]:
            outcome, code = "issuer_declined", "do_not_honor"
        elif r.chance(ISSUER_DECLINE):
            outcome, code = "issuer_declined", self.declines.pick(r)
        else:
            outcome, code = "authorized", None
        if outcome == "authorized" and r.chance(PROCESSING):
            p.status = "processing"
            if not self.add(p, t, "payment_intent.processing", confirm):
                return "over", t
            t += r.uniform(2, 25)
            confirm = (None, None)
        charge = self.charge(p, t, card, outcome, code, three_ds)
        p.latest_charge = charge["id"]
        if outcome == "authorized":
            p.status, p.amount_received, p.last_error = "succeeded", p.amount, None
            if not self.add(p, t, "charge.succeeded", confirm, charge):
                return "over", t
            self.add(p, t + r.uniform(0.05, 0.8), "payment_intent.succeeded", confirm)
            self.after_success(p, t, charge)
            return "succeeded", t
        error_code, message = DECLINE_INFO.get(code or "", ("card_declined", "Your card was declined."))
        p.status = "requires_payment_method"
        p.last_error = {
            "charge": charge["id"],
            "code": error_code,
            "decline_code": code,
            "message": message,
            "type": "card_error",
        }
        if not self.add(p, t, "charge.failed", confirm, charge):
            return "over", t
        self.add(p, t + r.uniform(0.05, 0.8), "payment_intent.payment_failed", confirm)
        return "declined", t

    def charge(
        self, p: _Pay, t: float, card: _Card, outcome: str, code: str | None, three_ds: dict[str, Any] | None
    ) -> dict[str, Any]:
        r = self.r
        ok = outcome == "authorized"
        if outcome == "authorized":
            result: dict[str, Any] = {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": 3 + r.below(55),
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        elif outcome == "blocked":
            result = {
                "network_status": "not_sent_to_network",
                "reason": "highest_risk_level",
                "risk_level": "highest",
                "risk_score": 76 + r.below(24),
                "seller_message": "Stripe blocked this payment as too risky.",
                "type": "blocked",
            }
        else:
            result = {
                "network_status": "declined_by_network",
                "reason": code,
                "risk_level": "normal",
                "risk_score": 5 + r.below(60),
                "seller_message": (
                    "The bank did not return any further details with this decline."
                    if code == "generic_decline"
                    else f"The bank returned the decline code `{code}`."
                ),
                "type": "issuer_declined",
            }
        error_code, message = DECLINE_INFO.get(code or "", ("card_declined", "Your card was declined."))
        charge: dict[str, Any] = {
            "id": self.charge_id(),
            "object": "charge",
            "amount": p.amount,
            "amount_captured": p.amount if ok else 0,
            "amount_refunded": 0,
            "balance_transaction": f"txn_3{r.token(6)}{ACCOUNT_TAG}{r.token(4)}" if ok else None,
            "captured": ok,
            "created": int(t),
            "currency": p.currency,
            "customer": p.customer,
            "description": f"Order {p.order}",
            "disputed": False,
            "failure_code": None if ok else error_code,
            "failure_message": None if ok else message,
            "livemode": True,
            "metadata": dict(p.metadata),
            "outcome": result,
            "paid": ok,
            "payment_intent": p.pi,
            "payment_method": card.payment_method,
            "payment_method_details": {
                "card": {
                    "brand": card.bin.brand,
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "fail" if code == "incorrect_cvc" else "pass",
                    },
                    "country": card.bin.country,
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "fingerprint": card.fingerprint,
                    "funding": card.bin.funding,
                    "last4": card.last4,
                    "network": card.bin.brand,
                    "three_d_secure": three_ds,
                    "wallet": None,
                },
                "type": "card",
            },
            "refunded": False,
            "status": "succeeded" if ok else "failed",
        }
        p.charges.append(charge)
        return charge

    def after_success(self, p: _Pay, t: float, charge: dict[str, Any]) -> None:
        r = self.r
        if r.chance(REFUND):
            when = t + math.exp(r.uniform(math.log(1800), math.log(4 * 86_400)))
            refunded = p.amount if not r.chance(PARTIAL_REFUND) else max(100, (p.amount // 200) * 100)
            after = dict(charge, amount_refunded=refunded, refunded=refunded == p.amount)
            self.add(p, when, "charge.refunded", self.request(), after, {"amount_refunded": 0, "refunded": False})
        elif r.chance(DISPUTE / (1 - REFUND)):
            when = t + r.uniform(86_400, 6 * 86_400)
            due = int(when) + 8 * 86_400
            dispute = {
                "id": f"dp_1{r.token(6)}{ACCOUNT_TAG}{r.token(4)}",
                "object": "dispute",
                "amount": p.amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": int(when),
                "currency": p.currency,
                "evidence_details": {"due_by": due, "has_evidence": False, "past_due": False, "submission_count": 0},
                "is_charge_refundable": False,
                "livemode": True,
                "metadata": {},
                "payment_intent": p.pi,
                "reason": _Table(
                    ["fraudulent", "product_not_received", "subscription_canceled", "duplicate"], [5, 3, 1, 1]
                ).pick(r),
                "status": "needs_response",
            }
            self.add(p, when, "charge.dispute.created", (None, None), dispute)

    def cancel_later(self, p: _Pay, t: float) -> None:
        when = t + CANCEL_AFTER_S + self.r.uniform(0, 300)
        if when < self.end:
            p.status, p.next_action = "canceled", None
            p.canceled_at, p.cancellation_reason = int(when), "abandoned"
            self.add(p, when, "payment_intent.canceled", self.request())


# -- days, deliveries, files --------------------------------------------------------------------------


def _local(day: dt.date, hhmm: str, tz: ZoneInfo) -> float:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tz).timestamp()


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


_DAY_NAMES: dict[int, str] = {}


def _day_name(day: int) -> str:
    """The UTC date of a day number since the epoch, as YYYY-MM-DD."""
    name = _DAY_NAMES.get(day)
    if name is None:
        name = _DAY_NAMES[day] = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
    return name


def _utc_day(t: float) -> str:
    return _day_name(int(t) // 86_400)


def _stamp(t: float) -> str:
    """ISO-8601 UTC with milliseconds, as the app's logger writes it."""
    ms = int(round(t * 1000))
    secs, frac = divmod(ms, 1000)
    day, rest = divmod(secs, 86_400)
    hour, rest = divmod(rest, 3600)
    return f"{_day_name(day)}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{frac:03d}Z"


def _day_times(rng: np.random.Generator, day: dt.date, tz: ZoneInfo, n: int) -> list[float]:
    """n creation times over one local day: quiet nights, a lunch peak and a larger evening peak."""
    start = dt.datetime.combine(day, dt.time(), tz).timestamp()
    length = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).timestamp() - start
    minutes = np.arange(int(length // 60))
    hours = minutes / 60.0
    curve = 0.12 + 0.8 * np.exp(-((hours - 12.5) ** 2) / 6.0) + np.exp(-((hours - 20.3) ** 2) / 5.0)
    curve += 0.35 * np.exp(-((hours - 16.0) ** 2) / 8.0)
    picked = rng.choice(minutes, size=n, p=curve / curve.sum())
    seconds = np.sort(picked * 60.0 + rng.random(n) * 60.0)
    return (start + seconds).tolist()


@dataclass
class _Delivery:
    t: float  # when the app logged it
    event: _Ev | None
    outcome: str
    status: int
    level: str
    event_id: str = ""
    etype: str = ""
    created: int = 0
    message: str = "stripe webhook"
    extra: dict[str, Any] | None = None


def _deliver(r: _Rand, events: list[_Ev], outage: tuple[float, float]) -> list[_Delivery]:
    out: list[_Delivery] = []
    for ev in events:
        t = ev.t + math.exp(r.uniform(math.log(0.2), math.log(3.0)))
        retry = 0
        while outage[0] <= t < outage[1] or r.chance(ERROR_DELIVERY):
            if retry == 0:
                ev.first_failed, ev.pending = True, 1
            out.append(_Delivery(t + r.uniform(0.004, 0.03), ev, "error", 500, "error"))
            t += 60.0 * 2**retry * r.uniform(0.9, 1.25)
            retry += 1
        done = t + r.uniform(0.008, 0.09)
        out.append(_Delivery(done, ev, "handled", 200, "info"))
        if r.chance(DUPLICATE_DELIVERY):
            again = done + r.uniform(5, 240)
            if not outage[0] <= again < outage[1]:
                out.append(_Delivery(again + r.uniform(0.003, 0.02), ev, "duplicate", 200, "info"))
    return out


def _log_line(d: _Delivery) -> bytes:
    if d.event is not None:
        d.event_id, d.etype, d.created = d.event.id, d.event.type, int(d.event.t)
    line: dict[str, Any] = {"timestamp": _stamp(d.t), "level": d.level, "message": d.message}
    if d.extra is not None:
        line.update(d.extra)
        return orjson.dumps(line)
    line |= {
        "event_id": d.event_id,
        "type": d.etype,
        "outcome": d.outcome,
        "http_status": d.status,
        "event_created": d.created,
        "lag_ms": int(round(d.t * 1000)) - d.created * 1000,
    }
    return orjson.dumps(line)


def _event_doc(ev: _Ev) -> dict[str, Any]:
    data: dict[str, Any] = {"object": ev.obj}
    if ev.previous is not None:
        data["previous_attributes"] = ev.previous
    return {
        "id": ev.id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(ev.t),
        "data": data,
        "livemode": True,
        "pending_webhooks": ev.pending,
        "request": {"id": ev.request[0], "idempotency_key": ev.request[1]},
        "type": ev.type,
    }


def _clear(root: Path) -> None:
    for child in ("events", "webhooks", "orders"):
        target = root / child
        if target.exists():
            for path in sorted(target.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            target.rmdir()


def _pan(r: _Rand) -> str:
    while True:
        bin_ = PAN_BINS[r.below(len(PAN_BINS))]
        payload = bin_ + r.digits(9)
        number = payload + luhn_check_digit(payload)
        if not number.startswith(TEST_PREFIXES):
            return number


def write_demo(out: Path, days: list[dt.date], tz: ZoneInfo, rng: np.random.Generator) -> dict[str, Any]:
    """Write the payments area's demo files under ``out/payments`` and return its ground truth.

    ``days`` are consecutive local days of ``tz``; the last is the review day. The same ``rng``
    state gives the same bytes.
    """
    if not days:
        raise ValueError("write_demo needs at least one day")
    review = days[-1]
    root = out / "payments"
    _clear(root)
    r = _Rand(rng)
    end = dt.datetime.combine(review + dt.timedelta(days=1), dt.time(), tz).timestamp()
    shop = _Shop(r, end, review.year)
    shop.spike = (_local(review, SPIKE["from"], tz), _local(review, SPIKE["to"], tz))
    outage = (_local(review, OUTAGE[0], tz), _local(review, OUTAGE[1], tz))

    for day in days:
        weekend = day.weekday() >= 5
        n = int(rng.integers(1_800, 2_500)) + (300 if weekend else 0)
        for t in _day_times(rng, day, tz, n):
            shop.checkout(shop.new_pay(t))

    # Planted: two payments stuck in `processing`.
    stuck: list[_Pay] = []
    for hhmm in STUCK_LOCAL:
        t = _local(review, hhmm, tz) + r.uniform(0, 50)
        p = shop.new_pay(t, currency="eur")
        card = shop.card("eur")
        p.payment_method = card.payment_method
        p.metadata = {"order_id": p.order, "card_bin": card.bin.bin}
        p.status = "processing"
        shop.add(p, t + r.uniform(30, 150), "payment_intent.processing", shop.request(key=False))
        stuck.append(p)
    # Planted: one order paid twice (the customer clicked "pay" again a minute later).
    t = _local(review, DOUBLE_CHARGE_LOCAL, tz) + r.uniform(0, 50)
    first = shop.new_pay(t, currency="eur")
    second = shop.new_pay(t + r.uniform(55, 70), currency="eur", amount=first.amount, order=first.order)
    card = shop.card("eur")
    _pay_now(shop, first, first.created + r.uniform(8, 20), card)
    _pay_now(shop, second, second.created + r.uniform(8, 20), card)
    # Planted: an order of 4999 paid with 4599.
    t = _local(review, MISMATCH_LOCAL, tz) + r.uniform(0, 50)
    mismatch = shop.new_pay(t, currency="eur", amount=MISMATCH[1])
    mismatch.order_total = MISMATCH[0]
    _pay_now(shop, mismatch, t + r.uniform(20, 90), shop.card("eur"))

    # Event ids in the order events happened (ties: the order they were made).
    events = sorted((ev for p in shop.pays for ev in p.events), key=lambda e: e.t)
    for ev in events:
        ev.id = f"evt_3{r.token(6)}{ACCOUNT_TAG}{r.token(4)}"
    deliveries = _deliver(r, events, outage)
    deliveries += _noise(r, events, days, tz, end, outage)
    pan = _pan(r)
    pan_t = _local(review, PAN_LOCAL, tz) + r.uniform(0, 59)
    near = min((ev for ev in events if ev.t <= pan_t and ev.type == "charge.failed"), key=lambda e: pan_t - e.t)
    deliveries.append(
        _Delivery(
            pan_t,
            None,
            "",
            0,
            "error",
            message=(
                f"stripe webhook: order {near.obj['metadata']['order_id']} update failed: "
                f'CardError: Your card was declined. (card "{pan}", payment_intent {near.obj["payment_intent"]})'
            ),
            extra={"event_id": near.id, "type": near.type},
        )
    )
    deliveries.sort(key=lambda d: d.t)

    # Files: the events as they arrived (2xx deliveries), by the UTC day they were created.
    by_file: dict[str, list[bytes]] = {}
    docs: dict[str, bytes] = {}
    for d in deliveries:
        if d.event is not None and d.status == 200:
            ev = d.event
            doc = docs.get(ev.id)
            if doc is None:
                doc = docs[ev.id] = orjson.dumps(_event_doc(ev))
            by_file.setdefault(_utc_day(ev.t), []).append(doc)
    (root / "events").mkdir(parents=True, exist_ok=True)
    for day_name, lines in sorted(by_file.items()):
        (root / "events" / f"events-{day_name}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    logs: dict[str, list[bytes]] = {}
    for d in deliveries:
        logs.setdefault(_utc_day(d.t), []).append(_log_line(d))
    (root / "webhooks").mkdir(parents=True, exist_ok=True)
    for day_name, lines in sorted(logs.items()):
        (root / "webhooks" / f"webhooks-{day_name}.log").write_bytes(b"\n".join(lines) + b"\n")
    _write_orders(root / "orders" / "orders.jsonl", shop, deliveries, end)

    spike_declines = sum(
        1
        for ev in events
        if ev.type == "charge.failed"
        and ev.obj["outcome"]["reason"] == "do_not_honor"
        and ev.obj["metadata"].get("card_bin", "").startswith(SPIKE["bin"])
        and shop.spike[0] <= int(ev.t) < shop.spike[1]
    )
    failed = [d for d in deliveries if d.status == 500 and outage[0] <= d.t < outage[1]]
    return {
        "payments": {
            "decline_spike": {
                "decline_code": "do_not_honor",
                "card_bin_prefix": SPIKE["bin"],
                "from": _iso(shop.spike[0]),
                "to": _iso(shop.spike[1]),
                "declines": spike_declines,
            },
            "webhook_outage": {
                "from": _iso(outage[0]),
                "to": _iso(outage[1]),
                "failed_deliveries": len(failed),
                "retried_events": len({d.event_id for d in failed}),
            },
            "stuck_payments": [p.pi for p in stuck],
            "double_charge": {"order_id": first.order, "payment_intents": [first.pi, second.pi]},
            "amount_mismatch": {
                "order_id": mismatch.order,
                "order_amount": MISMATCH[0],
                "paid_amount": MISMATCH[1],
                "currency": "eur",
            },
            "pan_in_log": {
                "file": f"payments/webhooks/webhooks-{_utc_day(pan_t)}.log",
                "card_bin": pan[:6],
                "card_last4": pan[-4:],
            },
        }
    }


def _pay_now(shop: _Shop, p: _Pay, t: float, card: _Card) -> None:
    """A planted payment that goes straight through (no 3DS, authorized, never refunded)."""
    p.payment_method = card.payment_method
    p.metadata = {"order_id": p.order, "card_bin": card.bin.bin}
    confirm = shop.request(key=False)
    charge = shop.charge(p, t, card, "authorized", None, None)
    p.latest_charge, p.status, p.amount_received, p.last_error = charge["id"], "succeeded", p.amount, None
    shop.add(p, t, "charge.succeeded", confirm, charge)
    shop.add(p, t + shop.r.uniform(0.05, 0.8), "payment_intent.succeeded", confirm)


def _noise(
    r: _Rand, events: list[_Ev], days: list[dt.date], tz: ZoneInfo, end: float, outage: tuple[float, float]
) -> list[_Delivery]:
    """Forged (bad signature) and replayed (stale) requests: a few a day, never in the outage."""
    types = [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
    ]
    out: list[_Delivery] = []
    times = [ev.t for ev in events]
    for day in days:
        start = dt.datetime.combine(day, dt.time(), tz).timestamp()
        for kind, per_day in (("signature_failed", SIGNATURE_FAILED_PER_DAY), ("stale", STALE_PER_DAY)):
            for _ in range(r.poisson(per_day)):
                t = start + r.uniform(0, 86_000)
                if t >= end or outage[0] - 5 <= t < outage[1] + 5:
                    continue
                if kind == "signature_failed":
                    d = _Delivery(t, None, kind, 400, "warn", f"evt_3{r.token(6)}{ACCOUNT_TAG}{r.token(4)}")
                    d.etype, d.created = types[r.below(len(types))], int(t - r.uniform(0.2, 3))
                else:
                    i = bisect.bisect_left(times, t - r.uniform(900, 6 * 3600))
                    if i >= len(events) or events[i].t >= t - 300:
                        continue
                    ev = events[i]
                    d = _Delivery(t, None, kind, 400, "warn", ev.id, ev.type, int(ev.t))
                out.append(d)
    return out


def _write_orders(path: Path, shop: _Shop, deliveries: list[_Delivery], end: float) -> None:
    """The orders as the app left them: each changes when the app handles its payment's event."""
    handled: dict[str, float] = {}
    for d in deliveries:
        if d.event is not None and d.outcome == "handled":
            handled.setdefault(d.event.id, d.t)
    orders: dict[str, dict[str, Any]] = {}
    for p in shop.pays:
        doc = orders.get(p.order)
        if doc is None:
            doc = orders[p.order] = {
                "_id": p.order,
                "status": "pending",
                "total": p.order_total,
                "currency": p.currency,
                "paymentIntentId": p.pi,
                "userId": p.user,
                "updatedAt": p.created,
            }
        else:  # a second PaymentIntent for the same order replaces the first in the document
            doc["paymentIntentId"], doc["updatedAt"] = p.pi, p.created
    changes: list[tuple[float, str, str]] = []
    for p in shop.pays:
        for ev in p.events:
            when = handled.get(ev.id, math.inf)
            if when >= end:
                continue
            if ev.type == "payment_intent.succeeded":
                changes.append((when, p.order, "paid"))
            elif ev.type == "payment_intent.canceled":
                changes.append((when, p.order, "cancelled"))
            elif ev.type == "charge.refunded" and ev.obj["refunded"]:
                changes.append((when, p.order, "refunded"))
    for when, order, status in sorted(changes):
        doc = orders[order]
        if status == "cancelled" and doc["status"] == "paid":
            continue
        doc["status"], doc["updatedAt"] = status, max(doc["updatedAt"], when)
    lines = []
    for doc in orders.values():
        doc["updatedAt"] = _stamp(doc["updatedAt"])
        lines.append(orjson.dumps(doc))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
