"""Route parameters inferred from the data when the params list no routes (issue 10).

The rule (lib/opsreview/logs/access/route_inference.py): a segment position under one prefix
with at least ``route_param_min_values`` distinct values that are id-shaped or answered other
than 404 is a parameter; its values join ``:id`` except busy plain words (literal routes).
Each test plants traffic of a known shape and checks the templates, the pasteable list, and
that the SQL path and the Python path agree. The Express app test (test_express_routes.py)
checks the same against Express's own routing.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest
import yaml

from opsreview.context import ReviewContext
from opsreview.logs.access import analysis as traffic
from opsreview.logs.access.review import AccessLogReview
from opsreview.logs.access.route_inference import PathGroup, infer_routes, path_groups, path_groups_sql
from opsreview.logs.access.routes import route_template, route_template_sql
from opsreview.logs.access.source import ingest_access_logs, requests_relation
from opsreview.logs.params import LogsParams
from opsreview.logs.thresholds import LogThresholds
from opsreview.params import load_params

Request = tuple[str, int]  # (path, status)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWRlbW8"
SLUGS = [
    f"{a}-{b}" for a in ("red", "blue", "green", "small", "large") for b in ("chair", "table", "lamp", "desk", "sofa")
]


def infer(requests: list[Request], th: LogThresholds | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """path -> its route, and the inferred list (checking that the list reproduces every route)."""
    th = th or LogThresholds()
    groups = path_groups(requests, th.route_param_min_values)
    inference = infer_routes(groups, th)
    for group in groups:  # pasting the list into `routes:` gives the same routes
        assert route_template(group.template, inference.routes) == inference.route(group.template), group.template
    routes = {path: inference.route(str(route_template(path))) for path, _ in requests}
    for path, route in routes.items():
        assert route_template(path, inference.routes) == route, path
    return routes, inference.routes


def products() -> list[Request]:
    return [(f"/api/products/{i}", 200) for i in range(1, 51)] + [(f"/api/products/{i}", 404) for i in range(51, 60)]


def test_undefined_null_minus_one_and_12abc_join_the_id_route() -> None:
    """The issue's example: five routes besides /api/products/:id become one."""
    odd = ["abc", "undefined", "-1", "null", "12abc"]
    routes, listed = infer(products() + [(f"/api/products/{v}", 404) for v in odd for _ in range(3)])
    assert {routes[f"/api/products/{v}"] for v in odd} == {"/api/products/:id"}
    assert listed == ("/api/products/:id",)


def test_nothing_inferred_where_the_automatic_rules_suffice() -> None:
    routes, listed = infer(products() + [("/api/products", 200), ("/api/health", 200)])
    assert listed == () and routes["/api/products/7"] == "/api/products/:id"


@pytest.mark.parametrize(
    ("slugs", "min_values", "inferred"),
    [(19, 20, False), (20, 20, True), (25, 20, True), (25, 26, False), (2, 2, True)],
)
def test_a_position_needs_min_values_distinct_answered_values(slugs: int, min_values: int, inferred: bool) -> None:
    requests = [(f"/api/articles/{s}", 200) for s in SLUGS[:slugs]] + [("/api/articles/undefined", 404)]
    routes, _ = infer(requests, LogThresholds(route_param_min_values=min_values))
    assert (routes["/api/articles/undefined"] == "/api/articles/:id") is inferred
    assert (routes[f"/api/articles/{SLUGS[0]}"] == "/api/articles/:id") is inferred


def test_values_answered_404_do_not_count_ids_do() -> None:
    """Slugs that all got 404 are no evidence (a scanner's guesses); id-shaped values are."""
    guesses = [(f"/api/articles/{s}", 404) for s in SLUGS] + [("/api/articles/real-one", 200)]
    routes, _ = infer(guesses)
    assert routes[f"/api/articles/{SLUGS[0]}"] == f"/api/articles/{SLUGS[0]}"
    ids = [(f"/api/orders/{i:024x}", 200 if i == 1 else 404) for i in range(1, 21)] + [("/api/orders/undefined", 404)]
    routes, _ = infer(ids)
    assert routes["/api/orders/undefined"] == "/api/orders/:id"


def test_busy_words_stay_literal_routes_quiet_ones_and_unset_ids_join() -> None:
    users = [(f"/api/users/{'%024x' % (i * 7919)}/orders", 200) for i in range(1, 31)]
    busy = [("/api/users/me", 200)] * 40 + [("/api/users/undefined", 500)] * 60  # CastError: answered, unset
    quiet = [("/api/users/count", 200)] * 2
    routes, listed = infer(users + busy + quiet)
    assert routes["/api/users/me"] == "/api/users/me"
    assert routes["/api/users/undefined"] == routes["/api/users/count"] == "/api/users/:id"
    assert listed == ("/api/users/me", "/api/users/:id")  # me listed, or /api/users/:id would take it


@pytest.mark.parametrize(
    ("share", "min_requests", "literal"),
    [(0.05, 20, True), (0.5, 20, False), (0.05, 41, False), (0.0, 1, True)],
)
def test_literal_thresholds(share: float, min_requests: int, literal: bool) -> None:
    requests = [(f"/api/products/{i}", 200) for i in range(1, 61)] + [("/api/products/featured", 200)] * 40
    requests += [("/api/products/abc", 404)]
    th = LogThresholds(route_literal_min_share=share, route_literal_min_requests=min_requests)
    routes, _ = infer(requests, th)
    assert (routes["/api/products/featured"] == "/api/products/featured") is literal


def test_scanner_junk_never_makes_the_root_a_parameter() -> None:
    junk = [(f"/{name}-{i}.php", 404) for name in ("wp", "admin", "shell") for i in range(50)]
    requests = junk + products() + [("/.env", 404), ("/api/health", 200)]
    routes, listed = infer(requests)
    assert listed == () and routes["/wp-3.php"] == "/wp-3.php"
    assert infer_routes(path_groups(requests, 20)).parameters == ("/api/products/:id",)


def test_collections_do_not_count_as_values() -> None:
    """/api/<name> with many ids below each name: names of collections, not a parameter."""
    names = [f"things{chr(97 + i)}" for i in range(25)]
    requests = [(f"/api/{name}/{i}", 200) for name in names for i in range(1, 22)] + [("/api/nope", 404)]
    routes, _ = infer(requests)
    assert routes["/api/thingsa/3"] == "/api/thingsa/:id" and routes["/api/nope"] == "/api/nope"


def test_nested_parameters_are_judged_under_the_templated_prefix() -> None:
    """Usernames, then order codes below them: each user has only three orders, yet the order
    position is a parameter, as it is judged under /api/users/:id/orders, not per user."""
    users = [f"user{chr(97 + i)}{chr(97 + j)}" for i in range(5) for j in range(5)]
    rng = random.Random(1)
    requests = [(f"/api/users/{u}/orders/{s}", 200) for u in users for s in rng.sample(SLUGS, 3)]
    assert len({p.rsplit("/", 1)[1] for p, _ in requests}) >= 20
    requests += [(f"/api/users/{u}/orders", 200) for u in users]
    routes, listed = infer(requests)
    assert {routes[p] for p, _ in requests if p.count("/") == 5} == {"/api/users/:id/orders/:id"}
    assert listed == ("/api/users/:id/orders", "/api/users/:id/orders/:id")


def test_a_busy_value_of_a_parameter_is_kept_as_a_literal_route() -> None:
    """The limit of the rule, on purpose: a username with a quarter of the requests and
    answered looks like a literal route (/api/users/me); the report lists it as a literal."""
    users = [f"user{chr(97 + i)}" for i in range(25)]
    requests = [(f"/api/users/{u}", 200) for u in users] + [("/api/users/popular", 200)] * 20
    routes, listed = infer(requests)
    assert routes["/api/users/popular"] == "/api/users/popular" and routes["/api/users/usera"] == "/api/users/:id"
    assert listed == ("/api/users/popular", "/api/users/:id")


def test_the_list_reproduces_every_route_on_mixed_traffic() -> None:
    """A day of mixed traffic (ids, slugs, literals, junk, trailing slashes, //, queries):
    ``infer`` checks that the list gives every path the inferred route."""
    rng = random.Random(5)
    requests: list[Request] = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.3:
            requests.append((f"/api/articles/{rng.choice(SLUGS)}{rng.choice(['', '/', '/comments', '?x=1'])}", 200))
        elif kind < 0.5:
            requests.append((f"/api/products/{rng.randint(1, 500)}{rng.choice(['', '/reviews'])}", 200))
        elif kind < 0.6:
            requests.append((f"/api/{rng.choice(['articles', 'products'])}/{rng.choice(['featured', 'top'])}", 200))
        elif kind < 0.7:
            requests.append((f"/api/products/{rng.choice(['undefined', 'null', '-1', 'x:y', 'a*b', ''])}", 404))
        elif kind < 0.8:
            requests.append((f"/{rng.choice(['.env', 'wp-login.php', 'api', 'api//x', ''])}", 404))
        else:
            requests.append((f"/api/users/{rng.randint(1, 99)}/orders/{rng.choice(SLUGS)}", rng.choice([200, 404])))
    routes, listed = infer(requests)
    assert routes["/api/articles/featured"] == "/api/articles/featured"
    assert routes[f"/api/articles/{SLUGS[0]}/comments"] == "/api/articles/:id/comments"
    assert routes["/api/products/undefined"] == "/api/products/:id"
    assert all("*" not in t and ":y" not in t for t in listed)


def path_table(requests: list[Request]) -> duckdb.DuckDBPyConnection:
    """What route_map hands the SQL side: one row per distinct path (n, answered, automatic template)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE r (path VARCHAR, status INTEGER)")
    con.executemany("INSERT INTO r VALUES (?, ?)", requests)
    con.execute(
        f"CREATE TABLE p AS SELECT _p, n, answered, {route_template_sql('_p')} AS _auto FROM ("
        "SELECT path AS _p, count(*) AS n, bool_or(status IS NOT NULL AND status <> 404) AS answered "
        "FROM r GROUP BY path)"
    )
    return con


def search_terms(n: int) -> list[Request]:
    """Free text in the path: one distinct leaf per term (`/api/u/<user>/search/<term>` too)."""
    rng = random.Random(n)
    terms = [
        (f"/api/search/{rng.choice(SLUGS)}-{rng.getrandbits(24):x}g", rng.choice([200, 200, 404])) for _ in range(n)
    ]
    return terms + [(f"/api/u/{1 + i % 3}/search/term{chr(103 + i % 20)}{i}", 200) for i in range(n // 4)]


@pytest.mark.parametrize(("fold_keep", "max_groups"), [(500, 10**6), (30, 10**6), (3, 10**6), (500, 40)])
def test_sql_groups_equal_python_groups(fold_keep: int, max_groups: int) -> None:
    rng = random.Random(2)
    requests = [
        (
            f"/api/{rng.choice(['a', 'b'])}/{rng.randint(1, 60)}/x/{rng.randint(1, 40):024x}{rng.choice(['', '/'])}",
            200,
        )
        for _ in range(800)
    ] + [("/api/a/undefined", 404), ("/api/a/1?q=2", 404), ("/", 200), (None, 200)]  # type: ignore[list-item]
    requests += search_terms(300) + [("/api/search/busy", 200)] * 50 + [("/.env", 404), ("/x.php", 404)]
    con = path_table(requests)
    groups = path_groups(requests, 20, fold_keep, max_groups)
    assert path_groups_sql(con, "p", 20, fold_keep, max_groups) == groups
    assert max(len(v) for g in groups for v in g.values.values()) == 20  # capped
    assert any(g.folded for g in groups) is (fold_keep < 300)
    if max_groups < 10**6:  # the busiest groups only
        everything = path_groups(requests, 20, fold_keep)
        assert len(groups) == max_groups < len(everything)
        least = min(g.requests for g in groups)
        assert all(g in groups for g in everything if g.requests > least)


def test_folding_keeps_the_groups_few_and_the_routes_the_same() -> None:
    """Thousands of distinct search terms: a few hundred groups, and the same routes as unfolded."""
    requests = search_terms(4000) + [("/api/search/featured", 200)] * 400 + [("/api/search/undefined", 404)] * 9
    folded, whole = path_groups(requests, 20), path_groups(requests, 20, fold_keep=10**9)
    # /api/search's 4000 leaves and /api/u/:id/search's 1000: each its 500 busiest and one folded
    assert len(whole) == 5002 and len(folded) == 2 * (500 + 1)
    assert len(path_groups_sql(path_table(requests), "p", 20)) == len(folded)
    a, b = infer_routes(folded), infer_routes(whole)
    assert a.routes == b.routes == ("/api/search/featured", "/api/u/:id/search/:id", "/api/search/:id")
    assert a.parameters == b.parameters
    for group in whole:  # every path gets the same route from either list
        assert route_template(group.template, a.routes) == b.route(group.template)


def test_the_yaml_is_a_params_routes_list_and_tokens_stay_out() -> None:
    requests = products() + [(f"/api/reset/{JWT[:-2]}{i:02d}/confirm", 200) for i in range(25)]
    requests += [("/api/products/undefined", 404)]
    groups = path_groups(requests, 20)
    inference = infer_routes(groups)
    text = inference.yaml()
    assert JWT[:20] not in text and JWT[:20] not in str(inference.table().to_dict())
    assert "***JWT***" in inference.table().set_index("route").loc["/api/reset/:id/confirm", "examples"]
    routes = yaml.safe_load(text)["logs"]["routes"]
    assert LogsParams(routes=routes).routes == list(inference.routes) == ["/api/reset/:id/confirm", "/api/products/:id"]
    assert infer_routes([]).yaml() == "" and infer_routes([]).routes == ()
    assert infer_routes([PathGroup("/api/x", 3, True)]).routes == ()


# -- the review: one inferred table for the day and its baseline ---------------------------------
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAY = dt.date(2026, 6, 10)


def access_line(day: dt.date, second: int, method: str, path: str, status: int) -> str:
    ts = dt.datetime.combine(day, dt.time(12), dt.UTC) + dt.timedelta(seconds=second)
    clf = f"{ts.day:02d}/{MONTHS[ts.month - 1]}/{ts.year}:{ts:%H:%M:%S} +0000"
    return f'10.0.0.1 - - [{clf}] "{method} {path} HTTP/1.1" {status} 321 "-" "test" 12.5 ms'


def write_review(tmp_path: Path, extra: str = "") -> ReviewContext:
    """Baseline day: 25 article slugs; review day: two slugs, `undefined`, and GET and POST
    on /api/orders (a GET 404 where only POST is a route)."""
    lines = [access_line(DAY - dt.timedelta(days=1), i, "GET", f"/api/articles/{s}", 200) for i, s in enumerate(SLUGS)]
    today = [("GET", f"/api/articles/{SLUGS[0]}", 200), ("GET", f"/api/articles/{SLUGS[1]}", 200)]
    today += [("GET", "/api/articles/undefined", 404)] * 3 + [("POST", "/api/orders", 201), ("GET", "/api/orders", 404)]
    lines += [access_line(DAY, i, m, p, s) for i, (m, p, s) in enumerate(today)]
    (tmp_path / "logs").mkdir(parents=True)
    (tmp_path / "logs" / "access.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text(
        "environment: t\ntimezone: UTC\nstore: store\noutputs: out\nbaseline_days: 2\n"
        "logs:\n  access:\n    - host: api\n      paths: [logs/]\n      format: combined_rt\n" + extra,
        encoding="utf-8",
    )
    ingest_access_logs(load_params(params))
    return ReviewContext(params=load_params(params), day=DAY)


def test_the_day_and_its_baseline_share_one_inferred_table(tmp_path: Path) -> None:
    ctx = write_review(tmp_path)
    logs = AccessLogReview(ctx)
    assert logs.today is not None and logs.baseline is not None
    today = dict(logs.today.aggregate("route, count(*)").fetchall())
    assert today == {"GET /api/articles/:id": 5, "POST /api/orders": 1, "GET /api/orders": 1}
    assert dict(logs.baseline.aggregate("route, count(*)").fetchall()) == {"GET /api/articles/:id": 25}
    assert logs.route_inference is not None and logs.route_inference.routes == ("/api/articles/:id",)
    assert "paste into the params" in logs.routes_yaml() and "- /api/articles/:id" in logs.routes_yaml()
    (caption, table), *_ = [t for t in logs.routes().tables if t[0].startswith("Route templates inferred")]
    assert table.to_dict("records") == [
        {
            "route": "/api/articles/:id",
            "kind": "parameter",
            "requests": 30,
            "examples": "undefined, blue-chair, blue-desk, blue-lamp, blue-sofa",  # unset ids first
        }
    ]
    # the notebook helper infers the same table (and takes method + template)
    rel = requests_relation(ctx, route="GET /api/articles/:id")
    assert rel is not None and rel.aggregate("count(*)").fetchall() == [(5,)]
    rel = requests_relation(ctx, route="/api/orders")
    assert rel is not None and sorted(rel.select("method").fetchall()) == [("GET",), ("POST",)]


def test_explicit_routes_and_thresholds_from_the_params_win(tmp_path: Path) -> None:
    ctx = write_review(tmp_path / "a", "  routes: [/api/articles/:slug]\n")
    logs = AccessLogReview(ctx)
    assert logs.route_inference is None and "the 1 of logs.routes" in logs.routes_yaml()
    assert (
        logs.today is not None and ("GET /api/articles/:slug", 5) in logs.today.aggregate("route, count(*)").fetchall()
    )
    ctx = write_review(tmp_path / "b", "  thresholds:\n    route_param_min_values: 26\n")
    logs = AccessLogReview(ctx)
    assert logs.route_inference is not None and logs.route_inference.routes == ()
    assert "nothing to infer" in logs.routes_yaml()
    assert (
        logs.today is not None
        and ("GET /api/articles/undefined", 3) in logs.today.aggregate("route, count(*)").fetchall()
    )


def test_route_map_without_its_connection_is_an_error() -> None:
    rel = duckdb.connect().sql("SELECT '/a' AS path, 200 AS status")
    with pytest.raises(ValueError, match="con="):
        traffic.route_map([rel], infer=LogThresholds())
