"""Traffic analysis: every aggregate checked against an independent pandas/numpy computation."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from opsreview import masking as sensitive
from opsreview.logs.access import abuse
from opsreview.logs.access import analysis as traffic
from tests.synthetic_logs import client_burst, local, plant_status, requests_day

DAY = dt.date(2026, 11, 23)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTFmMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJyb2xlIjoidXNlciJ9"
    ".c2lnbmF0dXJlLWRlbW8tb25seQ"
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = requests_day(DAY, seed=3, hosts=("api-1", "api-2"))
    df = plant_status(df, "POST /api/orders", local(DAY, "14:10"), 20, 503)
    df = pd.concat([df, client_burst(local(DAY, "03:12"), 15, 40, "203.0.113.77")], ignore_index=True)
    # a few 404s and 429s with known counts
    df.loc[df.index[:7], "status"] = 404
    df.loc[df.index[7:12], "status"] = 429
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


@pytest.fixture()
def rel(frame: pd.DataFrame) -> duckdb.DuckDBPyRelation:
    return traffic.with_route(duckdb.connect().from_df(frame))


def expected_route(frame: pd.DataFrame) -> pd.Series:
    template = frame["path"].str.replace(r"/\d+(?=/|$)", "/:id", regex=True)
    return frame["method"] + " " + template


def test_with_route_templates_ids_and_keeps_every_row(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    routes = rel.df()["route"].value_counts().sort_index()
    assert routes.to_dict() == expected_route(frame).value_counts().sort_index().to_dict()
    assert "GET /api/products/:id" in routes.index


def test_a_route_map_made_once_gives_the_same_routes(frame: pd.DataFrame) -> None:
    """route_map templates the distinct paths of several relations once; joining it gives
    what templating inside each query gives, explicit routes and masked secrets included."""
    con = duckdb.connect()
    leak = frame.iloc[:2].assign(path="/api/reset/sk_live_abcdefghijklmnopqrstuvwx", method="POST")
    first, second = (
        con.from_df(frame.iloc[: len(frame) // 2]),
        con.from_df(pd.concat([frame.iloc[len(frame) // 2 :], leak])),
    )
    routes = ["/api/users/me", "/api/products/:productId"]
    mapping = traffic.route_map([first, second], routes)
    for part in (first, second):
        mapped = traffic.with_route(part, routes, mapping).df()
        inline = traffic.with_route(part, routes).df()
        key = ["ts", "remote_addr", "method", "path", "route"]
        assert sorted(mapped[key].itertuples(index=False)) == sorted(inline[key].itertuples(index=False))
        assert len(mapped) == len(part.df()) and "GET /api/products/:productId" in set(mapped["route"])
    assert "sk_live_abcdefghijklmnopqrstuvwx" not in set(traffic.with_route(second, routes, mapping).df()["route"])


def test_minute_counts_match_pandas(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    counts = traffic.minute_counts(rel)
    assert counts["requests"].sum() == len(frame)
    per_minute = traffic.requests_per_minute(counts)
    expected = frame.groupby(frame["ts"].dt.floor("1min")).size()
    assert per_minute.set_index("minute")["requests"].to_dict() == expected.to_dict()
    assert str(per_minute["minute"].dt.tz) == "UTC"


def test_error_rates_break_out_401_403_404_429(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    rates = traffic.error_rates(traffic.minute_counts(rel)).iloc[0]
    status = frame["status"]
    assert rates["requests"] == len(frame)
    assert rates["s5xx"] == (status >= 500).sum() == 20 * 3  # 20 minutes x 3 orders per minute
    assert rates["s401"] == (status == 401).sum() == 15 * 40
    assert rates["s404"] == 7
    assert rates["s429"] == 5
    assert rates["s4xx"] == ((status >= 400) & (status < 500)).sum()
    assert rates["rate_5xx"] == pytest.approx((status >= 500).mean())


def test_error_rates_by_host(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    by_host = traffic.error_rates(traffic.minute_counts(rel), ["host"]).set_index("host")
    assert by_host["requests"].to_dict() == frame.groupby("host").size().to_dict()


def test_status_mix_sums_to_requests(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    mix = traffic.status_mix(traffic.minute_counts(rel), 5)
    assert (mix[["s2xx", "s3xx", "s4xx", "s5xx", "other"]].sum(axis=1) == mix["requests"]).all()
    burst = mix[(mix["bucket"] >= local(DAY, "14:10")) & (mix["bucket"] < local(DAY, "14:30"))]
    assert burst["s5xx"].sum() == 60 and len(burst) == 4


def test_latency_percentiles_match_numpy_linear_interpolation(
    frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation
) -> None:
    table = traffic.latency_percentiles(rel).set_index("route")
    frame = frame.assign(route=expected_route(frame))
    for route, group in frame.groupby("route"):
        values = group["response_time_ms"].to_numpy()
        assert table.loc[route, "p50"] == pytest.approx(np.percentile(values, 50))
        assert table.loc[route, "p95"] == pytest.approx(np.percentile(values, 95))
        assert table.loc[route, "p99"] == pytest.approx(np.percentile(values, 99))
    overall = traffic.latency_percentiles(rel, by=()).iloc[0]
    assert overall["p95"] == pytest.approx(np.percentile(frame["response_time_ms"], 95))


def test_route_summary_and_top_routes(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    summary = traffic.route_summary(rel)
    busiest = expected_route(frame).value_counts()
    assert traffic.top_routes(summary, "requests", 1)["route"].iloc[0] == busiest.index[0]
    assert traffic.top_routes(summary, "s5xx", 1)["route"].iloc[0] == "POST /api/orders"


def test_top_clients_shares(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    top = traffic.top_clients(rel, 50).set_index("client")
    attacker = top.loc["203.0.113.77"]
    assert attacker["requests"] == 600 and attacker["share_401"] == 1.0 and attacker["share_429"] == 0.0
    for client, group in frame.groupby("remote_addr"):
        assert top.loc[client, "share_4xx"] == pytest.approx(
            ((group["status"] >= 400) & (group["status"] < 500)).mean()
        )


def test_slowest_requests_are_the_slowest(frame: pd.DataFrame, rel: duckdb.DuckDBPyRelation) -> None:
    slow = traffic.slowest_requests(rel, 5)
    expected = np.sort(frame["response_time_ms"].to_numpy())[::-1][:5]
    assert slow["response_time_ms"].to_numpy() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("agent", "category"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 zgrab/0.x", "scanner"),
        ("python-requests/2.31.0", "library"),
        ("curl/8.5.0", "library"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "browser (mobile)",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "browser"),
        ("ShopApp/4.12.1 (Android 14; Pixel 8)", "app / other"),
        ("-", "none"),
    ],
)
def test_user_agent_categories(agent: str, category: str) -> None:
    df = pd.DataFrame({"user_agent": [agent], "remote_addr": ["1.2.3.4"], "status": [200]})
    assert traffic.user_agents(duckdb.connect().from_df(df))["category"].tolist() == [category]


def test_size_outliers_find_the_planted_dump(frame: pd.DataFrame) -> None:
    df = frame.copy()
    df.loc[df.index[100], "bytes"] = 50_000_000
    rel = traffic.with_route(duckdb.connect().from_df(df))
    outliers = traffic.size_outliers(rel, factor=20, min_bytes=1_000_000)
    assert outliers["bytes"].tolist() == [50_000_000]
    assert outliers["median_bytes"].iloc[0] == 900


def test_auth_failure_burst_window(rel: duckdb.DuckDBPyRelation) -> None:
    bursts = abuse.auth_failure_bursts(rel, window_minutes=5, min_failures=30)
    assert bursts["client"].tolist() == ["203.0.113.77"]
    row = bursts.iloc[0]
    assert row["start"] == local(DAY, "03:12")
    assert row["end"] == local(DAY, "03:27")
    assert row["failures"] == 600 and row["s429"] == 0
    assert row["peak_window"] == 5 * 40
    assert list(row["routes"]) == ["POST /api/auth/login"]


def test_auth_failures_below_threshold_are_not_bursts(rel: duckdb.DuckDBPyRelation) -> None:
    assert abuse.auth_failure_bursts(rel, window_minutes=5, min_failures=201).empty


def test_scanner_clients(frame: pd.DataFrame) -> None:
    probes = client_burst(local(DAY, "05:00"), 2, 5, "45.155.205.10", status=404, path="/.env")
    exposed = client_burst(local(DAY, "06:00"), 1, 1, "45.155.205.11", status=200, path="/.git/config")
    df = pd.concat([frame, probes, exposed], ignore_index=True)
    rel = traffic.with_route(duckdb.connect().from_df(df))
    found = abuse.scanner_clients(rel, [r"/\.env", r"/\.git"]).set_index("client")
    assert found.loc["45.155.205.10", "requests"] == 10 and found.loc["45.155.205.10", "answered"] == 0
    assert found.loc["45.155.205.11", "answered"] == 1
    assert list(found.loc["45.155.205.11", "answered_paths"]) == ["/.git/config"]
    # the planted 404s on real routes are not scanning
    assert set(found.index) == {"45.155.205.10", "45.155.205.11"}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (f"/api/users/me?access_token={JWT}", "jwt"),
        ("/api/pay?key=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "api key"),
        ("/api/pay?card=4111111111111111&cvc=1", "card number"),
        ("/api/pay?card=4111-1111-1111-1111", "card number"),
        ("/api/pay?card=4111+1111+1111+1111", "card number"),  # a form's spaces, URL-encoded
        ("/api/pay?card=5555%205555%205555%204444&x=1", "card number"),
        ("/api/pay?amex=3782-822463-10005", "card number"),  # Amex 4-6-5
        ("/api/pay?payment=%7B%22pan%22%3A%224111111111111111%22%7D", "card number"),  # URL-encoded JSON
        ("/api/pay?x%3D4111111111111111", "card number"),  # after an encoded '='
        ("/api/pay?id=%2F4111111111111112", None),  # after an escape, still Luhn-checked
        ("/api/exports/20260310123456", None),  # a date-time, Luhn-valid by chance: no card starts with 20
        ("/api/pay?diners=30569309025904", "card number"),  # 14 digits, Diners
        ("/api/pay?mc=2221000000000009", "card number"),  # Mastercard's 2-series
        ("/api/search?q=2026+03+10+12+00+00+1", None),  # Luhn-valid by chance, not card-grouped
        ("/api/login?password=hunter2", "credential parameter"),
        ("/api/pay?card=4111111111111112", None),  # fails Luhn
        ("/api/orders/65a1234567890123456789ab", None),  # an ObjectId holds a 19-digit run
        ("/api/items?t=1732400000000", None),  # epoch milliseconds
        ("/api/search?q=shoes", None),
    ],
)
def test_sensitive_urls_are_found_and_masked(url: str, kind: str | None) -> None:
    df = pd.DataFrame(
        {
            "ts": [pd.Timestamp("2026-11-23T10:00:00Z")],
            "remote_addr": ["1.2.3.4"],
            "method": ["GET"],
            "path": [url.split("?")[0]],
            "url": [url],
        }
    )
    found = sensitive.sensitive_in_urls(duckdb.connect().from_df(df))
    assert found["kind"].tolist() == ([kind] if kind else [])
    if kind:
        sample = found["samples"].iloc[0][0]
        secrets = [JWT, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4111111111111111", "4111-1111-1111-1111", "hunter2"]
        secrets += ["4111+1111+1111+1111", "5555%205555%205555", "822463"]
        for secret in secrets:
            assert secret not in sample
        assert sensitive.mask_sensitive(url) != url
    else:
        assert sensitive.mask_sensitive(url) == url


def test_luhn() -> None:
    assert sensitive.luhn_valid("4111111111111111")
    assert sensitive.luhn_valid("378282246310005")
    assert not sensitive.luhn_valid("4111111111111112")


def test_rates_against_baseline() -> None:
    cols = ["requests", "s2xx", "s3xx", "s4xx", "s5xx", "s401", "s403", "s404", "s429"]
    # two minutes today, one row of baseline; 4xx = 401 + 403 + 404 + 429 + others
    today = pd.DataFrame([[500, 430, 0, 50, 20, 5, 0, 30, 10], [500, 450, 0, 40, 10, 5, 0, 30, 0]], columns=cols)
    base = pd.DataFrame([[4000, 3700, 0, 288, 12, 40, 0, 240, 0]], columns=cols)
    table = traffic.rates_against_baseline(today, base).set_index("status")
    assert table.loc["5xx", "count"] == 30 and table.loc["5xx", "rate"] == pytest.approx(0.03)
    assert table.loc["5xx", "base_rate"] == pytest.approx(0.003)
    assert table.loc["5xx", "ratio"] == pytest.approx(10.0)
    assert table.loc["5xx", "p_higher"] < 1e-6  # 30 where 3 were expected
    assert table.loc["404", "ratio"] == pytest.approx(1.0) and table.loc["404", "p_higher"] > 0.3
    assert table.loc["429", "count"] == 10 and table.loc["429", "ratio"] == np.inf
    empty = traffic.rates_against_baseline(today, pd.DataFrame(columns=cols))
    assert empty["base_rate"].isna().all() and list(empty["count"]) == [30, 90, 10, 0, 60, 10]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("login failed password=hunter2 for ann", "login failed password=*** for ann"),
        ("{ user: 'ann', password: 'hunter2' }", "{ user: 'ann', password: *** }"),  # util.inspect
        ('password="hunter2" user=ann', "password=*** user=ann"),  # logfmt
        ("DB_PASSWORD=hunter2 host=db", "DB_PASSWORD=*** host=db"),  # a prefixed name
        ('{"db_password": "hunter2", "a": 1}', '{"db_password": "***", "a": 1}'),
        ('{"token": 123456789}', '{"token": "***"}'),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: *** ***"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: *** ***"),
        ("token expired for author=bob, passenger=3", "token expired for author=bob, passenger=3"),
    ],
)
def test_credentials_in_free_text_are_masked_alike_in_python_and_sql(text: str, masked: str) -> None:
    assert sensitive.mask_sensitive(text) == masked
    sql = sensitive.mask_sensitive_sql("x")
    assert duckdb.connect().execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS x)", [text]).fetchone() == (masked,)


def test_card_detection_agrees_between_python_and_sql() -> None:
    """Issuer prefix + Luhn, over random 13-19 digit numbers starting like cards of real issuers
    or like dates (about a tenth pass Luhn by chance): the SQL finder and the Python masker take
    exactly the same ones."""
    rng = np.random.default_rng(5)
    numbers = []
    for _ in range(1500):
        n = int(rng.integers(13, 20))
        digits = str(rng.choice(["4", "51", "2221", "34", "36", "6011", "35", "62", "20", "19"])) + "".join(
            str(d) for d in rng.integers(0, 10, size=n)
        )
        numbers.append(digits[:n])
    con = duckdb.connect()
    found = con.execute(
        f"SELECT x, {sensitive._card_numbers_sql('u')} FROM (SELECT unnest(?) AS x) t, LATERAL (SELECT '/p?c=' || x AS u)",
        [numbers],
    ).fetchall()
    for digits, cards in found:
        python = sensitive.card_issuer_plausible(digits) and sensitive.luhn_valid(digits)
        assert (cards == [digits]) is python, digits
        assert ("***" in sensitive.mask_sensitive(f"/p?c={digits}")) is python, digits
    assert 50 < sum(bool(cards) for _, cards in found) < 400
