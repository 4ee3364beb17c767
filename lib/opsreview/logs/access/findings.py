"""Findings of the access-log review: analysis results compared with thresholds and the baseline.

Each function takes the DataFrames of :mod:`opsreview.logs.access.analysis` (already computed) and the
:class:`~opsreview.logs.thresholds.LogThresholds`, and returns findings with their
evidence - the time window (local time of the review), numbers, and a few sample rows that are
already masked. Check ids are ``logs.*``; the
production-checklist items each finding bears on are named in ``checklist``. Findings on
logging itself (gaps, volume drops, unparseable lines) live in :mod:`opsreview.logs.health`;
evidence formatting in :mod:`opsreview.logs.evidence`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from opsreview.findings import Finding, Severity
from opsreview.localtime import hhmm
from opsreview.logs.evidence import (
    ERROR_RATES,
    RATE_LIMITING,
    RESPONSE_TIMES,
    as_list,
    fmt_window,
    num,
    pct,
    sample_lines,
    window_bounds,
)
from opsreview.logs.thresholds import LogThresholds
from opsreview.masking import masked
from opsreview.secrets import redact


def server_error_findings(
    day: dict[str, Any],
    windows: pd.DataFrame,
    th: LogThresholds,
    tz: str,
    samples: dict[tuple[str, pd.Timestamp], pd.DataFrame] | None = None,
    day_window: tuple[Any, Any] | None = None,
    day_samples: pd.DataFrame | None = None,
) -> list[Finding]:
    """``logs.5xx_rate`` (the day, absolute and vs baseline) and ``logs.5xx_burst``.

    ``day`` holds requests, s5xx, and when there is a baseline base_requests, base_s5xx and
    p_higher (:func:`~opsreview.logs.baseline.rate_test`). ``windows`` are 5xx anomaly
    windows per route with the route's ``requests`` inside each window; ``samples`` their
    sample rows by (route, start). ``day_window`` and ``day_samples`` are the evidence of the
    day's rate.
    """
    found: list[Finding] = []
    requests, errors = int(day.get("requests") or 0), int(day.get("s5xx") or 0)
    if requests >= th.min_requests:
        rate = errors / requests
        base_requests = day.get("base_requests")
        base_rate = float(day["base_s5xx"]) / float(base_requests) if base_requests else None
        evidence: dict[str, Any] = {"requests": requests, "5xx": errors}
        if day_window is not None:
            evidence["window"] = fmt_window(day_window[0], day_window[1], tz)
        if day_samples is not None:
            evidence["samples"] = sample_lines(day_samples, tz=tz)
        if base_rate is not None:
            evidence.update(
                baseline_rate=num(base_rate, 6),
                ratio=num(rate / base_rate if base_rate else math.inf, 2),
                p_value=num(day.get("p_higher"), 8),
            )
        if rate >= th.error_rate_5xx_warning:
            severity = Severity.critical if rate >= th.error_rate_5xx_critical else Severity.warning
            threshold = th.error_rate_5xx_critical if severity is Severity.critical else th.error_rate_5xx_warning
            found.append(
                Finding(
                    "logs",
                    "logs.5xx_rate",
                    severity,
                    f"5xx rate {pct(rate)} of {requests} requests",
                    value=num(rate, 6),
                    threshold=threshold,
                    evidence=evidence,
                    checklist=ERROR_RATES,
                    subject="all routes",  # the day's rate: no anomaly window of its own
                )
            )
        elif (
            base_rate is not None
            and errors >= 10
            and rate >= th.error_rate_ratio * base_rate
            and float(day.get("p_higher", 1.0)) < th.significance
        ):
            ratio = rate / base_rate if base_rate else math.inf
            found.append(
                Finding(
                    "logs",
                    "logs.5xx_rate",
                    Severity.warning,
                    f"5xx rate {pct(rate)} is {ratio:.1f}x the baseline's {pct(base_rate)}"
                    if base_rate
                    else f"5xx rate {pct(rate)} where the baseline had none",
                    value=num(rate, 6),
                    threshold=f"{th.error_rate_ratio}x baseline",
                    evidence=evidence,
                    checklist=ERROR_RATES,
                    subject="all routes",  # the day's rate: no anomaly window of its own
                )
            )
    for row in windows.to_dict("records"):
        share = row["observed"] / row["requests"] if row.get("requests") else 1.0
        if row["observed"] < th.burst_5xx_min or share < th.burst_5xx_rate:
            continue
        severity = Severity.critical if share >= th.burst_5xx_critical_rate else Severity.warning
        route = str(row["route"])
        title = (
            f"5xx burst on {route} {hhmm(row['start'], tz)}-{hhmm(row['end'], tz)}: "
            f"{row['observed']} of {row['requests']} requests failed ({pct(share)})"
        )
        evidence = {
            "window": fmt_window(row["start"], row["end"], tz),
            "route": route,
            "5xx": int(row["observed"]),
            "requests": int(row["requests"]),
            "baseline_5xx_rate": num(row["base_rate"], 6),
            "p_value": num(row["p_value"], 8),
            "samples": sample_lines((samples or {}).get((route, row["start"])), tz=tz),
        }
        found.append(
            Finding(
                "logs",
                "logs.5xx_burst",
                severity,
                title,
                value=num(share, 4),
                threshold=th.burst_5xx_critical_rate if severity is Severity.critical else th.burst_5xx_rate,
                evidence=evidence,
                checklist=ERROR_RATES,
                subject=route,
                **window_bounds(row["start"], row["end"], tz),
            )
        )
    return found


def latency_findings(
    comparison: pd.DataFrame,
    hours: pd.DataFrame,
    th: LogThresholds,
    tz_hours_label: str = "local hours",
    profile: pd.DataFrame | None = None,
    tz: str | None = None,
    day: dt.date | None = None,
) -> list[Finding]:
    """``logs.p95_route`` (absolute) and ``logs.p95_regression`` (vs baseline, exceedance test).

    ``comparison`` comes from :func:`opsreview.logs.baseline.compare_latency` (column
    ``route``); ``hours`` from :func:`~opsreview.logs.baseline.hours_above`; ``profile``
    (today's :func:`~opsreview.logs.baseline.latency_profile`) gives a ``p95_route`` finding
    the local hours whose own p95 is over the threshold. With the review's ``tz`` and ``day`` a
    regression's window (``start``/``end``) is its longest run of local hours over the baseline.
    """
    found: list[Finding] = []
    timed = comparison[comparison["timed"] >= th.min_requests]
    for row in timed.to_dict("records"):
        route, p95 = str(row["route"]), float(row["p95"])
        base = row.get("base_p95")
        route_hours = hours[hours["route"] == route]["hour"].astype(int).tolist() if not hours.empty else []
        evidence: dict[str, Any] = {
            "route": route,
            "requests": int(row["timed"]),
            "p50_ms": num(row["p50"], 1),
            "p95_ms": num(p95, 1),
            "p99_ms": num(row["p99"], 1),
            "baseline_p95_ms": num(base, 1),
        }
        if route_hours:
            evidence["slow_hours"] = f"{_hour_ranges(route_hours)} ({tz_hours_label})"
        if p95 >= th.p95_warning_ms:
            severity = Severity.critical if p95 >= th.p95_critical_ms else Severity.warning
            over = _hours_over(profile, route, th.p95_warning_ms, max(10, th.min_requests // 5))
            if over:
                evidence["hours_over_threshold"] = f"{_hour_ranges(over)} ({tz_hours_label})"
            found.append(
                Finding(
                    "logs",
                    "logs.p95_route",
                    severity,
                    f"p95 response time of {route} is {p95:.0f} ms",
                    value=num(p95, 1),
                    threshold=th.p95_critical_ms if severity is Severity.critical else th.p95_warning_ms,
                    evidence=evidence,
                    checklist=RESPONSE_TIMES,
                    subject=route,  # slow against a fixed limit all day is no anomaly window; a regression is
                )
            )
        ratio, p_value = row.get("ratio"), row.get("p_value")
        if base is None or pd.isna(base) or ratio is None or pd.isna(ratio) or pd.isna(p_value):
            continue
        if ratio >= th.p95_ratio_warning and p_value < th.significance and p95 >= th.p95_min_ms:
            severity = Severity.critical if ratio >= th.p95_ratio_critical else Severity.warning
            ranges = _hour_ranges(route_hours) if route_hours else ""
            since = f" since {route_hours[0]:02d}:00" if ranges.count("-") == 1 else f" in {ranges}" if ranges else ""
            evidence.update(
                ratio=num(ratio, 2), share_above_baseline_p95=num(row["share_above"], 4), p_value=num(p_value, 8)
            )
            found.append(
                Finding(
                    "logs",
                    "logs.p95_regression",
                    severity,
                    f"p95 of {route} is {ratio:.1f}x its baseline ({p95:.0f} ms vs {float(base):.0f} ms){since}",
                    value=num(ratio, 2),
                    threshold=th.p95_ratio_critical if severity is Severity.critical else th.p95_ratio_warning,
                    evidence=evidence,
                    checklist=RESPONSE_TIMES,
                    subject=route,
                    **_hours_window(route_hours, day, tz),
                )
            )
    return found


def _hours_window(hours: list[int], day: dt.date | None, tz: str | None) -> dict[str, str]:
    """The longest run of local ``hours`` of ``day`` as a finding's start/end (earliest on a tie);
    none without hours, day or zone."""
    if not hours or day is None or tz is None:
        return {}
    runs: list[list[int]] = []
    for hour in sorted(set(hours)):
        if runs and hour == runs[-1][1] + 1:
            runs[-1][1] = hour
        else:
            runs.append([hour, hour])
    first, last = max(runs, key=lambda r: r[1] - r[0])
    midnight = pd.Timestamp(day)

    def local(hour: int) -> pd.Timestamp:  # a wall-clock hour; DST's missing/doubled hour settled forward
        return (midnight + pd.Timedelta(hours=hour)).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")

    return window_bounds(local(first), local(last + 1), tz)


def _hour_ranges(hours: list[int]) -> str:
    """Local hours as ranges: [3, 9, 10, 11] -> "03:00-04:00, 09:00-12:00"."""
    ranges: list[list[int]] = []
    for hour in sorted(set(hours)):
        if ranges and hour == ranges[-1][1] + 1:
            ranges[-1][1] = hour
        else:
            ranges.append([hour, hour])
    return ", ".join(f"{a:02d}:00-{b + 1:02d}:00" for a, b in ranges)


def _hours_over(profile: pd.DataFrame | None, route: str, threshold_ms: float, min_timed: int) -> list[int]:
    """Local hours in which ``route``'s own p95 (over at least ``min_timed`` requests) is at or over the threshold."""
    if profile is None or profile.empty:
        return []
    rows = profile[(profile["route"] == route) & (profile["hour"] >= 0) & (profile["timed"] >= min_timed)]
    return sorted(int(h) for h in rows[rows["p95"] >= threshold_ms]["hour"])


def auth_burst_findings(bursts: pd.DataFrame, th: LogThresholds, tz: str) -> list[Finding]:
    """``logs.auth_failure_burst``: many 401/403 to one client in a short window (credential stuffing)."""
    found = []
    for row in bursts.to_dict("records"):
        failures = int(row["failures"])
        severity = Severity.critical if row["peak_window"] >= th.auth_failures_critical else Severity.warning
        limited = int(row["s429"])
        routes = ", ".join(as_list(row["routes"])[:3])
        title = (
            f"{failures} failed logins (401/403) from {row['client']} {hhmm(row['start'], tz)}-{hhmm(row['end'], tz)}"
            f" on {routes}" + ("; never rate-limited" if limited == 0 else f"; {limited} answered 429")
        )
        found.append(
            Finding(
                "logs",
                "logs.auth_failure_burst",
                severity,
                title,
                value=int(row["peak_window"]),
                threshold=th.auth_failures_critical if severity is Severity.critical else th.auth_failures_per_client,
                evidence={
                    "client": row["client"],
                    "window": fmt_window(row["start"], row["end"], tz),
                    "401": int(row["s401"]),
                    "403": int(row["s403"]),
                    "429": limited,
                    "requests": int(row["requests"]),
                    "routes": as_list(row["routes"]),
                    "user_agent": redact(str(row["user_agent"])),
                    f"most_in_{th.auth_window_minutes}_minutes": int(row["peak_window"]),
                },
                checklist=RATE_LIMITING if limited == 0 else ("Review logs daily",),
                subject=str(row["client"]),
                **window_bounds(row["start"], row["end"], tz),
            )
        )
    return found


def rate_limit_findings(
    count_429: pd.DataFrame,
    windows: pd.DataFrame,
    th: LogThresholds,
    tz: str,
    samples: pd.DataFrame | None = None,
) -> list[Finding]:
    """``logs.429_surge``: the day's 429 responses far above the baseline (``count_429`` from
    :func:`~opsreview.logs.baseline.compare_counts` on ``s429``; ``windows`` its bursts,
    ``samples`` a few of the 429s of the first)."""
    if count_429.empty:
        return []
    row = count_429.iloc[0]
    today, base = int(row["s429"]), row["s429_base"]
    if today < th.surge_429_min:
        return []
    ratio = row["ratio"]
    if not (pd.isna(base) or (ratio >= th.surge_429_ratio and row["p_higher"] < th.significance)):
        return []
    evidence: dict[str, Any] = {"429": today, "baseline_per_day": num(base, 1), "p_value": num(row["p_higher"], 8)}
    evidence["windows"] = [
        fmt_window(w["start"], w["end"], tz) | {"429": int(w["observed"])} for w in windows.head(5).to_dict("records")
    ]
    evidence["samples"] = sample_lines(samples, tz=tz)
    bounds: dict[str, str] = {}
    if not windows.empty:  # the surge's largest burst is its window
        top = windows.loc[windows["observed"].astype(float).idxmax()]
        bounds = window_bounds(top["start"], top["end"], tz)
    title = f"429 surge: {today} rate-limited responses" + (
        f" ({float(ratio):.1f}x the baseline's {float(base):.0f}/day)" if not pd.isna(base) else " (no baseline)"
    )
    return [
        Finding(
            "logs",
            "logs.429_surge",
            Severity.warning,
            title,
            value=today,
            threshold=f"{th.surge_429_ratio}x baseline",
            evidence=evidence,
            checklist=RATE_LIMITING,
            subject="all clients",
            **bounds,
        )
    ]


def scanner_findings(scanners: pd.DataFrame, th: LogThresholds, tz: str) -> list[Finding]:
    """``logs.scanner``: clients probing for /.env, /wp-admin, /.git, ...; a probe answered 2xx is critical."""
    found = []
    quiet: list[str] = []
    for row in scanners.to_dict("records"):
        evidence = {
            "client": row["client"],
            "requests": int(row["requests"]),
            "404": int(row["s404"]),
            "distinct_404_paths": int(row["distinct_404"]),
            "paths": as_list(row["paths"]),
            "user_agent": redact(str(row["user_agent"])),
            "window": fmt_window(row["first"], row["last"], tz) if not pd.isna(row["first"]) else None,
        }
        bounds = window_bounds(row["first"], row["last"], tz) if not pd.isna(row["first"]) else {}
        if int(row["answered"]) > 0:
            evidence["answered_paths"] = as_list(row["answered_paths"])
            found.append(
                Finding(
                    "logs",
                    "logs.scanner_exposure",
                    Severity.critical,
                    f"Scanner path answered 2xx for {row['client']}: {', '.join(row['answered_paths'])}",
                    value=int(row["answered"]),
                    threshold=0,
                    evidence=evidence,
                    checklist=("Environment variables secured", "Review logs daily"),
                    subject=str(row["client"]),
                    **bounds,
                )
            )
        elif int(row["requests"]) >= th.scanner_requests_warning or int(row["distinct_404"]) >= th.scanner_distinct_404:
            found.append(
                Finding(
                    "logs",
                    "logs.scanner",
                    Severity.warning,
                    f"Scanner activity from {row['client']}: {row['requests']} probes, "
                    f"{row['distinct_404']} distinct 404 paths",
                    value=int(row["requests"]),
                    threshold=th.scanner_requests_warning,
                    evidence=evidence,
                    checklist=("Review logs daily",),
                    subject=str(row["client"]),
                    **bounds,
                )
            )
        else:
            quiet.append(str(row["client"]))
    if quiet:
        rows = scanners[scanners["client"].isin(quiet)]
        found.append(
            Finding(
                "logs",
                "logs.scanner",
                Severity.info,
                f"{int(rows['requests'].sum())} scanner probes from {len(quiet)} client(s), none answered",
                value=int(rows["requests"].sum()),
                threshold=th.scanner_requests_warning,
                evidence={
                    "clients": quiet[:10],
                    "paths": sorted({p for ps in rows["paths"] for p in ps})[:10],
                    "window": fmt_window(rows["first"].min(), rows["last"].max(), tz)
                    if rows["first"].notna().any()
                    else None,
                },
                checklist=("Review logs daily",),
                subject="quiet scanners",  # many clients, none answered: no one window worth a timeline
            )
        )
    return found


_SECRET_CHECKLIST = {
    "jwt": ("JWT authentication with secure tokens", "Morgan HTTP logging"),
    "api key": ("API keys stored securely", "Morgan HTTP logging"),
    "card number": ("Morgan HTTP logging", "Error messages don't leak sensitive info"),
    "credential parameter": ("Morgan HTTP logging", "Error messages don't leak sensitive info"),
}


def sensitive_url_findings(found_urls: pd.DataFrame, tz: str) -> list[Finding]:
    """``logs.secret_in_url``: JWTs, API keys, card numbers or credentials in logged URLs (masked)."""
    found = []
    for row in found_urls.to_dict("records"):
        kind = str(row["kind"])
        severity = Severity.warning if kind == "credential parameter" else Severity.critical
        found.append(
            Finding(
                "logs",
                "logs.secret_in_url",
                severity,
                f"{kind} in logged URLs of {row['route']}: {row['requests']} request(s) from {row['clients']} client(s)",
                value=int(row["requests"]),
                threshold=0,
                evidence={
                    "kind": kind,
                    "route": row["route"],
                    "window": fmt_window(row["first"], row["last"], tz),
                    "samples": [masked(str(s)) for s in as_list(row["samples"])],
                },
                checklist=_SECRET_CHECKLIST.get(kind, ("Morgan HTTP logging",)),
                subject=f"{row['route']} {kind}",  # no start/end: a few leaks hours apart are no anomaly window
            )
        )
    return found
