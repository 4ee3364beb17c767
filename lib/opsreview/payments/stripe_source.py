"""The gateway's events API (Stripe), read through the official ``stripe`` SDK.

:func:`read_events` lists ``GET /v1/events`` with ``created[gte]``/``created[lt]`` bounded to
the review window, 100 a page, auto-paging (``has_more`` / ``starting_after``) with the SDK's
own retries (``max_network_retries``: connection errors, timeouts, 409, 5xx, and whatever the
API marks ``Stripe-Should-Retry: true``). The SDK does not retry a plain 429 (Stripe's choice:
a rate limit means back off); this source does, resuming the pagination after the last event
read, at most ``max_network_retries`` times in a row with the SDK's backoff (0.5 s doubling, at
most 5 s) or the ``Retry-After`` the API gave (capped likewise).

Limits, each a ``note`` of the ``payment_ingest`` row, never an exception:

- the whole pull stops at ``deadline_s`` (checked before each page and each event; a request in
  flight is bounded by ``timeout_s`` and its retries): what was read is kept;
- ``max_events`` events at most;
- the API keeps 30 days of events: a window starting earlier is read from 30 days before now;
- failed deliveries: the same window listed with ``delivery_success=false`` marks those events
  (their count is in the note; a ``delivery_failed`` column when the events table has one).

Errors that leave nothing to read (the key refused, the API unreachable after the retries, a
request the API rejects) raise :class:`opsreview.exceptions.SourceError` with one redacted
line: never the key, never the response body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import stripe

from opsreview.exceptions import SourceError
from opsreview.payments.models import EVENTS_SCHEMA
from opsreview.payments.normalize import Counts, dedupe, event_row, utc
from opsreview.payments.params import StripeParams
from opsreview.secrets import MissingSecretError, redact

log = logging.getLogger(__name__)

SOURCE = "stripe"
DEFAULT_API_BASE = "https://api.stripe.com"
RETENTION = timedelta(days=30)
PAGE_SIZE = 100
DELIVERY_FAILED = "delivery_failed"  # the payment_events column proposed for failed deliveries
_BACKOFF_INITIAL_S = 0.5
_BACKOFF_MAX_S = 5.0
_MAX_MESSAGE = 300
_KEY_LIKE = re.compile(r"\b(?:sk|rk|pk|rak)_[A-Za-z0-9_*.…]+|\bacct_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+")


class _Deadline(Exception):
    """The pull's deadline passed (internal)."""


def _one_line(text: str) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _error_message(exc: stripe.StripeError, retries: int) -> str:
    """One redacted line for a failed request: the kind, the status, Stripe's short message."""
    status = getattr(exc, "http_status", None)
    detail = exc.user_message if isinstance(exc.user_message, str) else ""
    # Stripe's own "Invalid API Key provided: sk_test_****abcd" and "The provided key
    # 'rk_live_****…abcd' does not have the required permissions" name part of the key (and
    # the account): drop such a message whole, and any key or account id in the others.
    if "api key" in detail.lower() or "provided key" in detail.lower():
        detail = "invalid API key" if "api key" in detail.lower() else "the key lacks a permission"
    detail = _KEY_LIKE.sub("***", detail)
    if isinstance(exc, stripe.AuthenticationError):
        what = "the API key was refused"
    elif isinstance(exc, stripe.PermissionError):
        what = "the API key may not read events (a restricted key needs read access to events)"
    elif isinstance(exc, stripe.APIConnectionError):
        what = f"the events API could not be reached after {retries} retr{'y' if retries == 1 else 'ies'}"
        detail = detail.split("(Network error:")[-1].strip(" )") if "Network error" in detail else detail
    elif isinstance(exc, stripe.RateLimitError):
        what = f"rate limited (429) after {retries} retr{'y' if retries == 1 else 'ies'}"
    else:
        what = f"the events API answered {status}" if status else "the events API failed"
    text = f"stripe: {what}" + (f" ({status})" if status and str(status) not in what else "")
    if detail:
        text += f": {detail}"
    return _one_line(text)


def _retry_after(exc: stripe.StripeError) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _Pull:
    """One pull of events (a list with filters), resumable after a rate limit."""

    def __init__(self, client: stripe.StripeClient, params: StripeParams, started: float, page_size: int) -> None:
        self.client = client
        self.params = params
        self.started = started
        self.page_size = page_size

    def remaining(self) -> float:
        return self.params.deadline_s - (time.monotonic() - self.started)

    def events(self, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every event of the list, as plain dicts; raises :class:`_Deadline` when time is up."""
        last_id: str | None = None
        rate_limited = 0
        while True:
            if self.remaining() <= 0:
                raise _Deadline
            page_params: dict[str, Any] = {**filters, "limit": self.page_size}
            if last_id is not None:
                page_params["starting_after"] = last_id
            try:
                page = self.client.v1.events.list(params=page_params)  # type: ignore[arg-type]
                for item in page.auto_paging_iter():
                    if self.remaining() <= 0:
                        raise _Deadline
                    event = item.to_dict(recursive=True)
                    last_id = str(event.get("id") or last_id)
                    rate_limited = 0
                    yield event
                return
            except stripe.RateLimitError as exc:
                rate_limited += 1
                if rate_limited > self.params.max_network_retries:
                    raise
                wait = _retry_after(exc) or _BACKOFF_INITIAL_S * 2 ** (rate_limited - 1)
                wait = min(wait, _BACKOFF_MAX_S)
                if wait >= self.remaining():
                    raise _Deadline from None
                log.info("payments: stripe rate limited, retrying in %.1f s", wait)
                time.sleep(wait)


def make_client(params: StripeParams, http_client: stripe.HTTPClient | None = None) -> stripe.StripeClient:
    """A client with the params' base URL, retries and per-request timeout (the key resolved
    now); ``http_client`` replaces the default ``RequestsClient(timeout=timeout_s)``."""
    try:
        api_key = params.api_key.resolve()
    except MissingSecretError as exc:
        raise SourceError("payments", f"stripe: {exc.args[0] if exc.args else exc}") from None
    if http_client is None:
        http_client = stripe.RequestsClient(timeout=min(params.timeout_s, params.deadline_s))
    base = (params.api_base or DEFAULT_API_BASE).rstrip("/")
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": base},
        max_network_retries=params.max_network_retries,
        http_client=http_client,
    )


def read_events(
    params: StripeParams,
    start: datetime,
    end: datetime,
    now: datetime,
    order_key: str,
    *,
    client_factory: Callable[[StripeParams], stripe.StripeClient] = make_client,
    page_size: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Events created in [start, end) as ``payment_events`` rows (deduplicated), and the
    ``payment_ingest`` row of the pull. Raises :class:`SourceError` when nothing can be read.

    ``client_factory`` makes the SDK client from the params (tests wrap its HTTP client);
    ``page_size`` is the list's ``limit`` (1-100)."""
    start, end, now = utc(start), utc(end), utc(now)
    base = (params.api_base or DEFAULT_API_BASE).rstrip("/")
    counts = Counts(location=f"{base}/v1/events")
    retained = now - RETENTION
    read_from = start
    if start < retained:
        read_from = retained
        counts.note(
            f"the events API keeps 30 days: asked from {start:%Y-%m-%d %H:%M}Z, read from {retained:%Y-%m-%d %H:%M}Z"
        )
    rows: list[dict[str, Any]] = []
    if read_from >= end:
        counts.note("nothing of the window is still kept by the events API")
        return [], counts.ingest_row(SOURCE, now)
    started = time.monotonic()
    client = client_factory(params)
    pull = _Pull(client, params, started, max(1, min(page_size, 100)))
    window = {"created": {"gte": int(read_from.timestamp()), "lt": int(end.timestamp())}}
    if end.timestamp() != int(end.timestamp()):  # created is whole seconds: [gte, lt) of the window
        window["created"]["lt"] = int(end.timestamp()) + 1
    complete = True
    try:
        for event in pull.events(window):
            row, reason = event_row(event, SOURCE, now, order_key)
            counts.add(row, reason)
            if row is not None:
                rows.append(row)
            if counts.rows + sum(getattr(counts, r) for r in ("malformed", "unknown_type")) >= params.max_events:
                counts.note(f"stopped at max_events ({params.max_events}): the rest of the window was not read")
                complete = False
                break
    except _Deadline:
        complete = False
        counts.note(
            f"deadline of {params.deadline_s:g} s reached: {counts.rows} events read, the rest of the window not"
        )
    except stripe.StripeError as exc:
        raise SourceError("payments", _error_message(exc, params.max_network_retries)) from None
    rows, duplicates = dedupe(rows)
    counts.duplicates += duplicates
    counts.rows = len(rows)
    if complete:
        _mark_failed_deliveries(pull, window, rows, counts)
    return rows, counts.ingest_row(SOURCE, now)


def _mark_failed_deliveries(pull: _Pull, window: dict[str, Any], rows: list[dict[str, Any]], counts: Counts) -> None:
    """List the window's events whose webhook deliveries failed; mark them, count them in the note."""
    failed: set[str] = set()
    try:
        for event in pull.events({**window, "delivery_success": False}):
            if isinstance(event.get("id"), str):
                failed.add(event["id"])
    except _Deadline:
        counts.note("deadline reached before the failed deliveries were listed")
        return
    except stripe.InvalidRequestError as exc:  # an API (or a stand-in) without the filter
        counts.note(f"failed deliveries not listed: {_error_message(exc, 0)}")
        return
    except stripe.StripeError as exc:
        counts.note(f"failed deliveries not listed: {_error_message(exc, pull.params.max_network_retries)}")
        return
    if DELIVERY_FAILED in EVENTS_SCHEMA.names:
        for row in rows:
            row[DELIVERY_FAILED] = row["event_id"] in failed
    counts.note(f"failed webhook deliveries (delivery_success=false): {len(failed)} events")
