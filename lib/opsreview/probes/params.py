"""Params section `probes`: probe targets, the checks that apply to each, and thresholds.

A target is one URL probed by `opsreview probe` (cron, every minute). Header values and
bodies may hold ``${ENV}`` references (kept as :class:`~opsreview.secrets.SecretRef`, resolved
only when a request is sent); test tokens for the auth check are always secrets. Active checks
(rate-limit burst, exposure paths, expired/tampered/alg:none tokens) send requests a normal
client would not; they run only on targets marked ``allow_active: true``, and asking for the
burst or exposure check without that flag is an error at load time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator, model_validator

from opsreview.schema import Section
from opsreview.secrets import SECRET_REF, SecretRef, remember_secret

CHECK_FAMILIES = ("http", "tls", "headers", "cors", "auth", "rate_limit", "leakage", "exposure")
CheckFamily = Literal["http", "tls", "headers", "cors", "auth", "rate_limit", "leakage", "exposure"]
GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_STATUS_PATTERN = re.compile(r"^[1-5](?:xx|\d\d)$")
_ENDPOINT = re.compile(r"^(?:(?P<method>[A-Z]+)\s+)?(?P<path>/\S*)$")
# What must be written out before a URL's first ${ENV} reference: scheme, host, port and the
# character that ends them.
_AUTHORITY_FIRST = re.compile(r"^https?://[^/?#]+[/?#]", re.I)

DEFAULT_EXPOSURE_PATHS = (
    "/.env",
    "/.env.local",
    "/.env.production",
    "/.git/config",
    "/.git/HEAD",
    "/package.json",
    "/package-lock.json",
    "/.npmrc",
    "/docker-compose.yml",
    "/server.js",
    "/.aws/credentials",
)


def check_url(value: str, secrets_in_path: bool = False, no_secret_reason: str = "") -> str:
    """An absolute http(s) URL with a host; anything else is a params error.

    With ``secrets_in_path`` (a probe's ``url``: an API key in the query string) ``${ENV}``
    references may stand in the path and query string; scheme, host and port must be written
    out before the first one (they say where the secret is sent, so they are never secret).
    Elsewhere a reference is refused with ``no_secret_reason``.
    """
    if "${" in value:
        if not secrets_in_path:
            raise ValueError(f"invalid URL {value!r}: ${{ENV}} references are not resolved here{no_secret_reason}")
        if "${" in SECRET_REF.sub("", value):
            raise ValueError(f"invalid URL {value!r}: '${{' that is not a ${{NAME}} reference (letters, digits, _)")
        first = SECRET_REF.search(value)
        if first is not None and not _AUTHORITY_FIRST.match(value[: first.start()]):
            raise ValueError(
                f"invalid URL {value!r}: ${{ENV}} references may stand only in the path or query string, "
                "not in the scheme, host or port"
            )
    parts = urlsplit(SECRET_REF.sub("x", value))  # a reference checks like the text it becomes
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"invalid URL {value!r}: scheme must be http or https")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid URL {value!r}: bad port") from None
    if any(c.isspace() for c in value):
        raise ValueError(f"invalid URL {value!r}: contains whitespace")
    if not parts.hostname:
        raise ValueError(f"invalid URL {value!r}: needs a host name")
    if port == 0:
        raise ValueError(f"invalid URL {value!r}: bad port")
    if parts.username or parts.password:
        raise ValueError(
            f"invalid URL {value!r}: credentials in a URL; send them as a header with a ${{ENV}} reference"
        )
    return value


def resolve_url(url: str) -> str:
    """The URL to send: every ``${ENV}`` replaced by its value, percent-encoded (a key holding
    ``&``, ``+`` or ``/`` stays one query value or path segment). The value and its encoded
    form are both remembered for redaction, so neither shows in any output; the rest of the
    URL is not secret and stays readable."""

    def substitute(match: re.Match[str]) -> str:
        encoded = quote(SecretRef(match.group(0)).resolve(), safe="")
        remember_secret(encoded)
        return encoded

    return SECRET_REF.sub(substitute, url)


def _check_method(value: str) -> str:
    if value.upper() not in METHODS:
        raise ValueError(f"unknown HTTP method {value!r} ({', '.join(METHODS)})")
    return value.upper()


def _secret_if_referenced(value: str | SecretRef) -> str | SecretRef:
    """Plain header values stay text; values holding ``${ENV}`` become secret references."""
    if isinstance(value, str) and SECRET_REF.search(value):
        return SecretRef(value)
    return value


def resolve_value(value: str | SecretRef | None) -> str | None:
    """The value to send: a secret reference resolved now (and remembered for redaction)."""
    if isinstance(value, SecretRef):
        return value.resolve()
    return value


class Endpoint(Section):
    """A request to a path on the target's origin: ``"GET /api/orders"`` or a mapping."""

    method: str = "GET"
    path: str
    body: str | SecretRef | None = None
    content_type: str | None = Field(None, description="Content-Type sent with the body")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _ENDPOINT.match(value.strip())
            if not match:
                raise ValueError(f"expected 'METHOD /path' or '/path', got {value!r}")
            return {"method": match.group("method") or "GET", "path": match.group("path")}
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        return _check_method(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"path {value!r} must start with / and contain no spaces")
        return value

    @field_validator("body", mode="after")
    @classmethod
    def _body(cls, value: str | SecretRef | None) -> str | SecretRef | None:
        return None if value is None else _secret_if_referenced(value)

    def label(self) -> str:
        return f"{self.method} {self.path}"


class Expectations(Section):
    """What makes the `http` check pass (all must hold), in the spirit of Gatus conditions."""

    status: list[int | str] = Field(["2xx"], description="accepted statuses: 200, 204, '2xx', '3xx'")
    max_latency_ms: float | None = Field(None, gt=0, description="total response time limit")
    body_contains: str | None = Field(None, description="a substring the body must contain")
    json_equals: dict[str, Any] = Field(
        default_factory=dict, description="JSON path -> expected value, e.g. {status: ok, 'checks[0].db': up}"
    )

    @field_validator("status")
    @classmethod
    def _status(cls, value: list[int | str]) -> list[int | str]:
        for item in value:
            if isinstance(item, int) and not 100 <= item <= 599:
                raise ValueError(f"status {item} is not an HTTP status")
            if isinstance(item, str) and not _STATUS_PATTERN.match(item):
                raise ValueError(f"status {item!r}: expected a number or a class such as '2xx'")
        if not value:
            raise ValueError("at least one accepted status")
        return value


class CorsCheck(Section):
    allowed_origins: list[str] = Field(default_factory=list, description="origins the API may allow")
    allow_any_origin: bool = Field(False, description="a public API: 'Access-Control-Allow-Origin: *' is fine")
    probe_origin: str = Field("https://cors-probe.opsreview.invalid", description="the foreign origin sent")


class AuthCheck(Section):
    protected: list[Endpoint] = Field(default_factory=list, description="endpoints that need a valid token")
    admin: list[Endpoint] = Field(default_factory=list, description="endpoints that need the admin role")
    user_token: SecretRef | None = Field(None, description="a valid non-admin JWT (${ENV} reference)")
    expired_token: SecretRef | None = Field(None, description="an expired JWT signed with the real key")
    signing_secret: SecretRef | None = Field(
        None, description="HS256 key to mint an expired token when expired_token is not given"
    )
    reject_status: list[int] = Field([401], description="statuses that count as 'rejected' for bad tokens")


class RateLimitCheck(Section):
    path: str | None = Field(None, description="path whose response must carry RateLimit headers (default: url)")
    burst_requests: int = Field(0, ge=0, le=1000, description="active burst size; 0 = off")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"path {value!r} must start with /")
        return value


class LeakageCheck(Section):
    requests: list[Endpoint] = Field(
        default_factory=list, description="requests that provoke error responses (e.g. 'GET /api/boom')"
    )


class ExposureCheck(Section):
    paths: list[str] = Field(list(DEFAULT_EXPOSURE_PATHS), description="paths that must answer 401/403/404")


class ProbeTarget(Section):
    """One probed URL and the checks that apply to it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)
    url: str = Field(description="${ENV} references may stand in the path and query string (resolved when sent)")
    method: str = "GET"
    headers: dict[str, str | SecretRef] = Field(default_factory=dict)
    body: str | SecretRef | None = None
    timeout_seconds: float = Field(5.0, gt=0, le=120, description="limit of each request, connect to last byte")
    checks: list[CheckFamily] | None = Field(None, description="default: http, plus tls for https URLs")
    allow_active: bool = Field(False, description="permit active checks (burst, exposure, forged tokens)")
    every_minutes: int = Field(1, ge=1, le=1440, description="probe when the round's minute is a multiple of this")
    follow_redirects: bool = True
    expect: Expectations = Field(default_factory=lambda: Expectations())
    http_url: str | None = Field(None, description="plain-HTTP URL that must redirect to HTTPS (tls check)")
    cors: CorsCheck = Field(default_factory=lambda: CorsCheck())
    auth: AuthCheck = Field(default_factory=lambda: AuthCheck())
    rate_limit: RateLimitCheck = Field(default_factory=lambda: RateLimitCheck())
    leakage: LeakageCheck = Field(default_factory=lambda: LeakageCheck())
    exposure: ExposureCheck = Field(default_factory=lambda: ExposureCheck())

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value, secrets_in_path=True)

    @field_validator("http_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        reason = " (a plain-HTTP URL must never carry a secret)"
        return None if value is None else check_url(value, no_secret_reason=reason)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        return _check_method(value)

    @field_validator("headers", mode="after")
    @classmethod
    def _headers(cls, value: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        for name in value:
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in ("host", "content-length", "connection", "transfer-encoding"):
                raise ValueError(f"header {name} is set by opsreview")
        return {k: _secret_if_referenced(v) for k, v in value.items()}

    @field_validator("body", mode="after")
    @classmethod
    def _body(cls, value: str | SecretRef | None) -> str | SecretRef | None:
        return None if value is None else _secret_if_referenced(value)

    @model_validator(mode="after")
    def _active_checks_need_consent(self) -> ProbeTarget:
        checks = self.enabled_checks
        if not self.allow_active:
            if "exposure" in checks:
                raise ValueError("exposure is an active check: set allow_active: true on this target to run it")
            if "rate_limit" in checks and self.rate_limit.burst_requests:
                raise ValueError(
                    "rate_limit.burst_requests is an active check: set allow_active: true on this target to run it"
                )
        if "auth" in checks and not (self.auth.protected or self.auth.admin):
            raise ValueError("the auth check needs auth.protected or auth.admin endpoints")
        if self.auth.admin and self.auth.user_token is None and "auth" in checks:
            raise ValueError("auth.admin endpoints need auth.user_token (a non-admin test token)")
        if "tls" in checks and urlsplit(self.url).scheme != "https":
            raise ValueError("the tls check needs an https url")
        return self

    @property
    def enabled_checks(self) -> tuple[str, ...]:
        if self.checks is not None:
            return tuple(dict.fromkeys(self.checks))
        return ("http", "tls") if self.url.startswith("https:") else ("http",)

    @property
    def is_https(self) -> bool:
        return urlsplit(self.url).scheme == "https"


class TlsThresholds(Section):
    warning_days: float = Field(21, ge=0, description="certificate expiry: warning below this many days")
    critical_days: float = Field(7, ge=0, description="certificate expiry: critical below this many days")
    min_version: Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    hsts_min_age_days: float = Field(180, ge=0, description="shortest acceptable HSTS max-age")

    @model_validator(mode="after")
    def _order(self) -> TlsThresholds:
        if self.critical_days > self.warning_days:
            raise ValueError("critical_days must not exceed warning_days")
        return self


class ProbeThresholds(Section):
    uptime_percent: float = Field(99.9, ge=0, le=100, description="warning below this uptime for the day")
    outage_min_failures: int = Field(2, ge=1, description="consecutive failures that make an outage")
    outage_critical_minutes: float = Field(5, ge=0, description="an outage this long is critical")
    latency_p95_ms: float = Field(1000, gt=0, description="warning when a probe's p95 of the day is above")
    headers_min_grade: Literal["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F"] = "B"
    stale_after_minutes: float = Field(
        30, gt=0, description="no probe result for this long during the day is a gap finding"
    )


class PrometheusSource(Section):
    """Read blackbox_exporter results from Prometheus (for teams that already run it)."""

    url: str
    selector: str = Field('{job="blackbox"}', description="PromQL label selector of the probe series")
    probe_label: str = Field("instance", description="label whose value names the probe")
    step_seconds: int = Field(60, ge=1, le=3600)
    timeout_seconds: float = Field(15, gt=0, le=120)
    headers: dict[str, str | SecretRef] = Field(default_factory=dict, description="e.g. Authorization")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The API path is appended to this base URL, so a query string could not work anyway.
        return check_url(value, no_secret_reason="; send credentials as a header (probes.prometheus.headers)")

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        if not re.fullmatch(r"\{.*\}", value.strip(), re.S):
            raise ValueError(f'selector {value!r} must be a label selector such as {{job="blackbox"}}')
        return value.strip()

    @field_validator("headers", mode="after")
    @classmethod
    def _headers(cls, value: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        return {k: _secret_if_referenced(v) for k, v in value.items()}


class ProbesParams(Section):
    """Probe targets, round limits and the thresholds of the probes review."""

    targets: list[ProbeTarget] = Field(default_factory=list)
    deadline_seconds: float = Field(50, gt=0, le=3600, description="a whole round ends by then (cron: < 60)")
    interval_seconds: float = Field(60, ge=1, description="pause between rounds without --once")
    concurrency: int = Field(32, ge=1, le=512, description="targets probed at the same time")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576, description="read cap per response")
    max_redirects: int = Field(5, ge=0, le=20)
    ca_file: Path | None = Field(None, description="extra trusted CA certificates (PEM) for internal CAs")
    tls: TlsThresholds = Field(default_factory=lambda: TlsThresholds())
    thresholds: ProbeThresholds = Field(default_factory=lambda: ProbeThresholds())
    prometheus: PrometheusSource | None = None

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, value: list[ProbeTarget]) -> list[ProbeTarget]:
        seen: set[str] = set()
        for target in value:
            if target.name in seen:
                raise ValueError(f"probe name {target.name!r} is used twice")
            seen.add(target.name)
        return value

    def secret_references(self) -> list[tuple[str, SecretRef]]:
        """Every secret reference of the section, with its params key (to check them before a round)."""
        refs: list[tuple[str, object]] = []
        for i, target in enumerate(self.targets):
            key = f"probes.targets.{i}"
            refs.append((f"{key}.url", SecretRef(target.url) if SECRET_REF.search(target.url) else None))
            refs += [(f"{key}.headers.{name}", value) for name, value in target.headers.items()]
            refs.append((f"{key}.body", target.body))
            refs += [(f"{key}.auth.{name}", getattr(target.auth, name)) for name in ("user_token", "expired_token")]
            refs.append((f"{key}.auth.signing_secret", target.auth.signing_secret))
            for group in ("protected", "admin"):
                refs += [(f"{key}.auth.{group}.{j}.body", e.body) for j, e in enumerate(getattr(target.auth, group))]
            refs += [(f"{key}.leakage.requests.{j}.body", e.body) for j, e in enumerate(target.leakage.requests)]
        if self.prometheus is not None:
            refs += [(f"probes.prometheus.headers.{name}", v) for name, v in self.prometheus.headers.items()]
        return [(key, value) for key, value in refs if isinstance(value, SecretRef)]

    @model_validator(mode="after")
    def _timeouts_fit(self) -> ProbesParams:
        for target in self.targets:
            if target.timeout_seconds > self.deadline_seconds:
                raise ValueError(
                    f"target {target.name}: timeout_seconds {target.timeout_seconds} exceeds deadline_seconds "
                    f"{self.deadline_seconds}"
                )
        return self
