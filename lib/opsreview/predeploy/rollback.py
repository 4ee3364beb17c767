"""The rollback check: a rollback target is recorded (what to go back to - a version, an image
or a tag -, when it was recorded and by whom), in params or in a file the release job writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from pydantic import ValidationError

from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult
from opsreview.predeploy.params import RollbackTarget

_TARGET_KEYS = ("version", "image", "tag")


def _from_file(target: RollbackTarget) -> tuple[RollbackTarget | None, str | None]:
    """The target the file records, or None and why it cannot be read."""
    assert target.file is not None
    try:
        data = yaml.safe_load(target.file.read_text(encoding="utf-8"))  # JSON is YAML
    except FileNotFoundError:
        return None, f"rollback file {target.file} not found"
    except OSError as exc:
        return None, f"rollback file {target.file} cannot be read ({exc.strerror})"
    except yaml.YAMLError as exc:
        return None, f"rollback file {target.file} is not YAML or JSON ({getattr(exc, 'problem', exc)})"
    if not isinstance(data, dict):
        return None, f"rollback file {target.file} does not hold a mapping of keys"
    data = {k: v for k, v in data.items() if k in (*_TARGET_KEYS, "recorded_at", "by")}
    try:
        recorded = RollbackTarget.model_validate({**data, "max_age_days": target.max_age_days})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        return None, f"rollback file {target.file}: {key}: {err['msg']}"
    return recorded, None


def check_rollback(params: Params, now: dt.datetime) -> CheckResult:
    """Pass when a target, its recording time (with an offset) and its author are recorded."""
    configured = params.predeploy.rollback
    if configured is None:
        return CheckResult(
            "rollback",
            NOT_CHECKED,
            "no rollback target configured",
            remedy="set predeploy.rollback (version/image/tag, recorded_at, by) or predeploy.rollback.file",
        )
    target: RollbackTarget | None = configured
    if configured.file is not None:
        target, why = _from_file(configured)
        if target is None:
            reason = why or "rollback file unreadable"
            return CheckResult(
                "rollback", FAIL, reason, {"file": str(configured.file)}, [(str(configured.file), reason)]
            )
    assert target is not None
    evidence: dict[str, Any] = {k: getattr(target, k) for k in (*_TARGET_KEYS, "by")}
    evidence["recorded_at"] = None if target.recorded_at is None else target.recorded_at.isoformat()
    if configured.file is not None:
        evidence["file"] = str(configured.file)
    problems = []
    if not any(getattr(target, k) for k in _TARGET_KEYS):
        problems.append("no version, image or tag to roll back to")
    if target.recorded_at is None:
        problems.append("no recorded_at")
    elif target.recorded_at.tzinfo is None:
        problems.append("recorded_at has no UTC offset")
    elif target.recorded_at > now + dt.timedelta(minutes=5):
        problems.append(f"recorded_at {target.recorded_at.isoformat()} is in the future")
    elif configured.max_age_days is not None and now - target.recorded_at > dt.timedelta(days=configured.max_age_days):
        age = (now - target.recorded_at).total_seconds() / 86400
        problems.append(f"recorded {age:.1f} days ago, more than max_age_days {configured.max_age_days:g}")
    if not target.by:
        problems.append("no 'by' (who recorded it)")
    subject = next((str(getattr(target, k)) for k in _TARGET_KEYS if getattr(target, k)), "rollback")
    if problems:
        return CheckResult("rollback", FAIL, "; ".join(problems), evidence, [(subject, p) for p in problems])
    what = ", ".join(f"{k} {getattr(target, k)}" for k in _TARGET_KEYS if getattr(target, k))
    assert target.recorded_at is not None
    return CheckResult(
        "rollback",
        PASS,
        f"{what}, recorded {target.recorded_at.astimezone(dt.UTC).isoformat(timespec='minutes')} by {target.by}",
        evidence,
    )
