"""Every area's findings say what they are about (``subject``, stable across days) and, when
they have one, their anomaly window (``start``/``end``, local ISO with offset): what the alerts'
fingerprint and the incident timeline are built from."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsreview.database import findings as dbfindings
from opsreview.database.params import DatabaseParams
from opsreview.findings import Finding
from opsreview.logs.access.findings import latency_findings
from opsreview.logs.thresholds import LogThresholds
from opsreview.payments import findings as payfindings
from opsreview.payments.models import DELIVERIES
from opsreview.payments.params import PaymentsParams
from opsreview.probes import analysis as probe_analysis
from opsreview.probes import findings as probe_findings
from opsreview.probes.params import ProbesParams
from tests.synthetic_logs import TZ, local
from tests.test_logfindings import DAY, params_file, run_all
from tests.test_payments_webhooks import delivery, frame
from tests.test_probe_analysis import BERLIN, series

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def only(found: list[Finding], check: str) -> Finding:
    matching = [f for f in found if f.check == check]
    assert len(matching) == 1, [f.title for f in found]
    return matching[0]


def no_volatile_subject(found: list[Finding]) -> None:
    """Subjects carry no time of day and no count: the same finding tomorrow has the same one."""
    for f in found:
        assert f.subject, f"{f.check} has no subject"
        assert not re.search(r"\d\d:\d\d", f.subject), f.subject
        assert str(f.value) not in f.subject.split() or f.value is None, (f.check, f.subject)
        for stamp in (f.start, f.end):
            assert stamp is None or ISO.match(stamp), (f.check, stamp)


# --- logs and errors: the planted day of test_logfindings --------------------------------------


@pytest.fixture(scope="module")
def log_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    return run_all(params_file(tmp_path_factory.mktemp("windows"), plant=True))


def local_iso(hhmm: str) -> str:
    return local(DAY, hhmm).tz_convert(TZ).isoformat()


def test_log_findings_carry_subject_and_window(log_findings: list[Finding]) -> None:
    burst = only(log_findings, "logs.5xx_burst")
    assert (burst.subject, burst.start, burst.end) == ("POST /api/orders", local_iso("14:10"), local_iso("14:30"))
    assert burst.fingerprint == "logs/logs.5xx_burst/POST /api/orders"
    assert burst.evidence["window"]["start"] == burst.start  # the evidence is as it was

    stuffing = only(log_findings, "logs.auth_failure_burst")
    assert stuffing.subject == "203.0.113.77" and stuffing.start == local_iso("03:12")

    gap = only(log_findings, "logs.gap")
    assert (gap.subject, gap.start, gap.end) == ("api-2", local_iso("12:00"), local_iso("12:30"))

    regression = only(log_findings, "logs.p95_regression")  # the slow hours from 09:00, as local hours
    assert regression.subject == "GET /api/products/:id"
    assert regression.start == local_iso("09:00")
    assert regression.end is not None and regression.end > regression.start

    new_error = only(log_findings, "errors.new_fingerprint")
    assert new_error.subject == new_error.evidence["fingerprint"]
    assert new_error.start == new_error.evidence["window"]["start"] and new_error.start.startswith(f"{DAY}T14:10")

    leak = only(log_findings, "logs.secret_in_url")  # a few leaks hours apart: no anomaly window
    assert leak.subject == "GET /api/users/me jwt" and leak.start is None

    unparsed = only(log_findings, "logs.unparsed")  # the file's name carries its date; the host stays
    assert unparsed.subject == "api-1" and unparsed.start is None
    no_volatile_subject(log_findings)


def test_latency_window_is_the_longest_run_of_flagged_local_hours() -> None:
    comparison = pd.DataFrame(
        [{"route": "GET /a", "timed": 500, "p50": 50.0, "p95": 400.0, "p99": 500.0, "base_p95": 100.0,
          "ratio": 4.0, "share_above": 0.5, "p_value": 1e-9}]
    )  # fmt: skip
    hours = pd.DataFrame({"route": ["GET /a"] * 4, "hour": [3, 9, 10, 11]})
    day = dt.date(2026, 3, 29)  # Europe/Berlin springs forward at 02:00: offsets differ across the day
    [finding] = latency_findings(comparison, hours, LogThresholds(), "Europe/Berlin hours", None, "Europe/Berlin", day)
    assert (finding.start, finding.end) == ("2026-03-29T09:00:00+02:00", "2026-03-29T12:00:00+02:00")
    [without_day] = latency_findings(comparison, hours, LogThresholds())
    assert without_day.start is None and without_day.subject == "GET /a"
    # over the fixed limit all day long (a chronically slow route): a subject, no anomaly window
    slow = comparison.assign(p95=1500.0, ratio=1.0)
    profile = pd.DataFrame({"route": ["GET /a"] * 2, "hour": [13, 14], "timed": [200, 200], "p95": [1600.0, 1500.0]})
    [chronic] = latency_findings(slow, hours.iloc[0:0], LogThresholds(), "h", profile, "Europe/Berlin", day)
    assert chronic.check == "logs.p95_route" and chronic.subject == "GET /a" and chronic.start is None
    assert chronic.evidence["hours_over_threshold"] == "13:00-15:00 (h)"  # the hours stay evidence


# --- probes ------------------------------------------------------------------------------------


def test_probe_outage_and_gap_windows_in_the_review_zone() -> None:
    settings = ProbesParams()
    outages = probe_analysis.find_outages(series("uuddddduu", probe="api-health"), min_failures=2)
    [outage] = probe_findings.outage_findings(outages, settings, BERLIN)
    # T0 is 10:00 UTC = 11:00 in Berlin; down from the third minute to the first up again
    assert outage.subject == "api-health"
    assert outage.start == "2026-11-23T11:02:00+01:00" and outage.end is not None
    assert pd.Timestamp(outage.end) > pd.Timestamp(outage.start)
    assert outage.evidence["start"] == outages.iloc[0]["start"].isoformat()  # evidence unchanged

    gaps = pd.DataFrame(
        {"probe": ["api"], "source": ["probe"], "gap_start": [pd.Timestamp("2026-11-23T10:00Z")],
         "gap_end": [pd.Timestamp("2026-11-23T10:40Z")], "gap_min": [40.0]}
    )  # fmt: skip
    day = pd.DataFrame({"check": ["http"], "probe": ["api"]})
    [gap] = probe_findings.data_findings(day, gaps, settings, dt.date(2026, 11, 23), BERLIN)
    assert (gap.subject, gap.start, gap.end) == ("api", "2026-11-23T11:00:00+01:00", "2026-11-23T11:40:00+01:00")
    no_volatile_subject([outage, gap])


# --- database ----------------------------------------------------------------------------------

UTC = dt.UTC


def db_review(**tables: Any) -> Any:
    empty = pd.DataFrame()
    base = {
        "params": DatabaseParams(),
        "tz": ZoneInfo("Europe/Berlin"),
        "extremes": empty,
        "state": empty,
        "connection_churn": {},
        "current_ops": empty,
        "disk": {},
        "member_lag": empty,
        "lag_episodes": pd.DataFrame(columns=["member", "start", "end", "max_lag_s", "samples"]),
        "unhealthy": empty,
    }
    return SimpleNamespace(**(base | tables))


def test_database_windows_connections_long_ops_and_lag() -> None:
    at = pd.Timestamp("2026-11-23T13:15:00Z")
    review = db_review(
        extremes=pd.DataFrame(
            [{"host": "db-1:27017", "conn_used_max": 0.98, "conn_used_at": at, "cache_dirty_max": None, "queue_max": None}]
        ),
        current_ops=pd.DataFrame(
            [{"host": "db-1:27017", "opid": 7, "op": "query", "ns": "shop.orders", "secs_running": 120.0,
              "ts": at, "plan_summary": "COLLSCAN", "shape": "{}", "app_name": "api"}]
        ),
        member_lag=pd.DataFrame(
            [{"member": "db-3:27017", "lag_max_s": 118.0, "lag_p95_s": 90.0, "lag_max_at": pd.Timestamp("2026-11-23T15:00Z")}]
        ),
        lag_episodes=pd.DataFrame(
            [{"member": "db-3:27017", "start": pd.Timestamp("2026-11-23T09:00Z"), "end": pd.Timestamp("2026-11-23T09:10Z"),
              "max_lag_s": 20.0, "samples": 2},
             {"member": "db-3:27017", "start": pd.Timestamp("2026-11-23T14:15Z"), "end": pd.Timestamp("2026-11-23T15:45Z"),
              "max_lag_s": 118.0, "samples": 7}]
        ),
    )  # fmt: skip
    found = dbfindings.server_findings(review) + dbfindings.replication_findings(review)
    conns = only(found, "database.connections")
    assert (conns.subject, conns.start, conns.end) == (
        "db-1:27017",
        "2026-11-23T14:15:00+01:00",
        "2026-11-23T14:15:00+01:00",
    )
    long_op = only(found, "database.long_op")  # running since two minutes before it was seen
    assert long_op.subject == "db-1:27017 query shop.orders"
    assert (long_op.start, long_op.end) == ("2026-11-23T14:13:00+01:00", "2026-11-23T14:15:00+01:00")
    lag = only(found, "database.repl_lag")  # the episode holding the peak, not the morning's
    assert (lag.subject, lag.start, lag.end) == ("db-3:27017", "2026-11-23T15:15:00+01:00", "2026-11-23T16:45:00+01:00")
    assert lag.evidence["episodes"][0].startswith("2026-11-23T10:00:00+01:00")  # evidence unchanged
    no_volatile_subject(found)


def test_cache_dirty_and_cache_full_of_one_host_have_distinct_fingerprints() -> None:
    at = pd.Timestamp("2026-11-23T13:15:00Z")
    review = db_review(
        extremes=pd.DataFrame(
            [{"host": "db-1:27017", "conn_used_max": None, "cache_dirty_max": 0.25, "cache_dirty_at": at, "queue_max": None}]
        ),
        state=pd.DataFrame([{"host": "db-1:27017", "cache_used": 0.97, "oplog_window_h": None}]),
    )  # fmt: skip
    found = [f for f in dbfindings.server_findings(review) if f.check == "database.cache"]
    assert sorted(f.subject for f in found) == ["db-1:27017 dirty", "db-1:27017 full"]  # the check id is kept
    assert len({f.fingerprint for f in found}) == 2
    from opsreview.run.timeline import story_fact

    assert sorted(story_fact(f) for f in found) == [
        "db cache 25% dirty on db-1:27017",
        "db cache 97% full on db-1:27017",
    ]
    no_volatile_subject(found)


def test_new_slow_shape_has_its_window_and_a_chronic_slow_shape_none() -> None:
    from tests.test_database_findings import review as shape_review
    from tests.test_database_findings import shape

    row = shape(new=True, count=30, p95_ms=900.0, first_seen=pd.Timestamp("2026-11-23T09:40Z"),
                last_seen=pd.Timestamp("2026-11-23T09:55Z"))  # fmt: skip
    found = dbfindings.query_findings(shape_review([row]))
    new = only(found, "database.new_slow_shape")
    assert new.subject == "find shop.orders k1"
    assert (new.start, new.end) == ("2026-11-23T09:40:00+00:00", "2026-11-23T09:55:00+00:00")  # that review is UTC
    slow = only(found, "database.slow_shape")
    assert slow.subject == new.subject and slow.start is None


def test_a_new_slow_shape_in_a_burst_has_its_peak_hour_as_window() -> None:
    """Runs at 03:00, 10:00-10:19 (20 of them) and 21:40: the window is the burst's, the first
    and last seen stay in evidence; a shape whose runs are spread keeps its first/last seen."""
    from opsreview import engine
    from opsreview.database import models
    from opsreview.database.shapes import shape_table
    from tests.test_database_findings import review as shape_review

    t0 = dt.datetime(2026, 11, 23, tzinfo=UTC)

    def runs(minutes: list[int], key: str) -> list[dict[str, Any]]:
        return [
            {"ts": t0 + dt.timedelta(minutes=m), "host": "db-1:27017", "source": "mongod.log", "ns": "shop.orders",
             "op": "find", "shape_key": key, "shape_key_kind": "queryHash", "shape": '{"filter":{"a":1}}',
             "duration_ms": 900.0, "example": "{}", "plan_summary": "IXSCAN { a: 1 }"}
            for m in minutes
        ]  # fmt: skip

    rows = runs([180, *range(600, 620), 1300], "burst") + runs(list(range(180, 1300, 60)), "spread")
    table = shape_table(engine.connect().from_arrow(models.to_arrow(models.SLOW_QUERIES, rows)))
    table["new"] = True
    found = {f.subject: f for f in dbfindings.query_findings(shape_review(table.to_dict("records")))
             if f.check == "database.new_slow_shape"}  # fmt: skip
    burst, spread = found["find shop.orders burst"], found["find shop.orders spread"]
    assert (burst.start, burst.end) == ("2026-11-23T10:00:00+00:00", "2026-11-23T10:19:00+00:00")
    assert (burst.evidence["first_seen"], burst.evidence["last_seen"], burst.evidence["peak_count"]) == (
        "2026-11-23T03:00:00+00:00", "2026-11-23T21:40:00+00:00", 20)  # fmt: skip
    assert (spread.start, spread.end) == ("2026-11-23T03:00:00+00:00", "2026-11-23T21:00:00+00:00")
    assert "peak_count" not in spread.evidence


# --- payments ----------------------------------------------------------------------------------


def pay_review(**tables: Any) -> Any:
    empty = pd.DataFrame()
    base = {
        "params": PaymentsParams(),
        "tz": ZoneInfo("Europe/Berlin"),
        "day": dt.date(2026, 11, 23),
        "daily": empty,
        "baseline_auth_rate": None,
        "volume_drops": empty,
        "band": empty,
        "spikes": empty,
        "hour_spikes": empty,
        "money": empty,
    }
    return SimpleNamespace(**(base | tables))


def test_payment_hour_windows_decline_spikes_auth_rate_and_volume() -> None:
    review = pay_review(
        hour_spikes=pd.DataFrame(
            [{"dimension": "card_bin", "value": "414709", "declines": 82, "expected": 5.0, "baseline_share": 0.01,
              "hour": "20:00", "spike": True}]
        ),
        spikes=pd.DataFrame(
            [{"dimension": "card_bin", "value": "414709", "declines": 123, "expected": 34.2, "baseline_share": 0.01,
              "spike": True}]
        ),
        band=pd.DataFrame(
            [{"period": pd.Timestamp("2026-11-23T20:00", tz="Europe/Berlin"), "attempts": 240, "auth_rate": 0.68,
              "baseline_p10": 0.90, "baseline_p90": 0.94, "baseline_median": 0.92}]
        ),
        volume_drops=pd.DataFrame(
            [{"period": None, "hour": 13, "attempts": 2, "baseline_median": 80.0, "baseline_days": 7, "share": 0.03}]
        ),
    )  # fmt: skip
    found = payfindings.kpi_findings(review)
    spikes = [f for f in found if f.check == "payments.decline_spike"]
    assert {f.subject for f in spikes} == {"card_bin 414709"}  # the day's and the hour's: one fingerprint
    hourly = next(f for f in spikes if f.evidence.get("hour"))
    assert (hourly.start, hourly.end) == ("2026-11-23T20:00:00+01:00", "2026-11-23T21:00:00+01:00")
    assert next(f for f in spikes if not f.evidence.get("hour")).start is None
    rate = only(found, "payments.auth_rate_hour")
    assert (rate.subject, rate.start, rate.end) == (
        "all payments",
        "2026-11-23T20:00:00+01:00",
        "2026-11-23T21:00:00+01:00",
    )
    drop = only(found, "payments.volume_drop")
    assert (drop.start, drop.end) == ("2026-11-23T13:00:00+01:00", "2026-11-23T14:00:00+01:00")
    no_volatile_subject(found)


def test_webhook_outage_window_is_the_densest_run_of_failed_deliveries() -> None:
    rows = [delivery(m, f"evt_{m}", "handled") for m in range(0, 300, 5)]
    rows += [delivery(30, "evt_x", "signature_failed", 400, None)]  # a stray failure, alone
    rows += [delivery(130 + m, f"evt_o{m}", "error", 500, None) for m in range(0, 40, 2)]  # the outage
    deliveries = frame(DELIVERIES, rows)
    hourly = pd.DataFrame({"period": [pd.Timestamp("2026-03-10T11:00", tz="Europe/Berlin")], "failed": [21]})
    summary = pd.DataFrame(
        [{"deliveries": len(rows), "events_delivered": len(rows), "events_failed": 21, "events_never_acknowledged": 0,
          "failure_rate": 0.25, "failed": 21, "errors": 20, "non_2xx": 21, "max_delivery_delay_s": None,
          "signature_failed": 1, "stale": 0, "lag_p95_s": 1.0, "lag_max_s": 1.0, "pending_events": 0}]
    )  # fmt: skip
    review = pay_review(
        webhook_summary=summary, webhook_hourly=hourly, deliveries=deliveries, endpoint=pd.DataFrame(),
        handled_twice=pd.DataFrame(), pending=pd.DataFrame(),
    )  # fmt: skip
    found = payfindings.webhook_findings(review)
    failures = only(found, "payments.webhook_failures")
    # D0 is 09:00 UTC = 10:00 in Berlin; the outage's failures from minute 130 to 168
    assert (failures.subject, failures.start, failures.end) == (
        "webhook deliveries", "2026-03-10T12:10:00+01:00", "2026-03-10T12:48:00+01:00"
    )  # fmt: skip
    assert only(found, "payments.webhook_signature").start is None
    no_volatile_subject(found)


def test_no_findings_module_leaves_a_finding_without_subject(tmp_path: Path) -> None:
    """Every ``Finding(`` of an area's findings builders passes a subject (read from the source:
    a new finding without one would break the alerts' fingerprint)."""
    root = Path(__file__).resolve().parents[1] / "lib" / "opsreview"
    for path in [*root.glob("*/findings.py"), *root.glob("logs/*/findings.py"), root / "logs" / "health.py"]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\bFinding\(", text):
            call = text[match.start() : match.start() + 1500]
            depth, end = 0, 0
            for i, ch in enumerate(call):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and ch == ")":
                    end = i
                    break
            body = call[:end]
            helper = "subject, start, end" in body  # the areas' own _finding/_f helpers pass it on
            assert "subject=" in body or helper, f"{path.relative_to(root)}: {body[:120]}"
