"""``notebooks``: each companion notebook run as a report, against its 60 s budget.

A workshop room runs every notebook on 2 cores; DESIGN.md gives each one a minute.
The tests assert what a notebook shows, never how long it took (a busy CI machine
would fail them); the time budget lives here. Each notebook runs as ``mlops-nb report``
does in ``make demo``: papermill in a fresh kernel, its own project folder, HTML export.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import ROOT, child_env
from benchmarks._registry import Config, Row, register

#: The budget of one notebook, in seconds (DESIGN.md: "under a minute on 2 cores").
BUDGET_S = 60.0


def _run(path: Path, folder: Path) -> float:
    cli = Path(sys.executable).parent / "mlops-nb"
    cmd = [str(cli), "report", str(path), "-p", "project_dir", str(folder / "proj"),
           "-o", str(folder / f"{path.stem}.html")]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=child_env(), timeout=600, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        msg = f"{path.name} failed: {done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return seconds


@register("notebooks", "each companion notebook as a report vs its 60 s budget")
def bench_notebooks(config: Config) -> list[Row]:
    """Run every companion notebook once (quick: the first two) and time it.

    Parameters
    ----------
    config : Config
        ``quick`` runs notebooks 00 and 01 only.

    Returns
    -------
    list of Row
        One row per notebook; the peer column is the budget, so a ratio above 1
        means the notebook ran inside it.
    """
    paths = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    paths = config.pick(paths, paths[:2])
    rows = []
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = _run(path, Path(tmp))
        print(f"notebooks: {path.stem} {seconds:.1f} s", file=sys.stderr)
        rows.append(
            Row(
                f"notebook {path.stem}",
                seconds,
                BUDGET_S,
                unit="s",
                peer_name=f"budget {BUDGET_S:.0f} s",
                notes="papermill report in a fresh kernel, HTML export included",
                extra={"within_budget": seconds < BUDGET_S},
            )
        )
    return rows


@register(
    "notebooks_live",
    "the capstone in a live kernel with widgets (JupyterLab's Run All) vs its budget",
)
def bench_notebooks_live(config: Config) -> list[Row]:
    """Run notebook 09 cell by cell in a live kernel, display mode ``"widget"``.

    Every object builds its live widget and its saved static view, as in
    JupyterLab; no browser draws them (see :mod:`benchmarks._live`). Quick runs
    notebook 00 instead.

    Parameters
    ----------
    config : Config
        ``quick`` runs notebook 00.

    Returns
    -------
    list of Row
        The kernel's busy time over all cells (start-up excluded) against the
        budget, and its CPU time; per-cell seconds in ``extra``.
    """
    from benchmarks._live import run_live

    name = config.pick("09_capstone", "00_setup")
    path = next((ROOT / "notebooks").glob(f"{name[:2]}_*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        cells = run_live(path, {"project_dir": str(Path(tmp) / "proj")})
    failed = [c for c in cells if c.errors]
    if failed:
        msg = f"{path.name} cell {failed[0].index} failed: {failed[0].errors}"
        raise RuntimeError(msg)
    wall = sum(c.seconds for c in cells)
    cpu = sum(c.cpu_seconds for c in cells)
    per_cell = {
        f"cell {c.index}: {c.first_line}": [
            round(c.seconds, 2),
            round(c.cpu_seconds, 2),
        ]
        for c in cells
    }
    print(
        f"notebooks_live: {path.stem} {wall:.1f} s (cpu {cpu:.1f} s)", file=sys.stderr
    )
    return [
        Row(
            f"live notebook {path.stem}",
            wall,
            BUDGET_S,
            unit="s",
            peer_name=f"budget {BUDGET_S:.0f} s",
            notes="live kernel, display mode widget, cells run one by one; "
            "kernel start-up and browser drawing excluded",
            extra={"cpu_s": cpu, "cells_s_and_cpu_s": per_cell},
        ),
        Row(
            f"live notebook {path.stem}: kernel CPU",
            cpu,
            BUDGET_S,
            unit="s",
            peer_name=f"budget {BUDGET_S:.0f} s",
            notes="CPU seconds of the kernel process (all threads) over every cell",
        ),
    ]
