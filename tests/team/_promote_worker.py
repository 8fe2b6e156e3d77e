"""Subprocess entry point: one kernel promoting its own model version repeatedly.

Usage: python _promote_worker.py WHERE WORKER COUNT START_FILE

WHERE (JSON) is ``{"path": folder}`` (embedded) or ``{"url": ..., "artifacts": ...}``
(team). Opens the project, prints ``ready``, waits until START_FILE exists, then COUNT
times promotes model ``clf`` version WORKER + 1 to production (gates on ``clf-data``
v1, tolerance 1), every third step to staging instead. Prints one JSON line per
promotion ``{"worker", "version", "from", "to", "replaced"}`` and one
``{"worker", "conflict": message}`` per :class:`StoreError` conflict.

Any other exception is printed to stderr with its traceback and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import mlops_nb as mnb
from mlops_nb.errors import StoreError


def main() -> None:
    where, worker, count, start = sys.argv[1:5]
    where, worker, count = json.loads(where), int(worker), int(count)
    with mnb.config_context(user=f"w{worker}"):
        if "path" in where:
            proj = mnb.Project.open(where["path"])
        else:
            proj = mnb.Project.open(where["url"], artifacts=where["artifacts"])
        model = proj.model("clf", version=worker + 1)
        data = proj.asset("clf-data", 1)
        print("ready", flush=True)
        while not Path(start).exists():
            time.sleep(0.01)
        for step in range(count):
            stage = "staging" if step % 3 == 2 else "production"
            try:
                report = model.promote(stage, data=data, tolerance=1)
            except StoreError as err:
                if "changed the production version" not in str(err):
                    raise
                print(json.dumps({"worker": worker, "conflict": str(err)}), flush=True)
                continue
            line = {
                "worker": worker,
                "version": model.version,
                "from": report.from_stage,
                "to": report.to_stage,
                "replaced": report.replaced,
            }
            print(json.dumps(line), flush=True)
        getattr(proj._store, "close", lambda: None)()


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
