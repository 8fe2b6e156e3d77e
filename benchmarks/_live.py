"""Run a notebook's code cells in a live kernel, as JupyterLab's Run All does.

A real IPython kernel (``jupyter_client``) with the widget display mode: every
mlops_nb object builds its live ipywidgets view and its saved static view, progress
bars are widgets, and each widget's state goes out over comm messages. No browser
draws them, so this is the kernel's share of what a person waits for in JupyterLab.

Run alone: ``python -m benchmarks._live notebooks/09_capstone.ipynb [widget|html]``
prints the seconds per cell.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._harness import ROOT, child_env


@dataclass
class CellTime:
    """One code cell's time in the live kernel."""

    index: int
    first_line: str
    seconds: float
    cpu_seconds: float = 0.0
    outputs: int = 0
    widget_views: int = 0
    comm_bytes: int = 0
    errors: list[str] = field(default_factory=list)


def _code_cells(path: Path) -> list[tuple[int, str, list[str]]]:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return [
        (i, cell.source, list(cell.metadata.get("tags", [])))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]


def run_live(
    path: Path,
    parameters: dict[str, Any],
    *,
    display: str = "widget",
    timeout: float = 600.0,
) -> list[CellTime]:
    """Execute ``path``'s code cells one by one in a fresh live kernel and time each.

    Parameters
    ----------
    path : Path
        The notebook.
    parameters : dict
        Injected after the cell tagged ``parameters``, as papermill does.
    display : {"widget", "html"}
        The display mode: ``"widget"`` is JupyterLab's, ``"html"`` papermill's.
    timeout : float
        Seconds one cell may take.

    Returns
    -------
    list of CellTime
        One per code cell, in order (the injected parameters cell excluded).
    """
    from jupyter_client.manager import start_new_kernel

    env = child_env(MLOPS_NB_DISPLAY=display)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), env=env)
    pid = km.provisioner.process.pid
    times = []
    try:
        for index, source, tags in _code_cells(path):
            times.append(_execute(kc, pid, index, source, timeout))
            if "parameters" in tags:
                injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
                _execute(kc, pid, index, injected, timeout)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return times


def _cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _execute(kc: Any, pid: int, index: int, source: str, timeout: float) -> CellTime:
    import json

    first = next((ln for ln in source.splitlines() if ln.strip()), "")
    cell = CellTime(index, first[:60], 0.0)
    start, cpu = time.perf_counter(), _cpu(pid)
    msg_id = kc.execute(source, store_history=True)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("display_data", "execute_result"):
            cell.outputs += 1
            if "application/vnd.jupyter.widget-view+json" in content.get("data", {}):
                cell.widget_views += 1
        elif kind in ("comm_open", "comm_msg"):
            cell.comm_bytes += len(json.dumps(content.get("data", {})))
        elif kind == "error":
            cell.errors.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "status" and content["execution_state"] == "idle":
            break
    cell.seconds = time.perf_counter() - start
    cell.cpu_seconds = _cpu(pid) - cpu
    return cell


def main(argv: list[str]) -> int:
    """Print the live seconds of each code cell of the notebook ``argv[0]``."""
    path = Path(argv[0]).resolve()
    display = argv[1] if len(argv) > 1 else "widget"
    with tempfile.TemporaryDirectory() as tmp:
        times = run_live(
            path, {"project_dir": str(Path(tmp) / "proj")}, display=display
        )
    total = sum(t.seconds for t in times)
    cpu = sum(t.cpu_seconds for t in times)
    for t in times:
        note = f" ERROR {t.errors}" if t.errors else ""
        print(
            f"cell {t.index:2d} {t.seconds:6.2f} s cpu {t.cpu_seconds:6.2f} s "
            f"outputs={t.outputs} "
            f"widgets={t.widget_views} comm={t.comm_bytes / 1e6:.2f} MB  "
            f"{t.first_line}{note}"
        )
    print(f"total {total:.1f} s, cpu {cpu:.1f} s ({display}; kernel start excluded)")
    return 1 if any(t.errors for t in times) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
