"""Store an imported MLflow model as a new model version (safe files only)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError, listing

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model


def _blobs(built: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    """Return the files with media types; LightGBM gets its numpy forms too."""
    from mlops_nb.model._persist import load_skops
    from mlops_nb.model._prep import Features, TreePrep
    from mlops_nb.model._train import LGB_TEXT, SKOPS, TREE_PREP, TREES
    from mlops_nb.model._trees import TreeTable

    raw = built["blobs"]
    if "onnx" in raw:  # an imported ONNX model: the file itself
        from mlops_nb.deploy._export import ONNX_MEDIA_TYPE

        return {"onnx": (raw["onnx"], ONNX_MEDIA_TYPE)}
    if built["flavor"] == "sklearn":
        return {"pipeline": (raw["pipeline"], SKOPS)}
    out = {"prep": (raw["prep"], SKOPS), "booster": (raw["booster"], LGB_TEXT)}
    prep = load_skops(raw["prep"], artifact="imported preprocessing")
    tree_prep = TreePrep.from_fitted(prep, Features.from_dict(built["features"]))
    if tree_prep is not None:
        out["tree_prep"] = (tree_prep.to_json(), TREE_PREP)
    trees = TreeTable.from_model_text(raw["booster"].decode("utf-8"))
    if trees is not None:
        out["trees"] = (trees.to_bytes(), TREES)
    return out


def _measure(
    built: dict[str, Any], blobs: dict[str, tuple[bytes, str]], data: DataAsset
) -> dict[str, Any]:
    """Metrics of the imported model on ``data``, from the very bytes to be stored."""
    import hashlib

    from mlops_nb.model._metrics import classification_metrics, regression_metrics
    from mlops_nb.model._model import Predictor, _parsers
    from mlops_nb.model._prep import Features, prepare_X

    task, classes = built["task"], built["classes"]
    frame = data.frame
    target = data.schema.target
    labelled = frame[target].notna()
    y = frame.loc[labelled, target]
    y = y.infer_objects() if y.dtype == object else y
    if classes is not None:
        unknown = sorted({str(v) for v in y.unique()} - {str(c) for c in classes})
        if unknown:
            msg = (
                f"from_mlflow(data={data.label}): the target {target!r} holds "
                f"{listing(unknown)}, which the model does not predict (its classes: "
                f"{listing(classes)}). Pass data with the model's labels."
            )
            raise ValidationError(msg)
    digests = {k: hashlib.sha256(b).hexdigest() for k, (b, _) in blobs.items()}
    objects = _parsers({k: b for k, (b, _) in blobs.items()}, digests)
    predictor = Predictor(built["flavor"], objects, task, classes)
    X = prepare_X(
        frame[labelled],
        Features.from_dict(built["features"]),
        what=f"from_mlflow(data={data.label})",
    )
    if task == "regression":
        metrics = regression_metrics(y, predictor.predict(X))
    else:
        metrics = classification_metrics(y, predictor.proba(X), classes or [])
    return {
        "scheme": f"measured at import on {data.label}",
        "rows_fitted": 0,
        "metrics": metrics,
        "rows": int(labelled.sum()),
    }


def store_imported(
    project: Project,
    name: str,
    data: DataAsset,
    built: dict[str, Any],
    source: dict[str, Any],
    duration: float,
) -> Model:
    """Insert the imported model as the next version of ``name``; audited."""
    from mlops_nb.model._train import environment
    from mlops_nb.store._db import now
    from mlops_nb.store._q_models import insert_model_version, next_model_version

    store = project._store
    blobs = _blobs(built)
    validation = _measure(built, blobs, data)
    artifacts = {
        key: store.put_blob(b, media_type=mt) for key, (b, mt) in blobs.items()
    }
    recipe: dict[str, Any] = {
        "estimator": built["estimator"],
        "family": built["flavor"] if built["flavor"] == "lightgbm" else "imported",
        "params": {},
        "user_params": {},
        "features": built["features"],
        "target": data.schema.target,
        "task": built["task"],
        "classes": built["classes"],
        "sensitive": list(data.schema.sensitive),
        "feature_recipe": None,
        "n_rows": validation["rows"],
        "seed": None,
        "imported": {
            "from": "mlflow",
            "uri": source["uri"],
            "flavor": source["flavor"],
        },
    }
    if built.get("threshold"):
        t = built["threshold"]
        recipe["threshold"] = {
            "value": float(t["value"]),
            "positive_class": t["positive_class"],
            "source": "imported",
            "reason": f"imported with the model from {source['uri']} "
            f"({t.get('source') or 'recorded'} threshold)",
        }
    lineage = {
        "data": [
            {
                "name": data.name,
                "version": data.version,
                "content_hash": data.content_hash,
            }
        ],
        "parent_model": None,
        "source": source,
        **({"source_data": built["lineage"]} if built.get("lineage") else {}),
    }
    metrics = {"validation": validation, "duration_s": round(duration, 3)}
    with store.write() as conn:
        version = next_model_version(conn, name)
        for key, (b, mt) in blobs.items():
            store.record_blob(conn, artifacts[key], len(b), mt, data=b)
        insert_model_version(
            conn,
            {
                "name": name,
                "version": version,
                "stage": "candidate",
                "flavor": built["flavor"],
                "artifacts": json.dumps(artifacts),
                "recipe": json.dumps(recipe, default=str),
                "metrics": json.dumps(metrics),
                "lineage": json.dumps(lineage, default=str),
                "environment": json.dumps(environment()),
                "created_at": now(),
                "created_by": project._user(),
            },
        )
        store.audit(
            conn,
            "import mlflow",
            f"model:{name}@{version}",
            uri=source["uri"],
            flavor=source["flavor"],
            trusted_pickle=source["trusted_pickle"],
            data=data.label,
        )
    return project.model(name, version=version)
