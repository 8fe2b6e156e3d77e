from __future__ import annotations

import numpy as np
import pytest
from _human_cases import build

from _helpers import reopen
from mlops_nb import errors


@pytest.fixture(scope="module")
def demographic(biased):
    return biased["model"].mitigate(
        biased["valid"], constraint="demographic_parity", test=biased["test"]
    )


def test_threshold_optimizer_reduces_the_planted_disparity(biased, demographic):
    before, after = demographic.to_frame()["demographic_parity_difference"]
    assert before > 0.12
    assert after < 0.06
    assert (
        demographic.reduction() > 0.08
    )  # measured on the test split, not the fitting data
    acc_before, acc_after = demographic.to_frame()["accuracy"]
    assert acc_before - acc_after < 0.03  # what it cost
    new = demographic.model
    assert new.version == biased["model"].version + 1
    assert new.stage == "candidate"
    assert new.lineage["parent_model"] == ["credit", biased["model"].version]
    assert (
        new.lineage["data"][0]["name"] == "loans-train-test"
    )  # fitted on the validation split
    mit = new.recipe["mitigation"]
    assert mit["method"] == "threshold_optimizer"
    assert set(mit["thresholds"]) == {
        "group=A",
        "group=B",
    }
    assert "group" in new.features
    assert new.recipe["use_sensitive"]
    rep = new.fairness(biased["test"])
    assert rep.disparities.iloc[0]["demographic_parity_difference"] == pytest.approx(
        after
    )


def test_mitigated_version_predicts_from_stored_thresholds_in_a_new_kernel(
    biased, demographic
):
    new = demographic.model
    frame = biased["test"].frame
    reopened = reopen(biased["project"]).model("credit", version=new.version)
    assert np.array_equal(reopened.predict(frame), new.predict(frame))
    mit = new.recipe["mitigation"]
    base = biased["model"].predict_proba(frame)[:, 1]
    t = (
        frame["group"]
        .astype(str)
        .map(lambda g: mit["thresholds"][f"group={g}"])
        .to_numpy()
    )
    assert np.array_equal(new.predict(frame), (base > t).astype(int))
    with pytest.raises(errors.SchemaError, match="'group'"):
        new.predict(frame.drop(columns=["group"]))  # the thresholds need the group


def test_equalized_odds_on_a_model_blind_to_the_group(project):
    case = build(project, bias=True, use_sensitive=False)
    mit = case["model"].mitigate(
        case["valid"], constraint="equalized_odds", test=case["test"]
    )
    before, after = mit.to_frame()["equalized_odds_difference"]
    assert before > 0.08
    assert after < before - 0.03
    html = mit.to_html()
    assert "Trade-off" in html
    assert "Thresholds" in html
    assert "ONNX export of the original model alone does not" in html


def test_exponentiated_gradient_is_a_plain_scikit_learn_version(biased):
    model = biased["model"]
    mit = model.mitigate(
        biased["valid"],
        method="exponentiated_gradient",
        constraint="demographic_parity",
        test=biased["test"],
        sample_rows=800,
        max_iter=4,
    )
    new = mit.model
    assert new.flavor == "sklearn"
    assert list(new.artifacts) == ["pipeline"]
    assert (
        new.features == model.features
    )  # reads no sensitive column at prediction time
    info = new.recipe["mitigation"]
    assert info["fits"] >= 2
    assert info["members"] >= 1
    assert abs(sum(info["weights"]) - 1) < 1e-6
    reopened = reopen(biased["project"]).model("credit", version=new.version)
    frame = biased["test"].frame.head(50)
    assert np.allclose(reopened.predict_proba(frame), new.predict_proba(frame))
    assert "Ensemble" in mit.to_html()


def test_mitigation_errors(biased, demographic):
    model = biased["model"]
    with pytest.raises(errors.ValidationError, match="Did you mean 'equalized_odds'"):
        model.mitigate(biased["valid"], constraint="equalised_odds")
    with pytest.raises(errors.ValidationError, match="already mitigated"):
        demographic.model.mitigate(biased["valid"])
    with pytest.raises(errors.UnsupportedFormatError, match="logistic"):
        model.mitigate(
            biased["valid"], method="exponentiated_gradient", estimator="lightgbm"
        )


def test_a_threshold_mitigated_version_refuses_onnx_export(biased):
    from mlops_nb import errors
    from mlops_nb.human import mitigate

    fixed = mitigate(biased["model"], biased["valid"], method="threshold_optimizer",
                     constraint="demographic_parity",
                     test=biased["test"]).model  # fmt: skip
    with pytest.raises(errors.UnsupportedFormatError, match=r"threshold per .* group"):
        fixed.export_onnx(check=biased["test"])
