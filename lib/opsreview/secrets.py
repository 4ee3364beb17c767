"""Secrets referenced from params as ``${ENV_VAR}`` and resolved only when used.

A :class:`SecretRef` keeps the reference text; :meth:`SecretRef.resolve` reads the
environment at the moment of use and remembers the value so that :func:`redact` can scrub it
from anything written out (notebooks, HTML, summary, log lines, exception messages).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from pydantic_core import core_schema

SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_resolved: set[str] = set()
_lock = threading.Lock()
MASK = "***"

# Patterns that look like credentials wherever they appear (URL userinfo, bearer tokens,
# live API keys).  Used on top of the exact resolved values.
_CREDENTIAL_PATTERNS = [
    re.compile(r"(?<=://)[^/\s:@\"']+:[^/\s@\"']+(?=@)"),  # scheme://user:password@
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{8,}"),
    re.compile(r"\bwhsec_[0-9A-Za-z]{8,}"),
]
# What each pattern needs in a text to match at all (cheap tests before the regexes).
_BEARER = re.compile(r"(?i)bearer ")
_NEEDS = (
    lambda text: "://" in text and "@" in text,
    lambda text: _BEARER.search(text) is not None,
    lambda text: "_live_" in text or "_test_" in text,
    lambda text: "whsec_" in text,
)


class MissingSecretError(KeyError):
    """An environment variable named by a secret reference is not set."""


class SecretRef:
    """A params value that may contain ``${ENV}`` references; shown masked, resolved on use."""

    __slots__ = ("reference",)

    def __init__(self, reference: str) -> None:
        self.reference = reference

    @property
    def env_vars(self) -> list[str]:
        return SECRET_REF.findall(self.reference)

    def resolve(self) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            value = os.environ.get(name)
            if value is None:
                raise MissingSecretError(f"environment variable {name} is not set")
            remember_secret(value)
            return value

        value = SECRET_REF.sub(substitute, self.reference)
        if value != self.reference or not self.env_vars:
            remember_secret(value)
        return value

    def __repr__(self) -> str:
        return f"SecretRef({self.reference if self.env_vars else MASK!r})"

    def __str__(self) -> str:
        return self.reference if self.env_vars else MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


def remember_secret(value: str) -> None:
    """Mark a value as secret so that :func:`redact` masks it everywhere from now on."""
    if len(value) >= 4:
        with _lock:
            _resolved.add(value)


def resolved_values() -> list[str]:
    """Every secret resolved (or remembered) so far, longest first."""
    with _lock:
        return sorted(_resolved, key=len, reverse=True)


def redact(text: str, found: list[str] | None = None) -> str:
    """Mask every secret resolved so far and anything that looks like a credential.

    With ``found``, each value masked is appended to it (the password alone too, for a URL's
    ``user:password``), so that the caller can mask it wherever else it appears.
    """
    for value in resolved_values():
        if value in text:
            text = text.replace(value, MASK)
            if found is not None:
                found.append(value)
    for pattern, needs in zip(_CREDENTIAL_PATTERNS, _NEEDS, strict=True):
        if not needs(text):
            continue
        if found is None:
            text = pattern.sub(MASK, text)
            continue
        for match in pattern.finditer(text):
            found.append(match.group(0))
            if pattern is _CREDENTIAL_PATTERNS[0]:  # user:password - the password on its own too
                found.append(match.group(0).split(":", 1)[1])
        text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that redacts secrets from the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
