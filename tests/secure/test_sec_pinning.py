"""T28 dataset pinning against split-view poisoning; T29 per-source caps."""

from __future__ import annotations

import pickle
import sys

import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb import errors


@pytest.fixture
def shards(tmp_path):
    folder = tmp_path / "download"
    folder.mkdir()
    paths = []
    for i in range(3):
        frame = pd.DataFrame(
            {"x": [i * 10.0 + j for j in range(20)], "y": [j % 2 for j in range(20)]}
        )
        path = folder / f"part-{i}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def test_first_ingest_pins_every_file(sec_project, shards):
    asset = mnb.secure.ingest(
        sec_project,
        "open",
        shards,
        source="https://example.org",
        licence="CC0-1.0",
        target="y",
    )
    assert asset.n_rows == 60
    assert asset.operation == "ingest"
    pinned = asset.params["files"]
    assert [f["file"] for f in pinned] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert all(len(f["sha256"]) == 64 for f in pinned)
    assert (
        mnb.secure.ingest(sec_project, "open", shards, target="y").version == 1
    )  # same bytes, same version


@pytest.mark.parametrize("change", ["byte", "added", "reordered", "missing"])
def test_reingest_after_a_change_fails_listing_the_files(
    sec_project, shards, change, tmp_path
):
    mnb.secure.ingest(sec_project, "open", shards, target="y")
    files = list(shards)
    if change == "byte":
        data = bytearray(files[1].read_bytes())
        data[-3] = ord("1") if data[-3] != ord("1") else ord("0")
        files[1].write_bytes(bytes(data))
        expect = ["part-1.csv: changed"]
    elif change == "added":
        extra = files[0].with_name("part-3.csv")
        extra.write_bytes(files[0].read_bytes())
        files.append(extra)
        expect = ["part-3.csv: added"]
    elif change == "reordered":
        files = [files[1], files[0], files[2]]
        expect = [
            "part-1.csv: moved from position 2 to 1",
            "part-0.csv: moved from position 1 to 2",
        ]
    else:
        files = files[:2]
        expect = ["part-2.csv: missing"]
    versions = len(sec_project.versions("open"))
    with pytest.raises(errors.IntegrityError, match="differ from the pin") as info:
        mnb.secure.ingest(sec_project, "open", files, target="y")
    for sentence in expect:
        assert sentence in str(info.value)
    assert len(sec_project.versions("open")) == versions  # nothing registered
    with pytest.raises(errors.ValidationError, match="reason"):
        mnb.secure.ingest(sec_project, "open", files, target="y", repin=True)
    repinned = mnb.secure.ingest(
        sec_project,
        "open",
        files,
        target="y",
        repin=True,
        reason="publisher fixed typo",
    )
    assert sec_project._document("dataset-pin", "open")["version"] == 2
    assert (
        repinned.params["files"]
        == sec_project._document("dataset-pin", "open")["payload"]["files"]
    )


def test_pinned_data_reaches_the_model_manifest(sec_project, shards):
    asset = mnb.secure.ingest(sec_project, "open", shards, target="y")
    model = sec_project.train("m", asset, estimator="logistic")
    manifest = mnb.secure.model_manifest(model)
    assert manifest["data"] == [
        {"name": "open", "version": 1, "content_hash": asset.content_hash}
    ]


def test_links_and_pickles_are_refused_before_parsing(sec_project, shards, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(shards[0])
    with pytest.raises(errors.DataReadError, match="symbolic link"):
        mnb.secure.ingest(sec_project, "linked", [link])
    marker = tmp_path / "pwned"

    class Canary:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "data.csv"
    evil.write_bytes(pickle.dumps(Canary()))
    with pytest.raises(errors.UnsafeFormatError, match="pickle"):
        mnb.secure.ingest(sec_project, "evil", [evil])
    assert not marker.exists()
    assert "evil" not in sec_project.assets()["name"].tolist()
    assert "pickle" not in sys.modules.get("mlops_nb.secure._pinning").__dict__


def test_cap_blocks_a_dominant_source_by_name(sec_project):
    parts = {
        "survey": pd.DataFrame({"x": range(30), "y": [0, 1] * 15}),
        "partner-feed": pd.DataFrame({"x": range(60), "y": [0, 1] * 30}),
        "archive": pd.DataFrame({"x": range(10), "y": [0, 1] * 5}),
    }
    with pytest.raises(
        errors.ValidationError, match="'partner-feed' supplies 60%"
    ) as info:
        mnb.secure.assemble(sec_project, "batch", parts, cap=0.4, target="y")
    assert info.value.failure_cases["source"].tolist() == ["partner-feed"]
    assert "batch" not in sec_project.assets()["name"].tolist()


def test_downsampling_meets_the_cap_and_records_shares(sec_project):
    parts = {
        "survey": pd.DataFrame({"x": range(30), "y": [0, 1] * 15}),
        "partner-feed": pd.DataFrame({"x": range(60), "y": [0, 1] * 30}),
        "archive": pd.DataFrame({"x": range(10), "y": [0, 1] * 5}),
    }
    asset = mnb.secure.assemble(
        sec_project, "batch", parts, cap=0.4, on_exceed="downsample", target="y"
    )
    shares = asset.params["sources"]
    assert all(v["share"] <= 0.4 for v in shares.values())
    assert shares["partner-feed"]["offered"] == 60
    assert shares["partner-feed"]["used"] == 20
    assert asset.frame["source"].value_counts()["partner-feed"] == 20
    assert "partner-feed" in sec_project.audit_log()["detail"].iloc[0]
    with pytest.raises(errors.ValidationError, match="at least 2 sources"):
        mnb.secure.assemble(
            sec_project,
            "solo",
            {"one": parts["survey"]},
            cap=0.5,
            on_exceed="downsample",
        )
