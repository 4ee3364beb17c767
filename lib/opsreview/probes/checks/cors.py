"""Check `cors`: a foreign origin is not allowed, and never reflected with credentials.

Rows: ``cors.simple`` (a GET carrying a foreign ``Origin``), ``cors.preflight`` (an
``OPTIONS`` preflight for a credentialed PUT from that origin) and ``cors.credentials`` (no
response reflects the foreign origin, or ``null``, together with
``Access-Control-Allow-Credentials: true`` - the combination that lets any site read a
logged-in user's data).
"""

from __future__ import annotations

from opsreview.probes.client import Exchange
from opsreview.probes.target import TargetRun, describe


def _allowed_origin(exchange: Exchange) -> str | None:
    value = exchange.headers.get("access-control-allow-origin")
    return value.strip() if value is not None else None


def _with_credentials(exchange: Exchange) -> bool:
    return (exchange.headers.get("access-control-allow-credentials") or "").strip().lower() == "true"


def _verdict(tr: TargetRun, exchange: Exchange, origin: str) -> tuple[bool, str]:
    cfg = tr.target.cors
    allowed = _allowed_origin(exchange)
    label = describe(exchange)
    if allowed is None:
        return True, f"{label} with Origin {origin}: no Access-Control-Allow-Origin"
    if allowed == origin and origin not in cfg.allowed_origins:
        return False, f"{label}: foreign Origin {origin} is reflected in Access-Control-Allow-Origin"
    if allowed == "*" and not cfg.allow_any_origin:
        return False, f"{label}: Access-Control-Allow-Origin: * (set cors.allow_any_origin for a public API)"
    return True, f"{label}: Access-Control-Allow-Origin {allowed} does not admit {origin}"


def run(tr: TargetRun) -> None:
    origin = tr.target.cors.probe_origin
    # The simple requests carry the target's own headers (as a browser would send cookies or a
    # token); a preflight never carries credentials.
    simple = tr.request(tr.url, method="GET", headers={**tr.configured_headers, "Origin": origin})
    preflight = tr.request(
        tr.url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    null_origin = tr.request(tr.url, method="GET", headers={**tr.configured_headers, "Origin": "null"})
    for check, exchange in (("cors.simple", simple), ("cors.preflight", preflight)):
        if exchange.error:
            tr.add(check, False, describe(exchange), exchange)
        else:
            ok, detail = _verdict(tr, exchange, origin)
            if check == "cors.preflight" and ok:
                methods = exchange.headers.get("access-control-allow-methods")
                detail += f" (status {exchange.status}" + (f", allows {methods})" if methods else ")")
            tr.add(check, ok, detail, exchange)
    answered = [(e, o) for e, o in ((simple, origin), (preflight, origin), (null_origin, "null")) if not e.error]
    if not answered:
        return
    reflected = [
        f"{describe(e)} reflects Origin {o} with Access-Control-Allow-Credentials: true"
        for e, o in answered
        if _allowed_origin(e) == o and _with_credentials(e) and o not in tr.target.cors.allowed_origins
    ]
    if reflected:
        tr.add("cors.credentials", False, "; ".join(reflected), answered[0][0])
    else:
        tr.add("cors.credentials", True, "no foreign or null origin is reflected with credentials", answered[0][0])
