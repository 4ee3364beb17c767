"""The shape of the library: a small kernel, one package per area, one registry, one engine seam.

These tests read the source (imports, names) rather than run it: they fail when a change makes
the kernel depend on an area, an area on another, or a new DuckDB connection bypass
:mod:`opsreview.engine`.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

from opsreview import areas, checklist, sources

LIB = Path(__file__).resolve().parents[1] / "lib" / "opsreview"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
AREA_PACKAGES = {"logs", "probes", "database", "payments"}  # top-level packages that hold areas
KERNEL_EXCEPTIONS = {"params.py"}  # the params root composes every area's params section


def _module_name(path: Path) -> str:
    rel = path.relative_to(LIB.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every opsreview module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("opsreview")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("opsreview"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _kernel_files() -> list[Path]:
    return [p for p in sorted(LIB.glob("*.py"))] + sorted((LIB / "run").glob("*.py"))


def test_the_kernel_imports_no_area() -> None:
    offenders = []
    for path in _kernel_files():
        if path.name in KERNEL_EXCEPTIONS:
            continue
        for module in _imports(path):
            if _top(module) in AREA_PACKAGES:
                offenders.append(f"{path.relative_to(LIB)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_params_root_imports_only_the_areas_params() -> None:
    for module in _imports(LIB / "params.py"):
        if _top(module) in AREA_PACKAGES:
            assert module.rsplit(".", 1)[0].endswith(".params") or module.endswith(".params"), module


def _area_of(module: str) -> str | None:
    """The area a module belongs to: logs.access, logs.app, probes (logs.* shared parts: 'logs')."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in AREA_PACKAGES:
        return None
    if parts[1] == "logs" and len(parts) > 2 and parts[2] in ("access", "app"):
        return f"logs.{parts[2]}"
    return parts[1]


def _allowed(path: Path, own: str, other: str | None) -> bool:
    if other is None or other == own:
        return True
    # the two log areas share the logs package's common modules, never each other's
    if own.startswith("logs") and other == "logs":
        return True
    # the shared logs params section validates the access area's formats and routes
    return path == LIB / "logs" / "params.py" and other.startswith("logs.")


def test_areas_import_neither_each_other_nor_the_runner() -> None:
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        own = _area_of(_module_name(path))
        if own is None:
            continue
        for module in _imports(path):
            other = _area_of(module)
            if _top(module) == "run":
                offenders.append(f"{path.relative_to(LIB)} imports the runner ({module})")
            elif not _allowed(path, own, other):
                offenders.append(f"{path.relative_to(LIB)} ({own}) imports {module} ({other})")
    assert not offenders, "\n".join(offenders)


def test_duckdb_connections_are_opened_only_by_the_engine() -> None:
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        if path.name == "engine.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "connect"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "duckdb"
            ):
                offenders.append(f"{path.relative_to(LIB)}:{node.lineno}")
    assert not offenders, f"duckdb.connect() outside opsreview.engine: {offenders}"


def test_engine_connections_are_utc_bounded_and_quiet() -> None:
    from opsreview import engine

    def setting(con: object, name: str) -> object:
        row = con.execute(f"SELECT current_setting('{name}')").fetchone()  # type: ignore[attr-defined]
        return row[0]

    con = engine.connect()
    assert setting(con, "TimeZone") == "UTC"
    limit = str(setting(con, "memory_limit"))
    assert limit.endswith(("GiB", "MiB", "GB", "MB")), limit
    assert float(limit.split()[0]) <= (1.0 if "G" in limit else 1024), limit
    assert setting(con, "enable_progress_bar") is False
    assert setting(engine.connect(timezone="Europe/Berlin"), "TimeZone") == "Europe/Berlin"


@pytest.mark.parametrize("area", areas.AREAS, ids=lambda a: a.name)
def test_every_area_is_whole(area: areas.Area) -> None:
    package = importlib.import_module(area.package)
    folder = Path(package.__file__ or "").parent
    for module in ("source", "analysis", "findings", "review"):
        assert (folder / f"{module}.py").exists(), f"{area.package} has no {module}.py"
    assert (NOTEBOOKS / f"{area.notebook}.ipynb").exists()
    nb = json.loads((NOTEBOOKS / f"{area.notebook}.ipynb").read_text(encoding="utf-8"))
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert area.checklist, f"area {area.name} verifies no checklist item"
    area.import_sources()
    registered = {s.name: s for s in sources.registered_sources()}
    assert any(s.area == area.name for s in registered.values()), f"area {area.name} registers no source"
    if area.cli is not None:
        assert callable(importlib.import_module(area.cli).register)


def test_the_registry_is_what_the_runner_and_cli_read() -> None:
    from opsreview.cli import build_parser

    registered = {s.area for s in sources.registered_sources()}
    assert registered == {a.name for a in areas.AREAS}
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"logs", "probe", "database"} <= set(commands)
    with pytest.raises(KeyError, match="known: logs, errors, probes, database, payments"):
        areas.area("backups")


def test_every_area_speaks_only_to_items_of_the_checklist() -> None:
    names = {a.name for a in areas.AREAS}
    for item in checklist.ITEMS:
        for check in item.checks:
            assert check.split(".")[0] in names | {"backups"} | set(checklist.VERIFIERS), check


def test_the_library_readme_names_every_top_level_unit() -> None:
    readme = (LIB / "README.md").read_text(encoding="utf-8")
    units = [p.stem for p in LIB.glob("*.py") if p.stem != "__init__"] + [
        p.name for p in LIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    ]
    missing = [u for u in units if f"`{u}" not in readme]
    assert not missing, f"lib/opsreview/README.md does not mention {missing}"
