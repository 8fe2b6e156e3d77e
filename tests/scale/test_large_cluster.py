"""Large versions read on a real LocalCluster: partitions verified on the workers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_nb.errors import IntegrityError

pytestmark = pytest.mark.slow


def _write(folder, n_parts=6, rows=2_000):
    rng = np.random.default_rng(0)
    folder.mkdir()
    frames = []
    for i in range(n_parts):
        f = pd.DataFrame(
            {
                "x": rng.normal(i, 1, rows),
                "c": pd.Series(rng.choice(list("abc"), rows), dtype=object),
            }
        )
        f.to_parquet(folder / f"part-{i}.parquet", index=False)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def test_dask_on_a_cluster_reads_verified_partitions(project, tmp_path, dask_client):
    import dask.dataframe as dd

    whole = _write(tmp_path / "p")
    asset = project.data("logs", tmp_path / "p")
    got = dask_client.compute(asset.dask()).result().reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.astype(object), whole.astype(object), check_dtype=False
    )
    # a Dask DataFrame whose partitions live on the workers registers too
    ddf = dd.from_pandas(whole, npartitions=5).persist()
    scores = project.data("scores", ddf)
    assert scores.n_rows == len(whole)
    prof = scores.profile().to_frame()  # summaries computed on the workers
    assert prof.loc["x", "mean"] == pytest.approx(whole["x"].mean(), rel=1e-9)

    digest = json.loads(project._store.read_blob(asset.artifact))["partitions"][3]
    artifacts = project._store.artifacts
    if hasattr(artifacts, "path_for"):
        path = artifacts.path_for(digest["sha256"])
        data = bytearray(path.read_bytes())
        data[100] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        key = artifacts.key_for(digest["sha256"])
        data = bytearray(artifacts.fs.cat_file(key))
        data[100] ^= 0x01
        artifacts.fs.pipe_file(key, bytes(data))
    with pytest.raises(IntegrityError, match=r"partition 3 \('part-3.parquet'\)"):
        dask_client.compute(asset.dask()).result()
