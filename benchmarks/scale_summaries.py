"""Summaries of ROWS x 10 columns: pyarrow batch loop vs pandas in memory (one run).

``python -m benchmarks.scale_summaries [ROWS]`` (default 5,000,000). Standalone,
not part of ``python -m benchmarks``: it writes ~0.4 GB of parquet to a temp folder.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main(rows: int) -> None:
    import numpy as np
    import pandas as pd
    import psutil

    from mlops_nb.data._summarize import summarize_frame, summarize_parquet
    from mlops_nb.drift._binned import drift_spec

    rng = np.random.default_rng(0)
    cols = {f"x{i}": rng.normal(i, 1 + i, rows) for i in range(8)}
    cols["c0"] = pd.Series(rng.choice([f"k{i}" for i in range(20)], rows), dtype=object)
    cols["c1"] = pd.Series(rng.choice([f"v{i}" for i in range(5)], rows), dtype=object)
    frame = pd.DataFrame(cols)
    kinds = {c: "continuous" if c.startswith("x") else "categorical" for c in frame}
    spec = drift_spec(frame.iloc[:100_000], kinds)
    nodistinct = type(spec)(spec.columns, distinct=False)
    with tempfile.TemporaryDirectory() as tmp:
        for i, a in enumerate(range(0, rows, rows // 10)):
            frame.iloc[a : a + rows // 10].to_parquet(Path(tmp) / f"p{i:02d}.parquet")
        for label, sp in (("with HLL", spec), ("no numeric HLL", nodistinct)):
            t = time.perf_counter()
            summarize_parquet(tmp, sp)
            loop = time.perf_counter() - t
            t = time.perf_counter()
            summarize_frame(frame, sp)
            mem = time.perf_counter() - t
            print(f"{label}: batch loop {loop:.1f} s, in memory {mem:.1f} s")
    t = time.perf_counter()
    frame.describe()
    frame[["c0", "c1"]].apply(pd.Series.value_counts)
    print(f"pandas describe + value_counts: {time.perf_counter() - t:.1f} s")
    rss = psutil.Process().memory_info().rss / 2**30
    print(f"rows {rows:,} x {frame.shape[1]} columns; peak-ish RSS {rss:.1f} GiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
