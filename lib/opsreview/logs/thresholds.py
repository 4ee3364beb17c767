"""Thresholds of the log-review findings (``logs.thresholds`` in params), with defaults.

Every threshold is documented where it is declared; `opsreview` findings quote the threshold
they were compared with, so a reader can tune the one that is too noisy for their traffic.
Rates are fractions (0.01 = 1 %), durations are minutes, latencies milliseconds.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from opsreview.schema import Section

DEFAULT_SCANNER_PATTERNS = (
    r"/\.env",
    r"/\.git",
    r"/\.svn",
    r"/\.aws",
    r"/\.ds_store",
    r"/wp-(?:admin|login|content|includes)",
    r"/xmlrpc\.php",
    r"/phpmyadmin",
    r"/pma/",
    r"/config\.(?:json|php|yml|yaml)",
    r"/server-status",
    r"/actuator",
    r"/cgi-bin/",
    r"/vendor/phpunit",
    r"/boaform",
    r"\.(?:php|asp|aspx|jsp|cgi)(?:$|\?)",
)


class LogThresholds(Section):
    """When a log measurement becomes a finding."""

    significance: float = Field(
        0.01, gt=0, lt=1, description="p-value below which a difference from the baseline counts as significant"
    )
    min_requests: int = Field(
        50, ge=1, description="fewest requests a route/client/window needs before its rates or percentiles are judged"
    )
    # 5xx
    error_rate_5xx_warning: float = Field(0.01, ge=0, le=1, description="day's 5xx share of requests: warning")
    error_rate_5xx_critical: float = Field(0.05, ge=0, le=1, description="day's 5xx share of requests: critical")
    error_rate_ratio: float = Field(
        2.0, ge=1, description="day's 5xx rate this many times the baseline's (and significant): warning"
    )
    burst_5xx_rate: float = Field(
        0.10, ge=0, le=1, description="5xx share inside an anomaly window that makes it a 5xx burst (warning)"
    )
    burst_5xx_min: int = Field(3, ge=1, description="fewest 5xx in a window before it is reported as a burst")
    burst_5xx_critical_rate: float = Field(
        0.25, ge=0, le=1, description="5xx share inside a burst window that makes it critical"
    )
    # anomaly windows (bursts)
    burst_window_minutes: int = Field(
        10, ge=1, description="sliding window over which a route's 5xx share is judged, minutes"
    )
    burst_min_minutes: int = Field(3, ge=1, description="shortest anomaly window reported, minutes")
    burst_max_gap_minutes: int = Field(
        2, ge=0, description="quiet minutes allowed inside one anomaly window before it is split"
    )
    burst_minute_p: float = Field(
        0.001, gt=0, lt=1, description="per-minute Poisson tail probability under which a minute is anomalous"
    )
    burst_floor_per_minute: float = Field(
        0.05, gt=0, description="lowest expected count per minute (a baseline of zero would flag every event)"
    )
    # latency
    p95_warning_ms: float = Field(1000.0, gt=0, description="a route's p95 response time above this: warning")
    p95_critical_ms: float = Field(3000.0, gt=0, description="a route's p95 response time above this: critical")
    p95_ratio_warning: float = Field(
        1.5, ge=1, description="a route's p95 this many times its baseline p95 (and significant): warning"
    )
    p95_ratio_critical: float = Field(
        3.0, ge=1, description="a route's p95 this many times its baseline p95 (and significant): critical"
    )
    p95_min_ms: float = Field(
        20.0, ge=0, description="ignore p95 regressions of routes whose p95 stays under this (fast is fast)"
    )
    # authentication failures (credential stuffing)
    auth_failures_per_client: int = Field(
        30, ge=1, description="401/403 responses to one client within auth_window_minutes: warning"
    )
    auth_failures_critical: int = Field(
        300, ge=1, description="401/403 responses to one client within auth_window_minutes: critical"
    )
    auth_window_minutes: int = Field(5, ge=1, description="sliding window for counting a client's 401/403")
    # rate limiting
    surge_429_ratio: float = Field(3.0, ge=1, description="day's 429 count this many times the baseline's: warning")
    surge_429_min: int = Field(50, ge=1, description="fewest 429 responses before a surge is reported")
    # scanners
    scanner_patterns: tuple[str, ...] = Field(
        DEFAULT_SCANNER_PATTERNS, description="regexes (case-insensitive) of paths only vulnerability scanners request"
    )
    scanner_requests_warning: int = Field(
        100, ge=1, description="scanner-path requests from one client in the day: warning (fewer: info)"
    )
    scanner_distinct_404: int = Field(
        30, ge=1, description="distinct 404 paths one client hit in the day that make it a scanner"
    )
    # log volume and gaps
    gap_minutes: int = Field(10, ge=1, description="minutes without a single log line that make a gap")
    gap_min_expected_lines: float = Field(
        30.0, ge=0, description="report a gap only when the baseline expects at least this many lines in it"
    )
    volume_drop_ratio: float = Field(
        0.5, gt=0, le=1, description="day's log lines below this share of the baseline (and significant): warning"
    )
    volume_drop_critical_ratio: float = Field(
        0.2, gt=0, le=1, description="day's log lines below this share of the baseline: critical"
    )
    volume_burst_ratio: float = Field(
        1.5,
        gt=1,
        description="a window of requests at least this multiple of the baseline (and significant) is a burst",
    )
    # ingest quality
    unparsed_warning: float = Field(0.01, ge=0, le=1, description="share of unparseable lines in a file: warning")
    unparsed_critical: float = Field(0.10, ge=0, le=1, description="share of unparseable lines in a file: critical")
    # application errors
    new_fingerprint_lookback_days: int = Field(
        30, ge=1, description="earlier days of app events searched before calling an error fingerprint new"
    )
    new_error_critical_count: int = Field(
        20, ge=1, description="occurrences of a new error fingerprint in the day that make it critical"
    )
    error_spike_ratio: float = Field(
        3.0, ge=1, description="errors of a fingerprint this many times the baseline's (and significant): warning"
    )
    error_spike_min: int = Field(10, ge=1, description="fewest occurrences before an error spike is reported")
    # response sizes
    size_outlier_factor: float = Field(
        20.0, gt=1, description="a response this many times its route's median size is an outlier"
    )
    size_outlier_min_bytes: int = Field(1_000_000, ge=0, description="responses smaller than this are never outliers")
    # route templates inferred from the data (only when `logs.routes` is empty)
    route_param_min_values: int = Field(
        20,
        ge=2,
        description="distinct values (id-shaped, or answered other than 404) at one path segment under one prefix "
        "that make it a route parameter (/api/products/:id)",
    )
    route_literal_min_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="a plain word at a parameter position with this share of its requests (and answered other "
        "than 404) stays a literal route (/api/users/me)",
    )
    route_literal_min_requests: int = Field(
        20, ge=1, description="fewest requests a word at a parameter position needs to stay a literal route"
    )

    @field_validator("scanner_patterns")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"scanner pattern {pattern!r} is not a regex ({exc})") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> LogThresholds:
        pairs = (
            ("error_rate_5xx_warning", "error_rate_5xx_critical"),
            ("burst_5xx_rate", "burst_5xx_critical_rate"),
            ("p95_warning_ms", "p95_critical_ms"),
            ("p95_ratio_warning", "p95_ratio_critical"),
            ("auth_failures_per_client", "auth_failures_critical"),
            ("unparsed_warning", "unparsed_critical"),
        )
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        if self.volume_drop_critical_ratio > self.volume_drop_ratio:
            raise ValueError("volume_drop_critical_ratio must not exceed volume_drop_ratio")
        return self
