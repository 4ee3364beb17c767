"""Checks that ask other parts of opsreview, imported only when the check runs: a backup
younger than the RPO (the ``backups`` area's inventory) and the alert channels' test message
(``alerts.notify.send_test``). When that part is not installed (an older opsreview, or an
area not yet merged) the check is *not checked*, saying so: never a crash, never a pass.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pandas as pd

from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.secrets import redact


def check_backup(params: Params, now: dt.datetime) -> CheckResult:
    """Pass when the newest successful backup finished less than ``backups.rpo_hours`` ago."""
    try:
        source = importlib.import_module("opsreview.backups.source")
        inventory = source.inventory
        settings = params.backups  # type: ignore[attr-defined]
        rpo_hours = float(settings.rpo_hours)
    except (ImportError, AttributeError):
        return CheckResult(
            "backup",
            NOT_CHECKED,
            "backups area not available",
            remedy="install an opsreview with the backups area and configure params.backups",
        )
    try:
        frame: pd.DataFrame = inventory(settings, now=now)
    except Exception as exc:  # noqa: BLE001 - a failing source is a result of the gate, never a crash
        reason = f"backup inventory failed: {redact(f'{type(exc).__name__}: {exc}')[:300]}"
        return CheckResult("backup", FAIL, reason, failures=[("backups", reason)])
    if frame is None or len(frame) == 0:
        if getattr(settings, "configured", None) is True:  # sources configured, and no backup in them
            reason = "no backup found in the configured backup sources"
            return CheckResult("backup", FAIL, reason, {"rpo_hours": rpo_hours}, [("backups", reason)])
        return CheckResult(
            "backup",
            NOT_CHECKED,
            "no backup source configured or no backup found",
            {"rpo_hours": rpo_hours},
            remedy="configure params.backups (archive folder, PBM status or manifest)",
        )
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
        notify = importlib.import_module("opsreview.alerts.notify")
        send_test = notify.send_test
    except (ImportError, AttributeError):
        return CheckResult(
            "alerts",
            NOT_CHECKED,
            "alerts not available",
            remedy="install an opsreview with alerts and configure an alert channel",
        )
    try:
        results = list(send_test(params))
    except Exception as exc:  # noqa: BLE001 - a failing channel is a result of the gate, never a crash
        reason = f"sending the test message failed: {redact(f'{type(exc).__name__}: {exc}')[:300]}"
        return CheckResult("alerts", FAIL, reason, failures=[("alerts", reason)])
    if not results:
        return CheckResult(
            "alerts", NOT_CHECKED, "no alert channel configured", remedy="configure an alert channel in params"
        )
    rows = [
        {"channel": str(r.channel), "ok": bool(r.ok), "error": None if r.error is None else redact(str(r.error))}
        for r in results
    ]
    failed = [r for r in rows if not r["ok"]]
    evidence = {"channels": rows}
    if failed:
        failures = [(str(r["channel"]), f"{r['channel']}: test message not delivered: {r['error']}") for r in failed]
        return CheckResult("alerts", FAIL, "; ".join(reason for _, reason in failures), evidence, failures)
    return CheckResult("alerts", PASS, f"test message delivered on {len(rows)} channel(s)", evidence)
