"""Webhook health, from the app's side: signatures, delivery outcomes, lag, duplicates, and the
endpoint's answers in the access log.

Signature scheme (Stripe): header ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``
(other schemes such as ``v0`` are ignored); the signature is HMAC-SHA256 keyed by the
endpoint's secret over ``"<t>.<raw body>"``. :func:`verify_signature` behaves as the official
SDKs' ``constructEvent``/``verify_header``: the signature first (constant-time, any ``v1``
matching is enough: Stripe sends several while a secret is rolled), then the age; a ``t`` in
the future is accepted as the SDKs accept it (the tolerance bounds replays, not clock skew).

Tables: ``payment_webhook_deliveries`` (what the handler did with each delivery) and
``payment_events`` (``pending_webhooks``: deliveries not yet acknowledged).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import tzinfo

import numpy as np
import pandas as pd

from opsreview.payments.kpis import local_period

__all__ = [
    "FAILED_OUTCOMES",
    "delivery_summary",
    "endpoint_answers",
    "handled_twice",
    "outcomes_per_period",
    "pending_deliveries",
    "verify_signature",
]

Zone = str | tzinfo
OUTCOMES = ("handled", "duplicate", "signature_failed", "stale", "error")
FAILED_OUTCOMES = frozenset({"signature_failed", "stale", "error"})


def verify_signature(payload: bytes, header: str, secret: str, tolerance_s: int = 300, now: float | None = None) -> str:
    """``"ok"``, ``"no_signature"`` (no header, or no ``v1`` in it), ``"bad_signature"`` (no
    ``v1`` matches, or no usable ``t``) or ``"stale"`` (a valid signature whose ``t`` is more
    than ``tolerance_s`` seconds old; 0 turns the age check off). Never logs, raises with or
    returns the secret."""
    if not header or not header.strip():
        return "no_signature"
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value.strip())
            except ValueError:
                timestamp = None
        elif key == "v1":
            signatures.append(value.strip())
    if not signatures:
        return "no_signature"
    if timestamp is None:
        return "bad_signature"
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # compare every candidate (no early exit on the first match)
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.lower().encode("ascii", "replace"))
    if not matched:
        return "bad_signature"
    current = time.time() if now is None else now
    if tolerance_s > 0 and timestamp < current - tolerance_s:
        return "stale"
    return "ok"


def _failed(deliveries: pd.DataFrame) -> pd.Series:
    """A delivery failed: an outcome of :data:`FAILED_OUTCOMES` or a non-2xx answer."""
    status = pd.to_numeric(deliveries["http_status"], errors="coerce")
    non_2xx = status.notna() & ~status.between(200, 299)
    return deliveries["outcome"].isin(FAILED_OUTCOMES) | non_2xx


def outcomes_per_period(deliveries: pd.DataFrame, tz: Zone, freq: str = "h") -> pd.DataFrame:
    """Deliveries per local hour (``freq="h"``) or day (``"D"``) by outcome.

    Columns: ``period`` (local start, tz-aware), ``deliveries``, ``handled``, ``duplicate``,
    ``signature_failed``, ``stale``, ``error``, ``other`` (an outcome not listed), ``failed``
    (failed outcome or non-2xx answer), ``failure_rate`` (failed ÷ deliveries)."""
    columns = ["period", "deliveries", *OUTCOMES, "other", "failed", "failure_rate"]
    if deliveries.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "period": local_period(deliveries["ts"], tz, freq),
            "outcome": deliveries["outcome"].where(deliveries["outcome"].isin(OUTCOMES), "other"),
            "failed": _failed(deliveries).astype(int),
        }
    )
    counts = pd.crosstab(frame["period"], frame["outcome"])
    out = pd.DataFrame(index=counts.index)
    out["deliveries"] = counts.sum(axis=1)
    for name in (*OUTCOMES, "other"):
        out[name] = counts.get(name, 0)
    out["failed"] = frame.groupby("period")["failed"].sum()
    out["failure_rate"] = out["failed"] / out["deliveries"]
    return out.reset_index().rename(columns={"index": "period"})[columns]


def handled_twice(deliveries: pd.DataFrame) -> pd.DataFrame:
    """Events the app handled more than once (outcome ``handled`` for the same event id: its
    idempotency check let a redelivery through). Columns: ``event_id``, ``type``, ``handled``
    (times), ``first``, ``last`` (UTC)."""
    handled = deliveries[deliveries["outcome"] == "handled"]
    if handled.empty:
        return pd.DataFrame(columns=["event_id", "type", "handled", "first", "last"])
    grouped = handled.groupby("event_id", sort=True).agg(
        type=("type", "first"), handled=("ts", "size"), first=("ts", "min"), last=("ts", "max")
    )
    grouped = grouped[grouped["handled"] > 1].reset_index()
    return grouped[["event_id", "type", "handled", "first", "last"]].reset_index(drop=True)


def pending_deliveries(events: pd.DataFrame) -> pd.DataFrame:
    """Events still waiting for an endpoint's acknowledgement (``pending_webhooks`` > 0 in the
    event's latest record). Columns: ``event_id``, ``type``, ``ts``, ``pending_webhooks``."""
    columns = ["event_id", "type", "ts", "pending_webhooks"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    latest = events.sort_values("ts", kind="stable").drop_duplicates("event_id", keep="last")
    pending = pd.to_numeric(latest["pending_webhooks"], errors="coerce").fillna(0)
    out = latest.loc[pending > 0, columns].copy()
    out["pending_webhooks"] = out["pending_webhooks"].astype("int64")
    return out.sort_values("ts").reset_index(drop=True)


def _lag(deliveries: pd.DataFrame) -> pd.Series:
    """Processing lag (s) of handled deliveries: ``lag_s``, or ts - event_created where missing."""
    handled = deliveries[deliveries["outcome"] == "handled"]
    lag = pd.to_numeric(handled["lag_s"], errors="coerce")
    derived = (
        pd.to_datetime(handled["ts"], utc=True) - pd.to_datetime(handled["event_created"], utc=True)
    ).dt.total_seconds()
    return lag.fillna(derived).dropna()


def delivery_summary(deliveries: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row: ``deliveries``, ``failed``, ``failure_rate``, ``signature_failed``, ``stale``,
    ``errors``, ``non_2xx``, ``duplicates_skipped`` (outcome duplicate: redeliveries the app
    recognised), ``handled_twice`` (events handled more than once), ``lag_p50_s``,
    ``lag_p95_s``, ``lag_max_s`` (handled deliveries; NaN without any), ``pending_events``
    and ``pending_webhooks`` (from ``events``: events whose latest record still has pending
    deliveries, and their sum)."""
    n = len(deliveries)
    failed = int(_failed(deliveries).sum()) if n else 0
    status = pd.to_numeric(deliveries["http_status"], errors="coerce")
    lag = _lag(deliveries) if n else pd.Series(dtype=float)
    pending = pending_deliveries(events) if events is not None else pd.DataFrame(columns=["pending_webhooks"])
    row = {
        "deliveries": n,
        "failed": failed,
        "failure_rate": failed / n if n else np.nan,
        "signature_failed": int((deliveries["outcome"] == "signature_failed").sum()),
        "stale": int((deliveries["outcome"] == "stale").sum()),
        "errors": int((deliveries["outcome"] == "error").sum()),
        "non_2xx": int((status.notna() & ~status.between(200, 299)).sum()),
        "duplicates_skipped": int((deliveries["outcome"] == "duplicate").sum()),
        "handled_twice": len(handled_twice(deliveries)),
        "lag_p50_s": float(lag.quantile(0.5)) if len(lag) else np.nan,
        "lag_p95_s": float(lag.quantile(0.95)) if len(lag) else np.nan,
        "lag_max_s": float(lag.max()) if len(lag) else np.nan,
        "pending_events": len(pending),
        "pending_webhooks": int(pending["pending_webhooks"].sum()) if len(pending) else 0,
    }
    return pd.DataFrame([row])


def _route_path(path: pd.Series) -> pd.Series:
    return path.astype("string").str.split("?", n=1).str[0].str.rstrip("/").replace("", "/")


def endpoint_answers(
    deliveries: pd.DataFrame,
    access: pd.DataFrame,
    route: str = "/api/webhooks/stripe",
    tz: Zone = "UTC",
    freq: str = "h",
    method: str | None = "POST",
) -> pd.DataFrame:
    """The webhook route's answers in the access log, next to what the handler recorded, per
    local hour (or day with ``freq="D"``).

    ``access`` has ``ts``, ``method``, ``path`` (query strings and a trailing slash ignored),
    ``status``. Columns: ``period``, ``requests`` (to the route), ``answered_2xx``,
    ``non_2xx``, ``status_4xx``, ``status_5xx``, ``statuses`` (e.g. ``"400×3, 503×1"``, the
    non-2xx ones), ``deliveries`` (rows the handler recorded), ``delivery_failures``
    (recorded as failed). Periods with requests or deliveries only are both shown."""
    columns = [
        "period",
        "requests",
        "answered_2xx",
        "non_2xx",
        "status_4xx",
        "status_5xx",
        "statuses",
        "deliveries",
        "delivery_failures",
    ]
    want = route.split("?", 1)[0].rstrip("/") or "/"
    hits = access[_route_path(access["path"]) == want] if len(access) else access
    if method is not None and len(hits):
        hits = hits[hits["method"].astype("string").str.upper() == method.upper()]
    status = pd.to_numeric(hits["status"], errors="coerce")
    req = pd.DataFrame(
        {
            "period": local_period(hits["ts"], tz, freq) if len(hits) else pd.Series(dtype="datetime64[ns, UTC]"),
            "status": status,
        }
    )
    req["ok"] = req["status"].between(200, 299)
    req["non_2xx"] = ~req["ok"]
    req["s4"] = req["status"].between(400, 499)
    req["s5"] = req["status"].between(500, 599)
    by = req.groupby("period").agg(
        requests=("status", "size"),
        answered_2xx=("ok", "sum"),
        non_2xx=("non_2xx", "sum"),
        status_4xx=("s4", "sum"),
        status_5xx=("s5", "sum"),
    )
    bad = req[req["non_2xx"]]
    statuses = bad.groupby("period")["status"].apply(
        lambda s: ", ".join(
            f"{'?' if pd.isna(code) else int(code)}×{count}"
            for code, count in s.value_counts(dropna=False).sort_index().items()
        )
    )
    by["statuses"] = pd.Series([statuses.get(p, "") for p in by.index], index=by.index, dtype=object)
    if len(deliveries):
        dl = pd.DataFrame({"period": local_period(deliveries["ts"], tz, freq), "failed": _failed(deliveries)})
        recorded = dl.groupby("period").agg(deliveries=("failed", "size"), delivery_failures=("failed", "sum"))
    else:
        recorded = pd.DataFrame(columns=["deliveries", "delivery_failures"])
    out = by.join(recorded, how="outer")
    if out.empty:
        return pd.DataFrame(columns=columns)
    for col in ("requests", "answered_2xx", "non_2xx", "status_4xx", "status_5xx", "deliveries", "delivery_failures"):
        out[col] = pd.to_numeric(out[col], errors="coerce").fillna(0).astype("int64")
    out["statuses"] = [s if isinstance(s, str) else "" for s in out["statuses"]]
    out.index.name = "period"
    return out.reset_index()[columns].sort_values("period").reset_index(drop=True)
