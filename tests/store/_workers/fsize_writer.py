"""Subprocess entry point for T18: register under a file-size limit (RLIMIT_FSIZE).

Usage: python fsize_writer.py JOBS.json  (a list of {"path": ..., "limit": bytes})

For each job: open the project, lower the soft RLIMIT_FSIZE to ``limit`` so writes
past it fail with EFBIG, register one new version, restore the limit, and print one
JSON line: {"ok": version or false, "error": class name, "mlops_nb": bool}.
"""

from __future__ import annotations

import json
import resource
import signal
import sys

import numpy as np
import pandas as pd

from mlops_nb._project import Project
from mlops_nb.errors import MlopsNbError


def main() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    rng = np.random.default_rng(3)
    new = pd.DataFrame({"x": rng.random(400), "y": rng.integers(0, 2, 400)})
    for job in json.loads(open(sys.argv[1]).read()):  # noqa: PTH123, SIM115
        proj = Project.open(job["path"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (job["limit"], hard))
        try:
            result = {
                "ok": proj.data("acs", new).version,
                "error": None,
                "mlops_nb": True,
            }
        except Exception as err:
            result = {
                "ok": False,
                "error": f"{type(err).__module__}.{type(err).__name__}: {err}",
                "mlops_nb": isinstance(err, MlopsNbError),
            }
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        proj._store.db.close()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
