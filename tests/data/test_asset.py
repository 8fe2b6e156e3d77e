"""DataAsset: registration, versions, derived versions, lineage, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from _helpers import reopen, tree_snapshot
from mlops_nb import errors


def test_register_infers_schema_and_roles(tiny_asset):
    s = tiny_asset.schema
    assert (tiny_asset.name, tiny_asset.version, tiny_asset.n_rows) == ("tiny", 1, 400)
    assert {c.name: c.kind for c in s.columns} == {
        "id": "id", "x1": "numeric", "x2": "numeric", "color": "categorical",
        "group": "categorical", "when": "datetime", "y": "numeric",
    }  # fmt: skip
    assert (s.target, s.sensitive, s.time, s.id, s.task) == (
        "y",
        ("group",),
        "when",
        "id",
        "binary",
    )
    assert s.features == ["x1", "x2", "color"]


def test_same_data_twice_is_the_same_version(project, tiny_frame, tiny_asset):
    before = tree_snapshot(project.path / "artifacts")
    again = project.data("tiny", tiny_frame.copy())  # roles inherited from v1
    assert again == tiny_asset
    assert again.version == 1
    assert tree_snapshot(project.path / "artifacts") == before
    assert len(project.versions("tiny")) == 1


def test_changed_data_is_version_two_with_parent(project, tiny_frame, tiny_asset):
    changed = tiny_frame.assign(x1=tiny_frame["x1"] + 1)
    v2 = project.data("tiny", changed)
    assert v2.version == 2
    assert v2.parents == (("tiny", 1),)
    assert v2.schema.target == "y"  # roles kept from v1
    assert project.asset("tiny").version == 2
    assert project.asset("tiny", 1) == tiny_asset
    pd.testing.assert_frame_equal(project.asset("tiny", 1).frame, tiny_frame)


def test_frame_round_trips_and_survives_a_new_kernel(project, tiny_frame, tiny_asset):
    reopened = reopen(project).asset("tiny")
    pd.testing.assert_frame_equal(reopened.frame, tiny_frame)
    assert reopened.content_hash == tiny_asset.content_hash


def test_editing_the_returned_frame_does_not_change_the_version(tiny_asset):
    f = tiny_asset.frame
    f.loc[0, "x1"] = 1e9
    assert tiny_asset.frame.loc[0, "x1"] != 1e9


def test_split_is_stratified_seeded_and_has_lineage(tiny_asset):
    train, test = tiny_asset.split(test=0.25, seed=3, stratify="y")
    assert (train.name, test.name) == ("tiny-train", "tiny-test")
    assert train.n_rows + test.n_rows == 400
    assert test.n_rows == 100
    assert set(train.frame["id"]).isdisjoint(test.frame["id"])
    rate = tiny_asset.frame["y"].mean()
    assert abs(test.frame["y"].mean() - rate) < 0.02
    assert str(test.lineage()) == "tiny v1 -> split -> tiny-test v1"
    assert test.schema.target == "y"
    assert test.parents == (("tiny", 1),)
    again = tiny_asset.split(test=0.25, seed=3, stratify="y")
    assert again[1] == test  # same seed, same split, same version


def test_filter_and_transform_record_lineage(tiny_asset):
    big = tiny_asset.filter("x2 > 10", note="large x2", name="tiny-big")
    assert (big.frame["x2"] > 10).all()
    assert big.note == "large x2"
    doubled = big.transform(lambda df: df.assign(x3=df["x1"] * 2), note="add x3")
    assert doubled.version == 2
    assert "x3" in doubled.frame
    lin = doubled.lineage()
    assert lin.ancestors == ["tiny v1", "tiny-big v1"]
    assert [op for _, op, _ in lin.edges] == ["filter", "transform"]
    assert lin.to_frame()["note"].tolist() == ["large x2", "add x3"]
    mask = tiny_asset.filter(lambda df: df["group"] == "A")
    assert set(mask.frame["group"]) == {"A"}
    assert mask.name == "tiny"


def test_filter_and_transform_errors(tiny_asset):
    with pytest.raises(errors.ValidationError, match="filter"):
        tiny_asset.filter("no_such_column > 1")
    with pytest.raises(errors.ValidationError, match="must be 400 booleans"):
        tiny_asset.filter(np.ones(3, bool))
    with pytest.raises(errors.ValidationError, match="must return a DataFrame"):
        tiny_asset.transform(lambda df: 3, note="bad")
    with pytest.raises(errors.EmptyDataError, match="no rows"):
        tiny_asset.filter("x2 > 1e9")
    with pytest.raises(errors.ValidationError, match="between 0 and 1"):
        tiny_asset.split(test=1.5)
    with pytest.raises(errors.SchemaError, match="Did you mean 'y'"):
        tiny_asset.split(stratify="Y")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "churn"}, "target='churn': column not found"),
        ({"sensitive": ["group", "sex"]}, "sensitive='sex'"),
        ({"time": "When"}, "Did you mean 'when'"),
        ({"id": "nope"}, "id='nope'"),
        ({"target": "y", "sensitive": "y"}, "cannot also be the target"),
        ({"kinds": {"x1": "fancy"}}, "unknown kind"),
    ],
)
def test_unknown_columns_are_clear_errors_and_store_nothing(
    project, tiny_frame, kwargs, match
):
    before = tree_snapshot(project.path)
    with pytest.raises(errors.SchemaError, match=match) as info:
        project.data("t", tiny_frame, **kwargs)
    assert len(info.value.failure_cases) >= 1
    assert tree_snapshot(project.path) == before


def test_all_problems_are_collected_in_one_error(project, tiny_frame):
    with pytest.raises(errors.SchemaError) as info:
        project.data("t", tiny_frame, target="a", time="b", sensitive=["c"])
    assert set(info.value.failure_cases["column"]) == {"a", "b", "c"}


def test_bad_frames(project, tiny_frame):
    before = tree_snapshot(project.path)
    with pytest.raises(errors.EmptyDataError, match="no rows"):
        project.data("t", tiny_frame.iloc[:0])
    with pytest.raises(errors.EmptyDataError, match="no columns"):
        project.data("t", pd.DataFrame(index=range(3)))
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(errors.SchemaError, match="duplicate column names 'a'"):
        project.data("t", dup)
    mixed = pd.DataFrame({"a": [1, "x", 2.5], "b": [1, 2, 3]})
    with pytest.raises(errors.SchemaError, match="cannot store column"):
        project.data("t", mixed)
    with pytest.raises(
        errors.UnsupportedFormatError, match="cannot read data from a list"
    ):
        project.data("t", [1, 2])
    assert tree_snapshot(project.path) == before


def test_files_csv_parquet_and_bad_files(project, tiny_frame, tmp_path):
    csv = tmp_path / "d.csv"
    tiny_frame.drop(columns=["when"]).to_csv(csv, index=False)
    a = project.data("from-csv", csv, target="y")
    assert a.n_rows == 400
    assert a.source == "file:d.csv"
    pq = tmp_path / "d.parquet"
    tiny_frame.to_parquet(pq)
    b = project.data("from-pq", str(pq), target="y")
    pd.testing.assert_frame_equal(b.frame, tiny_frame)
    before = tree_snapshot(project.path)
    (tmp_path / "d.xlsx").write_bytes(b"not really")
    with pytest.raises(
        errors.UnsupportedFormatError, match=r"'\.xlsx'.*Supported: '\.csv'"
    ):
        project.data("t", tmp_path / "d.xlsx")
    with pytest.raises(errors.DataReadError, match="not a readable file"):
        project.data("t", tmp_path / "missing.csv")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1garbage")
    with pytest.raises(errors.DataReadError, match="could not parse"):
        project.data("t", tmp_path / "broken.parquet")
    import pickle

    (tmp_path / "evil.csv").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(errors.UnsafeFormatError, match="pickle"):
        project.data("t", tmp_path / "evil.csv")
    assert tree_snapshot(project.path) == before


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 65, "bad\nname", "con"])
def test_path_like_names_are_refused(project, tiny_frame, name):
    before = tree_snapshot(project.path)
    with pytest.raises(errors.RegistryNameError, match="is not allowed"):
        project.data(name, tiny_frame)
    assert tree_snapshot(project.path) == before


def test_unknown_asset_and_version(project, tiny_asset):
    with pytest.raises(errors.NotFoundError, match="Did you mean 'tiny'"):
        project.asset("tiyn")
    with pytest.raises(
        errors.NotFoundError, match=r"no version 7; it has versions \[1\]"
    ):
        project.asset("tiny", 7)


def test_named_index_becomes_a_column(project, tiny_frame):
    a = project.data("ix", tiny_frame.set_index("id"))
    assert a.schema.names[0] == "id"
    b = project.data(
        "noix", tiny_frame.iloc[10:20]
    )  # unnamed, non-default index: dropped
    assert b.frame.index.tolist() == list(range(10))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    df=data_frames(
        [
            column("a", dtype=int),
            column("b", dtype=float),
            column("c", elements=st.sampled_from(["x", "y"])),
        ],
        index=range_indexes(min_size=1, max_size=30),
    )
)
def test_hash_is_stable_and_round_trip_is_exact(project, df):
    first = project.data("hyp", df)
    again = project.data("hyp", df.copy())
    assert again.version == first.version
    pd.testing.assert_frame_equal(reopen(project).asset("hyp", first.version).frame, df)
