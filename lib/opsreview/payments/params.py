"""Params section `payments`: where payment events come from, how the app's own collections
map to orders and payments, and the thresholds.

Secrets (the gateway's API key, the app database's connection string) are always ``${ENV}``
references, resolved only when used. Use a *restricted* Stripe key with read access to events,
charges and payment intents only. The card networks' monitoring programmes set the dispute
thresholds below: Visa's VAMP (Visa Acquirer Monitoring Program, from 2025) counts fraud and
disputes against settled transactions with an "excessive" merchant level of 1.5% in 2026
(2.2% before); Mastercard's ECP (Excessive Chargeback Program) starts at 1.5% of transactions
and 100 chargebacks a month. opsreview's rate is the day's disputes over the day's
successful charges: a daily early warning, not the networks' monthly calculation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from opsreview.schema import Section
from opsreview.secrets import SECRET_REF, SecretRef

ReadPreference = Literal["primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"]


def _env_reference(key: str, value: object) -> object:
    if value is None:
        return value
    text = value.reference if isinstance(value, SecretRef) else str(value)
    if not SECRET_REF.fullmatch(text.strip()):
        raise ValueError(f'{key} must be an ${{ENV}} reference such as "${{STRIPE_API_KEY}}" (it is a secret)')
    return text.strip()


class StripeParams(Section):
    api_key: SecretRef = Field(description='restricted API key as an ${ENV} reference, e.g. "${STRIPE_API_KEY}"')
    api_base: str | None = Field(None, description="API base URL (default Stripe's; a localstripe URL in tests)")
    max_network_retries: int = Field(
        2, ge=0, le=10, description="the SDK's retries of a failed request (429, 5xx, network)"
    )
    timeout_s: float = Field(20, gt=0, le=120, description="timeout of each request, seconds")
    deadline_s: float = Field(
        180, gt=0, le=3600, description="the whole pull stops here (a finding says what was not read)"
    )
    max_events: int = Field(500_000, ge=1, description="events read per pull at most")

    @field_validator("api_key", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        return _env_reference("payments.stripe.api_key", value)


ExportFormat = Literal["stripe_events", "csv"]


class ExportSource(Section):
    paths: list[str] = Field(
        min_length=1, description="JSONL/CSV files, globs or folders (relative to the params file)"
    )
    format: ExportFormat = Field(
        "stripe_events", description="stripe_events: one Stripe event object per line; csv: a flat export"
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="csv: payment_events column -> the export's column (event_id, type, created, amount, currency, status, ...)",
    )
    amount_unit: Literal["minor", "major"] = Field(
        "minor",
        description="csv amounts in minor units (cents) or major units with a decimal point (converted exactly, never via float)",
    )


class CollectionMap(Section):
    collection: str = Field(description="collection name")
    fields: dict[str, str] = Field(
        default_factory=dict, description="table column -> document field (dotted paths allowed)"
    )


class AppDbParams(Section):
    uri: SecretRef | None = Field(None, description='the app database as an ${ENV} reference, e.g. "${MONGODB_URI}"')
    database: str = Field("app", description="the app's database name")
    read_preference: ReadPreference = Field("secondaryPreferred", description="where reads go")
    max_time_ms: int = Field(5000, ge=100, le=60_000, description="maxTimeMS of every command")
    socket_timeout_ms: int = Field(10_000, ge=100, le=120_000)
    connect_timeout_ms: int = Field(5000, ge=100, le=60_000)
    max_documents: int = Field(200_000, ge=1, description="documents read per collection per pull (newest first)")
    orders: CollectionMap | None = Field(
        None, description="orders: order_id, status, amount, currency, payment_intent, updated"
    )
    payments: CollectionMap | None = Field(None, description="the app's payment records (as payment_events columns)")
    webhook_events: CollectionMap | None = Field(
        None, description="what the webhook handler recorded: event_id, type, outcome, http_status, event_created, ts"
    )
    paid_statuses: list[str] = Field(
        default_factory=lambda: ["paid", "completed", "fulfilled"], description="order statuses that mean paid"
    )

    @field_validator("uri", mode="before")
    @classmethod
    def _uri(cls, value: object) -> object:
        return _env_reference("payments.app_db.uri", value)


class OrdersFile(Section):
    paths: list[str] = Field(
        min_length=1, description="JSONL files of the app's order documents (an export), globs or folders"
    )
    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "order_id": "_id",
            "status": "status",
            "amount": "total",
            "currency": "currency",
            "payment_intent": "paymentIntentId",
            "updated": "updatedAt",
        },
        description="payment_orders column -> document field (dotted paths allowed)",
    )
    paid_statuses: list[str] = Field(
        default_factory=lambda: ["paid", "completed", "fulfilled"], description="order statuses that mean paid"
    )


class PaymentThresholds(Section):
    auth_rate_min: float = Field(0.85, gt=0, le=1, description="authorization rate of the day below this is a warning")
    auth_rate_drop: float = Field(
        0.05, gt=0, lt=1, description="a drop of this much (absolute) below the baseline day's rate is a warning"
    )
    auth_rate_min_attempts: int = Field(50, ge=1, description="attempts an hour or day needs before its rate is judged")
    decline_spike_factor: float = Field(
        3.0, gt=1, description="a decline code (or BIN range) this many times its baseline share is a spike"
    )
    decline_spike_min: int = Field(20, ge=1, description="declines a spike of the day needs")
    decline_spike_min_hour: int = Field(10, ge=1, description="declines a spike within one hour needs")
    volume_drop: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="an hour whose payments fell this much below its baseline median (a checkout outage)",
    )
    volume_min_median: int = Field(20, ge=1, description="payments the baseline hour needs before a drop is judged")
    abandonment_max: float = Field(
        0.25, gt=0, le=1, description="share of requires_action payment intents never completed"
    )
    dispute_rate_warning: float = Field(
        0.009, gt=0, lt=1, description="disputes ÷ successful charges (VAMP/ECP early warning below their 1.5%)"
    )
    dispute_rate_critical: float = Field(0.015, gt=0, lt=1, description="the networks' 1.5% level")
    refund_rate_warning: float = Field(0.10, gt=0, le=1, description="refunded share of the day's volume")
    stuck_minutes: float = Field(30, gt=0, description="a payment pending/processing longer than this is stuck")
    webhook_lag_s: float = Field(
        300, gt=0, description="event created -> handled; Stripe rejects signatures older than 300 s by default"
    )
    webhook_failure_rate: float = Field(
        0.01, gt=0, lt=1, description="share of deliveries that failed (non-2xx, signature, error)"
    )
    pending_webhooks_max: int = Field(0, ge=0, description="events still pending delivery at the end of the day")


class PaymentsParams(Section):
    stripe: StripeParams | None = Field(None, description="the gateway's events API (Stripe)")
    exports: list[ExportSource] = Field(
        default_factory=list, description="event exports (JSONL of Stripe events, or CSV)"
    )
    app_db: AppDbParams | None = Field(None, description="the app's own MongoDB collections")
    webhook_logs: list[str] = Field(
        default_factory=list,
        description="the webhook endpoint's JSON log files (one line per delivery), globs or folders",
    )
    webhook_route: str = Field(
        "/api/webhooks/stripe", description="the webhook route in the access logs (its non-2xx answers)"
    )
    orders_files: list[OrdersFile] = Field(
        default_factory=list, description="order exports, when the app database is not read directly"
    )
    scan_logs: list[str] = Field(
        default_factory=list,
        description="log files scanned for card numbers (PCI), globs or folders; raw files: the store is already masked",
    )
    order_metadata_key: str = Field(
        "order_id", description="metadata key of the gateway objects holding the app's order id"
    )
    allow_test_cards: bool = Field(
        False, description="documented test card numbers found in logs are not a PCI finding"
    )
    thresholds: PaymentThresholds = Field(default_factory=lambda: PaymentThresholds())

    @property
    def configured(self) -> bool:
        return (
            self.stripe is not None
            or bool(self.exports)
            or self.app_db is not None
            or bool(self.webhook_logs)
            or bool(self.orders_files)
            or bool(self.scan_logs)
        )
