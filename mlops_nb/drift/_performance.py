"""Performance without labels (nannyml CBPE / DLE), realized performance, concept drift.

CBPE (classification) estimates a metric from the model's calibrated scores alone;
DLE (regression) learns to predict the model's loss from the features. Both explain
a change of performance that comes from a change of the *inputs* (covariate shift).
Neither can see a change in how inputs relate to the target (concept drift): a chunk
without labels is therefore reported as unverified. When labels arrive, realized
performance that leaves the estimate's confidence band in consecutive chunks is the
concept-drift verdict: the part of the change the estimate does not explain.

nannyml gets our chunks through a small :class:`nannyml.chunk.Chunker` that groups
rows by a precomputed chunk number, so every view of the review shares one chunking.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CHUNK_COL = "__mnb_chunk__"
#: a chunk counts as labelled when at least this share of its rows has a label
MIN_LABELLED_SHARE = 0.5
CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "f1")
REGRESSION_METRICS = ("rmse", "mae")


def chunker_by_code() -> Any:
    """Return a nannyml Chunker that keeps the chunks of column ``__mnb_chunk__``."""
    from mlops_nb._offline import import_nannyml

    import_nannyml()  # first: no telemetry, no .env
    from nannyml.chunk import Chunk, Chunker

    class _ByCode(Chunker):  # type: ignore[misc, valid-type]
        def _split(self, data: pd.DataFrame) -> list[Any]:
            import numpy as np

            codes = data[CHUNK_COL].to_numpy()
            chunks = []
            for c in np.unique(codes):
                rows = data[codes == c]
                chunks.append(Chunk(key=f"chunk {int(c)}", data=rows))
            return chunks

    return _ByCode()


def _rows(result: Any, metric: str) -> dict[str, list[Any]]:
    frame = result.filter(period="analysis").to_df()
    out = {}
    for key, col in (
        ("estimated", "value"),
        ("sampling_error", "sampling_error"),
        ("upper_band", "upper_confidence_boundary"),
        ("lower_band", "lower_confidence_boundary"),
        ("upper_threshold", "upper_threshold"),
        ("lower_threshold", "lower_threshold"),
        ("alert", "alert"),
    ):
        if (metric, col) in frame.columns:
            out[key] = [
                None
                if v is None or v != v
                else (bool(v) if col == "alert" else float(v))
                for v in frame[(metric, col)].tolist()
            ]
    return out


def estimate_cbpe(
    ref: pd.DataFrame,
    ana: pd.DataFrame,
    *,
    classes: list[Any],
    metrics: tuple[str, ...] = ("roc_auc",),
) -> dict[str, Any]:
    """Run CBPE on frames of ``__score_<i>``, ``__pred__``, ``__y__`` and chunk codes.

    Returns
    -------
    dict
        Per metric: estimated value, sampling error, confidence band and thresholds
        per analysis chunk; and the estimated confusion counts (binary only).
    """
    from mlops_nb._offline import import_nannyml

    nml = import_nannyml()
    binary = len(classes) == 2
    proba: Any = (
        "__score_1"
        if binary
        else {str(c): f"__score_{i}" for i, c in enumerate(classes)}
    )
    wanted = list(metrics) + (["confusion_matrix"] if binary else [])
    with warnings.catch_warnings():  # nannyml warns about few chunks and calibration
        warnings.simplefilter("ignore")
        est = nml.CBPE(
            y_pred_proba=proba,
            y_pred="__pred__",
            y_true="__y__",
            metrics=wanted,
            problem_type="classification_binary"
            if binary
            else "classification_multiclass",
            chunker=chunker_by_code(),
            normalize_confusion_matrix=None,
        )
        est.fit(ref)
        result = est.estimate(ana.drop(columns=["__y__"], errors="ignore"))
    out: dict[str, Any] = {m: _rows(result, m) for m in metrics}
    if binary:
        out["confusion"] = {
            cell: _rows(result, name)["estimated"]
            for cell, name in (
                ("tp", "true_positive"),
                ("fp", "false_positive"),
                ("fn", "false_negative"),
                ("tn", "true_negative"),
            )
        }
    return out


def estimate_dle(
    ref: pd.DataFrame,
    ana: pd.DataFrame,
    *,
    features: list[str],
    metrics: tuple[str, ...] = ("rmse",),
) -> dict[str, Any]:
    """Run DLE on frames with the features, ``__pred__``, ``__y__`` and chunk codes.

    nannyml 0.13's DLE casts categorical features to object, imputes them and writes
    the result back into the frame, where pandas 3 infers its Arrow-backed string
    dtype again; the next step (``.values.reshape``) then fails, even for object or
    categorical input. Pandas' string inference is therefore switched off while DLE
    runs, and string columns are handed over as object columns.
    """
    import pandas as pd

    from mlops_nb._offline import import_nannyml

    nml = import_nannyml()
    ref, ana = _no_arrow_strings(ref), _no_arrow_strings(ana)
    with warnings.catch_warnings():
        # nannyml's notes, and pandas' notice that this option goes away in pandas 4
        warnings.simplefilter("ignore")
        with pd.option_context("future.infer_string", False):
            est = nml.DLE(
                feature_column_names=features,
                y_pred="__pred__",
                y_true="__y__",
                metrics=list(metrics),
                chunker=chunker_by_code(),
                hyperparameters={"verbosity": -1},
            )
            est.fit(ref)
            result = est.estimate(ana.drop(columns=["__y__"], errors="ignore"))
    return {m: _rows(result, m) for m in metrics}


def _no_arrow_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns instead of pandas' string dtypes (DLE cannot reshape those)."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].astype(object)
    return out


def realized(
    y: pd.Series,
    scores: np.ndarray,
    pred: np.ndarray,
    codes: np.ndarray,
    k: int,
    *,
    task: str,
    classes: list[Any] | None,
) -> dict[str, Any]:
    """Metrics per chunk on the rows that have a label (None when too few are labelled).

    Returns
    -------
    dict
        ``labelled`` (rows with a label per chunk) and one list per metric.
    """
    import numpy as np
    from sklearn import metrics as m

    has = y.notna().to_numpy()
    sizes = np.bincount(codes, minlength=k)
    labelled = np.bincount(codes[has], minlength=k)
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    out: dict[str, Any] = {
        "labelled": labelled.tolist(),
        **{n: [None] * k for n in names},
    }
    yv = y.to_numpy()
    for c in range(k):
        rows = has & (codes == c)
        if labelled[c] == 0 or labelled[c] < MIN_LABELLED_SHARE * sizes[c]:
            continue
        yt = yv[rows]
        if task == "regression":
            yt = yt.astype(float)
            out["rmse"][c] = float(np.sqrt(np.mean((yt - pred[rows]) ** 2)))
            out["mae"][c] = float(np.mean(np.abs(yt - pred[rows])))
            continue
        classes = list(classes or [])
        yt_obj = np.array([_same_type(v, classes) for v in yt], dtype=object)
        pd_obj = pred[rows].astype(object)
        out["accuracy"][c] = float(np.mean(yt_obj == pd_obj))
        if len(classes) == 2:
            pos = yt_obj == classes[1]
            out["f1"][c] = float(m.f1_score(pos, pd_obj == classes[1], zero_division=0))
            if 0 < pos.sum() < len(pos):
                out["roc_auc"][c] = float(m.roc_auc_score(pos, scores[rows, 1]))
        else:
            out["f1"][c] = float(
                m.f1_score(
                    yt_obj.astype(str),
                    pd_obj.astype(str),
                    average="macro",
                    zero_division=0,
                )
            )
            if set(yt_obj.tolist()) == set(classes or []):
                out["roc_auc"][c] = float(
                    m.roc_auc_score(
                        yt_obj.astype(str),
                        scores[rows],
                        multi_class="ovr",
                        labels=[str(x) for x in classes],
                    )
                )
    return out


def _same_type(value: Any, classes: list[Any] | None) -> Any:
    """Map a label read from data (e.g. 1.0) to the model's class (e.g. 1)."""
    for c in classes or []:
        if value == c or str(value) == str(c):
            return c
    return value


def concept_verdict(
    realized_values: list[float | None],
    lower: list[float | None],
    upper: list[float | None],
    keys: list[str],
    *,
    consecutive: int = 2,
) -> dict[str, Any]:
    """Realized outside the estimate's band in ``consecutive`` labelled chunks in a row.

    Returns
    -------
    dict
        ``outside`` per chunk (None when unlabelled), ``chunks`` flagged as concept
        drift, and a ``verdict`` sentence.
    """
    outside: list[bool | None] = []
    for r, lo, hi in zip(realized_values, lower, upper, strict=True):
        if r is None or lo is None or hi is None:
            outside.append(None)
        else:
            outside.append(bool(r < lo or r > hi))
    flagged: list[int] = []
    run: list[int] = []
    for i, o in enumerate(outside):
        if o:
            run.append(i)
            if len(run) >= consecutive:
                flagged.extend(j for j in run if j not in flagged)
        elif o is False:
            run = []
    n_labelled = sum(o is not None for o in outside)
    if not n_labelled:
        verdict = "not assessed: no chunk has labels yet"
    elif flagged:
        verdict = (
            "concept drift: realized performance left the label-free estimate's "
            "band in "
            f"{len(flagged)} consecutive chunk(s) "
            f"({', '.join(keys[i] for i in flagged)}); the "
            "change of the inputs does not explain it"
        )
    else:
        verdict = (
            "no concept drift: realized performance stays within the estimate's "
            "band (or leaves it "
            f"for fewer than {consecutive} chunks in a row) in {n_labelled} "
            "labelled chunk(s)"
        )
    return {
        "outside": outside,
        "chunks": flagged,
        "verdict": verdict,
        "consecutive": consecutive,
    }
