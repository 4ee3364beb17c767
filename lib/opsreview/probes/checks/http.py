"""Check `http`: the target answers as expected (status, latency, body, JSON fields)."""

from __future__ import annotations

import json
import re
from typing import Any

from opsreview.probes.client import Exchange
from opsreview.probes.params import Expectations
from opsreview.probes.target import TargetRun

_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()


def status_matches(status: int, accepted: list[int | str]) -> bool:
    for item in accepted:
        if isinstance(item, int) and status == item:
            return True
        if isinstance(item, str) and item[0] == str(status)[0] and (item[1:] == "xx" or item == str(status)):
            return True
    return False


def json_path(document: Any, path: str) -> Any:
    """``a.b[0].c`` (a leading ``$.`` is allowed); returns a sentinel when absent."""
    path = path[2:] if path.startswith("$.") else path
    value = document
    for key, index in _PATH_TOKEN.findall(path):
        if index:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def _same(actual: Any, expected: Any) -> bool:
    """Equal, or the same scalar written differently (YAML ``200`` vs JSON ``"200"``); booleans strictly."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if actual == expected:
        return True
    return not isinstance(actual, dict | list) and str(actual) == str(expected)


def unmet_expectations(exchange: Exchange, expect: Expectations, max_bytes: int) -> list[str]:
    """Why the response fails the expectations (empty when it passes)."""
    problems = []
    assert exchange.status is not None
    if not status_matches(exchange.status, expect.status):
        wanted = ", ".join(str(s) for s in expect.status)
        problems.append(f"expected status {wanted}, got {exchange.status}")
    if expect.max_latency_ms is not None and exchange.total_ms > expect.max_latency_ms:
        problems.append(f"took {exchange.total_ms:.0f} ms (limit {expect.max_latency_ms:g} ms)")
    if exchange.truncated:
        size = f" (Content-Length {exchange.content_length})" if exchange.content_length else ""
        problems.append(f"body larger than the {max_bytes} byte read cap{size}: stopped reading")
    if expect.body_contains is not None and expect.body_contains not in exchange.text:
        problems.append(f"body does not contain {expect.body_contains!r}")
    if expect.json_equals:
        try:
            document = json.loads(exchange.text)
        except ValueError:
            problems.append("body is not JSON")
        else:
            for path, expected in expect.json_equals.items():
                actual = json_path(document, path)
                if actual is _MISSING:
                    problems.append(f"JSON {path} is missing")
                elif not _same(actual, expected):
                    problems.append(f"JSON {path} is {json.dumps(actual)[:80]}, expected {json.dumps(expected)}")
    return problems


def run(tr: TargetRun) -> None:
    exchange = tr.main
    if exchange.error:
        tr.add("http", False, exchange.error, exchange)
        return
    problems = unmet_expectations(exchange, tr.target.expect, tr.settings.max_body_bytes)
    hops = f" after {len(exchange.redirects)} redirect(s)" if exchange.redirects else ""
    summary = f"{exchange.status} {exchange.reason}".strip() + f" in {exchange.total_ms:.0f} ms{hops}"
    tr.add("http", not problems, "; ".join(problems) if problems else summary, exchange)
