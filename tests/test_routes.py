"""Route templating: the Python function and the DuckDB expression agree on one table."""

from __future__ import annotations

import duckdb
import pytest

from opsreview.logs.access.routes import compile_routes, route_template, route_template_sql, with_route_sql

EXPLICIT = (
    "/flights/:from-:to",  # parameters inside a segment, as in Express's guide
    "/plantae/:genus.:species",
    "/reports/:year(\\d{4})",  # a custom pattern
    "/files/:name.:ext?",  # an optional parameter takes its dot along
    "/api/users/:userId/orders",
    "/api/users/:id",
    "/api/users/me",
    "/static/*",
    "/api/items/:id?",
    "/v1.0/health-check",
)

# (logged url, explicit routes?, expected template)
CASES = [
    ("/api/products/123", False, "/api/products/:id"),
    ("/api/products/123?sort=asc&page=2", False, "/api/products/:id"),
    ("/api/products/123#frag", False, "/api/products/:id"),
    ("/api/orders/507f1f77bcf86cd799439011", False, "/api/orders/:id"),
    ("/api/orders/507F1F77BCF86CD799439011/items/7", False, "/api/orders/:id/items/:id"),
    ("/api/things/3f2504e0-4f89-11d3-9a0c-0305e82c3301", False, "/api/things/:id"),
    ("/files/da39a3ee5e6b4b0d3255bfef95601890afd80709", False, "/files/:id"),
    ("/blobs/a1b2c3d4", False, "/blobs/:id"),
    ("/blobs/a1b2c3d", False, "/blobs/a1b2c3d"),  # 7 hex chars: too short to be sure
    ("/colors/deadbeefcafe", False, "/colors/deadbeefcafe"),  # hex letters only: a word
    ("/api/v1/health", False, "/api/v1/health"),
    ("/api/products/12a", False, "/api/products/12a"),
    ("/1/2/3", False, "/:id/:id/:id"),
    ("/", False, "/"),
    ("", False, ""),
    ("*", False, "*"),
    ("/api/products/", False, "/api/products"),  # Express (not strict): the same route
    ("/api/products/123/", False, "/api/products/:id"),
    ("//", False, "/"),
    ("/search?q=/api/1", False, "/search"),
    ("/.env", False, "/.env"),
    ("/wp-admin/setup-config.php", False, "/wp-admin/setup-config.php"),
    ("/api/users/42/orders", True, "/api/users/:userId/orders"),
    ("/api/users/alice/orders/", True, "/api/users/:userId/orders"),
    ("/api/users/me", True, "/api/users/me"),
    ("/api/users/me?x=1", True, "/api/users/me"),
    ("/api/users/bob", True, "/api/users/:id"),
    ("/api/users/bob/profile/7", True, "/api/users/bob/profile/:id"),  # no explicit match -> auto
    ("/static/js/app.1234abcd.js", True, "/static/*"),
    ("/api/items", True, "/api/items/:id?"),
    ("/api/items/9", True, "/api/items/:id?"),
    ("/API/users/me", True, "/API/users/me"),  # case-sensitive
    ("/api/products/123", True, "/api/products/:id"),
    ("/a'b/1", True, "/a'b/:id"),
    ("/v1.0/health-check", True, "/v1.0/health-check"),
    ("/v1x0/health-check", True, "/v1x0/health-check"),
    ("/flights/LAX-SFO", True, "/flights/:from-:to"),
    ("/flights/LAX", True, "/flights/LAX"),
    ("/plantae/Prunus.persica", True, "/plantae/:genus.:species"),
    ("/reports/2026", True, "/reports/:year(\\d{4})"),
    ("/reports/26", True, "/reports/:id"),  # the pattern does not match: auto
    ("/files/report.pdf", True, "/files/:name.:ext?"),
    ("/files/report", True, "/files/:name.:ext?"),
]


@pytest.mark.parametrize(("url", "explicit", "expected"), CASES)
def test_python_template(url: str, explicit: bool, expected: str) -> None:
    assert route_template(url, EXPLICIT if explicit else ()) == expected


@pytest.mark.parametrize("explicit", [False, True])
def test_sql_agrees_with_python(explicit: bool) -> None:
    routes = EXPLICIT if explicit else ()
    urls = [url for url, _, _ in CASES] + [None]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, url VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(urls)))
    rows = con.execute(f"SELECT i, {route_template_sql('url', routes)} FROM t ORDER BY i").fetchall()
    assert [r[1] for r in rows] == [route_template(u, routes) for u in urls]


def test_explicit_route_with_quote_is_escaped_in_sql() -> None:
    routes = ["/it's/:id"]
    expr = route_template_sql("'/it''s/5'", routes)
    assert duckdb.sql(f"SELECT {expr}").fetchall() == [("/it's/:id",)]
    assert route_template("/it's/5", routes) == "/it's/:id"


def test_most_literal_template_wins_regardless_of_order() -> None:
    assert [t for t, _ in compile_routes(["/u/:id", "/u/me"])] == ["/u/me", "/u/:id"]


def test_invalid_template_rejected() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        compile_routes(["api/x"])
    with pytest.raises(ValueError, match="must start with '/'"):
        route_template_sql("url", ["api/x"])


def test_none_stays_none() -> None:
    assert route_template(None) is None


def test_with_route_sql_templates_distinct_paths_and_keeps_rows() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE r (path VARCHAR, status INTEGER)")
    rows = [(u.split("?")[0] if u else None, i) for i, (u, _, _) in enumerate(CASES)] + [(None, 99)]
    con.executemany("INSERT INTO r VALUES (?, ?)", rows)
    got = con.execute(f"SELECT path, status, route FROM ({with_route_sql('r', EXPLICIT)}) ORDER BY status").fetchall()
    assert got == [(p, s, route_template(p, EXPLICIT)) for p, s in rows]
