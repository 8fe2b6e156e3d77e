"""Import an MLflow model as a model version mlops_nb can evaluate, monitor and explain.

Flavors read, safest first:

- a directory mlops_nb wrote (:mod:`mlops_nb.interop._mlflow_export`): its skops and
  LightGBM text files, checked against the SHA-256 its metadata records, are stored
  as they are (same bytes, same artifact hashes) with its threshold;
- ``sklearn`` in the ``skops`` format (MLflow 3's default outside Databricks):
  loaded with mlops_nb's trusted-type list;
- ``lightgbm`` whose model is a ``Booster`` (LightGBM text, read strictly first);
  a scikit-learn-API LightGBM model in the ``skops`` format is loaded with the
  trusted list plus LightGBM's three classes, and its booster kept as text;
- ``sklearn`` / ``lightgbm`` models pickled with ``pickle`` or ``cloudpickle``:
  refused with :class:`UnsafeFormatError`, unless ``trust_pickle=True``; then MLflow's
  own loader unpickles them (which can run any code the file holds) and mlops_nb
  stores the result in its safe formats, so nothing pickled enters the project.

The version records where it came from (``lineage["source"]``: URI, flavor, every
file's SHA-256, whether a pickle was trusted); its "validation" metrics are measured
on ``data`` at import.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    SchemaError,
    UnsafeFormatError,
    UnsupportedFormatError,
    ValidationError,
    listing,
)

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

#: LightGBM's scikit-learn classes, trusted only when importing an MLflow skops file.
LIGHTGBM_TYPES = (
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
)
_PICKLED = ("pickle", "cloudpickle")


def _local_copy(uri: str, registry: str | None, tmp: str) -> Path:
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
    try:
        out = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=tmp, tracking_uri=registry
        )
    except Exception as err:
        msg = f"from_mlflow({uri!r}): could not fetch the model: {err}"
        raise ValidationError(msg) from err
    return Path(out)


def _model_version_source(uri: str, registry: str | None) -> str:
    """Resolve ``models:/name/version`` (or ``/Stage``, or ``models:/name@alias``)."""
    from mlflow.exceptions import MlflowException

    from mlops_nb.interop._mlflow_registry import client_for

    if registry is None:
        msg = (
            f"from_mlflow({uri!r}): a models:/ URI needs the registry: pass "
            "registry='http://host:port'."
        )
        raise ValidationError(msg)
    client = client_for(registry)
    rest = uri.removeprefix("models:/")
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
                    msg = f"from_mlflow({uri!r}): no version of {name!r} at {ref!r}."
                    raise ValidationError(msg)
                version = max(at, key=lambda v: int(v.version)).version
        return client.get_model_version_download_uri(name, version)
    except MlflowException as err:
        msg = f"from_mlflow({uri!r}): the registry at {registry} answered: {err}"
        raise ValidationError(msg) from err


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refuse_pickle(uri: str, flavor: str, fmt: str) -> None:
    msg = (
        f"from_mlflow({uri!r}): the {flavor} flavor holds a {fmt} file. Loading it "
        "runs whatever code the file contains, so mlops_nb refuses it. If you trust "
        "who wrote it, pass trust_pickle=True (the model is then re-saved in safe "
        "formats); better, log it again with "
        "serialization_format='skops'."
    )
    raise UnsafeFormatError(msg, [{"flavor": flavor, "format": fmt}])


def _read(folder: Path, rel: str, uri: str) -> bytes:
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        msg = (
            f"from_mlflow({uri!r}): MLmodel names {rel!r}, which is not in the folder."
        )
        raise UnsupportedFormatError(msg)
    return path.read_bytes()


def _load(folder: Path, mlmodel: Any, uri: str, trust_pickle: bool) -> dict[str, Any]:
    """Return ``kind`` (ours / estimator / booster), the object(s) and the flavor."""
    from mlops_nb.interop._mlflow_export import LOADER_MODULE
    from mlops_nb.model._persist import load_skops

    flavors = mlmodel.flavors
    pyfunc = flavors.get("python_function", {})
    if pyfunc.get("loader_module") == LOADER_MODULE:
        return {"kind": "ours", "flavor": "python_function (mlops_nb)"}
    if "sklearn" in flavors:
        conf = flavors["sklearn"]
        fmt = conf.get("serialization_format", "cloudpickle")
        if fmt in _PICKLED:
            if not trust_pickle:
                _refuse_pickle(uri, "sklearn", fmt)
            import mlflow.sklearn

            est = mlflow.sklearn.load_model(str(folder))
        else:
            data = _read(folder, conf["pickled_model"], uri)
            est = load_skops(data, artifact=f"{uri} ({conf['pickled_model']})")
        return {"kind": "estimator", "object": est, "flavor": f"sklearn ({fmt})"}
    if "lightgbm" in flavors:
        conf = flavors["lightgbm"]
        if conf.get("model_class") == "lightgbm.basic.Booster":
            from mlops_nb.model._persist import load_booster

            data = _read(folder, conf["data"], uri)
            booster = load_booster(data, artifact=f"{uri} ({conf['data']})")
            return {"kind": "booster", "object": booster, "flavor": "lightgbm (text)"}
        fmt = conf.get("serialization_format", "cloudpickle")
        if fmt in _PICKLED:
            if not trust_pickle:
                _refuse_pickle(uri, "lightgbm", fmt)
            import mlflow.lightgbm

            est = mlflow.lightgbm.load_model(str(folder))
        else:
            data = _read(folder, conf["data"], uri)
            est = load_skops(
                data,
                artifact=f"{uri} ({conf['data']})",
                also_trust=LIGHTGBM_TYPES,
            )
        return {"kind": "lgbm_sklearn", "object": est, "flavor": f"lightgbm ({fmt})"}
    found = listing(sorted(flavors)) if flavors else "none"
    msg = (
        f"from_mlflow({uri!r}): mlops_nb imports the sklearn and lightgbm flavors and "
        f"MLflow models it wrote itself; this model has flavor(s) {found}. An "
        "onnx-only model is not imported yet: use its ONNX file with ONNX Runtime."
    )
    raise UnsupportedFormatError(msg)


def _features(
    mlmodel: Any, names: list[str] | None, data: DataAsset, uri: str
) -> tuple[list[str], list[str], list[str]]:
    """Return (numeric, categorical, order the model reads them in)."""
    kinds = {c.name: c.kind for c in data.schema.columns}
    typed: dict[str, str] = {}
    sig = mlmodel.signature
    if sig is not None and getattr(sig.inputs, "has_input_names", lambda: False)():
        for spec in sig.inputs.inputs:
            kind = getattr(spec.type, "name", str(spec.type))
            typed[spec.name] = "categorical" if kind in ("string",) else "numeric"
    order = list(typed) or list(names or [])
    if not order:
        msg = (
            f"from_mlflow({uri!r}): the model names no input columns (no signature, "
            "no feature names); log it with a signature "
            "(mlflow.models.infer_signature)."
        )
        raise SchemaError(msg)
    missing = [c for c in order if c not in kinds]
    if missing:
        msg = (
            f"from_mlflow({uri!r}, data={data.label}): the model reads column(s) "
            f"{listing(missing)} that {data.label} does not have."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])

    def kind(c: str) -> str:
        if c in typed:
            return typed[c]
        return "categorical" if kinds[c] in ("categorical", "boolean") else "numeric"

    numeric = [c for c in order if kind(c) == "numeric"]
    categorical = [c for c in order if kind(c) == "categorical"]
    return numeric, categorical, order


def _order_step(order: list[str], X: Any, pandas_out: bool) -> Any:
    """Return a fitted ColumnTransformer handing the columns over in model order."""
    from sklearn.compose import ColumnTransformer

    ct = ColumnTransformer(
        [("cols", "passthrough", order)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    ct.set_output(transform="pandas" if pandas_out else "default")
    return ct.fit(X)


def _classes_of(obj: Any) -> list[Any] | None:
    classes = getattr(obj, "classes_", None)
    return (
        None
        if classes is None
        else [c.item() if hasattr(c, "item") else c for c in classes]
    )


def _booster_task(booster: Any, y: Any) -> tuple[str, list[Any] | None]:
    text = booster.model_to_string(num_iteration=0)
    objective = next(
        (
            line.split("=", 1)[1]
            for line in text.splitlines()
            if line.startswith("objective=")
        ),
        "",
    )
    if objective.startswith(("binary", "cross_entropy")):
        return "binary", sorted(y.unique().tolist())
    if objective.startswith("multiclass"):
        return "multiclass", sorted(y.unique().tolist())
    return "regression", None


def from_mlflow(
    project: Project,
    uri: str,
    *,
    data: DataAsset,
    name: str | None = None,
    trust_pickle: bool = False,
    registry: str | None = None,
) -> Model:
    """Import the MLflow model at ``uri``; see :meth:`Project.from_mlflow`."""
    from mlops_nb.data import DataAsset
    from mlops_nb.interop._mlflow_export import import_mlflow
    from mlops_nb.store import validate_name

    if not isinstance(data, DataAsset) or data.schema.target is None:
        msg = (
            f"from_mlflow({uri!r}): data must be a labelled DataAsset (registered with "
            "target='...'): the imported version is measured on it and monitored "
            "against it."
        )
        raise ValidationError(msg)
    if not isinstance(trust_pickle, bool):
        msg = f"from_mlflow(trust_pickle={trust_pickle!r}): must be True or False."
        raise ValidationError(msg)
    import_mlflow()
    from mlflow.models import Model as MlflowModel

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = _local_copy(uri, registry, tmp)
        if not (folder / "MLmodel").is_file():
            msg = f"from_mlflow({uri!r}): no MLmodel file there; is it an MLflow model?"
            raise UnsupportedFormatError(msg)
        files = _hashes(folder)
        mlmodel = MlflowModel.load(str(folder / "MLmodel"))
        loaded = _load(folder, mlmodel, uri, trust_pickle)
        if loaded["kind"] == "ours":
            built = _from_ours(folder, mlmodel, uri)
        else:
            built = _from_object(loaded, mlmodel, data, uri)
    default = (mlmodel.metadata or {}).get("mlops_nb", {}).get("model", {}).get(
        "name"
    ) or "mlflow-import"
    name = validate_name(name or default, what="from_mlflow(name=...)")
    source = {
        "uri": uri,
        "flavor": loaded["flavor"],
        "files": files,
        "trusted_pickle": trust_pickle and "pickle" in loaded["flavor"],
        "run_id": mlmodel.run_id,
        "mlflow_version": mlmodel.mlflow_version,
    }
    from mlops_nb.interop._mlflow_store import store_imported

    return store_imported(
        project, name, data, built, source, time.perf_counter() - start
    )


def _from_ours(folder: Path, mlmodel: Any, uri: str) -> dict[str, Any]:
    """Read a directory mlops_nb wrote: its files as they are, checked."""
    from mlops_nb.model._persist import sniff

    conf = mlmodel.flavors["python_function"]
    data_dir = (folder / conf["data"]).resolve()
    meta = json.loads(_read(data_dir, "mlops_nb_model.json", uri))
    blobs: dict[str, bytes] = {}
    for key, entry in meta["files"].items():
        raw = _read(data_dir, entry["file"], uri)
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            msg = (
                f"from_mlflow({uri!r}): {entry['file']} changed since mlops_nb wrote "
                "it (its SHA-256 differs from the metadata); nothing imported."
            )
            from mlops_nb.errors import IntegrityError

            raise IntegrityError(msg)
        expected = "lightgbm" if key == "booster" else "skops"
        if (
            key not in ("pipeline", "prep", "booster")
            or sniff(raw, artifact=entry["file"]) != expected
        ):
            msg = f"from_mlflow({uri!r}): {entry['file']} is not a {expected} file."
            raise UnsupportedFormatError(msg)
        blobs[key] = raw
    meta_all = (mlmodel.metadata or {}).get("mlops_nb", {})
    return {
        "flavor": meta["flavor"],
        "blobs": blobs,
        "features": meta["features"],
        "task": meta["task"],
        "classes": meta["classes"],
        "threshold": meta.get("threshold"),
        "estimator": meta_all.get("estimator", "imported"),
        "lineage": meta_all.get("data"),
    }


def _from_object(
    loaded: dict[str, Any], mlmodel: Any, data: DataAsset, uri: str
) -> dict[str, Any]:
    """Turn a loaded estimator or booster into mlops_nb's safe files."""
    from sklearn.pipeline import Pipeline

    from mlops_nb.model._persist import dump_booster, dump_skops
    from mlops_nb.model._prep import Features, prepare_X

    obj = loaded["object"]
    if loaded["kind"] == "booster":
        names = obj.feature_name()
    else:
        names = getattr(obj, "feature_names_in_", None)
        names = None if names is None else [str(n) for n in names]
    numeric, categorical, order = _features(mlmodel, names, data, uri)
    features = Features(tuple(numeric), tuple(categorical))
    frame = data.frame
    y = frame[data.schema.target]
    X = prepare_X(frame, features, what=f"from_mlflow({uri!r})")
    what = f"from_mlflow({uri!r})"
    if loaded["kind"] == "estimator":
        task, classes = _estimator_task(obj)
        pipe = Pipeline(
            [
                ("order", _order_step(order, X, hasattr(obj, "feature_names_in_"))),
                ("model", obj),
            ]
        )
        blobs = {"pipeline": dump_skops(pipe, what=what)}
        flavor = "sklearn"
    else:
        if categorical:
            msg = (
                f"{what}: the LightGBM model reads categorical column(s) "
                f"{listing(categorical)}; mlops_nb imports LightGBM models on numeric "
                "inputs only."
            )
            raise UnsupportedFormatError(msg)
        if loaded["kind"] == "booster":
            booster = obj
            task, classes = _booster_task(booster, y)
        else:
            booster = obj.booster_
            task, classes = _estimator_task(obj)
        prep = _order_step(order, X, False)
        blobs = {"prep": dump_skops(prep, what=what), "booster": dump_booster(booster)}
        flavor = "lightgbm"
    return {
        "flavor": flavor,
        "blobs": blobs,
        "features": features.to_dict(),
        "task": task,
        "classes": classes,
        "threshold": None,
        "estimator": type(obj).__name__,
        "lineage": None,
    }


def _estimator_task(est: Any) -> tuple[str, list[Any] | None]:
    classes = _classes_of(est)
    if classes is None or not hasattr(est, "predict_proba"):
        return "regression", None
    return ("binary" if len(classes) == 2 else "multiclass"), classes
