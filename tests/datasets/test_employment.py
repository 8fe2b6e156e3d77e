from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest

from mlops_nb.datasets import employment
from mlops_nb.errors import MissingDependencyError, ValidationError

FEATURES = [
    "AGEP",
    "SCHL",
    "MAR",
    "RELP",
    "DIS",
    "ESP",
    "CIT",
    "MIG",
    "MIL",
    "ANC",
    "NATIVITY",
    "DEAR",
    "DEYE",
    "DREM",
    "SEX",
    "RAC1P",
]
PREDICTIONS = ["prediction", "predicted_probability"]


def test_reference_shape_columns_and_year():
    ref = employment("reference")
    assert ref.shape == (68_785, 19)
    assert list(ref.columns) == ["id", *FEATURES, "employed", "year"]
    assert set(ref["year"].unique()) == {2015}
    assert set(ref["employed"].unique()) == {0, 1}
    assert ref["id"].is_unique
    assert isinstance(ref.index, pd.RangeIndex)
    assert ref["AGEP"].dtype == "float64"
    for col in ("SEX", "RAC1P", "SCHL"):
        assert isinstance(ref[col].dtype, pd.CategoricalDtype)
        assert all(isinstance(c, str) for c in ref[col].cat.categories)


def test_default_part_is_reference():
    pd.testing.assert_frame_equal(
        employment(), employment("reference"), check_exact=True
    )


def test_analysis_years_and_no_target():
    ana = employment("analysis")
    assert ana.shape == (208_892, 18)
    assert "employed" not in ana.columns
    assert set(ana["year"].unique()) == {2016, 2017, 2018}
    assert not set(ana["id"]) & set(employment("reference")["id"])


def test_analysis_targets_match_analysis_ids():
    ana = employment("analysis")
    targets = employment("analysis_targets")
    assert list(targets.columns) == ["id", "employed"]
    assert targets["id"].tolist() == ana["id"].tolist()
    assert set(targets["employed"].unique()) == {0, 1}


@pytest.mark.parametrize("part", ["reference", "analysis"])
def test_predictions_only_with_flag(part):
    plain = employment(part)
    assert not set(PREDICTIONS) & set(plain.columns)
    full = employment(part, with_nannyml_predictions=True)
    assert list(full.columns[-2:]) == PREDICTIONS
    assert full["predicted_probability"].between(0, 1).all()
    pd.testing.assert_frame_equal(
        full.drop(columns=PREDICTIONS), plain, check_exact=True
    )


def test_returns_fresh_copy():
    first = employment("reference")
    first.loc[0, "AGEP"] = -1.0
    first["new"] = 1
    again = employment("reference")
    assert again.loc[0, "AGEP"] != -1.0
    assert "new" not in again.columns


def test_unknown_part_lists_valid_parts():
    with pytest.raises(
        ValidationError, match=r"part='refrence'.*'reference', 'analysis'"
    ):
        employment("refrence")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Did you mean 'reference'"):
        employment("refrence")  # type: ignore[arg-type]


def test_missing_nannyml_raises_with_fix(monkeypatch):
    real = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        return None if name == "nannyml" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(MissingDependencyError, match=r"not installed.*uv sync"):
        employment("reference")


def test_does_not_import_nannyml():
    code = (
        "import sys\n"
        "from mlops_nb.datasets import employment\n"
        "employment('reference'); employment('analysis_targets')\n"
        "assert 'nannyml' not in sys.modules, 'nannyml was imported'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
