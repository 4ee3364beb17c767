"""`opsreview logs summary`: JSON shape, counts, percentiles (numpy's linear interpolation),
time window, formats without response time, bad input and usage errors."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from opsreview.cli import main
from opsreview.logs.access.quicklook import summarize_access_logs

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
T0 = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)


def clf(ts: dt.datetime) -> str:
    return f"{ts.day:02d}/{MONTHS[ts.month - 1]}/{ts.year}:{ts:%H:%M:%S} +0000"


def make_traffic(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    routes = [
        ("GET", "/api/products/{}", "/api/products/:id"),
        ("GET", "/api/orders/{oid}", "/api/orders/:id"),
        ("POST", "/api/login", "/api/login"),
        ("GET", "/health", "/health"),
    ]
    out = []
    for i in range(n):
        method, url, route = rng.choice(routes)
        url = url.format(rng.randint(1, 999), oid=f"{rng.getrandbits(96):024x}")
        if rng.random() < 0.3:
            url += f"?page={rng.randint(1, 5)}"
        status = rng.choice([200, 200, 200, 201, 401, 404, 429, 500, 503])
        out.append(
            {
                "ts": T0 + dt.timedelta(seconds=7 * i),
                "method": method,
                "url": url,
                "route": f"{method} {route}",  # a route is method + template
                "status": status,
                "rt": round(rng.uniform(0.2, 900), 3),
            }
        )
    return out


def write_log(path: Path, traffic: list[dict]) -> Path:
    lines = [
        f'127.0.0.1 - - [{clf(t["ts"])}] "{t["method"]} {t["url"]} HTTP/1.1" {t["status"]} 42 "-" "test" '
        f"{t['rt']:.3f} ms"
        for t in traffic
    ]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["logs", "summary", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_matches_the_traffic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = make_traffic(1500)
    write_log(tmp_path / "a.log", traffic[:700])
    write_log(tmp_path / "b.log.gz", traffic[700:])
    code, out, _ = run_cli([str(tmp_path), "--format", "combined_rt", "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert set(summary) >= {
        "files",
        "total_lines",
        "parsed",
        "unparsed",
        "by_status",
        "by_method",
        "routes",
        "time_range",
    }
    assert [(Path(f["path"]).name, f["lines"], f["parsed"], f["unparsed"], f["error"]) for f in summary["files"]] == [
        ("a.log", 700, 700, 0, None),
        ("b.log.gz", 800, 800, 0, None),
    ]
    assert (summary["total_lines"], summary["parsed"], summary["unparsed"]) == (1500, 1500, 0)
    statuses: dict[str, int] = {}
    methods: dict[str, int] = {}
    for t in traffic:
        statuses[str(t["status"])] = statuses.get(str(t["status"]), 0) + 1
        methods[t["method"]] = methods.get(t["method"], 0) + 1
    assert summary["by_status"] == statuses
    assert summary["by_method"] == methods
    routes = {r["route"]: r for r in summary["routes"]}
    assert set(routes) == {t["route"] for t in traffic}
    counts = [r["count"] for r in summary["routes"]]
    assert counts == sorted(counts, reverse=True)
    for name, r in routes.items():
        mine = [t for t in traffic if t["route"] == name]
        rts = np.array([t["rt"] for t in mine])
        errors = sum(t["status"] >= 500 for t in mine)
        assert (r["count"], r["errors_5xx"]) == (len(mine), errors)
        assert r["error_rate"] == pytest.approx(errors / len(mine))
        for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
            assert r[key] == pytest.approx(np.percentile(rts, q), abs=1e-3)
    assert summary["time_range"] == {
        "first": T0.isoformat(),
        "last": (T0 + dt.timedelta(seconds=7 * 1499)).isoformat(),
    }


def test_window_and_timezone(tmp_path: Path) -> None:
    traffic = make_traffic(600)
    write_log(tmp_path / "a.log", traffic)
    # naive times are Berlin local; clocks jumped from 02:00 to 03:00 that night, so this
    # hour is already CEST (UTC+2): 01:00-02:00 UTC
    since = dt.datetime(2026, 3, 29, 3, 0)
    until = dt.datetime(2026, 3, 29, 4, 0)
    summary = summarize_access_logs([tmp_path / "a.log"], "combined_rt", since=since, until=until, tz="Europe/Berlin")
    start_utc = since.replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))
    end_utc = until.replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))
    expected = [t for t in traffic if start_utc <= t["ts"] < end_utc]
    assert sum(r["count"] for r in summary["routes"]) == len(expected) > 0
    assert summary["total_lines"] == 600  # whole files
    assert summary["time_range"]["first"].endswith("+02:00")


def test_format_without_response_time_gives_null_percentiles(tmp_path: Path) -> None:
    path = tmp_path / "common.log"
    path.write_text(
        f'1.1.1.1 - - [{clf(T0)}] "GET /a/1 HTTP/1.1" 200 5\n1.1.1.1 - - [{clf(T0)}] "GET /a/2 HTTP/1.1" 502 -\n'
    )
    summary = summarize_access_logs([path], "common")
    assert summary["routes"] == [
        {
            "route": "GET /a/:id",
            "method": "GET",
            "template": "/a/:id",
            "count": 2,
            "errors_5xx": 1,
            "error_rate": 0.5,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
        }
    ]


def test_explicit_routes_and_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.log"
    path.write_text("GET /api/users/alice/orders 200 5 - 1.000 ms\nGET /api/users/bob/orders 500 5 - 3.000 ms\n")
    code, out, _ = run_cli([str(path), "--format", "tiny", "--route", "/api/users/:user/orders"], capsys)
    assert code == 0
    assert "/api/users/:user/orders" in out and "2 lines, 2 parsed, 0 unparsed" in out


def test_bad_input_is_reported_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_log(tmp_path / "good.log", make_traffic(10))
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\xff\xfe garbage\nnot a log line\n")
    code, out, err = run_cli(
        [str(good), str(junk), str(tmp_path / "missing.log"), "--format", "combined_rt", "--json"], capsys
    )
    assert code == 3
    summary = json.loads(out)
    by_name = {Path(f["path"]).name: f for f in summary["files"]}
    assert (by_name["junk.log"]["lines"], by_name["junk.log"]["unparsed"]) == (2, 2)
    assert "no such file" in by_name["missing.log"]["error"]
    assert summary["parsed"] == 10
    assert "missing.log" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", ":date[local]"], "--format"),
        (["--since", "yesterday"], "--since 'yesterday'"),
        (["--tz", "Mars/Base"], "--tz"),
        (["--route", "no-slash"], "--route"),
        (["--format", "tiny", "--since", "2026-03-29"], "logs no date"),
        (["--field", "status=res.code"], "only for --format json"),
        (["--format", "json", "--field", "colour=x"], "unknown column 'colour'"),
        (["--format", "json", "--field", "status"], "expected COLUMN=JSON.PATH"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, _, err = run_cli([str(tmp_path), *args], capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_json_field_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--field maps a JSON log's own names (here a made-up logger) onto the summary's columns."""
    lines = [
        {"t": f"2026-03-29T10:00:0{i}Z", "r": {"m": m, "u": f"/api/items/{i}?q=1"}, "s": {"c": c}, "ms": ms}
        for i, (m, c, ms) in enumerate([("GET", 200, 10.0), ("GET", 503, 30.0), ("POST", 201, 20.0)])
    ]
    path = tmp_path / "custom.json"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    fields = ["ts=t", "method=r.m", "url=r.u", "status=s.c", "response_time_ms=ms"]
    code, out, _ = run_cli([str(path), "--format", "json", "--json", *(f"--field={f}" for f in fields)], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["parsed"] == 3
    assert summary["by_status"] == {"200": 1, "201": 1, "503": 1}
    assert summary["by_method"] == {"GET": 2, "POST": 1}
    got = [(r["route"], r["count"], r["errors_5xx"], r["p50_ms"]) for r in summary["routes"]]
    assert got == [("GET /api/items/:id", 2, 1, 20.0), ("POST /api/items/:id", 1, 0, 20.0)]
    assert summary["time_range"]["first"] == "2026-03-29T10:00:00+00:00"


def test_url_dash_is_a_route_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """morgan logs "-" for a missing url: counted under route "-", text output does not crash."""
    path = tmp_path / "tiny.log"
    path.write_text("GET /a 200 5 - 1.000 ms\nGET - 200 5 - 2.000 ms\n", encoding="utf-8")
    code, out, _ = run_cli([str(path), "--format", "tiny"], capsys)
    assert code == 0
    rows = {" ".join(line.split()[:2]): line.split()[2] for line in out.splitlines()[-2:]}
    assert rows == {"GET /a": "1", "GET -": "1"}


def test_gzip_is_told_by_content_not_name(tmp_path: Path) -> None:
    """logrotate's delaycompress leaves gzip in access.log.1; a plain file may be named .gz."""
    traffic = make_traffic(300)
    gz = write_log(tmp_path / "a.gz", traffic[:200])
    (tmp_path / "access.log.1").write_bytes(gz.read_bytes())
    gz.unlink()
    write_log(tmp_path / "plain.log", traffic[200:]).rename(tmp_path / "b.log.gz")
    summary = summarize_access_logs([tmp_path], fmt="combined_rt")
    per_file = {Path(f["path"]).name: (f["lines"], f["parsed"]) for f in summary["files"]}
    assert per_file == {"access.log.1": (200, 200), "b.log.gz": (100, 100)}
    assert summary["requests"] == 300


def test_json_lines_that_are_not_requests_are_counted_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pino-http logs share a file with the app's own lines ("server started"): those are
    neither requests nor unparseable, and the line count still adds up to the file's."""
    path = tmp_path / "api.jsonl"
    lines = [{"level": 30, "time": 1774778400000, "msg": "server started", "port": 3000}]
    lines += [
        {"level": 30, "time": 1774778401000 + i, "req": {"method": "GET", "url": f"/a/{i}"}, "res": {"statusCode": 200}}
        | {"responseTime": 3}
        for i in range(4)
    ]
    lines += [{"level": 40, "time": 1774778409000, "msg": "slow event loop"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{broken\n", encoding="utf-8")
    code, out, _ = run_cli([str(path), "--format", "json", "--json"], capsys)
    summary = json.loads(out)
    assert code == 0
    assert (summary["total_lines"], summary["parsed"], summary["unparsed"], summary["non_requests"]) == (7, 4, 1, 2)
    (entry,) = summary["files"]
    assert (entry["lines"], entry["non_requests"]) == (7, 2)
    code, out, _ = run_cli([str(path), "--format", "json"], capsys)
    assert "7 lines, 4 parsed, 1 unparsed, 2 not requests" in out


def test_tokens_in_paths_are_masked_in_routes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A token in a path segment (a reset link, a key in the URL) is no route name: the summary
    masks it, in text and JSON, as the review does."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWRlbW8"
    path = tmp_path / "tiny.log"
    path.write_text(
        f"GET /api/reset/{jwt} 200 5 - 1.000 ms\nGET /api/keys/sk_live_abcdefghijklmnopqrstuv 403 5 - 2.000 ms\n",
        encoding="utf-8",
    )
    for extra in ([], ["--json"]):
        code, out, _ = run_cli([str(path), "--format", "tiny", *extra], capsys)
        assert code == 0 and jwt not in out and "abcdefghijklmnopqrstuv" not in out
        assert "/api/reset/***JWT***" in out
