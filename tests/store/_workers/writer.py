"""Subprocess entry point: register distinct data versions of one asset (T19, T21).

Usage: python writer.py PROJECT NAME COUNT SEED START_FILE [STOP_FILE]

Opens the project, prints ``ready``, waits until START_FILE exists, then registers
COUNT frames (content fixed by SEED and the step; COUNT 0 means until STOP_FILE
exists), printing one JSON line per registration:
{"step", "version", "content_hash", "parents", "t"}. Any exception is printed to
stderr with its traceback and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import pandas as pd

from mlops_nb._project import Project


def frame(seed: int, step: int) -> pd.DataFrame:
    base = seed * 1_000_000 + step * 100
    return pd.DataFrame(
        {"x": list(range(base, base + 30)), "y": [i % 2 for i in range(30)]}
    )


def main() -> int:
    path, name, count, seed, start = sys.argv[1:6]
    stop = sys.argv[6] if len(sys.argv) > 6 else None
    count, seed = int(count), int(seed)
    proj = Project.open(path)
    print("ready", flush=True)
    while not Path(start).exists():
        time.sleep(0.001)
    step = 0
    try:
        while (step < count) if count else not Path(stop).exists():
            asset = proj.data(name, frame(seed, step), target="y")
            record = {
                "step": step,
                "version": asset.version,
                "content_hash": asset.content_hash,
                "parents": [list(p) for p in asset.parents],
                "t": time.time(),
            }
            print(json.dumps(record), flush=True)
            step += 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
