"""Annotation: sampling strategies, the labelling widget, durable labels, kappa."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from _helpers import reopen
from mlops_nb import errors
from mlops_nb.data._agreement import cohen_kappa


@pytest.fixture
def labelled(project, tiny_frame):
    return project.data(
        "tiny", tiny_frame, target="y", sensitive="group", time="when", id="id"
    )


@pytest.fixture
def model(project, labelled):
    return project.train("m", labelled, estimator="logistic")


@pytest.fixture
def pool(project, tiny_frame):
    """The same rows, unlabelled: what a team would sample from."""
    return project.data(
        "pool", tiny_frame.drop(columns="y"), sensitive="group", time="when", id="id"
    )


@pytest.fixture
def batch(pool):
    return pool.sample(12, seed=1, name="batch")


def test_random_sample_is_seeded_with_lineage(pool):
    a = pool.sample(20, seed=3)
    b = pool.sample(20, seed=3)
    assert a == b
    assert a.n_rows == 20
    assert a.name == "pool-sample"
    assert a.parents == (("pool", 1),)
    assert a.operation == "sample"
    assert a.params["strategy"] == "random"
    assert len(set(a.params["rows"])) == 20
    assert a.frame["id"].tolist() == pool.frame["id"].iloc[a.params["rows"]].tolist()
    assert pool.sample(20, seed=4) != a


def test_stratified_sample_keeps_shares_and_every_group(labelled, tiny_frame):
    s = labelled.sample(40, strategy="stratified", by="color", seed=0, name="strat")
    shares = tiny_frame["color"].astype(str).value_counts(normalize=True)
    got = s.frame["color"].astype(str).value_counts()
    assert got.sum() == 40
    for color, share in shares.items():
        assert abs(got[color] - 40 * share) <= 1
    rare = labelled.sample(3, strategy="stratified", by="group", seed=0, name="rare")
    assert set(rare.frame["group"]) == {"A", "B"}  # B is 30 %: still present


def test_uncertain_sample_takes_rows_closest_to_the_threshold(pool, model):
    s = pool.sample(10, strategy="uncertain", model=model, seed=0)
    p = model.predict_proba(pool.frame)[:, 1]
    closest = np.sort(np.abs(p - 0.5))[:10]
    got = np.abs(p[s.params["rows"]] - 0.5)
    np.testing.assert_allclose(got, closest)  # most uncertain first
    assert s.params["model"] == ["m", 1]
    assert "m v1" in s.note
    shifted = pool.sample(
        10, strategy="uncertain", model=model, threshold=0.8, seed=0, name="t08"
    )
    assert (
        np.abs(p[shifted.params["rows"]] - 0.8).max()
        <= np.sort(np.abs(p - 0.8))[9] + 1e-12
    )


def test_uncertain_sample_takes_one_row_per_profile_first(project, tiny_frame, model):
    twins = pd.concat([tiny_frame] * 3, ignore_index=True).drop(columns="y")
    twins["id"] = range(len(twins))  # same answers, different people
    pool = project.data("twins", twins, id="id")
    s = pool.sample(10, strategy="uncertain", model=model, seed=0)
    assert s.params["distinct_profiles"] == 10
    assert not s.frame.drop(columns="id").duplicated().any()
    every = pool.sample(
        len(twins), strategy="uncertain", model=model, seed=0, name="all"
    )
    assert every.n_rows == len(twins)  # repeats come after every profile was offered


def test_sampling_prefers_unlabelled_rows(project, tiny_frame):
    partly = tiny_frame.assign(
        y=tiny_frame["y"].astype("Float64").mask(tiny_frame.index >= 100)
    )
    asset = project.data("partly", partly, target="y")
    s = asset.sample(50, seed=0)
    assert min(s.params["rows"]) >= 100
    assert s.frame["y"].isna().all()


def test_sampling_errors_say_how_to_fix(pool):
    with pytest.raises(errors.ValidationError, match="needs model="):
        pool.sample(5, strategy="uncertain")
    with pytest.raises(errors.ValidationError, match="Did you mean 'random'"):
        pool.sample(5, strategy="randm")
    with pytest.raises(errors.ValidationError, match="positive whole number"):
        pool.sample(0)
    with pytest.raises(errors.SchemaError, match="Did you mean 'color'"):
        pool.sample(5, strategy="stratified", by="colour")


def test_widget_buttons_skip_undo_and_keys(batch):
    s = batch.annotate(choices=[0, 1], column="y", annotator="ana")
    box = s.widget()
    assert box is s.widget()
    assert box.session is s
    s.buttons[1].click()
    s.buttons[0].click()
    assert s.labels == {0: 1, 1: 0}
    assert s.current == 2
    s.skip_button.click()
    assert s.skipped == [2]
    assert s.current == 3
    s.undo_button.click()  # takes back the skip
    assert s.skipped == []
    assert s.current == 2
    s.key_box.value = "1"  # typing a key labels the current row
    assert s.labels[2] == 1
    assert s.key_box.value == ""
    s.key_box.value = "u"
    assert 2 not in s.labels
    assert s.current == 2
    s.key_box.value = "x"
    assert "does nothing" in s.status.value
    s.buttons[0].click()
    assert s.status.value.startswith("saved")
    assert "3 of 12 labelled" in s._text()


def test_labels_survive_a_kernel_restart_mid_session(project, batch):
    s = batch.annotate(choices=[0, 1], column="y", annotator="ana")
    for value in (1, 0, 1):
        s.label(value)
    s.skip()
    # a new kernel: a new Project object on the same folder, nothing shared in memory
    again = (
        reopen(project)
        .asset("batch")
        .annotate(choices=[0, 1], column="y", annotator="ana")
    )
    assert again.labels == {0: 1, 1: 0, 2: 1}
    assert again.skipped == [3]
    assert again.resumed == 4
    assert again.current == 4
    assert "resumed" in again.status.value
    again.undo()  # reaches the skip given before the restart
    assert again.skipped == []
    assert again.current == 3
    again.undo()
    assert again.labels == {0: 1, 1: 0}
    assert again.current == 2


def test_two_kernels_with_the_same_annotator_lose_nothing(project, batch):
    a = batch.annotate(choices=[0, 1], column="y", annotator="ana")
    b = (
        reopen(project)
        .asset("batch")
        .annotate(choices=[0, 1], column="y", annotator="ana")
    )
    a.label(1, row=0)
    b.label(0, row=5)  # b reads a's label before saving its own
    assert b.labels == {0: 1, 5: 0}
    assert a.reload().labels == {0: 1, 5: 0}


def test_commit_makes_a_labelled_version_with_lineage_and_annotator(project, batch):
    s = batch.annotate(choices=[0, 1], column="y", annotator="ana")
    for i in range(batch.n_rows - 2):
        s.label(i % 2)
    v = s.commit()
    assert (v.name, v.version, v.parents, v.operation) == (
        "batch",
        2,
        (("batch", 1),),
        "annotate",
    )
    assert v.schema.target == "y"
    assert v.params["annotator"] == "ana"
    assert v.frame["y"].tolist()[:4] == [0, 1, 0, 1]
    assert v.frame["y"].isna().sum() == 2
    assert str(v.frame["y"].dtype) == "Int64"
    only = s.commit(name="batch-labelled", labelled_only=True)
    assert only.n_rows == batch.n_rows - 2
    log = project.audit_log()
    entry = log[log["object"] == "asset:batch@2"].iloc[0]
    assert entry["action"] == "annotate"
    assert "labels by ana" in json.loads(entry["detail"])["note"]
    saves = log[log["action"] == "save annotation"]
    assert len(saves) == batch.n_rows - 2
    assert saves["object"].str.contains("/y/ana@").all()
    assert [e for _, _, e in v.lineage().edges] == ["batch v1", "batch v2"]
    # the labelled version trains a model through Model Ops (unlabelled rows dropped)
    assert project.train("from-labels", v, estimator="logistic").recipe["n_rows"] > 0


def test_cohen_kappa_matches_scikit_learn(batch):
    rng = np.random.default_rng(0)
    ana = batch.annotate(
        choices=["no", "yes", "maybe"], column="answer", annotator="ana"
    )
    ben = batch.annotate(
        choices=["no", "yes", "maybe"], column="answer", annotator="ben"
    )
    a_labels = rng.choice(["no", "yes", "maybe"], batch.n_rows)
    b_labels = np.where(
        rng.uniform(size=batch.n_rows) < 0.7,
        a_labels,
        rng.choice(["no", "yes", "maybe"], batch.n_rows),
    )
    for i, (x, y) in enumerate(zip(a_labels, b_labels, strict=True)):
        ana.label(str(x), row=i)
        if i < batch.n_rows - 2:  # ben leaves two rows: only shared rows count
            ben.label(str(y), row=i)
    agreement = ana.agreement("ben")
    expected = cohen_kappa_score(a_labels[:-2], b_labels[:-2])
    assert agreement.kappa == pytest.approx(expected)
    assert len(agreement.rows) == batch.n_rows - 2
    assert ana.annotators() == ["ana", "ben"]
    html = agreement._html()
    assert "Cohen&#x27;s kappa" in html
    assert f"{expected:.3f}" in html
    for a, b in (
        ([0, 1, 1, 0], [0, 1, 0, 0]),
        ([1, 1], [1, 1]),
        (["x", "y"], ["y", "x"]),
    ):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            want = cohen_kappa_score(a, b)
        got = cohen_kappa(a, b)[0]
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


def test_model_predictions_show_with_each_row(pool, model):
    s = pool.sample(6, strategy="uncertain", model=model, seed=0).annotate(
        choices=[0, 1], column="y"
    )
    assert s.model == model  # taken from the sample's recorded model
    label, p = s.prediction(0)
    assert label in (0, 1)
    assert 0.5 <= p < 0.75
    html = s._html()
    assert "model says" in html
    assert "m v1" in html
    assert "0 of 6 labelled" in html
    assert "model says" in s.widget().children[1].children[0].children[1].value


def test_annotation_errors_say_how_to_fix(batch):
    with pytest.raises(errors.ValidationError, match="choices=\\[0, 1\\]"):
        batch.annotate(column="y")
    s = batch.annotate(choices=[0, 1], column="y", annotator="ana")
    with pytest.raises(errors.ValidationError, match="not one of the choices"):
        s.label(2)
    with pytest.raises(errors.ValidationError, match="position from 0 to 11"):
        s.label(1, row=12)
    with pytest.raises(errors.ValidationError, match="annotator="):
        batch.annotate(choices=[0, 1], annotator="a/b")
    with pytest.raises(errors.ValidationError, match="nothing to commit"):
        s.commit()
    s.label("1")  # text from a form is matched to the choice
    assert s.labels == {0: 1}
    s.buttons[0].click()
    for i in range(2, batch.n_rows):
        s.label(0, row=i)
    assert s.done
    assert s.buttons[0].disabled
    s.buttons[
        0
    ].click()  # disabled in a browser; from Python it reports instead of raising
    assert "not saved" in s.status.value


def test_labels_column_types(batch):
    s = batch.annotate(choices=[True, False], column="flag", annotator="ana")
    s.label(True)
    assert str(s.to_frame()["flag"].dtype) == "boolean"
    t = batch.annotate(choices=["cat", "dog"], column="pet", annotator="ana")
    t.label("dog")
    frame = t.to_frame(labelled_only=True)
    assert frame["pet"].tolist() == ["dog"]
    assert isinstance(frame, pd.DataFrame)
