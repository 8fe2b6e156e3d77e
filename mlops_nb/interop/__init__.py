"""Interop with the tools teams already run: MLflow models out and in.

Nothing here imports mlflow until a function is called (it is an optional extra:
``pip install 'mlops-nb[mlflow]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.interop._mlflow_export import MlflowModel
    from mlops_nb.model import Model

__all__ = ["from_mlflow", "to_mlflow"]


def to_mlflow(
    model: Model,
    path: Any = None,
    *,
    registry: str | None = None,
    name: str | None = None,
) -> MlflowModel:
    """Write ``model`` as an MLflow model; see :meth:`Model.to_mlflow`."""
    from mlops_nb.interop._mlflow_export import to_mlflow as _to

    return _to(model, path, registry=registry, name=name)


def from_mlflow(
    project: Project,
    uri: str,
    *,
    data: DataAsset,
    name: str | None = None,
    trust_pickle: bool = False,
    registry: str | None = None,
) -> Model:
    """Import an MLflow model; see :meth:`mlops_nb.Project.from_mlflow`."""
    from mlops_nb.interop._mlflow_import import from_mlflow as _from

    return _from(
        project, uri, data=data, name=name, trust_pickle=trust_pickle, registry=registry
    )
