"""The payments review of one day: what each section of the `payments` notebook shows.

:func:`load_payment_review` reads the day's and the baseline days' payment events (one row
per event id, whatever source or delivery it came from), the app's orders (the latest state
the store holds), what the webhook endpoint did, the PCI scan, and the ingest counts; then
computes the KPIs, the webhook health and the reconciliation, and judges them.

For drilling in from JupyterLab: ``pay.today`` (the day's events), ``pay.attempts`` (one row
per payment attempt), ``pay.deliveries`` (the endpoint's deliveries).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import Finding, kpi_number
from opsreview.localtime import local_columns
from opsreview.payments import analysis, charts, kpis, models, reconcile, webhooks
from opsreview.payments import findings as payfindings
from opsreview.payments.params import PaymentsParams
from opsreview.store import Store

AREA = "payments"


@dataclass
class PaymentReview:
    day: dt.date
    tz: ZoneInfo
    window: tuple[dt.datetime, dt.datetime]
    params: PaymentsParams
    today: pd.DataFrame
    baseline: pd.DataFrame
    attempts: pd.DataFrame
    hourly: pd.DataFrame
    daily: pd.DataFrame
    band: pd.DataFrame
    declines: pd.DataFrame
    spikes: pd.DataFrame
    hour_spikes: pd.DataFrame
    volume_drops: pd.DataFrame
    money: pd.DataFrame
    deliveries: pd.DataFrame
    webhook_hourly: pd.DataFrame
    webhook_summary: pd.DataFrame
    handled_twice: pd.DataFrame
    pending: pd.DataFrame
    endpoint: pd.DataFrame
    orders: pd.DataFrame
    stuck: pd.DataFrame
    paid_without_payment: pd.DataFrame
    payment_without_order: pd.DataFrame
    double: pd.DataFrame
    mismatches: pd.DataFrame
    refunds_unmatched: pd.DataFrame
    exposures: pd.DataFrame
    ingest: pd.DataFrame
    baseline_auth_rate: float | None = None
    test_mode_share: float | None = None
    findings: list[Finding] = field(default_factory=list)

    def table(self, name: str, fmt: str = "%Y-%m-%d %H:%M") -> pd.DataFrame:
        df = local_columns(getattr(self, name), self.tz, fmt)
        for column in df.columns:
            if pd.api.types.is_float_dtype(df[column]):
                df[column] = df[column].round(4)
        return df

    def _of(self, *checks: str) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]

    def _no_events(self, section: Section, items: tuple[str, ...]) -> bool:
        if len(self.today):
            return False
        configured = (
            self.params.stripe is not None
            or bool(self.params.exports)
            or (self.params.app_db is not None and self.params.app_db.payments is not None)
        )
        section.not_verifiable(
            AREA,
            "No payment events",
            f"the store holds no payment event of {self.day}"
            if configured
            else "no `payments.stripe`, `payments.exports` or `payments.app_db.payments` is configured",
            'set `payments.stripe.api_key: "${STRIPE_API_KEY}"` (a restricted key that reads events), or list event '
            "exports under `payments.exports`",
            ("payments_stripe", "payments_exports", "payments_app_db"),
            items,
        )
        return True

    # -- sections ---------------------------------------------------------------------------
    def kpis(self) -> dict[str, float | None]:
        """The day's headline numbers: payments attempted and the authorization rate (empty: no
        payment events)."""
        if self.daily.empty:
            return {}
        row = self.daily.iloc[0]
        return {"payments": kpi_number(row["attempts"]), "auth_rate": kpi_number(row["auth_rate"])}

    def overview_section(self) -> Section:
        section = Section("overview")
        if self._no_events(section, (payfindings.MONITOR,)):
            return section
        section.tables.append(("The day", self.table("overview")))
        section.tables.append(("Volume per currency (minor units)", self.table("money")))
        return section

    @functools.cached_property
    def overview(self) -> pd.DataFrame:
        if self.daily.empty:
            return self.daily
        row = self.daily.iloc[0]
        return pd.DataFrame(
            [
                {
                    "payments": int(row["attempts"]),
                    "success rate": row.get("success_rate"),
                    "authorizations": int(row["authorized"]) + int(row["issuer_declined"]),
                    "authorized": int(row["authorized"]),
                    "issuer declined": int(row["issuer_declined"]),
                    "blocked": int(row["blocked"]),
                    "3DS drop-offs": int(row["threeds_dropoff"]),
                    "authorization rate": row["auth_rate"],
                    "baseline rate": self.baseline_auth_rate,
                    "refunds": int(row["refunds"]),
                    "disputes": int(row["disputes"]),
                    "events": len(self.today),
                }
            ]
        )

    def authorization_section(self) -> Section:
        section = Section(
            "authorization", findings=self._of("payments.auth_rate", "payments.auth_rate_hour", "payments.abandonment")
        )
        if self._no_events(section, (payfindings.MONITOR,)):
            return section
        section.figures.append(charts.auth_rate_band(self))
        if len(self.volume_drops):
            section.tables.append(("Hours with far fewer payments than usual", self.table("volume_drops")))
        if self.baseline.empty:
            section.not_verifiable(
                AREA,
                "No baseline",
                "the baseline days hold no payment event: today's rates cannot be compared",
                "pull the baseline days too (`opsreview pull` reads the review day and its baseline)",
                ("payments_stripe", "payments_exports"),
                (payfindings.MONITOR,),
            )
        return section

    def declines_section(self) -> Section:
        section = Section("declines", findings=self._of("payments.decline_spike"))
        if self._no_events(section, (payfindings.MONITOR,)):
            return section
        section.tables.append(("Declines by code, brand, country and BIN", self.table("declines")))
        if len(self.hour_spikes):
            section.tables.append(
                ("Spikes within an hour, against the same hour of the baseline days", self.table("hour_spikes"))
            )
        if len(self.spikes):
            section.tables.append(("The day against the baseline", self.table("spikes")))
        return section

    def webhooks_section(self) -> Section:
        section = Section(
            "webhooks",
            findings=self._of(
                "payments.webhook_failures",
                "payments.webhook_signature",
                "payments.webhook_lag",
                "payments.webhook_handled_twice",
                "payments.webhook_pending",
            ),
        )
        items = (payfindings.WEBHOOK_HANDLER, payfindings.WEBHOOK_SECURITY)
        if self.deliveries.empty:
            section.not_verifiable(
                AREA,
                "No webhook deliveries",
                f"nothing tells what the app's webhook endpoint did on {self.day}",
                "list the endpoint's log under `payments.webhook_logs`, or map its webhook-events collection under "
                "`payments.app_db.webhook_events`",
                ("payments_files", "payments_app_db"),
                items,
            )
            return section
        section.figures.append(charts.webhook_outcomes(self))
        section.tables.append(("Deliveries", self.table("webhook_summary")))
        if len(self.endpoint):
            section.tables.append(
                (f"The endpoint in the access logs ({self.params.webhook_route})", self.table("endpoint"))
            )
        if len(self.handled_twice):
            section.tables.append(("Handled more than once", self.table("handled_twice")))
        return section

    def reconciliation_section(self) -> Section:
        checks = (
            "payments.stuck",
            "payments.paid_without_payment",
            "payments.payment_without_order",
            "payments.double_charge",
            "payments.amount_mismatch",
            "payments.refund_unmatched",
            "payments.test_mode",
        )
        section = Section("reconciliation", findings=self._of(*checks))
        if self._no_events(section, (payfindings.GATEWAY,)):
            return section
        if self.orders.empty:
            section.not_verifiable(
                AREA,
                "No orders",
                "the app's orders are not read: payments cannot be matched with orders",
                "map the orders collection under `payments.app_db.orders`, or list an orders export under "
                "`payments.orders_files`",
                ("payments_app_db", "payments_files"),
                (payfindings.GATEWAY,),
            )
        for caption, name in (
            ("Stuck payments", "stuck"),
            ("Orders paid with no successful payment", "paid_without_payment"),
            ("Successful payments with no paid order", "payment_without_order"),
            ("Double charges", "double"),
            ("Amount or currency mismatches", "mismatches"),
            ("Refunds with no matching charge", "refunds_unmatched"),
        ):
            frame = getattr(self, name)
            if len(frame):
                section.tables.append((caption, self.table(name)))
        return section

    def pci_section(self) -> Section:
        section = Section("pci", findings=self._of("payments.pan_exposure", "payments.sensitive_field"))
        notes = [
            str(n) for n in self.ingest.get("note", pd.Series(dtype=object)).dropna() if str(n).startswith("PCI scan:")
        ]
        scanned = any(not n.startswith("PCI scan: 0 file") for n in notes)
        if not scanned:
            section.not_verifiable(
                AREA,
                "Nothing scanned for card numbers",
                "no log file listed under `payments.scan_logs` was scanned for this day"
                + (f" ({notes[0]})" if notes else ""),
                "list the app's and the access logs' files under `payments.scan_logs` (card numbers in payment "
                "documents and exports are reduced to BIN + last four as they are read)",
                ("payments_files",),
                (payfindings.PCI,),
            )
        if len(self.exposures):
            section.tables.append(("Card data found (BIN and last four only)", self.table("exposures")))
        section.not_verifiable(
            AREA,
            "Payment testing is not visible in production data",
            "whether the payment flows are tested shows in the app's test suite and CI, not in its traffic",
            "",
            (),
            (payfindings.TESTING,),
        )
        return section

    def ingest_section(self) -> Section:
        section = Section("ingest", findings=self._of("payments.bad_input", "payments.incomplete_pull"))
        if len(self.ingest):
            section.tables.append(("What each source read", self.table("ingest")))
        return section


def _read(store: Store, table: str, days: list[dt.date]) -> pd.DataFrame:
    df = store.read(table, days)
    if df.empty and not len(df.columns):
        return models.empty_frame(table)
    for column in ("ts", "created", "updated", "event_created"):
        if column in df.columns:
            df[column] = pd.to_datetime(df[column], utc=True)
    return df


def _access(store: Store, days: list[dt.date], route: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The webhook route's rows of the access logs (the logs area's `requests` table), if pulled."""
    from opsreview.relations import sql_string

    rel = store.relation("requests", days)
    if rel is None:
        return pd.DataFrame(columns=["ts", "method", "path", "status"])
    return (
        rel.filter(
            f"path = {sql_string(route)} AND ts >= {sql_string(start.isoformat())}::TIMESTAMPTZ "
            f"AND ts < {sql_string(end.isoformat())}::TIMESTAMPTZ"
        )
        .select("ts", "method", "path", "status")
        .df()
    )


def _before(events: pd.DataFrame, start: dt.datetime) -> pd.DataFrame:
    return events[events["ts"] < start].reset_index(drop=True) if len(events) else events


def _in_day(frame: pd.DataFrame, column: str, start: dt.datetime) -> pd.DataFrame:
    """Rows whose ``column`` (a time) is in the review day or later (a double charge spanning
    midnight belongs to the day of its second payment)."""
    if frame.empty or column not in frame.columns:
        return frame
    return frame[pd.to_datetime(frame[column], utc=True) >= start].reset_index(drop=True)


def load_payment_review(ctx: ReviewContext) -> PaymentReview:
    params = ctx.params
    settings = params.payments
    tz = params.tz
    store = ctx.store
    start, end = ctx.window
    t = settings.thresholds
    first = ctx.baseline_days[0] if ctx.baseline_days else ctx.day
    all_days = [first - dt.timedelta(days=1), *ctx.baseline_days, ctx.day, ctx.day + dt.timedelta(days=1)]
    base_start = params.day_window(first)[0]
    events = analysis.dedupe_events(_read(store, models.EVENTS, all_days))
    today = analysis.in_window(events, start, end)
    baseline = analysis.in_window(events, base_start, start)
    history = analysis.in_window(events, base_start, end)
    deliveries = analysis.in_window(_read(store, models.DELIVERIES, all_days), start, end)
    orders = _read(store, models.ORDERS, [ctx.day, ctx.day + dt.timedelta(days=1)])
    if len(orders):
        orders = orders.sort_values("updated").drop_duplicates("order_id", keep="last").reset_index(drop=True)
    exposures = _read(store, models.EXPOSURES, [ctx.day])
    ingest = _read(store, models.INGEST, [ctx.day])
    day = (start, end)
    daily = kpis.kpis(history, tz, "D", window=day)
    review = PaymentReview(
        day=ctx.day,
        tz=tz,
        window=(start, end),
        params=settings,
        today=today,
        baseline=baseline,
        attempts=kpis.attempts(history, window=day),
        hourly=kpis.kpis(history, tz, "h", window=day),
        daily=daily,
        band=kpis.auth_rate_band(today, baseline, tz, t.auth_rate_min_attempts),
        declines=kpis.declines(history, window=day),
        spikes=kpis.decline_spikes(today, baseline, t),
        hour_spikes=analysis.hourly_spikes(today, baseline, tz, t),
        volume_drops=analysis.volume_drops(
            kpis.kpis(history, tz, "h", window=day),
            kpis.kpis(_before(history, start), tz, "h", window=(base_start, start)),
            tz,
            t.volume_drop,
            t.volume_min_median,
        ),
        money=kpis.money(history, tz, "D", window=day),
        deliveries=deliveries,
        webhook_hourly=webhooks.outcomes_per_period(deliveries, tz, "h"),
        webhook_summary=webhooks.delivery_summary(deliveries, today) if len(deliveries) else pd.DataFrame(),
        handled_twice=webhooks.handled_twice(deliveries),
        pending=webhooks.pending_deliveries(today, deliveries),
        endpoint=webhooks.endpoint_answers(
            deliveries, _access(store, all_days, settings.webhook_route, start, end), settings.webhook_route, str(tz)
        )
        if len(deliveries)
        else pd.DataFrame(),
        orders=orders,
        stuck=reconcile.stuck_payments(history, end, t.stuck_minutes),
        paid_without_payment=reconcile.orders_paid_without_payment(orders, history, events_since=base_start)
        if len(orders)
        else pd.DataFrame(),
        payment_without_order=reconcile.payments_without_paid_order(orders, today) if len(orders) else pd.DataFrame(),
        double=_in_day(reconcile.double_charges(history), "last", start),
        mismatches=reconcile.amount_mismatches(orders, history) if len(orders) else pd.DataFrame(),
        refunds_unmatched=reconcile.unmatched_refunds(history, events_since=base_start),
        exposures=exposures,
        ingest=ingest,
        baseline_auth_rate=analysis.overall_auth_rate(kpis.kpis(baseline, tz, "D")) if len(baseline) else None,
        test_mode_share=float((~today["livemode"].fillna(True).astype(bool)).mean()) if len(today) else None,
    )
    review.findings = payfindings.all_findings(review)
    return review
