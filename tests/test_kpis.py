"""The areas' KPIs: emitted by each notebook (`show_kpis`), collected into summary.json `kpis`
(the source of the index's trend sparklines)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import nbformat
import pytest

from opsreview.findings import KPIS_MIME, kpi_number
from opsreview.run.report import notebook_kpis


def test_kpi_number_keeps_finite_numbers_only() -> None:
    assert [kpi_number(v) for v in (1, 2.5, "3", None, math.nan, math.inf, True, "x")] == [
        1.0,
        2.5,
        3.0,
        None,
        None,
        None,
        None,
        None,
    ]


def test_notebook_kpis_are_collected_by_area_later_ones_winning(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show_kpis(...)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={KPIS_MIME: {"area": "logs", "kpis": {"p95_ms": 120, "x": None}}}),
        nbformat.v4.new_output("display_data", data={"text/plain": "no kpis here"}),
        nbformat.v4.new_output("display_data", data={KPIS_MIME: {"area": "logs", "kpis": {"p95_ms": 130.5}}}),
        nbformat.v4.new_output("display_data", data={KPIS_MIME: {"area": "probes", "kpis": {"uptime_pct": "nan"}}}),
    ]
    nb.cells.append(cell)
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert notebook_kpis(path) == {"logs": {"p95_ms": 130.5, "x": None}, "probes": {"uptime_pct": None}}
    assert notebook_kpis(tmp_path / "missing.ipynb") == {}


@pytest.fixture(scope="module")
def kpis(demo_run: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    assert demo_run["proc"].returncode in (0, 1), demo_run["proc"].stdout + demo_run["proc"].stderr
    return dict(demo_run["summary"]["kpis"])


def test_every_area_of_the_demo_day_has_its_kpis(kpis: dict[str, dict[str, float | None]]) -> None:
    assert {area: sorted(values) for area, values in kpis.items()} == {
        "logs": ["5xx_rate", "p95_ms", "requests"],
        "probes": ["uptime_pct"],
        "database": ["repl_lag_max_s", "slow_ops"],
        "payments": ["auth_rate", "payments"],
    }
    assert all(v is not None for values in kpis.values() for v in values.values()), kpis


def test_demo_kpis_agree_with_the_sources_and_the_ground_truth(
    demo_run: dict[str, Any], kpis: dict[str, dict[str, float | None]]
) -> None:
    rows = {s["name"]: s["rows"] for s in demo_run["summary"]["sources"]}
    logs = kpis["logs"]
    assert logs["requests"] == rows["access_logs"]  # every request of the day, both hosts
    assert logs["5xx_rate"] is not None and 0 < logs["5xx_rate"] < 0.5
    assert logs["p95_ms"] is not None and logs["p95_ms"] > 0
    uptime = kpis["probes"]["uptime_pct"]
    assert uptime is not None and 0 <= uptime < 100  # the demo has an outage of the API
    lag = kpis["database"]["repl_lag_max_s"]
    assert lag is not None and lag >= 60  # db-3 falls about two minutes behind (demo lag_spike)
    assert kpis["database"]["slow_ops"] is not None and kpis["database"]["slow_ops"] > 0
    rate = kpis["payments"]["auth_rate"]
    assert rate is not None and 0.5 < rate < 1
    assert kpis["payments"]["payments"] is not None and kpis["payments"]["payments"] > 0
