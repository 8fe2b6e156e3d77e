"""Automated features: a ratio-only signal is found, target encoding does not leak."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.data._features import FeatureReport, recipe_of
from mlops_nb.data._recipe import apply_recipe, onnx_support


def _loans(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Debt and income both scale with wealth; only their ratio says who defaults.

    A 600-level ``customer`` column is pure noise: about 5 rows per level, the kind of
    column whose in-sample target means look predictive.
    """
    rng = np.random.default_rng(seed)
    wealth = rng.lognormal(10, 2.0, n)
    u, v = rng.lognormal(0, 0.3, n), rng.lognormal(0, 0.3, n)
    frame = pd.DataFrame({
        "debt": wealth * u, "income": wealth * v, "age": rng.integers(18, 80, n),
        "customer": rng.integers(0, 600, n).astype(str),
        "region": rng.choice(list("abcde"), n),
    })  # fmt: skip
    frame["default"] = ((u / v > 1.25) ^ (rng.uniform(size=n) < 0.05)).astype(int)
    return frame


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    proj = mnb.Project.open(tmp_path_factory.mktemp("feat") / "proj")
    loans = proj.data("loans", _loans(), target="default")
    train, test = loans.split(test=0.25, seed=0, stratify="default")
    return train, test, train.features(auto=True)


def test_a_feature_only_a_ratio_reveals_is_found(found):
    train, _, report = found
    assert isinstance(report, FeatureReport)
    ratio = [s for s in report.recipe["steps"] if s["kind"] == "ratio"]
    assert len(ratio) == 1
    assert set(ratio[0]["columns"]) == {"debt", "income"}
    assert report.gain > 0.01
    assert report.payload["score"] > report.payload["baseline"]
    table = report.to_frame()
    top = table.sort_values("importance", ascending=False).iloc[0]
    assert top["kind"] == "ratio"
    assert top["kept"]
    assert not table.loc[table["feature"].str.startswith("customer"), "kept"].any()
    kept = report.asset
    assert (kept.name, kept.version, kept.operation) == (train.name, 2, "features")
    assert kept.params["recipe"] == report.recipe
    assert set(report.kept) <= set(kept.frame.columns)


def test_target_encoding_is_out_of_fold_so_noise_does_not_look_useful(tmp_path):
    proj = mnb.Project.open(tmp_path / "te")
    frame = _loans(2000, seed=1)
    asset = proj.data(
        "noise", frame[["customer", "region", "age", "default"]], target="default"
    )
    report = asset.features(kinds=("target_encoding",), max_confirm=10, min_gain=0.0)
    rows = report.to_frame().set_index("feature")
    assert not rows["kept"].any()
    assert rows.loc["customer_te", "cv_gain"] < 0.005  # tested in full CV: no gain
    # What a leaky encoding would have shown: in-sample target means of the same
    # column (each row's own label inside its encoding) look strongly predictive.
    import lightgbm as lgb

    y = frame["default"]
    leaky = frame.groupby("customer")["default"].transform("mean").to_frame()
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    est = lgb.LGBMClassifier(n_estimators=50, verbose=-1, n_jobs=1)
    assert cross_val_score(est, leaky, y, cv=folds, scoring="roc_auc").mean() > 0.75
    # the out-of-fold encoding the search used carries no signal
    from mlops_nb.data._recipe import fit_step

    step = {"kind": "target_encoding", "columns": ["customer"], "output": "c_te"}
    _, oof = fit_step(step, frame, y, task="binary", seed=0)
    honest = cross_val_score(est, oof[:, None], y, cv=folds, scoring="roc_auc").mean()
    assert honest < 0.56


def test_recipe_is_json_and_applies_the_same_steps(found):
    _, test, report = found
    recipe = json.loads(json.dumps(report.recipe))
    assert recipe == report.recipe
    assert recipe["inputs"] == ["debt", "income"]
    raw = test.frame.drop(columns=[c for c in report.kept if c in test.frame.columns])
    out = apply_recipe(raw, recipe)
    step = report.recipe["steps"][0]
    a, b = step["columns"]
    np.testing.assert_allclose(out[step["output"]], raw[a] / raw[b])
    assert apply_recipe(out, recipe).equals(out)  # applying twice changes nothing
    pd.testing.assert_frame_equal(raw, test.frame)  # the input frame is not modified
    with pytest.raises(errors.SchemaError, match="lacks input column"):
        apply_recipe(raw.drop(columns="debt"), recipe)


def test_test_split_gets_the_features_and_model_ops_uses_them(found):
    train, test, report = found
    test_f = test.features(auto=False, recipe=report)
    assert test_f.operation == "features"
    assert test_f.params["applied"] is True
    assert set(report.kept) <= set(test_f.frame.columns)
    assert report.apply(test) == test_f
    proj = train.project
    plain = proj.train("loans-plain", train, seed=0)
    with_features = proj.train("loans-feat", report.asset, seed=0)
    assert set(report.kept) <= set(with_features.features)
    auc_plain = plain.evaluate(test).metrics["roc_auc"]
    auc_feat = with_features.evaluate(test_f).metrics["roc_auc"]
    assert auc_feat > auc_plain + 0.005
    assert recipe_of(report.asset) == report.recipe
    part, _ = report.asset.split(test=0.5, seed=1)
    assert recipe_of(part) == report.recipe
    assert recipe_of(train) is None


def test_search_is_stored_and_reused(found):
    train, _, report = found
    again = train.features(auto=True)
    assert again.payload == report.payload
    assert again.asset == report.asset
    n = train.project._store.query(
        "SELECT COUNT(*) FROM reports WHERE kind LIKE 'features:%'"
    )[0][0]
    assert n == 1


def test_date_parts_and_other_steps_compute(tmp_path):
    frame = pd.DataFrame({
        "when": pd.to_datetime(["2024-01-31 10:00", "2024-06-15 23:00", None]),
        "a": [1.0, 4.0, 0.0], "b": [2.0, 0.0, 5.0], "c": ["x", "y", None],
    })  # fmt: skip
    recipe = {
        "format": "mlops_nb.features/1", "inputs": ["a", "b", "c", "when"],
        "steps": [
            {"kind": "date_part", "columns": ["when"], "part": "month", "output": "m"},
            {"kind": "ratio", "columns": ["a", "b"], "output": "r"},
            {"kind": "difference", "columns": ["a", "b"], "output": "d"},
            {"kind": "product", "columns": ["a", "b"], "output": "p"},
            {"kind": "bins", "columns": ["a"], "edges": [0.5, 2.0], "output": "ab"},
            {"kind": "frequency", "columns": ["c"],
             "mapping": {"x": 0.5, "(missing)": 0.25}, "default": 0.0, "output": "f"},
            {"kind": "target_encoding", "columns": ["c", "c"],
             "mapping": {"x|x": 0.9}, "default": 0.3, "output": "t"},
        ],
    }  # fmt: skip
    out = apply_recipe(frame, recipe)
    assert out["m"].tolist()[:2] == [1, 6]
    assert np.isnan(out["m"][2])
    assert out["r"].tolist()[0] == 0.5
    assert np.isnan(out["r"][1])
    assert out["r"][2] == 0
    assert out["d"].tolist() == [-1, 4, -5]
    assert out["p"].tolist() == [2, 0, 0]
    assert out["ab"].tolist() == [1, 2, 0]
    assert out["f"].tolist() == [0.5, 0.0, 0.25]
    assert out["t"].tolist() == [
        0.9,
        0.3,
        0.3,
    ]
    support = {r["feature"]: r["onnx"] for r in onnx_support(recipe)}
    assert support == {
        "m": False,
        "r": True,
        "d": True,
        "p": True,
        "ab": True,
        "f": True,
        "t": False,
    }


def test_nothing_kept_returns_the_data_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    frame["y"] = (frame["a"] > 0).astype(int)
    asset = mnb.Project.open(tmp_path / "p").data("simple", frame, target="y")
    report = asset.features(kinds=("difference", "product"))
    assert report.kept == []
    assert report.asset == asset
    assert report.gain == 0
    assert "No candidate helped" in report._html()


def test_report_renders(found):
    _, _, report = found
    html = report._html()
    for text in (
        "FeatureReport",
        "Screening",
        "ratio",
        "out of fold",
        "ONNX",
        "Candidates",
    ):
        assert text in html, text
    assert "kept" in report._text()


def test_feature_errors_say_how_to_fix(tmp_path):
    asset = mnb.Project.open(tmp_path / "p").data(
        "t", pd.DataFrame({"a": range(60), "b": [0, 1] * 30})
    )
    with pytest.raises(errors.SchemaError, match="target='<column to predict>'"):
        asset.features()
    with pytest.raises(errors.SchemaError, match="Did you mean 'b'"):
        asset.features(target="B")
    with pytest.raises(errors.ValidationError, match="Did you mean 'ratio'"):
        asset.features(target="b", kinds=("ratios",))
    with pytest.raises(errors.ValidationError, match=r"recipe=report\.recipe"):
        asset.features(auto=False)
    with pytest.raises(errors.ValidationError, match="feature recipe"):
        asset.features(auto=False, recipe={"steps": []})
