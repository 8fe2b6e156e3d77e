"""Notebook reports: run a notebook with papermill, export self-contained HTML.

The kernel runs with ``MLOPS_NB_DISPLAY=html`` so every mlops_nb object writes its
static HTML view (plotly.js embedded once), papermill does not store widget state (with
it, nbconvert would draw widgets from CDN scripts instead of our HTML), and the
exported page loads nothing from the network.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import DataReadError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

_REMOTE_TAG = re.compile(
    r"<(script|link)\b[^>]*\b(src|href)\s*=\s*[\"'](https?:)?//[^\"']*[\"'][^>]*>(\s*</script>)?",
    re.IGNORECASE,
)
_EMPTY_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']\s*[\"'][^>]*>\s*</script>", re.IGNORECASE
)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    kernel_name: str = "python3",
    timeout: int = 600,
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (an ``.ipynb``)."""
    import papermill as pm

    notebook = Path(notebook)
    if not notebook.is_file():
        msg = f"report: notebook {str(notebook)!r} does not exist."
        raise DataReadError(msg)
    if notebook.suffix != ".ipynb":
        msg = f"report: {str(notebook)!r} is not a .ipynb notebook."
        raise ValidationError(msg)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _env(MLOPS_NB_DISPLAY="html"):
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters or {}),
            kernel_name=kernel_name,
            cwd=str(cwd or notebook.parent),
            progress_bar=False,
            log_output=False,
            store_widget_state=False,
            execution_timeout=timeout,
        )
    return output


def notebook_to_html(executed: str | Path, html_path: str | Path) -> Path:
    """Export an executed notebook to offline HTML (no CDN scripts or stylesheets)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata.pop("widgets", None)  # never let nbconvert draw widgets from a CDN
    exporter = HTMLExporter(template_name="lab")
    exporter.require_js_url = ""
    exporter.mathjax_url = ""
    exporter.widget_renderer_url = ""
    # the page's <title>: the notebook's first heading, else its file name
    # (nbconvert writes "Notebook" for a notebook given as a node)
    title = _title(nb) or Path(executed).stem
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _EMPTY_SCRIPT.sub("", body)
    body = _REMOTE_TAG.sub("", body)
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _title(nb: Any) -> str | None:
    """Return the first Markdown heading of a notebook, without its ``#`` marks."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in str(cell.source).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    return None


_SUMMARY = re.compile(
    r'<script type="application/json" class="mnb-summary">(.*?)</script>', re.S
)


def summarize(executed: str | Path) -> dict[str, Any]:
    """Key figures, alerts and gate verdicts of an executed notebook, for schedulers.

    Every mlops_nb object a cell displayed leaves a small JSON summary in its HTML; this
    collects them in order, lists those with a warning or error badge as alerts, the
    promotion reports and refusals as gate verdicts, and any cell errors.
    """
    import json

    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    objects, errors = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            if isinstance(html, list):
                html = "".join(html)
            objects.extend(
                json.loads(m.replace("<\\/", "</")) for m in _SUMMARY.findall(html)
            )
            if out.get("output_type") == "error":
                errors.append(f"{out.get('ename')}: {out.get('evalue')}")
            text = (
                "".join(out.get("text", ""))
                if out.get("output_type") == "stream"
                else ""
            )
            if "GateError" in text or "cannot move to" in text:
                errors_line = [ln for ln in text.splitlines() if "cannot move to" in ln]
                objects.extend(
                    {
                        "kind": "GateRefusal",
                        "title": "",
                        "summary": ln,
                        "badges": [["refused", "error"]],
                    }
                    for ln in errors_line
                )
    alerts = [
        o
        for o in objects
        if any(t in ("warning", "error") for _, t in o.get("badges", []))
    ]
    gates = [o for o in objects if o["kind"] in ("Promotion", "GateRefusal")]
    return {"objects": objects, "alerts": alerts, "gates": gates, "errors": errors}


def run_report(
    notebook: str | Path,
    html_path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute a notebook; write its HTML report, the executed copy and a JSON summary.

    Parameters
    ----------
    extra : mapping, optional
        Merged into the JSON summary (e.g. a retraining verdict).

    Returns
    -------
    dict
        ``html``, ``notebook`` (the executed copy), ``json`` (key figures, alerts and
        gate verdicts; see :func:`summarize`) and ``seconds``.
    """
    import json

    html_path = Path(html_path)
    executed = html_path.with_suffix(".ipynb")
    summary_path = html_path.with_suffix(".json")
    start = time.perf_counter()
    execute_notebook(notebook, executed, parameters=parameters, cwd=cwd)
    notebook_to_html(executed, html_path)
    seconds = time.perf_counter() - start
    summary = {
        "notebook": str(notebook),
        "parameters": dict(parameters or {}),
        "seconds": round(seconds, 2),
        **summarize(executed),
        **dict(extra or {}),
    }
    summary_path.write_text(
        json.dumps(summary, indent=2, default=str), encoding="utf-8"
    )
    return {
        "html": html_path,
        "notebook": executed,
        "json": summary_path,
        "seconds": seconds,
    }
