"""Large data versions: partitions pinned by SHA-256, read back verified, sampled.

Every test uses the shared ``project`` fixture, so it runs on the team store too
(``MLOPS_NB_TEST_STORE=postgresql``). Dask runs on its local scheduler here; the
distributed cluster is exercised in ``test_large_cluster.py`` (slow).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from _partitions import flip_byte

from mlops_nb.errors import (
    DataReadError,
    EmptyDataError,
    IntegrityError,
    SchemaError,
    ValidationError,
)


def make_parts(folder, seed, *, empty_at=None, null_at=None):
    """Write a random partitioning of a random table; return the frames in order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_parts = int(rng.integers(2, 6))
    frames, start = [], 0
    for i in range(n_parts):
        rows = 0 if i == empty_at else int(rng.integers(1, 120))
        f = pd.DataFrame(
            {
                "request_id": np.arange(start, start + rows, dtype="int64"),
                "x": rng.normal(size=rows),
                "c": pd.Series(rng.choice(["a", "b", "c"], rows), dtype=object),
                "y": rng.integers(0, 2, rows),
            }
        )
        if i == null_at:
            f["x"] = np.nan
        f.to_parquet(folder / f"part-{i:02d}.parquet", index=False)
        frames.append(f)
        start += rows
    return frames


def concat(frames):
    return pd.concat(frames, ignore_index=True)


def same_values(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal values (Dask reads text as Arrow strings, so dtypes may differ)."""
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(
        got.astype(object), want.astype(object), check_dtype=False
    )


def manifest(asset):
    return json.loads(asset.project._store.read_blob(asset.artifact))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_glob_registers_every_partition_pinned_by_sha256(project, tmp_path, seed):
    folder = tmp_path / "logs"
    frames = make_parts(folder, seed, empty_at=1 if seed == 1 else None, null_at=0)
    asset = project.data("logs", str(folder / "*.parquet"), target="y", note="day 1")

    assert asset.is_large
    assert asset.n_rows == sum(len(f) for f in frames)
    assert asset.n_cols == 4
    assert asset.schema.target == "y"
    files = sorted(folder.glob("*.parquet"))
    assert asset.params["large"]["sources"] == [p.name for p in files]
    m = manifest(asset)
    assert [p["sha256"] for p in m["partitions"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    ]
    assert [p["rows"] for p in m["partitions"]] == [len(f) for f in frames]
    assert [c[0] for c in m["columns"]] == ["request_id", "x", "c", "y"]
    # the content hash is the manifest's, without what profiles and views add
    ident = {k: v for k, v in m.items() if k not in ("preview", "ranges")}
    canon = json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()
    assert asset.content_hash == hashlib.sha256(canon).hexdigest()
    # every blob it points to is recorded as referenced
    referenced = project._store.referenced_blobs()
    assert {p["sha256"] for p in m["partitions"]} | {asset.artifact} <= referenced
    # audit and lineage as for any version
    log = project.audit_log()
    entry = log[log["object"] == "asset:logs@1"].iloc[0]
    assert entry["action"] == "register"
    detail = entry["detail"]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["partitions"] == len(frames)
    assert detail["rows"] == asset.n_rows
    assert asset.note == "day 1"
    assert asset.lineage() is not None


def test_same_partitions_are_the_same_version_and_a_change_is_a_new_one(
    project, tmp_path
):
    folder = tmp_path / "a"
    frames = make_parts(folder, 7)
    first = project.data("logs", str(folder / "*.parquet"))
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(folder, copy)
    url = f"file://{copy.as_posix()}/*.parquet"  # an fsspec URL
    for source in (str(folder), copy, str(copy / "part-*.parquet"), url):
        again = project.data("logs", source)
        assert (again.version, again.content_hash) == (1, first.content_hash)
    assert len(project.versions("logs")) == 1

    changed = frames[-1].assign(x=frames[-1]["x"] + 1.0)
    changed.to_parquet(copy / sorted(p.name for p in copy.iterdir())[-1], index=False)
    second = project.data("logs", copy)
    assert second.version == 2
    assert second.content_hash != first.content_hash
    assert second.parents == (("logs", 1),)
    # the unchanged partitions are shared blobs, the changed one is new
    d1 = [p["sha256"] for p in manifest(first)["partitions"]]
    d2 = [p["sha256"] for p in manifest(second)["partitions"]]
    assert d1[:-1] == d2[:-1]
    assert d1[-1] != d2[-1]


def test_frame_of_a_large_version_points_to_dask_and_sample(project, tmp_path):
    make_parts(tmp_path / "p", 3)
    asset = project.data("logs", tmp_path / "p")
    with pytest.raises(ValidationError, match=r"asset\.dask\(\).*asset\.sample\(n"):
        asset.frame  # noqa: B018
    # reopened from the registry, it is still large
    assert project.asset("logs").is_large
    with pytest.raises(ValidationError, match="large version"):
        project.asset("logs").frame  # noqa: B018


def test_a_pandas_frame_keeps_the_in_memory_path(project, tmp_path):
    frames = make_parts(tmp_path / "p", 4)
    asset = project.data("small", concat(frames))
    assert not asset.is_large
    same_values(asset.frame, concat(frames))
    same_values(asset.dask().compute(), concat(frames))  # one partition
    one_file = sorted((tmp_path / "p").glob("*.parquet"))[0]
    assert not project.data("one", one_file).is_large
    odd = tmp_path / "day[1].parquet"  # glob characters in a real file's name
    frames[0].to_parquet(odd, index=False)
    assert not project.data("odd", str(odd)).is_large


@pytest.mark.parametrize("seed", [3, 4])
def test_dask_equals_the_concatenated_partitions(project, tmp_path, seed):
    frames = make_parts(tmp_path / "p", seed, empty_at=0, null_at=1)
    asset = project.data("logs", str(tmp_path / "p" / "*.parquet"))
    ddf = asset.dask()
    assert ddf.npartitions == len(frames)
    same_values(ddf.compute(), concat(frames))
    # reopened in a "new kernel": the same, from the store alone
    same_values(project.asset("logs").dask().compute(), concat(frames))


def test_a_dask_dataframe_registers_without_a_pandas_concat(project):
    import dask.dataframe as dd

    rng = np.random.default_rng(5)
    whole = pd.DataFrame({"x": rng.normal(size=300), "g": rng.choice(["u", "v"], 300)})
    ddf = dd.from_pandas(whole, npartitions=4)
    asset = project.data("scores", ddf)
    assert asset.is_large
    assert asset.n_rows == 300
    assert len(manifest(asset)["partitions"]) == ddf.npartitions
    same_values(asset.dask().compute(), whole)
    assert project.data("scores", dd.from_pandas(whole, npartitions=4)).version == 1


@pytest.mark.parametrize("victim", [0, 2, -1])
def test_a_tampered_partition_is_an_integrity_error_naming_it(
    project, tmp_path, victim
):
    frames = make_parts(tmp_path / "p", 11)
    asset = project.data("logs", tmp_path / "p")
    parts = manifest(asset)["partitions"]
    index = victim % len(parts)
    name = asset.params["large"]["sources"][index]
    flip_byte(project, parts[index]["sha256"], at=len(frames) * 37 + index)

    with pytest.raises(IntegrityError) as err:
        asset.dask().compute()
    assert f"partition {index} ('{name}')" in str(err.value)
    assert "logs v1" in str(err.value)
    with pytest.raises(IntegrityError, match=name):
        asset.sample(5, seed=0)
    # partitions before the changed one still read
    if index > 0:
        same_values(asset.dask().partitions[0].compute(), frames[0])


@pytest.mark.parametrize("seed", [0, 1, 9])
def test_sample_is_deterministic_for_a_seed_and_holds_real_rows(
    project, tmp_path, seed
):
    frames = make_parts(tmp_path / "p", seed + 20, empty_at=2)
    whole = concat(frames)
    asset = project.data("logs", tmp_path / "p", id="request_id")
    n = min(25, len(whole) - 1)
    a = asset.sample(n, seed=seed)
    b = asset.sample(n, seed=seed)
    assert not a.is_large
    assert (a.version, a.content_hash) == (b.version, b.content_hash)  # deduplicated
    rows = a.params["rows"]
    assert len(rows) == len(set(rows)) == n
    same_values(a.frame, whole.iloc[rows])
    assert a.parents == (("logs", 1),)
    other = asset.sample(n, seed=seed + 100)
    assert set(other.params["rows"]) != set(rows)
    everything = asset.sample(len(whole) + 50, seed=seed)
    assert sorted(everything.params["rows"]) == list(range(len(whole)))


def test_sample_of_a_large_version_refuses_strategies_that_need_memory(
    project, tmp_path
):
    make_parts(tmp_path / "p", 2)
    asset = project.data("logs", tmp_path / "p")
    for bad in ({"strategy": "stratified"}, {"strategy": "uncertain"}):
        with pytest.raises(ValidationError, match="random only"):
            asset.sample(5, **bad)
    with pytest.raises(ValidationError, match="positive whole number"):
        asset.sample(0)


def test_the_view_shows_rows_of_the_stored_sample(project, tmp_path):
    frames = make_parts(tmp_path / "p", 6)
    asset = project.data("logs", tmp_path / "p")
    html = asset._html()
    assert "10 rows of a seeded sample" in html
    assert f"{asset.n_rows:,} rows" in asset._text()
    shown = {int(v) for v in concat(frames)["request_id"]}
    from mlops_nb.data._large import preview

    head = preview(asset)
    assert 0 < len(head) <= 1000
    assert set(head["request_id"]) <= shown
    assert list(head["request_id"]) == sorted(head["request_id"])  # in row order


def _write_mixed(folder):
    folder.mkdir()
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(folder / "a.parquet")
    pd.DataFrame({"x": ["one", "two"]}).to_parquet(folder / "b.parquet")
    return "b.parquet", SchemaError


def _write_not_parquet(folder):
    folder.mkdir()
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(folder / "a.parquet")
    (folder / "b.parquet").write_bytes(b"x,y\n1,2\n")
    return "b.parquet", DataReadError


def _write_renamed(folder):
    folder.mkdir()
    pd.DataFrame({"x": [1.0]}).to_parquet(folder / "a.parquet")
    pd.DataFrame({"z": [1.0]}).to_parquet(folder / "b.parquet")
    return "b.parquet", SchemaError


def _write_all_empty(folder):
    folder.mkdir()
    pd.DataFrame({"x": pd.Series([], dtype=float)}).to_parquet(folder / "a.parquet")
    return "no rows", EmptyDataError


def _write_nothing(folder):
    folder.mkdir()
    (folder / "notes.txt").write_text("no parquet here")
    return "no parquet file", DataReadError


@pytest.mark.parametrize(
    "writer",
    [
        _write_mixed,
        _write_not_parquet,
        _write_renamed,
        _write_all_empty,
        _write_nothing,
    ],
)
def test_bad_partitions_are_refused_and_nothing_is_registered(
    project, tmp_path, writer
):
    folder = tmp_path / "bad"
    named, error = writer(folder)
    with pytest.raises(error, match=named):
        project.data("logs", folder)
    assert "logs" not in set(project.assets()["name"])
