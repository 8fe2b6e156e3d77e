"""proj.from_mlflow() with the URI forms a tracking server hands out: ``runs:/`` and
``models:/name@alias``, against a real ``mlflow server`` on loopback; bad
references are a ValidationError naming what was asked and how to look it up."""

from __future__ import annotations

import os

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from _interop_frames import make_frame
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from mlops_nb.errors import ValidationError

pytestmark = pytest.mark.slow  # starts a real mlflow server (~10-30 s)


@pytest.fixture(scope="module")
def logged(mlflow_server):
    """A logistic regression logged (skops) in a run, registered, aliased."""
    frame = make_frame("binary", 101)
    X = frame[["x1", "x2"]]
    est = LogisticRegression(max_iter=300).fit(X, frame["y"])
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    try:
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(
                est,
                name="model",
                signature=mlflow.models.infer_signature(X),
                serialization_format="skops",
                pip_requirements=["scikit-learn", "skops"],
            )
        mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "credit")
    finally:
        mlflow.set_tracking_uri(None)
    client.set_registered_model_alias("credit", "champion", mv.version)
    return {
        "run_id": run.info.run_id,
        "version": mv.version,
        "est": est,
        "X": X,
        "model_uri": info.model_uri,  # MLflow 3: models:/m-<id>, a logged model
    }


@pytest.mark.parametrize("form", ["runs", "alias", "logged", "latest"])
def test_runs_and_alias_uris_import_the_logged_model(
    project, mlflow_server, logged, form, capfd, monkeypatch
):
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    frame = make_frame("binary", 101)
    asset = project.data("ref", frame, target="y")
    uri = {
        "runs": f"runs:/{logged['run_id']}/model",
        "alias": "models:/credit@champion",
        "logged": logged["model_uri"],
        "latest": "models:/credit/latest",
    }[form]
    if form == "logged":
        assert uri.startswith("models:/m-")
    capfd.readouterr()
    model = project.from_mlflow(uri, data=asset, registry=mlflow_server, name="credit")
    # MLflow's download progress bar stays off (a widget in a notebook, noise in a
    # report), and the user's environment is left as it was
    assert "Downloading artifacts" not in capfd.readouterr().err
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    scoring = make_frame("binary", 102, n=50)
    np.testing.assert_allclose(
        model.predict_proba(scoring),
        logged["est"].predict_proba(scoring[["x1", "x2"]]),
        atol=1e-9,
    )
    source = model.lineage["source"]
    assert source["uri"] == uri
    assert source["run_id"] == logged["run_id"]
    assert source["flavor"] == "sklearn (skops)"
    assert source["files"]  # every file's SHA-256


def test_a_progress_bar_the_user_asked_for_is_kept(
    project, mlflow_server, logged, capfd, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    asset = project.data("ref", make_frame("binary", 101), target="y")
    capfd.readouterr()
    project.from_mlflow(
        "models:/credit@champion", data=asset, registry=mlflow_server, name="bar"
    )
    assert "Downloading artifacts" in capfd.readouterr().err
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("models:/credit@nope", "nope"),
        ("models:/nobody@champion", "nobody"),
        ("models:/nobody/1", "nobody"),
        ("models:/credit/999", "999"),
        ("models:/credit/Production", "Production"),
        ("runs:/0123456789abcdef0123456789abcdef/model", "get_run"),
        ("models:/nobody/latest", "nobody"),
        ("models:/m-0123456789abcdef0123456789abcdef", "logged model's id"),
        ("models:/credit", "models:/credit@champion"),
    ],
)
def test_bad_registry_references_are_named(project, mlflow_server, logged, uri, named):
    asset = project.data("ref", make_frame("binary", 103), target="y")
    before = len(project.audit_log())
    with pytest.raises(ValidationError) as err:
        project.from_mlflow(uri, data=asset, registry=mlflow_server)
    text = str(err.value)
    assert uri in text
    assert named in text
    assert "MlflowClient" in text or "search_model_versions" in text  # how to look
    assert len(project.audit_log()) == before


def test_a_models_uri_without_a_registry_says_so(project):
    asset = project.data("ref", make_frame("binary", 104), target="y")
    with pytest.raises(ValidationError, match="registry='http"):
        project.from_mlflow("models:/credit@champion", data=asset)


@pytest.mark.parametrize(
    "uri", ["models:/nobody@champion", "models:/credit/999", "models:/credit/Nowhere"]
)
def test_a_password_in_the_registry_url_never_shows(
    project, mlflow_server, logged, uri
):
    """Basic-auth credentials in the tracking URL stay out of errors (the server
    here ignores them, as one behind no proxy does)."""
    secret = "s3cr3t-token"
    registry = mlflow_server.replace("http://", f"http://ml:{secret}@")
    asset = project.data("ref", make_frame("binary", 105), target="y")
    with pytest.raises(ValidationError) as err:
        project.from_mlflow(uri, data=asset, registry=registry)
    assert secret not in str(err.value)
    assert "ml:***@" in str(err.value)


@pytest.mark.parametrize("name", ["it's", 'a"b', "back\\slash"])
def test_quotes_cannot_reach_an_mlflow_search_filter(project, mlflow_server, name):
    asset = project.data("ref", make_frame("binary", 106), target="y")
    for uri in (f"models:/{name}/Production", f"runs:/abc/{name}"):
        with pytest.raises(ValidationError, match="quotes"):
            project.from_mlflow(uri, data=asset, registry=mlflow_server)
