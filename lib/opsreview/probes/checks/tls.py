"""Check `tls`: certificate chain, hostname, expiry, protocol version; HTTP→HTTPS; HSTS.

Rows: ``tls`` (the certificate and the connection; carries ``cert_days_left``),
``tls.redirect`` (plain HTTP - ``http_url`` or ``http://host/`` - answers with a redirect to
HTTPS) and ``tls.hsts``
(Strict-Transport-Security on the HTTPS response, long enough).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

from opsreview.probes.client import ProbeFailure, TlsInfo, inspect_tls, tls_context
from opsreview.probes.params import TLS_VERSIONS
from opsreview.probes.target import TargetRun

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)


def certificate_facts(der: bytes, now: dt.datetime) -> tuple[float, str, str]:
    """Days left until notAfter, the notAfter date and the issuer's common name."""
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    issuer = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer_name = str(issuer[0].value) if issuer else cert.issuer.rfc4514_string()
    return (not_after - now).total_seconds() / 86400, not_after.date().isoformat(), issuer_name


def hsts_max_age(value: str | None) -> int | None:
    if not value:
        return None
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else None


def _certificate_row(tr: TargetRun) -> None:
    main = tr.main
    thresholds = tr.settings.tls
    problems: list[str] = []
    info: TlsInfo | None = main.tls
    if main.error_kind in ("dns", "connect", "timeout", "deadline"):
        return  # nothing to inspect; the http row carries the reason
    if main.error_kind == "tls":
        tr.add("tls", False, main.error or "TLS handshake failed", main)
        return
    if info is None or main.error_kind == "tls_verify":
        problems.append((main.error or "certificate not verified").replace("TLS certificate verification failed: ", ""))
        try:  # look at the certificate anyway, to report its expiry
            info = inspect_tls(tr.origin, tls_context(verify=False), tr.target.timeout_seconds, tr.round_deadline)
            info.verified = False
        except ProbeFailure as exc:
            tr.add("tls", False, f"{problems[0]}; certificate not readable: {exc}", main)
            return
    days_left: float | None = None
    facts = ""
    if info.cert_der:
        days_left, not_after, issuer = certificate_facts(info.cert_der, tr.ts)
        facts = f"expires {not_after} ({days_left:.1f} days left), issuer {issuer}"
        if days_left < 0:
            problems.append(f"certificate expired {-days_left:.1f} days ago")
        elif days_left < thresholds.critical_days:
            problems.append(
                f"certificate expires in {days_left:.1f} days (critical below {thresholds.critical_days:g})"
            )
    known = info.version in TLS_VERSIONS
    if known and TLS_VERSIONS.index(info.version or "") < TLS_VERSIONS.index(thresholds.min_version):
        problems.append(f"negotiated {info.version}, below {thresholds.min_version}")
    detail_facts = ", ".join(p for p in (facts, info.version or "", info.cipher or "") if p)
    if problems:
        tr.add("tls", False, "; ".join(problems) + (f" [{detail_facts}]" if detail_facts else ""), main, days_left)
    else:
        tr.add("tls", True, f"certificate valid, {detail_facts}", main, days_left, latency_ms=main.tls_ms)


def plain_http_url(tr: TargetRun) -> str | None:
    """Where to ask for the redirect to HTTPS: ``http_url``, or the host's root. Never the
    target's path and query: they may carry a secret (an API key), and plain HTTP would send
    it in clear before the server could redirect."""
    if tr.target.http_url:
        return tr.target.http_url
    parts = urlsplit(tr.target.url)
    if parts.port not in (None, 443):
        return None  # no way to guess where plain HTTP would listen; configure http_url
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    return urlunsplit(("http", host, "/", "", ""))


def _redirect_row(tr: TargetRun) -> None:
    url = plain_http_url(tr)
    if url is None:
        return
    exchange = tr.request(url, follow_redirects=False)
    if exchange.error_kind in ("connect", "timeout"):
        tr.add("tls.redirect", True, f"plain HTTP not served ({exchange.error})", exchange)
        return
    if exchange.error:
        tr.add("tls.redirect", False, f"plain HTTP {url}: {exchange.error}", exchange)
        return
    location = exchange.headers.get("location")
    target = urljoin(url, location) if location else None
    if exchange.status in (301, 302, 307, 308) and target and urlsplit(target).scheme == "https":
        permanent = "" if exchange.status in (301, 308) else " (temporary; 301/308 is better)"
        same_host = urlsplit(target).hostname == urlsplit(url).hostname
        if same_host:
            tr.add("tls.redirect", True, f"{url} redirects with {exchange.status} to {target}{permanent}", exchange)
        else:
            tr.add("tls.redirect", False, f"{url} redirects to another host first: {target}", exchange)
        return
    where = f" to {target}" if target else ""
    tr.add(
        "tls.redirect", False, f"plain HTTP {url} answered {exchange.status}{where}, not a redirect to HTTPS", exchange
    )


def _hsts_row(tr: TargetRun) -> None:
    main = tr.main
    if not main.reachable:
        return
    value = main.headers.get("strict-transport-security")
    minimum = int(tr.settings.tls.hsts_min_age_days * 86400)
    age = hsts_max_age(value)
    if value is None:
        tr.add("tls.hsts", False, "Strict-Transport-Security header missing on the HTTPS response", main)
    elif age is None:
        tr.add("tls.hsts", False, f"Strict-Transport-Security without max-age: {value!r}", main)
    elif age < minimum:
        tr.add("tls.hsts", False, f"HSTS max-age {age} s is below {minimum} s ({value})", main)
    else:
        tr.add("tls.hsts", True, f"HSTS max-age {age} s ({value})", main)


def run(tr: TargetRun) -> None:
    if not tr.target.is_https:
        return
    _certificate_row(tr)
    _hsts_row(tr)
    if tr.main.error_kind not in ("dns",):
        _redirect_row(tr)
