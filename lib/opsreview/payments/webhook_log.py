"""The app's own webhook log: what its Stripe webhook endpoint did with each delivery.

The app writes one JSON line per delivery (winston-style; the project's Express test app,
``tests/express_app/server.js``, writes exactly this)::

    {"timestamp": "2026-03-29T10:15:02.123Z", "level": "info", "message": "stripe webhook",
     "event_id": "evt_...", "type": "payment_intent.succeeded", "outcome": "handled",
     "http_status": 200, "event_created": 1774779300, "lag_ms": 2123}

``outcome`` is ``handled``, ``duplicate`` (an event id handled before: answered 200, not
processed again), ``signature_failed``, ``stale`` (a correct signature whose timestamp is
older than the tolerance, 300 s by default) or ``error``; ``reason`` (optional) says why a
delivery failed. On ``signature_failed`` and ``stale`` the event id, type and created are what
the unverified body claims. ``timestamp`` is when the app answered (ISO 8601 with an offset, or
an epoch number); ``lag_ms`` is that minus ``event_created`` (computed from the two when absent).

:func:`read_webhook_log` turns such a file (plain or gzip, rotated files one at a time) into rows
of ``payment_webhook_deliveries``. It never raises for bad input: lines of other messages
(the rest of a winston log, text lines) are skipped and counted; lines of this message that
cannot be used (broken JSON, no time, an unknown outcome) are counted as malformed; an
unreadable or damaged file is reported in ``counts["error"]`` with the lines read before the
damage kept. Text fields are masked (:func:`opsreview.masking.masked`): a delivery that failed
verification carries whatever its sender put there.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opsreview.masking import masked

__all__ = ["MESSAGE", "OUTCOMES", "read_webhook_log"]

MESSAGE = "stripe webhook"
OUTCOMES = frozenset({"handled", "duplicate", "signature_failed", "stale", "error"})
MAX_TEXT = 300  # characters kept of a text field (one line)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
MAX_LINE = 1 << 20  # a longer line is not a delivery record


def plausible(stamp: dt.datetime) -> dt.datetime | None:
    return stamp if EARLIEST <= stamp < LATEST else None


def epoch_datetime(value: float) -> dt.datetime | None:
    """An epoch in s, ms, µs or ns (told by magnitude), or None."""
    if not math.isfinite(value):
        return None
    for below, scale in ((1e11, 1e6), (1e14, 1e3), (1e17, 1.0), (1e20, 1e-3)):
        if abs(value) < below:
            try:
                return plausible(
                    dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=round(value * scale))
                )
            except OverflowError:
                return None
    return None


class _Lines:
    """The lines of a plain or gzip file; a read error ends the lines and is kept in ``error``
    (what was read before it is kept)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.error: str | None = None

    def __iter__(self) -> Iterator[str]:
        opener = gzip.open if self.path.suffix == ".gz" else open
        try:
            with opener(self.path, "rt", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    self.lines += 1
                    yield line[:MAX_LINE]
        except (OSError, EOFError, zlib.error) as exc:
            self.error = f"cannot read {self.path.name}: {type(exc).__name__}: {exc}"


def _time(value: object) -> dt.datetime | None:
    """An ISO 8601 text with an offset, or an epoch number (s/ms/us/ns); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return epoch_datetime(float(value))
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if stamp.tzinfo is None:  # a local time of an unknown zone: not guessed
            return None
        return plausible(stamp.astimezone(dt.UTC))
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())[:MAX_TEXT]
    return masked(text) if text else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _row(entry: dict[str, Any], source: str) -> dict[str, Any] | None:
    """The row of one line of this message, or None when it cannot be used."""
    ts = _time(entry.get("timestamp"))
    outcome = entry.get("outcome")
    if ts is None or outcome not in OUTCOMES:
        return None
    status = entry.get("http_status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        return None
    created_raw = entry.get("event_created")
    created = None if created_raw is None else _time(created_raw)
    if created_raw is not None and created is None:
        return None
    lag_ms = _number(entry.get("lag_ms"))
    if lag_ms is not None:
        lag_s: float | None = lag_ms / 1000
    elif created is not None:
        lag_s = (ts - created).total_seconds()
    else:
        lag_s = None
    return {
        "ts": ts,
        "source": source,
        "event_id": _text(entry.get("event_id")),
        "type": _text(entry.get("type")),
        "outcome": outcome,
        "http_status": status,
        "event_created": created,
        "lag_s": lag_s,
        "detail": _text(entry.get("reason")),
    }


def read_webhook_log(path: Path, source: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of ``payment_webhook_deliveries`` from the app's webhook log ``path`` (plain or
    gzip), each with ``source``; and the counts: ``lines`` (non-blank lines read), ``rows``,
    ``malformed`` (lines of this message that could not be used), ``skipped`` (lines of other
    messages), ``error`` (the file could not be read, or only in part; else None)."""
    rows: list[dict[str, Any]] = []
    malformed = skipped = 0
    reader = _Lines(path)
    for line in reader:
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            # a line of this message cut short or garbled is malformed; anything else is not ours
            if f'"{MESSAGE}"' in line:
                malformed += 1
            else:
                skipped += 1
            continue
        if entry.get("message") != MESSAGE:
            skipped += 1
            continue
        row = _row(entry, source)
        if row is None:
            malformed += 1
        else:
            rows.append(row)
    counts: dict[str, Any] = {
        "lines": reader.lines,
        "rows": len(rows),
        "malformed": malformed,
        "skipped": skipped,
        "error": reader.error,
    }
    return rows, counts
