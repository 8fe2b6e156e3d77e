"""Item 10: user-named things reject traversal and injection; nothing lands outside."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb import errors

if TYPE_CHECKING:
    from pathlib import Path

BAD = [
    "../x",
    "..\\x",
    "/abs",
    "C:\\x",
    "a/../../b",
    "x\x00y",
    "a" * 300,
    "line\nbreak",
    "CON",
    "a\u2215b",
    "",
]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture
def entry_points(sec_project, tmp_path):
    asset = sec_project.asset("tiny")
    people = sec_project.data(
        "people",
        pd.DataFrame({"mail": ["a@example.org"] * 20, "y": [0, 1] * 10}),
        target="y",
    )
    shard = tmp_path / "shard.csv"
    pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}).to_csv(shard, index=False)
    part = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    return {
        "Project.data": lambda n: sec_project.data(n, part, target="y"),
        "Project.asset": lambda n: sec_project.asset(n),
        "Project.train": lambda n: sec_project.train(n, asset, estimator="logistic"),
        "DataAsset.split(names=)": lambda n: asset.split(names=(n, "ok-test")),
        "DataAsset.filter(name=)": lambda n: asset.filter("x1 > 0", name=n),
        "DataAsset.transform(name=)": lambda n: asset.transform(
            lambda f: f, note="same", name=n
        ),
        "PrivacyReport.mask(name=)": lambda n: people.privacy().mask(name=n),
        "PrivacyReport.pseudonymize(name=)": lambda n: people.privacy().pseudonymize(
            "k" * 32, name=n
        ),
        "secure.ingest": lambda n: mnb.secure.ingest(sec_project, n, [shard]),
        "secure.assemble": lambda n: mnb.secure.assemble(
            sec_project, n, {"a": part, "b": part}
        ),
        "Project.vet(name=)": lambda n: sec_project.vet(
            part, name=n, source="s", licence="CC0-1.0"
        ),
        "Project.poisoning_trend": lambda n: sec_project.poisoning_trend(n),
    }


@pytest.mark.embedded_only  # lists the folder and its artifacts/
def test_bad_names_are_refused_everywhere_and_nothing_changes_outside(
    sec_project, entry_points, tmp_path
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    before_outside = snapshot(outside)
    before_parent = sorted(p.name for p in sec_project.path.parent.iterdir())
    for what, call in entry_points.items():
        for name in BAD:
            try:
                call(name)
            except errors.RegistryNameError:
                continue
            pytest.fail(f"{what} accepted the name {name!r}")
        assert snapshot(outside) == before_outside, what
    assert sorted(p.name for p in sec_project.path.parent.iterdir()) == before_parent
    stored = {r[0] for r in sec_project._store.query("SELECT name FROM asset_versions")}
    stored |= {
        r[0] for r in sec_project._store.query("SELECT name FROM model_versions")
    }
    assert not stored & set(BAD)
    blobs = [p.name for p in (sec_project.path / "artifacts").rglob("*") if p.is_file()]
    assert all(len(b) == 64 and all(c in "0123456789abcdef" for c in b) for b in blobs)
