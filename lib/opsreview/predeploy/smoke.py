"""The smoke run: every endpoint of params (and the GET endpoints of the app's OpenAPI file)
requested once on ``base_url``, each answer checked against its accepted statuses.

Requests go through the probes' bounded client (:func:`opsreview.probes.client.fetch`): one
time limit per exchange, connect to last byte, body read capped; a refused port, a timeout or
a TLS failure comes back as a one-line reason, never an exception. Redirects are not followed:
the status the endpoint itself answers is what is checked (accept ``3xx`` where a redirect is
right).
"""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from opsreview.exceptions import ParamsError
from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.predeploy.params import SmokeEndpoint, status_accepted
from opsreview.probes.client import fetch, tls_context
from opsreview.secrets import SecretRef, redact

_WORKERS = 8
_BODY_CAP = 64 * 1024  # a smoke request only needs the status


def openapi_endpoints(path: Path, expect: list[int | str]) -> list[SmokeEndpoint]:
    """The GET operations of an OpenAPI (3.x, or Swagger 2.0) file whose path has no parameter.

    ``servers``/``basePath`` are not read: paths are requested on ``base_url`` (put an API
    prefix there). Raises ValueError with a one-line reason when the file is not OpenAPI.
    """
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML or JSON ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(document, dict) or not ("openapi" in document or "swagger" in document):
        raise ValueError("not an OpenAPI document (no 'openapi' or 'swagger' key)")
    paths = document.get("paths") or {}
    if not isinstance(paths, dict):
        raise ValueError("'paths' is not a mapping")
    endpoints = []
    for route, operations in paths.items():
        if not isinstance(route, str) or "{" in route or not isinstance(operations, dict):
            continue
        if "get" in operations:
            endpoints.append(SmokeEndpoint(method="GET", path=route, expect=list(expect)))
    return endpoints


def smoke_endpoints(params: Params) -> list[tuple[SmokeEndpoint, str]]:
    """The endpoints of the run with where each comes from (``params`` or ``openapi``), each
    request once (a listed endpoint wins over the same one from the OpenAPI file)."""
    pp = params.predeploy
    chosen: dict[str, tuple[SmokeEndpoint, str]] = {e.label(): (e, "params") for e in pp.endpoints}
    if pp.openapi is not None:
        try:
            from_file = openapi_endpoints(pp.openapi, pp.openapi_expect)
        except OSError as exc:
            raise ParamsError(
                str(params.source_file), "predeploy.openapi", f"cannot read {pp.openapi} ({exc.strerror})"
            ) from exc
        except ValueError as exc:
            raise ParamsError(str(params.source_file), "predeploy.openapi", f"{pp.openapi}: {exc}") from exc
        for endpoint in from_file:
            chosen.setdefault(endpoint.label(), (endpoint, "openapi"))
    return list(chosen.values())


def _headers(endpoint: SmokeEndpoint) -> dict[str, str]:
    return {k: v.resolve() if isinstance(v, SecretRef) else v for k, v in endpoint.headers.items()}


def _smoke_one(
    base_url: str, endpoint: SmokeEndpoint, source: str, timeout_s: float, ctx: ssl.SSLContext
) -> dict[str, Any]:
    headers = _headers(endpoint)
    body = endpoint.body.encode("utf-8") if endpoint.body is not None else None
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    exchange = fetch(
        base_url + endpoint.path,
        method=endpoint.method,
        headers=headers,
        body=body,
        timeout_s=timeout_s,
        ctx=ctx,
        max_bytes=_BODY_CAP,
        follow_redirects=False,
    )
    row: dict[str, Any] = {
        "endpoint": endpoint.label(),
        "source": source,
        "expect": [str(s) for s in endpoint.expect],
        "status": exchange.status,
        "latency_ms": round(exchange.total_ms, 1),
        "ok": False,
        "error": None,
    }
    if exchange.error is not None:
        row["error"] = redact(exchange.error)
    elif exchange.status is not None and status_accepted(exchange.status, endpoint.expect):
        row["ok"] = True
    else:
        row["error"] = f"answered {exchange.status}, expected {', '.join(row['expect'])}"
    return row


def check_endpoints(params: Params) -> CheckResult:
    """Smoke every endpoint; pass when each answered one of its accepted statuses."""
    pp = params.predeploy
    endpoints = smoke_endpoints(params)
    if not endpoints:
        return CheckResult(
            "smoke",
            NOT_CHECKED,
            "no endpoints to smoke",
            remedy="list predeploy.endpoints or set predeploy.openapi to the app's OpenAPI file",
        )
    assert pp.base_url is not None  # the gate refuses to start without it
    base_url = pp.base_url
    timeout = pp.timeouts.request_seconds
    ctx = tls_context(str(params.probes.ca_file) if params.probes.ca_file else None)  # internal CAs too
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(endpoints)), thread_name_prefix="smoke") as pool:
        rows = list(pool.map(lambda pair: _smoke_one(base_url, pair[0], pair[1], timeout, ctx), endpoints))
    failed = [r for r in rows if not r["ok"]]
    evidence = {"base_url": base_url, "requests": rows, "timeout_seconds": timeout}
    if failed:
        failures = [(r["endpoint"], f"{r['endpoint']}: {r['error']}") for r in failed]
        summary = f"{len(failed)} of {len(rows)} endpoint(s) failed: " + "; ".join(reason for _, reason in failures)
        return CheckResult("smoke", FAIL, summary, evidence, failures)
    return CheckResult("smoke", PASS, f"{len(rows)} endpoint(s) answered as expected", evidence)
