"""End to end: `opsreview run` on generated demo data finds every planted incident."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsreview.run.execute import STANDALONE_NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
JWT_PREFIX = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTFm"


def findings_mentioning(summary: dict[str, Any], *needles: str, area: str | None = None) -> list[dict[str, Any]]:
    found = []
    for finding in summary["findings"]:
        text = json.dumps(finding)
        if (
            (area is None or finding["area"] == area)
            and all(n in text for n in needles)
            and finding["severity"] != "info"
        ):
            found.append(finding)
    return found


def test_run_exits_1_with_every_notebook_and_source_ok(demo_run: dict[str, Any]) -> None:
    proc = demo_run["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = demo_run["summary"]
    assert summary["status"] == "alert"
    notebooks = {nb["name"]: nb["status"] for nb in summary["notebooks"]}
    expected = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - set(STANDALONE_NOTEBOOKS)
    assert notebooks == dict.fromkeys(expected, "ok")  # the pre-deployment notebook is not a daily one
    assert all(s["status"] == "ok" for s in summary["sources"]), summary["sources"]
    rows = {s["name"]: s["rows"] for s in summary["sources"]}
    assert rows.get("access_logs") == demo_run["truth"]["requests_on_review_day"]  # the day's rows, exactly


def test_files_written(demo_run: dict[str, Any]) -> None:
    day_dir: Path = demo_run["day_dir"]
    names = {p.name for p in day_dir.iterdir()}
    for nb in demo_run["summary"]["notebooks"]:
        assert {nb["html"], nb["ipynb"]} <= names
    assert {"index.html", "summary.json"} <= names
    assert day_dir.name in (demo_run["out"] / "index.html").read_text()
    size = sum(p.stat().st_size for p in day_dir.rglob("*") if p.is_file())
    assert size <= 10 * 1024 * 1024, f"day folder is {size / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("kind", "needles", "area"),
    [
        ("5xx_burst", ("/api/orders",), "logs"),
        ("latency_regression", ("/api/products/:id",), "logs"),
        ("auth_401_burst", ("203.0.113.77",), "logs"),
        ("secret_in_url", ("/api/users/me",), "logs"),
        ("new_error_fingerprint", ("MongoNetworkTimeoutError",), "errors"),
        ("health_outage", ("api-health",), "probes"),
        ("tls_expiry", ("api-tls",), "probes"),
    ],
)
def test_planted_incident_is_a_finding(
    demo_run: dict[str, Any], kind: str, needles: tuple[str, ...], area: str
) -> None:
    assert any(i["kind"] == kind for i in demo_run["truth"]["incidents"])
    assert findings_mentioning(demo_run["summary"], *needles, area=area), (
        f"no {area} finding for {kind}: " + json.dumps([f["title"] for f in demo_run["summary"]["findings"]], indent=1)
    )


def test_leaked_token_is_masked_everywhere(demo_run: dict[str, Any]) -> None:
    for path in demo_run["day_dir"].rglob("*"):
        if path.is_file():
            assert JWT_PREFIX not in path.read_text(errors="replace"), path.name


def _database(summary: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [
        f for f in summary["findings"] if f["area"] == "database" and f["check"] == check and f["severity"] != "info"
    ]


def test_every_planted_database_problem_is_a_finding(demo_run: dict[str, Any]) -> None:
    truth = demo_run["truth"]["database"]
    summary = demo_run["summary"]
    titles = json.dumps([f["title"] for f in summary["findings"] if f["area"] == "database"], indent=1)

    scan = truth["collscan_shape"]
    collscans = [f for f in _database(summary, "database.collscan") if f["evidence"]["ns"] == scan["ns"]]
    assert len(collscans) == 1, titles
    evidence = collscans[0]["evidence"]
    assert evidence["count"] == scan["count"]
    assert all(field in evidence["shape"] for field in scan["filter_fields"])
    new = [f for f in _database(summary, "database.new_slow_shape") if f["evidence"]["shape"] == evidence["shape"]]
    assert new, "the COLLSCAN shape is new since the baseline: " + titles
    assert any(f["evidence"]["command"] == scan["suggestion"] for f in _database(summary, "database.index_suggestion"))

    unused = truth["unused_index"]
    assert [(f["evidence"]["ns"], f["evidence"]["index"]) for f in _database(summary, "database.unused_index")] == [
        (unused["ns"], unused["name"])
    ]
    redundant = truth["redundant_index"]
    assert [
        (f["evidence"]["ns"], f["evidence"]["index"], f["evidence"]["covered_by"])
        for f in _database(summary, "database.redundant_index")
    ] == [(redundant["ns"], redundant["name"], redundant["covered_by"])]

    lag = truth["lag_spike"]
    lags = _database(summary, "database.repl_lag")
    assert [f["evidence"]["member"] for f in lags] == [lag["member"]]  # the other secondary stays in sync
    assert lags[0]["value"] == pytest.approx(lag["max_lag_s"], abs=1)

    (validator,) = _database(summary, "database.no_validator")
    assert validator["evidence"]["collections"] == truth["no_validator"]

    md5 = truth["md5_passwords"]
    hashes = [f for f in _database(summary, "database.password_hash") if f["evidence"]["ns"] == md5["ns"]]
    assert [(f["severity"], f["evidence"]["md5_like"], f["evidence"]["sampled"]) for f in hashes] == [
        ("critical", md5["md5_like"], md5["sampled"])
    ]


def _payments(summary: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [
        f for f in summary["findings"] if f["area"] == "payments" and f["check"] == check and f["severity"] != "info"
    ]


def test_every_planted_payment_problem_is_a_finding(demo_run: dict[str, Any]) -> None:
    truth = demo_run["truth"]["payments"]
    summary = demo_run["summary"]
    text = json.dumps([f for f in summary["findings"] if f["area"] == "payments"])

    spike = truth["decline_spike"]
    spikes = _payments(summary, "payments.decline_spike")
    assert {f["evidence"]["dimension_value"] for f in spikes} >= {spike["decline_code"], spike["card_bin_prefix"]}, text
    assert _payments(summary, "payments.auth_rate_hour"), "the spike's hour is below its baseline band: " + text

    outage = truth["webhook_outage"]
    (failures,) = _payments(summary, "payments.webhook_failures")
    assert failures["evidence"]["failed_deliveries"] >= outage["failed_deliveries"]
    # the outage's events were all delivered later (a stray failure at the day's very end may still be waiting)
    assert failures["value"] > 0 and failures["evidence"]["never_acknowledged"] < outage["retried_events"] / 10
    pending = _payments(summary, "payments.webhook_pending")
    assert not pending or pending[0]["value"] < outage["retried_events"] / 10

    (stuck,) = _payments(summary, "payments.stuck")
    assert sorted(r["payment_intent"] for r in stuck["evidence"]["rows"]) == sorted(truth["stuck_payments"])
    (double,) = _payments(summary, "payments.double_charge")
    assert [r["key"] for r in double["evidence"]["rows"]] == [truth["double_charge"]["order_id"]]
    (mismatch,) = _payments(summary, "payments.amount_mismatch")
    row = mismatch["evidence"]["rows"][0]
    expected = truth["amount_mismatch"]
    assert (row["order_id"], row["order_amount"], row["payment_amount"]) == (
        expected["order_id"],
        expected["order_amount"],
        expected["paid_amount"],
    )

    pan = truth["pan_in_log"]
    (exposure,) = _payments(summary, "payments.pan_exposure")
    assert f"{pan['card_bin']}…{pan['card_last4']}" in exposure["title"]
    assert exposure["severity"] == "critical"


def test_the_logged_card_number_is_in_no_output(demo_run: dict[str, Any]) -> None:
    import re

    pan = demo_run["truth"]["payments"]["pan_in_log"]
    data = demo_run["day_dir"].parent.parent / "demo-data"
    text = (data / pan["file"]).read_text(encoding="utf-8")
    (number,) = set(re.findall(rf"{pan['card_bin']}\d{{6,9}}{pan['card_last4']}", text))
    for path in [*demo_run["day_dir"].rglob("*"), *(data / "store").rglob("*.parquet")]:
        if path.is_file():
            assert number.encode() not in path.read_bytes(), path


def test_every_planted_backup_problem_is_a_finding(demo_run: dict[str, Any]) -> None:
    truth = demo_run["truth"]["backups"]
    found = {}
    for f in demo_run["summary"]["findings"]:
        if f["area"] == "backups":
            found.setdefault(f["check"], []).append(f)
    missed = truth["missed_night"]
    assert [(f["evidence"]["after"], f["evidence"]["before"]) for f in found["backups.schedule_gap"]] == [
        (missed["after"], missed["before"])
    ]
    cut = truth["truncated"]["name"]
    for check in ("backups.archive_truncated", "backups.size_drop", "backups.manifest_mismatch"):
        assert [f["subject"] for f in found[check]] == [cut], check
    assert [f["subject"] for f in found["backups.drill_age"]] == [truth["drill"]["backup"]]
    assert "backups.rpo" not in found and "backups.collections_missing" not in found
