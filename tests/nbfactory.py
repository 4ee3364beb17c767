"""Tiny purpose-built review notebooks for runner tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

PARAMS_CELL = 'params_path = "../params/demo.yaml"\nreview_date = ""'
OPEN = "from opsreview.context import open_review\nreview = open_review(params_path, review_date)"

BODIES = {
    "ok": OPEN + "\nfrom opsreview.display import show_findings, show_figure\n"
    "from opsreview.findings import Finding, Severity\nimport plotly.graph_objects as go\n"
    "show_figure(go.Figure(go.Bar(x=['a', 'b'], y=[1, 2])))\n"
    "show_findings([Finding('ok', 'ok.sample', Severity.warning, f'sample finding for {review.day}', value=3, threshold=2)])",
    "raises": OPEN + "\nraise ValueError('planted failure in the raises notebook')",
    "slow": OPEN + "\nimport time\ntime.sleep(120)",
    "critical": OPEN
    + "\nfrom opsreview.display import show_findings\nfrom opsreview.findings import Finding, Severity\n"
    "show_findings([Finding('critical', 'critical.sample', Severity.critical, 'a critical finding')])",
    "secret": OPEN
    + "\nfrom opsreview.secrets import SecretRef\nvalue = SecretRef('${OPSREVIEW_TEST_SECRET}').resolve()\n"
    "print('connecting with', value)\nraise RuntimeError(f'cannot connect using {value}')",
}


def write_notebook(folder: Path, name: str, body: str | None = None, parameters: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMS_CELL)
    if parameters:
        params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), params, nbformat.v4.new_code_cell(body or BODIES[name])]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def write_params(path: Path, notebooks: Path, outputs: Path, store: Path, extra: str = "", timeout: int = 120) -> Path:
    path.write_text(
        f"environment: test\ntimezone: Europe/Berlin\nfail_on: critical\nstore: {store}\noutputs: {outputs}\n"
        f"runner:\n  timeout_seconds: {timeout}\n  jobs: 2\n  notebooks: {notebooks}\n{extra}",
        encoding="utf-8",
    )
    return path
