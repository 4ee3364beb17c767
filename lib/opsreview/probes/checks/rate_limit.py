"""Check `rate_limit`: rate-limit headers are sent; optionally, a burst meets a 429.

``rate_limit.headers`` looks for the IETF draft headers (``RateLimit-Policy`` with
``RateLimit`` (draft 7+) or ``RateLimit-Limit``/``-Remaining``/``-Reset`` (draft 6)) or the
legacy ``X-RateLimit-*`` ones on the target's response (or on ``rate_limit.path``).
``rate_limit.burst`` is active: it sends up to ``burst_requests`` requests back to back and
passes at the first 429; params refuse it unless the target has ``allow_active: true``.
"""

from __future__ import annotations

from opsreview.probes.client import Exchange
from opsreview.probes.target import TargetRun, describe

_HEADER_SETS = (
    ("ratelimit-policy", "ratelimit"),
    ("ratelimit-limit", "ratelimit-remaining"),
    ("x-ratelimit-limit", "x-ratelimit-remaining"),
)


def rate_limit_headers(exchange: Exchange) -> dict[str, str]:
    return {
        name: value for name, value in exchange.headers.items if name.lower().startswith(("ratelimit", "x-ratelimit"))
    }


def _headers_row(tr: TargetRun) -> Exchange:
    path = tr.target.rate_limit.path
    exchange = tr.request(tr.url_for(path), headers=tr.configured_headers) if path else tr.main
    if exchange.error:
        tr.add("rate_limit.headers", False, describe(exchange), exchange)
        return exchange
    found = rate_limit_headers(exchange)
    names = set(exchange.headers.names())
    if any(all(h in names for h in group) for group in _HEADER_SETS) or exchange.status == 429:
        shown = ", ".join(f"{k}: {v}" for k, v in found.items())
        tr.add("rate_limit.headers", True, f"{describe(exchange)}: {shown}", exchange)
    else:
        extra = f" (only {', '.join(found)})" if found else ""
        tr.add(
            "rate_limit.headers",
            False,
            f"{describe(exchange)}: no RateLimit/RateLimit-Policy or X-RateLimit-* headers{extra}",
            exchange,
        )
    return exchange


def _burst_row(tr: TargetRun, size: int) -> None:
    path = tr.target.rate_limit.path
    url = tr.url_for(path) if path else tr.url
    last: Exchange | None = None
    for sent in range(1, size + 1):
        last = tr.request(url, headers=tr.configured_headers, max_bytes=16 * 1024)
        if last.error:
            tr.add("rate_limit.burst", False, f"burst stopped after {sent} requests: {describe(last)}", last)
            return
        if last.status == 429:
            retry = last.headers.get("retry-after")
            after = f", Retry-After {retry}" if retry else ""
            tr.add("rate_limit.burst", True, f"429 after {sent} requests to {describe(last)}{after}", last)
            return
    assert last is not None
    tr.add("rate_limit.burst", False, f"no 429 within {size} requests ({describe(last)})", last)


def run(tr: TargetRun) -> None:
    if not tr.main.reachable:
        return
    _headers_row(tr)
    size = tr.target.rate_limit.burst_requests
    if size and tr.target.allow_active:
        _burst_row(tr, size)
