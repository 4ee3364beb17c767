"""`opsreview logs summary` on real morgan logs equals the client-side ground truth (issue 3 item 10).

For each morgan predefined format and two custom format strings, a fresh Express app (tests/
express_app) receives the same known traffic. The client records what it sent and the status
it got back; the summary of the app's access log must agree exactly: lines, counts by status,
by method, by route template (written here by hand), 5xx per route, and p50/p95/p99 per route
equal to numpy's linear percentiles of the `:response-time` values read straight from the file.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fixtures.express import ExpressServer, ExpressServers

pytestmark = pytest.mark.node

QUOTED_UA = 'Mozilla/5.0 (compatible; "QuotedBot"/2.1; +https://bot.example/)'
PLAIN_UA = "opsreview-tests/1.0"
REFERRER = "https://app.example.test/checkout?step=2"


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    template: str  # by hand: what the route-template rules must give for this URL
    auth: str | None = None  # None, or an ExpressServer token method name
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


UA = {"User-Agent": PLAIN_UA}
QUA = {"User-Agent": QUOTED_UA}

# The traffic, sent in this order to every app. Statuses in comments are what the app is
# expected to answer; the test itself compares with what it actually answered.
TRAFFIC: list[Call] = [
    Call("GET", "/api/health", "/api/health", headers=UA),  # 200
    Call("GET", "/api/health", "/api/health"),  # 200, no User-Agent at all
    Call("GET", "/api/health", "/api/health", headers={**QUA, "Referer": REFERRER}),  # 200
    Call("GET", "/api/products?page=2&limit=5", "/api/products", headers=UA),  # 200
    Call("GET", "/api/products?q=caf%C3%A9&sort=-price", "/api/products", headers=QUA),  # 200
    Call("GET", "/api/products/42", "/api/products/:id", headers={**UA, "X-Request-Id": "req-0001"}),  # 200
    Call("GET", "/api/products/7", "/api/products/:id", headers=QUA),  # 200
    Call("GET", "/api/products/13?fields=name,price", "/api/products/:id", headers=UA),  # 200
    Call("GET", "/api/products/999999", "/api/products/:id", headers=UA),  # 404
    Call("GET", "/api/products/64b7f0c2e4b0a1b2c3d4e5f6", "/api/products/:id", headers=QUA),  # 404 (ObjectId)
    Call("GET", '/api/products/"42"', '/api/products/"42"', headers=QUA),  # 404, a quote in the path
    Call("PUT", "/api/products/42", "/api/products/:id", "admin_token", {"price": 9.5}, UA),  # 200
    Call("PUT", "/api/products/43", "/api/products/:id", "user_token", {"price": 1}, UA),  # 403
    Call("PUT", "/api/products/44", "/api/products/:id", None, {"price": 1}, UA),  # 401
    Call("POST", "/api/orders", "/api/orders", "user_token", {"items": [{"productId": 3, "qty": 2}]}, UA),  # 201
    Call("POST", "/api/orders", "/api/orders", "admin_token", {"items": [{"productId": 9, "qty": 1}]}, QUA),  # 201
    Call("POST", "/api/orders", "/api/orders", None, {"items": [{"productId": 3, "qty": 1}]}, UA),  # 401
    Call("POST", "/api/orders", "/api/orders", "user_token", {"items": []}, UA),  # 400
    Call(
        "OPTIONS",
        "/api/orders",
        "/api/orders",
        headers={"Origin": "https://app.example.test", "Access-Control-Request-Method": "POST"},
    ),  # 204 preflight
    Call("DELETE", "/api/orders/1001", "/api/orders/:id", "user_token", headers=UA),  # 204
    Call("DELETE", "/api/orders/1002", "/api/orders/:id", "user_token", headers=UA),  # 404 (bob's)
    Call("DELETE", "/api/orders/3f2504e0-4f89-41d3-9a0c-0305e82c3301", "/api/orders/:id", "user_token"),  # 404
    Call("GET", "/api/users/7/orders", "/api/users/:id/orders", "user_token", headers=QUA),  # 200
    Call("GET", "/api/users/8/orders", "/api/users/:id/orders", "user_token", headers=UA),  # 403
    Call("GET", "/api/users/7/orders?status=open", "/api/users/:id/orders", None, headers=UA),  # 401
    Call("GET", "/api/users/7/orders", "/api/users/:id/orders", "expired_token", headers=QUA),  # 401
    Call("POST", "/api/auth/login", "/api/auth/login", None, {"username": "alice", "password": "alice-password"}, UA),
    Call("POST", "/api/auth/login", "/api/auth/login", None, {"username": "alice", "password": "nope"}, QUA),  # 401
    Call("GET", "/api/admin/stats", "/api/admin/stats", "admin_token", headers=UA),  # 200
    Call("GET", "/api/admin/stats", "/api/admin/stats", "user_token", headers=QUA),  # 403
    # 5 searches per 10 s are allowed, the 6th and 7th get 429; a quote in the query string.
    Call("GET", '/api/search?q=say"hi"', "/api/search", headers=QUA),
    *[Call("GET", f"/api/search?q=product+{i}", "/api/search", headers=UA) for i in range(6)],
    *[Call("GET", f"/api/reports/daily?delay_ms={ms}", "/api/reports/daily", headers=UA) for ms in (0, 15, 40, 70)],
    Call("GET", "/api/boom", "/api/boom", headers=UA),  # 500
    Call("GET", "/api/boom?retry=1", "/api/boom", headers=QUA),  # 500
    Call("GET", "/api/nope", "/api/nope", headers=UA),  # 404
    Call("GET", "/.env", "/.env", headers=QUA),  # 404, a scanner
]

EXPECTED_STATUSES = {200, 201, 204, 400, 401, 403, 404, 429, 500}

COMBINED_RT = (
    ':remote-addr - :remote-user [:date[clf]] ":method :url HTTP/:http-version" :status :res[content-length]'
    ' ":referrer" ":user-agent" :response-time ms'
)
ISO_REQ = (
    ":date[iso] :method :url :status :res[content-length] :response-time[1] ms :total-time[2] ms"
    ' ":req[x-request-id]" ":referrer" ":user-agent"'
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")

Fields = tuple[str, str, int, float | None]  # method, url, status, response time (ms)


def _clf_request(line: str) -> tuple[str, str, int]:
    """From `... [date] "METHOD URL HTTP/1.1" STATUS ...` (the URL may hold a quote, never a space)."""
    request, rest = line.split('] "', 1)[1].split(' HTTP/1.1" ', 1)
    method, url = request.split(" ", 1)
    return method, url, int(rest.split(" ", 1)[0])


def _combined(line: str) -> Fields:
    return (*_clf_request(line), None)


def _combined_rt(line: str) -> Fields:
    return (*_clf_request(line), float(line.rsplit(" ", 2)[1]))


def _dev(line: str) -> Fields:
    method, url, status, rt = ANSI.sub("", line).split(" ")[:4]
    return method, url, int(status), float(rt)


def _short(line: str) -> Fields:
    parts = line.split(" ")
    return parts[2], parts[3], int(parts[5]), float(parts[-2])


def _tiny(line: str) -> Fields:
    parts = line.split(" ")
    return parts[0], parts[1], int(parts[2]), float(parts[-2])


def _iso_req(line: str) -> Fields:
    parts = line.split(" ")
    return parts[1], parts[2], int(parts[3]), float(parts[5])


# --format value -> independent reader of one line of that format
FORMATS: dict[str, Callable[[str], Fields]] = {
    "combined": _combined,
    "common": _combined,
    "dev": _dev,
    "short": _short,
    "tiny": _tiny,
    COMBINED_RT: _combined_rt,
    ISO_REQ: _iso_req,
}
FORMAT_IDS = ["combined", "common", "dev", "short", "tiny", "custom-combined-rt", "custom-iso-req"]


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    template: str
    status: int


def drive_traffic(server: ExpressServer) -> list[Sent]:
    """Send TRAFFIC one request at a time (raw http.client: the URL goes out exactly as written)."""
    sent = []
    for call in TRAFFIC:
        headers = dict(call.headers)
        if call.auth:
            headers.update(server.bearer(getattr(server, call.auth)()))
        body = None
        if call.body is not None:
            body = json.dumps(call.body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request(call.method, call.url, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            sent.append(Sent(call.method, call.url, call.template, response.status))
        finally:
            conn.close()
    return sent


def run_summary(log_path: Path, log_format: str) -> dict[str, Any]:
    script = Path(sys.executable).with_name("opsreview")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "opsreview.cli"]
    command += ["logs", "summary", str(log_path), "--format", log_format, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr.strip()}"
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@pytest.mark.parametrize("log_format", list(FORMATS), ids=FORMAT_IDS)
def test_summary_equals_client_ground_truth(express_server: ExpressServers, log_format: str) -> None:
    server = express_server("hardened", log_format, fresh=True)
    sent = drive_traffic(server)
    lines = server.wait_for_log_lines(len(sent))
    server.stop()  # flushes; nothing may arrive after the lines we waited for
    assert server.log_lines() == lines
    assert {s.status for s in sent} == EXPECTED_STATUSES, "the traffic no longer covers the statuses it should"

    # The log holds exactly the requests sent (read independently of opsreview).
    read = [FORMATS[log_format](line) for line in lines]
    assert Counter((m, u, st) for m, u, st, _ in read) == Counter((s.method, s.url, s.status) for s in sent)
    route_of = {(s.method, s.url): f"{s.method} {s.template}" for s in sent}  # a route is method + template
    response_times: dict[str, list[float]] = defaultdict(list)
    for method, url, _, rt in read:
        if rt is not None:
            response_times[route_of[method, url]].append(rt)

    summary = run_summary(server.log_path, log_format)

    assert str(server.log_path) in json.dumps(summary["files"])
    assert (summary["total_lines"], summary["parsed"], summary["unparsed"]) == (len(sent), len(sent), 0)
    assert summary["by_status"] == {str(k): v for k, v in Counter(s.status for s in sent).items()}
    assert summary["by_method"] == dict(Counter(s.method for s in sent))

    routes = {r["route"]: r for r in summary["routes"]}
    by_template: dict[str, list[Sent]] = defaultdict(list)
    for s in sent:
        by_template[route_of[s.method, s.url]].append(s)
    assert set(routes) == set(by_template)
    for template, calls in by_template.items():
        got = routes[template]
        errors = sum(1 for s in calls if s.status >= 500)
        assert (got["count"], got["errors_5xx"]) == (len(calls), errors), template
        assert got["error_rate"] == pytest.approx(errors / len(calls), abs=1e-12), template
        if response_times:
            expected = np.percentile(response_times[template], [50, 95, 99])  # numpy's default: linear
            actual = [got["p50_ms"], got["p95_ms"], got["p99_ms"]]
            assert all(a is not None for a in actual), template
            assert np.allclose(actual, expected, rtol=0, atol=1e-6), (template, actual, list(expected))
        else:  # no :response-time in the format
            assert (got["p50_ms"], got["p95_ms"], got["p99_ms"]) == (None, None, None), template
