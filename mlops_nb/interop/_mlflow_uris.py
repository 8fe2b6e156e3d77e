"""Where an MLflow model URI points: a local folder, ``runs:/`` or ``models:/``.

``models:/name/version``, ``models:/name/Stage`` and ``models:/name@alias`` are
resolved on the registry given; ``runs:/<run_id>/<name>`` on the same server (MLflow
3 keeps a model logged in a run as a *logged model* outside the run's artifacts).
A reference the server does not know is a :class:`ValidationError` naming it and how
to list what is there.
"""

from __future__ import annotations

from pathlib import Path

from mlops_nb.errors import ValidationError
from mlops_nb.store._urls import mask_url


def local_copy(uri: str, registry: str | None, tmp: str) -> Path:
    """Return a local folder holding the MLflow model at ``uri``."""
    from mlops_nb.interop._mlflow_export import import_mlflow

    local = Path(uri.removeprefix("file://"))
    if "://" not in uri.removeprefix("file://") and local.is_dir():
        return local
    import_mlflow()
    import mlflow.artifacts

    source = uri
    if uri.startswith("models:/"):
        source = _model_version_source(uri, registry)
    elif uri.startswith("runs:/") and registry is not None:
        source = _run_source(uri, registry)
    try:
        out = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=tmp, tracking_uri=registry
        )
    except Exception as err:
        msg = f"from_mlflow({uri!r}): could not fetch the model: {err}"
        raise ValidationError(mask_url(msg)) from err
    return Path(out)


def _how_to_look(registry: str, name: str) -> str:
    return (
        f"List what is there with MlflowClient(tracking_uri={registry!r})"
        f".search_model_versions(\"name='{name}'\") (versions, stages) or "
        f".get_registered_model({name!r}).aliases."
    )


def _run_source(uri: str, registry: str) -> str:
    """Return where the model of ``runs:/<run_id>/<name>`` lives on ``registry``.

    MLflow 3 keeps a model logged in a run as a *logged model* outside the run's
    artifacts; its location is asked of the same server (MLflow's own resolver would
    ask the default tracking URI). A run's own ``<name>`` artifacts (MLflow 2, and
    mlops_nb's ``to_mlflow(registry=...)``) are used as they are.
    """
    from mlflow.exceptions import MlflowException

    from mlops_nb.interop._mlflow_registry import client_for

    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    _plain(uri, run_id, path)
    client = client_for(registry)
    search = getattr(client, "search_logged_models", None)
    if search is None:  # MLflow 2: the model is the run's own artifacts
        return uri
    try:
        run = client.get_run(run_id)
        found = search(
            [run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}' AND name = '{path}'",
        )
    except MlflowException as err:
        msg = (
            f"from_mlflow({uri!r}): the tracking server at {registry} answered: "
            f"{err.message.rstrip('.')}. Check the run id with "
            f"MlflowClient(tracking_uri={registry!r}).get_run(run_id)."
        )
        raise ValidationError(mask_url(msg)) from err
    return found[0].artifact_location if found else uri


def _plain(uri: str, *parts: str) -> None:
    """Refuse a quote in what goes into an MLflow search filter (it would change it)."""
    if any("'" in p or '"' in p or "\\" in p for p in parts):
        msg = (
            f"from_mlflow({uri!r}): a model name or run reference may not hold quotes "
            "or backslashes."
        )
        raise ValidationError(mask_url(msg))


def _model_version_source(uri: str, registry: str | None) -> str:
    """Resolve ``models:/name/version`` (or ``/Stage``, or ``models:/name@alias``)."""
    from mlflow.exceptions import MlflowException

    from mlops_nb.interop._mlflow_registry import client_for

    if registry is None:
        msg = (
            f"from_mlflow({uri!r}): a models:/ URI needs the registry: pass "
            "registry='http://host:port'."
        )
        raise ValidationError(mask_url(msg))
    client = client_for(registry)
    rest = uri.removeprefix("models:/")
    _plain(uri, rest)
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            version = client.get_model_version_by_alias(name, alias).version
        else:
            name, _, ref = rest.partition("/")
            if ref.isdigit():
                version = ref
            else:
                found = client.search_model_versions(f"name='{name}'")
                at = [
                    v for v in found if (v.current_stage or "").lower() == ref.lower()
                ]
                if not at:
                    msg = (
                        f"from_mlflow({uri!r}): no version of {name!r} is at stage "
                        f"{ref!r}. {_how_to_look(registry, name)}"
                    )
                    raise ValidationError(mask_url(msg))
                version = max(at, key=lambda v: int(v.version)).version
        return client.get_model_version_download_uri(name, version)
    except MlflowException as err:
        name = rest.split("@", 1)[0].partition("/")[0]
        msg = (
            f"from_mlflow({uri!r}): the registry at {registry} answered: "
            f"{err.message.rstrip('.')}. {_how_to_look(registry, name)}"
        )
        raise ValidationError(mask_url(msg)) from err
