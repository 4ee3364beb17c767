"""Reports: HTML export without code, findings and coverage facts (what a section could not
check today) collected from executed notebooks, ``summary.json``, the day page and the index of
all dates.

Charts in exported HTML draw with one shared ``plotly.min.js`` per outputs folder
(``outputs/_assets/``), so a day folder stays small and works with no network access.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import plotly
from nbconvert import HTMLExporter

from opsreview.display import inline_code
from opsreview.findings import (
    COVERAGE_MIME,
    FINDINGS_MIME,
    KPIS_MIME,
    Coverage,
    Finding,
    count_by_severity,
    kpi_number,
    rank_findings,
)
from opsreview.share import shareable, shareable_data

ASSETS_DIR = "_assets"
PLOTLY_ASSET = f"plotly-{plotly.__version__}.min.js"
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_MERMAID_MODULE = re.compile(
    r"<script type=\"module\">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*</script>", re.I | re.S
)
_BADGE = {"ok": "#15803d", "alert": "#b45309", "failed": "#b91c1c"}
PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#111;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0}th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.badge{color:#fff;padding:2px 8px;border-radius:4px;font-size:.85em}
.sev-critical{color:#b91c1c;font-weight:600}.sev-warning{color:#b45309;font-weight:600}.sev-info{color:#1d4ed8}
.table-wrap{overflow-x:auto;max-width:100%}td{overflow-wrap:break-word}td.num{text-align:right}
@media (max-width:600px){body{margin:.75rem}}
"""
_TABLE = re.compile(r"<table\b.*?</table>", re.S)


def _file_mode() -> int:
    """0666 less the process umask: what a plain open() would have created."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_plotly_asset(outputs: Path) -> Path:
    """Copy plotly.min.js once into ``outputs/_assets`` (shared by every report)."""
    target = outputs / ASSETS_DIR / PLOTLY_ASSET
    if not target.exists():
        source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return target


def scrub_notebook(path: Path) -> None:
    """Mask an executed notebook in place, every string of it (sources, outputs, tracebacks,
    metadata) as :func:`opsreview.share.shareable` masks text: the last line of defence behind
    the display helpers, for what a cell printed or raised itself."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    cleaned = shareable_data(data)
    if cleaned != data:
        write_text_atomic(path, json.dumps(cleaned, indent=1, ensure_ascii=False) + "\n")


def export_html(ipynb: Path, html_path: Path, title: str, asset_href: str) -> None:
    """Export a notebook to HTML with code hidden and charts drawn by the shared plotly asset."""
    nb = nbformat.read(ipynb, as_version=4)
    exporter = HTMLExporter(
        template_name="lab", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _EXTERNAL_SCRIPT.sub("", body)
    body = _MERMAID_MODULE.sub("", body)
    body = body.replace("</head>", f'<script src="{asset_href}"></script>\n</head>', 1)
    write_text_atomic(html_path, shareable(body))


def _emitted(ipynb: Path, mime: str) -> list[dict[str, Any]]:
    """Every item a notebook's outputs carry under ``mime`` (lists of JSON objects), in order."""
    if not ipynb.exists():
        return []
    nb = nbformat.read(ipynb, as_version=4)
    return [
        item for cell in nb.cells for output in cell.get("outputs", []) for item in output.get("data", {}).get(mime, [])
    ]


def notebook_findings(ipynb: Path) -> list[Finding]:
    """The findings a notebook emitted through :func:`opsreview.display.show_findings`."""
    return [Finding.from_dict(item) for item in _emitted(ipynb, FINDINGS_MIME)]


def notebook_coverage(ipynb: Path) -> list[Coverage]:
    """What a notebook's sections could not check (:func:`opsreview.display.show_section`), each
    fact once (a section shown twice emits it twice)."""
    return list(dict.fromkeys(Coverage.from_dict(item) for item in _emitted(ipynb, COVERAGE_MIME)))


def notebook_kpis(ipynb: Path) -> dict[str, dict[str, float | None]]:
    """The KPIs a notebook emitted (:func:`opsreview.display.show_kpis`), by area (a later
    emission of the same name wins)."""
    kpis: dict[str, dict[str, float | None]] = {}
    if not ipynb.exists():
        return kpis
    nb = nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            item = output.get("data", {}).get(KPIS_MIME)
            if isinstance(item, dict) and isinstance(item.get("kpis"), dict):
                area = kpis.setdefault(str(item.get("area", "")), {})
                area.update({str(k): kpi_number(v) for k, v in item["kpis"].items()})
    return kpis


def overall_status(findings: list[Finding], failed: bool, fail_on: int) -> str:
    """ok / alert / failed of the review. The alerting's own findings (a channel that did not
    take the message) are shown but never change the review's status or exit code."""
    if failed:
        return "failed"
    if any(f.severity >= fail_on for f in findings if f.area != "alerts"):
        return "alert"
    return "ok"


def build_summary(
    *,
    day: dt.date,
    environment: str,
    findings: list[Finding],
    notebooks: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    status: str,
    fail_on: str,
    exit_code: int,
    coverage: list[Coverage] | None = None,
    kpis: dict[str, dict[str, float | None]] | None = None,
    incidents: list[dict[str, Any]] | None = None,
    checklist: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    ranked = rank_findings(findings)
    return {
        "date": day.isoformat(),
        "environment": environment,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": status,
        "exit_code": exit_code,
        "fail_on": fail_on,
        "counts": count_by_severity(ranked),
        "findings": [f.to_dict() for f in ranked],
        "coverage": [c.to_dict() for c in coverage or []],
        "kpis": kpis or {},
        "incidents": incidents or [],  # the incident timeline (run.timeline), most important first
        "checklist": checklist or [],
        "notebooks": notebooks,
        "sources": sources,
    }


def _badge(status: str) -> str:
    return f"<span class='badge' style='background:{_BADGE.get(status, '#6b7280')}'>{html.escape(status)}</span>"


def _page(title: str, body: str, css: str = "") -> str:
    """A page: readable on a phone (viewport meta; each table scrolls sideways in its own wrapper)."""
    body = _TABLE.sub(lambda m: f"<div class='table-wrap'>{m.group(0)}</div>", body)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_CSS}{css}</style></head><body>{body}</body></html>\n"
    )


def render_day_index(summary: dict[str, Any], checklist_section: str = "") -> str:
    """The landing page of one review day: status, notebooks, findings ranked by severity, what
    could not be checked and (``checklist_section``, HTML) the production checklist."""
    rows = "".join(
        f"<tr><td><a href='{html.escape(nb['html'])}'>{html.escape(nb['name'])}</a></td><td>{_badge(nb['status'])}</td>"
        f"<td>{nb['duration_s']:.1f} s</td><td>{html.escape(nb.get('error') or '')}</td>"
        f"<td><a href='{html.escape(nb['ipynb'])}'>notebook</a></td></tr>"
        for nb in summary["notebooks"]
    )
    sources = "".join(
        f"<tr><td>{html.escape(s['name'])}</td><td>{_badge(s['status'])}</td><td>{s['rows']:,}</td>"
        f"<td>{'' if s.get('ingested') is None else format(s['ingested'], ',')}</td>"
        f"<td>{html.escape(s.get('error') or '')}</td></tr>"
        for s in summary["sources"]
    )
    findings = (
        "".join(
            f"<tr><td class='sev-{f['severity']}'>{f['severity']}</td><td>{html.escape(f['area'])}</td>"
            f"<td><code>{html.escape(f['check'])}</code></td><td>{html.escape(f['title'])}</td></tr>"
            for f in summary["findings"]
        )
        or "<tr><td colspan='4'>No findings.</td></tr>"
    )
    counts = ", ".join(f"{n} {sev}" for sev, n in summary["counts"].items())
    unchecked = _coverage_rows(summary.get("coverage", []))
    if unchecked:
        counts += f"; not verifiable today: {len(unchecked)} (below)"
    body = (
        f"<p><a href='../index.html'>&larr; all dates</a></p>"
        f"<h1>Review of {html.escape(summary['date'])} &mdash; {html.escape(summary['environment'])} {_badge(summary['status'])}</h1>"
        f"<p>Findings: {counts}. Generated {html.escape(summary['generated_at'])}.</p>"
        f"<h2>Notebooks</h2><table><tr><th>report</th><th>status</th><th>duration</th><th>error</th><th>audit</th></tr>{rows}</table>"
        f"<h2>Sources</h2><table><tr><th>source</th><th>status</th><th>rows of the day</th><th>new this run</th><th>error</th></tr>{sources}</table>"
        f"<h2>Findings</h2><table><tr><th>severity</th><th>area</th><th>check</th><th>finding</th></tr>{findings}</table>"
    )
    if summary.get("incidents"):
        stories = "".join(
            f"<li><span class='sev-{html.escape(i['severity'])}'>{html.escape(i['severity'])}</span> "
            f"{html.escape(i['story'])}</li>"
            for i in summary["incidents"]
        )
        body += f"<h2>Incidents</h2><ol>{stories}</ol>"
    if unchecked:
        body += (
            "<h2>Not verifiable today</h2><p>What the review could not check today for lack of input: no "
            "finding in these sections means nothing was looked at, not that all is well.</p><table><tr><th>area</th><th>sections</th>"
            f"<th>missing</th><th>to get it</th><th>checklist items</th></tr>{''.join(unchecked)}</table>"
        )
    if checklist_section:
        body += checklist_section
    return shareable(_page(f"opsreview {summary['date']}", body))


def _coverage_rows(coverage: list[dict[str, Any]]) -> list[str]:
    """Day-page rows: one per distinct reason, with every section it kept from being checked."""
    grouped: dict[tuple[str, str, str], list[Coverage]] = {}
    for item in coverage:
        fact = Coverage.from_dict(item)
        grouped.setdefault((fact.area, fact.reason, fact.remedy), []).append(fact)
    rows = []
    for (area, reason, remedy), facts in grouped.items():
        sections = "<br>".join(
            dict.fromkeys(
                html.escape(f.section) + (f" <small>({inline_code(f.effect)})</small>" if f.effect else "")
                for f in facts
            )
        )
        items = ", ".join(dict.fromkeys(i for f in facts for i in f.checklist))
        rows.append(
            f"<tr><td>{html.escape(area)}</td><td>{sections}</td><td>{inline_code(reason)}</td>"
            f"<td>{inline_code(remedy)}</td><td>{html.escape(items)}</td></tr>"
        )
    return rows


def render_outputs_index(outputs: Path) -> str:
    """The index of all dates (:mod:`opsreview.run.index_page`)."""
    from opsreview.run.index_page import render_outputs_index as render

    return render(outputs)


def load_run_coverage(run_dir: Path) -> list[Coverage]:
    """Coverage facts of a run: the staged file during a run, else summary.json."""
    staged = run_dir / "coverage.json"
    if staged.exists():
        return [Coverage.from_dict(d) for d in json.loads(staged.read_text(encoding="utf-8"))]
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        return []
    return [Coverage.from_dict(d) for d in json.loads(summary_path.read_text(encoding="utf-8")).get("coverage", [])]


def load_run_kpis(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The areas' KPIs of a run: the staged file during a run, else summary.json."""
    for path, key in ((run_dir / "kpis.json", None), (run_dir / "summary.json", "kpis")):
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            found = data if key is None else data.get(key)
            return dict(found) if isinstance(found, dict) else {}
    return {}


def load_run_notifications(run_dir: Path) -> dict[str, Any] | None:
    """What the alert channels were told: the staged file during a run, else summary.json."""
    for path, key in ((run_dir / "notifications.json", None), (run_dir / "summary.json", "notifications")):
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            found = data if key is None else data.get(key)
            return dict(found) if isinstance(found, dict) else None
    return None


def load_run_findings(run_dir: Path) -> tuple[list[Finding], list[dict[str, Any]], list[dict[str, Any]]]:
    """Findings, sources and notebooks of a run: staged files during a run, else summary.json."""
    staged = run_dir / "findings.json"
    if staged.exists():
        findings = [Finding.from_dict(d) for d in json.loads(staged.read_text(encoding="utf-8"))]
        sources_path = run_dir / "sources.json"
        sources = json.loads(sources_path.read_text(encoding="utf-8")) if sources_path.exists() else []
        return findings, sources, []
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        return [], [], []
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    findings = [
        Finding.from_dict(d) for d in summary.get("findings", []) if not str(d.get("check", "")).startswith("summary.")
    ]
    return findings, summary.get("sources", []), summary.get("notebooks", [])
