"""Notebook display helpers: readable tables, findings with evidence, secrets masked."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from opsreview import display as display_module
from opsreview.display import findings_html, show_findings, show_table, table_html
from opsreview.findings import FINDINGS_MIME, Finding, Severity
from opsreview.secrets import remember_secret


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    bundles: list[dict[str, Any]] = []
    monkeypatch.setattr(display_module, "display", lambda bundle, raw: bundles.append(bundle))
    return bundles


def test_numbers_right_text_left_and_rounded_for_reading() -> None:
    df = pd.DataFrame(
        {
            "route": ["GET /a"],
            "requests": [40526],
            "p95": [207.4558],
            "rate": [0.00112],
            "mean": [99850.29],
            "uptime": [99.583],
        }
    )
    out = table_html(df)
    assert '<th class="num">requests</th>' in out and "<th>route</th>" in out
    assert "<td>GET /a</td>" in out
    for cell in ("40,526", "207.46", "0.0011", "99,850", "99.58"):
        assert f'<td class="num">{cell}</td>' in out


def test_cells_are_escaped_and_missing_values_blank() -> None:
    df = pd.DataFrame({"agent": ["<script>x</script>", None], "n": [1.0, float("nan")]})
    out = table_html(df)
    assert "<script>x" not in out and "&lt;script&gt;x&lt;/script&gt;" in out
    assert "<td></td>" in out and '<td class="num"></td>' in out


def test_show_table_masks_resolved_secrets_and_counts_hidden_rows(shown: list[dict[str, Any]]) -> None:
    remember_secret("hunter2-display-secret")
    df = pd.DataFrame({"url": [f"/x?token=hunter2-display-secret&i={i}" for i in range(5)]})
    show_table(df, max_rows=3, caption="URLs")
    html, text = shown[0]["text/html"], shown[0]["text/plain"]
    assert "hunter2-display-secret" not in html + text and "***" in html
    assert "2 more rows not shown" in html and "<b>URLs</b>" in html


def test_findings_show_evidence_as_a_list_and_emit_the_mime_bundle(shown: list[dict[str, Any]]) -> None:
    finding = Finding(
        "logs",
        "logs.5xx_burst",
        Severity.critical,
        "5xx burst on POST /api/orders",
        value=0.57,
        threshold=0.25,
        evidence={"samples": [f"line {i}" for i in range(7)], "window": {"start": "14:10", "end": "14:30"}},
    )
    show_findings([Finding("logs", "logs.scanner", Severity.info, "scanner"), finding])
    bundle = shown[0]
    html = bundle["text/html"]
    assert html.index("logs.5xx_burst") < html.index("logs.scanner")  # ranked by severity
    assert "<b>samples</b>: <br>line 0<br>" in html and "(+2 more)" in html and "line 6" not in html
    assert "start: 14:10, end: 14:30" in html
    emitted = bundle[FINDINGS_MIME]
    assert [f["check"] for f in emitted] == ["logs.5xx_burst", "logs.scanner"]
    assert json.loads(json.dumps(emitted))[0]["evidence"]["samples"][6] == "line 6"  # full evidence kept


def test_no_findings_says_so() -> None:
    assert "No findings." in findings_html([])
