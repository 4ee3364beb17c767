"""The demo's planted incidents on the incident timeline of the whole run (the session's
``demo_run``: `opsreview run` over the built-in demo, as tests/test_end_to_end.py uses it).

The demo plants a 5xx burst on POST /api/orders and a new MongoNetworkTimeoutError at the same
minutes (14:10-14:30): the access logs and the application logs see one incident. The probe
outage (11:02), the webhook outage (13:10-13:50), the replication-lag spike (15:00-17:00) and
the decline spike (20:00) are planted at other times: each is an incident of its own.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def _truth(truth: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(i for i in truth["incidents"] if i["kind"] == kind)


def _overlaps(incident: dict[str, Any], planted: dict[str, Any]) -> bool:
    return pd.Timestamp(incident["start"]) < pd.Timestamp(planted["end"]) and pd.Timestamp(
        planted["start"]
    ) <= pd.Timestamp(incident["end"])


def check_demo_incidents(incidents: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    """What the demo's ground truth says the timeline must show (kept apart from the fixture so
    it can be checked against any run of the demo)."""
    burst = _truth(truth, "5xx_burst")
    [joint] = [i for i in incidents if "logs/logs.5xx_burst/POST /api/orders" in i["fingerprints"]]
    assert {"logs", "errors"} <= set(joint["areas"]), joint
    assert any(fp.startswith("errors/errors.new_fingerprint/") for fp in joint["fingerprints"]), joint
    assert _overlaps(joint, burst) and joint["severity"] == "critical"
    assert "POST /api/orders 5xx" in joint["story"] and "MongoNetworkTimeoutError ×" in joint["story"]
    assert joint["story"].startswith(pd.Timestamp(joint["start"]).strftime("%H:%M"))
    assert f"({truth['timezone']})" in joint["story"]
    # the demo's release of 14:05 (deploys.jsonl) is attached to the burst that followed it
    before = [d for d in truth["deploys"] if pd.Timestamp(d["at"]) <= pd.Timestamp(burst["start"])]
    release = max(before, key=lambda d: pd.Timestamp(d["at"]))
    assert [d["version"] for d in joint["deploys"]] == [release["version"]], joint["deploys"]

    outage = _truth(truth, "health_outage")
    [probe] = [i for i in incidents if "probes/probes.outage/api-health" in i["fingerprints"]]
    assert pd.Timestamp(probe["start"]) == pd.Timestamp(outage["start"]) and probe["areas"] == ["probes"]
    assert not _overlaps(probe, burst)

    # ranked: critical first, and among the critical ones the incident two areas agree on leads
    severities = [i["severity"] for i in incidents]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    first_critical_single = next(n for n, i in enumerate(incidents) if len(i["areas"]) == 1)
    assert incidents.index(joint) < first_critical_single


def test_planted_incidents_of_the_same_minutes_are_one_incident(demo_run: dict[str, Any]) -> None:
    summary = demo_run["summary"]
    assert summary, demo_run["proc"].stderr[-2000:]
    check_demo_incidents(summary["incidents"], demo_run["truth"])
    day_page = (demo_run["day_dir"] / "index.html").read_text(encoding="utf-8")
    assert "<h2>Incidents</h2>" in day_page and "POST /api/orders 5xx" in day_page
