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
- ``onnx`` (:mod:`mlops_nb.interop._onnx_import`): the ONNX file itself, stored as
  it is and answering through onnxruntime; preferred to a pickled flavor;
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
    MlopsNbError,
    SchemaError,
    UnsafeFormatError,
    UnsupportedFormatError,
    ValidationError,
    listing,
)
from mlops_nb.model._persist import IMPORT_TRUSTABLE

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

#: LightGBM's scikit-learn classes, trusted only when importing an MLflow skops file.
LIGHTGBM_TYPES = IMPORT_TRUSTABLE
_PICKLED = ("pickle", "cloudpickle")


def _refuse_pickle(uri: str, flavor: str, fmt: str) -> None:
    msg = (
        f"from_mlflow({uri!r}): the {flavor} flavor holds a {fmt} file. Loading it "
        "runs whatever code the file contains, so mlops_nb refuses it. If you trust "
        "who wrote it, pass trust_pickle=True (the model is then re-saved in safe "
        "formats); better, log it again with "
        "serialization_format='skops'."
    )
    raise UnsafeFormatError(msg, [{"flavor": flavor, "format": fmt}])


def _read(folder: Path, rel: Any, uri: str) -> bytes:
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        msg = f"from_mlflow({uri!r}): MLmodel names a file as {rel!r}, not a path."
        raise UnsupportedFormatError(msg)
    path = (folder / rel).resolve()
    inside = path.is_relative_to(folder.resolve())
    if not inside or not path.exists() or path.is_dir():  # a FIFO: read_hashed says
        msg = (
            f"from_mlflow({uri!r}): MLmodel names {rel!r}, which is not in the folder."
        )
        raise UnsupportedFormatError(msg)
    from mlops_nb.interop._import_checks import read_hashed

    return read_hashed(path, uri)  # as it was when the folder was hashed


def _native(flavors: dict[str, Any]) -> str | None:
    """Return ``"safe"`` or ``"pickle"`` for the sklearn/lightgbm flavor, else None."""
    for flavor in ("sklearn", "lightgbm"):
        conf = flavors.get(flavor)
        if conf is None:
            continue
        if flavor == "lightgbm" and conf.get("model_class") == "lightgbm.basic.Booster":
            return "safe"
        fmt = conf.get("serialization_format", "cloudpickle")
        return "pickle" if fmt in _PICKLED else "safe"
    return None


def _estimator(
    folder: Path, uri: str, flavors: dict[str, Any], flavor: str, trust_pickle: bool
) -> tuple[Any, str]:
    """Load the estimator of a sklearn/lightgbm flavor: skops, or a trusted pickle."""
    import importlib

    from mlops_nb.model._persist import load_skops

    conf = flavors[flavor]
    key = "pickled_model" if flavor == "sklearn" else "data"
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt in _PICKLED:
        if trust_pickle is not True:
            _refuse_pickle(uri, flavor, fmt)
        # MLflow's loader must stay in the folder, and get what it unpickles
        head = _read(folder, conf.get(key), uri)[:2]
        if head not in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
            msg = (
                f"from_mlflow({uri!r}): MLmodel says {conf[key]} is a {fmt} file, but "
                "its bytes are no pickle; nothing was loaded."
            )
            raise UnsupportedFormatError(msg)
        from mlops_nb.interop._import_checks import checked_copy

        try:
            module = importlib.import_module(f"mlflow.{flavor}")
            # MLflow's loader reads files itself: a copy of the checked bytes, never
            # the folder (a writer could swap the pickle or MLmodel after the checks)
            with tempfile.TemporaryDirectory() as private:
                copy = checked_copy(Path(private), uri)
                return module.load_model(str(copy)), fmt
        except MlopsNbError:
            raise
        except Exception as err:
            msg = f"from_mlflow({uri!r}): MLflow could not load the {fmt} file: {err}"
            raise UnsupportedFormatError(msg) from err
    data = _read(folder, conf.get(key), uri)
    also = LIGHTGBM_TYPES if flavor == "lightgbm" else ()
    if also:
        from mlops_nb.interop._import_checks import check_lightgbm_skops

        check_lightgbm_skops(data, artifact=f"{uri} ({conf[key]})")
    from mlops_nb.interop._import_checks import check_trees

    est = load_skops(data, artifact=f"{uri} ({conf[key]})", also_trust=also)
    check_trees(est, artifact=f"{uri} ({conf[key]})")
    return est, fmt


def _load(folder: Path, mlmodel: Any, uri: str, trust_pickle: bool) -> dict[str, Any]:
    """Return ``kind`` (ours / estimator / booster), the object(s) and the flavor."""
    from mlops_nb.interop._mlflow_export import LOADER_MODULE

    flavors = mlmodel.flavors
    pyfunc = flavors.get("python_function", {})
    if pyfunc.get("loader_module") == LOADER_MODULE:
        return {"kind": "ours", "flavor": "python_function (mlops_nb)"}
    if "onnx" in flavors and _native(flavors) != "safe":
        # the ONNX file is the model: preferred to a pickled flavor, trusted or not
        data = _read(folder, flavors["onnx"].get("data", "model.onnx"), uri)
        return {"kind": "onnx", "object": data, "flavor": "onnx"}
    if "sklearn" in flavors:
        est, fmt = _estimator(folder, uri, flavors, "sklearn", trust_pickle)
        return {"kind": "estimator", "object": est, "flavor": f"sklearn ({fmt})"}
    if "lightgbm" in flavors:
        conf = flavors["lightgbm"]
        if conf.get("model_class") == "lightgbm.basic.Booster":
            from mlops_nb.model._persist import load_booster

            data = _read(folder, conf.get("data"), uri)
            booster = load_booster(data, artifact=f"{uri} ({conf['data']})")
            return {"kind": "booster", "object": booster, "flavor": "lightgbm (text)"}
        est, fmt = _estimator(folder, uri, flavors, "lightgbm", trust_pickle)
        return {"kind": "lgbm_sklearn", "object": est, "flavor": f"lightgbm ({fmt})"}
    found = listing(sorted(flavors)) if flavors else "none"
    msg = (
        f"from_mlflow({uri!r}): mlops_nb imports the sklearn, lightgbm and onnx "
        f"flavors and MLflow models it wrote itself; this model has flavor(s) {found}. "
        "Log it again with mlflow.sklearn, mlflow.lightgbm or mlflow.onnx."
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
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        from mlops_nb.interop._import_checks import hashed_folder, read_mlmodel
        from mlops_nb.interop._mlflow_uris import local_copy

        folder = local_copy(uri, registry, tmp)
        # links out refused before reading; every read then checked against the hashes
        with hashed_folder(folder, uri) as files:
            mlmodel = read_mlmodel(folder, uri)
            name = validate_name(
                name or _default_name(mlmodel), what="from_mlflow(name=)"
            )
            loaded = _load(folder, mlmodel, uri, trust_pickle)
            if loaded["kind"] == "ours":
                built = _from_ours(folder, mlmodel, uri)
            elif loaded["kind"] == "onnx":
                from mlops_nb.interop._onnx_import import from_onnx

                built = from_onnx(loaded["object"], data, uri)
            else:
                built = _from_object(loaded, mlmodel, data, uri)
    from mlops_nb.store._urls import mask_url

    source = {
        "uri": mask_url(uri),  # shown in views, cards, lineage: no password
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


def _default_name(mlmodel: Any) -> str:
    """Return the name an mlops_nb export records, else ``mlflow-import``."""
    found: Any = mlmodel.metadata
    for key in ("mlops_nb", "model", "name"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, str) and found else "mlflow-import"


def _from_ours(folder: Path, mlmodel: Any, uri: str) -> dict[str, Any]:
    """Read a directory mlops_nb wrote: its files as they are, checked."""
    rel = mlmodel.flavors["python_function"].get("data")
    _read(folder, f"{rel}/mlops_nb_model.json", uri)  # the data folder stays inside
    try:
        return _ours_files(folder / rel, mlmodel, uri)
    except MlopsNbError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        msg = (
            f"from_mlflow({uri!r}): mlops_nb_model.json is not what mlops_nb writes "
            f"({type(err).__name__}: {err}); nothing imported."
        )
        raise UnsupportedFormatError(msg) from err


def _ours_files(data_dir: Path, mlmodel: Any, uri: str) -> dict[str, Any]:
    from mlops_nb.model._persist import sniff

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
    _check_ours(meta, blobs, uri)
    _check_ours_content(blobs, uri)
    meta_all = (mlmodel.metadata or {}).get("mlops_nb", {})
    if not isinstance(meta_all, dict):
        meta_all = {}
    return {
        "flavor": meta["flavor"],
        "blobs": blobs,
        "features": meta["features"],
        "task": meta["task"],
        "classes": meta["classes"],
        "threshold": meta.get("threshold"),
        "estimator": str(meta_all.get("estimator", "imported"))[:200],
        "lineage": meta_all.get("data"),
    }


def _check_ours_content(blobs: dict[str, bytes], uri: str) -> None:
    """Check the files as any import's: trees in bounds, LightGBM text strict."""
    from mlops_nb.interop._import_checks import check_trees
    from mlops_nb.model._lgb_text import check_model_text
    from mlops_nb.model._persist import load_skops

    for key, raw in blobs.items():
        what = f"{uri} ({key})"
        if key == "booster":
            check_model_text(raw, artifact=what)
        else:
            check_trees(load_skops(raw, artifact=what), artifact=what)


def _check_ours(meta: dict[str, Any], blobs: dict[str, bytes], uri: str) -> None:
    """Refuse metadata that is not shaped as mlops_nb writes it (named)."""
    need = {"sklearn": {"pipeline"}, "lightgbm": {"prep", "booster"}}
    feats = meta.get("features")
    threshold = meta.get("threshold")
    problems = []
    if set(blobs) != need.get(meta.get("flavor"), {None}):
        problems.append(f"flavor {meta.get('flavor')!r} with files {sorted(blobs)}")
    if meta.get("task") not in ("binary", "multiclass", "regression"):
        problems.append(f"task {meta.get('task')!r}")
    if not isinstance(feats, dict) or not all(
        isinstance(feats.get(k), list) and all(isinstance(c, str) for c in feats[k])
        for k in ("numeric", "categorical")
    ):
        problems.append("features (numeric and categorical lists of names)")
    if meta.get("classes") is not None and not isinstance(meta["classes"], list):
        problems.append("classes")
    if threshold is not None and not (
        isinstance(threshold, dict)
        and isinstance(threshold.get("value"), (int, float))
        and "positive_class" in threshold
    ):
        problems.append("threshold")
    if problems:
        msg = (
            f"from_mlflow({uri!r}): mlops_nb_model.json is not what mlops_nb writes: "
            f"{'; '.join(problems)}. Nothing imported."
        )
        raise UnsupportedFormatError(msg)


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
