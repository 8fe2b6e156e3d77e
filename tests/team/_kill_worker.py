"""Subprocess entry point: register data versions on a team project until killed.

Usage: python _kill_worker.py URL ARTIFACTS SEED

Opens ``Project.open(URL, artifacts=ARTIFACTS)``, prints ``ready``, then registers
new versions of the data ``k`` (frames of its own, from SEED) in a loop, printing
one JSON line ``{"version", "sha256"}`` after each registration returns (an
acknowledged version: the parent checks it survives the SIGKILL that ends this
process at a random moment). Stops by itself after 400 versions.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pandas as pd

import mlops_nb as mnb


def main() -> None:
    url, artifacts, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    proj = mnb.Project.open(url, artifacts=artifacts)
    rng = np.random.default_rng(seed)
    print("ready", flush=True)
    for step in range(400):
        # sizes vary so uploads of several parts are killed too
        n = int(rng.integers(5, 4000))
        frame = pd.DataFrame({"seed": seed, "step": step, "x": rng.normal(size=n)})
        asset = proj.data("k", frame, note=f"seed {seed} step {step}")
        blob = hashlib.sha256(pd.util.hash_pandas_object(frame).values).hexdigest()
        print(json.dumps({"version": asset.version, "sha256": blob}), flush=True)


if __name__ == "__main__":
    main()
