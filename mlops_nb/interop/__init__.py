"""Interop with the tools teams already run: MLflow models out and in.

Nothing here imports mlflow until a function is called (it is an optional extra:
``pip install 'mlops-nb[mlflow]'``): :func:`to_mlflow` (see :meth:`Model.to_mlflow`)
and :func:`from_mlflow` (see :meth:`mlops_nb.Project.from_mlflow`) import it when
they run.
"""

from __future__ import annotations

from mlops_nb.interop._mlflow_export import to_mlflow
from mlops_nb.interop._mlflow_import import from_mlflow

__all__ = ["from_mlflow", "to_mlflow"]
