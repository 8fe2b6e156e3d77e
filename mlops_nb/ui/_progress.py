"""Progress for long work: a bar in JupyterLab, a line in a terminal, quiet in reports.

In a live kernel in widget mode the bar is an ``ipywidgets.IntProgress`` that closes
itself when the work ends; in an interactive terminal a single self-overwriting line on
stderr; anywhere else (papermill, CI logs, display mode ``html``/``text``) nothing.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config

if TYPE_CHECKING:
    from collections.abc import Iterator


class Progress:
    """Steps of one piece of work; call :meth:`step` after each."""

    def __init__(self, total: int, description: str, sink: Any = None):
        self.total, self.description, self.done = max(int(total), 1), description, 0
        self._sink = sink
        self._start = time.perf_counter()

    def step(self, note: str = "") -> None:
        """Mark one step done."""
        self.done = min(self.done + 1, self.total)
        if self._sink is None:
            return
        if hasattr(self._sink, "value"):  # an ipywidgets progress bar
            self._sink.value = self.done
            self._sink.description = note[:20] or self.description[:20]
        else:
            elapsed = time.perf_counter() - self._start
            self._sink.write(
                f"\r{self.description}: {self.done}/{self.total} {note} "
                f"({elapsed:.1f} s)\033[K"
            )
            self._sink.flush()

    def close(self) -> None:
        """Remove the bar or end the line."""
        if self._sink is None:
            return
        if hasattr(self._sink, "value"):  # a widget: remove it from the output
            self._sink.close()
        else:
            self._sink.write("\n")
            self._sink.flush()


def _sink(total: int, description: str) -> Any:
    from mlops_nb.ui._display import in_live_kernel

    mode = get_config()["display"]
    if mode == "widget" and in_live_kernel():
        try:
            import ipywidgets as w
            from IPython.display import display

            bar = w.IntProgress(
                value=0, min=0, max=max(total, 1), description=description[:20]
            )
            display(bar)
            return bar
        except Exception:  # no widget support: stay quiet
            return None
    if mode != "html" and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        return sys.stderr
    return None


@contextmanager
def progress(total: int, description: str) -> Iterator[Progress]:
    """Show a :class:`Progress` where a person is watching; close it at the end."""
    bar = Progress(total, description, _sink(total, description))
    try:
        yield bar
    finally:
        bar.close()
