"""`opsreview publish`: copy finished review days, the shared assets and the index to another
folder (a web server's root, a share), safely.

Atomic: each day (and ``_assets``) is copied into a temporary folder beside its target, then put
in place with renames (the old copy moved aside first, removed after), so a reader of the target
never sees half a day, and a publish killed midway leaves the previous copy whole. Idempotent:
publishing the same day again gives the same tree (the files are the day's own; the index is
rendered from the days in the target, the same days giving the same page). The index is
rendered in the target rather than copied, so that every link on it resolves there.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from opsreview.exceptions import OutputsError, UsageError
from opsreview.run import index_page, report

__all__ = ["publish_days", "publishable_days"]


def publishable_days(outputs: Path) -> list[dt.date]:
    """The finished days under ``outputs`` (a date folder with its summary.json), oldest first."""
    return sorted(index_page.load_summaries(outputs))


def _check_target(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputsError(f"publish target {target}: cannot create ({exc.strerror})") from None
    if not target.is_dir():
        raise OutputsError(f"publish target {target}: not a folder")
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputsError(f"publish target {target}: not writable")


def _replace_tree(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` through a temporary sibling and renames."""
    pid = os.getpid()
    tmp = destination.with_name(f".publish-{destination.name}-{pid}")
    old = destination.with_name(f".old-{destination.name}-{pid}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(source, tmp, ignore=_hidden_or_linked, copy_function=shutil.copy2)
        if destination.exists():
            os.replace(destination, old)
        os.replace(tmp, destination)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)  # put the previous copy back
        raise OutputsError(f"publish {source.name} to {destination.parent}: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)


def publish_days(outputs: Path, target: Path, days: list[dt.date] | None) -> list[dt.date]:
    """Publish ``days`` (None: every finished day) of ``outputs`` to ``target``; returns them.

    Raises :class:`OutputsError` (exit 2, one line) for a day that has no finished review and
    for a target that cannot be written; nothing is copied then.
    """
    available = publishable_days(outputs)
    chosen = available if days is None else days
    missing = [d for d in chosen if d not in available]
    if missing:
        raise UsageError(
            f"no finished review for {', '.join(d.isoformat() for d in missing)} in {outputs} (run `opsreview run` first)"
        )
    if not chosen:
        raise UsageError(f"no finished review in {outputs} to publish")
    if target.resolve() == outputs.resolve():
        raise UsageError(f"publish target {target} is the outputs folder itself")
    _check_target(target)
    for stale in list(target.glob(".publish-*")) + list(target.glob(".old-*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a publish that was killed
    assets = outputs / report.ASSETS_DIR
    if assets.is_dir():
        _replace_tree(assets, target / report.ASSETS_DIR)
    for day in chosen:
        _replace_tree(outputs / day.isoformat(), target / day.isoformat())
    try:
        report.write_text_atomic(target / "index.html", index_page.render_outputs_index(target))
    except OSError as exc:
        raise OutputsError(f"publish target {target}: cannot write index.html ({exc.strerror})") from None
    return chosen


def _hidden_or_linked(folder: str, names: list[str]) -> set[str]:
    """Hidden files and symbolic links are not published (a link could point at the store or
    anywhere else on the machine)."""
    base = Path(folder)
    return {n for n in names if n.startswith(".") or (base / n).is_symlink()}
