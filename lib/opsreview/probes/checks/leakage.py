"""Check `leakage`: 404 and error responses carry no stack trace, file path or framework banner.

``leakage.not_found`` asks for a random path that cannot exist; ``leakage.errors`` sends the
error-provoking requests configured in ``leakage.requests`` (e.g. ``GET /api/boom``, a POST
with malformed JSON). Every answer is scanned for stack frames (Node, Python, Java), source
file paths, framework banners (Express's "Cannot GET /x" page, a ``Server`` header with a
version) and internal error class names.
"""

from __future__ import annotations

import re
import secrets

from opsreview.probes.client import Exchange
from opsreview.probes.params import resolve_value
from opsreview.probes.target import TargetRun, describe

_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stack trace", re.compile(r"\bat (?:async )?[\w$.<>\[\] ]*\(?(?:/|[A-Za-z]:\\|node:|file:)[^\s)]*:\d+:\d+")),
    ("stack trace", re.compile(r"Traceback \(most recent call last\)|\bat [\w$.]+\([\w$]+\.java:\d+\)")),
    ("source file path", re.compile(r"(?:/[\w.@-]+)+/[\w.-]+\.(?:js|mjs|cjs|ts|py|rb|php|java)\b|node_modules/")),
    ("framework banner", re.compile(r"Cannot (?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /")),
    ("framework banner", re.compile(r"Whitelabel Error Page|Werkzeug|Django Version|<address>Apache/")),
    (
        "internal error name",
        re.compile(r"\b(?:Mongo\w*Error|CastError|SyntaxError: Unexpected|TypeError: |ReferenceError: )"),
    ),
)
_VERSIONED_SERVER = re.compile(r"[A-Za-z-]+/\d+(?:\.\d+)")


def leaks(exchange: Exchange) -> list[str]:
    """What in the response reveals internals (empty when nothing does)."""
    found: list[str] = []
    text = exchange.text
    for label, pattern in _MARKERS:
        match = pattern.search(text)
        if match and not any(f.startswith(label) for f in found):
            found.append(f"{label} ({match.group(0)[:60]!r})")
    server = exchange.headers.get("server")
    if server and _VERSIONED_SERVER.search(server):
        found.append(f"Server header with version ({server[:60]!r})")
    return found


def _row(tr: TargetRun, check: str, exchanges: list[Exchange]) -> None:
    problems, answered = [], []
    for exchange in exchanges:
        if exchange.error:
            problems.append(describe(exchange))
            continue
        answered.append(describe(exchange))
        found = leaks(exchange)
        if found:
            problems.append(f"{describe(exchange)}: " + ", ".join(found))
    if problems:
        tr.add(check, False, "; ".join(problems), exchanges[0])
    else:
        tr.add(check, True, "nothing revealing in " + "; ".join(answered), exchanges[0])


def run(tr: TargetRun) -> None:
    if not tr.main.reachable:
        return
    missing = f"/opsreview-probe-{secrets.token_hex(6)}"
    _row(tr, "leakage.not_found", [tr.request(tr.url_for(missing), headers=tr.configured_headers)])
    configured = []
    for endpoint in tr.target.leakage.requests:
        text = resolve_value(endpoint.body)
        headers = dict(tr.configured_headers)
        if text is not None:
            headers["Content-Type"] = endpoint.content_type or "application/json"
        configured.append(
            tr.request(
                tr.url_for(endpoint.path),
                method=endpoint.method,
                headers=headers,
                body=text.encode() if text is not None else None,
            )
        )
    if configured:
        _row(tr, "leakage.errors", configured)
