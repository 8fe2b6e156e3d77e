"""``mlops-nb demo``: every companion notebook, run with papermill, into HTML reports.

By default each notebook tells its stage on its own project folder under
``<out>/projects/<notebook>`` (no hidden state between them). With the environment
variable ``MLOPS_NB_PROJECT`` every notebook runs on that one project instead: a team
project's database URL (``postgresql://user@host/db?schema=name``, upgraded once with
``mlops-nb db upgrade URL``; its files' place from ``MLOPS_NB_ARTIFACTS``), or a folder.
Files a notebook writes on this machine (the edge bundle of notebook 04, ...) then go
to ``<out>/work/<notebook>``, the reports to ``<out>`` as always.

A password in the URL never reaches a notebook, its report or its JSON summary: the
notebooks get the URL without it, and the database driver reads it from
``PGPASSWORD`` (set for the notebooks' kernels only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

#: The environment variable naming the one project every notebook of the demo uses.
PROJECT_ENV = "MLOPS_NB_PROJECT"


def demo_project() -> str | None:
    """Return the project named by ``MLOPS_NB_PROJECT`` ("" or unset: None)."""
    value = os.environ.get(PROJECT_ENV, "").strip()
    return value or None


def _split_password(url: str) -> tuple[str, str]:
    """Return a team ``url`` without its password, and the password ("" when none)."""
    from mlops_nb._project import _is_team_url
    from mlops_nb.store._urls import password_of

    if not _is_team_url(url) or not password_of(url):
        return url, ""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    password = str(parsed.password or "")
    bare = sa.engine.URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
    return bare, password


def check_project(project: str) -> str:
    """Open the demo's project once before any notebook runs; return how to show it.

    A team database that is not upgraded, a missing ``MLOPS_NB_ARTIFACTS`` or an
    unreachable server fails here, with the library's message, instead of in the
    first cell of every notebook.

    Raises
    ------
    StoreError
        When the database is not upgraded (the message names ``mlops-nb db upgrade``
        with the URL masked) or cannot be reached.
    ValidationError
        When a team project has no artifacts location.
    """
    from mlops_nb._project import Project, _is_team_url
    from mlops_nb.store._urls import mask_url

    if not _is_team_url(project):
        Project.open(project)
        return str(Path(project).expanduser().absolute())
    proj = Project.open(project, create=False)
    try:
        where = dict(proj._where())
    finally:
        proj._store.close()
    return f"team project {mask_url(project)} (files: {where.get('artifacts', '')})"


def _declared(notebook: Path) -> set[str]:
    """Return the names of the parameters the notebook declares."""
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def run_demo(
    notebooks: str | Path,
    out: str | Path,
    *,
    project: str | None = None,
    echo: Callable[..., Any] = print,
) -> list[str]:
    """Run every companion notebook into ``out``; return the names of those that failed.

    Parameters
    ----------
    notebooks : str or Path
        The folder of ``NN_*.ipynb`` notebooks.
    out : str or Path
        Where the HTML reports (with the executed notebooks and JSON summaries) go.
    project : str, optional
        One project for every notebook: a team database URL or a folder (default:
        ``MLOPS_NB_PROJECT``; unset: one folder per notebook under ``out/projects``).
    echo : callable
        Prints progress (``file=sys.stderr`` for failures).

    Raises
    ------
    DataReadError
        When ``notebooks`` holds no companion notebook.
    StoreError, ValidationError
        When ``project`` cannot be opened (see :func:`check_project`); no notebook ran.
    """
    from mlops_nb._report import _env, run_report
    from mlops_nb.errors import DataReadError

    paths = sorted(Path(notebooks).glob("[0-9]*.ipynb"))
    if not paths:
        msg = (
            f"no notebooks found in {str(notebooks)!r}: give the folder of the "
            "companion notebooks (NN_*.ipynb), e.g. --notebooks notebooks."
        )
        raise DataReadError(msg)
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    project = project if project is not None else demo_project()
    env: dict[str, str] = {}
    if project is not None:
        echo(f"every notebook runs on {check_project(project)}", flush=True)
        project, password = _split_password(project)
        if password:
            env["PGPASSWORD"] = password  # the kernels' driver reads it; no report does
    failed = []
    for nb in paths:
        html = out / f"{nb.stem}.html"
        if project is None:
            # each notebook tells its stage on its own project: no hidden state
            params: dict[str, Any] = {"project_dir": str(out / "projects" / nb.stem)}
        else:
            params = {"project_dir": project}
            if "work_dir" in _declared(nb):
                params["work_dir"] = str(out / "work" / nb.stem)
        echo(f"running {nb} ...", flush=True)
        try:
            with _env(**env):
                result = run_report(nb, html, parameters=params)
        except Exception as err:  # report every notebook, then fail
            failed.append(nb.name)
            echo(f"  FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        echo(f"  wrote {result['html']} ({result['seconds']:.1f} s)", flush=True)
    echo(f"reports are in {out}")
    if failed:
        echo(f"failed notebooks: {', '.join(failed)}", file=sys.stderr)
    return failed
