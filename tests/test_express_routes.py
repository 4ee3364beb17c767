"""opsreview's routes equal the routes Express itself matched, request by request (issue 10).

A fresh Express app (tests/express_app) with ``ROUTE_LOG`` records, for every request, the
route template Express matched (or none: its 404 handler). It receives a few hundred requests
with ids that do not look like ids - slugs, Mongo ObjectIds, ``undefined``, ``null``, ``-1``,
``12abc`` - a literal route next to a parameter (``/api/articles/featured``), a path answered
by POST but requested with GET, and scanner junk. No route list is given: opsreview infers
the parameters from the data. Every request Express matched to a route must get that route
(method + template, parameter names aside) in the review and in ``logs summary``; a request
no route matched must not be counted under any route Express matched.

Every parameter position gets at least ``route_param_min_values`` (20) distinct values here:
fewer are not enough to infer a parameter from (see tests/test_route_inference.py).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from opsreview.context import ReviewContext
from opsreview.logs.access.quicklook import summarize_access_logs
from opsreview.logs.access.review import AccessLogReview
from opsreview.logs.access.source import ingest_access_logs, requests_relation
from opsreview.params import load_params
from tests.fixtures.express import ExpressServer, ExpressServers

pytestmark = pytest.mark.node

SLUGS = [
    f"{a}-{b}"
    for a in ("quiet", "bright", "rapid", "gentle", "silver")
    for b in ("river", "garden", "engine", "harbor", "meadow", "signal", "canyon", "lantern")
]
CARTS = [f"65a1f00000000000000000{i:02x}" for i in range(1, 31)]
UNSET = ["undefined", "null", "-1", "12abc", "abc"]  # what a client with a bug sends as an id


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    auth: str | None = None  # an ExpressServer token method
    body: dict[str, Any] | None = None


def traffic() -> list[Call]:
    calls = [Call("GET", "/api/health")] * 5 + [Call("GET", f"/api/products?page={p}") for p in range(1, 6)]
    calls += [Call("GET", f"/api/products/{i}") for i in range(1, 59)]  # 51-58: 404 from the route
    calls += [Call("GET", f"/api/products/{v}") for v in UNSET for _ in range(3)]
    calls += [Call("GET", "/api/products/7/")]  # Express (not strict): the same route
    calls += [Call("PUT", f"/api/products/{i}", "admin_token", {"price": 2}) for i in (1, 2, 3, "undefined")]
    calls += [Call("GET", "/api/articles/featured")] * 25  # a literal route, busy
    calls += [Call("GET", f"/api/articles/{s}") for s in SLUGS + SLUGS[:10] * 2]
    calls += [Call("GET", f"/api/articles/{v}") for v in ["no-such-article", "null", "null", "-1", *["undefined"] * 4]]
    calls += [Call("GET", f"/api/articles/{s}/comments") for s in SLUGS[:25] + ["undefined", "undefined"]]
    calls += [Call("GET", f"/api/carts/{c}") for c in CARTS]
    calls += [Call("GET", f"/api/carts/{'%024x' % (0xBEEF0000 + i)}") for i in range(4)]  # 404
    calls += [Call("GET", f"/api/carts/{v}") for v in ["undefined"] * 3 + ["null", "null", "12abc", "-1"]]  # 400
    order = {"items": [{"productId": 3, "qty": 1}]}
    calls += [Call("POST", "/api/orders", "user_token", order)] * 3 + [Call("POST", "/api/orders", None, order)] * 2
    calls += [Call("GET", "/api/orders")] * 4  # no GET route: Express's 404 handler, not POST /api/orders
    calls += [Call("GET", "/api/orders/1001")] * 2  # no GET route either
    calls += [Call("DELETE", f"/api/orders/{i}", "user_token") for i in (2001, 2002, 2003, 1002)]
    calls += [Call("GET", f"/api/users/{i}/orders") for i in range(1, 26)] + [
        Call("GET", "/api/users/7/orders", "user_token")
    ]
    calls += [Call("POST", "/api/auth/login", None, {"username": "alice", "password": "alice-password"})] * 2
    calls += [Call("GET", "/api/search?q=product")] * 3 + [Call("GET", "/api/boom")] * 2
    calls += [Call("GET", "/api/reports/daily?delay_ms=5")] * 2 + [Call("GET", "/api/admin/stats", "admin_token")]
    junk = ["/.env", "/wp-login.php", "/api/nope", "/api/products/5/extra", "/api/articles/quiet-river/nope"]
    calls += [Call("GET", p) for p in junk + [f"/scan-{i}.php" for i in range(25)]]
    return calls


def send(server: ExpressServer, calls: list[Call]) -> None:
    """Each request tagged ``?n=<i>`` (``&n=`` after a query), so that the access log's line and
    the app's route log of one request can be paired."""
    for n, call in enumerate(calls):
        headers = {"User-Agent": "opsreview-tests/1.0"}
        if call.auth:
            headers.update(server.bearer(getattr(server, call.auth)()))
        body = None
        if call.body is not None:
            body = json.dumps(call.body).encode()
            headers["Content-Type"] = "application/json"
        url = f"{call.path}{'&' if '?' in call.path else '?'}n={n}"
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request(call.method, url, body=body, headers=headers)
            conn.getresponse().read()
        finally:
            conn.close()


def tag(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["n"][-1])


def express_routes(route_log: Path) -> dict[int, tuple[str, str | None]]:
    """n -> (method, the route Express matched with its parameters named :id, or None)."""
    out = {}
    for line in route_log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        route = re.sub(r":[A-Za-z_]\w*", ":id", entry["route"]) if entry["route"] else None
        out[tag(entry["url"])] = (entry["method"], route)
    return out


def review_routes(tmp_path: Path, log: Path, routes: list[str] | None = None) -> tuple[dict[int, str], Any]:
    """n -> route of the logs review (no route list unless ``routes``), and its route inference."""
    params_file = tmp_path / f"params-{'explicit' if routes else 'inferred'}.yaml"
    logs: dict[str, Any] = {"access": [{"host": "api", "paths": [str(log)], "format": "combined"}]}
    if routes:
        logs["routes"] = routes
    params_file.write_text(
        yaml.safe_dump(
            {
                "environment": "t",
                "timezone": "UTC",
                "store": str(params_file.with_suffix("")),
                "outputs": str(tmp_path / "out"),
                "logs": logs,
            }
        ),
        encoding="utf-8",
    )
    params = load_params(params_file)
    ingest_access_logs(params)
    first = log.read_text(encoding="utf-8").split("[", 1)[1][:11]  # 06/Dec/2026
    review = AccessLogReview(ReviewContext(params=params, day=dt.datetime.strptime(first, "%d/%b/%Y").date()))
    assert review.today is not None
    rows = review.today.select("url, route").fetchall()
    return {tag(url): route for url, route in rows}, review


@pytest.fixture(scope="module")
def run(express_server: ExpressServers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("express-routes")
    env = {"ROUTE_LOG": str(tmp / "routes.jsonl"), "API_RATE_LIMIT": "100000"}  # no 429 before routing
    server = express_server("hardened", "combined", env=env, fresh=True)
    calls = traffic()
    send(server, calls)
    server.wait_for_log_lines(len(calls))
    server.stop()  # flushes both logs
    express = express_routes(tmp / "routes.jsonl")
    assert sorted(express) == list(range(len(calls))), "the app's route log misses requests"
    ours, review = review_routes(tmp, server.log_path)
    return {"tmp": tmp, "log": server.log_path, "calls": calls, "express": express, "ours": ours, "review": review}


def test_every_request_gets_the_route_express_matched(run: dict[str, Any]) -> None:
    express, ours = run["express"], run["ours"]
    assert sorted(ours) == sorted(express)
    matched = {n: f"{method} {route}" for n, (method, route) in express.items() if route is not None}
    wrong = {n: (ours[n], want) for n, want in matched.items() if ours[n] != want}
    assert not wrong, f"opsreview's route != Express's (request: (ours, Express's)): {wrong}"
    # what no route matched (404 handler) is never counted under a route Express matched
    labels = set(matched.values())
    merged = {n: ours[n] for n, (_, route) in express.items() if route is None and ours[n] in labels}
    assert not merged, f"unmatched requests counted under a matched route: {merged}"
    assert Counter(ours[n] for n in matched) == Counter(matched.values())
    # the traffic covers what issue 10 is about
    assert {"GET /api/articles/:id", "GET /api/articles/featured", "GET /api/carts/:id", "POST /api/orders"} <= labels


def test_logs_summary_counts_equal_express(run: dict[str, Any]) -> None:
    express = run["express"]
    summary = summarize_access_logs([run["log"]], "combined")
    counts = {r["route"]: r["count"] for r in summary["routes"]}
    for r in summary["routes"]:
        assert r["route"] == f"{r['method']} {r['template']}"
    matched = Counter(f"{m} {route}" for m, route in express.values() if route is not None)
    assert {label: counts.get(label) for label in matched} == dict(matched)
    # GET /api/orders (404: no GET route) is a route of its own, not part of POST /api/orders
    gets = [n for n, call in enumerate(run["calls"]) if (call.method, call.path) == ("GET", "/api/orders")]
    assert [express[n][1] for n in gets] == [None] * 4
    assert (counts["GET /api/orders"], counts["POST /api/orders"], matched["POST /api/orders"]) == (4, 5, 5)
    assert summary["inferred_routes"]["yaml"] == run["review"].route_inference.yaml()


def test_the_inferred_list_is_reported_and_pasting_it_gives_the_same_routes(run: dict[str, Any]) -> None:
    inference = run["review"].route_inference
    assert inference is not None
    assert set(inference.routes) == {
        "/api/articles/featured",
        "/api/articles/:id",
        "/api/articles/:id/comments",
        "/api/carts/:id",
        "/api/products/:id",
    }
    table = inference.table().set_index("route")
    assert table.loc["/api/articles/featured", "kind"] == "literal"
    assert set(table.loc["/api/products/:id", "examples"].split(", ")) == set(UNSET)
    section = run["review"].routes()
    assert any(caption.startswith("Route templates inferred") for caption, _ in section.tables)
    pasted = yaml.safe_load(inference.yaml())["logs"]["routes"]
    again, review = review_routes(run["tmp"], run["log"], pasted)
    assert review.route_inference is None  # explicit routes: nothing inferred
    assert again == run["ours"]
    # the notebook helper: the same routes, inferred again or given
    articles = Counter(run["ours"].values())["GET /api/articles/:id"]
    for rel in (
        requests_relation(run["review"].review, route="GET /api/articles/:id"),
        requests_relation(review.review, route="GET /api/articles/:id", routes=pasted),
    ):
        assert rel is not None and rel.aggregate("count(*)").fetchall() == [(articles,)]


def test_cli_prints_the_inferred_routes_as_params_yaml(run: dict[str, Any]) -> None:
    script = Path(sys.executable).with_name("opsreview")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "opsreview.cli"]
    done = subprocess.run(
        [*command, "logs", "summary", str(run["log"]), "--routes"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["logs"]["routes"] == list(run["review"].route_inference.routes)
