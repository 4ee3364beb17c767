"""Real receivers for the alerts tests, on loopback: an HTTP(S) webhook receiver standing in for
Slack / Teams workflows / PagerDuty-style webhooks, and an SMTP server (aiosmtpd).

The HTTP receiver records every request (path, query, headers, body); ``/hang/...`` answers
nothing until the test session ends (a receiver that accepts and never replies), ``/status/NNN``
answers NNN. Params files are written for real and loaded with :func:`opsreview.params.load_params`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from opsreview.findings import Finding, Severity, count_by_severity, rank_findings
from opsreview.params import Params, load_params


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    base: str  # host:port
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def to(self, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(prefix)]


def start_http_receiver(tls: ssl.SSLContext | None = None) -> tuple[HttpReceiver, http.server.ThreadingHTTPServer]:
    info = HttpReceiver("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            info.requests.append(Request(self.path, dict(self.headers.items()), body))
            if self.path.startswith("/hang"):
                info.release.wait(60)
                return
            status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    info.base = f"127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return info, server


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    mailbox: _Mailbox

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


def start_smtp_server(
    tls: ssl.SSLContext | None = None, password: bytes | None = None
) -> tuple[SmtpServer, Controller]:
    """Plain SMTP; with ``tls`` and ``password``: STARTTLS required, then AUTH (any login, that password)."""
    mailbox = _Mailbox()
    port = free_port()
    if tls is None:
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    else:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.password == password)

        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
        )
    controller.start()
    return SmtpServer(port, mailbox), controller


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed: a connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_params(tmp_path: Path, alerts: dict[str, Any]) -> Params:
    data = {
        "environment": "test",
        "timezone": "Europe/Berlin",
        "store": str(tmp_path / "store"),
        "outputs": str(tmp_path / "outputs"),
        "alerts": alerts,
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_params(path)


def finding(
    area: str,
    check: str,
    subject: str,
    severity: str = "warning",
    window: tuple[str, str] | None = None,
    day: str = "2026-12-01",
    **evidence: Any,
) -> Finding:
    start = end = None
    if window:
        start, end = f"{day}T{window[0]}:00+01:00", f"{day}T{window[1]}:00+01:00"
    return Finding(
        area=area,
        check=check,
        severity=Severity.parse(severity),
        title=f"{check} on {subject}",
        value=0.57 if "5xx" in check else None,
        threshold=0.05 if "5xx" in check else None,
        evidence=dict(evidence),
        subject=subject,
        start=start,
        end=end,
    )


def summary(
    day: str, findings: list[Finding], areas: tuple[str, ...] = ("logs", "probes", "database")
) -> dict[str, Any]:
    ranked = rank_findings(findings)
    critical = any(f.severity == Severity.critical for f in ranked)
    return {
        "date": day,
        "environment": "test",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "status": "alert" if critical else "ok",
        "exit_code": 1 if critical else 0,
        "fail_on": "critical",
        "counts": count_by_severity(ranked),
        "findings": [f.to_dict() for f in ranked],
        "coverage": [],
        "notebooks": [
            {"name": a, "status": "ok", "duration_s": 1.0, "html": f"{a}.html", "ipynb": f"{a}.ipynb", "error": None}
            for a in areas
        ],
        "sources": [],
    }
