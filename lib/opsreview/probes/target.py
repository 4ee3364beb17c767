"""The state of one target in one round, shared by the checks that run on it.

The main response (the configured method, headers and body against the target URL) is
fetched once and reused by every check that grades a response (http, tls, headers,
rate_limit); checks that need requests of their own go through :meth:`TargetRun.request`,
which sends only to the target's origin and applies the same limits.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from opsreview.probes.client import Exchange, fetch
from opsreview.probes.models import ProbeResult
from opsreview.probes.params import ProbesParams, ProbeTarget, resolve_url, resolve_value
from opsreview.secrets import redact


@dataclass
class TargetRun:
    target: ProbeTarget
    settings: ProbesParams
    ts: dt.datetime
    ctx: ssl.SSLContext
    round_deadline: float | None = None
    results: list[ProbeResult] = field(default_factory=list)
    requests_sent: int = 0
    _main: Exchange | None = None
    _headers: dict[str, str] | None = None
    _url: str | None = None

    @property
    def origin(self) -> str:
        """Scheme, host and port: never secret (params refuse ``${ENV}`` there)."""
        parts = urlsplit(self.target.url)
        return urlunsplit((parts.scheme, parts.netloc, "", "", ""))

    @property
    def url(self) -> str:
        """The target's URL with its ``${ENV}`` references resolved (once per round) and
        remembered for redaction; send this, never ``target.url``."""
        if self._url is None:
            self._url = resolve_url(self.target.url)
        return self._url

    def url_for(self, path: str) -> str:
        return self.origin + path

    @property
    def configured_headers(self) -> dict[str, str]:
        """The target's headers with secret references resolved (once per round)."""
        if self._headers is None:
            self._headers = {k: resolve_value(v) or "" for k, v in self.target.headers.items()}
        return self._headers

    @property
    def main(self) -> Exchange:
        if self._main is None:
            body = resolve_value(self.target.body)
            self._main = self.request(
                self.url,
                method=self.target.method,
                headers=self.configured_headers,
                body=body.encode() if body is not None else None,
                follow_redirects=self.target.follow_redirects,
            )
        return self._main

    def request(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        follow_redirects: bool = False,
        max_bytes: int | None = None,
    ) -> Exchange:
        self.requests_sent += 1
        return fetch(
            url,
            method=method,
            headers=headers,
            body=body,
            timeout_s=self.target.timeout_seconds,
            round_deadline=self.round_deadline,
            ctx=self.ctx,
            max_bytes=max_bytes or self.settings.max_body_bytes,
            follow_redirects=follow_redirects,
            max_redirects=self.settings.max_redirects,
        )

    def add(
        self,
        check: str,
        ok: bool,
        detail: str,
        exchange: Exchange | None = None,
        cert_days_left: float | None = None,
        latency_ms: float | None = None,
    ) -> ProbeResult:
        """Record one result; timings come from ``exchange``; the detail is redacted."""
        result = ProbeResult(
            ts=self.ts,
            probe=self.target.name,
            check=check,
            ok=ok,
            detail=redact(detail)[:1000],
            status_code=exchange.status if exchange else None,
            latency_ms=latency_ms if latency_ms is not None else (exchange.total_ms if exchange else None),
            cert_days_left=cert_days_left,
            dns_ms=exchange.dns_ms if exchange else None,
            connect_ms=exchange.connect_ms if exchange else None,
            tls_ms=exchange.tls_ms if exchange else None,
            ttfb_ms=exchange.ttfb_ms if exchange else None,
        )
        self.results.append(result)
        return result


def describe(exchange: Exchange) -> str:
    """``'GET /path -> 404'`` or the error, for details."""
    path = urlsplit(exchange.url).path or "/"
    if exchange.error:
        return f"{exchange.method} {path}: {exchange.error}"
    return f"{exchange.method} {path} -> {exchange.status}"
