"""Alertmanager's rules over a sequence of review days, through the real notification path
(params file, state in the store folder, apprise to a loopback receiver): new, suppressed,
repeat after ``repeat_interval``, escalated, inhibited (same window), resolved once, cleared
only when its area ran; and re-running a date never notifies again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsreview.alerts.notify import notify_run
from opsreview.alerts.state import read_state, state_path
from opsreview.exceptions import ParamsError
from opsreview.params import Params
from tests.alerts_helpers import HttpReceiver, finding, start_http_receiver, summary, write_params

TOKEN = "S3cr3tHookToken77"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    info, server = start_http_receiver()
    yield info
    server.shutdown()
    server.server_close()


def _params(tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, tag: str) -> Params:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/{tag}/chat/{TOKEN}")
    monkeypatch.setenv("ONCALL_URL", f"json://{receiver.base}/{tag}/oncall/{TOKEN}")
    return write_params(
        tmp_path,
        {
            "channels": [
                {"name": "chat", "url": "${CHAT_URL}", "min_severity": "warning"},
                {"name": "oncall", "url": "${ONCALL_URL}", "min_severity": "critical"},
            ],
            "routes": [
                {"match": {"severities": ["critical"]}, "channels": ["oncall"], "continue_matching": True},
                {"match": {}, "channels": ["chat"]},
            ],
            "repeat_interval": "48h",
            "inhibit": [
                {
                    "source": {"checks": ["probes.outage"], "subjects": ["api*"]},
                    "target": {"checks": ["logs.5xx_*"]},
                    "same_window": True,
                }
            ],
        },
    )


# The findings of each day: A = the 5xx rate of a route (a day-level finding: no window, as
# the real logs.5xx_rate), P = an outage of the API probe, S = a slow query shape, B = a 5xx
# burst of some minutes.
def _a(day: str, severity: str = "warning") -> Any:
    return finding("logs", "logs.5xx_rate", "POST /api/orders", severity, None, day)


def _o(day: str, window: tuple[str, str] = ("14:05", "14:40")) -> Any:
    return finding("probes", "probes.outage", "api", "critical", window, day)


def _s(day: str) -> Any:
    return finding("database", "database.slow_shape", "orders.find {status}", "warning", None, day)


def _b(day: str, window: tuple[str, str] = ("09:00", "09:05"), severity: str = "warning") -> Any:
    return finding("logs", "logs.5xx_burst", "GET /api/cart", severity, window, day)


A, P, S, B = "A", "P", "S", "B"
KEYS = {
    "logs/logs.5xx_rate/POST /api/orders": A,
    "probes/probes.outage/api": P,
    "database/database.slow_shape/orders.find {status}": S,
    "logs/logs.5xx_burst/GET /api/cart": B,
}

# day, its findings, the areas whose notebooks ran, the expected decisions (finding, channel) -> action
DAYS: list[tuple[str, Any, tuple[str, ...], dict[tuple[str, str], str]]] = [
    ("2026-12-01", lambda d: [_a(d), _s(d)], ("logs", "probes", "database"), {(A, "chat"): "new", (S, "chat"): "new"}),
    (
        "2026-12-02",  # unchanged, sent a day ago (< 48h): nothing is sent
        lambda d: [_a(d), _s(d)],
        ("logs", "probes", "database"),
        {(A, "chat"): "suppressed", (S, "chat"): "suppressed"},
    ),
    (
        "2026-12-03",  # A escalates (and now routes to oncall too); S repeats after 48h
        lambda d: [_a(d, "critical"), _s(d)],
        ("logs", "probes", "database"),
        {(A, "chat"): "escalated", (A, "oncall"): "new", (S, "chat"): "repeat"},
    ),
    (
        # the API is down in the minutes of the burst B: B is muted; the day's 5xx rate A (no
        # window) is not, whatever the outage; S cleared (database ran)
        "2026-12-04",
        lambda d: [_a(d, "critical"), _o(d), _b(d, ("14:10", "14:20"))],
        ("logs", "probes", "database"),
        {
            (A, "chat"): "suppressed",
            (A, "oncall"): "suppressed",
            (B, "chat"): "inhibited",
            (P, "chat"): "new",
            (P, "oncall"): "new",
            (S, "chat"): "resolved",
        },
    ),
    (
        # A drops back to warning: the critical-only oncall, which no longer gets it, hears it
        # resolved (chat repeats it, 48h after the escalation); the probes are clear; the
        # database did not run (S stays as it was)
        "2026-12-05",
        lambda d: [_a(d)],
        ("logs", "probes"),
        {(A, "chat"): "repeat", (A, "oncall"): "resolved", (P, "chat"): "resolved", (P, "oncall"): "resolved"},
    ),
    (
        # A cleared: resolved on chat (oncall heard it already); S is back (new after its
        # resolve); an outage in other minutes mutes nothing
        "2026-12-06",
        lambda d: [_s(d), _o(d, ("03:00", "03:10")), _b(d)],
        ("logs", "probes", "database"),
        {(A, "chat"): "resolved", (S, "chat"): "new", (P, "chat"): "new", (P, "oncall"): "new", (B, "chat"): "new"},
    ),
]


def _decisions(outcome: Any) -> dict[tuple[str, str], str]:
    return {(KEYS[d.fingerprint], d.channel): d.action for d in outcome.decisions}


def test_repeat_escalate_inhibit_resolve_over_a_sequence_of_days(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "seq")
    for day, findings, areas, expected in DAYS:
        before = {ch: len(receiver.to(f"/seq/{ch}/")) for ch in ("chat", "oncall")}
        now = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(days=1, hours=6)
        outcome = notify_run(params, summary(day, findings(day), areas), now=now)
        assert _decisions(outcome) == expected, day
        for channel in ("chat", "oncall"):
            sends = [
                k for k, action in expected.items() if k[1] == channel and action not in ("suppressed", "inhibited")
            ]
            received = receiver.to(f"/seq/{channel}/")[before[channel] :]
            # one message per channel when there is something to say, none otherwise
            assert len(received) == (1 if sends else 0), (day, channel)
            if received:
                body = received[0].json()["message"]
                assert f"Report: outputs/{day}/index.html" in body
                for (key, _), action in ((k, a) for k, a in expected.items() if k[1] == channel):
                    label = {"new": "NEW", "escalated": "ESCALATED", "repeat": "STILL OPEN", "resolved": "RESOLVED"}
                    check = next(fp for fp, k in KEYS.items() if k == key).split("/")[1]
                    line = f"- {label[action]}" if action in label else None
                    listed = [ln for ln in body.splitlines() if check in ln and ln.startswith("- ")]
                    assert (line is not None and bool(listed) and listed[0].startswith(line)) or (
                        line is None and not listed
                    ), (day, channel, key, action, body)
    state = read_state(state_path(params.store))
    record = state["alerts"]["database/database.slow_shape/orders.find {status}"]
    assert record["first_seen"] == "2026-12-01" and record["status"] == "firing"
    assert record["channels"]["chat"]["day"] == "2026-12-06"
    assert TOKEN not in state_path(params.store).read_text(encoding="utf-8")


def test_rerunning_a_date_sends_nothing_new(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "rerun")
    first = summary("2026-12-01", [_a("2026-12-01", "critical"), _s("2026-12-01")])
    notify_run(params, first, now=dt.datetime(2026, 12, 2, 6, tzinfo=dt.UTC))
    second = summary("2026-12-02", [_a("2026-12-02", "critical")])  # S cleared: resolved
    outcome = notify_run(params, second, now=dt.datetime(2026, 12, 3, 6, tzinfo=dt.UTC))
    assert (S, "chat") in {k for k, a in _decisions(outcome).items() if a == "resolved"}
    received = len(receiver.to("/rerun/"))
    state_before = read_state(state_path(params.store))
    for hours in (1, 30):  # the same date again, an hour later and well past a repeat interval
        again = notify_run(params, second, now=dt.datetime(2026, 12, 3, 6, tzinfo=dt.UTC) + dt.timedelta(hours=hours))
        assert again.deliveries == []
        assert set(_decisions(again).values()) <= {"already_sent", "suppressed"}, _decisions(again)
        assert len(receiver.to("/rerun/")) == received
    # and re-running an older date neither sends nor resolves anything
    older = notify_run(params, first, now=dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    assert older.deliveries == [] and len(receiver.to("/rerun/")) == received
    assert (
        read_state(state_path(params.store))["alerts"]["database/database.slow_shape/orders.find {status}"]["status"]
        == state_before["alerts"]["database/database.slow_shape/orders.find {status}"]["status"]
    )


def test_the_day_table_says_what_happened_to_each_finding_and_channel(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "table")
    day = "2026-12-04"
    burst = _b(day, ("14:10", "14:20"), "critical")
    outcome = notify_run(params, summary(day, [burst, _o(day)]), now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    table = outcome.table()
    rows = {(r["check"], r["channel"]): (r["action"], r["delivered"]) for r in table.to_dict("records")}
    assert rows == {
        ("logs.5xx_burst", "chat"): ("inhibited", ""),
        ("logs.5xx_burst", "oncall"): ("inhibited", ""),
        ("probes.outage", "chat"): ("new", "ok"),
        ("probes.outage", "oncall"): ("new", "ok"),
    }
    inhibited = table[table["action"] == "inhibited"]["reason"].tolist()
    assert inhibited == ["inhibited by probes/probes.outage/api"] * 2
    as_json = json.dumps(outcome.to_dict())
    assert TOKEN not in as_json and '"inhibited": 2' in as_json


@pytest.mark.parametrize(
    ("source", "target", "muted"),
    [
        (("14:05", "14:40"), None, False),  # a day-level finding is not muted by some minutes
        (None, ("14:10", "14:20"), False),  # nor does one mute a window
        (None, None, False),  # nor each other
        (("14:05", "14:40"), ("14:10", None), True),  # a start alone is a point, inside the outage
        (("14:05", "14:40"), ("09:00", None), False),  # ... or not (not "until the end of the day")
        (("14:05", "14:40"), ("14:30", "14:50"), True),  # overlapping windows
    ],
)
def test_with_same_window_only_two_real_windows_that_overlap_inhibit(
    source: tuple[str, str] | None, target: tuple[str | None, str | None] | None, muted: bool
) -> None:
    from opsreview.alerts.params import InhibitRule
    from opsreview.alerts.rules import inhibited_by

    day = "2026-12-04"
    outage = finding("probes", "probes.outage", "api", "critical", source, day)
    burst = finding("logs", "logs.5xx_burst", "GET /api/cart", "warning", None, day)
    if target is not None:
        start, end = (f"{day}T{t}:00+01:00" if t else None for t in target)
        burst = dataclasses.replace(burst, start=start, end=end)
    rule = InhibitRule.model_validate({"source": {"checks": ["probes.outage"]}, "target": {"checks": ["logs.*"]}})
    assert (burst.fingerprint in inhibited_by([outage, burst], [rule])) is muted


def test_one_muted_occurrence_does_not_hide_another_of_the_same_fingerprint(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "occurrence")
    day = "2026-12-04"
    during = _b(day, ("14:10", "14:20"), "critical")  # explained by the outage
    morning = _b(day, ("09:00", "09:05"), "warning")  # the same route, other minutes: not explained
    outcome = notify_run(params, summary(day, [during, _o(day), morning]), now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    burst = [d for d in outcome.decisions if d.fingerprint == during.fingerprint]
    assert [(d.channel, d.action, d.finding.start, d.alike) for d in burst] == [("chat", "new", morning.start, 1)]
    # and when every occurrence is in the outage's minutes, the fingerprint is muted
    both = [during, _o(day), _b(day, ("14:30", "14:35"))]
    again = notify_run(params, summary("2026-12-05", both), now=dt.datetime(2026, 12, 6, tzinfo=dt.UTC))
    assert {d.action for d in again.decisions if d.fingerprint == during.fingerprint} == {"inhibited"}


def test_backfilling_an_older_date_sends_nothing_for_what_a_later_date_notified_and_keeps_its_state(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "backfill")
    notify_run(params, summary("2026-12-03", [_a("2026-12-03")]), now=dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    before = read_state(state_path(params.store))["alerts"][_a("2026-12-03").fingerprint]
    received = len(receiver.to("/backfill/"))
    # 2026-12-01 was never notified: its A (critical then) is older news; S was never sent at all
    older = summary("2026-12-01", [_a("2026-12-01", "critical"), _s("2026-12-01")])
    outcome = notify_run(params, older, now=dt.datetime(2026, 12, 4, 1, tzinfo=dt.UTC))
    assert _decisions(outcome) == {(A, "oncall"): "superseded", (A, "chat"): "superseded", (S, "chat"): "new"}
    assert len(receiver.to("/backfill/chat/")) == received + 1 and not receiver.to("/backfill/oncall/")
    after = read_state(state_path(params.store))["alerts"][_a("2026-12-03").fingerprint]
    assert after["channels"] == before["channels"] and after["severity"] == "warning"
    assert after["as_of"] == "2026-12-03" and after["first_seen"] == "2026-12-01"


@pytest.mark.parametrize(
    ("interval", "actions"),
    [
        ("24h", ["new", "repeat", "repeat", "repeat"]),  # the default: every open finding, every day
        ("48h", ["new", "suppressed", "repeat", "suppressed"]),
        ("36h", ["new", "suppressed", "repeat", "suppressed"]),  # rounded up to whole days
        ("90m", ["new", "repeat", "repeat", "repeat"]),  # under a day acts as a day
        ("3d", ["new", "suppressed", "suppressed", "repeat"]),
    ],
)
def test_repeat_interval_counts_review_days_whatever_the_minute_a_daily_cron_runs(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, interval: str, actions: list[str]
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/interval-{interval}/{TOKEN}")
    params = write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}], "repeat_interval": interval})
    seen = []
    for offset in range(4):
        day = (dt.date(2026, 12, 1) + dt.timedelta(days=offset)).isoformat()
        # the cron runs a few minutes earlier every day (less than 24h of wall clock between runs)
        now = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC) + dt.timedelta(days=offset, minutes=-7 * offset)
        outcome = notify_run(params, summary(day, [_s(day)]), now=now)
        seen += [d.action for d in outcome.decisions]
    assert seen == actions


@pytest.mark.parametrize(
    ("alerts", "key", "message"),
    [
        ({"channels": [{"name": "x", "url": "https://hooks.slack.com/services/T00/B00/LITERALsecret1"}]},
         "alerts.channels.0.url", "must be an ${ENV} reference"),
        ({"channels": [{"name": "x", "url": "${X_URL}"}], "routes": [{"channels": ["y"]}]},
         "alerts", "routes.0.channels: unknown channel y"),
        ({"channels": [{"name": "x", "url": "${X_URL}"}, {"name": "x", "url": "${Y_URL}"}]},
         "alerts", "channel names must be unique: x"),
        ({"repeat_interval": "soon"}, "alerts.repeat_interval", "not a duration"),
        ({"channels": [{"name": "x", "url": "${X_URL}", "min_severity": "loud"}]},
         "alerts.channels.0.min_severity", "unknown severity"),
        ({"inhibit": [{"source": {}, "target": {}, "equal": ["host"]}]}, "alerts.inhibit.0.equal.0", "area"),
    ],
)  # fmt: skip
def test_bad_alerts_params_are_one_line_naming_the_key_and_never_the_url(
    tmp_path: Path, alerts: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ParamsError) as info:
        write_params(tmp_path, alerts)
    assert info.value.key == key
    assert message in str(info.value)
    assert "LITERALsecret1" not in str(info.value) and "hooks.slack.com" not in str(info.value)


@pytest.mark.parametrize(("text", "hours"), [("24h", 24), ("2d", 48), ("1d12h", 36), ("90m", 1.5), (6, 6)])
def test_repeat_interval_takes_durations(tmp_path: Path, text: Any, hours: float) -> None:
    assert write_params(tmp_path, {"repeat_interval": text}).alerts.repeat_interval == hours


def test_with_send_resolved_off_a_cleared_finding_is_not_sent_and_comes_back_as_new(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/quiet/{TOKEN}")
    params = write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}], "send_resolved": False})
    actions = []
    for day, findings in (("2026-12-01", [_s("2026-12-01")]), ("2026-12-02", []), ("2026-12-03", [_s("2026-12-03")])):
        outcome = notify_run(params, summary(day, findings), now=dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
        actions.append([d.action for d in outcome.decisions])
    assert actions == [["new"], ["cleared"], ["new"]]
    assert len(receiver.to("/quiet/")) == 2


def test_a_damaged_state_is_set_aside_and_notifying_goes_on(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "damaged")
    path = state_path(params.store)
    path.parent.mkdir(parents=True)
    path.write_text('{"alerts": [', encoding="utf-8")
    outcome = notify_run(params, summary("2026-12-01", [_s("2026-12-01")]), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    assert [d.action for d in outcome.decisions] == ["new"] and outcome.ok
    assert read_state(path)["alerts"]
    assert [p.name for p in path.parent.glob("state.json.damaged-*")] == ["state.json.damaged-20261202T000000"]


def test_the_channel_url_and_its_token_are_redacted_wherever_they_would_appear(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsreview.secrets import redact

    token = "Unique0nlyHere9876"
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/redact/{token}?sig=Sig7Value7Long")
    params = write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}]})
    notify_run(params, summary("2026-12-01", [_s("2026-12-01")]), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    text = f"POST /redact/{token} failed; sig=Sig7Value7Long"
    assert token not in redact(text) and "Sig7Value7Long" not in redact(text)
    assert "redact" in redact(text)  # plain words of the path are not secrets


def test_alerts_is_a_kernel_package_that_imports_no_area_and_is_no_area() -> None:
    import ast

    from opsreview import areas

    folder = Path(__file__).resolve().parents[1] / "lib" / "opsreview" / "alerts"
    imported = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
    tops = {m.split(".")[1] for m in imported if m.startswith("opsreview.")}
    assert not tops & {"logs", "probes", "database", "payments", "backups"}, tops
    assert "alerts" not in areas.BY_NAME


def test_the_summary_table_reads_back_what_notify_recorded(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsreview.alerts.notify import notifications_table, record_outcome

    params = _params(tmp_path, receiver, monkeypatch, "record")
    day = summary("2026-12-01", [_a("2026-12-01", "critical")])
    outcome = notify_run(params, day, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    recorded = json.loads(json.dumps(record_outcome(day, outcome)))
    table = notifications_table(recorded)
    assert sorted(table["channel"]) == ["chat", "oncall"] and set(table["action"]) == {"new"}
    assert notifications_table(day).empty


def test_the_day_page_section_lists_deliveries_and_decisions_escaped(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsreview.alerts.notify import notifications_html, record_outcome

    params = _params(tmp_path, receiver, monkeypatch, "html")
    day = summary("2026-12-01", [finding("logs", "logs.5xx_rate", "GET /a?<b>", "critical")])
    page = notifications_html(record_outcome(day, notify_run(params, day, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))))
    assert page.count("<td>new</td>") == 2 and "GET /a?&lt;b&gt;" in page and "<b>" not in page
    assert TOKEN not in page
    assert "Not notified" in notifications_html(day)


@pytest.mark.parametrize(
    "blind", ["logs.source_failed", "logs.notebook_failed", "logs.no_data", "logs.file_error", "errors.file_error"]
)
def test_a_finding_of_an_area_that_saw_nothing_today_has_not_cleared(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, blind: str
) -> None:
    area = blind.split(".")[0]
    params = _params(tmp_path, receiver, monkeypatch, f"blind-{blind}")
    before = finding(area, f"{area}.5xx_rate", "POST /api/orders", "warning", day="2026-12-01")
    notify_run(params, summary("2026-12-01", [before], (area,)), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    today = [finding(area, blind, "access_logs", "critical", day="2026-12-02")]
    outcome = notify_run(params, summary("2026-12-02", today, (area,)), now=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    actions = {(d.finding.check, d.channel): d.action for d in outcome.decisions}
    assert actions == {(blind, "chat"): "new", (blind, "oncall"): "new"}  # and no RESOLVED for the 5xx
    record = read_state(state_path(params.store))["alerts"][before.fingerprint]
    assert record["status"] == "firing"


@pytest.mark.parametrize(
    ("area", "blind"),
    [("database", "coverage"), ("payments", "coverage"), ("backups", "coverage"), ("database", "collector_error")],
)
def test_an_area_with_a_coverage_fact_or_a_failed_collector_resolves_nothing_that_day(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, area: str, blind: str
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, f"cov-{area}-{blind}")
    before = finding(area, f"{area}.slow", "orders", "warning", day="2026-12-01")
    notify_run(params, summary("2026-12-01", [before], (area,)), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    today = summary("2026-12-02", [], (area,))
    if blind == "coverage":  # the area ran, but could not read an input: a coverage fact, no finding
        today["coverage"] = [{"area": area, "section": "x", "missing": "No input", "checklist": ["Backups"]}]
    else:
        today = summary("2026-12-02", [finding(area, f"{area}.{blind}", "db-1", "info", day="2026-12-02")], (area,))
    outcome = notify_run(params, today, now=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    assert [d for d in outcome.decisions if d.action == "resolved"] == []
    assert read_state(state_path(params.store))["alerts"][before.fingerprint]["status"] == "firing"
    # the next day, with all of its input and the finding gone, it resolves
    done = notify_run(params, summary("2026-12-03", [], (area,)), now=dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    assert [(d.fingerprint, d.action) for d in done.decisions] == [(before.fingerprint, "resolved")]


def test_findings_sharing_a_fingerprint_are_one_alert_the_most_severe_with_a_count(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(tmp_path, receiver, monkeypatch, "alike")
    day = "2026-12-01"
    same = [finding("database", "database.slow_shape", "", sev, day=day) for sev in ("warning", "critical", "warning")]
    outcome = notify_run(params, summary(day, same), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    assert [(d.channel, d.finding.severity.name, d.alike) for d in outcome.decisions] == [
        ("oncall", "critical", 2),
        ("chat", "critical", 2),
    ]
    body = receiver.to("/alike/chat/")[0].json()["message"]
    assert "- NEW critical database.slow_shape" in body and "(+2 alike)" in body


def test_a_store_that_cannot_hold_the_state_is_one_clear_error(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsreview.exceptions import OutputsError

    params = _params(tmp_path, receiver, monkeypatch, "nostore")
    Path(params.store).write_text("a file where the store folder should be", encoding="utf-8")
    with pytest.raises(OutputsError, match="_alerts/state.json: notification state not readable or writable"):
        notify_run(params, summary("2026-12-01", [_s("2026-12-01")]), now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
