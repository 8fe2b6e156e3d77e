"""Log a model version's MLflow directory to a tracking server and register it.

One run per export, in the experiment ``mlops_nb``: the directory is logged as the
run's ``model`` artifact, the validation metrics as run metrics, and a registered
model version is created from it carrying the lineage tags of
:func:`mlops_nb.interop._mlflow_export.tags_of`. Talks only to the server given.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import StoreError, ValidationError
from mlops_nb.store._urls import mask_url

if TYPE_CHECKING:
    from mlops_nb.interop._mlflow_export import MlflowModel
    from mlops_nb.model import Model

EXPERIMENT = "mlops_nb"


def client_for(registry: str) -> Any:
    """Return an ``MlflowClient`` for tracking and registry at ``registry``."""
    from mlops_nb.interop._mlflow_export import import_mlflow

    import_mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=registry, registry_uri=registry)


def register(model: Model, registry: str, name: str) -> MlflowModel:
    """Log ``model`` to ``registry`` and register it as a version of ``name``."""
    from mlops_nb.interop._mlflow_export import (
        MlflowModel,
        _flavors,
        tags_of,
        write_mlflow_dir,
    )
    from mlops_nb.store import validate_name

    validate_name(name, what=f"{model.label}.to_mlflow(name=...)")
    if not registry.startswith(("http://", "https://", "sqlite:", "file:")):
        msg = (
            f"{model.label}.to_mlflow(registry={registry!r}): give the tracking "
            "server's URL, e.g. 'http://127.0.0.1:5000'."
        )
        raise ValidationError(mask_url(msg))
    from mlflow.exceptions import MlflowException

    client = client_for(registry)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        meta = write_mlflow_dir(model, folder)
        flavors = _flavors(folder)
        tags = tags_of(meta)
        try:
            experiment = client.get_experiment_by_name(EXPERIMENT)
            exp_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(EXPERIMENT)
            )
            run = client.create_run(
                exp_id,
                tags={**tags, "mlflow.runName": f"{model.name}-v{model.version}"},
            )
            run_id = run.info.run_id
            for k, v in meta["metrics"]["validation"]["metrics"].items():
                if isinstance(v, (int, float)):
                    client.log_metric(run_id, f"validation_{k}", float(v))
            client.log_artifacts(run_id, str(folder), "model")
            client.set_terminated(run_id)
            try:
                client.create_registered_model(name)
            except MlflowException as err:
                if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
                    raise
            version = client.create_model_version(
                name,
                source=f"{run.info.artifact_uri}/model",
                run_id=run_id,
                tags=tags,
                description=f"mlops_nb {model.label}, trained on "
                + ", ".join(model.data),
            )
        except MlflowException as err:
            msg = (
                f"{model.label}.to_mlflow(registry={registry!r}): the MLflow server "
                f"refused or failed: {err}. Check that the server runs and accepts "
                "model registration (a database backend)."
            )
            raise StoreError(mask_url(msg)) from err
    return MlflowModel(
        model.label,
        f"{run.info.artifact_uri}/model",
        flavors,
        meta,
        registry=registry,
        registered=f"{name}/{version.version}",
        tags=tags,
    )
