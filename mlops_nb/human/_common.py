"""What the Human Centered Ops modules share: groups, the decision, stored reports.

A *group* is a value of a sensitive column (``"SEX=2"``) or a combination of values of
several (``"SEX=2, RAC1P=6"``, an intersection). Values are read the way the model's
preprocessing reads categorical inputs (strings, missing values as ``"(missing)"``), so
a group found at fitting time is the same group at prediction time.

The *selected* class is the class whose prediction counts as the decision to act: the
value canvas's positive class when the project has a canvas and it is a class of the
model (for the employment canvas, 0: "not employed", the people contacted for the
programme), otherwise the model's second class.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, ValidationError, did_you_mean, listing
from mlops_nb.model._prep import MISSING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

#: groups with fewer rows are flagged, kept out of disparity summaries and pooled when
#: thresholds are fitted: their rates are too noisy (a 20-row group's rate has a 95 %
#: interval about +-0.2 wide)
MIN_GROUP_SIZE = 30
OTHER = "(other groups)"


def require_binary(model: Model, what: str) -> None:
    """Raise unless ``model`` is a binary classifier."""
    if model.task != "binary":
        msg = (
            f"{what}: {model.label} is a {model.task} model; fairness reviews and "
            "mitigation in mlops_nb cover binary classifiers (one decision: act or "
            "not)."
        )
        raise ValidationError(msg)


def require_asset(data: Any, what: str, *, labelled: str | None = None) -> DataAsset:
    """Return ``data`` if it is a DataAsset (with column ``labelled``), else raise."""
    from mlops_nb.data import DataAsset

    if not isinstance(data, DataAsset):
        msg = (
            f"{what}: data must be a DataAsset, got {type(data).__name__}. Register "
            "it first: asset = proj.data('name', frame, target=..., sensitive=[...])."
        )
        raise ValidationError(msg)
    if labelled is not None and labelled not in data.schema.names:
        msg = (
            f"{what}: {data.label} has no {labelled!r} column; this review compares "
            "decisions with the true labels. Use labelled data (e.g. the test split)."
        )
        raise SchemaError(msg)
    return data


def sensitive_columns(
    data: DataAsset, sensitive: str | list[str] | None, what: str
) -> list[str]:
    """Return the sensitive columns to review: ``sensitive``, else the asset's."""
    cols = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    if not cols:
        cols = list(data.sensitive)
    if not cols:
        msg = (
            f"{what}: {data.label} has no sensitive columns. Register the data with "
            "sensitive=['SEX', ...] or pass sensitive=[...]."
        )
        raise SchemaError(msg)
    missing = [c for c in cols if c not in data.schema.names]
    if missing:
        hint = did_you_mean(missing[0], data.schema.names)
        msg = (
            f"{what}: sensitive column(s) {listing(missing)} not in {data.label}. "
            f"Columns: {listing(data.schema.names)}.{hint}"
        )
        raise SchemaError(msg)
    return cols


def as_text(column: pd.Series) -> pd.Series:
    """Return a column as the model reads categories: strings, ``(missing)``."""
    return column.astype(object).where(column.notna(), MISSING).astype(str)


def group_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One label per row: ``"SEX=2"`` or ``"SEX=2, RAC1P=6"``."""
    import numpy as np

    parts = [(c + "=") + as_text(frame[c]).to_numpy(dtype=object) for c in columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return np.asarray(out, dtype=object)


def selected_class(model: Model, pos_label: Any, what: str) -> tuple[Any, str]:
    """Return the class whose prediction is the decision to act, and why."""
    from mlops_nb.business._canvas import current_canvas

    classes = model.classes or []

    def match(value: Any) -> Any:
        for c in classes:
            if c == value or str(c) == str(value):
                return c
        return None

    if pos_label is not None:
        found = match(pos_label)
        if found is None:
            msg = (
                f"{what}: pos_label={pos_label!r} is not a class of {model.label}; "
                f"classes: {listing(classes)}."
            )
            raise ValidationError(msg)
        return found, "given"
    canvas = current_canvas(model.project)
    if canvas is not None and match(canvas.positive_class) is not None:
        return match(
            canvas.positive_class
        ), f"the value canvas (v{canvas.version}) acts on it"
    return classes[-1], "the model's second class (no value canvas to say otherwise)"


def labelled_frame(data: DataAsset, target: str) -> pd.DataFrame:
    """Return the rows of ``data`` with a label."""
    frame = data.frame
    return frame[frame[target].notna()]


def stored_reports(model: Model, prefix: str) -> list[dict[str, Any]]:
    """Return the reports of ``model`` whose kind starts with ``prefix``."""
    from mlops_nb.store._q_reports import model_reports

    rows = model_reports(model.project._store, model.id, prefix)
    return [
        {"kind": r["kind"], "payload": json.loads(r["payload"]), "at": r["created_at"]}
        for r in rows
    ]


def jsonable(value: Any) -> Any:
    """Round-trip through JSON (numpy scalars to numbers, NaN kept as None)."""
    import math

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
            return clean(v.tolist())  # numpy arrays and scalars
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.loads(json.dumps(clean(value), default=str))
