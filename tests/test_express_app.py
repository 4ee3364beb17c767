"""The Express test app and its fixture: hardened and weak really differ, logs really get written."""

from __future__ import annotations

import re

import pytest
import requests

from tests.fixtures.express import ALLOWED_ORIGIN, PREDEFINED_FORMATS, WEAKNESSES, ExpressServer, ExpressServers

pytestmark = pytest.mark.node
TIMEOUT = 10


def get(server: ExpressServer, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url + path, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hardened(express_server: ExpressServers) -> ExpressServer:
    return express_server("hardened", fresh=True)


@pytest.fixture(scope="module")
def weak(express_server: ExpressServers) -> ExpressServer:
    return express_server("weak", fresh=True)


def test_x_powered_by_only_on_weak(hardened: ExpressServer, weak: ExpressServer) -> None:
    assert "X-Powered-By" not in get(hardened, "/api/health").headers
    assert get(weak, "/api/health").headers["X-Powered-By"] == "Express"


def test_helmet_headers_only_on_hardened(hardened: ExpressServer, weak: ExpressServer) -> None:
    helmet = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")
    h, w = get(hardened, "/api/health").headers, get(weak, "/api/health").headers
    assert all(name in h for name in helmet)
    assert not any(name in w for name in helmet)


@pytest.mark.parametrize(
    ("token", "hardened_status", "weak_status"),
    [
        ("none", 401, 401),
        ("user_token", 403, 200),  # the planted admin_no_role_check
        ("admin_token", 200, 200),
        ("expired_token", 401, 401),
        ("tampered_token", 401, 401),
        ("none_alg_token", 401, 401),
        ("wrong_secret_token", 401, 401),
    ],
)
def test_admin_route_auth(
    hardened: ExpressServer, weak: ExpressServer, token: str, hardened_status: int, weak_status: int
) -> None:
    for server, expected in ((hardened, hardened_status), (weak, weak_status)):
        headers = {} if token == "none" else server.bearer(getattr(server, token)())
        assert get(server, "/api/admin/stats", headers=headers).status_code == expected, (server.mode, token)


def test_python_minted_tokens_are_accepted(hardened: ExpressServer) -> None:
    own = get(hardened, "/api/users/7/orders", headers=hardened.bearer(hardened.user_token()))
    assert own.status_code == 200
    assert [o["id"] for o in own.json()["items"]] == [1001]
    other = get(hardened, "/api/users/8/orders", headers=hardened.bearer(hardened.user_token()))
    assert other.status_code == 403


def test_cors(hardened: ExpressServer, weak: ExpressServer) -> None:
    foreign = {"Origin": "https://evil.example"}
    assert "Access-Control-Allow-Origin" not in get(hardened, "/api/health", headers=foreign).headers
    allowed = get(hardened, "/api/health", headers={"Origin": ALLOWED_ORIGIN}).headers
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    reflected = get(weak, "/api/health", headers=foreign).headers
    assert reflected["Access-Control-Allow-Origin"] == "https://evil.example"
    assert reflected["Access-Control-Allow-Credentials"] == "true"


def test_errors_and_exposure(hardened: ExpressServer, weak: ExpressServer) -> None:
    h_boom, w_boom = get(hardened, "/api/boom"), get(weak, "/api/boom")
    assert h_boom.status_code == w_boom.status_code == 500
    assert h_boom.json() == {"error": "Internal Server Error"}
    assert "server.js" in w_boom.json()["stack"]
    assert get(hardened, "/nope").json() == {"error": "Not Found"}
    assert "Cannot GET /nope" in get(weak, "/nope").text
    for path in ("/.env", "/.git/config", "/package.json"):
        assert get(hardened, path).status_code == 404
    assert get(weak, "/.env").status_code == 200
    assert get(weak, "/.git/config").status_code == get(weak, "/package.json").status_code == 404


def test_rate_limit(express_server: ExpressServers) -> None:
    hardened = express_server("hardened", fresh=True)
    weak = express_server("weak", fresh=True)
    h = [get(hardened, "/api/search?q=x") for _ in range(7)]
    assert [r.status_code for r in h] == [200] * 5 + [429] * 2
    assert "RateLimit" in h[0].headers and "RateLimit-Policy" in h[0].headers
    w = [get(weak, "/api/search?q=x") for _ in range(7)]
    assert [r.status_code for r in w] == [200] * 7
    assert not any(name.lower().startswith(("ratelimit", "x-ratelimit")) for name in w[0].headers)
    hardened.stop()
    weak.stop()


def test_weakness_subset_and_cache(express_server: ExpressServers) -> None:
    only_cors = express_server("weak", weaknesses={"cors_reflects_any_origin"})
    assert only_cors.weaknesses == {"cors_reflects_any_origin"}
    assert "X-Powered-By" not in get(only_cors, "/api/health").headers
    assert get(only_cors, "/api/admin/stats", headers=only_cors.bearer(only_cors.user_token())).status_code == 403
    assert express_server("weak", weaknesses=["cors_reflects_any_origin"]) is only_cors
    assert express_server("weak").weaknesses == set(WEAKNESSES)
    # helmet strips X-Powered-By by default: planting that weakness alone must still show it.
    only_banner = get(express_server("weak", weaknesses={"x_powered_by"}), "/api/health").headers
    assert only_banner["X-Powered-By"] == "Express" and "Content-Security-Policy" in only_banner
    with pytest.raises(ValueError, match="unknown weaknesses"):
        express_server("weak", weaknesses={"no_such_thing"})


@pytest.mark.parametrize("log_format", PREDEFINED_FORMATS)
def test_every_request_is_logged(express_server: ExpressServers, log_format: str) -> None:
    server = express_server("hardened", log_format, fresh=True)
    paths = ["/api/health", "/api/products/3", "/api/products/999", "/api/boom", "/nope"]
    statuses = [get(server, p).status_code for p in paths]
    assert statuses == [200, 200, 404, 500, 404]
    lines = server.wait_for_log_lines(len(paths))
    server.stop()
    assert len(server.log_lines()) == len(paths)
    for line, path, status in zip(lines, paths, statuses, strict=True):
        assert path in line and str(status) in line
    # morgan's dev format colours the status whether or not the stream is a terminal.
    assert all(("\x1b[" in line) == (log_format == "dev") for line in lines)
    assert all(re.search(r"\d+\.\d{3} ms", line) for line in lines) == (log_format in {"dev", "short", "tiny"})
