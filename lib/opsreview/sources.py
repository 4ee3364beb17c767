"""Sources: pull raw data into the store, through a small registry.

A source is a function ``(ReviewContext) -> SourceResult`` registered under a name and an
area with :func:`register_source`. `opsreview run` calls every enabled source before the
notebooks; a source that raises becomes a failed :class:`SourceResult` (and a finding), never
a crash of the run. Each area names the modules that register its sources
(:data:`opsreview.areas.AREAS`); they are imported when the sources are first listed.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from opsreview.exceptions import SourceError
from opsreview.findings import Finding, Severity
from opsreview.masking import masked
from opsreview.secrets import redact

if TYPE_CHECKING:
    from opsreview.context import ReviewContext
    from opsreview.params import Params

log = logging.getLogger("opsreview")


@dataclass
class SourceResult:
    name: str
    status: str = "ok"  # ok | failed | skipped
    rows: int = 0  # rows the store holds for the review day (what the review reads)
    error: str | None = None
    ingested: int | None = None  # rows written by this pull (0 when every file was unchanged)
    duration_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "rows": self.rows,
            "ingested": self.ingested,
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
        }


SourceFn = Callable[["ReviewContext"], SourceResult]


def input_files(patterns: Iterable[str], base: Path, source: str, key: str, what: str = "") -> list[Path]:
    """The files named by ``patterns`` of params key ``key`` (files, globs, folders; relative
    ones against ``base``); a pattern that names nothing is a SourceError of ``source``."""
    found: list[Path] = []
    for pattern in patterns:
        path = os.path.normpath(os.path.join(base, os.path.expanduser(pattern)))
        if os.path.isdir(path):
            found.extend(sorted(p for p in Path(path).iterdir() if p.is_file() and not p.name.startswith(".")))
        elif glob.has_magic(path):
            found.extend(sorted(Path(p) for p in glob.glob(path) if os.path.isfile(p)))
        elif os.path.isfile(path):
            found.append(Path(path))
        else:
            raise SourceError(source, f"{what}{path} does not exist ({key})")
    return found


@dataclass(frozen=True)
class RegisteredSource:
    name: str
    area: str
    pull: SourceFn
    table: str | None = None  # the table whose rows of the review day the result reports
    configured: Callable[[Params], bool] | None = None  # None: always pulled and listed


_REGISTRY: dict[str, RegisteredSource] = {}


def register_source(
    name: str, area: str, table: str | None = None, configured: Callable[[Params], bool] | None = None
) -> Callable[[SourceFn], SourceFn]:
    """Register a source; with ``table`` its result's ``rows`` becomes that table's rows of the
    review day in the store, and the count the pull returned becomes ``ingested``. An optional
    integration passes ``configured``: when it says no, the source is neither pulled nor listed."""

    def decorator(fn: SourceFn) -> SourceFn:
        _REGISTRY[name] = RegisteredSource(name, area, fn, table, configured)
        return fn

    return decorator


def registered_sources() -> list[RegisteredSource]:
    from opsreview.areas import AREAS

    for area in AREAS:
        area.import_sources()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def pull_sources(
    ctx: ReviewContext,
    areas: set[str] | None = None,
    on_result: Callable[[SourceResult], None] | None = None,
) -> list[SourceResult]:
    """Run every registered source (of the given areas); failures become failed results."""
    results = []
    for source in registered_sources():
        if areas is not None and source.area not in areas:
            continue
        if source.configured is not None and not source.configured(ctx.params):
            continue
        started = time.monotonic()
        try:
            result = source.pull(ctx)
        except Exception as exc:  # noqa: BLE001 - a failing source must not crash the run
            # a parser's message may quote the input (a card number, a token): masked as text is
            message = masked(redact(f"{type(exc).__name__}: {exc}"))
            log.warning("source %s failed: %s", source.name, message)
            result = SourceResult(source.name, status="failed", error=message)
            result.findings.append(
                Finding(
                    source.area,
                    f"{source.area}.source_failed",
                    Severity.critical,
                    f"Source {source.name} failed: {message}",
                    evidence={"source": source.name},
                )
            )
        if source.table is not None and result.status != "failed":
            result.ingested, result.rows = result.rows, ctx.store.count_rows(source.table, ctx.day)
        result.duration_s = time.monotonic() - started
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
