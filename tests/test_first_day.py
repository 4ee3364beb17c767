"""The first day of a log is not an outage (issue 10, item 5).

Without a baseline, the expectation is the day's own mean rate: it cannot tell a log that
begins at 00:33 from a host that went silent until 00:33. The quiet minutes before a host's
first line ever (or after its last line so far) are info, and say why; a gap inside the day,
or at its start for a host that logged on an earlier day, still warns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.context import open_review
from opsreview.findings import Finding, Severity
from opsreview.logs import baseline
from opsreview.logs.access.review import AccessLogReview
from opsreview.logs.access.source import ingest_access_logs
from opsreview.logs.health import gap_findings
from opsreview.logs.thresholds import LogThresholds
from opsreview.params import load_params

TZ = "Europe/Berlin"
ZONE = ZoneInfo(TZ)
DAY = dt.date(2026, 6, 10)  # long over: judged whole
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(*map(int, hhmm.split(":"))), ZONE)


def access_log(day: dt.date, first: str, last: str, holes: tuple[tuple[str, str], ...] = ()) -> str:
    """A line every 20 s from ``first`` to ``last`` (local times), none inside ``holes``."""
    lines, ts, end = [], at(day, first), at(day, last)
    blanks = [(at(day, a), at(day, b)) for a, b in holes]
    while ts <= end:
        if not any(a <= ts < b for a, b in blanks):
            utc = ts.astimezone(dt.UTC)
            stamp = f"{utc.day:02d}/{MONTHS[utc.month - 1]}/{utc.year}:{utc:%H:%M:%S} +0000"
            lines.append(f'10.0.0.1 - - [{stamp}] "GET /api/items/1 HTTP/1.1" 200 321 "-" "curl/8" 12.5 ms')
        ts += dt.timedelta(seconds=20)
    return "\n".join(lines) + "\n"


def gaps_of_the_day(tmp_path: Path, files: dict[str, str], baseline_days: int = 7) -> dict[str, Finding]:
    """Ingest ``files`` (name -> text) for host api-1; the review day's gap findings by window."""
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: {baseline_days}\n"
        "logs:\n  access:\n    - {host: api-1, paths: [logs/], format: combined_rt}\n",
        encoding="utf-8",
    )
    (tmp_path / "logs").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "logs" / name).write_text(text)
    ingest_access_logs(load_params(params))
    review = AccessLogReview(open_review(params, DAY))
    found = [f for f in review.volume().findings if f.check == "logs.gap"]
    return {f.title.rsplit("(", 1)[1].rstrip(")"): f for f in found}


def test_a_log_that_starts_at_0033_on_its_first_day_is_no_outage(tmp_path: Path) -> None:
    today = access_log(DAY, "00:33", "22:00", holes=(("12:00", "13:00"),))
    gaps = gaps_of_the_day(tmp_path, {"access-2026-06-10.log": today})
    assert sorted(gaps) == ["00:00-00:33", "12:00-13:00", "22:01-00:00"]
    start, inside, end = gaps["00:00-00:33"], gaps["12:00-13:00"], gaps["22:01-00:00"]
    assert start.severity is Severity.info
    assert start.title == "No access log lines from api-1 before its first one at 00:33 (00:00-00:33)"
    assert "no baseline yet and no earlier access log line from api-1" in start.evidence["why_info"]
    assert end.severity is Severity.info and "after its last one at 22:00 (22:01-00:00)" in end.title
    assert "may simply end here" in end.evidence["why_info"]
    # a real gap inside the day still warns
    assert inside.severity is Severity.warning
    assert inside.title == "No access log lines from api-1 for 60 min (12:00-13:00)"
    assert "why_info" not in inside.evidence


def test_a_host_that_logged_before_or_after_gets_no_benefit_of_the_doubt(tmp_path: Path) -> None:
    """Lines three days earlier (outside the one baseline day) and the day after: the quiet
    start and end of the review day are gaps of a log that was running, so they warn."""
    files = {
        "access-2026-06-07.log": access_log(DAY - dt.timedelta(days=3), "08:00", "20:00"),
        "access-2026-06-10.log": access_log(DAY, "00:33", "22:00"),
        "access-2026-06-11.log": access_log(DAY + dt.timedelta(days=1), "06:00", "20:00"),
    }
    gaps = gaps_of_the_day(tmp_path, files, baseline_days=1)
    assert sorted(gaps) == ["00:00-00:33", "22:01-00:00"]
    assert [g.severity for g in gaps.values()] == [Severity.warning, Severity.warning]
    assert gaps["00:00-00:33"].title == "No access log lines from api-1 for 33 min (00:00-00:33)"


def test_quiet_gaps_mark_the_runs_at_the_edges_of_a_hosts_day() -> None:
    start = pd.Timestamp(at(DAY, "00:00")).tz_convert("UTC")
    minutes = pd.date_range(start + pd.Timedelta(minutes=40), start + pd.Timedelta(hours=20), freq="1min")
    observed = pd.DataFrame({"host": "api-1", "minute": minutes, "lines": 5})
    observed = observed[
        (observed["minute"] < start + pd.Timedelta(hours=9)) | (observed["minute"] >= start + pd.Timedelta(hours=10))
    ]
    window = (at(DAY, "00:00"), at(DAY + dt.timedelta(days=1), "00:00"))
    gaps = baseline.quiet_gaps(
        observed, ["host"], "lines", window, None, TZ, min_expected=0, all_keys=[("api-1",), ("api-2",)]
    )
    edges = {(g["host"], int(g["minutes"])): g["edge"] for g in gaps.to_dict("records")}
    assert edges == {
        ("api-1", 40): "before_first",
        ("api-1", 60): None,
        ("api-1", 239): "after_last",
        ("api-2", 1440): None,  # silent all day: no first line to be before
    }


def test_without_the_edge_or_with_a_baseline_a_gap_keeps_its_severity() -> None:
    start = pd.Timestamp(at(DAY, "00:00"))
    row = {"host": "api-1", "start": start, "end": start + pd.Timedelta(minutes=90), "minutes": 90, "expected": 400.0}
    gaps = pd.DataFrame([row | {"edge": "before_first"}])
    th = LogThresholds()
    (with_base,) = gap_findings(gaps, th, TZ)
    (first_day,) = gap_findings(gaps, th, TZ, has_baseline=False)
    (known_host,) = gap_findings(gaps, th, TZ, has_baseline=False, logged_before={"api-1"})
    (inside,) = gap_findings(pd.DataFrame([row | {"edge": None}]), th, TZ, has_baseline=False)
    assert [f.severity for f in (with_base, first_day, known_host, inside)] == [
        Severity.critical,
        Severity.info,
        Severity.warning,
        Severity.warning,
    ]
    assert "why_info" in first_day.evidence and "why_info" not in known_host.evidence
