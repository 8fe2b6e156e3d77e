"""A 2-worker LocalCluster monitors 20M rows: planted drift found in exactly its days.

The partitions are generated ON the workers (one seeded task per partition writes
its own parquet file: no process ever holds the 20M rows), registered as a large
version, and observed with ``chunk="D"`` on the session's LocalCluster (2 workers,
1 thread each, ``memory_limit="1GB"``; ``conftest.dask_client``).

Layout: 20 days of 1,000,000 rows, each day written as two partitions of 500,000
rows (40 files). The drift is planted per partition: both halves of some days and
only one half of another (so half of that day's rows drift); the alerted chunks
must be exactly the days that hold a drifted partition, and every other day stays
quiet; the CBPE estimate is there for every day. Measured on this 2-core machine
(shared): 2 min 20 s for the whole test before CBPE ran on the workers; 12 min with
it, while a 100M-row benchmark and others' test runs shared the cores (load ~14).
The 100M-row figure is ``benchmarks``'s ``scale_monitor``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from mlops_nb.drift._analysis import SCORE

DAYS, PARTS_PER_DAY, PART_ROWS = 20, 2, 500_000
#: partition -> drifted; days 3 and 11 whole, day 16 in its second half only
DRIFTED_PARTS = frozenset({6, 7, 22, 23, 33})
START = pd.Timestamp("2026-03-01")


def _partition(i: int, folder: str, drift: bool) -> int:
    """Write partition ``i`` (day ``i // 2``) to ``folder``; run on a worker."""
    rng = np.random.default_rng([17, i])
    n = PART_ROWS
    x1 = rng.normal(1.2 if drift else 0.0, 1, n)
    x2 = rng.exponential(1, n)
    c = rng.choice(list("abc"), n, p=[0.6, 0.3, 0.1] if drift else [0.2, 0.3, 0.5])
    half = i % PARTS_PER_DAY
    secs = np.sort(rng.uniform(0, 43_199, n)) + half * 43_200
    day = START + pd.Timedelta(days=i // PARTS_PER_DAY)
    frame = pd.DataFrame(
        {
            "ts": day + pd.to_timedelta(secs, unit="s"),
            "x1": x1,
            "x2": x2,
            "c": pd.Series(c, dtype=object),
            "y": (x1 + rng.normal(0, 1, n) > 0).astype(np.int64),
            "id": np.arange(n, dtype=np.int64) + i * n,
        }
    )
    frame.to_parquet(f"{folder}/part-{i:03d}.parquet", index=False)
    return n


def _reference(n: int, day: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n)
    secs = np.sort(rng.uniform(0, 86_399, n))
    return pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-01-01")
            + pd.Timedelta(days=day)
            + pd.to_timedelta(secs, unit="s"),
            "x1": x1,
            "x2": rng.exponential(1, n),
            "c": pd.Series(rng.choice(list("abc"), n, p=[0.2, 0.3, 0.5]), dtype=object),
            "y": (x1 + rng.normal(0, 1, n) > 0).astype(np.int64),
            "id": np.arange(n, dtype=np.int64) + day * 10**6,
        }
    )


@pytest.mark.slow
def test_a_cluster_monitors_20m_rows_and_alerts_only_the_planted_days(
    project, tmp_path, dask_client
):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers get it
    folder = tmp_path / "logs"
    folder.mkdir()
    n_parts = DAYS * PARTS_PER_DAY
    futures = [
        dask_client.submit(_partition, i, str(folder), i in DRIFTED_PARTS, pure=False)
        for i in range(n_parts)
    ]
    assert sum(dask_client.gather(futures)) == n_parts * PART_ROWS
    del futures

    ref = pd.concat([_reference(400, d, d) for d in range(8)], ignore_index=True)
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 8}, seed=0)
    logs = project.data("logs", str(folder / "*.parquet"), time="ts")
    assert logs.is_large
    assert logs.n_rows == n_parts * PART_ROWS

    mon = model.monitor(reference=test, chunk="D")
    obs = mon.observe(logs, client=dask_client)
    days = [(START + pd.Timedelta(days=d)).strftime("%Y-%m-%d") for d in range(DAYS)]
    assert list(obs.chunks["chunk"]) == days
    assert list(obs.chunks["rows"]) == [PART_ROWS * PARTS_PER_DAY] * DAYS
    planted = {p // PARTS_PER_DAY for p in DRIFTED_PARTS}
    alerted = {i for i, n in enumerate(obs.chunks["alerts"]) if n}
    assert alerted == planted
    for d in planted:  # the drifted features are named, the clean one is not
        named = set(obs.chunks["drifted features"][d].split(", "))
        assert {"x1", "c"} <= named
        assert "x2" not in named
    review = mon.review()
    frame = review.to_frame()
    hits = frame[frame["alert"]]
    assert {review.chunks.index(k) for k in hits["chunk"]} == planted
    assert set(hits["column"]) <= {"x1", "c", SCORE}  # x1 moves the model's score
    assert review.recommendation["action"] == "investigate"
    # the label-free estimate (CBPE) is there for every day, from the workers' sums
    # (its equality with the in-memory path is test_observe_large_performance.py)
    perf = review.payload["performance"]
    assert len(perf["estimated"]) == DAYS
    assert all(v is not None and np.isfinite(v) for v in perf["estimated"])
