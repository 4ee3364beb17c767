"""`opsreview run`: pull sources, execute notebooks, publish a dated report atomically.

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
from typing import IO

from opsreview import notebooks as nbs
from opsreview import report
from opsreview.context import RUN_DIR_ENV, ReviewContext, parse_review_date
from opsreview.errors import OutputsError, UsageError
from opsreview.findings import Finding, Severity
from opsreview.params import load_params
from opsreview.secrets import redact
from opsreview.sources import pull_sources

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


def run_review(
    params_path: str | Path,
    date: str | None = None,
    only: list[str] | None = None,
    jobs: int | None = None,
    notebooks_dir: Path | None = None,
) -> RunResult:
    """Run the whole review for one day. Raises OpsreviewError for exit-2 problems."""
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
    outputs = params.outputs
    _check_writable(outputs)

    with outputs_lock(outputs):
        _clean_leftovers(outputs)
        staging = outputs / f".staging-{day.isoformat()}-{os.getpid()}"
        staging.mkdir()
        report.ensure_plotly_asset(outputs)
        params.mask_referenced_secrets()
        ctx = ReviewContext(params=params, day=day)
        areas = set(selected) - {nbs.SUMMARY_NOTEBOOK}
        source_results = pull_sources(ctx, areas if only else None)
        report.write_text_atomic(staging / "sources.json", json.dumps([s.to_dict() for s in source_results], indent=2))

        env = {**os.environ, RUN_DIR_ENV: str(staging)}
        parameters = {"params_path": str(Path(params_path).resolve()), "review_date": day.isoformat()}
        timeout = params.runner.timeout_seconds
        kernel = params.runner.kernel
        workers = [name for name in selected if name != nbs.SUMMARY_NOTEBOOK]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=jobs or params.runner.jobs) as pool:
            futures = [
                pool.submit(
                    nbs.execute_notebook,
                    name,
                    selected[name],
                    staging / f"{name}.ipynb",
                    parameters,
                    timeout,
                    kernel,
                    env,
                )
                for name in workers
            ]
            runs = [f.result() for f in futures]
        findings: list[Finding] = [f for s in source_results for f in s.findings]
        for run in runs:
            findings.extend(report.notebook_findings(run.ipynb))
            if run.status != "ok":
                findings.append(
                    Finding(
                        run.name,
                        f"{run.name}.notebook_failed",
                        Severity.critical,
                        f"Notebook {run.name} {run.status}: {run.error}",
                    )
                )
        report.write_text_atomic(
            staging / "findings.json", json.dumps([f.to_dict() for f in findings], indent=2, default=str)
        )
        if nbs.SUMMARY_NOTEBOOK in selected:
            run = nbs.execute_notebook(
                nbs.SUMMARY_NOTEBOOK,
                selected[nbs.SUMMARY_NOTEBOOK],
                staging / f"{nbs.SUMMARY_NOTEBOOK}.ipynb",
                parameters,
                timeout,
                kernel,
                env,
            )
            runs.append(run)
            if run.status != "ok":
                findings.append(
                    Finding(
                        "summary",
                        "summary.notebook_failed",
                        Severity.critical,
                        f"Notebook summary {run.status}: {run.error}",
                    )
                )
        log.info("notebooks executed in %.1f s", time.monotonic() - started)

        asset_href = f"../{report.ASSETS_DIR}/{report.PLOTLY_ASSET}"
        notebook_rows = []
        for run in runs:
            report.scrub_notebook(run.ipynb)
            report.export_html(run.ipynb, staging / f"{run.name}.html", f"{run.name} {day}", asset_href)
            notebook_rows.append(
                {
                    "name": run.name,
                    "status": run.status,
                    "duration_s": round(run.duration_s, 2),
                    "html": f"{run.name}.html",
                    "ipynb": f"{run.name}.ipynb",
                    "error": run.error,
                }
            )

        failed = any(r.status != "ok" for r in runs) or any(s.status == "failed" for s in source_results)
        status = report.overall_status(findings, failed, params.fail_on)
        exit_code = 3 if failed else (1 if status == "alert" else 0)
        summary = report.build_summary(
            day=day,
            environment=params.environment,
            findings=findings,
            notebooks=notebook_rows,
            sources=[s.to_dict() for s in source_results],
            status=status,
            fail_on=params.fail_on.name,
            exit_code=exit_code,
        )
        (staging / "findings.json").unlink(missing_ok=True)
        (staging / "sources.json").unlink(missing_ok=True)
        report.write_text_atomic(staging / "index.html", report.render_day_index(summary))
        # summary.json is written last: a staging folder without it was never finished.
        report.write_text_atomic(staging / "summary.json", redact(json.dumps(summary, indent=2, default=str)) + "\n")
        target = outputs / day.isoformat()
        _publish(staging, target)
        report.write_text_atomic(outputs / "index.html", report.render_outputs_index(outputs))
    return RunResult(day=day, exit_code=exit_code, day_dir=target, summary=summary)
