"""Delivering one message to one channel through apprise, within the params' timeouts.

One :class:`apprise.Apprise` object per channel, so that each channel's outcome is its own
(apprise's ``notify()`` answers for everything it holds at once). The channel's URL is resolved
from its ``${ENV}`` reference here, at the moment of sending, and never leaves this module: the
URL, its tokens and its password are registered with :mod:`opsreview.secrets` so that
:func:`~opsreview.secrets.redact` masks them anywhere, and a :class:`Delivery` names the channel
by its ``name`` only. apprise's own log lines are kept off (its logger gets no handler from
us), and the one line of its error we keep is scrubbed of every part of the URL.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from opsreview.alerts.params import AlertTimeouts, ChannelParams
from opsreview.masking import mask_sensitive
from opsreview.secrets import MASK, MissingSecretError, redact, remember_secret

log = logging.getLogger("opsreview")
# apprise's own log lines may name a service's host or token: they are captured per call into its
# result (which we read, scrubbed), and kept from the root logger and Python's last-resort
# handler (which would print them to stderr when no handler is configured).
_apprise_log = logging.getLogger("apprise")
_apprise_log.addHandler(logging.NullHandler())
_apprise_log.propagate = False
_apprise_log.setLevel(logging.DEBUG)  # so that a call's capture sees the cause of a failure

# Parts of a URL that look like credentials: letters and digits mixed, or long; not a plain word
# ("workflows") nor a number or date ("2016-06-01", which masked would blank every such date).
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])\S{6,}$|^\S{16,}$")
_FAILED_LEVELS = ("WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one message to one channel (named, never by its URL)."""

    channel: str
    ok: bool
    error: str = ""
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def secret_parts(url: str) -> list[str]:
    """The URL and every part of it that may be a credential (tokens in the path, keys in the
    query, user and password), for redaction wherever they would appear on their own."""
    parts = [url]
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    if split.password:
        parts += [split.password, unquote(split.password)]
    if split.username and _TOKEN.match(unquote(split.username)):  # a key (pagerduty://KEY@...), not a login name
        parts += [split.username, unquote(split.username)]
    # a "host" without a dot is a token (opsgenie://APIKEY, slack://TOKEN_A/..., pagerduty://KEY@APIKEY)
    host = split.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
    pieces = [host] if "." not in host else []
    pieces += split.path.split("/") + [value for _, value in parse_qsl(split.query)]
    parts += [unquote(p) for p in pieces if _TOKEN.match(unquote(p))]
    parts += [p for p in pieces if _TOKEN.match(p)]
    return list(dict.fromkeys(p for p in parts if p))


def with_timeouts(url: str, timeouts: AlertTimeouts) -> str:
    """The URL with apprise's connect (``cto``) and read (``rto``) timeouts, unless it sets its own."""
    # searched in the whole URL: apprise reads "?..." after a fragment too (slack://A/B/C/#ops?rto=9)
    extra = [
        f"{key}={value:g}"
        for key, value in (("cto", timeouts.connect_seconds), ("rto", timeouts.read_seconds))
        if not re.search(rf"[?&]{key}=", url)
    ]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def resolve_channel_url(channel: ChannelParams) -> str:
    """The channel's URL from its environment variable, every secret part of it registered."""
    url = channel.url.resolve()
    for secret in secret_parts(url):
        remember_secret(secret)
    return url


# Incident tools: apprise opens an incident (PagerDuty's action=trigger, no dedup key; an Opsgenie
# alert) for every message, so a RESOLVED message would page on-call again: they get none.
INCIDENT_SCHEMES = frozenset({"pagerduty", "opsgenie"})
_INCIDENT_HOSTS = ("pagerduty.com", "opsgenie.com")


def is_incident_tool(channel: ChannelParams) -> bool:
    """The channel's URL (read from its variable, never shown) is PagerDuty's or Opsgenie's:
    ``pagerduty://``/``opsgenie://``, or an https URL of their hosts. An unset variable: False
    (its delivery fails and says so)."""
    try:
        url = resolve_channel_url(channel)
    except MissingSecretError:
        return False
    try:
        split = urlsplit(url.strip())
        host = (split.hostname or "").lower()
    except ValueError:
        return False
    return split.scheme.lower() in INCIDENT_SCHEMES or any(host == h or host.endswith("." + h) for h in _INCIDENT_HOSTS)


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            message = message.replace(secret, MASK)
    message = re.sub(r"\b[a-z][a-z0-9+.-]*://\S+", "<url>", message)  # any URL left, whole
    return mask_sensitive(redact(message)).strip()[:240]


def _reason(result: Any, timeouts: AlertTimeouts, secrets: list[str]) -> str:
    status = getattr(getattr(result, "status", None), "name", "")
    if status == "TIMEOUT":
        return f"no answer within {timeouts.connect_seconds + timeouts.read_seconds:g} s"
    entries = _logs(result)
    messages = [entry.message for entry in entries if getattr(entry, "level", "") in _FAILED_LEVELS]
    detail = _scrub(messages[-1], secrets) if messages else ""
    # the cause is in a debug line ("Read timed out. (read timeout=1.0)", "Connection refused"):
    # read for its kind only, never shown (it may hold the URL)
    debug = " ".join(str(getattr(entry, "message", "")) for entry in entries).lower()
    if "timed out" in debug or "timeout" in debug:
        return f"no answer within {timeouts.connect_seconds + timeouts.read_seconds:g} s ({detail})"
    if "refused" in debug:
        return f"connection refused ({detail})"
    return f"delivery failed ({detail})" if detail else "delivery failed"


def _logs(result: Any) -> list[Any]:
    try:
        return list(result.logs())
    except (AttributeError, TypeError):
        return []


def deliver(channel: ChannelParams, title: str, body: str, notify_type: str, timeouts: AlertTimeouts) -> Delivery:
    """Send ``title``/``body`` to one channel; every failure is a :class:`Delivery` with an error
    naming the channel's problem (never its URL), not an exception."""
    started = time.monotonic()

    def failed(error: str) -> Delivery:
        log.warning("alert channel %s: %s", channel.name, error)
        return Delivery(channel.name, False, error, round(time.monotonic() - started, 3))

    try:
        url = resolve_channel_url(channel)
    except MissingSecretError as exc:
        return failed(f"{exc.args[0]} (the channel's url)")
    secrets = secret_parts(url)
    # Persistent storage off (apprise would otherwise cache tokens on disk); the service budget
    # bounds a plugin that makes several requests.
    asset = apprise.AppriseAsset(
        app_id="opsreview",
        app_desc="opsreview daily review",
        storage_mode="memory",
        service_timeout=timeouts.connect_seconds + timeouts.read_seconds + 1,
    )
    sender = apprise.Apprise(asset=asset)
    try:
        accepted = sender.add(with_timeouts(url, timeouts))
    except Exception:  # noqa: BLE001 - apprise's parsing error would repeat the URL
        accepted = False
    if not accepted:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,19}", scheme) else "?"
        return failed(f"not a URL apprise can send to (scheme {shown}://)")
    try:
        result = sender.notify(
            body=body,
            title=title,
            notify_type=notify_type,
            body_format=apprise.NotifyFormat.TEXT,
            log_level=logging.DEBUG,  # kept in the result only, to tell a timeout from a refusal
        )
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not crash the run
        return failed(f"delivery failed ({_scrub(type(exc).__name__ + ': ' + str(exc), secrets)})")
    if bool(result):
        return Delivery(channel.name, True, "", round(time.monotonic() - started, 3))
    return failed(_reason(result, timeouts, secrets))
