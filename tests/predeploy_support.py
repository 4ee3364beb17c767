"""Helpers of the predeploy tests: a params file written to tmp_path, a small OpenAPI file of
the Express test app's routes, and a tiny http.server target for the edge cases (a hanging
endpoint, a 500, a redirect)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from opsreview.params import Params, load_params

# The GET routes of tests/express_app/server.js without path parameters are health, products,
# admin/stats (401 without a token) and articles/featured; the others must be left out.
EXPRESS_OPENAPI = """\
openapi: 3.0.3
info: {title: express test app, version: 1.0.0}
paths:
  /api/health:
    get: {responses: {'200': {description: ok}}}
  /api/products:
    get: {responses: {'200': {description: a page of products}}}
  /api/products/{id}:
    get: {responses: {'200': {description: one product}}}
    put: {responses: {'200': {description: updated}}}
  /api/orders:
    post: {responses: {'201': {description: created}}}
  /api/users/{id}/orders:
    get: {responses: {'200': {description: the user's orders}}}
  /api/admin/stats:
    get: {responses: {'200': {description: stats}, '401': {description: no token}}}
  /api/articles/featured:
    get: {responses: {'200': {description: featured}}}
"""
OPENAPI_GETS = {"GET /api/health", "GET /api/products", "GET /api/admin/stats", "GET /api/articles/featured"}


def write_params(tmp: Path, predeploy: dict[str, Any], **top: Any) -> Path:
    """A params file in ``tmp`` with a predeploy section (relative paths follow the file)."""
    data: dict[str, Any] = {
        "environment": "staging",
        "store": str(tmp / "store"),
        "outputs": str(tmp / "outputs"),
        "predeploy": predeploy,
        **top,
    }
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load(tmp: Path, predeploy: dict[str, Any], **top: Any) -> Params:
    return load_params(write_params(tmp, predeploy, **top))


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    hang_s = 10.0

    def do_GET(self) -> None:
        if self.path == "/hang":
            time.sleep(self.hang_s)  # longer than any timeout of the tests
        status = {"/ok": 200, "/boom": 500, "/moved": 301, "/hang": 200}.get(self.path, 404)
        body = b'{"status":"ok"}'
        self.send_response(status)
        if status == 301:
            self.send_header("Location", "/ok")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EdgeServer:
    """A threading http.server on loopback: /ok 200, /boom 500, /moved 301, /hang sleeps."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def edge_server() -> Iterator[EdgeServer]:
    server = EdgeServer()
    try:
        yield server
    finally:
        server.close()
