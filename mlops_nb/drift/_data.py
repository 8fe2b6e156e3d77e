"""The data a monitor works on: schema checks, the analysis stream, labels by id."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import EmptyDataError, SchemaError, ValidationError, listing

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.model import Model

BATCH_COL = "__mnb_batch__"


def check_batch(
    frame: Any,
    reference: DataAsset,
    model: Model,
    options: dict[str, Any],
    *,
    what: str,
) -> None:
    """Refuse a batch that lacks a column the monitor needs or changed a column's kind.

    Needed: the model's features and the chunking column. A column is *retyped* when
    its inferred kind (numeric, categorical, ...) differs from the reference's.

    Raises
    ------
    SchemaError
        Naming every problem at once, in ``failure_cases``.
    """
    import pandas as pd

    from mlops_nb.data import infer_schema

    if not isinstance(frame, pd.DataFrame):
        msg = f"{what}: expected a DataFrame or DataAsset, got {type(frame).__name__}."
        raise ValidationError(msg)
    if len(frame) == 0:
        msg = f"{what}: the batch has no rows; nothing was stored."
        raise EmptyDataError(msg)
    chunk = options["chunk"]
    needed = list(model.features)
    if chunk["kind"] == "column":
        needed.append(chunk["value"])
    elif chunk["kind"] == "period":
        needed.append(chunk["time_column"])
    problems = [
        {"column": c, "problem": "missing", "expected": reference.schema.kind(c)}
        for c in dict.fromkeys(needed)
        if c not in frame.columns
    ]
    present = [c for c in dict.fromkeys(needed) if c in frame.columns]
    inferred = infer_schema(frame[present], kinds=None)
    for c in present:
        want, got = reference.schema.kind(c), inferred.kind(c)
        if want != got and not _same_family(want, got, frame[c]):
            problems.append(
                {
                    "column": c,
                    "problem": f"retyped: {got} ({frame[c].dtype})",
                    "expected": f"{want} ({reference.schema[c].dtype})",
                }
            )
    if problems:
        lines = "; ".join(
            f"{p['column']!r} {p['problem']}, expected {p['expected']}"
            for p in problems
        )
        msg = (
            f"{what}: the batch does not match {reference.label}, the monitor's "
            f"reference: {lines}. "
            "Nothing was stored. Fix the columns (names and types as in the "
            "reference) and observe again."
        )
        raise SchemaError(msg, problems)


def check_targets(frame: Any, on: str | None, target: str, *, what: str) -> None:
    """Refuse labels without the id or target column, or with repeated ids."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        msg = f"{what}: expected a DataFrame or DataAsset, got {type(frame).__name__}."
        raise ValidationError(msg)
    if on is None:
        msg = (
            f"{what}: the reference has no id column; say which column joins "
            "labels: on='id'."
        )
        raise ValidationError(msg)
    missing = [c for c in (on, target) if c not in frame.columns]
    if missing:
        msg = (
            f"{what}: missing column(s) {listing(missing)}. Labels need the id "
            f"column {on!r} and the "
            f"target {target!r}; columns given: {listing(frame.columns)}."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    dup = frame[on][frame[on].duplicated()]
    if len(dup):
        msg = (
            f"{what}: {len(dup):,} repeated id(s) in {on!r} (e.g. {dup.iloc[0]!r}); "
            "give one label per row. "
            "Nothing was stored."
        )
        raise SchemaError(
            msg, [{"column": on, "problem": "repeated ids", "count": len(dup)}]
        )


def _same_family(want: str, got: str, values: pd.Series) -> bool:
    """Kinds a small batch may infer differently from the reference without a retype.

    Labels, flags and ids are all labels; an integer column whose values happen to be
    distinct in a batch (24 rows of ``hour`` 0..23) is inferred as an id there, but is
    still the reference's number.
    """
    import pandas as pd

    labels = ("categorical", "boolean", "id")
    if want in labels and got in labels:
        return True
    return {want, got} == {"numeric", "id"} and pd.api.types.is_numeric_dtype(
        values.dtype
    )


def labels_by_id(mon: Monitor) -> pd.Series | None:
    """Return the newest label of every id over all label batches (later ones win)."""
    import pandas as pd

    target = mon.model.recipe["target"]
    parts = []
    for entry, asset in zip(mon.state["targets"], mon.targets, strict=True):
        f = asset.frame
        parts.append(pd.Series(f[target].to_numpy(), index=f[entry["on"]].to_numpy()))
    if not parts:
        return None
    merged = pd.concat(parts)
    return merged[~merged.index.duplicated(keep="last")]


def frames(mon: Monitor) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the reference frame and the analysis frame (batches in order, labels)."""
    import pandas as pd

    reference = mon.reference.frame
    batches = mon.batches
    if not batches:
        msg = (
            f"Monitor {mon.name}: no data observed yet; call mon.observe(frame) first."
        )
        raise ValidationError(msg)
    analysis = pd.concat(
        [b.frame.assign(**{BATCH_COL: i}) for i, b in enumerate(batches)],
        ignore_index=True,
    )
    target = mon.model.recipe["target"]
    labels = labels_by_id(mon)
    if labels is not None:
        on = mon.state["targets"][-1]["on"]
        joined = analysis[on].map(labels)
        if target in analysis.columns:
            joined = joined.where(joined.notna(), analysis[target])
        analysis[target] = joined
    return reference, analysis


def labelled_frame(
    mon: Monitor, *, last_chunks: int | None, what: str
) -> tuple[pd.DataFrame, str]:
    """Labelled analysis rows (of the last ``last_chunks`` chunks that have labels)."""
    import numpy as np

    from mlops_nb.drift._chunking import ChunkSpec, split

    _, analysis = frames(mon)
    target = mon.model.recipe["target"]
    if target not in analysis.columns or analysis[target].notna().sum() == 0:
        msg = (
            f"{what}: no observed row has a label yet; add them with "
            "mon.add_targets(frame)."
        )
        raise ValidationError(msg)
    chunks = split(analysis, ChunkSpec.from_dict(mon.options["chunk"]))
    has = analysis[target].notna().to_numpy()
    with_labels = np.unique(chunks.codes[has])
    keep = with_labels if last_chunks is None else with_labels[-int(last_chunks) :]
    rows = has & np.isin(chunks.codes, keep)
    columns = [c for c in mon.reference.schema.names if c in analysis.columns]
    described = ", ".join(chunks.keys[i] for i in keep)
    out = analysis.loc[rows, columns].reset_index(drop=True)
    dtype = mon.reference.schema[target].dtype
    # labels joined next to missing ones became floats: give them the reference's type
    with contextlib.suppress(TypeError, ValueError):
        out[target] = out[target].astype(dtype)
    return out, described
