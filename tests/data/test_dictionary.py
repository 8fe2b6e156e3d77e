"""The data dictionary of a data version: stored, kept by later versions, validated."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import SchemaError, ValidationError

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# codes of mixed types: ints, whole floats (1.0), other floats, text
codes = st.one_of(
    st.integers(-50, 50),
    st.integers(-50, 50).map(float),
    st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 2)),
    st.text("abcxyz", min_size=1, max_size=4),
)
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s not in ("index",))


def _frame(column: str, values: list) -> pd.DataFrame:
    n = max(4, len(values))
    cycled = [values[i % len(values)] for i in range(n)]
    other = "y" if column != "y" else "y2"  # a generated name may be "y" itself
    return pd.DataFrame(
        {column: pd.Series(cycled, dtype=object), other: [i % 2 for i in range(n)]}
    )


@SETTINGS
@given(column=names, values=st.lists(codes, min_size=1, max_size=6, unique_by=str))
def test_labels_are_stored_outside_the_hash_and_read_back(
    tmp_path_factory, column, values
):
    from mlops_nb.data._dictionary import canonical

    values = list({canonical(v): v for v in values}.values())  # one per code
    frame = _frame(column, [str(v) for v in values])
    labels = {column: {v: f"label {i}" for i, v in enumerate(values)}}
    proj = mnb.Project.open(tmp_path_factory.mktemp("d") / "p")
    plain = proj.data("plain", frame)
    doc = proj.data("doc", frame, labels=labels, descriptions={column: "what it is"})
    # the dictionary is metadata: the same data has the same content hash
    assert doc.content_hash == plain.content_hash
    again = mnb.Project.open(proj.path).asset("doc")  # a new kernel reads it back
    assert again.labels == labels
    assert again.descriptions == {column: "what it is"}
    for i, v in enumerate(values):  # codes match by value whatever their type
        assert again.dictionary.label(column, str(v)) == f"label {i}"
        assert again.dictionary.label(column, v) == f"label {i}"
    assert not [f for f in again.check().findings if f["check"] == "data dictionary"]


@pytest.mark.parametrize("code", [1, 1.0, "1", " 1 ", np.int64(1), np.float32(1.0)])
def test_a_code_matches_the_column_whatever_its_type(project, code):
    for col in (
        pd.Series([1, 2] * 5),
        pd.Series([1.0, 2.0] * 5),
        pd.Series(["1", "2"] * 5),
        pd.Series(["1", "2"] * 5, dtype="category"),
    ):
        asset = project.data(
            "t", pd.DataFrame({"SEX": col}), labels={"SEX": {code: "male"}}
        )
        assert asset.dictionary.label("SEX", col.iloc[0]) == "male"
        assert asset.dictionary.label("SEX", col.iloc[1]) is None


def test_later_versions_keep_the_dictionary_unless_given_anew(project):
    frame = pd.DataFrame({"SEX": [1, 2] * 20, "x": range(40), "y": [0, 1, 1, 0] * 10})
    v1 = project.data(
        "d",
        frame,
        target="y",
        labels={"SEX": {1: "male", 2: "female"}},
        descriptions={"SEX": "Sex of the person", "x": "a number"},
    )
    train, test = v1.split(test=0.25, seed=0)
    kept = v1.filter("x > 3")
    made = v1.transform(lambda f: f.drop(columns=["x"]), note="drop x")
    newer = project.data("d", frame.assign(x=frame["x"] + 1))
    for asset in (train, test, kept, newer):
        assert asset.labels == {"SEX": {1: "male", 2: "female"}}
        assert asset.descriptions["SEX"] == "Sex of the person"
    assert made.descriptions == {"SEX": "Sex of the person"}  # x is gone
    # given anew: a column's labels are replaced, None removes, others are kept
    renamed = project.data(
        "d",
        frame.assign(x=frame["x"] + 2),
        labels={"SEX": {1: "man", 2: "woman"}},
        descriptions={"x": None},
    )
    assert renamed.labels == {"SEX": {1: "man", 2: "woman"}}
    assert renamed.descriptions == {"SEX": "Sex of the person"}
    assert project.asset("d", 1).labels == {"SEX": {1: "male", 2: "female"}}


def test_with_labels_documents_the_version_in_place_and_audits_it(project):
    frame = pd.DataFrame({"SEX": [1, 2] * 10, "y": [0, 1] * 10})
    v1 = project.data("d", frame)
    before = v1.content_hash
    doc = v1.with_labels({"SEX": {1: "male", 2: "female"}}, descriptions={"SEX": "Sex"})
    assert (doc.version, doc.content_hash) == (1, before)
    assert project.asset("d").labels == {"SEX": {1: "male", 2: "female"}}
    assert project.asset("d").frame.equals(v1.frame)  # the data is unchanged
    log = project.audit_log()
    entry = log[log["action"] == "dictionary"]
    assert len(entry) == 1
    assert json.loads(entry.iloc[0]["detail"])["labels"] == ["SEX"]
    # the same data registered with another dictionary updates it too (one version)
    same = project.data("d", frame, labels={"SEX": {1: "m", 2: "f"}})
    assert same.version == 1
    assert same.labels == {"SEX": {1: "m", 2: "f"}}
    # and registering it again without a dictionary keeps it (and writes nothing)
    n_entries = len(project.audit_log())
    assert project.data("d", frame).labels == {"SEX": {1: "m", 2: "f"}}
    assert len(project.audit_log()) == n_entries


BAD = [
    ({"SX": {1: "male"}}, None, "unknown column", "Did you mean 'SEX'"),
    ({"SEX": ["male", "female"]}, None, "not a dict", "expected a dict"),
    (["SEX"], None, "not a dict", "expected a dict"),
    ({"SEX": {1: "male", 2: "male"}}, None, "duplicate label", "both have the label"),
    ({"SEX": {1: "male", "1": "man"}}, None, "duplicate code", "same code"),
    ({"SEX": {1: "male", 2.0: "x", " 2": "y"}}, None, "duplicate code", "same code"),
    ({"SEX": {1: ""}}, None, "bad label", "non-empty text"),
    ({"SEX": {1: 3}}, None, "bad label", "non-empty text"),
    ({"SEX": {None: "unknown"}}, None, "missing code", "(missing)"),
    ({"SEX": {(1, 2): "pair"}}, None, "bad code", "numbers or text"),
    (None, {"SXE": "Sex"}, "unknown column", "not in the data"),
    (None, {"SEX": 3}, "bad text", "non-empty text"),
    (None, "Sex", "not a dict", "expected a dict"),
]


@pytest.mark.parametrize(("labels", "descriptions", "problem", "words"), BAD)
def test_bad_dictionaries_are_refused_and_nothing_changes(
    project, labels, descriptions, problem, words
):
    frame = pd.DataFrame({"SEX": [1, 2] * 10, "y": [0, 1] * 10})
    v1 = project.data("d", frame, labels={"SEX": {1: "male", 2: "female"}})
    for call in (
        lambda: project.data("d", frame, labels=labels, descriptions=descriptions),
        lambda: project.data("e", frame, labels=labels, descriptions=descriptions),
        lambda: v1.with_labels(labels, descriptions=descriptions),
    ):
        with pytest.raises(SchemaError) as err:
            call()
        assert isinstance(err.value, ValidationError)
        assert words in str(err.value)
        assert problem in set(err.value.failure_cases["problem"])
    assert project.asset("d").labels == {"SEX": {1: "male", 2: "female"}}
    assert "e" not in set(project.assets()["name"])  # nothing stored


@SETTINGS
@given(
    present=st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True),
    absent=st.lists(st.integers(31, 60), min_size=0, max_size=4, unique=True),
    unlabelled=st.lists(st.integers(61, 90), min_size=0, max_size=3, unique=True),
)
def test_check_lists_labelled_codes_not_in_the_column_and_values_without_labels(
    tmp_path_factory, present, absent, unlabelled
):
    proj = mnb.Project.open(tmp_path_factory.mktemp("c") / "p")
    frame = _frame("code", present + unlabelled)
    labels = {"code": {c: f"c{c}" for c in present + absent}}
    notes = [
        f
        for f in proj.data("d", frame, labels=labels).check().findings
        if f["check"] == "data dictionary"
    ]
    assert all(f["severity"] == "info" and f["column"] == "code" for f in notes)
    got_absent = [f["value"] for f in notes if "do not occur" in f["message"]]
    got_unlabelled = [f["value"] for f in notes if "have no label" in f["message"]]
    assert got_absent == ([absent] if absent else [])
    if unlabelled:
        assert sorted(map(int, got_unlabelled[0])) == sorted(unlabelled)
    else:
        assert got_unlabelled == []


def test_the_shipped_employment_data_brings_its_dictionary(project):
    from mlops_nb.datasets import employment

    frame = employment("reference").head(3000)
    asset = project.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"])
    assert asset.labels["SEX"] == {1: "male", 2: "female"}
    assert asset.labels["SCHL"][21] == "Bachelor's degree"
    assert asset.labels["RAC1P"][1] == "White alone"
    assert asset.descriptions["AGEP"] == "Age (years)"
    documented = {
        *("SEX", "RAC1P", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL"),
        *("ANC", "NATIVITY", "DEAR", "DEYE", "DREM"),
    }
    assert documented <= set(asset.labels)
    assert set(asset.descriptions) == set(frame.columns)
    # every code of every labelled column of the full data has a label
    full = employment("reference")
    for column, words in asset.labels.items():
        codes = {str(k) for k in words}
        assert set(full[column].astype(str).unique()) <= codes, column
        assert len(set(words.values())) == len(words), column
    assert "mlops_nb.dictionary" not in asset.frame.attrs
