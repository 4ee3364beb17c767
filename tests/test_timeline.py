"""The incident timeline: windows grouped into incidents, ranked, with deploys and a story."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opsreview.findings import Finding, Severity
from opsreview.params import TimelineParams
from opsreview.run.timeline import (
    Deploy,
    build_incidents,
    finding_window,
    incidents_summary,
    load_deploys,
    parse_deploys,
    story_fact,
)

TZ = "Europe/Berlin"
DAY = "2026-11-23"


def at(hhmm: str) -> str:
    """A local time of the review day, ISO with its offset (as findings carry them)."""
    return pd.Timestamp(f"{DAY} {hhmm}").tz_localize(TZ).isoformat()


def finding(
    area: str, window: tuple[str, str] | None, severity: str = "warning", subject: str = "", **kw: Any
) -> Finding:
    start, end = (at(window[0]), at(window[1])) if window else (None, None)
    return Finding(
        area,
        kw.pop("check", f"{area}.thing"),
        Severity[severity],
        kw.pop("title", f"{area} {subject} {window}"),
        subject=subject or area,
        start=start,
        end=end,
        **kw,
    )


def spans(incidents: list[Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (i.start.tz_convert(TZ).strftime("%H:%M"), i.end.tz_convert(TZ).strftime("%H:%M"), i.areas) for i in incidents
    ]


GROUPING = [
    pytest.param(
        [("logs", ("14:10", "14:30")), ("probes", ("14:20", "14:26"))],
        {},
        [("14:10", "14:30", ("logs", "probes"))],
        id="overlap",
    ),
    pytest.param(
        [("logs", ("14:10", "14:30")), ("probes", ("14:25", "14:50")), ("database", ("14:45", "15:05"))],
        {},
        [("14:10", "15:05", ("logs", "probes", "database"))],
        id="chain-merge",
    ),
    pytest.param(
        [("logs", ("14:10", "14:30")), ("probes", ("14:38", "14:45"))],
        {"merge_gap_minutes": 10},
        [("14:10", "14:45", ("logs", "probes"))],
        id="within-gap",
    ),
    pytest.param(
        [("logs", ("14:10", "14:30")), ("probes", ("14:38", "14:45"))],
        {"merge_gap_minutes": 5},
        [("14:10", "14:30", ("logs",)), ("14:38", "14:45", ("probes",))],
        id="beyond-gap",
    ),
    pytest.param(
        [("payments", ("20:00", "21:00"))],
        {},
        [("20:00", "21:00", ("payments",))],
        id="single-source",
    ),
    pytest.param(
        [("logs", ("14:10", "14:30")), ("probes", None), ("database", ("14:20", "14:20"))],
        {},
        [("14:10", "14:30", ("logs", "database"))],
        id="no-window-excluded-point-included",
    ),
    pytest.param(  # longer than day_long_hours (12): absorbs nothing
        [("logs", ("09:00", "23:59")), ("probes", ("11:02", "11:08")), ("payments", ("13:10", "13:50"))],
        {"long_window_hours": 3},
        [("09:00", "23:59", ("logs",)), ("11:02", "11:08", ("probes",)), ("13:10", "13:50", ("payments",))],
        id="day-long-window-stands-alone",
    ),
    pytest.param(  # a 4 h API outage and the 5xx burst inside it: one incident
        [("probes", ("10:00", "14:00")), ("logs", ("11:10", "11:30")), ("payments", ("16:00", "16:20"))],
        {},
        [("10:00", "14:00", ("probes", "logs")), ("16:00", "16:20", ("payments",))],
        id="long-window-absorbs-the-short-inside",
    ),
    pytest.param(  # the chain the overlapping window belongs to comes along, within the gap too
        [("probes", ("10:00", "14:00")), ("logs", ("14:05", "14:20")), ("errors", ("14:25", "14:40")),
         ("payments", ("14:51", "15:00"))],
        {"merge_gap_minutes": 10},
        [("10:00", "14:40", ("probes", "logs", "errors")), ("14:51", "15:00", ("payments",))],
        id="long-window-absorbs-a-whole-chain",
    ),
    pytest.param(  # two long windows stay apart; the short one joins the one it overlaps longest
        [("probes", ("08:00", "12:00")), ("database", ("11:00", "15:30")), ("logs", ("11:50", "12:20"))],
        {},
        [("08:00", "12:00", ("probes",)), ("11:00", "15:30", ("database", "logs"))],
        id="long-windows-never-chain",
    ),
    pytest.param(  # a tie goes to the earlier long window
        [("probes", ("08:00", "12:00")), ("database", ("11:00", "15:30")), ("logs", ("11:20", "11:30"))],
        {},
        [("08:00", "12:00", ("probes", "logs")), ("11:00", "15:30", ("database",))],
        id="long-windows-tie-the-earlier",
    ),
    pytest.param(
        [("probes", ("10:00", "14:00")), ("logs", ("11:10", "11:30"))],
        {"day_long_hours": 3.5},
        [("10:00", "14:00", ("probes",)), ("11:10", "11:30", ("logs",))],
        id="day-long-threshold-from-params",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("planted", "settings", "expected"), GROUPING)
def test_windows_are_grouped_into_incidents(
    planted: list[tuple[str, tuple[str, str] | None]], settings: dict[str, Any], expected: list[Any]
) -> None:
    found = [finding(area, window) for area, window in planted]
    incidents = build_incidents(found, settings=TimelineParams(**settings))
    assert sorted(spans(incidents)) == sorted(expected)


RANKING = [
    pytest.param(  # a critical alone beats two warnings that agree
        [("logs", ("10:00", "10:10"), "critical"), ("probes", ("12:00", "12:05"), "warning"),
         ("payments", ("12:01", "12:04"), "warning")],
        ["10:00", "12:00"],
        id="severity-first",
    ),
    pytest.param(  # same severity: more areas agreeing first
        [("logs", ("10:00", "11:00"), "warning"), ("probes", ("12:00", "12:05"), "warning"),
         ("payments", ("12:01", "12:04"), "warning")],
        ["12:00", "10:00"],
        id="areas-second",
    ),
    pytest.param(  # same severity and areas: the longer first
        [("logs", ("10:00", "10:05"), "warning"), ("probes", ("12:00", "12:40"), "warning")],
        ["12:00", "10:00"],
        id="duration-third",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("planted", "order"), RANKING)
def test_incidents_are_ranked(planted: list[tuple[str, tuple[str, str], str]], order: list[str]) -> None:
    incidents = build_incidents([finding(area, window, severity) for area, window, severity in planted])
    assert [s for s, _, _ in spans(incidents)] == order


DEPLOYS = [
    pytest.param("13:50", 30, True, id="20-min-before"),
    pytest.param("14:20", 30, True, id="during"),
    pytest.param("13:30", 30, False, id="40-min-before"),
    pytest.param("13:30", 45, True, id="40-min-before-wider-lookback"),
    pytest.param("14:31", 30, False, id="after"),
]


@pytest.mark.parametrize(("when", "lookback", "attached"), DEPLOYS)
def test_deploy_marker_inside_or_just_before_is_attached(when: str, lookback: int, attached: bool) -> None:
    deploy = Deploy(pd.Timestamp(at(when)).tz_convert("UTC"), "v2.14.0", "new driver")
    [incident] = build_incidents(
        [finding("logs", ("14:10", "14:30"))], [deploy], TimelineParams(deploy_lookback_minutes=lookback)
    )
    assert (incident.deploys == (deploy,)) is attached
    assert ("deploy v2.14.0 (new driver) at " + when in incident.story(TZ)) is attached


def test_story_reads_the_findings_own_facts_in_local_time() -> None:
    burst = finding("logs", ("14:10", "14:30"), "critical", "POST /api/orders", check="logs.5xx_burst", value=0.5714)
    error = finding(
        "errors",
        ("14:11", "14:29"),
        "critical",
        "fp1",
        check="errors.new_fingerprint",
        value=140,
        evidence={"error_type": "MongoNetworkTimeoutError", "hosts": ["api-1"]},
    )
    conns = finding("database", ("14:15", "14:15"), "warning", "db-1:27017", check="database.connections", value=0.98)
    [incident] = build_incidents([conns, error, burst])
    story = incident.story(TZ)
    assert story.startswith("14:10–14:30 (Europe/Berlin): ")
    facts = story.split(": ", 1)[1].split(", ")
    # critical facts first, then the warning; each from its finding's value, subject, evidence
    assert set(facts[:2]) == {"POST /api/orders 5xx 57%", "MongoNetworkTimeoutError ×140 on api-1"}
    assert facts[2] == "db connections at 98% on db-1:27017"
    data = incident.to_dict(TZ)
    assert data["start"] == at("14:10") and data["end"] == at("14:30")
    assert data["severity"] == "critical" and data["areas"] == ["logs", "errors", "database"]  # by window start
    assert set(data["fingerprints"]) == {"logs/logs.5xx_burst/POST /api/orders", "errors/errors.new_fingerprint/fp1",
                                         "database/database.connections/db-1:27017"}  # fmt: skip


def test_story_falls_back_to_the_title_when_a_fact_cannot_be_built() -> None:
    odd = Finding("probes", "probes.outage", Severity.critical, "api-health down for a while", value=None)
    assert story_fact(odd) == "api-health down for a while"
    other = Finding("backups", "backups.missed", Severity.warning, "No backup since 02:00")
    assert story_fact(other) == "No backup since 02:00"


def test_a_window_without_offset_or_unreadable_is_not_on_the_axis() -> None:
    assert finding_window(Finding("logs", "logs.x", Severity.info, "t", start="2026-11-23T14:10:00")) is None
    assert finding_window(Finding("logs", "logs.x", Severity.info, "t", start="yesterday")) is None
    swapped = Finding("logs", "logs.x", Severity.info, "t", start=at("14:30"), end=at("14:10"))
    window = finding_window(swapped)
    assert window is not None and window[0] < window[1]


def test_a_day_window_ending_at_midnight_reads_24_00() -> None:
    late = Finding(
        "payments", "payments.thing", Severity.warning, "t", start=at("23:00"),
        end=pd.Timestamp("2026-11-24 00:00").tz_localize(TZ).isoformat(),
    )  # fmt: skip
    assert build_incidents([late])[0].story(TZ).startswith("23:00–24:00")


def stamp(text: str) -> str:
    return pd.Timestamp(text).tz_localize(TZ).isoformat()


DATED = [
    pytest.param("2026-11-22 03:10", "2026-11-24 00:00", "11-22 03:10–24:00", id="backup-gap-from-the-day-before"),
    pytest.param("2026-11-21 02:00", "2026-11-23 10:00", "11-21 02:00–10:00", id="rpo-from-two-days-before"),
    pytest.param("2026-11-23 23:00", "2026-11-24 01:30", "23:00–11-24 01:30", id="into-the-next-day"),
    pytest.param("2026-11-23 23:00", "2026-11-24 00:00", "23:00–24:00", id="to-midnight"),
    pytest.param("2026-11-24 00:00", "2026-11-24 00:00", "24:00", id="a-point-at-the-closing-midnight"),
    pytest.param("2026-11-23 00:00", "2026-11-23 00:20", "00:00–00:20", id="from-the-opening-midnight"),
    pytest.param("2026-11-22 23:50", "2026-11-23 00:20", "11-22 23:50–00:20", id="across-the-opening-midnight"),
]


@pytest.mark.parametrize(("start", "end", "span"), DATED)
def test_a_time_outside_the_review_day_is_told_with_its_date(start: str, end: str, span: str) -> None:
    window = Finding("backups", "backups.schedule_gap", Severity.warning, "gap", start=stamp(start), end=stamp(end))
    [incident] = build_incidents([window], day=dt.date(2026, 11, 23))
    assert incident.story(TZ).startswith(f"{span} ({TZ}): ")
    [summary] = incidents_summary([window], TimelineParams(), TZ, dt.date(2026, 11, 23))
    assert summary["story"] == incident.story(TZ)


def test_a_deploy_of_the_evening_before_is_told_with_its_date_in_story_and_table() -> None:
    from opsreview.run.timeline_view import incidents_table

    deploy = Deploy(pd.Timestamp(stamp("2026-11-22 23:50")).tz_convert("UTC"), "v3")
    early = Finding(
        "logs", "logs.x", Severity.warning, "t", start=stamp("2026-11-23 00:05"), end=stamp("2026-11-23 00:15")
    )
    incidents = build_incidents([early], [deploy], day=dt.date(2026, 11, 23))
    assert incidents[0].story(TZ).endswith("after deploy v3 at 11-22 23:50")
    late = Finding("backups", "backups.gap", Severity.warning, "t", start=stamp("2026-11-22 03:10"),
                   end=stamp("2026-11-24 00:00"))  # fmt: skip
    table = incidents_table(build_incidents([late], day=dt.date(2026, 11, 23)), TZ)
    assert (table["from"][0], table["to"][0]) == ("11-22 03:10", "24:00")


def test_deploy_markers_from_params_and_a_jsonl_or_csv_file(tmp_path: Path) -> None:
    jsonl = tmp_path / "deploys.jsonl"
    jsonl.write_text(
        '{"at": "2026-11-23T14:02:00+01:00", "version": "v2", "note": "driver"}\n'
        "\n"
        "not json\n"
        '{"at": "2026-11-23T09:00:00", "version": "naive"}\n',
        encoding="utf-8",
    )
    settings = TimelineParams.model_validate(
        {"deploys": [{"at": "2026-11-23T08:00:00+01:00", "version": "v1"}], "deploys_file": jsonl}
    )
    deploys, problems = load_deploys(settings)
    assert [(d.version, d.at.isoformat()) for d in deploys] == [
        ("v1", "2026-11-23T07:00:00+00:00"),
        ("v2", "2026-11-23T13:02:00+00:00"),
    ]
    assert len(problems) == 2
    assert problems[0].startswith(f"{jsonl} line 3: not JSON")
    assert problems[1].startswith(f"{jsonl} line 4:") and "timezone" in problems[1]

    found, bad = parse_deploys("at,version,note\n2026-11-23T14:02:00+01:00,v3,hotfix\n", "d.csv")
    assert bad == [] and [(d.version, d.note, d.at.hour) for d in found] == [("v3", "hotfix", 13)]
    assert parse_deploys("when,what\nx,y\n", "d.csv") == ([], ["d.csv: neither JSON lines nor CSV with an 'at' column"])


def test_a_missing_deploys_file_is_a_problem_line_not_an_error(tmp_path: Path) -> None:
    settings = TimelineParams(deploys_file=tmp_path / "nope.jsonl")
    deploys, problems = load_deploys(settings)
    assert deploys == [] and len(problems) == 1 and "nope.jsonl" in problems[0] and "cannot read" in problems[0]


def test_summary_incidents_are_json_dicts_in_the_params_zone() -> None:
    settings = TimelineParams.model_validate({"deploys": [{"at": at("14:00"), "version": "v9"}]})
    found = [finding("logs", ("14:10", "14:30"), "critical"), finding("probes", None)]
    [incident] = incidents_summary(found, settings, TZ)
    assert incident["start"] == at("14:10") and incident["deploys"] == [
        {"at": at("14:00"), "version": "v9", "note": ""}
    ]
    assert (
        incident["story"].startswith("14:10–14:30 (Europe/Berlin)") and "after deploy v9 at 14:00" in incident["story"]
    )
    assert incidents_summary([finding("probes", None)], settings, TZ) == []


# --- the summary notebook's section and the day page ------------------------------------------


def review_for(tmp_path: Path, timeline: str = "") -> Any:
    from opsreview.context import open_review

    params = tmp_path / "params.yaml"
    params.write_text(f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\n{timeline}", encoding="utf-8")
    return open_review(params, DAY)


def test_section_draws_windows_by_area_and_deploys_and_lists_incidents(tmp_path: Path) -> None:
    from opsreview.findings import SEVERITY_COLOURS
    from opsreview.run.summary import RunState
    from opsreview.run.timeline_view import incident_timeline

    review = review_for(tmp_path, f'timeline:\n  deploys:\n    - {{at: "{at("14:02")}", version: v2.14.0}}\n'
                                  '    - {at: "2026-11-20T10:00:00+01:00", version: old}\n')  # fmt: skip
    found = [
        finding("logs", ("14:10", "14:30"), "critical", "POST /api/orders", check="logs.5xx_burst", value=0.57),
        finding("probes", ("14:12", "14:18"), "warning", "api-health", check="probes.outage", value=6.0),
        finding("payments", ("20:00", "21:00"), "warning", "bin 414709"),
        finding("database", None, "warning", "shop.carts"),
    ]
    view = incident_timeline(review, RunState(found, areas_run={"logs", "probes", "payments", "database"}))
    assert [i.areas for i in view.incidents] == [("logs", "probes"), ("payments",)]
    assert view.table is not None and list(view.table["from"]) == ["14:10", "20:00"]
    assert (
        view.table["story"][0] == view.incidents[0].story(TZ)
        and "after deploy v2.14.0 at 14:02" in view.table["story"][0]
    )
    assert view.figure is not None
    bars = {bar.name: bar for bar in view.figure.data}
    assert set(bars) == {"critical", "warning"}
    assert bars["critical"].marker.color == SEVERITY_COLOURS["critical"]
    assert list(bars["warning"].y) == ["probes", "payments"]  # a row per area, no row for the unwindowed
    assert bars["critical"].x[0] == 20 * 60 * 1000 and str(bars["critical"].base[0]) == f"{DAY} 14:10:00"
    # only the day's deploy is drawn, at its local time
    lines = [s for s in view.figure.layout.shapes if s.type == "line"]
    assert [str(s.x0) for s in lines] == [f"{DAY} 14:02:00"]
    # the figure renders offline: the same bundle as every chart (plotly JSON + an HTML fallback)
    from opsreview.display import PLOTLY_MIME, figure_bundle

    bundle = figure_bundle(view.figure)
    assert PLOTLY_MIME in bundle and "Plotly.newPlot" in bundle["text/html"] and "cdn" not in bundle["text/html"]


def test_a_day_without_windows_says_so_and_a_day_without_areas_is_not_verifiable(tmp_path: Path) -> None:
    from opsreview.run.summary import RunState
    from opsreview.run.timeline_view import incident_timeline

    review = review_for(tmp_path, f"timeline:\n  deploys_file: {tmp_path / 'missing.jsonl'}\n")
    quiet = incident_timeline(review, RunState([finding("database", None)], areas_run={"database", "logs"}))
    assert quiet.incidents == [] and quiet.figure is None
    assert quiet.note.startswith("No anomaly windows today") and "database, logs" in quiet.note
    assert quiet.problems and "missing.jsonl" in quiet.problems[0]
    nothing = incident_timeline(review, RunState([], areas_run=set()))
    assert nothing.note.startswith("Not verifiable") and "not a quiet day" in nothing.note


def test_summary_json_and_day_page_carry_the_incidents() -> None:
    import datetime as dt

    from opsreview.run import report

    found = [finding("logs", ("14:10", "14:30"), "critical", "POST /api/orders", check="logs.5xx_burst", value=0.57)]
    incidents = incidents_summary(found, TimelineParams(), TZ)
    summary = report.build_summary(
        day=dt.date(2026, 11, 23), environment="test", findings=found, notebooks=[], sources=[],
        status="alert", fail_on="critical", exit_code=1, incidents=incidents,
    )  # fmt: skip
    assert summary["incidents"] == incidents and summary["incidents"][0]["severity"] == "critical"
    page = report.render_day_index(summary)
    assert "<h2>Incidents</h2>" in page and "14:10–14:30 (Europe/Berlin): POST /api/orders 5xx 57%" in page
    quiet = report.build_summary(
        day=dt.date(2026, 11, 23), environment="test", findings=[], notebooks=[], sources=[],
        status="ok", fail_on="critical", exit_code=0,
    )  # fmt: skip
    assert quiet["incidents"] == [] and "<h2>Incidents</h2>" not in report.render_day_index(quiet)


def test_a_deploy_marker_without_offset_in_params_is_an_error_naming_the_key(tmp_path: Path) -> None:
    from opsreview.exceptions import ParamsError
    from opsreview.params import load_params

    path = tmp_path / "p.yaml"
    path.write_text(
        "environment: t\nstore: s\noutputs: o\ntimeline:\n  deploys:\n    - {at: '2026-11-23T14:02:00', version: v1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert "timeline.deploys.0.at" in str(caught.value) and "p.yaml" in str(caught.value)
    path.write_text("environment: t\nstore: s\noutputs: o\ntimeline:\n  merge_gap: 5\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"timeline\.merge_gap.*unknown key"):
        load_params(path)
