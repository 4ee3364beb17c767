"""Check `auth`: protected endpoints reject bad tokens; admin endpoints check the role.

Rows (each over every configured endpoint):

- ``auth.no_token``: no Authorization header -> a reject status (401 by default);
- ``auth.valid_token``: the configured non-admin test token is accepted on protected
  endpoints (otherwise the other rows prove nothing; refresh the token). Only 401/403 mean
  rejected; a 400 (the token passed, the body did not) is accepted; when every answer is a
  5xx, a redirect or a 429 the row fails as inconclusive (see :func:`token_verdict`);
- ``auth.rbac``: the non-admin token gets 403 on admin endpoints;
- active, only with ``allow_active``: ``auth.expired`` (a correctly signed but expired token,
  from ``expired_token`` or minted with ``signing_secret``), ``auth.tampered`` (the test
  token with its payload changed to role admin and the original signature) and
  ``auth.alg_none`` (the same claims with ``alg: none`` and no signature).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from opsreview.probes.client import Exchange
from opsreview.probes.params import Endpoint, resolve_value
from opsreview.probes.target import TargetRun, describe

REJECTED = (401, 403)  # the only answers that mean "this token is not accepted"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _unb64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def token_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT (unverified); a made-up one when there is no usable token."""
    if token and token.count(".") == 2:
        try:
            return _unb64json(token.split(".")[1])
        except ValueError:
            pass
    now = int(time.time())
    return {"sub": "opsreview-probe", "iat": now, "exp": now + 600}


def tampered_token(token: str | None) -> str:
    """The claims elevated to admin, with the original signature (or a random one)."""
    claims = {**token_claims(token), "role": "admin", "admin": True}
    if token and token.count(".") == 2:
        header, _, signature = token.split(".")
        return f"{header}.{_b64json(claims)}.{signature}"
    return f"{_b64json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64json(claims)}.{_b64(secrets.token_bytes(32))}"


def none_alg_token(token: str | None) -> str:
    claims = {**token_claims(token), "role": "admin", "admin": True}
    return f"{_b64json({'alg': 'none', 'typ': 'JWT'})}.{_b64json(claims)}."


def minted_expired_token(secret: str, template: str | None) -> str:
    """An HS256 token that expired an hour ago, signed with the real key."""
    now = int(time.time())
    claims = {**token_claims(template), "iat": now - 7200, "exp": now - 3600}
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64json(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _send(tr: TargetRun, endpoint: Endpoint, token: str | None) -> Exchange:
    headers = {k: v for k, v in tr.configured_headers.items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = resolve_value(endpoint.body)
    if body is not None:
        headers.setdefault("Content-Type", endpoint.content_type or "application/json")
    return tr.request(
        tr.url_for(endpoint.path), method=endpoint.method, headers=headers, body=body.encode() if body else None
    )


def _row(tr: TargetRun, check: str, exchanges: list[Exchange], accepted: set[int], what: str) -> None:
    """One row over all endpoints: every answer must be in ``accepted``."""
    failures, errors = [], []
    for exchange in exchanges:
        if exchange.error:
            errors.append(describe(exchange))
        elif exchange.status not in accepted:
            failures.append(describe(exchange))
    wanted = "/".join(str(s) for s in sorted(accepted)) if len(accepted) < 5 else "accepted"
    if failures:
        tr.add(check, False, f"{what}: expected {wanted}, got " + "; ".join(failures), exchanges[0])
    elif errors:
        tr.add(check, False, f"{what}: no answer: " + "; ".join(errors), exchanges[0])
    else:
        statuses = ", ".join(sorted({str(e.status) for e in exchanges}))
        tr.add(check, True, f"{what}: {len(exchanges)} endpoint(s) answered {statuses}", exchanges[0])


def token_verdict(status: int) -> str:
    """What one answer to the test token says: ``rejected`` (401/403 only), ``accepted`` (a
    2xx, or a 4xx the handler gave after the token passed: a 400 for a body the probe left
    invalid, a 404, a 405) or ``inconclusive`` (a 5xx, a redirect, a 429 or a proxy's 407
    can come before the token is looked at)."""
    if status in REJECTED:
        return "rejected"
    if 200 <= status < 300 or (400 <= status < 500 and status not in (407, 429)):
        return "accepted"
    return "inconclusive"


def _valid_token_row(tr: TargetRun, exchanges: list[Exchange]) -> None:
    """``auth.valid_token``: fails when an endpoint rejects the token, and when no endpoint
    shows that it is accepted (the other auth rows then prove nothing)."""
    what = "with the non-admin test token"
    verdicts: dict[str, list[Exchange]] = {"rejected": [], "accepted": [], "inconclusive": []}
    for exchange in exchanges:
        status = None if exchange.error else exchange.status
        verdicts["inconclusive" if status is None else token_verdict(status)].append(exchange)
    rejected, accepted, unclear = verdicts["rejected"], verdicts["accepted"], verdicts["inconclusive"]
    listed = "; ".join(describe(e) for e in unclear)
    if rejected:
        tr.add(
            "auth.valid_token",
            False,
            f"{what}: token not accepted: " + "; ".join(describe(e) for e in rejected) + ": refresh auth.user_token",
            rejected[0],
        )
    elif accepted:
        statuses = ", ".join(sorted({str(e.status) for e in accepted}))
        also = f" (inconclusive: {listed})" if unclear else ""
        tr.add("auth.valid_token", True, f"{what}: {len(accepted)} endpoint(s) answered {statuses}{also}", accepted[0])
    else:
        tr.add(
            "auth.valid_token",
            False,
            f"{what}: inconclusive, no answer shows whether the token is accepted (a 5xx, a redirect or a 429 "
            f"comes before the token is checked): {listed}",
            exchanges[0],
        )


def run(tr: TargetRun) -> None:
    cfg = tr.target.auth
    endpoints = [*cfg.protected, *cfg.admin]
    reject = set(cfg.reject_status)
    user_token = resolve_value(cfg.user_token)
    _row(tr, "auth.no_token", [_send(tr, e, None) for e in endpoints], reject, "without a token")
    if user_token and cfg.protected:
        _valid_token_row(tr, [_send(tr, e, user_token) for e in cfg.protected])
    if user_token and cfg.admin:
        exchanges = [_send(tr, e, user_token) for e in cfg.admin]
        rejected = [e for e in exchanges if e.status in reject]
        if rejected and len(rejected) == len(exchanges):
            tr.add(
                "auth.rbac",
                False,
                "non-admin test token rejected as unauthenticated ("
                + "; ".join(describe(e) for e in rejected)
                + "): refresh auth.user_token; the role check is not verified",
                exchanges[0],
            )
        else:
            _row(tr, "auth.rbac", exchanges, {403}, "admin endpoints with a non-admin token")
    if not tr.target.allow_active:
        return
    expired = resolve_value(cfg.expired_token)
    signing = resolve_value(cfg.signing_secret)
    if expired is None and signing:
        expired = minted_expired_token(signing, user_token)
    if expired is not None:
        _row(tr, "auth.expired", [_send(tr, e, expired) for e in endpoints], reject, "with an expired token")
    forged = tampered_token(user_token)
    _row(tr, "auth.tampered", [_send(tr, e, forged) for e in endpoints], reject, "with a tampered signature")
    unsigned = none_alg_token(user_token)
    _row(tr, "auth.alg_none", [_send(tr, e, unsigned) for e in endpoints], reject, "with alg: none")
