"""Log findings end to end: a synthetic store with planted incidents, the review sections, the notebooks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.context import open_review
from opsreview.findings import Finding, Severity
from opsreview.logs.access import findings as logfindings
from opsreview.logs.access.findings import sensitive_url_findings
from opsreview.logs.access.review import AccessLogReview
from opsreview.logs.app.findings import error_fingerprint_findings
from opsreview.logs.app.review import AppErrorReview
from opsreview.logs.health import gap_findings, unparsed_findings
from opsreview.logs.thresholds import LogThresholds
from opsreview.store import Store
from tests.synthetic_logs import TZ, client_burst, local, plant_status, requests_day

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.datetime.now(ZoneInfo(TZ)).date() - dt.timedelta(days=2)
BASE_DAYS = [DAY - dt.timedelta(days=i) for i in range(7, 0, -1)]
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTFmMDAwMDAwMDAwMDAwMDAwMDAwMDEifQ.c2lnbmF0dXJl"


def app_events(day: dt.date, new_error: bool) -> pd.DataFrame:
    rows = []
    for hour in range(0, 24):
        ts = local(day, f"{hour:02d}:30")
        rows.append((ts, "api-1", "warn", "jwt expired", None, "TokenExpiredError"))
        rows.append((ts, "api-1", "info", "order created", None, None))
    if new_error:
        start = local(day, "14:10")
        for i in range(40):
            rows.append(
                (
                    start + pd.Timedelta(seconds=30 * i),
                    "api-1",
                    "error",
                    f"connection {i} to 10.0.3.21:27017 timed out",
                    f"MongoNetworkTimeoutError: connection {i} timed out\n    at createOrder (/app/src/orders.js:112:17)",
                    "MongoNetworkTimeoutError",
                )
            )
    df = pd.DataFrame(rows, columns=["ts", "host", "level", "message", "stack", "error_type"])
    df["ts"] = df["ts"].astype("datetime64[us, UTC]")
    return df.assign(fingerprint=None, extra=None, source_file="/logs/app.log")


def write_store(root: Path, plant: bool) -> None:
    store = Store(root)
    for i, day in enumerate(BASE_DAYS):
        store.write_part("requests", day, "p", requests_day(day, seed=i, hosts=("api-1", "api-2")))
        store.write_part("app_events", day, "p", app_events(day, new_error=False))
    today = requests_day(DAY, seed=99, hosts=("api-1", "api-2"))
    if plant:
        today = plant_status(today, "POST /api/orders", local(DAY, "14:10"), 20, 500)
        slow = today["path"].str.startswith("/api/products/") & (today["ts"] >= local(DAY, "09:30"))
        today.loc[slow, "response_time_ms"] *= 4
        today = today[
            ~((today["host"] == "api-2") & (today["ts"] >= local(DAY, "12:00")) & (today["ts"] < local(DAY, "12:30")))
        ]
        leak = today.iloc[:3].copy()
        leak["url"] = "/api/users/me?access_token=" + JWT
        leak["path"], leak["method"] = "/api/users/me", "GET"
        today = pd.concat([today, client_burst(local(DAY, "03:12"), 15, 120, "203.0.113.77"), leak])
    store.write_part("requests", DAY, "p", today.sort_values("ts").reset_index(drop=True))
    store.write_part("app_events", DAY, "p", app_events(DAY, new_error=plant))
    files = pd.DataFrame(
        {
            "path": ["/logs/access.log", "/logs/app.log"],
            "host": ["api-1", "api-1"],
            "day": [DAY, DAY],
            "lines": [1000, 500],
            "parsed": [800 if plant else 1000, 500],
            "unparsed": [200 if plant else 0, 0],
            "samples": [[f"garbage ?token={JWT}"] if plant else [], []],
            "error": [None, None],
            "kind": ["access", "app"],
        }
    )
    store.write_part("log_files", DAY, "p", files)


def params_file(tmp_path: Path, plant: bool) -> Path:
    write_store(tmp_path / "store", plant)
    path = tmp_path / "params.yaml"
    path.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: 7\n"
        "logs:\n  access:\n    - {host: api-1, paths: [x]}\n    - {host: api-2, paths: [x]}\n"
        "  app:\n    - {host: api-1, paths: [x]}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return params_file(tmp_path_factory.mktemp("planted"), plant=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return params_file(tmp_path_factory.mktemp("clean"), plant=False)


def run_all(params: Path) -> list[Finding]:
    review = open_review(params, DAY)
    logs = AccessLogReview(review)
    for name in ("volume", "status", "latency", "routes", "clients", "agents", "outliers", "secrets", "ingest"):
        getattr(logs, name)()
    errors = AppErrorReview(review)
    for name in ("overview", "fingerprints", "ingest"):
        getattr(errors, name)()
    return logs.findings + errors.findings


@pytest.fixture(scope="module")
def planted_findings(planted: Path) -> list[Finding]:
    return run_all(planted)


def only(findings: list[Finding], check: str) -> Finding:
    matching = [f for f in findings if f.check == check]
    assert len(matching) == 1, [f.title for f in findings]
    return matching[0]


def test_clean_day_has_no_warning_or_worse(clean: Path) -> None:
    findings = run_all(clean)
    assert [f.title for f in findings if f.severity >= Severity.warning] == []


def test_5xx_burst_with_its_window(planted_findings: list[Finding]) -> None:
    burst = only(planted_findings, "logs.5xx_burst")
    assert burst.severity is Severity.critical
    assert "POST /api/orders" in burst.title
    window = burst.evidence["window"]
    assert window["start"] == local(DAY, "14:10").tz_convert(TZ).isoformat()
    assert window["end"] == local(DAY, "14:30").tz_convert(TZ).isoformat()
    assert burst.evidence["5xx"] == burst.evidence["requests"] == 60  # 3 orders a minute, all failed
    assert len(burst.evidence["samples"]) == 3 and all(" 500 " in s for s in burst.evidence["samples"])
    # sample lines read in the window's clock: local time inside the window
    for sample in burst.evidence["samples"]:
        stamp = pd.Timestamp(sample.split(" ")[0])
        assert stamp.utcoffset() == local(DAY, "14:10").tz_convert(TZ).utcoffset()
        assert local(DAY, "14:10") <= stamp < local(DAY, "14:30")
    assert burst.checklist == ("Monitor error rates",)


def test_latency_regression_on_the_planted_route_only(planted_findings: list[Finding]) -> None:
    regression = only(planted_findings, "logs.p95_regression")
    assert regression.severity is Severity.critical
    assert regression.evidence["route"] == "GET /api/products/:id"
    assert regression.value >= 3.0
    assert regression.evidence["slow_hours"].startswith("09:00")
    samples = regression.evidence["samples"]  # the route's slowest requests, slowest first
    assert len(samples) == 3 and all(" /api/products/" in s for s in samples)
    times = [float(s.rsplit(" ", 1)[1]) for s in samples]
    assert times == sorted(times, reverse=True) and times[0] >= regression.evidence["p99_ms"]


def test_credential_stuffing_client(planted_findings: list[Finding]) -> None:
    burst = only(planted_findings, "logs.auth_failure_burst")
    assert burst.evidence["client"] == "203.0.113.77"
    assert burst.evidence["401"] == 1800 and burst.evidence["429"] == 0
    assert burst.evidence["window"]["start"] == local(DAY, "03:12").tz_convert(TZ).isoformat()
    assert "Rate limiting implemented" in burst.checklist
    samples = burst.evidence["samples"]  # the burst's first failed requests, in local time
    assert len(samples) == 3 and all(" 203.0.113.77 " in s and " 401 " in s for s in samples)
    assert pd.Timestamp(samples[0].split(" ")[0]) == local(DAY, "03:12")


def test_gap_on_the_silent_host(planted_findings: list[Finding]) -> None:
    gap = only(planted_findings, "logs.gap")
    assert gap.evidence["host"] == "api-2" and gap.value == 30


def test_jwt_in_urls_is_found_and_masked_everywhere(planted_findings: list[Finding]) -> None:
    leak = only(planted_findings, "logs.secret_in_url")
    assert leak.severity is Severity.critical and "GET /api/users/me" in leak.title
    dumped = json.dumps([f.to_dict() for f in planted_findings], default=str)
    assert JWT not in dumped and JWT[:40] not in dumped


def test_unparsed_ratio_from_log_files(planted_findings: list[Finding]) -> None:
    unparsed = only(planted_findings, "logs.unparsed")
    assert unparsed.severity is Severity.critical and unparsed.value == pytest.approx(0.2)


def test_new_error_fingerprint(planted_findings: list[Finding]) -> None:
    new = only(planted_findings, "errors.new_fingerprint")
    assert new.severity is Severity.critical  # 40 >= new_error_critical_count
    assert "MongoNetworkTimeoutError" in new.title and new.value == 40
    assert new.evidence["frame"] == "createOrder (/app/src/orders.js)"


def test_every_finding_is_json_and_has_a_checklist(planted_findings: list[Finding]) -> None:
    for finding in planted_findings:
        json.dumps(finding.to_dict())
        assert finding.check.startswith(("logs.", "errors."))
        if finding.severity >= Severity.warning:
            assert finding.checklist, finding.check


def test_thresholds_are_honoured(planted: Path) -> None:
    review = open_review(planted, DAY)
    logs = AccessLogReview(review)
    lenient = LogThresholds(auth_failures_per_client=5000, auth_failures_critical=6000)
    logs.th = lenient
    assert not logs.clients().findings
    logs.th = LogThresholds(auth_failures_per_client=10, auth_failures_critical=5000)
    assert [f.severity for f in logs.clients().findings] == [Severity.warning]


def test_threshold_order_is_validated() -> None:
    with pytest.raises(ValueError, match="p95_warning_ms must not exceed p95_critical_ms"):
        LogThresholds(p95_warning_ms=5000, p95_critical_ms=1000)
    with pytest.raises(ValueError, match="not a regex"):
        LogThresholds(scanner_patterns=("(",))


def test_missing_data_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    path = tmp_path / "params.yaml"
    path.write_text(
        f"environment: t\ntimezone: {TZ}\nstore: store\noutputs: out\n"
        "logs:\n  access:\n    - {host: api-1, paths: [x]}\n  app:\n    - {host: api-1, paths: [x]}\n",
        encoding="utf-8",
    )
    findings = run_all(path)
    assert sorted(f.check for f in findings) == ["errors.no_data", "logs.no_data"]


def test_unit_findings_from_small_tables() -> None:
    th = LogThresholds()
    files = pd.DataFrame(
        [
            {
                "path": "/l/a.log.gz",
                "host": "h",
                "lines": 10,
                "unparsed": 0,
                "samples": [],
                "error": "corrupt gzip data at byte 7",
                "kind": "app",
            },
            {
                "path": "/l/b.log",
                "host": "h",
                "lines": 1000,
                "unparsed": 5,
                "samples": ["x"],
                "error": None,
                "kind": "app",
            },
        ]
    )
    found = unparsed_findings(files, th, "app")
    assert [(f.check, f.severity) for f in found] == [("errors.file_error", Severity.warning)]
    urls = pd.DataFrame(
        [
            {
                "kind": "credential parameter",
                "route": "GET /login",
                "requests": 2,
                "clients": 1,
                "first": pd.Timestamp("2026-01-01T10:00Z"),
                "last": pd.Timestamp("2026-01-01T11:00Z"),
                "samples": ["/login?password=***"],
            }
        ]
    )
    assert [f.severity for f in sensitive_url_findings(urls, TZ)] == [Severity.warning]
    fps = pd.DataFrame(
        [
            {
                "fingerprint": "a",
                "level": "warn",
                "count": 3,
                "error_type": None,
                "pattern": "slow",
                "new": True,
                "first_seen": pd.Timestamp("2026-01-01T10:00Z"),
                "last_seen": pd.Timestamp("2026-01-01T10:00Z"),
                "hosts": ["h"],
                "example": "slow",
                "frame": None,
                "stack_head": None,
                "ratio": 0,
                "p_value": 1,
                "baseline_per_day": 0,
            },
        ]
    )
    found = error_fingerprint_findings(fps, th, TZ, has_history=True)
    assert [(f.check, f.severity) for f in found] == [("errors.new_fingerprint", Severity.info)]
    assert error_fingerprint_findings(fps, th, TZ, has_history=False) == []


@pytest.mark.parametrize("notebook", ["logs", "errors"])
def test_notebook_executes_and_emits_its_findings(planted: Path, tmp_path: Path, notebook: str) -> None:
    import papermill

    out = tmp_path / f"{notebook}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{notebook}.ipynb"),
        str(out),
        parameters={"params_path": str(planted), "review_date": DAY.isoformat()},
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
        kernel_name="python3",
    )
    nb: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    emitted = [
        o["data"]["application/vnd.opsreview.findings+json"]
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "application/vnd.opsreview.findings+json" in o.get("data", {})
    ]
    assert len(emitted) == 1, "exactly one cell emits the notebook's findings"
    checks = {f["check"] for f in emitted[0]}
    expected = (
        {"logs.5xx_burst", "logs.p95_regression", "logs.auth_failure_burst"}
        if notebook == "logs"
        else {"errors.new_fingerprint"}
    )
    assert expected <= checks
    assert JWT[:40] not in out.read_text(encoding="utf-8")


def test_dateless_format_reviews_without_time_of_day(tmp_path: Path) -> None:
    """tiny/short/dev lines carry no date: rows have no ts, yet with earlier days in the store
    every section runs (baseline = whole days), no gap is invented and 5xx still counts."""
    store = Store(tmp_path / "store")
    for i, day in enumerate([*BASE_DAYS, DAY]):
        rows = requests_day(day, seed=i, hosts=("api-1",)).head(2000)
        if day == DAY:
            rows = rows.assign(status=rows["status"].where(rows.index % 4 != 0, 503))
            rows = rows.assign(response_time_ms=rows["response_time_ms"] * 60)  # every route much slower
        store.write_part(
            "requests", day, "p", rows.assign(ts=pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us, UTC]"))
        )
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: 7\n"
        "logs:\n  access:\n    - {host: api-1, paths: [x], format: tiny}\n",
        encoding="utf-8",
    )
    review = open_review(params, DAY)
    logs = AccessLogReview(review)
    for name in ("volume", "status", "latency", "routes", "clients", "agents", "outliers", "secrets", "ingest"):
        getattr(logs, name)()
    checks = {f.check for f in logs.findings}
    assert "logs.5xx_rate" in checks
    assert not checks & {"logs.gap", "logs.volume_drop"}, [f.title for f in logs.findings]
    # rows without a time have no hour: each route's latency is judged once, on the whole day
    latency = [(f.check, f.evidence["route"]) for f in logs.findings if f.check.startswith("logs.p95")]
    assert latency and len(latency) == len(set(latency))
    regressions = [f for f in logs.findings if f.check == "logs.p95_regression"]
    assert regressions and all(0 <= f.evidence["share_above_baseline_p95"] <= 1 for f in regressions)


def test_gap_without_a_baseline_is_a_warning_that_says_so() -> None:
    """With no earlier days the expectation is the day's mean rate: a quiet night looks like an
    outage, so a long gap is a warning, not critical, until a baseline exists."""
    start = pd.Timestamp("2026-11-23T01:00:00Z")
    gaps = pd.DataFrame(
        [{"host": "api-1", "start": start, "end": start + pd.Timedelta(minutes=90), "minutes": 90, "expected": 400.0}]
    )
    th = LogThresholds()
    (with_base,) = gap_findings(gaps, th, TZ)
    (without,) = gap_findings(gaps, th, TZ, has_baseline=False)
    assert with_base.severity is Severity.critical and without.severity is Severity.warning
    assert "no baseline" in without.evidence["expected_from"]


def test_every_section_has_a_chart_and_a_table(planted: Path) -> None:
    logs = AccessLogReview(open_review(planted, DAY))
    sections = {
        name: getattr(logs, name)()
        for name in ("volume", "status", "latency", "routes", "clients", "agents", "outliers", "secrets", "ingest")
    }
    for name, section in sections.items():
        assert section.figures and section.tables, name
    outliers = sections["outliers"]
    slowest = dict(outliers.tables)["Slowest requests"]
    plotted = outliers.figures[0].data[0]
    assert sorted(plotted.y) == sorted(slowest["response_time_ms"])
    secrets = sections["secrets"]
    found = dict(secrets.tables)["Sensitive values in logged URLs (masked)"]
    assert sum(sum(bar.y) for bar in secrets.figures[0].data) == found["requests"].sum() > 0


@pytest.mark.parametrize("plant", [True, False])
def test_request_bursts_against_the_baseline(tmp_path: Path, plant: bool) -> None:
    """The planted credential stuffing (1800 requests 03:12-03:27 at night) is a request burst;
    a clean day's traffic, which follows the baseline, has none."""
    logs = AccessLogReview(open_review(params_file(tmp_path, plant=plant), DAY))
    tables = dict(logs.volume().tables)
    if not plant:
        assert "Request bursts above the baseline" not in tables
        return
    (burst,) = tables["Request bursts above the baseline"].to_dict("records")
    assert (burst["start"], burst["end"]) == (f"{DAY} 03:12:00", f"{DAY} 03:27:00")  # local time
    assert burst["magnitude"] >= LogThresholds().volume_burst_ratio and burst["observed"] >= 1800


def test_404_burst_against_the_baseline(tmp_path: Path) -> None:
    """A route answering 404 for 20 minutes (a bad deploy, a removed endpoint) is a 404 burst."""
    params = params_file(tmp_path, plant=False)
    store = Store(tmp_path / "store")
    today = store.read("requests", [DAY])
    store.write_part("requests", DAY, "p", plant_status(today, "POST /api/orders", local(DAY, "16:00"), 20, 404))
    tables = dict(AccessLogReview(open_review(params, DAY)).status().tables)
    (burst,) = tables["404 bursts above the baseline"].to_dict("records")
    assert f"{DAY} 16:00:00" <= burst["start"] < f"{DAY} 16:05:00"
    assert f"{DAY} 16:15:00" < burst["end"] <= f"{DAY} 16:20:00"
    assert burst["observed"] >= 45 and burst["magnitude"] > 10


def test_scanner_findings_carry_window_and_sample_probes(tmp_path: Path) -> None:
    """Each scanner finding shows its probes: an exposure the probes answered 2xx, the quiet
    (info) one the window and first probes of all its clients."""
    params = params_file(tmp_path, plant=False)
    store = Store(tmp_path / "store")
    today = store.read("requests", [DAY])
    probes = []
    for client, start, paths, status in (
        ("198.51.100.9", "02:10", ["/.env", "/.git/config", "/wp-admin/"], [404, 404, 404]),
        ("198.51.100.23", "05:40", ["/.git/HEAD", "/.env", "/wp-login.php"], [404, 200, 404]),
    ):
        rows = today.iloc[: len(paths)].copy()
        rows["remote_addr"], rows["path"], rows["url"], rows["status"] = client, paths, paths, status
        rows["method"] = "GET"
        rows["ts"] = [local(DAY, start) + pd.Timedelta(seconds=7 * i) for i in range(len(paths))]
        probes.append(rows[today.columns])
    store.write_part("requests", DAY, "p", pd.concat([today, *probes]).sort_values("ts").reset_index(drop=True))
    logs = AccessLogReview(open_review(params, DAY))
    logs.agents()
    exposure = only(logs.findings, "logs.scanner_exposure")
    assert exposure.evidence["client"] == "198.51.100.23"
    (sample,) = exposure.evidence["samples"]  # only the probe that was answered
    assert f"{DAY}T05:40:07" in sample and "/.env" in sample and " 200 " in sample
    quiet = only(logs.findings, "logs.scanner")
    assert quiet.severity is Severity.info and quiet.evidence["clients"] == ["198.51.100.9"]
    assert quiet.evidence["window"]["start"].startswith(f"{DAY}T02:10:00")
    assert quiet.evidence["window"]["end"].startswith(f"{DAY}T02:10:14")
    assert [s.split(" GET ")[1].split(" ")[0] for s in quiet.evidence["samples"]] == [
        "/.env",
        "/.git/config",
        "/wp-admin/",
    ]


def test_p95_route_finding_names_the_hours_over_the_threshold() -> None:
    """An absolute p95 finding says when the route was slow: the local hours whose own p95 is
    over the warning threshold (hours with too few requests do not count), as separate ranges."""
    th = LogThresholds()
    route = "GET /api/search"
    comparison = pd.DataFrame(
        [{"route": route, "timed": 5000, "p50": 300.0, "p95": th.p95_critical_ms + 1, "p99": 9000.0, "base_p95": None}]
    )
    slow, quick = th.p95_warning_ms + 50, th.p95_warning_ms / 4
    profile = pd.DataFrame(
        [
            {"route": route, "hour": h, "timed": 3 if h == 3 else 200, "p95": slow if h in (3, 10, 11, 13) else quick}
            for h in range(24)
        ]
        + [{"route": route, "hour": -1, "timed": 5000, "p95": th.p95_critical_ms + 1}]
    )
    (finding,) = logfindings.latency_findings(comparison, profile.iloc[0:0], th, "Europe/Berlin hours", profile)
    assert finding.check == "logs.p95_route" and finding.severity is Severity.critical
    assert finding.evidence["hours_over_threshold"] == "10:00-12:00, 13:00-14:00 (Europe/Berlin hours)"
    (without,) = logfindings.latency_findings(comparison, profile.iloc[0:0], th)
    assert "hours_over_threshold" not in without.evidence


def test_one_finding_per_damaged_file_with_the_lines_it_cost() -> None:
    """A damaged file whose garbage also fails to parse is one finding (the damage, as severe
    as the unparsed share), not two; a file none of whose lines match names the format."""
    th = LogThresholds()
    error = "/l/access.log.1.gz: gzip checksum mismatch at byte 9000 (the member's end): ..."
    files = pd.DataFrame(
        [
            {
                "path": "/l/access.log.1.gz",
                "host": "h",
                "lines": 100,
                "parsed": 40,
                "unparsed": 60,
                "samples": ["\x00\x07"],
            }
            | {"error": error, "kind": "access", "format": "combined"},
            {"path": "/l/other.log", "host": "h", "lines": 30, "parsed": 0, "unparsed": 30, "samples": ["{}"]}
            | {"error": None, "kind": "access", "format": "combined"},
            {"path": "/l/cut.log.gz", "host": "h", "lines": 500, "parsed": 500, "unparsed": 0, "samples": []}
            | {"error": "/l/cut.log.gz: gzip stream truncated at byte 77", "kind": "access", "format": "combined"},
        ]
    )
    damaged, foreign, cut = unparsed_findings(files, th, "access")
    assert (damaged.check, damaged.severity, damaged.value) == ("logs.file_error", Severity.critical, 0.6)
    assert "checksum mismatch" in damaged.title and "60% of its lines could not be parsed" in damaged.title
    assert damaged.evidence["unparsed"] == 60 and damaged.evidence["error"] == error
    assert (foreign.check, foreign.severity) == ("logs.unparsed", Severity.critical)
    assert foreign.title == "None of the 30 lines of other.log (h) match the format combined"
    assert (cut.check, cut.severity, cut.value) == ("logs.file_error", Severity.warning, None)


def test_fingerprint_without_error_type_says_no_nan() -> None:
    """A fingerprint whose error type is missing (NaN in the DataFrame) is titled by its pattern."""
    fps = pd.DataFrame(
        [
            {
                "fingerprint": "f1",
                "level": "fatal",
                "count": 2,
                "error_type": float("nan"),
                "pattern": "worker crashed",
                "new": True,
                "first_seen": pd.Timestamp("2026-01-01T10:00Z"),
                "last_seen": pd.Timestamp("2026-01-01T10:05Z"),
                "hosts": ["h"],
                "example": "worker crashed",
                "frame": float("nan"),
                "stack_head": None,
                "ratio": 0,
                "p_value": 1,
                "baseline_per_day": 0,
            }
        ]
    )
    (finding,) = error_fingerprint_findings(fps, LogThresholds(), TZ, has_history=True)
    assert "nan" not in finding.title.lower() and "worker crashed" in finding.title
    assert finding.evidence["error_type"] is None and finding.evidence["frame"] is None


@pytest.mark.parametrize(
    ("keep", "silent"), [("ts < '12:00'", ("12:00", "24:00")), ("ts >= '06:00'", ("00:00", "06:00"))]
)
def test_outage_at_either_end_of_a_past_day_is_found(tmp_path: Path, keep: str, silent: tuple[str, str]) -> None:
    """A day that is over is judged whole: logging that stopped at noon for good (or only started
    at 06:00) is a gap against the baseline, not hours the day did not cover."""
    params = params_file(tmp_path, plant=False)
    store = Store(tmp_path / "store")
    today = store.read("requests", [DAY])
    cut = local(DAY, "12:00") if "12:00" in keep else local(DAY, "06:00")
    today = today[today["ts"] < cut] if "<" in keep else today[today["ts"] >= cut]
    store.write_part("requests", DAY, "p", today.reset_index(drop=True))
    logs = AccessLogReview(open_review(params, DAY))
    logs.volume()
    gaps = [f for f in logs.findings if f.check == "logs.gap"]
    assert {f.evidence["host"] for f in gaps} == {"api-1", "api-2"}
    for gap in gaps:
        assert gap.severity is Severity.critical
        assert gap.evidence["window"]["start"].startswith(f"{DAY}T{silent[0]}")
        end = f"{DAY + dt.timedelta(days=1)}T00:00" if silent[1] == "24:00" else f"{DAY}T{silent[1]}"
        assert gap.evidence["window"]["end"].startswith(end)


def test_a_running_day_is_judged_up_to_its_newest_line(tmp_path: Path) -> None:
    """Reviewing today mid-day: lines arrive with each pull, so the time after the newest line
    is not a gap; a day that is over is judged whole."""
    params = params_file(tmp_path, plant=False)
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    running = AccessLogReview(open_review(params, today))
    start, end = running.review.window
    newest = pd.Timestamp(dt.datetime.now(dt.UTC)) - pd.Timedelta(hours=2)
    if newest.to_pydatetime() > start:  # not in the first two hours of the day
        assert running.elapsed_window(newest) == (start, (newest + pd.Timedelta(minutes=1)).to_pydatetime())
    assert running.elapsed_window(None) == (start, end)
    over = AccessLogReview(open_review(params, DAY))
    assert over.elapsed_window(pd.Timestamp(local(DAY, "12:00"))) == over.review.window


def test_each_5xx_burst_shows_its_own_failures(tmp_path: Path) -> None:
    """Two bursts on one route (502 in the morning, 503 in the afternoon): each finding's sample
    lines come from its own window; the day's 5xx rate names its window and samples too."""
    params = params_file(tmp_path, plant=False)
    store = Store(tmp_path / "store")
    today = store.read("requests", [DAY])
    today = plant_status(today, "POST /api/orders", local(DAY, "09:00"), 15, 502)
    today = plant_status(today, "POST /api/orders", local(DAY, "16:00"), 15, 503)
    store.write_part("requests", DAY, "p", today)
    logs = AccessLogReview(open_review(params, DAY))
    logs.status()
    bursts = sorted(
        (f for f in logs.findings if f.check == "logs.5xx_burst"), key=lambda f: f.evidence["window"]["start"]
    )
    assert [b.evidence["window"]["start"][11:13] for b in bursts] == ["09", "16"]
    for burst, status, hour in zip(bursts, ("502", "503"), ("09", "16"), strict=True):
        assert burst.evidence["samples"]
        for sample in burst.evidence["samples"]:
            assert f"T{hour}:" in sample and f" {status} " in sample, sample
    rate = only(logs.findings, "logs.5xx_rate")  # the baseline had none
    assert rate.evidence["window"]["start"].startswith(f"{DAY}T00:00") and len(rate.evidence["samples"]) == 3


def test_tables_show_offsets_where_a_column_spans_a_dst_change() -> None:
    """On 2026-10-25 (Europe/Berlin) 02:10 happens twice: a table column spanning the change
    carries UTC offsets, one that does not stays plain."""
    from opsreview.localtime import local_columns

    twice = pd.DataFrame({"start": pd.to_datetime(["2026-10-25T00:10:00Z", "2026-10-25T01:10:00Z"], utc=True)})
    assert local_columns(twice, "Europe/Berlin")["start"].tolist() == [
        "2026-10-25 02:10:00 +0200",
        "2026-10-25 02:10:00 +0100",
    ]
    plain = pd.DataFrame({"start": pd.to_datetime(["2026-10-24T08:00:00Z"], utc=True)})
    assert local_columns(plain, "Europe/Berlin")["start"].tolist() == ["2026-10-24 10:00:00"]


@pytest.mark.parametrize("dst_day", [dt.date(2026, 3, 29), dt.date(2026, 10, 25)])
def test_a_dst_day_is_compared_by_its_hours(tmp_path: Path, dst_day: dt.date) -> None:
    """A clean 23- or 25-hour day holds 1/24 fewer or more requests than a 24-hour one: the
    volume test weighs days by their hours, so steady traffic stays unremarkable."""
    store = Store(tmp_path / "store")
    for i in range(1, 8):
        store.write_part(
            "requests", dst_day - dt.timedelta(days=i), "p", requests_day(dst_day - dt.timedelta(days=i), seed=i)
        )
    store.write_part("requests", dst_day, "p", requests_day(dst_day, seed=99))
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: 7\n"
        "logs:\n  access:\n    - {host: api-1, paths: [x]}\n",
        encoding="utf-8",
    )
    logs = AccessLogReview(open_review(params, dst_day))
    volume = dict(logs.volume().tables)["Requests per host (baseline: mean per day, same hours)"]
    (row,) = volume.to_dict("records")
    assert row["ratio"] == pytest.approx(1.0, abs=0.01)
    assert min(row["p_lower"], row["p_higher"]) > 0.01
