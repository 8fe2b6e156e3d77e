"""MLflow ``python_function`` loader for a model version written by mlops_nb.

This file is copied into the ``code/`` folder of every MLflow model directory that
:func:`mlops_nb.interop.to_mlflow` writes (as ``mlops_nb_pyfunc.py``), and MLflow
imports it by that name: it must stand alone, needing only numpy, pandas, skops,
scikit-learn and (for LightGBM versions) lightgbm, never mlops_nb itself.

It loads only safe formats, and never a pickle: every file named in
``mlops_nb_model.json`` is checked against its SHA-256 first; skops files are
loaded with an explicit list of trusted types, LightGBM boosters from LightGBM's
text format.

``predict`` returns a pandas DataFrame. Classification: one column ``proba_<class>``
per class (in the model's class order), then ``decision`` (a binary model decides
its positive class when that probability is at least the model's threshold, which is
in the metadata; a multiclass one the most likely class). Regression: a single
column ``prediction``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: The metadata file inside the data folder.
META = "mlops_nb_model.json"
#: What mlops_nb writes for a missing category (as in ``mlops_nb.model._prep``).
MISSING = "(missing)"
#: Types outside skops' default trust that mlops_nb writes (mlops_nb.model._persist).
TRUSTED_TYPES = (
    "collections.OrderedDict",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "interpret.glassbox._ebm._ebm.ExplainableBoostingClassifier",
    "interpret.glassbox._ebm._ebm.ExplainableBoostingRegressor",
)
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x1f\x8b")


def read_checked(folder: str, name: str, sha256: str) -> bytes:
    """Read ``folder/name`` and check its SHA-256; pickles are refused."""
    if Path(name).name != name:
        msg = f"{META}: file name {name!r} must be a plain name inside {folder}."
        raise ValueError(msg)
    data = (Path(folder) / name).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        msg = (
            f"{name} changed since mlops_nb wrote it (sha256 {found}, expected "
            f"{sha256}); refusing to load it."
        )
        raise ValueError(msg)
    if data[:2] in _PICKLE_MAGIC:
        msg = f"{name} is a pickle; this loader never loads pickles."
        raise ValueError(msg)
    return data


def load_files(folder: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (metadata, loaded objects) of the data folder."""
    meta = json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    objects: dict[str, Any] = {}
    for key, entry in meta["files"].items():
        data = read_checked(folder, entry["file"], entry["sha256"])
        if entry["format"] == "skops":
            import skops.io as sio

            objects[key] = sio.loads(data, trusted=list(TRUSTED_TYPES))
        elif entry["format"] == "lightgbm":
            import lightgbm as lgb

            objects[key] = lgb.Booster(model_str=data.decode("utf-8"))
        else:
            msg = f"{entry['file']}: unknown format {entry['format']!r}."
            raise ValueError(msg)
    if "prep" in objects:
        objects["prep"].set_output(transform="default")
    return meta, objects


def prepare(frame: Any, numeric: list[str], categorical: list[str]) -> Any:
    """Select and type the input columns as mlops_nb does: floats, and strings."""
    import numpy as np
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        need = numeric + categorical
        msg = f"missing input column(s) {missing}; the model reads {need}"
        raise ValueError(msg)
    out: dict[str, Any] = {}
    for name in numeric:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            col = pd.to_numeric(col, errors="raise")
        out[name] = np.asarray(col.astype("float64").to_numpy(), dtype=np.float64)
    for name in categorical:
        col = frame[name]
        out[name] = (
            col.astype(object)
            .where(col.notna(), MISSING)
            .astype(str)
            .to_numpy(dtype=object)
        )
    return pd.DataFrame(out, index=frame.index)


class MlopsNbPyfunc:
    """The object ``mlflow.pyfunc.load_model`` wraps."""

    def __init__(self, folder: str):
        self.meta, self.objects = load_files(folder)

    def proba_or_values(self, model_input: Any) -> Any:
        """Class probabilities (n, k) or regression values (n,)."""
        import numpy as np

        meta = self.meta
        X = prepare(
            model_input, meta["features"]["numeric"], meta["features"]["categorical"]
        )
        regression = meta["task"] == "regression"
        if meta["flavor"] == "sklearn":
            pipe = self.objects["pipeline"]
            return pipe.predict(X) if regression else pipe.predict_proba(X)
        p = self.objects["booster"].predict(self.objects["prep"].transform(X))
        if regression:
            return p
        return np.column_stack([1 - p, p]) if p.ndim == 1 else p

    def predict(self, model_input: Any, params: Any = None) -> Any:
        """Return ``proba_<class>`` columns and ``decision`` (or ``prediction``)."""
        import numpy as np
        import pandas as pd

        meta = self.meta
        index = getattr(model_input, "index", None)
        out = np.asarray(self.proba_or_values(model_input), dtype=np.float64)
        if meta["task"] == "regression":
            return pd.DataFrame({"prediction": out}, index=index)
        classes = meta["classes"]
        frame = pd.DataFrame(
            {f"proba_{c}": out[:, i] for i, c in enumerate(classes)}, index=index
        )
        threshold = meta.get("threshold")
        if threshold is not None and len(classes) == 2:
            k = [str(c) for c in classes].index(str(threshold["positive_class"]))
            chosen = np.where(out[:, k] >= threshold["value"], k, 1 - k)
        else:
            chosen = out.argmax(axis=1)
        frame["decision"] = np.asarray(classes, dtype=object)[chosen]
        return frame


def _load_pyfunc(data_path: str) -> MlopsNbPyfunc:
    """Entry point MLflow calls with the flavor's data folder."""
    return MlopsNbPyfunc(data_path)
