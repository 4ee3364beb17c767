"""A small, bounded HTTP/1.1 client for probes, with blackbox-style phase timings.

Why not `requests`: a probe needs a hard limit on the whole exchange (requests' timeout is
per socket operation, so a server trickling bytes keeps it alive), a cap on what is read,
the time of each phase (DNS, connect, TLS handshake, first byte) and the TLS details of the
connection. Every socket operation here gets the time left of the exchange as its timeout,
DNS runs in a helper thread so that a stuck resolver cannot block a probe, bodies are read
up to ``max_bytes`` and then the connection is dropped, and redirects are followed up to a
limit with loop detection. Network problems never raise: they come back as an
:class:`Exchange` whose ``error`` says what went wrong.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from opsreview import __version__

USER_AGENT = f"opsreview-probe/{__version__} (read-only review probe)"
_MAX_HEADER_BYTES = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


class ProbeFailure(Exception):
    """A failed exchange: ``kind`` is dns|connect|timeout|tls|tls_verify|protocol|redirect."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class Headers:
    """Response headers: case-insensitive, keeps repeated fields."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.items = list(items or [])

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        lower = name.lower()
        return [v for k, v in self.items if k.lower() == lower]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def names(self) -> list[str]:
        return [k.lower() for k, _ in self.items]


@dataclass
class TlsInfo:
    version: str | None
    cipher: str | None
    cert_der: bytes | None
    verified: bool


@dataclass
class Budget:
    """The time left for one exchange: the earlier of its own timeout and the round deadline."""

    timeout_s: float
    deadline: float  # time.monotonic() value
    cut_by_round: bool = False

    @classmethod
    def start(cls, timeout_s: float, round_deadline: float | None = None) -> Budget:
        own = time.monotonic() + timeout_s
        if round_deadline is not None and round_deadline < own:
            return cls(timeout_s, round_deadline, True)
        return cls(timeout_s, own)

    def left(self, phase: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self.expired(phase)
        return remaining

    def expired(self, phase: str) -> ProbeFailure:
        if self.cut_by_round:
            return ProbeFailure("deadline", f"round deadline reached ({phase})")
        return ProbeFailure("timeout", f"timeout after {self.timeout_s:g} s ({phase})")


@dataclass
class Exchange:
    """What one request (and its redirects) produced."""

    url: str
    method: str
    status: int | None = None
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    truncated: bool = False
    content_length: int | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    total_ms: float = 0.0
    tls: TlsInfo | None = None
    redirects: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def reachable(self) -> bool:
        """The server answered at the HTTP level (other checks of the target can run)."""
        return self.error_kind not in ("dns", "connect", "timeout", "deadline", "tls", "tls_verify")


def _resolve(host: str, port: int, budget: Budget) -> list[tuple[int, tuple[object, ...]]]:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, (host, port))]
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"dns-{host}", daemon=True)
    worker.start()
    worker.join(budget.left("DNS lookup"))
    if worker.is_alive():
        raise budget.expired(f"DNS lookup of {host}")
    if "error" in box:
        exc = box["error"]
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProbeFailure("dns", f"DNS lookup failed for {host}: {reason}")
    addrs = box["addrs"]
    assert isinstance(addrs, list)
    return [(info[0], info[4]) for info in addrs]


def _connect(addrs: list[tuple[int, tuple[object, ...]]], budget: Budget) -> socket.socket:
    last: OSError | None = None
    for family, addr in addrs:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(budget.left("connect"))
            sock.connect(addr)
            return sock
        except TimeoutError:
            sock.close()
            raise budget.expired(f"connecting to {addr[0]}:{addr[1]}") from None
        except OSError as exc:
            sock.close()
            last = exc
    target = f"{addrs[-1][1][0]}:{addrs[-1][1][1]}" if addrs else "?"
    if isinstance(last, ConnectionRefusedError):
        raise ProbeFailure("connect", f"connection refused by {target}")
    raise ProbeFailure("connect", f"cannot connect to {target}: {getattr(last, 'strerror', None) or last}")


def _handshake(sock: socket.socket, host: str, ctx: ssl.SSLContext, budget: Budget) -> ssl.SSLSocket:
    try:
        sock.settimeout(budget.left("TLS handshake"))
        return ctx.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise ProbeFailure("tls_verify", f"TLS certificate verification failed: {exc.verify_message}") from exc
    except TimeoutError:
        sock.close()
        raise budget.expired("TLS handshake") from None
    except ssl.SSLError as exc:
        sock.close()
        raise ProbeFailure("tls", f"TLS handshake failed: {exc.reason or exc}") from exc
    except OSError as exc:
        sock.close()
        raise ProbeFailure("tls", f"TLS handshake failed: {exc.strerror or exc}") from exc


def tls_context(ca_file: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """The system trust store plus ``ca_file``; ``verify=False`` only to inspect bad certificates."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


def inspect_tls(url: str, ctx: ssl.SSLContext, timeout_s: float, round_deadline: float | None = None) -> TlsInfo:
    """Handshake only (no request): the negotiated version and the server's certificate."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    budget = Budget.start(timeout_s, round_deadline)
    sock = _connect(_resolve(host, port, budget), budget)
    tls = _handshake(sock, host, ctx, budget)
    try:
        cipher = tls.cipher()
        return TlsInfo(tls.version(), cipher[0] if cipher else None, tls.getpeercert(binary_form=True), True)
    finally:
        tls.close()


class _Reader:
    """Reads from a socket with the exchange's budget applied to every recv."""

    def __init__(self, sock: socket.socket, budget: Budget) -> None:
        self.sock, self.budget = sock, budget
        self.buffer = b""
        self.first_byte_at: float | None = None
        self.eof = False

    def fill(self, phase: str) -> bool:
        try:
            self.sock.settimeout(self.budget.left(phase))
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise self.budget.expired(phase) from None
        except ssl.SSLError as exc:
            raise ProbeFailure("protocol", f"TLS error while {phase}: {exc.reason or exc}") from exc
        except OSError as exc:
            raise ProbeFailure("protocol", f"connection error while {phase}: {exc.strerror or exc}") from exc
        if self.first_byte_at is None and chunk:
            self.first_byte_at = time.monotonic()
        if not chunk:
            self.eof = True
        self.buffer += chunk
        return bool(chunk)

    def read_until(self, marker: bytes, limit: int, phase: str) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise ProbeFailure("protocol", f"invalid HTTP response: {phase} longer than {limit} bytes")
            if not self.fill(phase):
                raise ProbeFailure("protocol", f"connection closed by the server while {phase}")
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def take(self, n: int, phase: str) -> bytes:
        while len(self.buffer) < n and self.fill(phase):
            pass
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def _parse_head(head: bytes) -> tuple[int, str, Headers]:
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProbeFailure("protocol", f"invalid HTTP response: status line {lines[0][:80]!r}")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and items:  # obsolete line folding
            items[-1] = (items[-1][0], items[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            items.append((name.strip(), value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", Headers(items)


def _read_body(reader: _Reader, headers: Headers, max_bytes: int) -> tuple[bytes, bool]:
    """The body up to ``max_bytes``; ``True`` when there was more (and it was not read)."""
    if "chunked" in (headers.get("transfer-encoding") or "").lower():
        body = b""
        while True:
            size_line = reader.read_until(b"\r\n", 1024, "reading a chunk size")
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise ProbeFailure("protocol", "invalid chunked encoding in the response body") from None
            if size == 0:
                return body, False
            if len(body) + size > max_bytes:
                body += reader.take(max_bytes - len(body), "reading the body")
                return body, True
            body += reader.take(size, "reading the body")
            reader.take(2, "reading the body")
    length_text = headers.get("content-length")
    if length_text is not None and length_text.strip().isdigit():
        length = int(length_text.strip())
        data = reader.take(min(length, max_bytes), "reading the body")
        return data, length > max_bytes
    while len(reader.buffer) <= max_bytes and reader.fill("reading the body"):
        pass
    body = reader.buffer
    return body[:max_bytes], len(body) > max_bytes


def _one_request(
    url: str,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
    budget: Budget,
    ctx: ssl.SSLContext,
    max_bytes: int,
    result: Exchange,
    exchange_started: float,
) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    started = time.monotonic()
    addrs = _resolve(host, port, budget)
    t_dns = time.monotonic()
    sock = _connect(addrs, budget)
    t_connect = time.monotonic()
    _add(result, "dns_ms", (t_dns - started) * 1000)
    _add(result, "connect_ms", (t_connect - t_dns) * 1000)
    if https:
        sock = _handshake(sock, host, ctx, budget)
        _add(result, "tls_ms", (time.monotonic() - t_connect) * 1000)
        if result.tls is None:
            assert isinstance(sock, ssl.SSLSocket)
            cipher = sock.cipher()
            result.tls = TlsInfo(sock.version(), cipher[0] if cipher else None, sock.getpeercert(True), True)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        host_header = f"[{host}]" if ":" in host else host
        if parts.port and parts.port != (443 if https else 80):
            host_header += f":{parts.port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        sent = {k.lower() for k in headers}
        defaults = {"accept": "*/*", "accept-encoding": "identity"}
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "user-agent"]
        lines += [f"{k.title()}: {v}" for k, v in defaults.items() if k not in sent]
        lines.append(f"User-Agent: {_user_agent(headers)}")
        lines.append("Connection: close")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + (body or b"")
        try:
            sock.settimeout(budget.left("sending the request"))
            sock.sendall(request)
        except TimeoutError:
            raise budget.expired("sending the request") from None
        except OSError as exc:
            raise ProbeFailure("protocol", f"connection error while sending: {exc.strerror or exc}") from exc
        reader = _Reader(sock, budget)
        while True:
            head = reader.read_until(b"\r\n\r\n", _MAX_HEADER_BYTES, "waiting for the response headers")
            status, reason, response_headers = _parse_head(head)
            if status >= 200 or status == 101:
                break  # 1xx informational responses (103 Early Hints) precede the real one
        if reader.first_byte_at is not None:
            result.ttfb_ms = (reader.first_byte_at - exchange_started) * 1000
        result.status, result.reason, result.headers = status, reason, response_headers
        length = response_headers.get("content-length")
        result.content_length = int(length) if length and length.strip().isdigit() else None
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            result.body, result.truncated = b"", False
        else:
            result.body, result.truncated = _read_body(reader, response_headers, max_bytes)
    finally:
        sock.close()


def _user_agent(headers: dict[str, str]) -> str:
    """Probes always name themselves; a configured User-Agent is kept in front of ours."""
    own = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
    return f"{own} {USER_AGENT}" if own and "opsreview" not in own else (own or USER_AGENT)


def _add(result: Exchange, name: str, value: float) -> None:
    current = getattr(result, name)
    setattr(result, name, value if current is None else current + value)


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout_s: float = 5.0,
    round_deadline: float | None = None,
    ctx: ssl.SSLContext | None = None,
    max_bytes: int = 1_048_576,
    follow_redirects: bool = True,
    max_redirects: int = 5,
) -> Exchange:
    """One request, following redirects; never raises for network or protocol problems.

    Phase timings add up over redirect hops (blackbox_exporter does the same). The
    configured headers are not sent to another origin after a redirect.
    """
    ctx = ctx or tls_context()
    budget = Budget.start(timeout_s, round_deadline)
    started = time.monotonic()
    result = Exchange(url=url, method=method)
    origin = urlsplit(url)[:2]
    seen = [(method, url)]
    current_headers = dict(headers or {})
    try:
        while True:
            _one_request(result.url, method, current_headers, body, budget, ctx, max_bytes, result, started)
            location = result.headers.get("location")
            if not (follow_redirects and result.status in _REDIRECTS and location):
                break
            next_url = urljoin(result.url, location.strip())
            if urlsplit(next_url).scheme not in ("http", "https"):
                raise ProbeFailure("redirect", f"redirect to a non-HTTP URL {next_url[:120]}")
            if result.status == 303 or (result.status in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
            if (method, next_url) in seen:
                chain = " -> ".join(u for _, u in [*seen[-3:], (method, next_url)])
                raise ProbeFailure("redirect", f"redirect loop after {len(seen)} requests: {chain}")
            if len(seen) > max_redirects:
                raise ProbeFailure("redirect", f"more than {max_redirects} redirects (last: {next_url[:120]})")
            if urlsplit(next_url)[:2] != origin:
                current_headers = {k: v for k, v in current_headers.items() if k.lower() in ("accept",)}
            seen.append((method, next_url))
            result.redirects.append(next_url)
            result.url, result.method = next_url, method
            result.status, result.headers, result.body = None, Headers(), b""
    except ProbeFailure as exc:
        result.error, result.error_kind = str(exc), exc.kind
    result.total_ms = (time.monotonic() - started) * 1000
    return result
