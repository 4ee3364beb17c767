"""The security check: the probes area's checks (``probes.targets``) run once against
``base_url``, through the probes' own round (:func:`opsreview.probes.round.run_round`).

Each chosen target keeps its path, query string, headers and checks; only its origin (scheme,
host, port) becomes ``base_url``'s, so the same probes that watch production vet the deploy
target before it takes traffic. A ``tls`` check cannot run on an ``http`` base_url: it is left
out and the evidence says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.probes.params import ProbeTarget
from opsreview.probes.round import run_round
from opsreview.secrets import redact


def rebase(url: str, base_url: str) -> str:
    """``url`` with the scheme, host and port of ``base_url`` (path and query kept)."""
    parts, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def target_on(target: ProbeTarget, base_url: str) -> tuple[ProbeTarget, list[str]]:
    """The target sent to ``base_url``; and the checks left out (tls on plain http)."""
    # model_copy, not a dump and re-validation: a literal secret would come back masked.
    update: dict[str, Any] = {"url": rebase(target.url, base_url), "http_url": None}
    dropped: list[str] = []
    if urlsplit(base_url).scheme != "https" and "tls" in target.enabled_checks:
        dropped.append("tls")
        update["checks"] = [c for c in target.enabled_checks if c != "tls"] or ["http"]
    return target.model_copy(update=update), dropped


def check_security(params: Params, now: dt.datetime | None = None) -> CheckResult:
    """Run the chosen probe targets against base_url; pass when every probe check passes."""
    pp = params.predeploy
    wanted = pp.probe_targets
    known = {t.name: t for t in params.probes.targets}
    targets = [known[name] for name in wanted] if wanted else list(known.values())
    if not targets:
        return CheckResult(
            "security",
            NOT_CHECKED,
            "no probe targets configured",
            remedy="add probes.targets (their checks run against predeploy.base_url)",
        )
    assert pp.base_url is not None
    rebased, dropped = [], {}
    for target in targets:
        moved, left_out = target_on(target, pp.base_url)
        rebased.append(moved)
        if left_out:
            dropped[target.name] = left_out
    report = run_round(params.probes, now=now, targets=rebased, ignore_schedule=True)
    rows = [
        {
            "probe": r.probe,
            "check": r.check,
            "ok": r.ok,
            "status": r.status_code,
            "latency_ms": None if r.latency_ms is None else round(r.latency_ms, 1),
            "detail": redact(r.detail),
        }
        for r in report.results
    ]
    evidence: dict[str, Any] = {
        "base_url": pp.base_url,
        "targets": [t.name for t in rebased],
        "results": rows,
        "left_out": dropped,
        "duration_s": round(report.duration_s, 2),
        "unfinished": report.unfinished,
    }
    failed = [r for r in rows if not r["ok"]]
    if failed:
        failures = [(f"{r['probe']}/{r['check']}", f"{r['probe']} {r['check']}: {r['detail']}") for r in failed]
        summary = f"{len(failed)} of {len(rows)} probe check(s) failed: " + "; ".join(reason for _, reason in failures)
        return CheckResult("security", FAIL, summary, evidence, failures)
    return CheckResult("security", PASS, f"{len(rows)} probe check(s) of {len(rebased)} target(s) passed", evidence)
