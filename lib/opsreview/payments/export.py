"""Event exports: JSONL of Stripe event objects (plain or gzip), or a flat CSV with a column map.

:func:`read_export` reads one file into ``payment_events`` rows (deduplicated on event id)
and its ``payment_ingest`` row. A line that is not usable is counted under its reason
(:data:`opsreview.payments.normalize.REASONS`), never a crash; only a file that cannot be
opened at all raises :class:`opsreview.exceptions.SourceError` naming it.

JSON numbers are parsed as :class:`decimal.Decimal`, never as floats: ``12.5`` as an amount
is a ``float_amount``, ``1250`` is 1250 minor units. A CSV row is turned into the event object
it stands for and goes through the same :func:`~opsreview.payments.normalize.event_row`;
``amount_unit: major`` converts ``12.34`` with the currency's exponent, exactly. A CSV column
mapped as ``card_number`` (a full card number in an export: it happens) is reduced to BIN +
last four on reading; the number itself goes nowhere.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from opsreview.exceptions import SourceError
from opsreview.payments.models import EVENTS_SCHEMA
from opsreview.payments.normalize import (
    Counts,
    FloatAmount,
    card_parts,
    dedupe,
    event_row,
    object_type_of,
    stable_id,
    to_minor,
    utc,
)
from opsreview.payments.params import ExportSource

_GZIP_MAGIC = b"\x1f\x8b"
# CSV columns a map may name besides the payment_events columns.
CSV_EXTRA = frozenset({"card_number"})
CSV_COLUMNS = frozenset(EVENTS_SCHEMA.names) - {"ts", "source"} | CSV_EXTRA
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def _open(path: Path) -> IO[bytes]:
    """The file as bytes, gunzipped when it starts as gzip does (whatever its name)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise SourceError("payments", f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise SourceError("payments", f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _lines(stream: IO[bytes], counts: Counts, path: Path) -> Iterator[bytes]:
    """The file's lines; a damaged or cut gzip stream ends them with a note."""
    try:
        yield from stream
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        counts.note(f"the file ends early ({type(exc).__name__}): what came before it was read")
    except OSError as exc:
        raise SourceError("payments", f"{path}: read failed ({exc.strerror or type(exc).__name__})") from None


def read_export(
    path: Path, source: ExportSource, now: datetime, order_key: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One export file as ``payment_events`` rows (deduplicated) and its ``payment_ingest`` row."""
    path = Path(path)
    now = utc(now)
    label = f"export:{path.name}"
    counts = Counts(location=str(path))
    if path.is_dir():
        raise SourceError("payments", f"{path}: is a folder, not an export file")
    stream = _open(path)
    try:
        if source.format == "csv":
            rows = _read_csv(stream, source, path, label, now, order_key, counts)
        else:
            rows = _read_jsonl(stream, path, label, now, order_key, counts)
    finally:
        stream.close()
    rows, duplicates = dedupe(rows)
    counts.duplicates += duplicates
    counts.rows = len(rows)
    return rows, counts.ingest_row(label, now)


# -- JSONL ------------------------------------------------------------------------------


def _read_jsonl(
    stream: IO[bytes], path: Path, label: str, now: datetime, order_key: str, counts: Counts
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for raw in _lines(stream, counts, path):
        line = raw.strip()
        if not line:
            continue
        try:
            value = json.loads(line.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, ValueError, RecursionError):
            counts.refuse("malformed")
            continue
        # A saved list page ({"object": "list", "data": [...]}) holds events too.
        events = value["data"] if isinstance(value, dict) and value.get("object") == "list" else [value]
        if not isinstance(events, list):
            counts.refuse("malformed")
            continue
        for event in events:
            row, reason = event_row(event, label, now, order_key)
            counts.add(row, reason)
            if row is not None:
                rows.append(row)
    return rows


# -- CSV --------------------------------------------------------------------------------


def _column_map(source: ExportSource, header: list[str], path: Path) -> dict[str, str]:
    unknown = sorted(set(source.columns) - CSV_COLUMNS)
    if unknown:
        raise SourceError("payments", f"{path}: columns maps unknown payment_events column(s) {unknown}")
    mapping: dict[str, str] = {}
    for target in sorted(CSV_COLUMNS):
        column = source.columns.get(target, target)
        if column in header:
            mapping[target] = column
    missing = [c for c in ("type", "created", "amount", "currency") if c not in mapping]
    if missing:
        raise SourceError("payments", f"{path}: no column for {missing} (map them in payments.exports[].columns)")
    return mapping


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    text = value.strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _event_from_csv(
    record: Mapping[str, str | None], mapping: Mapping[str, str], source: ExportSource, order_key: str
) -> dict[str, Any] | str:
    """The Stripe event object a flat row stands for, or a refusal reason."""

    def get(name: str) -> str | None:
        column = mapping.get(name)
        value = record.get(column) if column else None
        value = value.strip() if isinstance(value, str) else None
        return value or None

    event_type = get("type")
    currency = (get("currency") or "").lower()
    amount_text = get("amount")
    amount: Any = amount_text
    if amount_text is not None and source.amount_unit == "major":
        if not currency:
            return "malformed"
        try:
            amount = to_minor(amount_text, currency)
        except FloatAmount:
            return "float_amount"
        except ValueError:
            return "malformed"
    card_bin, card_last4 = get("card_bin"), get("card_last4")
    number = get("card_number")
    if number is not None:
        number_bin, number_last4 = card_parts(number)
        card_bin, card_last4 = card_bin or number_bin, card_last4 or number_last4
    kind = object_type_of(event_type or "") or "other"
    obj: dict[str, Any] = {
        "object": kind,
        "id": get("object_id"),
        "amount": amount,
        "amount_refunded": get("amount_refunded"),
        "currency": currency or None,
        "status": get("status"),
        "customer": get("customer"),
        "metadata": {order_key: get("order_id")} if get("order_id") else {},
        "payment_intent": get("payment_intent"),
        "charge": get("charge"),
        "failure_code": get("failure_code"),
        "last_payment_error": {"decline_code": get("decline_code")} if get("decline_code") else None,
        "payment_method_details": {
            "card": {
                "brand": get("card_brand"),
                "country": get("card_country"),
                "iin": card_bin,
                "last4": card_last4,
                "three_d_secure": {"result": get("three_ds")} if get("three_ds") else None,
            }
        },
    }
    if kind == "payment_intent":
        obj["id"] = obj["id"] or get("payment_intent")
        obj["latest_charge"] = get("charge")
    elif kind == "charge":
        obj["id"] = obj["id"] or get("charge")
    if get("outcome"):
        obj["outcome"] = {"type": get("outcome")}
    if kind == "payment_intent" and obj["amount_refunded"] is None:
        del obj["amount_refunded"]
    pending = get("pending_webhooks")
    event: dict[str, Any] = {
        "id": get("event_id"),
        "object": "event",
        "type": event_type,
        "created": get("created"),
        "data": {"object": obj},
        "livemode": _flag(get("livemode")),
        "pending_webhooks": int(pending) if pending is not None and pending.isdigit() else None,
        "api_version": get("api_version"),
        "request": {"idempotency_key": get("idempotency_key")},
    }
    if event["id"] is None:
        event["id"] = stable_id({k: v for k, v in record.items() if k is not None and k != mapping.get("card_number")})
    return event


def _read_csv(
    stream: IO[bytes],
    source: ExportSource,
    path: Path,
    label: str,
    now: datetime,
    order_key: str,
    counts: Counts,
) -> list[dict[str, Any]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    rows: list[dict[str, Any]] = []
    try:
        header = next(reader, None)
    except (csv.Error, EOFError, gzip.BadGzipFile, zlib.error, UnicodeError) as exc:
        raise SourceError("payments", f"{path}: no CSV header ({type(exc).__name__})") from None
    if not header:
        counts.note("empty file")
        return rows
    header = [h.strip() for h in header]
    mapping = _column_map(source, header, path)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error:
            counts.refuse("malformed")
            continue
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            counts.note(f"the file ends early ({type(exc).__name__}): what came before it was read")
            break
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header) or any("\ufffd" in f for f in fields):
            counts.refuse("malformed")
            continue
        event = _event_from_csv(dict(zip(header, fields, strict=True)), mapping, source, order_key)
        if isinstance(event, str):
            counts.refuse(event)
            continue
        row, reason = event_row(event, label, now, order_key)
        counts.add(row, reason)
        if row is not None:
            rows.append(row)
    return rows
