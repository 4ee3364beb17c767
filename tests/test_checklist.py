"""The production checklist as data (`opsreview.checklist`) against the system's own file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from opsreview import checklist
from opsreview.findings import Finding

HERE = Path(__file__).resolve().parent
COPY = HERE / "reference" / "production-checklist.md"
SHARED = HERE.parents[1] / "shared" / "reference" / "production-checklist.md"


def parse_checklist(text: str) -> list[tuple[str, str, bool]]:
    items, section = [], ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif m := re.match(r"- \[( |x)\] (.+)", line.strip()):
            items.append((section, m.group(2).strip(), m.group(1) == "x"))
    return items


def test_the_copy_is_the_shared_reference() -> None:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not beside this checkout (the copy in tests/reference is checked instead)")
    assert COPY.read_text(encoding="utf-8") == SHARED.read_text(encoding="utf-8")


def test_every_item_of_the_reference_is_in_the_module() -> None:
    reference = parse_checklist(COPY.read_text(encoding="utf-8"))
    assert len(reference) > 80
    ours = [(i.section, i.text, i.done) for i in checklist.ITEMS]
    missing = [r for r in reference if r not in ours]
    extra = [o for o in ours if o not in reference]
    assert not missing and not extra, f"missing: {missing}; not in the reference: {extra}"


def test_item_lookup_names_an_unknown_item() -> None:
    assert checklist.item("Monitor error rates").area == "logs"
    with pytest.raises(KeyError, match="Monitor everything"):
        checklist.item("Monitor everything")


def test_demo_findings_name_only_items_that_list_their_check(demo_run: dict[str, Any]) -> None:
    """Every checklist item a finding of the demo run names exists and lists the finding's check."""
    findings = [Finding.from_dict(f) for f in demo_run["summary"]["findings"]]
    assert findings
    problems = []
    for f in findings:
        for text in f.checklist:
            if text not in checklist.BY_TEXT:
                problems.append(f"{f.check}: {text!r} is not a checklist item")
            # "<area>.coverage": the area could not check one of its own items today
            elif f.check == f"{f.area}.coverage" and checklist.BY_TEXT[text].area == f.area:
                continue
            elif f.check not in checklist.BY_TEXT[text].checks:
                problems.append(f"{f.check} names {text!r}, which does not list it")
        if not f.checklist and f.check.split(".", 1)[1] not in checklist.NO_ITEM_CHECKS:
            problems.append(f"{f.check} names no checklist item")
    assert not problems, "\n".join(problems)


def test_summary_rows_are_the_tracked_items(demo_run: dict[str, Any]) -> None:
    nb = json.loads((demo_run["day_dir"] / "summary.ipynb").read_text(encoding="utf-8"))
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    for item in checklist.tracked_items():
        assert item.text.replace("'", "&#x27;") in html or item.text in html, item.text
