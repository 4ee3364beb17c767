"""Probe results from Prometheus, for teams that already run blackbox_exporter.

Reads ``probe_success``, ``probe_duration_seconds``, ``probe_http_status_code``,
``probe_ssl_earliest_cert_expiry`` and the per-phase ``probe_http_duration_seconds`` over a
review day with the HTTP API's ``query_range`` (one bounded request per metric, with a client
and a server-side timeout), and writes them to the ``probe_results`` table with
``source='prometheus'``: one ``http`` row per probe and step, one ``tls`` row per probe and
step where a certificate expiry is known. The probe name is the value of ``probe_label``
(``instance`` by default: the probed URL for a usual blackbox relabelling), masked like any
shown URL (an API key in a probed URL's query string shows as ``***``), and so are
Prometheus's error texts.

This is the ``prometheus`` source (area ``probes``), pulled only when ``probes.prometheus``
is set: its status and rows are its own, apart from those of the ``probes`` source.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd
import requests

from opsreview.context import ReviewContext
from opsreview.exceptions import SourceError
from opsreview.masking import masked
from opsreview.params import Params
from opsreview.probes.client import USER_AGENT
from opsreview.probes.models import TABLE, empty_frame, normalise_frame, to_arrow
from opsreview.probes.params import PrometheusSource, resolve_value
from opsreview.probes.source import PROMETHEUS_PART, part_rows
from opsreview.sources import SourceResult, register_source

log = logging.getLogger("opsreview")

PART = PROMETHEUS_PART
_PHASES = ("resolve", "connect", "tls", "processing")


def query_range(cfg: PrometheusSource, query: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """One ``query_range`` call; the matrix result, or a SourceError naming the server."""
    url = cfg.url.rstrip("/") + "/api/v1/query_range"
    headers = {k: resolve_value(v) or "" for k, v in cfg.headers.items()}
    headers["User-Agent"] = USER_AGENT
    params = {
        "query": query,
        "start": f"{start.timestamp():.3f}",
        "end": f"{end.timestamp():.3f}",
        "step": str(cfg.step_seconds),
        "timeout": f"{cfg.timeout_seconds:g}s",
    }
    try:
        response = requests.get(url, params=params, headers=headers, timeout=cfg.timeout_seconds)
    except requests.RequestException as exc:
        raise SourceError("prometheus", masked(f"{cfg.url}: {type(exc).__name__}: {exc}")) from exc
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200 or not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else response.text[:200]
        raise SourceError("prometheus", masked(f"{cfg.url}: HTTP {response.status_code} for {query!r}: {error}"))
    data = payload.get("data") or {}
    if data.get("resultType") != "matrix":
        raise SourceError("prometheus", f"{cfg.url}: expected a matrix for {query!r}, got {data.get('resultType')}")
    result = data.get("result") or []
    assert isinstance(result, list)
    return result


def matrix_frame(cfg: PrometheusSource, matrix: list[dict[str, Any]], extra_label: str | None = None) -> pd.DataFrame:
    """A long frame (probe, [extra], ts, value) from a query_range matrix."""
    rows = []
    for series in matrix:
        labels = series.get("metric") or {}
        probe = labels.get(cfg.probe_label)
        if probe is None:
            continue
        probe = masked(probe)  # blackbox's instance is the probed URL, perhaps with a key in it
        extra = labels.get(extra_label) if extra_label else None
        for stamp, value in series.get("values") or []:
            rows.append({"probe": probe, "extra": extra, "epoch": float(stamp), "value": float(value)})
    return pd.DataFrame(rows, columns=["probe", "extra", "epoch", "value"])


def read_probe_metrics(
    cfg: PrometheusSource, start: dt.datetime, end: dt.datetime, critical_days: float
) -> pd.DataFrame:
    """Rows of ``probe_results`` for [start, end) from Prometheus."""
    last = end - dt.timedelta(seconds=1)
    by = f"by ({cfg.probe_label})"
    sel = cfg.selector

    def frame(metric: str, agg: str) -> pd.DataFrame:
        return matrix_frame(cfg, query_range(cfg, f"{agg} {by} ({metric}{sel})", start, last))

    success = frame("probe_success", "min")
    if success.empty:
        return empty_frame()
    rows = success.rename(columns={"value": "success"}).drop(columns="extra")
    for name, metric, agg in (
        ("duration", "probe_duration_seconds", "max"),
        ("status", "probe_http_status_code", "max"),
        ("expiry", "probe_ssl_earliest_cert_expiry", "min"),
    ):
        other = frame(metric, agg).drop(columns="extra").rename(columns={"value": name})
        rows = rows.merge(other, on=["probe", "epoch"], how="left")
    phase_query = f"max by ({cfg.probe_label}, phase) (probe_http_duration_seconds{sel})"
    phases = matrix_frame(cfg, query_range(cfg, phase_query, start, last), extra_label="phase")
    if not phases.empty:
        wide = phases.pivot_table(index=["probe", "epoch"], columns="extra", values="value", aggfunc="max")
        rows = rows.merge(wide.reset_index(), on=["probe", "epoch"], how="left")
    for phase in _PHASES:
        if phase not in rows:
            rows[phase] = float("nan")
    rows = rows[rows["epoch"] < end.timestamp()].reset_index(drop=True)
    rows["ts"] = pd.to_datetime(rows["epoch"], unit="s", utc=True)
    status = rows["status"].where(rows["status"] > 0)
    ok = rows["success"] == 1
    detail = "probe_success=" + rows["success"].astype(int).astype(str)
    detail = detail + status.map(lambda s: "" if pd.isna(s) else f", HTTP {int(s)}")
    http = pd.DataFrame(
        {
            "ts": rows["ts"],
            "probe": rows["probe"],
            "check": "http",
            "ok": ok,
            "status_code": status,
            "latency_ms": rows["duration"] * 1000,
            "detail": detail.where(ok | status.notna(), detail + " (no HTTP answer)"),
            "dns_ms": rows["resolve"] * 1000,
            "connect_ms": rows["connect"] * 1000,
            "tls_ms": rows["tls"] * 1000,
            "ttfb_ms": rows[list(_PHASES)].sum(axis=1, min_count=1) * 1000,
            "source": PART,
        }
    )
    certs = rows[rows["expiry"].notna() & (rows["expiry"] > 0)]
    days_left = (certs["expiry"] - certs["epoch"]) / 86400
    expires = pd.to_datetime(certs["expiry"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    tls = pd.DataFrame(
        {
            "ts": certs["ts"],
            "probe": certs["probe"],
            "check": "tls",
            "ok": days_left >= critical_days,
            "detail": "certificate expires " + expires + " (" + days_left.round(1).astype(str) + " days left)",
            "cert_days_left": days_left,
            "source": PART,
        }
    )
    return normalise_frame(pd.concat([http, tls], ignore_index=True))


def _configured(params: Params) -> bool:
    return params.probes.prometheus is not None


@register_source("prometheus", "probes", configured=_configured)
def pull_prometheus(ctx: ReviewContext) -> SourceResult:
    """Write the review day (and baseline days not pulled yet) into part ``prometheus``; its
    rows are that part's rows of the review day. A failure fails this source only: the
    ``probes`` source still reports the results of `opsreview probe`."""
    cfg = ctx.params.probes.prometheus
    if cfg is None:
        return SourceResult("prometheus", status="skipped", error="probes.prometheus is not set")
    store = ctx.store
    for day in [*ctx.baseline_days, ctx.day]:
        if day != ctx.day and (store.day_dir(TABLE, day) / f"{PART}.parquet").exists():
            continue
        start, end = ctx.params.day_window(day)
        frame = read_probe_metrics(cfg, start, end, ctx.params.probes.tls.critical_days)
        if len(frame):  # nothing (retention passed?) keeps what an earlier pull stored
            store.write_part(TABLE, day, PART, to_arrow(frame))
    rows = part_rows(store, ctx.day, PART)
    log.info("prometheus: %d probe rows for %s", rows, ctx.day)
    return SourceResult("prometheus", rows=rows)
