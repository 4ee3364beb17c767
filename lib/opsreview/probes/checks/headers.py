"""Check `headers`: helmet's security headers, graded in the spirit of Mozilla's HTTP Observatory.

Each header test is a row (``headers.csp``, ``headers.hsts`` (HTTPS only), ``headers.nosniff``,
``headers.frame``, ``headers.referrer``, ``headers.cross_origin``, ``headers.powered_by``)
and carries an Observatory-style score modifier; the ``headers`` row holds the grade of the
response (score from 100, A+ … F) and passes when the grade reaches
``thresholds.headers_min_grade``. Bonuses count only once the score is at least 90, as in
the Observatory.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsreview.probes.checks.tls import hsts_max_age
from opsreview.probes.client import Headers
from opsreview.probes.params import GRADES
from opsreview.probes.target import TargetRun

_GRADE_FLOORS: tuple[tuple[int, str], ...] = (
    (100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"), (60, "C+"),
    (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"), (0, "F"),
)  # fmt: skip
_SAFE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
_UNSAFE_REFERRER = {"unsafe-url", "no-referrer-when-downgrade"}


@dataclass(frozen=True)
class HeaderTest:
    check: str
    ok: bool
    modifier: int
    detail: str


def grade(score: int) -> str:
    return next(letter for floor, letter in _GRADE_FLOORS if score >= floor)


def csp_directives(value: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.strip().split()
        if tokens:
            directives.setdefault(tokens[0].lower(), [t.lower() for t in tokens[1:]])
    return directives


def _csp(headers: Headers) -> HeaderTest:
    value = headers.get("content-security-policy")
    if not value:
        return HeaderTest("headers.csp", False, -25, "Content-Security-Policy missing")
    directives = csp_directives(value)
    scripts = directives.get("script-src", directives.get("default-src"))
    if scripts is None:
        return HeaderTest("headers.csp", False, -25, "CSP has neither script-src nor default-src")
    if "'unsafe-inline'" in scripts and not any(s.startswith(("'nonce-", "'sha")) for s in scripts):
        return HeaderTest("headers.csp", False, -20, "CSP allows 'unsafe-inline' scripts")
    if "'unsafe-eval'" in scripts:
        return HeaderTest("headers.csp", False, -10, "CSP allows 'unsafe-eval' scripts")
    if any(s in ("*", "http:", "https:", "data:") for s in scripts):
        return HeaderTest("headers.csp", False, -20, f"CSP script sources too broad: {' '.join(scripts)}")
    bonus = 10 if directives.get("default-src") == ["'none'"] else 0
    return HeaderTest("headers.csp", True, bonus, "Content-Security-Policy restricts scripts")


def _hsts(headers: Headers, min_age_s: int) -> HeaderTest:
    value = headers.get("strict-transport-security")
    age = hsts_max_age(value)
    if value is None or age is None:
        return HeaderTest("headers.hsts", False, -20, "Strict-Transport-Security missing or without max-age")
    if age < min_age_s:
        return HeaderTest("headers.hsts", False, -10, f"HSTS max-age {age} s below {min_age_s} s")
    bonus = 5 if "preload" in value.lower() else 0
    return HeaderTest("headers.hsts", True, bonus, f"HSTS max-age {age} s")


def _nosniff(headers: Headers) -> HeaderTest:
    value = (headers.get("x-content-type-options") or "").strip().lower()
    if value == "nosniff":
        return HeaderTest("headers.nosniff", True, 0, "X-Content-Type-Options: nosniff")
    shown = f" (is {value!r})" if value else ""
    return HeaderTest("headers.nosniff", False, -5, f"X-Content-Type-Options: nosniff missing{shown}")


def _frame(headers: Headers) -> HeaderTest:
    ancestors = csp_directives(headers.get("content-security-policy") or "").get("frame-ancestors")
    if ancestors is not None and "*" not in ancestors:
        return HeaderTest("headers.frame", True, 5, f"CSP frame-ancestors {' '.join(ancestors)}")
    value = (headers.get("x-frame-options") or "").strip().upper()
    if value in ("DENY", "SAMEORIGIN"):
        return HeaderTest("headers.frame", True, 0, f"X-Frame-Options: {value}")
    shown = f" (is {value!r})" if value else ""
    return HeaderTest("headers.frame", False, -20, f"neither X-Frame-Options nor CSP frame-ancestors{shown}")


def _referrer(headers: Headers) -> HeaderTest:
    value = headers.get("referrer-policy")
    if not value:
        return HeaderTest("headers.referrer", False, 0, "Referrer-Policy missing")
    # The last recognised policy wins (browsers read a comma list as fallbacks).
    policies = [p.strip().lower() for p in value.split(",") if p.strip()]
    policy = policies[-1] if policies else ""
    if policy in _UNSAFE_REFERRER:
        return HeaderTest("headers.referrer", False, -5, f"Referrer-Policy {policy} leaks full URLs")
    if policy in _SAFE_REFERRER:
        return HeaderTest("headers.referrer", True, 5, f"Referrer-Policy: {policy}")
    return HeaderTest("headers.referrer", False, 0, f"Referrer-Policy {value!r} not recognised")


def _cross_origin(headers: Headers) -> HeaderTest:
    coop = (headers.get("cross-origin-opener-policy") or "").strip().lower()
    corp = (headers.get("cross-origin-resource-policy") or "").strip().lower()
    missing = []
    if coop not in ("same-origin", "same-origin-allow-popups", "noopener-allow-popups"):
        missing.append("Cross-Origin-Opener-Policy" + (f" (is {coop!r})" if coop else ""))
    if corp not in ("same-origin", "same-site"):
        missing.append("Cross-Origin-Resource-Policy" + (f" (is {corp!r})" if corp else ""))
    if missing:
        return HeaderTest("headers.cross_origin", False, 0, "missing or permissive: " + ", ".join(missing))
    return HeaderTest("headers.cross_origin", True, 0, f"COOP {coop}, CORP {corp}")


def _powered_by(headers: Headers) -> HeaderTest:
    value = headers.get("x-powered-by")
    if value:
        return HeaderTest("headers.powered_by", False, 0, f"X-Powered-By: {value} reveals the framework")
    return HeaderTest("headers.powered_by", True, 0, "no X-Powered-By")


def header_tests(headers: Headers, https: bool, hsts_min_age_s: int) -> list[HeaderTest]:
    tests = [_csp(headers)]
    if https:
        tests.append(_hsts(headers, hsts_min_age_s))
    tests += [_nosniff(headers), _frame(headers), _referrer(headers), _cross_origin(headers), _powered_by(headers)]
    return tests


def score(tests: list[HeaderTest]) -> int:
    penalties = 100 + sum(t.modifier for t in tests if t.modifier < 0)
    bonuses = sum(t.modifier for t in tests if t.modifier > 0)
    return max(0, penalties + (bonuses if penalties >= 90 else 0))


def run(tr: TargetRun) -> None:
    main = tr.main
    if not main.reachable:
        return
    tests = header_tests(main.headers, tr.target.is_https, int(tr.settings.tls.hsts_min_age_days * 86400))
    for test in tests:
        tr.add(test.check, test.ok, test.detail, main)
    points = score(tests)
    letter = grade(points)
    minimum = tr.settings.thresholds.headers_min_grade
    failing = [t.check.split(".", 1)[1] for t in tests if not t.ok]
    why = f"; failing: {', '.join(failing)}" if failing else ""
    ok = GRADES.index(letter) <= GRADES.index(minimum)
    tr.add("headers", ok, f"grade {letter} (score {points}, minimum {minimum}){why}", main)
