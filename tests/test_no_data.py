"""No data is never "no findings": a section without its input says what is missing and how to
get it (a Coverage fact), summary.json and the day page carry it, and the checklist marks the
items it leaves unchecked *not verifiable* with that reason."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

from opsreview import checklist
from opsreview import display as display_module
from opsreview.context import ReviewContext, open_review
from opsreview.display import Section, show_section
from opsreview.findings import COVERAGE_MIME, Coverage, Finding, Severity
from opsreview.logs.access.review import AccessLogReview
from opsreview.logs.app.review import AppErrorReview
from opsreview.logs.evidence import sample_lines
from opsreview.params import load_params
from opsreview.probes.models import ProbeResult, results_frame
from opsreview.probes.review import analyse
from opsreview.run import report
from opsreview.run.summary import RunState, checklist_status, load_run
from opsreview.store import Store
from tests.synthetic_logs import requests_day

DAY = dt.date(2026, 11, 20)
ACCESS_SECTIONS = ("volume", "status", "latency", "routes", "clients", "agents", "outliers", "secrets", "ingest")


def own_items_only(facts: list[Coverage]) -> None:
    """A fact makes items not verifiable only in its own area (as ``<area>.coverage`` findings do)."""
    for fact in facts:
        for text in fact.checklist:
            assert checklist.item(text).area == fact.area, (fact.section, text)


# -- a whole run on a day logged in morgan `combined` (no response time) ------------------------


def combined_lines(day: dt.date, failing_every: int = 0) -> list[str]:
    """Morgan `combined` lines (what morgan('combined') writes): 3 requests every 2 minutes."""
    lines = []
    for i in range(3 * 720):
        ts = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(seconds=40 * i)
        path = (f"/api/products/{i % 50}", "/api/orders", "/api/health")[i % 3]
        status = 503 if failing_every and i % failing_every == 0 else 200
        lines.append(
            f'198.51.100.{i % 40 + 1} - - [{ts:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" {status} '
            f'{300 + i % 500} "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"'
        )
    return lines


@pytest.fixture(scope="module")
def combined_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("combined")
    for day in (DAY - dt.timedelta(days=1), DAY):
        # 2% of the review day's requests fail: a 5xx finding whose sample lines have no time
        text = "\n".join(combined_lines(day, failing_every=50 if day == DAY else 0)) + "\n"
        (tmp / "access").mkdir(exist_ok=True)
        (tmp / "access" / f"access-{day}.log").write_text(text, encoding="utf-8")
    params = tmp / "params.yaml"
    params.write_text(
        "environment: test\ntimezone: UTC\nstore: store\noutputs: out\nbaseline_days: 7\n"
        "logs:\n  access:\n    - {host: api-1, paths: [access/], format: combined}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(params), "--date", str(DAY), "--only", "logs"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    day_dir = tmp / "out" / str(DAY)
    assert (day_dir / "summary.json").exists(), proc.stderr[-2000:]
    return {
        "proc": proc,
        "params": params,
        "day_dir": day_dir,
        "summary": json.loads((day_dir / "summary.json").read_text(encoding="utf-8")),
    }


def cell_outputs(ipynb: Path, call: str) -> list[dict[str, Any]]:
    nb = nbformat.read(ipynb, as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and call in c.source]
    return list(cell.outputs)


def test_the_latency_section_says_why_instead_of_no_findings(combined_run: dict[str, Any]) -> None:
    assert combined_run["proc"].returncode == 0, combined_run["proc"].stderr[-2000:]
    outputs = cell_outputs(combined_run["day_dir"] / "logs.ipynb", "logs.latency()")
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Not verifiable today: No response times: api-1 (format combined) logs no response time" in text
    assert "To get it: add ` :response-time ms` to the morgan format" in text
    assert "No findings." not in text
    assert not any(display_module.PLOTLY_MIME in o.get("data", {}) for o in outputs)  # no empty chart
    html = (combined_run["day_dir"] / "logs.html").read_text(encoding="utf-8")
    assert "<b>Not verifiable today:</b> No response times: api-1 (format combined)" in html


def test_summary_json_and_the_day_page_carry_the_coverage_fact(combined_run: dict[str, Any]) -> None:
    facts = [Coverage.from_dict(c) for c in combined_run["summary"]["coverage"]]
    (latency,) = [f for f in facts if f.section == "latency"]
    assert (latency.area, latency.missing, latency.sources) == ("logs", "No response times", ("api-1",))
    assert latency.checklist == ("Monitor response times",)
    facts = [f for f in facts if f.area == "logs"]  # (the demo params have no alert channel: an alerts fact)
    assert {f.section for f in facts} == {"latency", "routes", "outliers"}  # combined has a user agent
    own_items_only(facts)
    page = (combined_run["day_dir"] / "index.html").read_text(encoding="utf-8")
    assert "<h2>Not verifiable today</h2>" in page
    assert "api-1 (format combined) logs no response time" in page and "<code> :response-time ms</code>" in page


def test_the_checklist_marks_response_times_not_verifiable_with_the_reason(combined_run: dict[str, Any]) -> None:
    run = load_run(open_review(combined_run["params"], DAY))  # reads the published summary.json
    rows = checklist_status(run).set_index("checklist item")
    row = rows.loc["Monitor response times"]
    assert row["status"] == "not verifiable"
    assert "api-1 (format combined) logs no response time" in row["evidence"]
    assert "to get it: add ` :response-time ms`" in row["evidence"]
    assert rows.loc["Monitor error rates", "status"] == "failing"  # the planted 5xx: still judged
    nb = (combined_run["day_dir"] / "summary.ipynb").read_text(encoding="utf-8")
    assert "Monitor response times</td><td>not verifiable</td><td>logs</td><td>No response times: api-1" in nb


def test_sample_lines_of_a_format_without_response_times_show_a_dash(combined_run: dict[str, Any]) -> None:
    (rate,) = [f for f in combined_run["summary"]["findings"] if f["check"] == "logs.5xx_rate"]
    samples = rate["evidence"]["samples"]
    assert samples and all(line.endswith(" 503 -") for line in samples), samples
    assert "nan" not in json.dumps(combined_run["summary"]["findings"]).lower()


# -- each section, from a store written here ----------------------------------------------------


def review_of(
    tmp_path: Path, access: str, frames: dict[str, pd.DataFrame] | None = None, app: str = ""
) -> ReviewContext:
    store = Store(tmp_path / "store")
    for part, frame in (frames or {}).items():
        store.write_part("requests", DAY, part, frame)
    (tmp_path / "store").mkdir(exist_ok=True)
    text = f"environment: t\ntimezone: UTC\nstore: store\noutputs: out\nlogs:\n  access: {access}\n"
    if app:
        text += f"  app: {app}\n"
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    return ReviewContext(params=load_params(tmp_path / "p.yaml"), day=DAY)


def without(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The rows as a format that does not log ``columns`` stores them."""
    nulls = {c: pd.Series(None, index=frame.index, dtype=frame[c].dtype) for c in columns}
    return frame.assign(**nulls)


def sections(review: ReviewContext) -> dict[str, Section]:
    logs = AccessLogReview(review)
    return {name: getattr(logs, name)() for name in ACCESS_SECTIONS}


def test_a_format_without_response_times_leaves_latency_not_verifiable(tmp_path: Path) -> None:
    rows = without(requests_day(DAY, hosts=("api-1",)), "response_time_ms")
    got = sections(review_of(tmp_path, "[{host: api-1, paths: [x], format: combined}]", {"p": rows}))
    (fact,) = got["latency"].coverage
    assert fact.text.startswith(
        "Not verifiable today: No response times: api-1 (format combined) logs no response time"
    )
    assert "` :response-time ms`" in fact.remedy and "`combined_rt`" in fact.remedy
    assert fact.checklist == ("Monitor response times",)
    assert not got["latency"].figures and not got["latency"].tables and not got["latency"].findings
    assert "Slowest requests" not in dict(got["outliers"].tables) and got["outliers"].coverage
    assert got["routes"].coverage and got["routes"].coverage[0].checklist == ()  # a view, not a check
    for name in ("volume", "status", "clients", "agents", "secrets", "ingest"):
        assert not got[name].coverage, name
    own_items_only([f for s in got.values() for f in s.coverage])


def test_a_host_without_response_times_is_named_and_the_others_still_judged(tmp_path: Path) -> None:
    rows = requests_day(DAY, hosts=("api-1", "api-2"))
    rows = pd.concat([rows[rows["host"] == "api-1"], without(rows[rows["host"] == "api-2"], "response_time_ms")])
    access = "[{host: api-1, paths: [x], format: combined_rt}, {host: api-2, paths: [y], format: combined}]"
    latency = sections(review_of(tmp_path, access, {"p": rows.sort_values("ts")}))["latency"]
    (fact,) = latency.coverage
    assert fact.sources == ("api-2",)
    assert (
        fact.detail
        == "api-2 (format combined) logs no response time; only api-1 does, and the section shows that alone"
    )
    assert latency.tables and latency.figures  # api-1's percentiles


@pytest.mark.parametrize(
    ("fmt", "section", "column", "reason"),
    [
        ("common", "agents", "user_agent", "No user agents: api-1 (format common) logs no user agent"),
        ("tiny", "clients", "remote_addr", "No client addresses: api-1 (format tiny) logs no client address"),
        ("tiny", "volume", "ts", "No request times: api-1 (format tiny) logs no date"),
        ("combined_rt", "latency", "response_time_ms", "No response times: api-1 logged `-` for every response time"),
        (
            "json",
            "latency",
            "response_time_ms",
            "No response times: api-1 (format json) has no `responseTime` field in its lines",
        ),
    ],
)
def test_each_missing_field_is_said_in_its_section(
    tmp_path: Path, fmt: str, section: str, column: str, reason: str
) -> None:
    rows = without(requests_day(DAY, hosts=("api-1",)), column)
    got = sections(review_of(tmp_path, f"[{{host: api-1, paths: [x], format: '{fmt}'}}]", {"p": rows}))
    assert [f.reason for f in got[section].coverage] == [reason]
    fact = got[section].coverage[0]
    assert ("json_fields" in fact.remedy) == (fmt == "json")
    if column == "user_agent":
        assert "Top user agents" not in dict(got["agents"].tables)


def test_no_requests_at_all_is_said_in_every_section(tmp_path: Path) -> None:
    got = sections(review_of(tmp_path, "[{host: api-1, paths: [x]}, {host: api-2, paths: [y]}]"))
    for name, section in got.items():
        (fact,) = section.coverage
        assert fact.reason == f"No access-log requests: the store holds none from api-1, api-2 for {DAY}", name
        assert "`logs.access`" in fact.remedy
    assert got["status"].coverage[0].checklist == ("Monitor error rates",)
    assert got["latency"].coverage[0].checklist == ("Monitor response times",)
    assert [f.check for f in got["volume"].findings] == ["logs.no_data"]  # the finding stays
    own_items_only([f for s in got.values() for f in s.coverage])


def test_no_access_log_configured_says_where_to_configure_one(tmp_path: Path) -> None:
    status = AccessLogReview(review_of(tmp_path, "[]")).status()
    (fact,) = status.coverage
    assert fact.detail == "no host is configured under `logs.access`" and fact.sources == ()


def test_no_application_events_leave_error_tracking_not_verifiable(tmp_path: Path) -> None:
    errors = AppErrorReview(review_of(tmp_path, "[]", app="[{host: api-1, paths: [x]}]"))
    overview, fingerprints, ingest = errors.overview(), errors.fingerprints(), errors.ingest()
    assert fingerprints.coverage[0].text.startswith(
        f"Not verifiable today: No application-log events: the store holds none from api-1 for {DAY}"
    )
    assert fingerprints.coverage[0].checklist == ("Error logging", "Error tracking (Sentry, etc.)")
    assert overview.coverage and ingest.coverage and "`logs.app`" in ingest.coverage[0].remedy
    assert [f.check for f in errors.findings] == ["errors.no_data"]
    own_items_only(overview.coverage + fingerprints.coverage + ingest.coverage)


# -- probes ----------------------------------------------------------------------------------------

T0 = dt.datetime.combine(DAY, dt.time(10), dt.UTC)


def probe_review(tmp_path: Path, targets: str, results: list[ProbeResult]) -> dict[str, Section]:
    (tmp_path / "p.yaml").write_text(f"environment: t\nstore: s\noutputs: o\nprobes:\n  targets: {targets}\n")
    ctx = ReviewContext(params=load_params(tmp_path / "p.yaml"), day=DAY)
    day = results_frame(results)
    review = analyse(day, day[day["check"] == "http"], ctx)
    return {
        name: getattr(review, f"{name}_section")()
        for name in ("uptime", "outages", "latency", "certificates", "security")
    }


def test_probes_without_results_say_so_in_every_section(tmp_path: Path) -> None:
    got = probe_review(tmp_path, "[{name: api, url: 'http://127.0.0.1:9/'}]", [])
    for name, section in got.items():
        assert section.coverage and section.coverage[0].missing == "No probe results", name
        assert "opsreview probe --params P --once" in section.coverage[0].remedy
    assert got["uptime"].coverage[0].checklist == ("Health check endpoint",)
    assert got["certificates"].coverage[0].checklist == ("HTTPS/SSL certificate",)
    assert "CORS properly configured" in got["security"].coverage[0].checklist
    assert not got["latency"].figures and not got["security"].tables
    own_items_only([f for s in got.values() for f in s.coverage])

    unconfigured = probe_review(tmp_path, "[]", [])["outages"].coverage[0]
    assert unconfigured.detail == "no target is configured under `probes.targets` and no `probes.prometheus`"


def test_http_only_probes_leave_tls_and_security_not_verifiable(tmp_path: Path) -> None:
    results = [
        ProbeResult(ts=T0 + dt.timedelta(minutes=i), probe="api", check="http", ok=True, detail="200", latency_ms=5.0)
        for i in range(30)
    ]
    got = probe_review(tmp_path, "[{name: api, url: 'http://127.0.0.1:9/'}]", results)
    assert not got["outages"].coverage and not got["latency"].coverage and got["latency"].figures
    (tls,) = got["certificates"].coverage
    assert tls.reason == "No TLS checks: no target probed an `https://` URL with the `tls` check today"
    (security,) = got["security"].coverage
    assert "CORS properly configured" in security.checklist and "Health check endpoint" not in security.checklist
    assert "cors" in security.remedy and "allow_active: true" in security.remedy
    own_items_only([tls, security])


# -- display, collection, summary, checklist ------------------------------------------------------


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    bundles: list[dict[str, Any]] = []
    monkeypatch.setattr(display_module, "display", lambda bundle, raw: bundles.append(bundle))
    return bundles


FACT = Coverage(
    "logs",
    "latency",
    "No response times",
    "api-1 (format combined) logs no response time",
    "add ` :response-time ms` to the morgan format (or use `combined_rt`)",
    ("api-1",),
    ("Monitor response times",),
)


def test_a_section_without_input_shows_the_fact_instead_of_no_findings(shown: list[dict[str, Any]]) -> None:
    show_section(Section("latency", coverage=[FACT]))
    (bundle,) = shown
    assert bundle["text/plain"] == FACT.text
    assert "<code> :response-time ms</code>" in bundle["text/html"]
    assert bundle[COVERAGE_MIME] == [FACT.to_dict()]
    shown.clear()
    show_section(Section("latency"))
    assert shown[0]["text/plain"] == "No findings." and COVERAGE_MIME not in shown[0]


def test_the_runner_collects_each_fact_once(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    output = nbformat.v4.new_output("display_data", data={"text/plain": FACT.text, COVERAGE_MIME: [FACT.to_dict()]})
    nb.cells = [nbformat.v4.new_code_cell("show_section(s)", outputs=[output]) for _ in range(2)]  # shown twice
    nbformat.write(nb, tmp_path / "logs.ipynb")
    assert report.notebook_coverage(tmp_path / "logs.ipynb") == [FACT]
    summary = report.build_summary(
        day=DAY,
        environment="t",
        findings=[],
        notebooks=[],
        sources=[],
        status="ok",
        fail_on="critical",
        exit_code=0,
        coverage=[FACT],
    )
    assert summary["coverage"] == [FACT.to_dict()]
    assert json.loads(json.dumps(summary["coverage"]))[0]["checklist"] == ["Monitor response times"]


def test_a_coverage_fact_makes_its_items_not_verifiable_unless_failing() -> None:
    failing = Finding("logs", "logs.p95_route", Severity.warning, "slow route", checklist=("Monitor response times",))
    rows = checklist_status(RunState(findings=[], areas_run={"logs"}, coverage=[FACT])).set_index("checklist item")
    assert rows.loc["Monitor response times", "status"] == "not verifiable"
    assert rows.loc["Monitor response times", "evidence"] == (
        "No response times: api-1 (format combined) logs no response time - to get it: "
        "add ` :response-time ms` to the morgan format (or use `combined_rt`)"
    )
    assert rows.loc["Monitor error rates", "status"] == "verified"
    rows = checklist_status(RunState(findings=[failing], areas_run={"logs"}, coverage=[FACT]))
    assert rows.set_index("checklist item").loc["Monitor response times", "status"] == "failing"


def test_sample_lines_show_missing_values_as_a_dash() -> None:
    frame = pd.DataFrame(
        {
            "ts": [pd.Timestamp("2026-11-20T10:00:00Z"), pd.NaT],
            "client": ["198.51.100.7", None],
            "status": [503, 503],
            "response_time_ms": [np.nan, 12.5],
        }
    )
    assert sample_lines(frame, tz="Europe/Berlin") == ["2026-11-20T11:00:00+01:00 198.51.100.7 503 -", "- - 503 12.5"]
