"""Write a model version as an MLflow model, and register it in an MLflow server.

The directory holds the ``python_function`` flavor, whose loader is
``mlops_nb/interop/_mlflow_pyfunc_loader.py`` copied into ``code/`` as
``mlops_nb_pyfunc.py``: it loads the version's own safe files (skops with an explicit
trusted-type list, LightGBM text), each checked against its SHA-256, and never a
pickle. MLflow's sklearn flavor is not used, because it pickles. When the version has
an ONNX export, MLflow's own ``onnx`` flavor is added (``mlflow.onnx.save_model``
writes the ``.onnx`` file). The data versions with their content hashes, metrics,
the last fairness review's findings, carbon figures, the decision threshold and the
lineage go into the MLmodel ``metadata`` (under ``mlops_nb``), and flattened into
tags when the model is registered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import UnsupportedFormatError, ValidationError
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, View

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlops_nb.model import Model

#: The name MLflow imports the shipped loader by.
LOADER_MODULE = "mlops_nb_pyfunc"
_ONNX_PKGS = ("onnx", "onnxruntime")
_FILES = {
    "pipeline": ("pipeline.skops", "skops"),
    "prep": ("prep.skops", "skops"),
    "booster": ("booster.txt", "lightgbm"),
}


def import_mlflow() -> Any:
    """Import mlflow with its telemetry off (see :mod:`mlops_nb._offline`)."""
    from mlops_nb._offline import disable_telemetry

    disable_telemetry()
    try:
        import mlflow
    except ModuleNotFoundError as err:
        if err.name != "mlflow":
            raise
        from mlops_nb.errors import MissingDependencyError

        msg = (
            "MLflow interop needs mlflow, which is not installed. Install the extra: "
            "pip install 'mlops-nb[mlflow]'."
        )
        raise MissingDependencyError(msg) from err
    return mlflow


def _check_exportable(model: Model) -> None:
    reasons = []
    if (model.recipe.get("mitigation") or {}).get("method"):
        reasons.append("it is a fairness-mitigated version (per-group thresholds)")
    if model.recipe.get("feature_recipe"):
        reasons.append("it computes generated features at prediction")
    if model.flavor not in ("sklearn", "lightgbm"):
        reasons.append(f"its flavor {model.flavor!r} has no safe MLflow form")
    if "onnx" in model.artifacts:
        source = (model.lineage.get("source") or {}).get("uri", "its source")
        reasons.append(
            f"it is an ONNX model imported from {source}, with no scikit-learn or "
            "LightGBM files to write; the MLflow model it came from is its MLflow form"
        )
    if reasons:
        msg = (
            f"{model.label}.to_mlflow(): cannot write this version as an MLflow model: "
            f"{'; '.join(reasons)}. Export the version it was built from, or its ONNX "
            "export (model.export_onnx()) for ONNX Runtime."
        )
        raise UnsupportedFormatError(msg)


def summary(model: Model) -> dict[str, Any]:
    """Return what the MLmodel metadata records of ``model`` (JSON-ready)."""
    from mlops_nb.human._common import jsonable, stored_reports
    from mlops_nb.human._fairness import stored_fairness

    info = model.threshold_info
    out: dict[str, Any] = {
        "model": {"name": model.name, "version": model.version, "id": model.id},
        "estimator": model.recipe["estimator"],
        "task": model.task,
        "target": model.recipe.get("target"),
        "classes": model.classes,
        "threshold": None
        if info is None
        else {
            "value": float(info["value"]),
            "positive_class": info["positive_class"],
            "source": info.get("source"),
        },
        "data": [dict(d) for d in model.lineage["data"]],
        "lineage": {k: v for k, v in model.lineage.items() if k != "data"},
        "artifacts": dict(model.artifacts),
        "metrics": {
            "validation": model.metrics["validation"],
            "evaluations": {
                e.data_label: {k: e.metrics.get(k) for k in e.headline()}
                for e in model.evaluations()
            },
        },
        "created_at": model.created_at,
        "created_by": model.created_by,
    }
    fair = stored_fairness(model)
    if fair:
        out["fairness"] = {
            "findings": fair[-1].findings(),
            "disparities": fair[-1].payload.get("disparities"),
        }
    carbon = [
        {
            "kind": r["kind"],
            **{
                k: v
                for k, v in r["payload"].items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            },
        }
        for r in stored_reports(model, "carbon")
    ]
    if carbon:
        out["carbon"] = carbon
    return jsonable(out)


def tags_of(meta: dict[str, Any]) -> dict[str, str]:
    """Flatten the metadata into MLflow tags (``mlops_nb.`` keys, string values)."""
    tags = {
        "mlops_nb.model": f"{meta['model']['name']} v{meta['model']['version']}",
        "mlops_nb.estimator": str(meta["estimator"]),
        "mlops_nb.task": str(meta["task"]),
        "mlops_nb.data": ", ".join(
            f"{d['name']} v{d['version']}" for d in meta["data"]
        ),
    }
    for i, d in enumerate(meta["data"]):
        tags[f"mlops_nb.data.{i}.sha256"] = str(d.get("content_hash"))
    for k, v in meta["metrics"]["validation"]["metrics"].items():
        tags[f"mlops_nb.metric.validation.{k}"] = repr(v)
    if meta.get("threshold"):
        tags["mlops_nb.threshold"] = repr(meta["threshold"]["value"])
        tags["mlops_nb.positive_class"] = str(meta["threshold"]["positive_class"])
    for key, digest in meta["artifacts"].items():
        tags[f"mlops_nb.artifact.{key}.sha256"] = digest
    if meta["lineage"].get("parent_model"):
        tags["mlops_nb.parent_model"] = json.dumps(meta["lineage"]["parent_model"])
    if "fairness" in meta:
        tags["mlops_nb.fairness.findings"] = json.dumps(meta["fairness"]["findings"])
    if "carbon" in meta:
        tags["mlops_nb.carbon"] = json.dumps(meta["carbon"])[:5000]
    return tags


def signature_of(model: Model) -> Any:
    """Return an MLflow signature: the model's input columns and its output frame."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    feats = model.recipe["features"]
    inputs = Schema(
        [ColSpec("double", c) for c in feats["numeric"]]
        + [ColSpec("string", c) for c in feats["categorical"]]
    )
    if model.task == "regression":
        outputs = Schema([ColSpec("double", "prediction")])
    else:
        classes = model.classes or []
        kinds = {type(c) for c in classes}
        decision = (
            "boolean"
            if kinds <= {bool}
            else "long"
            if kinds <= {int}
            else "double"
            if kinds <= {int, float}
            else "string"
        )
        outputs = Schema(
            [ColSpec("double", f"proba_{c}") for c in classes]
            + [ColSpec(decision, "decision")]
        )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _write_data(model: Model, folder: Path, meta: dict[str, Any]) -> None:
    folder.mkdir(parents=True)
    store = model.project._store
    files = {}
    for key, (fname, fmt) in _FILES.items():
        if key not in model.artifacts:
            continue
        data = store.read_blob(model.artifacts[key])  # verified against its hash
        (folder / fname).write_bytes(data)
        files[key] = {
            "file": fname,
            "format": fmt,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    payload = {
        "format": "mlops_nb-mlflow/1",
        "flavor": model.flavor,
        "task": model.task,
        "classes": meta["classes"],
        "features": model.recipe["features"],
        "threshold": meta["threshold"],
        "files": files,
    }
    (folder / "mlops_nb_model.json").write_text(json.dumps(payload, indent=1))


def _requirements(model: Model) -> list[str]:
    from importlib import metadata

    pkgs = ["numpy", "pandas", "scikit-learn", "skops"]
    if model.flavor == "lightgbm":
        pkgs.append("lightgbm")
    return [f"{p}=={metadata.version(p)}" for p in pkgs]


def _add_onnx(model: Model, path: Path, mlflow_model: Any) -> str | None:
    """Add MLflow's onnx flavor from the newest ONNX export; return its digest."""
    from mlops_nb.deploy._export import stored_exports

    exports = stored_exports(model)
    if not exports:
        return None
    from importlib import metadata

    import mlflow.onnx
    import onnx

    export = exports[-1]
    proto = onnx.load_from_string(export.onnx_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "onnx"
        mlflow.onnx.save_model(
            proto,
            str(out),
            save_as_external_data=False,
            onnx_execution_providers=["CPUExecutionProvider"],
            # given, so MLflow does not re-import the model in a subprocess (~12 s)
            pip_requirements=[f"{p}=={metadata.version(p)}" for p in _ONNX_PKGS],
        )
        flavor = mlflow.models.Model.load(str(out / "MLmodel")).flavors["onnx"]
        shutil.copyfile(out / flavor["data"], path / flavor["data"])
    flavor = {k: v for k, v in flavor.items() if k != "code"}
    mlflow_model.add_flavor("onnx", **flavor)
    return export.digest


#: MLflow copies ``uv.lock`` and ``pyproject.toml`` of the working directory into
#: every model it saves; the exported model carries its own requirements instead.
_NO_UV_FILES = {"MLFLOW_UV_AUTO_DETECT": "false", "MLFLOW_LOG_UV_FILES": "false"}


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore them."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def write_mlflow_dir(model: Model, path: Path) -> dict[str, Any]:
    """Write the MLflow model folder ``path`` (must not exist); return metadata."""
    with _env(_NO_UV_FILES):
        return _write_mlflow_dir(model, path)


def _write_mlflow_dir(model: Model, path: Path) -> dict[str, Any]:
    import_mlflow()
    import mlflow
    import mlflow.pyfunc

    _check_exportable(model)
    meta = summary(model)
    loader = Path(__file__).with_name("_mlflow_pyfunc_loader.py")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        _write_data(model, data, meta)
        code = Path(tmp) / f"{LOADER_MODULE}.py"
        shutil.copyfile(loader, code)
        with warnings.catch_warnings():
            # MLflow asks for an input example; the signature says what it needs
            warnings.filterwarnings("ignore", ".*An input example", UserWarning)
            mlflow.pyfunc.save_model(
                str(path),
                loader_module=LOADER_MODULE,
                data_path=str(data),
                code_paths=[str(code)],
                signature=signature_of(model),
                pip_requirements=_requirements(model),
                metadata={"mlops_nb": meta},
            )
    mlmodel = mlflow.models.Model.load(str(path / "MLmodel"))
    onnx_digest = _add_onnx(model, path, mlmodel)
    if onnx_digest is not None:
        meta["onnx_sha256"] = onnx_digest
        mlmodel.metadata = {"mlops_nb": meta}
        mlmodel.save(str(path / "MLmodel"))
    return meta


def to_mlflow(
    model: Model,
    path: str | Path | None = None,
    *,
    registry: str | None = None,
    name: str | None = None,
) -> MlflowModel:
    """Write ``model`` as an MLflow model directory, or register it in a server.

    See :meth:`mlops_nb.model.Model.to_mlflow`.
    """
    if (path is None) == (registry is None):
        msg = (
            f"{model.label}.to_mlflow(): pass either a folder path (an MLflow model "
            "directory) or registry='http://host:port' (log and register), not "
            f"{'both' if path is not None else 'neither'}."
        )
        raise ValidationError(msg)
    if path is not None:
        target = Path(path)
        if target.is_symlink():
            msg = (
                f"{model.label}.to_mlflow({str(path)!r}): the path is a symbolic link "
                f"(to {str(target.readlink())!r}); mlops_nb writes only into a real "
                "folder it can see. Pass the folder itself (nothing was written)."
            )
            raise ValidationError(msg)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            msg = (
                f"{model.label}.to_mlflow({str(path)!r}): the path exists and is "
                "not an empty folder; choose a new folder (nothing was written)."
            )
            raise ValidationError(msg)
        if target.is_dir():
            target.rmdir()
        meta = write_mlflow_dir(model, target)
        result = MlflowModel(model.label, str(target), _flavors(target), meta)
    else:
        from mlops_nb.interop._mlflow_registry import register

        result = register(model, str(registry), name or model.name)
    with model.project._store.write() as conn:
        model.project._store.audit(
            conn,
            "export mlflow",
            f"model:{model.label}",
            path=result.path,
            registry=result.registry,
            registered=result.registered,
        )
    return result


def _flavors(path: Path) -> tuple[str, ...]:
    import mlflow.models

    return tuple(mlflow.models.Model.load(str(path / "MLmodel")).flavors)


@dataclass(frozen=True, repr=False)
class MlflowModel(Displayable):
    """An MLflow model written (or registered) from a model version.

    Attributes
    ----------
    path : str
        The MLmodel directory (or the run's artifact URI when registered).
    flavors : tuple of str
        ``python_function`` and, with an ONNX export, ``onnx``.
    metadata : dict
        What MLmodel's ``metadata["mlops_nb"]`` records.
    registry, registered, tags
        The tracking server, ``"name/version"`` registered there, and its tags.
    """

    model: str
    path: str
    flavors: tuple[str, ...]
    metadata: dict[str, Any] = field(repr=False)
    registry: str | None = None
    registered: str | None = None
    tags: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def uri(self) -> str:
        """What ``mlflow.pyfunc.load_model`` takes."""
        if self.registered:
            name, version = self.registered.rsplit("/", 1)
            return f"models:/{name}/{version}"
        return self.path

    def _view(self) -> View:
        import pandas as pd

        facts = KeyValues(
            [
                ("model", self.model),
                ("MLflow model", self.uri),
                ("flavors", ", ".join(self.flavors)),
                ("registry", self.registry or "—"),
                (
                    "data",
                    ", ".join(
                        f"{d['name']} v{d['version']}" for d in self.metadata["data"]
                    ),
                ),
            ]
        )
        tabs = [Tab("Overview", [facts])]
        if self.tags:
            tabs.append(
                Tab(
                    "Tags",
                    [
                        Table(
                            pd.DataFrame(
                                {
                                    "tag": list(self.tags),
                                    "value": list(self.tags.values()),
                                }
                            )
                        )
                    ],
                )
            )
        summary_line = f"{', '.join(self.flavors)} at {self.uri}"
        return View("MLflow model", self.model, summary_line, [], tabs)
