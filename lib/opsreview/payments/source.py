"""Sources of the payments area, pulled into the tables of :mod:`opsreview.payments.models`.

- ``payments_stripe``: the gateway's events API (official ``stripe`` SDK), the review day and
  its baseline days in one bounded pull; one part per local day (``stripe``).
- ``payments_exports``: JSONL/CSV event exports, one part per file and day.
- ``payments_app_db``: the app's own MongoDB collections (orders, payments, webhook events),
  read through the kernel's read-only gate (:mod:`opsreview.mongo`).
- ``payments_files``: the webhook endpoint's log, order exports, and the PCI scan of the log
  files named in ``payments.scan_logs`` (raw files: the store masks card numbers at rest, so
  only the raw file can tell that a full number was logged; the store keeps BIN + last four).

Events repeat across sources and deliveries: the review deduplicates on ``event_id``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opsreview.context import ReviewContext
from opsreview.exceptions import SourceError
from opsreview.masking import AtRest, mask_at_rest
from opsreview.payments import models
from opsreview.payments.normalize import get_path as _get_path
from opsreview.sources import SourceResult, input_files, register_source
from opsreview.store import Store, part_key

for _table in models.SCHEMAS:
    mask_at_rest(_table, AtRest())  # every text column masked before it is written


def pull_window(ctx: ReviewContext) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the first baseline day to the end of the review day (UTC)."""
    first = ctx.params.day_window(ctx.baseline_days[0])[0] if ctx.baseline_days else ctx.window[0]
    return first, ctx.window[1]


def _day(ts: Any, tz: ZoneInfo) -> dt.date:
    assert isinstance(ts, dt.datetime)
    return ts.astimezone(tz).date()


def write_by_day(store: Store, table: str, rows: list[dict[str, Any]], part: str, tz: ZoneInfo) -> int:
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[_day(row["ts"], tz)].append(row)
    for day, day_rows in by_day.items():
        store.write_part(table, day, part, models.to_arrow(table, day_rows))
    return len(rows)


def _ingest(store: Store, day: dt.date, part: str, row: Mapping[str, Any]) -> None:
    store.write_part(models.INGEST, day, part, models.to_arrow(models.INGEST, [dict(row)]))


@register_source(
    "payments_stripe", area="payments", table=models.EVENTS, configured=lambda p: p.payments.stripe is not None
)
def pull_stripe(ctx: ReviewContext) -> SourceResult:
    from opsreview.payments.stripe_source import read_events

    settings = ctx.params.payments
    assert settings.stripe is not None
    start, end = pull_window(ctx)
    now = dt.datetime.now(dt.UTC)
    rows, ingest = read_events(settings.stripe, start, end, now, settings.order_metadata_key)
    written = write_by_day(ctx.store, models.EVENTS, rows, "stripe", ctx.params.tz)
    _ingest(ctx.store, ctx.day, "stripe", {"ts": now, "source": "stripe", **ingest})
    return SourceResult("payments_stripe", rows=written)


@register_source(
    "payments_exports", area="payments", table=models.EVENTS, configured=lambda p: bool(p.payments.exports)
)
def pull_exports(ctx: ReviewContext) -> SourceResult:
    from opsreview.payments.export import read_export

    settings = ctx.params.payments
    base = ctx.params.source_file.parent
    now = dt.datetime.now(dt.UTC)
    written = 0
    for export in settings.exports:
        for path in input_files(export.paths, base, "payments_exports", "payments.exports"):
            rows, ingest = read_export(path, export, now, settings.order_metadata_key)
            key = part_key("export", str(path))
            written += write_by_day(ctx.store, models.EVENTS, rows, key, ctx.params.tz)
            _ingest(ctx.store, ctx.day, key, {"ts": now, "source": f"export:{path.name}", **ingest})
    return SourceResult("payments_exports", rows=written)


@register_source(
    "payments_app_db", area="payments", table=models.ORDERS, configured=lambda p: p.payments.app_db is not None
)
def pull_app_db(ctx: ReviewContext) -> SourceResult:
    from opsreview.payments.app_db import read_app_db

    settings = ctx.params.payments
    assert settings.app_db is not None
    start, end = pull_window(ctx)
    now = dt.datetime.now(dt.UTC)
    tables = read_app_db(settings.app_db, start, end, now)
    for row in tables.get(models.INGEST, []):
        _ingest(ctx.store, ctx.day, part_key("app_db", str(row.get("location"))), row)
    orders = tables.get(models.ORDERS, [])
    if orders:  # the orders' state as read now: the review day's part
        ctx.store.write_part(models.ORDERS, ctx.day, "app_db", models.to_arrow(models.ORDERS, orders))
    for table in (models.EVENTS, models.DELIVERIES):
        write_by_day(ctx.store, table, tables.get(table, []), "app_db", ctx.params.tz)
    return SourceResult("payments_app_db", rows=len(orders))


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            yield from handle
    except (OSError, EOFError) as exc:
        raise SourceError("payments_files", f"cannot read {path}: {exc}") from exc


class _Counted:
    """Lines passed through, counted."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = lines
        self.n = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.n += 1
            yield line


def read_orders_file(
    path: Path, fields: Mapping[str, str], paid: set[str], source: str
) -> tuple[list[dict[str, Any]], int]:
    """Order documents (JSON lines) → payment_orders rows; returns the rows and the bad lines."""
    rows, bad = [], 0
    for line in _lines(path):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            amount = _get_path(doc, fields.get("amount", "amount"))
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise ValueError("amount is not an integer of minor units")
            updated = dt.datetime.fromisoformat(
                str(_get_path(doc, fields.get("updated", "updated"))).replace("Z", "+00:00")
            )
            status = str(_get_path(doc, fields.get("status", "status")))
        except (ValueError, TypeError):
            bad += 1
            continue
        rows.append(
            {
                "ts": updated.astimezone(dt.UTC),
                "source": source,
                "order_id": str(_get_path(doc, fields.get("order_id", "_id"))),
                "status": status,
                "paid": status in paid,
                "amount": amount,
                "currency": str(_get_path(doc, fields.get("currency", "currency")) or "").lower() or None,
                "payment_intent": _get_path(doc, fields.get("payment_intent", "payment_intent")),
                "updated": updated.astimezone(dt.UTC),
            }
        )
    return rows, bad


@register_source(
    "payments_files",
    area="payments",
    table=models.DELIVERIES,
    configured=lambda p: bool(p.payments.webhook_logs or p.payments.orders_files or p.payments.scan_logs),
)
def pull_files(ctx: ReviewContext) -> SourceResult:
    from opsreview.payments.pci import scan_lines
    from opsreview.payments.webhook_log import read_webhook_log

    settings = ctx.params.payments
    base = ctx.params.source_file.parent
    now = dt.datetime.now(dt.UTC)
    tz = ctx.params.tz
    deliveries = 0
    for path in input_files(settings.webhook_logs, base, "payments_files", "payments.webhook_logs"):
        rows, counts = read_webhook_log(path, f"webhook_log:{path.name}")
        key = part_key("webhooks", str(path))
        deliveries += write_by_day(ctx.store, models.DELIVERIES, rows, key, tz)
        _ingest(
            ctx.store,
            ctx.day,
            key,
            {
                "ts": now,
                "source": f"webhook_log:{path.name}",
                "location": str(path),
                "rows": len(rows),
                "malformed": counts.get("malformed", 0),
                "note": f"read error: {counts['error']}" if counts.get("error") else None,
            },
        )
    orders: list[dict[str, Any]] = []
    for spec in settings.orders_files:
        for path in input_files(spec.paths, base, "payments_files", "payments.orders_files"):
            rows, bad = read_orders_file(path, spec.fields, set(spec.paid_statuses), f"orders:{path.name}")
            orders.extend(rows)
            key = part_key("orders", str(path))
            _ingest(
                ctx.store,
                ctx.day,
                key,
                {
                    "ts": now,
                    "source": f"orders:{path.name}",
                    "location": str(path),
                    "rows": len(rows),
                    "malformed": bad,
                },
            )
    if orders:
        ctx.store.write_part(models.ORDERS, ctx.day, "orders_files", models.to_arrow(models.ORDERS, orders))
    exposures: list[dict[str, Any]] = []
    scanned, missing, lines = 0, [], 0
    for pattern in settings.scan_logs:  # a missing path is named; the others are still scanned
        try:
            found = input_files([pattern], base, "payments_files", "payments.scan_logs")
        except SourceError as exc:
            missing.append(str(exc))
            continue
        for path in found:
            counter = _Counted(_lines(path))
            for row in scan_lines(counter, str(path), allow_test_cards=settings.allow_test_cards):
                exposures.append({**row, "ts": now, "source": "scan"})
            scanned += 1
            lines += counter.n
    ctx.store.write_part(models.EXPOSURES, ctx.day, "scan", models.to_arrow(models.EXPOSURES, exposures))
    if settings.scan_logs:
        note = f"PCI scan: {scanned} file(s), {lines} line(s)" + (
            f"; not found: {'; '.join(missing)}" if missing else ""
        )
        _ingest(
            ctx.store,
            ctx.day,
            "scan",
            {"ts": now, "source": "scan", "location": "payments.scan_logs", "rows": lines, "note": note},
        )
    return SourceResult("payments_files", rows=deliveries)
