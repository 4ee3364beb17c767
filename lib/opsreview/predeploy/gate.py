"""The gate: check the params first (any problem is a ParamsError, before a single request is
sent), then run every check in order and return the :class:`GateResult`.

A check that breaks unexpectedly is a failed check saying so (the deploy must not go ahead on
a check that did not run), never a crash of the gate.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable

from opsreview.exceptions import OpsreviewError, ParamsError
from opsreview.params import Params
from opsreview.predeploy.database import check_database, check_migrations
from opsreview.predeploy.environment import check_env
from opsreview.predeploy.external import check_alerts, check_backup
from opsreview.predeploy.models import FAIL, CheckResult, GateResult
from opsreview.predeploy.rollback import check_rollback
from opsreview.predeploy.security import check_security
from opsreview.predeploy.smoke import check_endpoints, smoke_endpoints
from opsreview.secrets import redact

log = logging.getLogger("opsreview")


def validate_inputs(params: Params) -> None:
    """What the params promise must exist: base_url, the app's files, the probe targets named
    and the secrets of the smoke headers. Raises ParamsError naming the file and key."""
    pp = params.predeploy
    source = str(params.source_file)
    if pp.base_url is None:
        raise ParamsError(source, "predeploy.base_url", "required by opsreview predeploy (the deploy target)")
    if pp.env_example is not None and not pp.env_example.is_file():
        raise ParamsError(source, "predeploy.env_example", f"{pp.env_example} is not a file")
    if pp.openapi is not None and not pp.openapi.is_file():
        raise ParamsError(source, "predeploy.openapi", f"{pp.openapi} is not a file")
    smoke_endpoints(params)  # an unreadable OpenAPI file is a ParamsError now, not after other checks
    if pp.migrations is not None and not pp.migrations.folder.is_dir():
        raise ParamsError(source, "predeploy.migrations.folder", f"{pp.migrations.folder} is not a folder")
    known = {t.name for t in params.probes.targets}
    for index, name in enumerate(pp.probe_targets):
        if name not in known:
            raise ParamsError(source, f"predeploy.probe_targets.{index}", f"no probe target {name!r} in probes.targets")
    for key, ref in pp.secret_references():
        for name in ref.env_vars:
            if name not in os.environ:
                raise ParamsError(source, key, f"environment variable {name} is not set")


def _checks(params: Params, now: dt.datetime) -> list[tuple[str, Callable[[], CheckResult]]]:
    return [
        ("env", lambda: check_env(params)),
        ("database", lambda: check_database(params)),
        ("migrations", lambda: check_migrations(params)),
        ("smoke", lambda: check_endpoints(params)),
        ("security", lambda: check_security(params, now)),
        ("backup", lambda: check_backup(params, now)),
        ("alerts", lambda: check_alerts(params)),
        ("rollback", lambda: check_rollback(params, now)),
    ]


def run_predeploy(params: Params, now: dt.datetime | None = None) -> GateResult:
    """Every check of the gate against ``params.predeploy.base_url``; GO or NO-GO with reasons."""
    validate_inputs(params)
    started = now or dt.datetime.now(dt.UTC)
    optional = set(params.predeploy.optional)
    results: list[CheckResult] = []
    for name, run in _checks(params, started):
        clock = time.monotonic()
        try:
            result = run()
        except OpsreviewError:
            raise
        except Exception as exc:
            log.exception("predeploy: the %s check failed unexpectedly", name)
            reason = f"internal error: {redact(f'{type(exc).__name__}: {exc}')[:300]}"
            result = CheckResult(name, FAIL, reason, failures=[("", reason)])
        result.optional = name in optional
        result.duration_s = time.monotonic() - clock
        log.info("predeploy: %s", result.line())
        results.append(result)
    finished = max(started, dt.datetime.now(dt.UTC)) if now is None else started
    return GateResult(
        environment=params.environment,
        base_url=params.predeploy.base_url,
        started=started,
        finished=finished,
        checks=results,
        params_file=str(params.source_file),
    )
