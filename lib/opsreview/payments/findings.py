"""Findings of the payments area, judged against ``payments.thresholds`` and the baseline,
each with its evidence and the production-checklist items it bears on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from opsreview.findings import Finding, Severity
from opsreview.localtime import local_iso
from opsreview.payments import webhooks

if TYPE_CHECKING:
    from opsreview.payments.review import PaymentReview

AREA = "payments"
MONITOR = "Monitor payment transactions"
WEBHOOK_HANDLER = "Webhook handler structure"
WEBHOOK_SECURITY = "Payment webhook security"
GATEWAY = "Real payment gateway integration"
PCI = "PCI compliance"
TESTING = "Payment testing"
ALL_ITEMS = (MONITOR, WEBHOOK_HANDLER, WEBHOOK_SECURITY, GATEWAY, PCI, TESTING)

CHECKS: dict[str, tuple[str, ...]] = {
    "payments.auth_rate": (MONITOR,),
    "payments.auth_rate_hour": (MONITOR,),
    "payments.decline_spike": (MONITOR,),
    "payments.abandonment": (MONITOR,),
    "payments.volume_drop": (MONITOR,),
    "payments.dispute_rate": (MONITOR,),
    "payments.refund_rate": (MONITOR,),
    "payments.webhook_failures": (WEBHOOK_HANDLER, MONITOR),
    "payments.webhook_pending": (WEBHOOK_HANDLER,),
    "payments.webhook_lag": (WEBHOOK_HANDLER,),
    "payments.webhook_signature": (WEBHOOK_SECURITY,),
    "payments.webhook_handled_twice": (WEBHOOK_HANDLER,),
    "payments.stuck": (GATEWAY, MONITOR),
    "payments.paid_without_payment": (GATEWAY,),
    "payments.payment_without_order": (GATEWAY,),
    "payments.double_charge": (GATEWAY, MONITOR),
    "payments.amount_mismatch": (GATEWAY,),
    "payments.refund_unmatched": (GATEWAY,),
    "payments.test_mode": (GATEWAY,),
    "payments.pan_exposure": (PCI,),
    "payments.sensitive_field": (PCI,),
    "payments.bad_input": (),
    "payments.incomplete_pull": (MONITOR,),
}


def _f(
    check: str,
    severity: Severity,
    title: str,
    value: Any = None,
    threshold: Any = None,
    *,
    subject: str = "",
    window: tuple[str, str] | None = None,
    **evidence: Any,
) -> Finding:
    """A finding of ``check``; ``window`` its local ISO (start, end) when it has one."""
    clean = {k: v for k, v in evidence.items() if v is not None}
    start, end = window or (None, None)
    return Finding(AREA, check, severity, title, value, threshold, clean, CHECKS[check], subject, start, end)


def _hour_window(review: PaymentReview, start: Any, hours: int = 1) -> tuple[str, str]:
    """``hours`` from ``start`` (a tz-aware time, or a local hour of the review day) as local ISO."""
    if isinstance(start, int):  # a wall-clock hour; DST's missing/doubled hour settled forward
        start = (pd.Timestamp(review.day) + pd.Timedelta(hours=start)).tz_localize(
            review.tz, ambiguous=True, nonexistent="shift_forward"
        )
    begin = pd.Timestamp(start)
    return local_iso(begin, review.tz), local_iso(begin + pd.Timedelta(hours=hours), review.tz)


def _failing_window(review: PaymentReview) -> tuple[str, str] | None:
    """The webhook outage: the densest run of failed deliveries (:func:`webhooks.failure_window`)."""
    window = webhooks.failure_window(review.deliveries)
    return (local_iso(window[0], review.tz), local_iso(window[1], review.tz)) if window else None


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _records(df: pd.DataFrame, limit: int = 20) -> list[dict[str, Any]]:
    out = []
    for row in df.head(limit).to_dict("records"):
        out.append({k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in row.items() if not _missing(v)})
    return out


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def kpi_findings(review: PaymentReview) -> list[Finding]:
    t = review.params.thresholds
    out: list[Finding] = []
    day = review.daily.iloc[0] if len(review.daily) else None
    if day is not None and int(day["attempts"]) >= t.auth_rate_min_attempts:
        rate = _num(day["auth_rate"])
        base = review.baseline_auth_rate
        if rate is not None and (rate < t.auth_rate_min or (base is not None and rate < base - t.auth_rate_drop)):
            out.append(
                _f(
                    "payments.auth_rate",
                    Severity.warning,
                    f"Authorization rate {_pct(rate)} on {int(day['attempts'])} attempts"
                    + (f" against {_pct(base)} on the baseline days" if base is not None else ""),
                    round(rate, 4),
                    t.auth_rate_min,
                    subject="all payments",
                    baseline=round(base, 4) if base is not None else None,
                    issuer_declined=int(day["issuer_declined"]),
                    blocked=int(day["blocked"]),
                )
            )
        abandonment = _num(day.get("abandonment"))
        if abandonment is not None and abandonment > t.abandonment_max and int(day.get("requires_action") or 0) >= 20:
            out.append(
                _f(
                    "payments.abandonment",
                    Severity.warning,
                    f"{_pct(abandonment)} of the payments asked for 3-D Secure were never completed",
                    round(abandonment, 4),
                    t.abandonment_max,
                    subject="3-D Secure",
                    requires_action=int(day["requires_action"]),
                )
            )
    for row in review.volume_drops.to_dict("records"):
        out.append(
            _f(
                "payments.volume_drop",
                Severity.warning,
                f"{int(row['attempts'])} payments at {int(row['hour']):02d}:00 against a usual "
                f"{float(row['baseline_median']):.0f} (the checkout may not be taking payments)",
                int(row["attempts"]),
                round(float(row["baseline_median"]) * (1 - t.volume_drop), 1),
                subject="all payments",
                window=_hour_window(review, int(row["hour"])),
                hour=f"{int(row['hour']):02d}:00",
                baseline_days=int(row["baseline_days"]),
            )
        )
    band = review.band
    if len(band):
        low = band[
            (band["attempts"] >= t.auth_rate_min_attempts)
            & band["baseline_p10"].notna()
            & (band["auth_rate"] < band["baseline_p10"] - t.auth_rate_drop)
        ]
        for row in low.to_dict("records"):
            out.append(
                _f(
                    "payments.auth_rate_hour",
                    Severity.warning,
                    f"Authorization rate {_pct(row['auth_rate'])} at {local_iso(row['period'], review.tz)[11:16]} "
                    f"({int(row['attempts'])} attempts), below the baseline band ({_pct(row['baseline_p10'])}–"
                    f"{_pct(row['baseline_p90'])})",
                    round(float(row["auth_rate"]), 4),
                    round(float(row["baseline_p10"]), 4),
                    subject="all payments",
                    window=_hour_window(review, row["period"]),
                    hour=local_iso(row["period"], review.tz),
                    baseline_median=round(float(row["baseline_median"]), 4),
                )
            )
    day_spikes = review.spikes[review.spikes["spike"].astype(bool)] if len(review.spikes) else review.spikes
    spikes = [*(dict(r, hour=None) for r in day_spikes.to_dict("records")), *review.hour_spikes.to_dict("records")]
    for row in spikes:
        when = f"at {row['hour']}" if row.get("hour") else "today"
        out.append(
            _f(
                "payments.decline_spike",
                Severity.warning,
                f"Declines by {row['dimension']} {row['value']}: {int(row['declines'])} {when} against "
                f"{float(row['expected']):.1f} expected from the baseline",
                int(row["declines"]),
                round(float(row["expected"]), 1),
                subject=f"{row['dimension']} {row['value']}",
                window=_hour_window(review, int(str(row["hour"])[:2])) if row.get("hour") else None,
                dimension=row["dimension"],
                dimension_value=row["value"],
                hour=row.get("hour"),
                baseline_share=_num(row.get("baseline_share")),
            )
        )
    for row in review.money.to_dict("records"):
        disputes, charges = int(row.get("disputes") or 0), int(row.get("charges") or 0)
        if charges >= t.auth_rate_min_attempts and disputes:
            rate = disputes / charges
            if rate >= t.dispute_rate_warning:
                out.append(
                    _f(
                        "payments.dispute_rate",
                        Severity.critical if rate >= t.dispute_rate_critical else Severity.warning,
                        f"Dispute rate {_pct(rate)} in {str(row['currency']).upper()} ({disputes} of {charges} charges; "
                        "Visa VAMP and Mastercard ECP act at 1.5%)",
                        round(rate, 4),
                        t.dispute_rate_warning,
                        subject=str(row["currency"]),
                        currency=row["currency"],
                    )
                )
        refund_rate = _num(row.get("refund_rate"))
        if refund_rate is not None and refund_rate >= t.refund_rate_warning and charges >= t.auth_rate_min_attempts:
            out.append(
                _f(
                    "payments.refund_rate",
                    Severity.warning,
                    f"{_pct(refund_rate)} of the {str(row['currency']).upper()} volume refunded",
                    round(refund_rate, 4),
                    t.refund_rate_warning,
                    subject=str(row["currency"]),
                    currency=row["currency"],
                )
            )
    return out


def webhook_findings(review: PaymentReview) -> list[Finding]:
    t = review.params.thresholds
    out: list[Finding] = []
    if review.webhook_summary.empty:
        return out
    s = review.webhook_summary.iloc[0]
    deliveries = int(s["deliveries"])
    events = int(_num(s.get("events_delivered")) or 0)
    failed_events = int(_num(s.get("events_failed")) or 0)
    lost = int(_num(s.get("events_never_acknowledged")) or 0)
    rate = _num(s["failure_rate"])  # failed events ÷ events delivered (a retried event counts once)
    if events and rate is not None and rate >= t.webhook_failure_rate:
        worst = review.webhook_hourly.sort_values("failed", ascending=False).head(3)
        delay = _num(s.get("max_delivery_delay_s"))
        out.append(
            _f(
                "payments.webhook_failures",
                Severity.critical if lost else Severity.warning,
                f"{failed_events} of {events} events had failed webhook deliveries ({_pct(rate)}; "
                f"{int(s['failed'])} failed attempts of {deliveries})"
                + (f", {lost} never acknowledged" if lost else ", all acknowledged later")
                + (f"; longest delay {delay / 60:.0f} min" if delay else ""),
                round(rate, 4),
                t.webhook_failure_rate,
                subject="webhook deliveries",
                window=_failing_window(review),
                worst_hours=[
                    f"{local_iso(r['period'], review.tz)[11:16]}: {int(r['failed'])}" for r in worst.to_dict("records")
                ],
                errors=int(s["errors"]),
                non_2xx=int(s["non_2xx"]),
                failed_deliveries=int(s["failed"]),
                never_acknowledged=lost,
                max_delivery_delay_s=delay,
            )
        )
    unrecorded = (
        int(review.endpoint["unrecorded_non_2xx"].sum())
        if len(review.endpoint) and "unrecorded_non_2xx" in review.endpoint
        else 0
    )
    if unrecorded:
        out.append(
            _f(
                "payments.webhook_failures",
                Severity.warning,
                f"The webhook route answered {unrecorded} non-2xx request(s) the handler never recorded "
                "(the app down behind its proxy, or the route failing before the handler)",
                unrecorded,
                0,
                subject=str(review.params.webhook_route),
                route=review.params.webhook_route,
            )
        )
    bad_sig = int(s["signature_failed"]) + int(s["stale"])
    if bad_sig:
        out.append(
            _f(
                "payments.webhook_signature",
                Severity.warning,
                f"{bad_sig} webhook deliveries failed signature verification ({int(s['stale'])} too old): "
                "forged or replayed requests, or a wrong endpoint secret",
                bad_sig,
                0,
                subject="webhook signatures",
                signature_failed=int(s["signature_failed"]),
                stale=int(s["stale"]),
            )
        )
    lag = _num(s["lag_p95_s"])
    if lag is not None and lag > t.webhook_lag_s:
        out.append(
            _f(
                "payments.webhook_lag",
                Severity.warning,
                f"Webhook processing lag p95 {lag:.0f} s (event created → handled)",
                round(lag, 1),
                t.webhook_lag_s,
                subject="webhook processing",
                lag_max_s=_num(s["lag_max_s"]),
            )
        )
    if len(review.handled_twice):
        out.append(
            _f(
                "payments.webhook_handled_twice",
                Severity.warning,
                f"{len(review.handled_twice)} event(s) handled more than once: the handler is not idempotent on event id",
                len(review.handled_twice),
                0,
                subject="webhook handler",
                events=_records(review.handled_twice, 10),
            )
        )
    pending = int(_num(s.get("pending_events")) or 0)
    if pending > t.pending_webhooks_max:
        out.append(
            _f(
                "payments.webhook_pending",
                Severity.warning,
                f"{pending} event(s) of the day still had deliveries pending (pending_webhooks > 0)",
                pending,
                t.pending_webhooks_max,
                subject="webhook deliveries",
                events=_records(review.pending, 10),
            )
        )
    return out


def reconciliation_findings(review: PaymentReview) -> list[Finding]:
    t = review.params.thresholds
    out: list[Finding] = []
    checks = (
        (
            "payments.stuck",
            review.stuck,
            Severity.warning,
            f"payment(s) pending or processing for more than {t.stuck_minutes:g} minutes",
        ),
        (
            "payments.paid_without_payment",
            review.paid_without_payment,
            Severity.critical,
            "order(s) marked paid with no successful payment",
        ),
        (
            "payments.payment_without_order",
            review.payment_without_order,
            Severity.warning,
            "successful payment(s) with no paid order",
        ),
        (
            "payments.double_charge",
            review.double,
            Severity.critical,
            "double charge(s): two successful payments for one order or idempotency key",
        ),
        (
            "payments.amount_mismatch",
            review.mismatches,
            Severity.critical,
            "order(s) whose amount or currency differs from its payment",
        ),
        ("payments.refund_unmatched", review.refunds_unmatched, Severity.warning, "refund(s) with no matching charge"),
    )
    for check, frame, severity, what in checks:
        if len(frame):
            out.append(
                _f(check, severity, f"{len(frame)} {what}", len(frame), 0, subject="orders", rows=_records(frame))
            )
    if review.test_mode_share is not None and review.test_mode_share > 0:
        out.append(
            _f(
                "payments.test_mode",
                Severity.warning,
                f"{_pct(review.test_mode_share)} of the day's events are test-mode (livemode false)",
                round(review.test_mode_share, 4),
                0,
                subject="livemode",
            )
        )
    return out


def pci_findings(review: PaymentReview) -> list[Finding]:
    out: list[Finding] = []
    exposures = review.exposures
    if exposures.empty:
        return out
    real = exposures[~exposures["test_card"].fillna(False).astype(bool)]
    pans = real[real["kind"] == "pan"]
    if len(pans):
        shown = [
            f"{r['where']}: {r['card_bin']}…{r['card_last4']} ({r['brand']})" for r in pans.head(10).to_dict("records")
        ]
        out.append(
            _f(
                "payments.pan_exposure",
                Severity.critical,
                f"{len(pans)} full card number(s) found where none may be: {shown[0]}",
                len(pans),
                0,
                subject="card numbers",
                found=shown,
            )
        )
    other = real[real["kind"] != "pan"]
    if len(other):
        out.append(
            _f(
                "payments.sensitive_field",
                Severity.critical,
                f"{len(other)} CVV or track-data field(s) stored: {other.iloc[0]['where']}",
                len(other),
                0,
                subject="card data",
                found=[f"{r['where']} ({r['kind']})" for r in other.head(10).to_dict("records")],
            )
        )
    return out


def ingest_findings(review: PaymentReview) -> list[Finding]:
    ingest = review.ingest
    if ingest.empty:
        return []
    columns = ["malformed", "unknown_type", "missing_amount", "float_amount", "future", "mixed_currency"]
    present = [c for c in columns if c in ingest.columns]
    totals = {c: int(pd.to_numeric(ingest[c], errors="coerce").fillna(0).sum()) for c in present}
    bad = {k: v for k, v in totals.items() if v}
    out: list[Finding] = []
    notes = [str(n) for n in ingest.get("note", pd.Series(dtype=object)).dropna() if _incomplete(str(n))]
    if notes:
        out.append(
            _f(
                "payments.incomplete_pull",
                Severity.warning,
                f"A payments source was read only in part: {notes[0]}" + (" …" if len(notes) > 1 else ""),
                len(notes),
                0,
                subject="sources",
                notes=notes[:10],
            )
        )
    if not bad:
        return out
    counts: dict[str, Any] = dict(bad)  # evidence, typed apart from _f's keywords
    return out + [
        _f(
            "payments.bad_input",
            Severity.info,
            "Payment inputs counted and left out: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in bad.items()),
            sum(bad.values()),
            0,
            subject="inputs",
            **counts,
        )
    ]


_INCOMPLETE = ("deadline", "not found", "read error", "keeps 30 days", "max_events", "not authorized", "stopped", "cut")


def _incomplete(note: str) -> bool:
    return any(word in note.lower() for word in _INCOMPLETE)


def all_findings(review: PaymentReview) -> list[Finding]:
    return [
        *kpi_findings(review),
        *webhook_findings(review),
        *reconciliation_findings(review),
        *pci_findings(review),
        *ingest_findings(review),
    ]
