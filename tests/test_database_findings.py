"""Database findings judged against the params thresholds and the baseline."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from opsreview.database import findings
from opsreview.database.params import DatabaseParams

T = dt.datetime(2026, 12, 5, 10, tzinfo=dt.UTC)


def shape(**values: Any) -> dict[str, Any]:
    row = {
        "ns": "shop.orders",
        "op": "find",
        "shape_key": "k1",
        "shape": json.dumps({"filter": {"userId": 1}}),
        "count": 20,
        "total_ms": 4000.0,
        "mean_ms": 200.0,
        "p95_ms": 300.0,
        "docs_examined": 20,
        "nreturned": 20,
        "plan_summary": "IXSCAN { userId: 1 }",
        "collscan": False,
        "new": False,
        "baseline_total_ms": None,
        "example": "{}",
        "app_names": "shop-api",
    }
    row.update(values)
    return row


def review(rows: list[dict[str, Any]], params: DatabaseParams | None = None, **extra: Any) -> Any:
    return SimpleNamespace(
        params=params or DatabaseParams(),
        shapes=pd.DataFrame(rows),
        collection_counts=extra.get("counts", {}),
        collection_obj_sizes=extra.get("sizes", {}),
        advice=pd.DataFrame(columns=["ns", "command"]),
        tz=dt.UTC,
    )


def checks(found: list[Any]) -> list[str]:
    return sorted(f.check for f in found)


def test_a_quick_known_shape_is_no_finding() -> None:
    assert findings.query_findings(review([shape()])) == []


def test_p95_and_daily_total_over_their_thresholds() -> None:
    found = findings.query_findings(review([shape(p95_ms=501.0), shape(shape_key="k2", total_ms=61_000.0)]))
    assert checks(found) == ["database.slow_shape", "database.slow_shape"]
    params = DatabaseParams.model_validate({"thresholds": {"slow_shape_p95_ms": 600}})
    assert findings.query_findings(review([shape(p95_ms=501.0)], params)) == []


def test_new_shapes_are_info_below_the_count_and_warning_from_it() -> None:
    few, many = shape(new=True, count=9), shape(shape_key="k2", new=True, count=10)
    found = findings.query_findings(review([few, many]))
    assert [(f.check, f.severity.name, f.value) for f in found] == [
        ("database.new_slow_shape", "info", 9),
        ("database.new_slow_shape", "warning", 10),
    ]


@pytest.mark.parametrize(
    ("total_ms", "baseline_ms", "expected"),
    [
        (30_000.0, 9_000.0, ["database.slow_shape_regression"]),  # 3.3x its baseline, 30 s
        (20_000.0, 9_000.0, []),  # 2.2x: under the factor
        (12_000.0, 1_000.0, []),  # 12x but 12 s: under a quarter of slow_shape_total_s
    ],
)
def test_regression_against_the_baseline_median_day(total_ms: float, baseline_ms: float, expected: list[str]) -> None:
    found = findings.query_findings(review([shape(total_ms=total_ms, baseline_total_ms=baseline_ms)]))
    assert checks(found) == expected
    for f in found:
        assert set(f.checklist) == {findings.PERFORMANCE, findings.QUERY_MONITORING}


def test_collscan_only_on_a_collection_over_the_size_threshold() -> None:
    scan = shape(collscan=True, plan_summary="COLLSCAN", docs_examined=200_000, nreturned=10)
    assert checks(findings.query_findings(review([scan], counts={"shop.orders": 10_001}))) == ["database.collscan"]
    assert findings.query_findings(review([scan], counts={"shop.orders": 500})) == []
    (finding,) = findings.query_findings(review([scan], counts={"shop.orders": 50_000}))
    assert finding.evidence["shape"] == scan["shape"] and finding.evidence["plan"] == "COLLSCAN"


def test_a_find_without_projection_on_large_documents() -> None:
    rows = [shape(), shape(shape_key="k2", shape=json.dumps({"filter": {"a": 1}, "projection": {"a": 1}}))]
    found = findings.query_findings(review(rows, sizes={"shop.orders": 40_000.0}))
    assert [f.evidence["shape"] for f in found] == [rows[0]["shape"]]
    assert findings.query_findings(review(rows, sizes={"shop.orders": 2_000.0})) == []
