"""Summaries of a partitioned parquet folder on a real LocalCluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.data._summarize import summarize_dask, summarize_frame, summarize_parquet
from mlops_nb.drift._binned import binned_drift, drift_spec

pytestmark = pytest.mark.slow


def _write_parts(folder, n_parts=10, rows=4_000):
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n_parts):
        shift = 0.8 if i in (3, 7) else 0.0  # drift planted in two partitions
        f = pd.DataFrame(
            {
                "x": np.where(
                    rng.random(rows) < 0.05, np.nan, rng.normal(shift, 1, rows)
                ),
                "y": rng.integers(0, 1_000, rows).astype(float),
                "c": pd.Series(rng.choice(list("abcdef"), rows), dtype=object),
            }
        )
        if i == 5:
            f["x"] = np.nan  # an all-null partition
        f.to_parquet(folder / f"part-{i:02d}.parquet", row_group_size=1_500)
        frames.append(f)
    return frames


def test_cluster_summary_equals_the_batch_loop_and_pandas(tmp_path, dask_client):
    import dask.dataframe as dd

    frames = _write_parts(tmp_path)
    whole = pd.concat(frames, ignore_index=True)
    spec = drift_spec(
        frames[0], {"x": "continuous", "y": "continuous", "c": "categorical"}
    )
    ddf = dd.read_parquet(str(tmp_path / "*.parquet"))
    assert ddf.npartitions == 10
    on_cluster = summarize_dask(ddf, spec, split_every=3)
    loop = summarize_parquet(tmp_path, spec, batch_size=1_000)
    in_memory = summarize_frame(whole, spec)
    for other in (loop, in_memory):
        assert other.rows == on_cluster.rows == len(whole)
        for col in spec.columns:
            a, b = on_cluster.columns[col], other.columns[col]
            assert (a.n, a.nulls) == (b.n, b.nulls)
            if col == "c":
                assert a.counts == b.counts
            else:
                assert (a.min, a.max) == (b.min, b.max)
                assert a.mean == pytest.approx(b.mean, rel=1e-12, abs=1e-12)
                assert a.m2 == pytest.approx(b.m2, rel=1e-12)
                for k in a.hists:
                    assert a.hists[k].counts.tolist() == b.hists[k].counts.tolist()
    fig = on_cluster.finalize()
    for col in ("x", "y"):
        s = whole[col]
        assert fig[col]["count"] == s.count()
        assert fig[col]["nulls"] == s.isna().sum()
        assert fig[col]["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert fig[col]["var"] == pytest.approx(s.var(ddof=1), rel=1e-12)
        assert (fig[col]["min"], fig[col]["max"]) == (s.min(), s.max())
    assert {t["value"]: t["count"] for t in fig["c"]["top"]} == whole[
        "c"
    ].value_counts().to_dict()


def test_drift_per_partition_on_the_cluster_finds_the_planted_partitions(
    tmp_path, dask_client
):
    import dask.dataframe as dd

    frames = _write_parts(tmp_path)
    spec = drift_spec(frames[0], {"x": "continuous"})
    ref = summarize_frame(frames[0], spec)
    ddf = dd.read_parquet(str(tmp_path / "*.parquet"))
    js = []
    for i in range(ddf.npartitions):
        part = summarize_dask(ddf.partitions[i], spec)
        js.append(binned_drift(ref, part, "x")["jensen_shannon"])
    flagged = [i for i, v in enumerate(js) if v > 0.15]
    assert flagged == [3, 7]
    assert np.isnan(js[5])  # the all-null partition has no statistic
