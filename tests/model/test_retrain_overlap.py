"""Retraining compares champion and challenger only on rows neither trained on.

New data is planted with rows the champion trained on (and, without an id, rows that
repeat so the challenger trains on a copy of a test row). The comparison set must hold
none of either model's training rows, by id or by value, and the counts must be
reported in the result (the JSON summary of ``mlops-nb retrain``).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from _retrain_fixtures import fresh_rows, make_champion

import mlops_nb as mnb
from mlops_nb.model._retrain import retrain


@pytest.fixture(scope="module", params=["id", "no id"])
def _template(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("overlap") / "template"
    make_champion(path, with_id=request.param == "id")
    return path, request.param == "id"


@pytest.fixture
def champion(_template, tmp_path):
    template, with_id = _template
    path = tmp_path / "proj"
    shutil.copytree(template, path)
    return mnb.Project.open(path), with_id


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns].astype(str).drop_duplicates()


def _shared_rows(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> int:
    """Rows of ``a`` equal to a row of ``b`` in every column (counted in ``a``)."""
    return len(a[columns].astype(str).merge(_as_text(b, columns), how="inner"))


@pytest.mark.parametrize("planted", [0.8, 0.3])
def test_the_comparison_holds_no_training_row_of_either_model(champion, planted):
    proj, with_id = champion
    seen = proj.asset("loans-train", 1).frame  # what the champion trained on
    n_new = 1000
    n_seen = round(planted * n_new)
    fresh = fresh_rows(n_new - n_seen, 7, with_id=with_id)
    parts = [seen.sample(n_seen, random_state=0), fresh]
    if not with_id:  # a repeated row: one copy may train the challenger
        parts.append(fresh.sample(100, random_state=1))
    new = pd.concat(parts, ignore_index=True)[seen.columns]

    result = retrain(proj, "risk", new)

    compared = proj.asset(*result.test.rsplit(" v", 1)).frame
    split_name, split_version = result.overlap["split"].rsplit(" v", 1)
    test_split = proj.asset(split_name, int(split_version)).frame
    challenger = proj.model("risk", version=result.challenger)
    trained = proj.asset(*challenger.data[0].rsplit(" v", 1)).frame
    columns = ["id"] if with_id else list(seen.columns)
    assert _shared_rows(compared, seen, columns) == 0
    assert _shared_rows(compared, trained, columns) == 0
    o = result.overlap
    assert o["seen_by_champion"] == _shared_rows(test_split, seen, columns) > 0
    assert o["seen_by_challenger"] == _shared_rows(test_split, trained, columns)
    if not with_id:
        assert o["seen_by_challenger"] > 0
    assert o["compared"] == len(compared) > 0
    assert o["test_rows"] == len(test_split) == o["excluded"] + o["compared"]
    assert o["matched_by"].startswith("id column" if with_id else "a hash")
    # the gates and metrics used the comparison set, not the whole split
    evaluation = challenger.evaluations()[-1]
    assert evaluation.data_label == result.test
    summary = json.loads(json.dumps(result.to_dict(), default=str))
    assert summary["overlap"]["compared"] == len(compared)
    assert summary["overlap"]["excluded"] == o["excluded"]


def test_new_data_the_champion_fully_trained_on_is_refused(champion):
    proj, _ = champion
    seen = proj.asset("loans-train", 1).frame
    with pytest.raises(mnb.errors.ValidationError, match="no row could compare"):
        retrain(proj, "risk", seen)
    assert proj.asset("loans").version == 1
    assert proj.model("risk").version == 1
