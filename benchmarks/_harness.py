"""Run Python snippets in fresh, isolated subprocesses and measure them.

Every measurement goes through a small *wrapper* process (this file, run as a
script): the wrapper starts the child, times it from spawn to exit, waits for it and
reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``. Because the wrapper has
exactly one child, that number is the peak RSS of this child alone; measured in the
runner itself it would be the maximum over every child the runner ever waited for.

A snippet reports its own numbers (timings taken *inside* the child, counts, sizes)
by calling ``_emit(name=value, ...)``, which :data:`PRELUDE` defines; the values come
back in :attr:`ChildResult.values`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository root: children run there so ``import mlops_nb`` finds this tree.
ROOT = Path(__file__).resolve().parent.parent

#: Where children write bytecode caches (``PYTHONPYCACHEPREFIX``): outside the venv
#: and the work tree, kept between runs.
PYCACHE = Path(tempfile.gettempdir()) / "mlops_nb-bench-pycache"

_MARKER = "@@benchmark-values@@ "

#: Prepended to every snippet. Defines ``_emit(**values)``; imports nothing at the top
#: level beyond ``sys`` (already loaded at start-up), so timings stay clean.
PRELUDE = f"""\
def _emit(**values):
    import json, sys
    sys.stdout.write({_MARKER!r} + json.dumps(values) + "\\n")
    sys.stdout.flush()
"""


class ChildError(RuntimeError):
    """A benchmark child exited with an error, timed out or printed no values."""


@dataclass(frozen=True)
class ChildResult:
    """What one child run produced.

    Attributes
    ----------
    wall : float
        Seconds from spawning the child to its exit (interpreter start-up included).
    peak_rss_mb : float
        The child's peak resident set size, in MiB.
    values : dict
        Everything the child passed to ``_emit``, merged.
    stdout, stderr : str
        The child's other output, for diagnostics.
    """

    wall: float
    peak_rss_mb: float
    values: dict[str, Any]
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)


@dataclass(frozen=True)
class Repeated:
    """The results of running one snippet several times, each in a fresh process.

    Attributes
    ----------
    runs : tuple of ChildResult
        Every measured run, in order (warm-up runs excluded).
    """

    runs: tuple[ChildResult, ...]

    @property
    def wall(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(r.wall for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        """Median peak RSS in MiB."""
        return statistics.median(r.peak_rss_mb for r in self.runs)

    def median(self, key: str) -> float:
        """Median of a numeric value the child emitted under ``key``."""
        return statistics.median(float(r.values[key]) for r in self.runs)

    def samples(self, key: str | None = None) -> list[float]:
        """Every sample of ``key`` (of the wall time when ``key`` is None)."""
        if key is None:
            return [r.wall for r in self.runs]
        return [float(r.values[key]) for r in self.runs]


def child_env(**overrides: str) -> dict[str, str]:
    """The runner's environment with ``overrides`` applied, for a child process.

    Children always write and use bytecode caches, kept under :data:`PYCACHE`:
    ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and CI images) would make
    every fresh process recompile every module it imports, which no user's second
    session does, and would inflate import times several-fold.

    Parameters
    ----------
    **overrides : str
        Variables to set in the child, e.g. ``NML_DISABLE_USAGE_LOGGING="1"``.

    Returns
    -------
    dict
        A new environment mapping; the runner's own ``os.environ`` is untouched.
    """
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)  # would slow every import it times
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(overrides)
    return env


def run_child(
    code: str,
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path = ROOT,
    timeout: float = 900.0,
) -> ChildResult:
    """Run ``code`` with ``python -c`` in a fresh process and measure it.

    Parameters
    ----------
    code : str
        The snippet; :data:`PRELUDE` is prepended, so it may call ``_emit``.
    env : dict, optional
        The child's environment (default: :func:`child_env` with no overrides).
    cwd : str or Path
        The child's working directory (default: the repository root).
    timeout : float
        Seconds before the child is killed and :class:`ChildError` raised.

    Returns
    -------
    ChildResult
        Wall time, peak RSS and the emitted values of this one run.

    Raises
    ------
    ChildError
        When the child fails, times out or emits nothing.
    """
    spec = {
        "argv": [sys.executable, "-c", PRELUDE + code],
        "cwd": str(cwd),
        "timeout": timeout,
    }
    wrapper = subprocess.run(
        [sys.executable, "-S", str(Path(__file__).resolve())],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env if env is not None else child_env(),
        cwd=str(cwd),
        timeout=timeout + 60,
        check=False,
    )
    if wrapper.returncode != 0:
        msg = f"benchmark wrapper failed:\n{_tail(wrapper.stderr)}"
        raise ChildError(msg)
    report = json.loads(wrapper.stdout)
    if report["error"]:
        msg = f"benchmark child {report['error']}:\n{_tail(report['stderr'])}"
        raise ChildError(msg)
    values: dict[str, Any] = {}
    other = []
    for line in report["stdout"].splitlines():
        if line.startswith(_MARKER):
            values.update(json.loads(line[len(_MARKER) :]))
        else:
            other.append(line)
    if not values:
        msg = f"benchmark child emitted no values:\n{_tail(report['stderr'])}"
        raise ChildError(msg)
    return ChildResult(
        wall=report["wall"],
        peak_rss_mb=report["maxrss_mb"],
        values=values,
        stdout="\n".join(other),
        stderr=report["stderr"],
    )


def run_repeated(
    code: str,
    n: int,
    *,
    warmup: int = 1,
    env: dict[str, str] | None = None,
    cwd: str | Path = ROOT,
    timeout: float = 900.0,
) -> Repeated:
    """Run ``code`` ``n`` times, each in a fresh process, after ``warmup`` runs.

    Warm-up runs are discarded: they write ``.pyc`` files and fill the OS page cache,
    so the measured runs see what a user's second and later sessions see.

    Parameters
    ----------
    code : str
        The snippet (see :func:`run_child`).
    n : int
        Number of measured runs.
    warmup : int
        Number of discarded runs before them.
    env, cwd, timeout
        As for :func:`run_child`.

    Returns
    -------
    Repeated
        ``.wall`` is the median wall time; ``.median(key)`` the median of an
        emitted value.
    """
    for _ in range(warmup):
        run_child(code, env=env, cwd=cwd, timeout=timeout)
    runs = tuple(run_child(code, env=env, cwd=cwd, timeout=timeout) for _ in range(n))
    return Repeated(runs)


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _maxrss_mb(usage: resource.struct_rusage) -> float:
    # Linux reports KiB, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 2**20


def _wrap() -> None:
    """Wrapper mode: run one child described on stdin, print a JSON report."""
    spec = json.load(sys.stdin)
    error = ""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            spec["argv"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=spec["cwd"],
            timeout=spec["timeout"],
            check=False,
        )
        stdout, stderr = proc.stdout, proc.stderr
        if proc.returncode != 0:
            error = f"exited with status {proc.returncode}"
    except subprocess.TimeoutExpired as err:
        stdout = _text(err.stdout)
        stderr = _text(err.stderr)
        error = f"timed out after {spec['timeout']} s"
    wall = time.perf_counter() - start
    report = {
        "wall": wall,
        "maxrss_mb": _maxrss_mb(resource.getrusage(resource.RUSAGE_CHILDREN)),
        "stdout": stdout,
        "stderr": stderr,
        "error": error,
    }
    sys.stdout.write(json.dumps(report))


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


if __name__ == "__main__":
    _wrap()
