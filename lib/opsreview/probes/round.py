"""One probe round: every due target concurrently, each request time-limited, the round bounded.

Targets run on a fixed number of daemon worker threads (``concurrency``); the checks of one
target run one after the other and share its main response. Every request stops at the
earlier of the target's ``timeout_seconds`` and the round deadline, workers start no new
target after the deadline, and the round returns at the deadline whatever is still running:
a target that did not finish gets a failed row per missing check saying so. Daemon threads
mean a stuck resolver or server can never keep the process alive after the round.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsreview.probes.checks import auth, cors, exposure, headers, http, leakage, rate_limit, tls
from opsreview.probes.client import tls_context
from opsreview.probes.models import ProbeResult
from opsreview.probes.params import ProbesParams, ProbeTarget
from opsreview.probes.target import TargetRun
from opsreview.secrets import MissingSecretError, redact

log = logging.getLogger("opsreview")

CHECK_RUNNERS: dict[str, Callable[[TargetRun], None]] = {
    "http": http.run,
    "tls": tls.run,
    "headers": headers.run,
    "cors": cors.run,
    "auth": auth.run,
    "rate_limit": rate_limit.run,
    "leakage": leakage.run,
    "exposure": exposure.run,
}
# Checks that still say something when the target cannot be reached.
_RUN_WHEN_UNREACHABLE = ("http", "tls")


@dataclass
class RoundReport:
    started: dt.datetime
    deadline_s: float
    duration_s: float = 0.0
    results: list[ProbeResult] = field(default_factory=list)
    probed: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def failed(self) -> list[ProbeResult]:
        return [r for r in self.results if not r.ok]


def is_due(target: ProbeTarget, when: dt.datetime) -> bool:
    """Whether a target runs in the round started at ``when`` (cron every minute + every_minutes)."""
    minute = int(when.timestamp() // 60)
    return minute % target.every_minutes == 0


def probe_target(tr: TargetRun) -> None:
    """Run the target's checks in order; an unexpected error in one check is a failed row."""
    checks = tr.target.enabled_checks
    try:
        main = tr.main  # one request, shared by the checks that grade a response
    except MissingSecretError as exc:  # `opsreview probe` checks first; a notebook's round may not
        tr.add(checks[0], False, f"not probed: {exc.args[0]}")
        return
    for family in checks:
        if not main.reachable and family not in _RUN_WHEN_UNREACHABLE:
            continue
        try:
            CHECK_RUNNERS[family](tr)
        except Exception as exc:  # one broken check must not lose the round
            log.exception("probe %s: %s check failed unexpectedly", tr.target.name, family)
            tr.add(family, False, f"internal error in the {family} check: {type(exc).__name__}: {exc}")
    if not tr.results:  # only checks that need an answer were configured, and none came
        tr.add(checks[0], False, f"target unreachable: {main.error}", main)


def _deadline_rows(tr: TargetRun, results: list[ProbeResult], deadline_s: float) -> list[ProbeResult]:
    have = {r.family for r in results}
    return [
        ProbeResult(
            ts=tr.ts,
            probe=tr.target.name,
            check=family,
            ok=False,
            detail=f"not finished within the round deadline of {deadline_s:g} s",
        )
        for family in tr.target.enabled_checks
        if family not in have
    ]


def run_round(
    settings: ProbesParams,
    *,
    now: dt.datetime | None = None,
    targets: list[ProbeTarget] | None = None,
    ignore_schedule: bool = False,
) -> RoundReport:
    """Probe every due target once; returns by the deadline with one or more rows per check."""
    started = now or dt.datetime.now(dt.UTC)
    report = RoundReport(started=started, deadline_s=settings.deadline_seconds)
    clock = time.monotonic()
    deadline = clock + settings.deadline_seconds
    candidates = targets if targets is not None else settings.targets
    due = [t for t in candidates if ignore_schedule or is_due(t, started)]
    report.not_due = [t.name for t in candidates if t not in due]
    ctx = tls_context(str(settings.ca_file) if settings.ca_file else None)
    # Requests stop a little before the round does, so that a request cut by the deadline
    # still records its own reason (which phase it was in) before the round is collected.
    request_deadline = deadline - min(0.1, settings.deadline_seconds / 20)
    runs = [TargetRun(t, settings, started, ctx, request_deadline) for t in due]
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(runs)):
        pending.put(index)
    completed: set[int] = set()
    handled = [0]
    condition = threading.Condition()

    def work() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            ran = time.monotonic() < request_deadline  # start nothing new after the deadline
            if ran:
                probe_target(runs[index])
            with condition:
                handled[0] += 1
                if ran:
                    completed.add(index)
                condition.notify_all()

    for n in range(min(settings.concurrency, len(runs))):
        threading.Thread(target=work, name=f"probe-{n}", daemon=True).start()
    with condition:
        condition.wait_for(lambda: handled[0] == len(runs), timeout=max(0.0, deadline - time.monotonic()))
        done = set(completed)
    for index, tr in enumerate(runs):
        results = list(tr.results)
        if index not in done:
            report.unfinished.append(tr.target.name)
            results += _deadline_rows(tr, results, settings.deadline_seconds)
        report.results += results
        report.requests += tr.requests_sent
        report.probed.append(tr.target.name)
    report.duration_s = time.monotonic() - clock
    if report.unfinished:
        log.warning(
            "probe round: %d target(s) cut by the %g s deadline: %s",
            len(report.unfinished),
            settings.deadline_seconds,
            redact(", ".join(report.unfinished)),
        )
    return report
