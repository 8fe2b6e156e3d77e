"""Subprocess entry point: use a project this process cannot write to.

Usage: python readonly_reader.py PROJECT

The tests run as root, whom file modes do not stop, so this child first drops every
capability (``capset``; it stays uid 0, so the interpreter stays readable): file
permissions then apply to it as to any user. It opens the project, runs each reading
step and each writing step, and prints one JSON object: step -> outcome.
"""

from __future__ import annotations

import ctypes
import json
import sys
import warnings


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_all_capabilities() -> None:
    """Clear this process's effective, permitted and inheritable capabilities."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (_Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "capset failed")


def main() -> None:
    path = sys.argv[1]
    drop_all_capabilities()
    import numpy as np
    import pandas as pd

    import mlops_nb as mnb
    from mlops_nb.errors import MlopsNbError

    out: dict[str, dict] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proj = mnb.Project.open(path)
    out["open"] = {"warnings": [str(w.message) for w in caught]}
    new = pd.DataFrame({"x": np.arange(30.0), "y": np.arange(30) % 2})
    reads = {
        "assets": lambda: len(proj.assets()),
        "asset frame": lambda: int(proj.asset("toy").frame.shape[0]),
        "versions": lambda: len(proj.versions("toy")),
        "models": lambda: len(proj.models()),
        "predict": lambda: proj.model("m").predict(new[["x"]]).tolist(),
        "verify": lambda: [proj.verify().ok, proj.verify().problems],
        "verify_model": lambda: mnb.secure.verify_model(proj.model("m")).status,
        "audit log": lambda: len(proj.audit_log()),
    }
    writes = {
        "data": lambda: proj.data("toy2", new, target="y"),
        "train": lambda: proj.train("m", proj.asset("toy"), estimator="logistic"),
        "canvas": lambda: proj.canvas(
            process="p",
            value_level="optimize",
            outcomes={"tp": 1, "fp": -1, "fn": -1, "tn": 0},
        ),
        "gc": lambda: proj.gc(),
        "generate_key": lambda: mnb.secure.generate_key(proj, overwrite=True),
        "sign_model": lambda: mnb.secure.sign_model(proj.model("m")),
    }
    for name, step in {**reads, **writes}.items():
        try:
            value = step()
            out[name] = {"ok": True, "value": value if name in reads else None}
        except Exception as err:
            out[name] = {
                "ok": False,
                "error": f"{type(err).__name__}: {err}",
                "mlops_nb": isinstance(err, MlopsNbError),
            }
    print(json.dumps(out, default=str), flush=True)


if __name__ == "__main__":
    main()
