"""Display helpers for notebooks: charts that render offline, tables, findings, and what a
section could not check today (:class:`~opsreview.findings.Coverage`).

Charts are emitted as a plotly mime bundle (rendered natively in JupyterLab) plus an HTML
fallback that draws with a shared ``plotly.min.js`` loaded by the report page (see
:mod:`opsreview.run.report`), so exported HTML works without network and without inlining
plotly.js into every file.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from IPython.display import display

from opsreview.findings import (
    COVERAGE_MIME,
    FINDINGS_MIME,
    KPIS_MIME,
    SEVERITY_COLOURS,
    Coverage,
    Finding,
    kpi_number,
    rank_findings,
)
from opsreview.share import shareable, shareable_data

PLOTLY_MIME = "application/vnd.plotly.v1+json"

# JupyterLab's own stylesheet right-aligns every cell; the selectors below outrank it so that
# text reads left-aligned and numbers right-aligned, in the lab and in the exported HTML.
_TABLE_STYLE = (
    "<style>table.opsreview-table td,table.opsreview-table th,table.opsreview-findings td,"
    "table.opsreview-findings th{text-align:left!important;vertical-align:top;padding:3px 8px}"
    "table.opsreview-table td.num,table.opsreview-table th.num{text-align:right!important;"
    "font-variant-numeric:tabular-nums}table.opsreview-table td{max-width:36em;overflow-wrap:anywhere}"
    "table.opsreview-findings ul{margin:0;padding-left:1em}</style>"
)


def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The mime bundle for one figure (plotly JSON + offline HTML fallback)."""
    spec = shareable_data(json.loads(fig.to_json()))
    div_id = f"opsreview-plot-{uuid.uuid4().hex[:12]}"
    payload = json.dumps(spec).replace("</", "<\\/")
    fallback = (
        f'<div id="{div_id}" class="opsreview-plot" style="min-height:360px"></div>'
        f'<script type="text/javascript">(function(){{var s={payload};'
        f"if(window.Plotly){{Plotly.newPlot('{div_id}',s.data,s.layout,{{responsive:true,displaylogo:false}});}}"
        f"else{{document.getElementById('{div_id}').textContent='chart needs plotly.min.js';}}}})();</script>"
    )
    return {PLOTLY_MIME: spec, "text/html": fallback}


def show_figure(fig: go.Figure) -> None:
    display(figure_bundle(fig), raw=True)


def show_html(body: str) -> None:
    """Show an HTML fragment built by the library (masked as every output, :mod:`opsreview.share`)."""
    display({"text/html": shareable(body)}, raw=True)


def _format_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1:  # two decimals: an uptime of 99.58 must not read as 99.6
        return f"{value:.2f}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


def table_html(df: pd.DataFrame) -> str:
    """An HTML table: text left, numbers right and rounded for reading, cells masked
    (:func:`opsreview.share.shareable`, before escaping) and escaped."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    num_class = ' class="num"'
    head = "".join(
        f"<th{num_class if num else ''}>{html.escape(shareable(str(c)))}</th>"
        for c, num in zip(df.columns, numeric, strict=True)
    )
    rows = []
    for values in df.itertuples(index=False, name=None):
        cells = []
        for value, num in zip(values, numeric, strict=True):
            if num:
                cells.append(f'<td class="num">{html.escape(_format_number(value))}</td>')
            else:
                text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
                cells.append(f"<td>{html.escape(shareable(text))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'{_TABLE_STYLE}<table class="opsreview-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def show_table(df: pd.DataFrame, max_rows: int = 50, caption: str | None = None) -> None:
    """Show a table (at most ``max_rows``), with secrets and credentials masked and clients
    pseudonymized as params ``share`` says (:mod:`opsreview.share`)."""
    shown = df.head(max_rows)
    body = table_html(shown)
    if caption:
        body = f"<p><b>{html.escape(shareable(caption))}</b></p>" + body
    if len(df) > max_rows:
        body += f"<p><i>{len(df) - max_rows} more rows not shown</i></p>"
    display({"text/html": body, "text/plain": shareable(shown.to_string(index=False))}, raw=True)


def _evidence_html(evidence: dict[str, Any], limit: int = 240) -> str:
    """Evidence as a short list: one line per key, lists (sample lines) one item per line."""
    items = []
    for key, value in evidence.items():
        if isinstance(value, list):
            shown = [html.escape(str(v)[:limit]) for v in value[:5]]
            more = f" (+{len(value) - 5} more)" if len(value) > 5 else ""
            text = "<br>".join(shown) + more
            if len(shown) > 1:
                text = "<br>" + text
        elif isinstance(value, dict):
            text = html.escape(", ".join(f"{k}: {v}" for k, v in value.items())[:limit])
        else:
            text = html.escape(str(value)[:limit])
        items.append(f"<li><b>{html.escape(str(key))}</b>: {text}</li>")
    return f"<ul>{''.join(items)}</ul>"


def findings_html(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<p class='opsreview-findings-none'>No findings.</p>"
    rows = []
    for f in findings:
        colour = SEVERITY_COLOURS[f.severity.name]
        evidence = _evidence_html(f.evidence) if f.evidence else ""
        value = "" if f.value is None else html.escape(str(f.value))
        threshold = "" if f.threshold is None else html.escape(str(f.threshold))
        rows.append(
            "<tr>"
            f"<td><span style='color:#fff;background:{colour};padding:1px 6px;border-radius:3px'>"
            f"{f.severity.name}</span></td>"
            f"<td>{html.escape(f.area)}</td><td><code>{html.escape(f.check)}</code></td>"
            f"<td>{html.escape(f.title)}</td><td>{value}</td>"
            f"<td>{threshold}</td><td><small>{evidence}</small></td>"
            "</tr>"
        )
    head = "<tr><th>severity</th><th>area</th><th>check</th><th>finding</th><th>value</th><th>threshold</th><th>evidence</th></tr>"
    return f"{_TABLE_STYLE}<table class='opsreview-findings'>{head}{''.join(rows)}</table>"


def show_findings(findings: Iterable[Finding], emit: bool = True) -> None:
    """Show findings ranked by severity; with ``emit`` the runner collects them from the output."""
    data = [shareable_data(json.loads(json.dumps(f.to_dict(), default=str))) for f in rank_findings(findings)]
    ranked = [Finding.from_dict(d) for d in data]  # titles, subjects and evidence masked
    text = "\n".join(f"[{f.severity.name}] {f.check}: {f.title}" for f in ranked) or "No findings."
    bundle: dict[str, Any] = {"text/html": findings_html(ranked), "text/plain": text}
    if emit:
        bundle[FINDINGS_MIME] = data
    display(bundle, raw=True)


_CODE = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> str:
    """Escaped text whose `backquoted` spans (format strings, params keys) read as code."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def coverage_html(coverage: Sequence[Coverage]) -> str:
    """Each fact as a grey box: what is missing where, and what to configure (`code` spans kept)."""
    boxes = []
    for c in coverage:
        boxes.append(
            "<div class='opsreview-coverage' style='border-left:4px solid #6b7280;background:#f3f4f6;"
            "padding:4px 10px;margin:6px 0'>"
            f"<b>Not verifiable today:</b> {inline_code(c.reason)}"
            + (f" ({inline_code(c.effect)})" if c.effect else "")
            + "."
            + (f"<br><b>To get it:</b> {inline_code(c.remedy)}" if c.remedy else "")
            + "</div>"
        )
    return "".join(boxes)


def show_coverage(coverage: Sequence[Coverage]) -> None:
    """Show what could not be checked, and emit it for the runner (``summary.json`` ``coverage``)."""
    if not coverage:
        return
    data = [shareable_data(c.to_dict()) for c in coverage]
    coverage = [Coverage.from_dict(d) for d in data]
    bundle = {
        "text/html": coverage_html(coverage),
        "text/plain": "\n".join(c.text for c in coverage),
        COVERAGE_MIME: data,
    }
    display(bundle, raw=True)


def show_kpis(area: str, kpis: dict[str, Any]) -> None:
    """Show the day's headline numbers of an area and emit them for the runner (summary.json
    ``kpis``, the index's trends); a value that is None (no data) is shown and kept as such."""
    values = {name: kpi_number(value) for name, value in kpis.items()}
    cells = "".join(
        f"<tr><th>{html.escape(name)}</th><td class='num'>{'no data' if v is None else _format_number(v)}</td></tr>"
        for name, v in values.items()
    )
    text = ", ".join(f"{name} {'no data' if v is None else _format_number(v)}" for name, v in values.items())
    bundle = {
        "text/html": f"{_TABLE_STYLE}<table class='opsreview-table opsreview-kpis'>{cells}</table>",
        "text/plain": f"{area} KPIs: {text or 'none'}",
        KPIS_MIME: {"area": area, "kpis": values},
    }
    display(bundle, raw=True)


@dataclass
class Section:
    """What one notebook section shows: its figures, tables and findings (every area's review
    returns these), and ``coverage``: what it could not check today for lack of input."""

    name: str
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def not_verifiable(
        self,
        area: str,
        missing: str,
        detail: str = "",
        remedy: str = "",
        sources: Sequence[str] = (),
        checklist: Sequence[str] = (),
        effect: str = "",
    ) -> Coverage:
        """Record that this section could not check something today (see :class:`Coverage`)."""
        fact = Coverage(area, self.name, missing, detail, remedy, tuple(sources), tuple(checklist), effect)
        self.coverage.append(fact)
        return fact


def show_section(section: Section, max_rows: int = 25) -> None:
    """Display a section: its figures, its tables, then its findings (not emitted: the last cell
    does). What it could not check is shown in place of "No findings." and emitted here (the
    runner collects it from this cell), so a section without input never reads as all clear."""
    for fig in section.figures:
        show_figure(fig)
    for caption, table in section.tables:
        floats = table.select_dtypes("float").columns
        show_table(table.astype({c: "float64" for c in floats}).round(dict.fromkeys(floats, 4)), max_rows, caption)
    show_coverage(section.coverage)
    if section.findings or not section.coverage:
        show_findings(section.findings, emit=False)
