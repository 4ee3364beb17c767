"""`opsreview run` as named steps: prepare → stage → pull → execute → collect → notify →
summarize → render → publish (in the manner of papermill's ``execute.py``), each a small function over one
:class:`Run`.

A run validates everything before writing anything, takes an exclusive lock on the outputs
folder (a second concurrent run exits with a clear message), stages into
``outputs/.staging-<date>-<pid>/`` and publishes the finished day folder with a rename, so a
run killed at any point never leaves a date folder that looks complete. Exit codes:
0 ok, 1 findings at or above ``fail_on``, 2 bad usage (nothing written), 3 a notebook or
source failed (the report is still written).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opsreview.alerts.notify import notifications_html, notify_run
from opsreview.context import RUN_DIR_ENV, ReviewContext, parse_review_date
from opsreview.exceptions import OpsreviewError, OutputsError, UsageError
from opsreview.findings import Coverage, Finding, Severity
from opsreview.params import Params, load_params
from opsreview.progress import announce
from opsreview.run import checklist_view as cv
from opsreview.run import execute as nbs
from opsreview.run import report, timeline
from opsreview.share import check_key, shareable_data
from opsreview.sources import SourceResult, pull_sources

log = logging.getLogger("opsreview")

LOCK_NAME = ".opsreview.lock"


@dataclass
class RunResult:
    day: dt.date
    exit_code: int
    day_dir: Path
    summary: dict[str, object] = field(default_factory=dict)


@contextlib.contextmanager
def outputs_lock(outputs: Path) -> Iterator[IO[str]]:
    """Exclusive, non-blocking lock on the outputs folder; released when the process dies."""
    path = outputs / LOCK_NAME
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise OutputsError(
                    f"{outputs}: another opsreview run is in progress ({holder}); try again later"
                ) from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        yield fh
    finally:
        fh.close()


def _check_writable(outputs: Path) -> None:
    try:
        outputs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputsError(f"outputs folder {outputs}: cannot create ({exc.strerror})") from None
    if not os.access(outputs, os.W_OK | os.X_OK):
        raise OutputsError(f"outputs folder {outputs}: not writable")


def _publish(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with renames: the date folder is always whole."""
    old = target.with_name(f".old-{target.name}-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _clean_leftovers(outputs: Path) -> None:
    """Remove staging folders of runs that were killed (we hold the lock, so none is live)."""
    for leftover in list(outputs.glob(".staging-*")) + list(outputs.glob(".old-*")):
        shutil.rmtree(leftover, ignore_errors=True)


@dataclass
class Run:
    """What the steps of one run share: the plan (params, day, notebooks) and what each step adds."""

    params: Params
    params_path: Path
    day: dt.date
    notebooks: dict[str, Path]  # name -> source notebook, the summary last
    only: bool  # areas chosen with --only (pull only their sources)
    jobs: int
    staging: Path = Path()
    sources: list[SourceResult] = field(default_factory=list)
    runs: list[nbs.NotebookRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    notifications: dict[str, object] | None = None  # what the alert channels were told (notify)
    kpis: dict[str, dict[str, float | None]] = field(default_factory=dict)  # area -> name -> value
    exit_code: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, RUN_DIR_ENV: str(self.staging)}

    @property
    def parameters(self) -> dict[str, str]:
        return {"params_path": str(self.params_path.resolve()), "review_date": self.day.isoformat()}

    def execute(self, name: str) -> nbs.NotebookRun:
        nb_run = self._execute(name)
        # on a terminal each notebook says when it ends (a 10M-request day takes minutes)
        announce(f"  notebook {nb_run.name}: {nb_run.status} ({nb_run.duration_s:.1f} s)")
        return nb_run

    def _execute(self, name: str) -> nbs.NotebookRun:
        return nbs.execute_notebook(
            name,
            self.notebooks[name],
            self.staging / f"{name}.ipynb",
            self.parameters,
            self.params.runner.timeout_seconds,
            self.params.runner.kernel,
            self.env,
        )


def prepare(
    params_path: str | Path,
    date: str | None,
    only: list[str] | None,
    jobs: int | None,
    notebooks_dir: Path | None,
) -> Run:
    """Validate everything before anything is written (exit 2 problems raise here)."""
    params = load_params(params_path)
    day = parse_review_date(date, params)
    folder = notebooks_dir or params.runner.notebooks or nbs.DEFAULT_NOTEBOOKS_DIR
    selected = nbs.select_notebooks(nbs.discover_notebooks(folder), only)
    if not selected:
        raise UsageError(f"no notebooks found in {folder}")
    for path in selected.values():
        nbs.check_parameters_cell(path)
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: must be at least 1")
    if problem := check_key(params.share):
        raise UsageError(f"{params_path}: {problem}")
    _check_writable(params.outputs)
    return Run(params, Path(params_path), day, selected, bool(only), jobs or params.runner.jobs)


def stage(run: Run) -> None:
    """A fresh staging folder (under the lock), the shared plotly asset, secrets registered for masking."""
    outputs = run.params.outputs
    _clean_leftovers(outputs)
    run.staging = outputs / f".staging-{run.day.isoformat()}-{os.getpid()}"
    run.staging.mkdir()
    report.ensure_plotly_asset(outputs)
    run.params.mask_referenced_secrets()


def pull(run: Run) -> None:
    """Pull the sources of the areas that run into the store; failures become findings."""
    ctx = ReviewContext(params=run.params, day=run.day)
    areas = set(run.notebooks) - set(nbs.ROLLUP_NOTEBOOKS)
    run.sources = pull_sources(
        ctx,
        areas if run.only else None,
        on_result=lambda r: announce(f"  source {r.name}: {r.status}, {r.rows:,} rows ({r.duration_s:.1f} s)"),
    )
    report.write_text_atomic(run.staging / "sources.json", json.dumps([s.to_dict() for s in run.sources], indent=2))


def _notebook_failed(name: str, nb_run: nbs.NotebookRun) -> Finding:
    return Finding(
        name, f"{name}.notebook_failed", Severity.critical, f"Notebook {name} {nb_run.status}: {nb_run.error}"
    )


def execute(run: Run) -> None:
    """Execute the area notebooks in parallel (``jobs`` at a time)."""
    workers = [name for name in run.notebooks if name not in nbs.ROLLUP_NOTEBOOKS]
    with ThreadPoolExecutor(max_workers=run.jobs) as pool:
        run.runs = list(pool.map(run.execute, workers))


def collect(run: Run) -> None:
    """The findings of the sources and of every executed notebook, and what each notebook's
    sections could not check (coverage facts), staged for the summary notebook."""
    run.findings = [f for s in run.sources for f in s.findings]
    run.coverage = []
    for nb_run in run.runs:
        run.findings.extend(report.notebook_findings(nb_run.ipynb))
        run.coverage.extend(report.notebook_coverage(nb_run.ipynb))
        run.kpis.update(report.notebook_kpis(nb_run.ipynb))
        if nb_run.status != "ok":
            run.findings.append(_notebook_failed(nb_run.name, nb_run))
    _stage_collected(run)


# No channel configured: the alert items cannot be checked (a coverage fact, not a finding:
# a team without channels is not failing a check that exits 1 every day).
NO_ALERT_CHANNEL = Coverage(
    area="alerts",
    section="notifications",
    missing="No alert channel",
    detail="alerts.channels is empty: nobody is told what the review finds",
    remedy="add alerts.channels (apprise URLs by ${ENV}) to the params; `opsreview notify --test` checks them",
    checklist=("Set up alerts", "Monitoring tools configured"),
    effect="no notification sent",
)


# Channels configured, every open finding already sent: no delivery today showed they work.
NOTHING_SENT = Coverage(
    area="alerts",
    section="notifications",
    missing="No delivery today",
    detail="nothing new to send (every open finding was already sent): no channel was exercised",
    remedy="`opsreview notify --test` sends a test message to every channel",
    checklist=("Set up alerts", "Monitoring tools configured"),
)


def _notebook_rows(run: Run) -> list[dict[str, object]]:
    return [
        {
            "name": r.name,
            "status": r.status,
            "duration_s": round(r.duration_s, 2),
            "html": f"{r.name}.html",
            "ipynb": f"{r.name}.ipynb",
            "error": r.error,
        }
        for r in run.runs
    ]


def notify(run: Run) -> None:
    """Tell the alert channels what the day's review found (new, escalated, repeated after
    ``repeat_interval``, resolved; :mod:`opsreview.alerts`), before the roll-up notebooks, so that
    the summary and the checklist show the notifications. A failed delivery is a finding, never a
    failed run; without channels the alert items read *not verifiable*."""
    if not run.params.alerts.channels:
        run.coverage.append(NO_ALERT_CHANNEL)
    else:
        failed = any(r.status != "ok" for r in run.runs) or any(s.status == "failed" for s in run.sources)
        status = report.overall_status(run.findings, failed, run.params.fail_on)
        preliminary = report.build_summary(
            day=run.day,
            environment=run.params.environment,
            findings=run.findings,
            notebooks=_notebook_rows(run),
            sources=[s.to_dict() for s in run.sources],
            status=status,
            fail_on=run.params.fail_on.name,
            exit_code=3 if failed else (1 if status == "alert" else 0),
            coverage=run.coverage,
        )
        try:
            outcome = notify_run(run.params, preliminary)
        except OpsreviewError as exc:
            log.warning("alerts: %s", exc)
            run.findings.append(
                Finding("alerts", "alerts.delivery_failed", Severity.warning, f"Notifications not sent: {exc}")
            )
        else:
            run.findings.extend(outcome.findings)
            run.notifications = outcome.to_dict()
            if not outcome.deliveries:
                run.coverage.append(NOTHING_SENT)
            announce(f"  alerts: {len(outcome.sent)} sent, {len(outcome.resolved)} resolved, ok={outcome.ok}")
    _stage_collected(run)


def _stage_collected(run: Run) -> None:
    report.write_text_atomic(
        run.staging / "findings.json", json.dumps([f.to_dict() for f in run.findings], indent=2, default=str)
    )
    report.write_text_atomic(run.staging / "coverage.json", json.dumps([c.to_dict() for c in run.coverage], indent=2))
    report.write_text_atomic(run.staging / "kpis.json", json.dumps(run.kpis, indent=2))
    if run.notifications is not None:
        report.write_text_atomic(
            run.staging / "notifications.json", json.dumps(shareable_data(run.notifications), indent=2, default=str)
        )


def summarize(run: Run) -> None:
    """Execute the roll-up notebooks (the summary, the checklist), which read what
    :func:`collect` staged."""
    names = [name for name in nbs.ROLLUP_NOTEBOOKS if name in run.notebooks]
    with ThreadPoolExecutor(max_workers=max(1, min(run.jobs, len(names) or 1))) as pool:
        done = list(pool.map(run.execute, names))
    for nb_run in done:
        run.runs.append(nb_run)
        if nb_run.status != "ok":
            run.findings.append(_notebook_failed(nb_run.name, nb_run))


def render(run: Run) -> dict[str, object]:
    """HTML without code for every notebook, the day page and ``summary.json`` (written last:
    a staging folder without it was never finished). Returns the summary."""
    asset_href = f"../{report.ASSETS_DIR}/{report.PLOTLY_ASSET}"
    for nb_run in run.runs:
        report.scrub_notebook(nb_run.ipynb)
        report.export_html(nb_run.ipynb, run.staging / f"{nb_run.name}.html", f"{nb_run.name} {run.day}", asset_href)
    notebook_rows = _notebook_rows(run)
    failed = any(r.status != "ok" for r in run.runs) or any(s.status == "failed" for s in run.sources)
    status = report.overall_status(run.findings, failed, run.params.fail_on)
    run.exit_code = exit_code = 3 if failed else (1 if status == "alert" else 0)
    summary = report.build_summary(
        day=run.day,
        environment=run.params.environment,
        findings=run.findings,
        notebooks=notebook_rows,
        sources=[s.to_dict() for s in run.sources],
        status=status,
        fail_on=run.params.fail_on.name,
        exit_code=exit_code,
        coverage=run.coverage,
        kpis=run.kpis,
        incidents=timeline.incidents_summary(run.findings, run.params.timeline, run.params.tz, run.day),
        checklist=checklist_rows(run),
    )
    if run.notifications is not None:
        summary["notifications"] = run.notifications
    for staged in ("findings.json", "coverage.json", "sources.json", "notifications.json", "kpis.json"):
        (run.staging / staged).unlink(missing_ok=True)
    # one masked summary for summary.json and the day page (sources' errors, findings' evidence)
    summary = shareable_data(json.loads(json.dumps(summary, default=str)))
    masked_rows = summary.get("checklist") or []  # the masked rows: the page is built from them, not masked after
    extra = checklist_page(run, masked_rows) + (notifications_html(summary) if run.notifications is not None else "")
    report.write_text_atomic(run.staging / "index.html", report.render_day_index(summary, extra))
    report.write_text_atomic(run.staging / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def checklist_rows(run: Run) -> list[dict[str, object]]:
    """Every checklist item's status today (``summary.json`` ``checklist``)."""
    inputs = cv.load_checklist_inputs(ReviewContext(params=run.params, day=run.day))
    areas_run = {r.name for r in run.runs if r.status == "ok"} - set(nbs.ROLLUP_NOTEBOOKS)
    if cv.alerts_delivered(run.notifications):
        areas_run.add("alerts")
    return cv.item_rows(run.findings, run.coverage, areas_run, inputs, run.kpis)


def checklist_page(run: Run, rows: list[dict[str, object]]) -> str:
    """The day page's checklist: counts by status, then every item with its history strip."""
    history = cv.checklist_history(run.params.outputs, run.day, run.params.checklist.history_days, rows)
    counts = ", ".join(f"{n} {status}" for status, n in cv.status_counts(rows).items() if n)
    link = "<a href='checklist.html'>checklist report</a>" if "checklist" in run.notebooks else "the summary"
    return (
        f"<h2>Production checklist</h2><p>{len(rows)} items: {counts}. Details and the history chart: {link}.</p>"
        + cv.checklist_html(rows, history)
    )


def rerender_day_page(params: Params, day_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Re-render a published day's page, ``index.html``, from its ``summary`` (what ``opsreview
    notify`` calls after recording the notifications): the checklist rows anew from the
    summary's findings, coverage and notebooks (set as ``summary["checklist"]``), the checklist
    and the notifications sections. Returns the masked summary, for ``summary.json``."""
    day = dt.date.fromisoformat(str(summary["date"]))
    findings = [Finding.from_dict(f) for f in summary.get("findings") or []]
    coverage = [Coverage.from_dict(c) for c in summary.get("coverage") or []]
    areas_run = {str(nb["name"]) for nb in summary.get("notebooks") or [] if nb.get("status") == "ok"}
    areas_run -= set(nbs.ROLLUP_NOTEBOOKS)
    if cv.alerts_delivered(summary.get("notifications")):
        areas_run.add("alerts")
    inputs = cv.load_checklist_inputs(ReviewContext(params=params, day=day))
    rows = cv.item_rows(findings, coverage, areas_run, inputs, summary.get("kpis") or {})
    summary = shareable_data(json.loads(json.dumps({**summary, "checklist": rows}, default=str)))
    history = cv.checklist_history(params.outputs, day, params.checklist.history_days, rows)
    counts = ", ".join(f"{n} {status}" for status, n in cv.status_counts(rows).items() if n)
    link = "<a href='checklist.html'>checklist report</a>" if (day_dir / "checklist.html").exists() else "the summary"
    extra = (
        f"<h2>Production checklist</h2><p>{len(rows)} items: {counts}. Details and the history chart: {link}.</p>"
        + cv.checklist_html(rows, history)
        + (notifications_html(summary) if summary.get("notifications") else "")
    )
    report.write_text_atomic(day_dir / "index.html", report.render_day_index(summary, extra))
    return summary


def publish(run: Run) -> Path:
    """Put the finished day in place with renames, then refresh the index of all dates."""
    outputs = run.params.outputs
    target = outputs / run.day.isoformat()
    _publish(run.staging, target)
    report.write_text_atomic(outputs / "index.html", report.render_outputs_index(outputs))
    return target


def run_review(
    params_path: str | Path,
    date: str | None = None,
    only: list[str] | None = None,
    jobs: int | None = None,
    notebooks_dir: Path | None = None,
) -> RunResult:
    """Run the whole review for one day, step by step. Raises OpsreviewError for exit-2 problems."""
    run = prepare(params_path, date, only, jobs, notebooks_dir)
    with outputs_lock(run.params.outputs):
        stage(run)
        try:
            pull(run)
            started = time.monotonic()
            execute(run)
            collect(run)
            notify(run)
            summarize(run)
            log.info("notebooks executed in %.1f s", time.monotonic() - started)
            summary = render(run)
            target = publish(run)
        except BaseException:
            # nothing unscrubbed is left under outputs/ by a run that did not finish
            shutil.rmtree(run.staging, ignore_errors=True)
            raise
    return RunResult(day=run.day, exit_code=run.exit_code, day_dir=target, summary=summary)
