"""The opsreview exception tree.

Every error carries what a user needs to act (which file, which key, which source) and
renders as one line. The CLI maps the tree onto exit codes::

    OpsreviewError                  base; never raised directly
    ├── UsageError                  bad CLI usage: --date, --only, ... (exit 2)
    ├── ParamsError                 params file missing/invalid; names file and key (exit 2)
    ├── OutputsError                outputs folder unwritable, or locked by another run (exit 2)
    ├── NotebookError               a notebook is unusable (no parameters cell) (exit 2)
    └── SourceError                 a source could not be read; names the source (becomes a finding)
        └── ParseError              a file could not be parsed; names the file (and offset)

Third-party exceptions are wrapped with ``raise ... from exc``; messages never contain a
resolved secret (see :mod:`opsreview.secrets`).
"""

from __future__ import annotations


class OpsreviewError(Exception):
    """Base class of all opsreview errors."""

    exit_code = 2


class UsageError(OpsreviewError):
    """Bad command-line usage."""


class ParamsError(OpsreviewError):
    """A params file is missing or invalid."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file = file
        self.key = key
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


class OutputsError(OpsreviewError):
    """The outputs folder cannot be written, or another run holds it."""


class NotebookError(OpsreviewError):
    """A notebook cannot be executed as a review notebook."""


class SourceError(OpsreviewError):
    """A data source failed; the run turns this into a finding."""

    exit_code = 3

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"source {source}: {message}")


class ParseError(SourceError):
    """A file could not be parsed (beyond the per-line tolerance)."""

    def __init__(self, source: str, file: str, message: str, offset: int | None = None) -> None:
        self.file = file
        self.offset = offset
        at = f" at byte {offset}" if offset is not None else ""
        super().__init__(source, f"{file}{at}: {message}")
