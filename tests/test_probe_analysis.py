"""Probe analysis and findings: outages, uptime windows, latency, certificates, security matrix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.context import ReviewContext
from opsreview.demo import generate_demo
from opsreview.findings import Severity
from opsreview.params import load_params
from opsreview.probes import analysis, charts
from opsreview.probes import findings as probefindings
from opsreview.probes.models import ProbeResult, results_frame
from opsreview.probes.params import ProbesParams
from opsreview.probes.review import load_probe_review

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def series(states: str, probe: str = "api", source: str = "probe", start: dt.datetime = T0) -> pd.DataFrame:
    """One http row per minute: 'u' up, 'd' down (status 503)."""
    rows = [
        ProbeResult(
            ts=start + dt.timedelta(minutes=i),
            probe=probe,
            check="http",
            ok=s == "u",
            detail="200 OK" if s == "u" else "expected status 2xx, got 503",
            status_code=200 if s == "u" else 503,
            latency_ms=float(i + 1),
            source=source,
        )
        for i, s in enumerate(states)
    ]
    return results_frame(rows)


def test_outages_are_runs_of_consecutive_failures() -> None:
    outages = analysis.find_outages(series("uudddudu"), min_failures=2)
    assert len(outages) == 1
    row = outages.iloc[0]
    assert row["start"] == pd.Timestamp(T0 + dt.timedelta(minutes=2))
    assert row["end"] == pd.Timestamp(T0 + dt.timedelta(minutes=5))
    assert (row["duration_min"], row["failures"], row["ongoing"]) == (3.0, 3, False)
    assert row["reason"] == "expected status 2xx, got 503" and row["status_codes"] == "503"
    assert len(analysis.find_outages(series("uudddudu"), min_failures=1)) == 2


def test_an_outage_still_running_at_the_end_is_ongoing() -> None:
    row = analysis.find_outages(series("uuudd"), min_failures=2).iloc[0]
    assert bool(row["ongoing"]) and row["end"] == pd.Timestamp(T0 + dt.timedelta(minutes=5))


def test_sources_of_the_same_probe_are_kept_apart() -> None:
    frame = pd.concat([series("uddu"), series("uuuu", source="prometheus")], ignore_index=True)
    outages = analysis.find_outages(frame, min_failures=2)
    assert list(outages["source"]) == ["probe"]
    uptime = analysis.uptime_table(frame, T0 + dt.timedelta(hours=1)).set_index("source")
    assert uptime.loc["probe", "uptime_day"] == 50.0 and uptime.loc["prometheus", "uptime_day"] == 100.0


def test_uptime_for_the_day_7_and_30_days() -> None:
    end = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    frames = [
        series("d" * 10 + "u" * 90, start=end - dt.timedelta(hours=2)),  # the review day: 90 %
        series("d" * 50 + "u" * 50, start=end - dt.timedelta(days=3)),  # within 7 days: 50 %
        series("d" * 100, start=end - dt.timedelta(days=20)),  # within 30 days: 0 %
        series("d" * 100, start=end - dt.timedelta(days=40)),  # outside every window
    ]
    row = analysis.uptime_table(pd.concat(frames, ignore_index=True), end).iloc[0]
    assert (row["checks"], row["failures"]) == (100, 10)
    assert row["uptime_day"] == pytest.approx(90.0)
    assert row["uptime_7d"] == pytest.approx(70.0)
    assert row["uptime_30d"] == pytest.approx(140 / 3)


def test_latency_percentiles_ignore_unanswered_checks() -> None:
    frame = series("u" * 100)
    timeout = results_frame(
        [ProbeResult(ts=T0, probe="api", check="http", ok=False, detail="timeout", latency_ms=5000.0)]
    )
    summary = analysis.latency_summary(pd.concat([frame, timeout], ignore_index=True)).iloc[0]
    assert summary["p50"] == pytest.approx(50.5) and summary["p95"] == pytest.approx(95.05)
    assert summary["max"] == 100 and summary["samples"] == 100
    hourly = analysis.latency_over_time(frame, "1h")
    assert list(hourly["samples"]) == [60, 40]


def test_monitoring_gaps_respect_the_probe_rhythm() -> None:
    gap = pd.concat([series("u" * 10), series("u" * 10, start=T0 + dt.timedelta(minutes=55))], ignore_index=True)
    gaps = analysis.monitoring_gaps(gap, pd.Timedelta(minutes=30))
    assert list(gaps["gap_min"]) == [46.0]
    hourly = results_frame(
        [ProbeResult(ts=T0 + dt.timedelta(hours=h), probe="api", check="http", ok=True, detail="") for h in range(5)]
    )
    assert analysis.monitoring_gaps(hourly, pd.Timedelta(minutes=30)).empty


def security_day() -> pd.DataFrame:
    def row(check: str, ok: bool, minutes: int, probe: str = "api", detail: str = "") -> ProbeResult:
        return ProbeResult(
            ts=T0 + dt.timedelta(minutes=minutes), probe=probe, check=check, ok=ok, detail=detail or check
        )

    return results_frame(
        [
            row("headers.csp", False, 0, detail="Content-Security-Policy missing"),
            row("headers.csp", False, 60, detail="Content-Security-Policy missing"),
            row("headers.nosniff", False, 60, detail="nosniff missing"),
            row("cors.credentials", False, 60, detail="reflects Origin x with credentials"),
            row("cors.simple", True, 60),
            row("auth.rbac", False, 60, detail="GET /api/admin/stats -> 200"),
            row("auth.no_token", True, 60),
            row("exposure.env", False, 0, detail="GET /.env -> 200"),
            row("exposure.env", True, 60),  # fixed later in the day: no finding
            row("headers.csp", True, 60, probe="www"),
        ]
    )


def test_security_matrix_takes_the_latest_result() -> None:
    results = analysis.security_results(security_day())
    csp = results[(results["check"] == "headers.csp") & (results["probe"] == "api")].iloc[0]
    assert (bool(csp["ok"]), csp["failed_runs"], csp["runs"]) == (False, 2, 2)
    matrix = analysis.security_matrix(results).set_index("check")
    assert matrix.loc["headers.csp", "api"] == "FAIL: Content-Security-Policy missing"
    assert matrix.loc["headers.csp", "www"] == "pass" and matrix.loc["auth.rbac", "www"] == ""
    assert matrix.loc["exposure.env", "api"] == "pass"


def test_security_findings_group_by_checklist_item() -> None:
    findings = probefindings.security_findings(analysis.security_results(security_day()))
    by_check = {f.check: f for f in findings}
    assert set(by_check) == {"probes.headers", "probes.cors", "probes.rbac"}
    headers = by_check["probes.headers"]
    assert headers.severity is Severity.warning and headers.checklist == ("Helmet security headers",)
    assert headers.evidence["failing"] == {
        "headers.csp": "Content-Security-Policy missing",
        "headers.nosniff": "nosniff missing",
    }
    assert by_check["probes.cors"].severity is Severity.critical
    assert by_check["probes.rbac"].checklist == ("Role-based access control",)
    assert "GET /api/admin/stats -> 200" in by_check["probes.rbac"].title


@pytest.mark.parametrize(
    ("days_left", "severity"),
    [(30.0, None), (15.0, Severity.warning), (5.0, Severity.critical), (-2.0, Severity.critical)],
)
def test_certificate_expiry_thresholds(days_left: float, severity: Severity | None) -> None:
    day = results_frame(
        [ProbeResult(ts=T0, probe="api-tls", check="tls", ok=days_left >= 7, detail="d", cert_days_left=days_left)]
    )
    findings = probefindings.certificate_findings(analysis.certificates(day), ProbesParams())
    expiry = [f for f in findings if f.check == "probes.tls_expiry"]
    assert [f.severity for f in expiry] == ([] if severity is None else [severity])
    assert not [f for f in findings if f.check == "probes.tls"]  # expiry alone is not reported twice
    if expiry:
        assert "api-tls TLS certificate " in expiry[0].title and expiry[0].checklist == ("HTTPS/SSL certificate",)


def test_outage_severity_follows_its_length() -> None:
    settings = ProbesParams.model_validate({"thresholds": {"outage_critical_minutes": 5}})
    short = probefindings.outage_findings(analysis.find_outages(series("udddu"), 2), settings, BERLIN)
    long = probefindings.outage_findings(analysis.find_outages(series("udddddu"), 2), settings, BERLIN)
    assert [f.severity for f in short] == [Severity.warning] and [f.severity for f in long] == [Severity.critical]
    assert long[0].title == "api down 5 min (11:01-11:06 Europe/Berlin): expected status 2xx, got 503"


@pytest.fixture(scope="module")
def demo_review(tmp_path_factory: pytest.TempPathFactory) -> ReviewContext:
    root = tmp_path_factory.mktemp("demo")
    truth = generate_demo(root / "demo-data", days=8, requests_per_day=500, seed=3)
    text = (
        f"environment: demo\ntimezone: Europe/Berlin\nstore: {root / 'demo-data' / 'store'}\noutputs: {root / 'out'}\n"
    )
    (root / "p.yaml").write_text(text, encoding="utf-8")
    return ReviewContext(params=load_params(root / "p.yaml"), day=dt.date.fromisoformat(str(truth["review_date"])))


def test_demo_incidents_surface_as_findings(demo_review: ReviewContext) -> None:
    review = load_probe_review(demo_review)
    by_check = {f.check: f for f in review.findings}
    outage = by_check["probes.outage"]
    assert outage.severity is Severity.critical
    assert outage.title.startswith("api-health down 6 min (11:02-11:08 Europe/Berlin)")
    expiry = by_check["probes.tls_expiry"]
    assert expiry.severity is Severity.warning and "api-tls" in expiry.title
    assert 8 < expiry.value < 9.5
    assert by_check["probes.uptime"].evidence["uptime_7d"] > 99.9
    assert len(review.latency_daily) == 2 * 8  # two http probes, eight days


def test_demo_charts_and_tables_render(demo_review: ReviewContext) -> None:
    review = load_probe_review(demo_review)
    timeline = charts.uptime_timeline(review)
    assert {t.name for t in timeline.data} == {"up", "down"}
    assert len(charts.latency_chart(review).data) == 4
    card = charts.certificate_card(review)
    assert card.data[0].value == pytest.approx(review.certificates["days_left"].iloc[0], abs=0.1)
    heatmap = charts.security_heatmap(review).data[0]
    assert list(heatmap.y) == ["tls"] and list(heatmap.x) == ["api-tls"]  # the demo's only non-http check
    table = review.table("outages")
    assert table.loc[0, "start"].endswith("11:02") and table.loc[0, "probe"] == "api-health"


def test_no_results_for_a_configured_target_is_a_finding(tmp_path: Path) -> None:
    text = "environment: t\nstore: s\noutputs: o\nprobes:\n  targets:\n    - {name: api, url: 'http://127.0.0.1:9/'}\n"
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    ctx = ReviewContext(params=load_params(tmp_path / "p.yaml"), day=dt.date(2026, 11, 23))
    review = load_probe_review(ctx)
    (no_data,) = [f for f in review.findings if f.check == "probes.no_data"]
    assert no_data.severity is Severity.warning and "api" in no_data.title
    (coverage,) = [f for f in review.findings if f.check == "probes.coverage"]
    assert coverage.severity is Severity.info and "Health check endpoint" in coverage.checklist
