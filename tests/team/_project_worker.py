"""Subprocess entry point: one "machine" using a team project through the public API.

Usage: python _project_worker.py URL ARTIFACTS WORKER COUNT START_FILE [OPTIONS]

OPTIONS (JSON) are the fsspec ``storage_options`` of this "machine" (for example
listings cache off and an instance of its own).

Opens ``Project.open(URL, artifacts=ARTIFACTS)``, prints ``ready``, waits until
START_FILE exists, then COUNT times registers a new version of the data ``shared``
(bytes of its own) and, every other step, promotes model ``clf`` version WORKER + 1
to production (gates on ``clf-data`` v1, tolerance 1) or back to staging. Prints one
JSON line per registration: ``{"worker", "step", "version"}``, and one per promotion.

Any exception is printed to stderr with its traceback and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

import mlops_nb as mnb


def main() -> None:
    url, artifacts, worker, count, start = sys.argv[1:6]
    options = json.loads(sys.argv[6]) if len(sys.argv) > 6 else None
    worker, count = int(worker), int(count)
    with mnb.config_context(user=f"w{worker}"):
        proj = mnb.Project.open(url, artifacts=artifacts, storage_options=options)
        model = proj.model("clf", version=worker + 1)
        data = proj.asset("clf-data")
        print("ready", flush=True)
        while not Path(start).exists():
            time.sleep(0.01)
        rng = np.random.default_rng(worker)
        for step in range(count):
            frame = pd.DataFrame({"w": [worker] * 5, "s": [step] * 5})
            frame["x"] = rng.normal(size=5)
            version = proj.data("shared", frame).version
            print(json.dumps({"worker": worker, "step": step, "version": version}))
            if step % 2:
                stage = "production" if step % 4 == 1 else "staging"
                report = model.promote(stage, data=data, tolerance=1)
                print(json.dumps({"worker": worker, "promoted": report.to_stage}))
            sys.stdout.flush()
        proj._store.close()


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
