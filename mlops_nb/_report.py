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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlops_nb.errors import DataReadError, ValidationError

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
        raise DataReadError(f"report: notebook {str(notebook)!r} does not exist.")
    if notebook.suffix != ".ipynb":
        raise ValidationError(f"report: {str(notebook)!r} is not a .ipynb notebook.")
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
    body, _ = exporter.from_notebook_node(nb)
    body = _EMPTY_SCRIPT.sub("", body)
    body = _REMOTE_TAG.sub("", body)
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def run_report(
    notebook: str | Path,
    html_path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
) -> dict[str, Any]:
    """Execute a notebook and write its HTML report next to the executed copy.

    Returns
    -------
    dict
        ``html``, ``notebook`` (the executed copy) and ``seconds``.
    """
    html_path = Path(html_path)
    executed = html_path.with_suffix(".ipynb")
    start = time.perf_counter()
    execute_notebook(notebook, executed, parameters=parameters, cwd=cwd)
    notebook_to_html(executed, html_path)
    return {
        "html": html_path,
        "notebook": executed,
        "seconds": time.perf_counter() - start,
    }
