"""The review areas, declared once: what each one pulls, which notebook shows it, which
checklist items it speaks to and which subcommand it adds to `opsreview`.

Like papermill's engine registry and datasette's built-in plugins, the areas that ship with
opsreview are entries of one table (:data:`AREAS`), and everything that used to keep its own
list of areas reads it: the runner (which sources to pull for ``--only``), ``opsreview pull``,
the CLI's subcommands and the summary's checklist. Modules are named as strings and imported
when used, so the kernel never imports an area at import time.

Adding an area (``database``, ``payments``, ``backups``, …):

1. its package ``lib/opsreview/<area>/`` with ``params`` → ``source`` → ``analysis`` →
   ``findings`` → ``review`` → ``charts`` (→ ``cli``), the source registered with
   :func:`opsreview.sources.register_source` under the area's name;
2. one :class:`Area` line below;
3. its params field in :mod:`opsreview.params`;
4. ``area=`` and its check ids on the items it verifies in :mod:`opsreview.checklist`;
5. ``notebooks/<area>.ipynb``;
6. its tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from opsreview import checklist


@dataclass(frozen=True)
class Area:
    """One review area. ``name`` is the id users see: check ids (``logs.5xx_rate``),
    ``--only``, the notebook's file name and the area of its findings."""

    name: str
    title: str
    package: str  # the area's package (its modules: source, analysis, findings, review, charts)
    sources: tuple[str, ...]  # modules whose import registers the area's sources
    cli: str | None = None  # module with ``register(subparsers)`` adding a subcommand
    demo: str | None = None  # module with ``write_demo(out, days, tz, rng) -> ground truth`` (the demo data set)

    @property
    def notebook(self) -> str:
        """The notebook's file name in ``notebooks/`` (without ``.ipynb``)."""
        return self.name

    @property
    def checklist(self) -> list[checklist.ChecklistItem]:
        """The production-checklist items this area verifies."""
        return checklist.items_of_area(self.name)

    def import_sources(self) -> list[ModuleType]:
        return [importlib.import_module(module) for module in self.sources]


AREAS: tuple[Area, ...] = (
    Area("logs", "Access logs", "opsreview.logs.access", ("opsreview.logs.access.source",), cli="opsreview.logs.access.cli"),
    Area("errors", "Application errors", "opsreview.logs.app", ("opsreview.logs.app.source",)),
    Area("probes", "Health and security probes", "opsreview.probes", ("opsreview.probes.source", "opsreview.probes.prometheus"), cli="opsreview.probes.cli"),
    Area("database", "Database (MongoDB)", "opsreview.database", ("opsreview.database.source",), cli="opsreview.database.cli", demo="opsreview.database.demo"),
    Area("payments", "Payments", "opsreview.payments", ("opsreview.payments.source",), demo="opsreview.payments.demo"),
    Area("backups", "Backups", "opsreview.backups", ("opsreview.backups.source",), demo="opsreview.backups.demo"),
)  # fmt: skip

BY_NAME: dict[str, Area] = {area.name: area for area in AREAS}


def area(name: str) -> Area:
    """The area of that name; KeyError lists the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown area {name!r} (known: {', '.join(BY_NAME)})") from None
