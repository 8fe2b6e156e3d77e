"""A refused retraining changes nothing, and the next good one succeeds.

Bad new data is generated from clean rows: a role or feature column missing or padded
(" y"), the target retyped, unlabelled or of a single class, ids repeated, time values
that are not dates, no rows. Each must be refused before anything is stored: the
registry, artifacts, stages and roles stay byte for byte as they were, the audit log
gains one "retrain refused" entry, and a good retraining afterwards works.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from _retrain_fixtures import fresh_rows, make_champion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from _store_state import audit_count, changed, last_audit, stored_state
from mlops_nb.errors import MlopsNbError, SchemaError
from mlops_nb.model._retrain import retrain

FEATURES = ["age", "x1", "x2", "x3", "x4", "x5", "region"]
ROLES = {"target": "y", "id": "id", "time": "timestamp", "sensitive": "group"}


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("retrain") / "template"
    make_champion(path)
    return path


@pytest.fixture
def champion(_template, tmp_path):
    path = tmp_path / "proj"
    shutil.copytree(_template, path)
    return mnb.Project.open(path)


@st.composite
def bad_new_data(draw, clean: pd.DataFrame):
    """New data with one problem retraining must refuse, and the column at fault."""
    start = draw(st.integers(0, len(clean) - 200))
    frame = clean.iloc[start : start + 200].reset_index(drop=True)
    kind = draw(
        st.sampled_from(
            [
                "missing role",
                "missing feature",
                "padded",
                "target as text",
                "target unlabelled",
                "one class",
                "repeated ids",
                "not dates",
                "empty",
            ]
        )
    )
    col = None
    if kind == "missing role":
        col = draw(st.sampled_from(sorted(ROLES.values())))
        frame = frame.drop(columns=col)
    elif kind == "missing feature":
        col = draw(st.sampled_from(FEATURES))
        frame = frame.drop(columns=col)
    elif kind == "padded":
        col = draw(st.sampled_from([*ROLES.values(), *FEATURES]))
        pad = draw(st.sampled_from([" ", "  ", "\t"]))
        padded = draw(st.sampled_from([pad + col, col + pad, pad + col + pad]))
        frame = frame.rename(columns={col: padded})
    elif kind == "target as text":
        col = "y"
        words = draw(st.sampled_from([("no", "yes"), ("N", "Y"), ("neg", "pos")]))
        frame["y"] = np.where(frame["y"] == 1, words[1], words[0])
    elif kind == "target unlabelled":
        col = "y"
        share = draw(st.floats(0.01, 1.0))
        gone = np.arange(len(frame)) < max(1, round(share * len(frame)))
        frame["y"] = frame["y"].astype("float64").mask(gone)
    elif kind == "one class":
        col = "y"
        frame["y"] = draw(st.sampled_from([0, 1]))
    elif kind == "repeated ids":
        col = "id"
        k = draw(st.integers(1, 50))
        frame.loc[: k - 1, "id"] = frame["id"].iloc[k]
    elif kind == "not dates":
        col = "timestamp"
        frame["timestamp"] = draw(
            st.sampled_from(["2024-13-01", "31/31/2024", "yesterday", "soon", "n/a"])
        )
    else:
        frame = frame.iloc[:0]
    return kind, col, frame


def test_refused_retrainings_change_nothing_but_the_audit_log(champion):
    clean = fresh_rows(1000, 2)
    prod = champion.model("risk", stage="production")

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(case=bad_new_data(clean))
    def refused(case):
        kind, col, frame = case
        before = stored_state(champion.path)
        n = audit_count(champion, "retrain refused")
        with pytest.raises(MlopsNbError) as err:
            retrain(champion, "risk", frame)
        message = str(err.value)
        assert "nothing was stored" in message.lower(), (kind, message)
        if col is not None:
            assert repr(col) in message, (kind, message)
        assert changed(before, stored_state(champion.path)) == [], kind
        assert audit_count(champion, "retrain refused") == n + 1
        entry = last_audit(champion, "retrain refused")
        assert entry["object"] == f"model:{prod.label}"
        assert entry["detail"]["message"] == message

    refused()
    result = retrain(champion, "risk", clean)  # the next good retraining runs
    assert result.data == "loans v2"
    schema = champion.asset("loans").schema
    assert (schema.target, schema.id, schema.time) == ("y", "id", "timestamp")
    assert schema.sensitive == ("group",)
    assert champion.model("risk", version=result.challenger).recipe["target"] == "y"


def test_a_padded_header_is_named_with_its_fix(champion):
    frame = fresh_rows(300, 3).rename(columns={"y": " y", "id": "id "})
    with pytest.raises(SchemaError) as err:
        retrain(champion, "risk", frame)
    message = str(err.value)
    assert "target column 'y' is missing" in message
    assert "' y'" in message
    assert "strip" in message
    assert set(err.value.failure_cases["column"]) == {"y", "id"}


def test_roles_come_from_the_champions_data_not_the_newest_version(champion):
    """A version stored without roles (as older releases did) poisons nothing."""
    rolesless = fresh_rows(300, 4).rename(columns=lambda c: f" {c}")
    champion.data("loans", rolesless, note="what a failed run used to leave behind")
    assert champion.asset("loans").schema.target is None
    result = retrain(champion, "risk", fresh_rows(1000, 5))
    new = champion.asset("loans", version=3)
    assert result.data == new.label
    assert (new.schema.target, new.schema.id) == ("y", "id")
    assert champion.model("risk", version=result.challenger).features == (
        champion.model("risk", version=1).features
    )


def test_iso_text_times_in_new_data_are_dates(champion):
    frame = fresh_rows(1000, 6)
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    result = retrain(champion, "risk", frame)
    stored = champion.asset("loans", version=2)
    assert result.data == stored.label
    assert pd.api.types.is_datetime64_any_dtype(stored.frame["timestamp"].dtype)
    assert stored.schema.time == "timestamp"
