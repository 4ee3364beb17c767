"""The environment-variables check: every name of the app's ``.env.example`` is set in the
deployment's environment (the process environment and/or dotenv files).

Only names leave this module. A dotenv file is read line by line and each value is looked at
only to tell whether it is empty (an empty value is not "set"); values are never kept, and the
process environment is asked the same yes/no question.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from opsreview.exceptions import ParamsError
from opsreview.params import Params
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, CheckResult

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def _is_empty(raw: str) -> bool:
    """Whether a dotenv value is empty: nothing, ``""``, ``''``, or only a comment."""
    value = raw.strip()
    if value.startswith("#"):
        return True
    return value in ("", '""', "''")


def dotenv_names(path: Path) -> dict[str, bool]:
    """The names a dotenv file assigns, each with whether its value is non-empty (never the value)."""
    names: dict[str, bool] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.lstrip().startswith("#"):
                continue
            match = _ASSIGNMENT.match(line)
            if match:
                names[match.group(1)] = not _is_empty(match.group(2))
    return names


def required_names(env_example: Path) -> list[str]:
    """The variable names an ``.env.example`` lists (commented-out lines are not required)."""
    return list(dotenv_names(env_example))


def check_env(params: Params) -> CheckResult:
    """Pass when every name of ``env_example`` is set (non-empty) in a configured source."""
    pp = params.predeploy
    if pp.env_example is None:
        return CheckResult(
            "env",
            NOT_CHECKED,
            "no .env.example configured",
            remedy="set predeploy.env_example to the app's .env.example",
        )
    sources = pp.env_from
    if not sources.process and not sources.dotenv:
        return CheckResult(
            "env",
            NOT_CHECKED,
            "no source of the deployment's environment configured",
            remedy="set predeploy.env_from.process: true (run in the deploy job) and/or predeploy.env_from.dotenv",
        )
    try:
        required = required_names(pp.env_example)
    except OSError as exc:
        raise ParamsError(
            str(params.source_file), "predeploy.env_example", f"cannot read {pp.env_example} ({exc.strerror})"
        ) from exc
    found: dict[str, bool] = {}
    read: list[str] = []
    failures: list[tuple[str, str]] = []
    for path in sources.dotenv:
        try:
            for name, set_ in dotenv_names(path).items():
                found[name] = found.get(name, False) or set_
            read.append(str(path))
        except OSError as exc:
            failures.append((str(path), f"dotenv file {path} cannot be read ({exc.strerror})"))
    if sources.process:
        for name in required:
            if name in os.environ:  # set, and non-empty or not (the value is not kept)
                found[name] = found.get(name, False) or bool(os.environ[name])
        read.append("process environment")
    missing = [name for name in required if name not in found]
    empty = [name for name in required if name in found and not found[name]]
    failures += [(name, f"{name} is not set") for name in missing]
    failures += [(name, f"{name} is empty") for name in empty]
    evidence = {
        "required": required,
        "sources": read,
        "missing": missing,
        "empty": empty,
        "present": [name for name in required if found.get(name)],
    }
    if failures:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if empty:
            parts.append(f"empty {', '.join(empty)}")
        parts += [reason for subject, reason in failures if subject not in missing and subject not in empty]
        return CheckResult("env", FAIL, "; ".join(parts), evidence, failures)
    return CheckResult("env", PASS, f"all {len(required)} variable(s) of {pp.env_example.name} set", evidence)
