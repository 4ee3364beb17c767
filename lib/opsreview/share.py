"""Reports safe to share: the one masking every table, sample line, finding and error message
passes before it reaches a file under ``outputs/``.

:func:`shareable` masks text as the store masks it at rest (:func:`opsreview.masking.masked`:
resolved ``${ENV}`` secrets, credentials, tokens, API keys, webhook URLs, card numbers), and,
with ``share.pseudonymize_clients: true`` in params, personal data too: IPv4/IPv6 addresses are
truncated to a prefix (``203.0.113.0/24``) or, with ``share.key``, replaced by a keyed hash
(HMAC-SHA256: ``ip-1f3a9c0b2e``, the same client the same pseudonym in every table and on every
day under one key), and e-mail addresses lose their local part (``***@example.com``).

Why at the output edge and not at ingest: the review needs the real addresses (per-client
rates, the clients of a burst, allow-lists); the store holds them, readable only by who may read
the logs. What leaves it is masked here, at every exit: :mod:`opsreview.display` (tables,
charts, findings, coverage), the notebook scrub and the HTML export, ``summary.json`` and the
day page (:mod:`opsreview.run.report`). In free text a client's address cannot be told from a
server's, so with the option on every address is pseudonymized.

The policy is process-wide (like the registry of resolved secrets): :func:`configure` sets it
when params are loaded (:func:`opsreview.params.load_params`), in the runner and in each kernel.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field

from opsreview.masking import masked
from opsreview.schema import Section
from opsreview.secrets import MissingSecretError, SecretRef

__all__ = ["SharePolicy", "ShareParams", "configure", "policy", "shareable", "shareable_data"]


class ShareParams(Section):
    """How reports are made safe to share (``share:`` in params)."""

    pseudonymize_clients: bool = Field(False, description="truncate or hash IP addresses, mask e-mails in outputs")
    key: SecretRef | None = Field(None, description="${ENV} key of the keyed hash (HMAC); none: truncate")
    ipv4_prefix: int = Field(24, ge=0, le=32, description="IPv4 prefix kept when truncating")
    ipv6_prefix: int = Field(48, ge=0, le=128, description="IPv6 prefix kept when truncating")


class SharePolicy:
    """Pseudonymization of IP addresses and e-mails (off: :func:`shareable` only masks secrets)."""

    def __init__(
        self, pseudonymize: bool = False, key: str | None = None, ipv4_prefix: int = 24, ipv6_prefix: int = 48
    ):
        self.pseudonymize = pseudonymize
        self.key = key.encode() if key else None
        self.ipv4_prefix = ipv4_prefix
        self.ipv6_prefix = ipv6_prefix

    def address(self, text: str) -> str:
        """The pseudonym of one address (``text`` unchanged if it is none)."""
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return text
        if self.key is not None:
            return "ip-" + hmac.new(self.key, ip.packed, hashlib.sha256).hexdigest()[:10]
        prefix = self.ipv4_prefix if ip.version == 4 else self.ipv6_prefix
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))

    def apply(self, text: str) -> str:
        if not self.pseudonymize:
            return text
        if "@" in text:
            text = _EMAIL.sub(r"***@\1", text)
        if "%40" in text or "%40".upper() in text:  # an e-mail in a URL (?email=jane%40example.com)
            text = _EMAIL_URL.sub(r"***%40\1", text)
        if "." in text:
            text = _IPV4.sub(lambda m: self.address(m.group(0)), text)
        if "::" in text or text.count(":") >= 7:
            text = _IPV6.sub(lambda m: self.address(m.group(0)), text)
        return text


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Not part of a longer dotted number (a version), not already a network (`203.0.113.0/24`).
_IPV4 = re.compile(rf"(?<![0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9]|/[0-9])")
# Candidates only: ipaddress decides (times like 14:10:30 and MAC addresses are no address).
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:]|/[0-9])")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+*-])[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")

_EMAIL_URL = re.compile(r"(?<![A-Za-z0-9._%+*-])[A-Za-z0-9._+-]+%40([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")

_policy = SharePolicy()
_lock = threading.Lock()


def configure(params: ShareParams) -> SharePolicy:
    """Set the process-wide policy from params. The key is resolved now (and so masked
    wherever it would appear); an unset key variable leaves truncation, and the runner refuses
    to start (:func:`check_key`)."""
    global _policy
    key = None
    if params.pseudonymize_clients and params.key is not None:
        try:
            key = params.key.resolve()
        except MissingSecretError:
            key = None
    with _lock:
        _policy = SharePolicy(params.pseudonymize_clients, key, params.ipv4_prefix, params.ipv6_prefix)
    return _policy


def check_key(params: ShareParams) -> str | None:
    """A one-line problem with the pseudonymization key (None: fine)."""
    if params.pseudonymize_clients and params.key is not None:
        try:
            params.key.resolve()
        except MissingSecretError as exc:
            return f"share.key: {exc.args[0]}"
    return None


def policy() -> SharePolicy:
    return _policy


def shareable(text: str) -> str:
    """``text`` as it may leave the store: secrets masked, clients pseudonymized (by policy)."""
    return _policy.apply(masked(text))


T = TypeVar("T")


def shareable_data(value: T, mask: Callable[[str], str] = shareable) -> T:
    """A JSON-like value (dicts, lists, strings, numbers) with every string - keys too - masked
    (structure and numbers kept: a chart's data stays a chart)."""
    return _walk(value, mask)


def _walk(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {(mask(k) if isinstance(k, str) else k): _walk(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, mask) for v in value]
    if isinstance(value, tuple):
        return tuple(_walk(v, mask) for v in value)
    return value
