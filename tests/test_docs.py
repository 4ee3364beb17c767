"""Docs that cannot drift: README commands, CLI help, notebooks' parameters cells."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from opsreview.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def subcommand_help() -> dict[str, str]:
    parser = build_parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    helps: dict[str, str] = {}
    for name, sub in actions[0].choices.items():  # type: ignore[attr-defined]
        text = sub.format_help()
        for nested in [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]:
            for child_name, child in nested.choices.items():
                helps[f"{name} {child_name}"] = child.format_help()
        helps[name] = text
    return helps


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make report", "make test"]


def test_every_make_target_in_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    for target in set(re.findall(r"`make ([a-z-]+)", README)) | {"report", "test"}:
        assert target in targets, f"README mentions make {target}"


def test_every_opsreview_command_and_option_in_readme_exists() -> None:
    helps = subcommand_help()
    mentioned = re.findall(r"opsreview ((?:[a-z]+ )?[a-z]+)((?: [^\n`|]*)?)", README)
    assert mentioned, "README shows no opsreview command"
    for command, rest in mentioned:
        name = command if command in helps else command.split()[0]
        if name not in helps:
            continue  # prose such as "opsreview reviews"
        for option in re.findall(r"(--[a-z][a-z-]*)", rest):
            assert option in helps[name], f"README: opsreview {name} {option} is not in its --help"


def test_readme_exit_codes_match_the_cli_docstring() -> None:
    import opsreview.cli

    for code in ("0", "1", "2", "3"):
        assert f"| {code} |" in README
        assert f"{code} " in (opsreview.cli.__doc__ or "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_standard_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged parameters"
    names = {
        t.id
        for node in ast.parse(tagged[0].source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert names == {"params_path", "review_date"}
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is tagged[0], "the parameters cell comes first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
