"""Synthetic data: planted structure survives, no real row is copied, lineage says
so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb import errors
from mlops_nb.data import _synth_eval as ev
from mlops_nb.data._synth import synthesis_report


@pytest.fixture
def planted(project):
    """Mixed types with a planted correlation (x, z: 0.8), a category tied to x, and a
    label."""
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=n)
    z = 0.8 * x + 0.6 * rng.normal(size=n)
    frame = pd.DataFrame({
        "id": np.arange(n) + 10_000,
        "x": x,
        "z": z * 10 + 50,
        "age": rng.integers(18, 90, n),
        "band": pd.Categorical(
            np.where(x + 0.3 * rng.normal(size=n) > 0, "high", "low")
        ),
        "city": rng.choice(
            ["Boston", "Salem", "Lowell", "Quincy"], n, p=[0.5, 0.2, 0.2, 0.1]
        ),
        "member": rng.uniform(size=n) < 0.3,
        "since": pd.Timestamp("2020-01-01")
        + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
        "income": np.where(
            rng.uniform(size=n) < 0.1, np.nan, rng.lognormal(10, 0.5, n)
        ),
        "y": (x + 0.5 * rng.normal(size=n) > 0).astype(int),
    })  # fmt: skip
    return project.data("planted", frame, target="y", id="id")


@pytest.fixture
def synth(planted):
    return planted.synthesize(3000, seed=0)


def test_planted_correlation_survives_and_the_baseline_loses_it(planted, synth):
    real, fake = planted.frame, synth.frame
    assert real["x"].corr(real["z"]) == pytest.approx(0.8, abs=0.03)
    assert fake["x"].corr(fake["z"]) == pytest.approx(
        real["x"].corr(real["z"]), abs=0.05
    )
    high = fake["band"] == "high"
    assert fake.loc[high, "x"].mean() > 0.5 > -0.5 > fake.loc[~high, "x"].mean()
    assert fake.loc[fake["x"] > 0, "y"].mean() > 0.75  # the label still follows x
    base = planted.synthesize(3000, seed=0, method="independent").frame
    assert abs(base["x"].corr(base["z"])) < 0.06
    assert (
        synth.fidelity["association_mean_abs_diff"]
        < 0.5
        * planted.synthesize(3000, seed=0, method="independent").fidelity[
            "association_mean_abs_diff"
        ]
    )


def test_no_real_row_is_copied_verbatim(planted, synth):
    real, fake = planted.frame, synth.frame
    cols = [c for c in real.columns if c != "id"]
    joined = fake[cols].merge(real[cols], how="inner", on=cols)
    assert len(joined) == 0
    assert synth.privacy["exact_copies"] == 0
    assert not set(fake["x"]) & set(real["x"])  # continuous values are new values
    assert fake["id"].str.startswith("syn-").all()  # no real id reaches synthetic rows
    p = synth.privacy
    assert p["dcr_synthetic_median"] >= 0.8 * p["dcr_holdout_median"]


def test_the_privacy_measure_catches_copied_rows(planted):
    real = planted.frame
    train, hold = real.iloc[:1600], real.iloc[1600:]
    cols = [c for c in real.columns if c != "id"]
    leaky = pd.concat(
        [train.iloc[:300], train.iloc[:300].assign(x=lambda f: f["x"] + 1e-9)]
    )
    p = ev.privacy(train, leaky, hold, cols, seed=0)
    assert p["exact_copies"] == 300
    assert p["exact_copy_share"] == 0.5
    assert p["dcr_synthetic_median"] < 0.01 < p["dcr_holdout_median"]
    assert p["closer_than_holdout_p5"] > 0.9


def test_types_missing_values_and_marginals_are_kept(planted, synth):
    real, fake = planted.frame, synth.frame
    assert list(fake.columns) == list(real.columns)
    assert len(fake) == 3000
    for c in ("x", "z", "age", "band", "city", "member", "since", "income", "y"):
        assert fake[c].dtype == real[c].dtype, c
    assert fake["income"].isna().mean() == pytest.approx(0.1, abs=0.03)
    assert fake["age"].between(18, 89).all()
    assert (fake["age"] % 1 == 0).all()
    assert fake["city"].value_counts(normalize=True)["Boston"] == pytest.approx(
        0.5, abs=0.04
    )
    assert fake["since"].min() >= real["since"].min()
    assert fake["since"].max() <= real["since"].max()
    table = synth.to_frame()
    assert (table["synthetic"] < 0.08).all(), table


def test_the_version_is_marked_synthetic_with_lineage(planted, synth):
    a = synth.asset
    assert (a.name, a.operation, a.parents) == (
        "planted-synthetic",
        "synthesize",
        (("planted", 1),),
    )
    assert a.params["synthetic"] is True
    assert a.params["method"] == "copula"
    assert a.note.startswith("SYNTHETIC")
    assert a.schema.target == "y"
    assert a.schema.id == "id"
    assert [op for _, op, _ in a.lineage().edges] == ["synthesize"]
    assert synthesis_report(a).payload == synth.payload
    assert synthesis_report(planted) is None


def test_report_measures_fidelity_privacy_and_tstr(planted, synth):
    f = synth.fidelity
    assert f["roc_auc_train_synthetic"] > 0.8
    assert f["roc_auc_train_real"] > 0.8
    assert f["accuracy_train_synthetic"] > f["accuracy_train_real"] - 0.08
    html = synth._html()
    for text in (
        "SynthesisReport",
        "train on synthetic",
        "Distance to the closest",
        "privacy ok",
        "KS",
        "TVD",
    ):
        assert text in html, text
    assert len(synth._view().figures()) == 3
    assert "3,000 synthetic rows" in synth._text()


def test_same_seed_gives_the_same_version_and_report(project, planted, synth):
    again = planted.synthesize(3000, seed=0)
    assert again.asset == synth.asset
    assert again.payload == synth.payload
    count = project._store.query(
        "SELECT COUNT(*) FROM reports WHERE kind = 'synthesis'"
    )[0][0]
    assert count == 1
    other = planted.synthesize(3000, seed=1)
    assert other.asset.version == 2
    assert other.asset.parents == (("planted", 1),)


def test_synthesis_errors(planted, project):
    with pytest.raises(errors.ValidationError, match="Did you mean 'copula'"):
        planted.synthesize(10, method="copola")
    with pytest.raises(errors.ValidationError, match="positive whole number"):
        planted.synthesize(0)
    with pytest.raises(errors.ValidationError, match="by='colour'"):
        planted.synthesize(10, by="colour")
    tiny = project.data("tiny5", pd.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(errors.ValidationError, match="too few"):
        tiny.synthesize(10)
