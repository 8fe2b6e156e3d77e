"""Subprocess entry point for the crash loop (T17): register versions until killed.

Usage: python crash_writer.py PROJECT SEED N_ROWS

Prints ``ready`` once the project is open, then ``committed <version> <content_hash>``
after each ``proj.data`` call returns. The parent SIGKILLs it at a random moment.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from mlops_nb._project import Project


def main() -> None:
    path, seed, n_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    proj = Project.open(path)
    print("ready", flush=True)
    i = 0
    while True:
        rng = np.random.default_rng([seed, i])
        frame = pd.DataFrame({
            "a": rng.random(n_rows),
            "b": rng.random(n_rows),
            "y": rng.integers(0, 2, n_rows),
        })  # fmt: skip
        asset = proj.data("big", frame, target="y", note=f"seed {seed} step {i}")
        print(f"committed {asset.version} {asset.content_hash}", flush=True)
        if i % 3 == 0:  # a small second asset, so crashes also hit other rows
            small = proj.data("meta", frame.head(5), target="y")
            print(f"committed-meta {small.version} {small.content_hash}", flush=True)
        i += 1


if __name__ == "__main__":
    main()
