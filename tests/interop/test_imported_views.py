"""An imported model reads as imported: where it came from and the data it was measured
on, never "trained on" the data mlops_nb only scored it with."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import pytest
from _interop_frames import make_frame
from sklearn.linear_model import LogisticRegression

from mlops_nb.data._lineage import project_lineage


@pytest.mark.parametrize("seed", [0, 1])
def test_an_imported_model_names_its_source_not_a_training(project, tmp_path, seed):
    frame = make_frame("binary", seed)
    asset = project.data("ref", frame, target="y", sensitive="group")
    X = frame[["x1", "x2"]]
    est = LogisticRegression().fit(X, frame["y"])
    path = tmp_path / "outside"
    mlflow.sklearn.save_model(
        est,
        str(path),
        signature=mlflow.models.infer_signature(X),
        serialization_format="skops",
        pip_requirements=["scikit-learn", "skops"],
    )
    model = project.from_mlflow(str(path), data=asset, name="outside")
    native = project.train("native", asset, estimator="logistic", seed=seed)

    html = model._repr_mimebundle_()["text/html"]
    assert "imported from" in html
    assert f"{path} (flavor sklearn (skops))" in html
    assert "measured on" in html
    assert "trained on" not in html
    assert "training time" not in html
    # the native model still says it was trained
    native_html = native._repr_mimebundle_()["text/html"]
    assert "trained on" in native_html
    assert "imported from" not in native_html

    edges = project_lineage(project)
    label = f"model outside v{model.version}"
    assert (str(path), "imported", label) in edges
    assert (f"data ref v{asset.version}", "measured", label) in edges
    assert not any(e[1] == "trained" and e[2] == label for e in edges)
    assert any(e[1] == "trained" and e[2] == "model native v1" for e in edges)

    # the version comparison says so too
    table = project.compare("outside").to_frame()
    assert (
        table["trained on"]
        .str.startswith("imported (sklearn (skops)), measured on ref v")
        .all()
    )


def test_an_imported_models_card_says_its_training_data_is_not_recorded(
    project, tmp_path
):
    frame = make_frame("binary", 3)
    asset = project.data("ref", frame, target="y", sensitive="group")
    X = frame[["x1", "x2"]]
    path = tmp_path / "outside"
    mlflow.sklearn.save_model(
        LogisticRegression().fit(X, frame["y"]),
        str(path),
        signature=mlflow.models.infer_signature(X),
        serialization_format="skops",
        pip_requirements=["scikit-learn", "skops"],
    )
    model = project.from_mlflow(str(path), data=asset, name="outside")
    card = model.card()
    data = card.section("Training data")
    assert any(f"imported from {path}" in n for n in data.notes)
    procedure = dict(card.section("Training procedure").facts)
    assert "import time" in procedure
    assert "training time" not in procedure
    native = project.train("native", asset, estimator="logistic")
    assert not native.card().section("Training data").notes
