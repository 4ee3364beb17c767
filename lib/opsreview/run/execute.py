"""Finding, validating and executing review notebooks (one papermill run per notebook).

Each notebook runs in its own ``papermill`` process so that a whole-notebook timeout can be
enforced (papermill's own timeout is per cell) and a stuck kernel cannot hang the run. Only
the params file path and the review date are injected.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from opsreview.exceptions import NotebookError, UsageError

log = logging.getLogger("opsreview")

SUMMARY_NOTEBOOK = "summary"
# Notebooks over the other notebooks' results (findings, coverage): executed after them.
ROLLUP_NOTEBOOKS = (SUMMARY_NOTEBOOK, "checklist")
# Notebooks of the folder that are not part of the daily review (run on their own, e.g. the
# pre-deployment go/no-go before a deploy): `opsreview run` never executes them.
STANDALONE_NOTEBOOKS: tuple[str, ...] = ("predeploy",)
DEFAULT_NOTEBOOKS_DIR = Path(__file__).resolve().parents[3] / "notebooks"


@dataclass
class NotebookRun:
    name: str
    status: str  # ok | failed | timeout
    duration_s: float
    ipynb: Path
    error: str | None = None


def discover_notebooks(folder: Path) -> dict[str, Path]:
    """Review notebooks by name (file stem), excluding checkpoints, private ones and the
    standalone ones (:data:`STANDALONE_NOTEBOOKS`)."""
    if not folder.is_dir():
        raise UsageError(f"notebooks folder {folder} does not exist")
    return {
        p.stem: p
        for p in sorted(folder.glob("*.ipynb"))
        if not p.name.startswith(("_", ".")) and p.stem not in STANDALONE_NOTEBOOKS
    }


def select_notebooks(available: dict[str, Path], only: list[str] | None) -> dict[str, Path]:
    """The notebooks of ``--only`` (the summary and the checklist always come along); unknown
    names are errors."""
    if not only:
        return dict(available)
    unknown = [name for name in only if name not in available]
    if unknown:
        choices = ", ".join(sorted(available))
        raise UsageError(f"--only: unknown area {', '.join(unknown)} (choose from {choices})")
    chosen = {name: available[name] for name in only}
    for name in ROLLUP_NOTEBOOKS:
        if name in available:
            chosen[name] = available[name]
    return chosen


def check_parameters_cell(path: Path) -> None:
    """A review notebook must have a code cell tagged ``parameters`` (papermill's convention)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise NotebookError(f"{path}: not a readable notebook ({type(exc).__name__})") from exc
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return
    raise NotebookError(f"{path}: no code cell tagged 'parameters'")


def execute_notebook(
    name: str,
    source: Path,
    output: Path,
    parameters: dict[str, str],
    timeout_s: int,
    kernel: str,
    env: dict[str, str],
) -> NotebookRun:
    """Execute one notebook with papermill in a child process, killed at ``timeout_s``."""
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(source),
        str(output),
        "-k",
        kernel,
        "--cwd",
        str(source.parent),
        "--execution-timeout",
        str(timeout_s),
        "--no-progress-bar",
        "--log-level",
        "WARNING",
    ]
    for key, value in parameters.items():
        cmd += ["-r", key, value]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True, text=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        duration = time.monotonic() - started
        _mark_timeout(source, output, timeout_s)
        return NotebookRun(name, "timeout", duration, output, f"exceeded the notebook timeout of {timeout_s} s")
    duration = time.monotonic() - started
    if proc.returncode == 0:
        return NotebookRun(name, "ok", duration, output)
    error = _cell_error(output) or _last_line(out) or f"papermill exited with {proc.returncode}"
    # papermill's per-cell timeout interrupts the kernel: the cell records KeyboardInterrupt.
    timed_out = "CellTimeoutError" in (out or "") or (error.startswith("KeyboardInterrupt") and duration >= timeout_s)
    status = "timeout" if timed_out else "failed"
    if timed_out:
        error = f"exceeded the notebook timeout of {timeout_s} s"
    if not output.exists():
        _mark_timeout(source, output, timeout_s) if status == "timeout" else _mark_failed(source, output, error)
    return NotebookRun(name, status, duration, output, error)


def _cell_error(path: Path) -> str | None:
    """The error a failed notebook recorded (ename: evalue of the first error output)."""
    if not path.exists():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook just has no error to report
        return None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"[:500]
    return None


def _last_line(text: str) -> str | None:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def _append_error_cell(source: Path, output: Path, ename: str, evalue: str) -> None:
    nb = nbformat.read(output if output.exists() else source, as_version=4)
    cell = nbformat.v4.new_code_cell(source="# added by opsreview run")
    cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]
    nb.cells.append(cell)
    nbformat.write(nb, output)


def _mark_timeout(source: Path, output: Path, timeout_s: int) -> None:
    _append_error_cell(
        source, output, "NotebookTimeout", f"the notebook exceeded its timeout of {timeout_s} s and was stopped"
    )


def _mark_failed(source: Path, output: Path, error: str) -> None:
    _append_error_cell(source, output, "NotebookFailed", error)
