"""Where an MLflow model URI points: a local folder, ``runs:/`` or ``models:/``.

``models:/name/version``, ``models:/name/Stage`` and ``models:/name@alias`` are
resolved on the registry given; ``runs:/<run_id>/<name>`` on the same server (MLflow
3 keeps a model logged in a run as a *logged model* outside the run's artifacts).
A reference the server does not know is a :class:`ValidationError` naming it and how
to list what is there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_nb.errors import ValidationError
from mlops_nb.store._urls import mask_url

if TYPE_CHECKING:
    from collections.abc import Iterator

PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


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
        with _no_progress_bar():
            out = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=registry
            )
    except Exception as err:
        msg = f"from_mlflow({uri!r}): could not fetch the model: {err}"
        raise ValidationError(mask_url(msg)) from err
    return Path(out)


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """Turn MLflow's download progress bar off for this call.

    In a notebook it is a widget, in a report noise; a user's own setting of
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is kept.
    """
    if PROGRESS_ENV in os.environ:
        yield
        return
    os.environ[PROGRESS_ENV] = "false"
    try:
        yield
    finally:
        os.environ.pop(PROGRESS_ENV, None)


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
    if "/" not in rest and "@" not in rest:
        return _logged_model_source(uri, rest, client, registry)
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            version = client.get_model_version_by_alias(name, alias).version
        else:
            name, _, ref = rest.partition("/")
            if ref.isdigit():
                version = ref
            else:  # the latest version, or the latest at a stage
                found = client.search_model_versions(f"name='{name}'")
                latest = ref.lower() == "latest"
                at = [
                    v
                    for v in found
                    if latest or (v.current_stage or "").lower() == ref.lower()
                ]
                if not at:
                    where = "" if latest else f" at stage {ref!r}"
                    msg = (
                        f"from_mlflow({uri!r}): the registry holds no version of "
                        f"{name!r}{where}. {_how_to_look(registry, name)}"
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


def _logged_model_source(uri: str, model_id: str, client: object, registry: str) -> str:
    """Resolve ``models:/<model_id>``, an MLflow 3 logged model, on the same server.

    ``log_model`` returns such a URI as ``model_info.model_uri``.
    """
    from mlflow.exceptions import MlflowException

    how = (
        "A models:/ URI of one part is a logged model's id (MLflow 3: log_model "
        "returns it as model_info.model_uri, e.g. models:/m-0123…); a registered "
        f"model needs its version, stage or alias: models:/{model_id}/1, "
        f"models:/{model_id}/latest or models:/{model_id}@champion. List logged "
        f"models with MlflowClient(tracking_uri={registry!r})"
        ".search_logged_models([experiment_id])."
    )
    get = getattr(client, "get_logged_model", None)
    if get is None:  # MLflow 2: no logged models
        msg = f"from_mlflow({uri!r}): {how}"
        raise ValidationError(mask_url(msg))
    try:
        return get(model_id).artifact_location
    except MlflowException as err:
        msg = (
            f"from_mlflow({uri!r}): the tracking server at {registry} answered: "
            f"{err.message.rstrip('.')}. {how}"
        )
        raise ValidationError(mask_url(msg)) from err
