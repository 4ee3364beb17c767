"""Check `exposure` (active): files that must never be served are not.

Rows by kind of file: ``exposure.env`` (``/.env*``), ``exposure.git`` (``/.git/*``),
``exposure.source`` (package manifests, server code) and ``exposure.config`` (anything else
configured). A path fails when it answers 2xx with content that looks like the file (a
signature such as ``KEY=value`` lines or ``[core]``), or with anything that is not an HTML
page (single-page apps answer every path with their index page; that is not an exposure).
Only the start of each answer is read.
"""

from __future__ import annotations

import re
from collections import defaultdict

from opsreview.probes.client import Exchange
from opsreview.probes.target import TargetRun, describe

_SIGNATURES: dict[str, re.Pattern[str]] = {
    "env": re.compile(r"^\s*(?:export\s+)?[A-Z][A-Z0-9_]*\s*=", re.M),
    "git": re.compile(r"^\[core\]|^ref: refs/|repositoryformatversion", re.M),
    "source": re.compile(r"\"(?:dependencies|devDependencies|name|lockfileVersion)\"\s*:|\brequire\(|^import ", re.M),
    "config": re.compile(r"^\s*(?:\[default\]|aws_access_key_id|_authToken|services:|registry=)", re.M),
}
_READ_CAP = 16 * 1024


def kind_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name.startswith(".env"):
        return "env"
    if "/.git/" in path or path.endswith("/.git"):
        return "git"
    if name.startswith("package") or name.endswith(("yarn.lock", ".js", ".mjs", ".cjs", ".ts")):
        return "source"
    return "config"


def exposed(exchange: Exchange, kind: str) -> str | None:
    """Why the answer counts as an exposure, or None."""
    if exchange.status is None or not 200 <= exchange.status < 300:
        return None
    text = exchange.text
    if _SIGNATURES[kind].search(text):
        return f"{describe(exchange)} serves the file ({len(exchange.body)} bytes read)"
    content_type = (exchange.headers.get("content-type") or "").lower()
    looks_html = "text/html" in content_type and text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    if text.strip() and not looks_html:
        return f"{describe(exchange)} answers {content_type or 'content'} ({len(exchange.body)} bytes read)"
    return None


def run(tr: TargetRun) -> None:
    if not tr.main.reachable or not tr.target.allow_active:
        return
    by_kind: dict[str, list[tuple[str, Exchange]]] = defaultdict(list)
    for path in tr.target.exposure.paths:
        exchange = tr.request(tr.url_for(path), max_bytes=_READ_CAP)
        by_kind[kind_of(path)].append((path, exchange))
    for kind, answers in by_kind.items():
        problems = [why for _, e in answers if (why := exposed(e, kind))]
        statuses = ", ".join(f"{p} {e.status if e.status is not None else 'error'}" for p, e in answers)
        first = answers[0][1]
        if problems:
            tr.add(f"exposure.{kind}", False, "; ".join(problems), first)
        else:
            tr.add(f"exposure.{kind}", True, f"not served: {statuses}", first)
