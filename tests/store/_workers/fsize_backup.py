"""Subprocess entry point: backup() and generate_key() on a "full disk".

Usage: python fsize_backup.py JOBS.json  (a list of {"action": "backup" or "key",
"path": project, "dest": backup folder, "limit": bytes})

For each job: open the project, lower the soft RLIMIT_FSIZE to ``limit`` so any write
past it fails with EFBIG (as on a full disk), run the action, restore the limit, and
print one JSON line: {"ok": bool, "error": "Class: message", "mlops_nb": bool}.
"""

from __future__ import annotations

import json
import resource
import signal
import sys

import mlops_nb as mnb
from mlops_nb.errors import MlopsNbError


def main() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    for job in json.loads(open(sys.argv[1]).read()):  # noqa: PTH123, SIM115
        proj = mnb.Project.open(job["path"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (job["limit"], hard))
        try:
            if job["action"] == "backup":
                proj.backup(job["dest"])
            else:
                mnb.secure.generate_key(proj)
            result = {"ok": True, "error": None, "mlops_nb": True}
        except Exception as err:
            result = {
                "ok": False,
                "error": f"{type(err).__name__}: {err}",
                "mlops_nb": isinstance(err, MlopsNbError),
            }
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        proj._store.db.close()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
