"""The notification state: what was sent, to which channel, when; kept in the store folder.

One JSON file, ``<store>/_alerts/state.json``, rather than a Parquet table of the store: it is
small (one record per fingerprint ever seen, a ledger per recent date), read whole and rewritten
whole by each notification under a lock, nested (per fingerprint, per channel), and it is not a
day's data to re-ingest: a date-partitioned table replaced per day would lose the history that
the repeat and resolve rules read. It is written atomically (temporary file, then rename) and
holds channel *names* only, never a URL::

    {"version": 1,
     "alerts": {"logs/logs.5xx_rate/GET /api/orders": {
         "area": "logs", "check": "logs.5xx_rate", "subject": "GET /api/orders",
         "title": "...", "severity": "critical", "status": "firing",
         "first_seen": "2026-12-01", "last_seen": "2026-12-03", "as_of": "2026-12-03",
         "channels": {"oncall": {"day": "2026-12-03", "severity": "critical",
                                 "status": "firing", "at": "2026-12-04T06:01:02+00:00"}}}},
     "days": {"2026-12-03": {"notified_at": "...", "sent": {"<fingerprint>": ["firing:oncall"]}}}}
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opsreview.alerts.rules import Decision
from opsreview.findings import Finding
from opsreview.secrets import redact

STATE_DIR = "_alerts"
STATE_FILE = "state.json"
KEEP_DAYS = 90  # ledger of dates, and resolved fingerprints not seen, kept this long


def state_path(store: Path) -> Path:
    return store / STATE_DIR / STATE_FILE


def empty_state() -> dict[str, Any]:
    return {"version": 1, "alerts": {}, "days": {}}


def read_state(path: Path) -> dict[str, Any]:
    """The state, or an empty one when there is none yet; a damaged file is an error naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty_state()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable notification state ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), dict):
        raise ValueError(f"{path}: not a notification state file")
    data.setdefault("days", {})
    return data


def write_text_atomic(path: Path, text: str) -> None:
    """Atomic rewrite: a reader (or a killed run) sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # what a plain open() would create (mkstemp makes 0600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_state(path: Path, state: dict[str, Any]) -> None:
    write_text_atomic(path, redact(json.dumps(state, indent=1, sort_keys=True, default=str)) + "\n")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One notification at a time per store (a second one waits for the first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def apply_day(
    state: dict[str, Any],
    day: dt.date,
    findings: Sequence[Finding],
    decisions: Sequence[Decision],
    delivered: dict[str, bool],
    areas_ran: set[str] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The state after this day's notification. ``delivered``: channel name -> delivered ok.

    A channel whose delivery failed keeps its old record, so the next run (or a re-run of this
    date) sends again what it missed.
    """
    alerts: dict[str, Any] = state.setdefault("alerts", {})
    iso_day, at = day.isoformat(), now.isoformat(timespec="seconds")
    ledger = state.setdefault("days", {}).setdefault(iso_day, {"sent": {}})
    present = set()
    for finding in findings:
        present.add(finding.fingerprint)
        record = alerts.setdefault(finding.fingerprint, {"first_seen": iso_day, "channels": {}})
        record["first_seen"] = min(record.get("first_seen", iso_day), iso_day)
        if record.get("as_of", "") <= iso_day:  # an older date re-run changes nothing decided since
            record.update(
                as_of=iso_day,
                area=finding.area,
                check=finding.check,
                subject=finding.subject,
                title=finding.title,
                severity=finding.severity.name,
                status="firing",
                last_seen=iso_day,
            )
    for decision in decisions:
        record = alerts.get(decision.fingerprint)
        if record is None:
            continue
        channels = record.setdefault("channels", {})
        if decision.action == "cleared":
            channels.setdefault(decision.channel, {})["status"] = "resolved"
        if not decision.sends or not delivered.get(decision.channel, False):
            continue
        status = "resolved" if decision.action == "resolved" else "firing"
        channels[decision.channel] = {
            "day": iso_day,
            "severity": decision.finding.severity.name,
            "status": status,
            "at": at,
        }
        sent = ledger["sent"].setdefault(decision.fingerprint, [])
        if f"{status}:{decision.channel}" not in sent:
            sent.append(f"{status}:{decision.channel}")
    for fp, record in alerts.items():
        ran = areas_ran is None or record.get("area") in areas_ran
        if fp not in present and ran and record.get("as_of", "") < iso_day:
            record.update(status="resolved", as_of=iso_day)
    ledger["notified_at"] = at
    _prune(state, day)
    return state


def _prune(state: dict[str, Any], day: dt.date) -> None:
    oldest = (day - dt.timedelta(days=KEEP_DAYS)).isoformat()
    state["days"] = {d: v for d, v in state["days"].items() if d >= oldest}
    state["alerts"] = {
        fp: r for fp, r in state["alerts"].items() if r.get("status") == "firing" or r.get("last_seen", "") >= oldest
    }
