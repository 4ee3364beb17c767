"""Webhook health, from the app's side: signatures, delivery outcomes, lag, duplicates, and the
endpoint's answers in the access log.

Signature scheme (Stripe): header ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``
(other schemes such as ``v0`` are ignored); the signature is HMAC-SHA256 keyed by the
endpoint's secret over ``"<t>.<raw body>"``. :func:`verify_signature` behaves as the official
SDKs' ``constructEvent``/``verify_header``: the signature first (constant-time, any ``v1``
matching is enough: Stripe sends several while a secret is rolled), then the age; a ``t`` in
the future is accepted as the SDKs accept it (the tolerance bounds replays, not clock skew).

Tables: ``payment_webhook_deliveries`` (what the handler did with each delivery) and
``payment_events`` (``pending_webhooks``: deliveries not yet acknowledged when the record was
written, a snapshot: see :func:`pending_deliveries`).
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


def failure_window(deliveries: pd.DataFrame, gap_minutes: float = 10.0) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The outage in the deliveries: the run of failed deliveries, each at most ``gap_minutes``
    after the one before, that holds the most failures (first and last failure); none without."""
    if deliveries.empty:
        return None
    failed = pd.to_datetime(deliveries.loc[_failed(deliveries), "ts"], utc=True).sort_values().reset_index(drop=True)
    if failed.empty:
        return None
    run_id = (failed.diff() > pd.Timedelta(minutes=gap_minutes)).cumsum()
    biggest = run_id.value_counts().sort_index(kind="stable").idxmax()  # the earliest of equal runs
    run = failed[run_id == biggest]
    return run.iloc[0], run.iloc[-1]


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


def _acknowledged(deliveries: pd.DataFrame) -> pd.Series:
    """A delivery the endpoint acknowledged: outcome ``handled`` or ``duplicate`` and not failed
    (a ``handled`` delivery answered 503 is not an acknowledgement: the gateway retries it)."""
    return deliveries["outcome"].isin(["handled", "duplicate"]) & ~_failed(deliveries)


def pending_deliveries(events: pd.DataFrame, deliveries: pd.DataFrame | None = None) -> pd.DataFrame:
    """Events still waiting for an endpoint's acknowledgement (``pending_webhooks`` > 0 in the
    event's latest record). Columns: ``event_id``, ``type``, ``ts``, ``pending_webhooks``.

    ``pending_webhooks`` is a snapshot taken when the record was written (an export's count
    stays at what it was then), so with ``deliveries`` an event that has an acknowledged
    delivery (``handled`` or ``duplicate``, not failed, see :func:`_acknowledged`) at or after
    its latest record's ``ts`` is left out, whatever its count said. The whole event is left
    out: deliveries to other endpoints are not in this app's ``deliveries`` and cannot be told
    apart. Without ``deliveries`` the snapshot is taken at its word."""
    columns = ["event_id", "type", "ts", "pending_webhooks"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    latest = events.sort_values("ts", kind="stable").drop_duplicates("event_id", keep="last")
    pending = pd.to_numeric(latest["pending_webhooks"], errors="coerce").fillna(0)
    out = latest.loc[pending > 0, columns].copy()
    if deliveries is not None and len(deliveries) and len(out):
        acked = deliveries[_acknowledged(deliveries)]
        latest_ack = pd.to_datetime(acked["ts"], utc=True).groupby(acked["event_id"]).max()
        ack = pd.to_datetime(out["event_id"].map(latest_ack), utc=True)
        later = ack.notna() & (ack >= pd.to_datetime(out["ts"], utc=True))
        out = out[~later]
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


def _per_event(deliveries: pd.DataFrame) -> pd.DataFrame:
    """Per event: ``failed`` (any failed delivery), ``first_failed`` (UTC), ``recovered`` (an
    acknowledged delivery at or after the first failed one), ``delay_s`` (first failed
    delivery → first acknowledgement after it). A delivery without an event id cannot be
    matched with another: it is an event of its own."""
    ts = pd.to_datetime(deliveries["ts"], utc=True)
    ids = deliveries["event_id"].astype(object)
    key = ids.where(ids.notna(), pd.Series([f"\0row{i}" for i in range(len(deliveries))], index=deliveries.index))
    frame = pd.DataFrame({"key": key, "ts": ts, "failed": _failed(deliveries), "ack": _acknowledged(deliveries)})
    first_failed = frame[frame["failed"]].groupby("key")["ts"].min()
    per = pd.DataFrame(index=pd.Index(frame["key"].unique(), name="key"))
    per["failed"] = per.index.isin(first_failed.index)
    per["first_failed"] = first_failed.reindex(per.index)
    acks = frame[frame["ack"]].assign(since=lambda f: f["key"].map(first_failed))
    after = acks[acks["since"].notna() & (acks["ts"] >= acks["since"])]
    first_ack = after.groupby("key")["ts"].min()
    per["recovered"] = per.index.isin(first_ack.index)
    per["delay_s"] = (first_ack.reindex(per.index) - per["first_failed"]).dt.total_seconds()
    return per


def delivery_summary(deliveries: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row: ``deliveries``, ``failed`` (failed deliveries: retries count each time),
    ``events_delivered`` (distinct event ids delivered), ``events_failed`` (of them, those
    with at least one failed delivery), ``events_never_acknowledged`` (failed, and no
    acknowledged delivery, ``handled`` or ``duplicate`` answered 2xx, at or after their first
    failed one), ``failure_rate`` (events_failed ÷ events_delivered: per event, not per
    retry), ``max_delivery_delay_s`` (events that failed then were acknowledged: the longest
    time from the first failed delivery to the first acknowledgement after it; NaN without
    any), ``signature_failed``, ``stale``, ``errors``, ``non_2xx``, ``duplicates_skipped``
    (outcome duplicate: redeliveries the app recognised), ``handled_twice`` (events handled
    more than once), ``lag_p50_s``, ``lag_p95_s``, ``lag_max_s`` (handled deliveries; NaN
    without any), ``pending_events`` and ``pending_webhooks`` (from ``events``, see
    :func:`pending_deliveries`: events whose latest record still has pending deliveries and
    no acknowledged delivery in ``deliveries`` since, and their sum).

    A delivery without an event id counts as an event of its own (it cannot be matched with
    a later success, so a failed one counts as never acknowledged)."""
    n = len(deliveries)
    failed = int(_failed(deliveries).sum()) if n else 0
    status = pd.to_numeric(deliveries["http_status"], errors="coerce")
    lag = _lag(deliveries) if n else pd.Series(dtype=float)
    per = _per_event(deliveries) if n else pd.DataFrame(columns=["failed", "recovered", "delay_s"])
    n_events = len(per)
    events_failed = int(per["failed"].sum()) if n_events else 0
    delays = per.loc[per["failed"].astype(bool) & per["recovered"].astype(bool), "delay_s"].dropna() if n_events else []
    pending = (
        pending_deliveries(events, deliveries) if events is not None else pd.DataFrame(columns=["pending_webhooks"])
    )
    row = {
        "deliveries": n,
        "failed": failed,
        "events_delivered": n_events,
        "events_failed": events_failed,
        "events_never_acknowledged": int((per["failed"].astype(bool) & ~per["recovered"].astype(bool)).sum())
        if n_events
        else 0,
        "failure_rate": events_failed / n_events if n_events else np.nan,
        "max_delivery_delay_s": float(max(delays)) if len(delays) else np.nan,
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
    (recorded as failed), ``unrecorded_non_2xx`` (the route's non-2xx answers beyond the
    failures the handler recorded in the period, never below 0: answers no handler line
    accounts for, such as a proxy's 502 while the app is down). Periods with requests or
    deliveries only are both shown. The count is per period, not matched request by request:
    a recorded failure the access log lacks hides an unrecorded answer of the same period."""
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
        "unrecorded_non_2xx",
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
    out["unrecorded_non_2xx"] = (out["non_2xx"] - out["delivery_failures"]).clip(lower=0).astype("int64")
    out["statuses"] = [s if isinstance(s, str) else "" for s in out["statuses"]]
    out.index.name = "period"
    return out.reset_index()[columns].sort_values("period").reset_index(drop=True)
