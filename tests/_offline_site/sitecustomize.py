"""Offline guard for the Python subprocesses the mlops_nb test suite starts.

The pytest plugin ``tests/_offline_guard.py`` puts this directory first on
``PYTHONPATH`` and names a log file in ``MLOPS_NB_OFFLINE_LOG``. Python's ``site``
module then imports this file at start-up in every subprocess (papermill kernels,
crash tests, ``jupyter lab``), and it blocks non-loopback network use, appending one
JSON line per attempt to that log; the plugin fails the test that caused it.

Any other ``sitecustomize`` further along ``sys.path`` (a venv's or a distribution's)
still runs, after the guard is in place.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


def _install_guard() -> None:
    log = os.environ.get("MLOPS_NB_OFFLINE_LOG")
    if not log:
        return
    try:
        import _mnb_offline_patch

        _mnb_offline_patch.install_from_env()
    except Exception as err:  # make the failure visible to the plugin
        import json

        line = {"kind": "guard-error", "error": repr(err), "pid": os.getpid()}
        with contextlib.suppress(OSError), Path(log).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        print(f"mlops_nb offline guard failed to install: {err!r}", file=sys.stderr)


def _chain_next_sitecustomize() -> None:
    import importlib.machinery
    import importlib.util

    here = Path(__file__).resolve().parent
    path = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_install_guard()
_chain_next_sitecustomize()
