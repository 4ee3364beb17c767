"""Checks that ask other parts of opsreview: a backup younger than the RPO (the ``backups``
area's :func:`~opsreview.backups.source.inventory`, read now from the configured sources) and
the alert channels' test message (:func:`opsreview.alerts.notify.send_test`). No backup source
or no alert channel configured is *not checked*, saying what to configure: never a pass; a
source or channel that fails is a FAIL in one redacted line, never a crash of the gate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from opsreview.alerts.notify import send_test
from opsreview.backups.source import inventory
from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.secrets import redact


def check_backup(params: Params, now: dt.datetime) -> CheckResult:
    """Pass when the newest successful backup finished less than ``backups.rpo_hours`` ago."""
    settings = params.backups
    rpo_hours = float(settings.rpo_hours)
    if not settings.configured:
        return CheckResult(
            "backup",
            NOT_CHECKED,
            "no backup source configured",
            {"rpo_hours": rpo_hours},
            remedy="configure params.backups (archives folder, pbm or manifests)",
        )
    try:
        frame: pd.DataFrame = inventory(settings, now=now)
    except Exception as exc:  # noqa: BLE001 - a failing source is a result of the gate, never a crash
        reason = f"backup inventory failed: {redact(f'{type(exc).__name__}: {exc}')[:300]}"
        return CheckResult("backup", FAIL, reason, failures=[("backups", reason)])
    if len(frame) == 0:
        reason = f"no backup found in the configured backup sources (last {settings.lookback_days} days)"
        return CheckResult("backup", FAIL, reason, {"rpo_hours": rpo_hours}, [("backups", reason)])
    good = frame[frame["ok"].fillna(False).astype(bool) & frame["finished_at"].notna()]
    evidence: dict[str, Any] = {"rpo_hours": rpo_hours, "backups_seen": int(len(frame)), "successful": int(len(good))}
    if good.empty:
        reason = f"none of {len(frame)} backup(s) succeeded"
        return CheckResult("backup", FAIL, reason, evidence, [("backups", reason)])
    newest = good.sort_values("finished_at").iloc[-1]
    finished = pd.Timestamp(newest["finished_at"]).to_pydatetime()
    age_h = (now - finished).total_seconds() / 3600
    evidence.update(
        {
            "newest": str(newest["name"]),
            "kind": str(newest.get("kind", "")),
            "finished_at": finished.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "age_hours": round(age_h, 2),
            "size_bytes": None if pd.isna(newest.get("size_bytes")) else int(newest["size_bytes"]),
        }
    )
    if age_h > rpo_hours:
        reason = f"newest successful backup {newest['name']} is {age_h:.1f} h old, RPO {rpo_hours:g} h"
        return CheckResult("backup", FAIL, reason, evidence, [(str(newest["name"]), reason)])
    return CheckResult("backup", PASS, f"{newest['name']} finished {age_h:.1f} h ago (RPO {rpo_hours:g} h)", evidence)


def check_alerts(params: Params) -> CheckResult:
    """Pass when every configured alert channel delivered its test message."""
    try:
        results = list(send_test(params))
    except Exception as exc:  # noqa: BLE001 - a failing channel is a result of the gate, never a crash
        reason = f"sending the test message failed: {redact(f'{type(exc).__name__}: {exc}')[:300]}"
        return CheckResult("alerts", FAIL, reason, failures=[("alerts", reason)])
    if not results:
        return CheckResult(
            "alerts", NOT_CHECKED, "no alert channel configured", remedy="configure a channel in params.alerts.channels"
        )
    rows = [{"channel": r.channel, "ok": r.ok, "error": redact(r.error) if r.error else None} for r in results]
    failed = [r for r in rows if not r["ok"]]
    evidence = {"channels": rows}
    if failed:
        failures = [(str(r["channel"]), f"{r['channel']}: test message not delivered: {r['error']}") for r in failed]
        return CheckResult("alerts", FAIL, "; ".join(reason for _, reason in failures), evidence, failures)
    return CheckResult("alerts", PASS, f"test message delivered on {len(rows)} channel(s)", evidence)
