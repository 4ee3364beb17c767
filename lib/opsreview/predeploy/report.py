"""The gate's report beside the daily ones: ``<outputs>/predeploy/<UTC timestamp>/`` holds
``predeploy.json`` (verdict, every check with its evidence, the params' environment) and
``predeploy.html`` (the same, as a page with the daily reports' CSS); ``<outputs>/predeploy/
latest.json`` is the newest, replaced atomically. :func:`latest_result` reads them back (the
living checklist shows the last gate).

Everything written and printed passes :func:`opsreview.secrets.redact` (the values of the
smoke run's ``${ENV}`` headers and of the connection string are registered when resolved).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from opsreview.exceptions import OutputsError
from opsreview.predeploy.models import FAIL, NOT_CHECKED, PASS, GateResult
from opsreview.secrets import redact
from opsreview.share import shareable_data

FOLDER = "predeploy"
RESULT_FILE = "predeploy.json"
LATEST_FILE = "latest.json"
_COLOURS = {"GO": "#15803d", "NO-GO": "#b91c1c", PASS: "#15803d", FAIL: "#b91c1c", NOT_CHECKED: "#b45309"}


def format_result(result: GateResult) -> str:
    """The verdict and one line per check (blocking ones first, marked ``x``), redacted."""
    checked = result.started.astimezone(dt.UTC).isoformat(timespec="seconds")
    lines = [f"{result.verdict}: {result.environment}, {result.base_url} ({checked})"]
    ordered = [c for c in result.checks if c.blocking] + [c for c in result.checks if not c.blocking]
    lines += [f"  {'x ' if c.blocking else 'ok'} {c.line()}" for c in ordered]
    return redact("\n".join(lines))


def result_table(result: GateResult) -> pd.DataFrame:
    """One row per check (the notebook's table): id, status, optional, result, what to configure."""
    return pd.DataFrame(
        [
            {
                "check": c.id,
                "status": c.status,
                "optional": c.optional,
                "blocks": c.blocking,
                "result": c.summary,
                "to check it": c.remedy if c.status == NOT_CHECKED else "",
                "checklist": ", ".join(c.to_dict()["checklist"]),
            }
            for c in result.checks
        ]
    )


def _run_folder(root: Path, started: dt.datetime) -> Path:
    stamp = started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, n = root / stamp, 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{n}"
    return folder


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # rows (requests, probe results, channels): a small table, at most 100 rows
        columns = list(dict.fromkeys(k for row in value for k in row))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in value[:100]
        )
        more = f"<p><i>{len(value) - 100} more</i></p>" if len(value) > 100 else ""
        return f"<table><tr>{head}</tr>{body}</table>{more}"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str, ensure_ascii=False)
        return f"<code>{html.escape(text[:2000])}{'…' if len(text) > 2000 else ''}</code>"
    return html.escape("" if value is None else str(value))


def render_html(document: dict[str, Any]) -> str:
    """A page of the gate's result with the daily reports' CSS (no script)."""
    from opsreview.run.report import PAGE_CSS  # the exporter's imports are paid only when writing

    verdict = str(document["verdict"])
    badge = f"<span class='badge' style='background:{_COLOURS.get(verdict, '#6b7280')}'>{html.escape(verdict)}</span>"
    reasons = "".join(f"<li>{html.escape(line)}</li>" for line in document["reasons"]) or "<li>none</li>"
    rows = []
    for check in document["checks"]:
        colour = _COLOURS.get(check["status"], "#6b7280")
        status = (
            f"<span class='badge' style='background:{colour};white-space:nowrap'>{html.escape(check['status'])}</span>"
        )
        optional = " (optional)" if check["optional"] else ""
        remedy = (
            f"<br><em>To check it: {html.escape(check['remedy'])}</em>"
            if check["remedy"] and check["status"] == NOT_CHECKED
            else ""
        )
        evidence = "".join(f"<div><b>{html.escape(str(k))}</b>: {_cell(v)}</div>" for k, v in check["evidence"].items())
        rows.append(
            f"<tr><td><code>{html.escape(check['id'])}</code><br>{html.escape(check['title'])}</td>"
            f"<td>{status}{optional}</td><td>{html.escape(check['detail'])}{remedy}</td><td>{evidence}</td>"
            f"<td>{html.escape(', '.join(check['checklist']))}</td></tr>"
        )
    body = (
        f"<h1>Pre-deployment go/no-go {badge}</h1>"
        f"<p>{html.escape(str(document['environment']))} &mdash; {html.escape(str(document['base_url']))}, "
        f"checked {html.escape(str(document['checked_at']))}</p>"
        f"<h2>Reasons</h2><ul>{reasons}</ul><h2>Checks</h2>"
        "<table><tr><th>check</th><th>status</th><th>result</th><th>evidence</th><th>checklist</th></tr>"
        f"{''.join(rows)}</table>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>predeploy {html.escape(verdict)}</title><style>{PAGE_CSS}</style></head><body>{body}</body></html>\n"
    )


def write_report(result: GateResult, root: Path) -> Path:
    """Write the run's folder under ``root`` (``<outputs>/predeploy``) and ``latest.json``;
    returns the run's folder. An unwritable folder is an OutputsError."""
    from opsreview.run.report import write_text_atomic

    document = result.to_dict()
    try:
        folder = _run_folder(root, result.started)
        document["report_dir"] = folder.name
        # the same masking as every other output (card numbers, tokens in URLs, client pseudonyms)
        document = shareable_data(json.loads(json.dumps(document, default=str)))
        text = redact(json.dumps(document, indent=2, default=str, ensure_ascii=False)) + "\n"
        write_text_atomic(folder / RESULT_FILE, text)
        write_text_atomic(folder / "predeploy.html", redact(render_html(json.loads(text))))
        write_text_atomic(root / LATEST_FILE, text)
    except OSError as exc:
        raise OutputsError(f"cannot write the predeploy report under {root}: {exc.strerror or exc}") from exc
    return folder


def _checked_at(document: dict[str, Any]) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(str(document["checked_at"]))
    except (KeyError, ValueError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def latest_result(outputs: Path, until: dt.datetime | None = None) -> dict[str, Any] | None:
    """The newest ``predeploy.json`` under ``<outputs>/predeploy/`` checked at or before
    ``until`` (any time when None), or None when there is none; ``report`` is its folder
    relative to ``outputs``. Unreadable files are skipped."""
    root = outputs / FOLDER
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    if not root.is_dir():
        return None
    best: tuple[dt.datetime, dict[str, Any]] | None = None
    for path in root.glob(f"*/{RESULT_FILE}"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        when = _checked_at(document) if isinstance(document, dict) else None
        if when is None or (until is not None and when > until):
            continue
        if best is None or when > best[0]:
            document.setdefault("report", f"{FOLDER}/{path.parent.name}")  # where its page is, from <outputs>
            best = (when, document)
    return None if best is None else best[1]
