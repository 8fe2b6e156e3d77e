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

    CBPE calibrates each class's score on the reference's labels, so it can only
    estimate over the classes the reference holds. A class with no reference row is
    left out: the other classes' scores are rescaled to sum to 1, the estimate
    covers them, and ``notes`` says so. With fewer than two classes in the
    reference nothing can be estimated: every value is None, and ``notes`` says why.

    Returns
    -------
    dict
        Per metric: estimated value, sampling error, confidence band and thresholds
        per analysis chunk; the estimated confusion counts (binary only);
        ``classes`` (those the estimate covers) and ``notes``.
    """
    from mlops_nb._offline import import_nannyml

    nml = import_nannyml()
    binary = len(classes) == 2
    seen = set(ref["__y__"].dropna().tolist())
    if binary:
        present = [c for i, c in enumerate(classes) if i in seen]
    else:
        present = [c for c in classes if str(c) in {str(v) for v in seen}]
    absent = [c for c in classes if c not in present]
    k = int(ana[CHUNK_COL].nunique())
    if len(present) < 2:
        names = ", ".join(repr(c) for c in metrics)
        note = (
            f"CBPE cannot estimate {names}: the reference holds only "
            f"{_classes_text(present) or 'no labelled row'}"
            f"{' (no row of ' + _classes_text(absent) + ')' if absent else ''}; "
            "calibrating scores needs at least two classes in the reference. "
            "Anchor the monitor to a reference with every class "
            "(mon.approve_rebaseline(...))."
        )
        return _no_estimate(metrics, k, binary, present, note)
    notes = []
    if absent:
        notes.append(
            f"No reference row of class {_classes_text(absent)}: CBPE cannot "
            "calibrate its score, so the estimated ROC AUC covers classes "
            f"{_classes_text(present)} (their scores rescaled to sum to 1). Anchor "
            "the monitor to a reference that holds every class to estimate it."
        )
        ref, ana = _restrict(ref, classes, present), _restrict(ana, classes, present)
        classes = present
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
    if binary and not absent:
        out["confusion"] = {
            cell: _rows(result, name)["estimated"]
            for cell, name in (
                ("tp", "true_positive"),
                ("fp", "false_positive"),
                ("fn", "false_negative"),
                ("tn", "true_negative"),
            )
        }
    out["classes"] = [_plain(c) for c in classes]
    out["notes"] = notes
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _classes_text(classes: list[Any]) -> str:
    return ", ".join(repr(_plain(c)) for c in classes)


def _no_estimate(
    metrics: tuple[str, ...], k: int, binary: bool, present: list[Any], note: str
) -> dict[str, Any]:
    """Return the result of a CBPE that could not be fitted: None everywhere."""
    keys = ("estimated", "sampling_error", "upper_band", "lower_band")
    keys += ("upper_threshold", "lower_threshold")
    out: dict[str, Any] = {
        m: {**{key: [None] * k for key in keys}, "alert": [False] * k} for m in metrics
    }
    if binary:
        out["confusion"] = None
    out["classes"] = [_plain(c) for c in present]
    out["notes"] = [note]
    return out


def _restrict(frame: pd.DataFrame, classes: list[Any], keep: list[Any]) -> pd.DataFrame:
    """Keep the score columns of ``keep``, rescaled to sum to 1, and re-predict.

    With two classes left the frame becomes binary: ``__score_1`` is the second
    kept class's score, ``__pred__`` and ``__y__`` are 0/1.
    """
    import numpy as np

    idx = [classes.index(c) for c in keep]
    scores = frame[[f"__score_{i}" for i in idx]].to_numpy(dtype=float)
    total = scores.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(total > 0, scores / total, 1.0 / len(idx))
    out = frame.drop(columns=[c for c in frame.columns if c.startswith("__score_")])
    for j in range(len(idx)):
        out[f"__score_{j}"] = scores[:, j]
    best = scores.argmax(axis=1)
    if len(keep) == 2:
        out["__pred__"] = best.astype(int)
        if "__y__" in out.columns:
            out["__y__"] = (out["__y__"].astype(str) == str(keep[1])).astype(int)
    else:
        out["__pred__"] = np.array([str(keep[j]) for j in best], dtype=object)
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
    keys: list[str] | None = None,
    auc_classes: list[Any] | None = None,
) -> dict[str, Any]:
    """Metrics per chunk on the rows that have a label (None when too few are labelled).

    ROC AUC needs both sides of a class: binary, a chunk whose labels are all one
    class has none; multiclass, it is the mean of the one-vs-rest AUCs of the
    classes in ``auc_classes`` (default: all) that the chunk's labels hold, so a
    class absent from a chunk leaves that chunk's mean without it. ``notes`` says
    which chunk lacks what.

    Returns
    -------
    dict
        ``labelled`` (rows with a label per chunk), one list per metric and
        ``notes`` (sentences on what could not be computed).
    """
    import numpy as np

    has = y.notna().to_numpy()
    sizes = np.bincount(codes, minlength=k)
    labelled = np.bincount(codes[has], minlength=k)
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    out: dict[str, Any] = {
        "labelled": labelled.tolist(),
        **{n: [None] * k for n in names},
    }
    keys = keys or [f"chunk {c}" for c in range(k)]
    lacking: dict[str, list[str]] = {}  # sentence -> chunks
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
        auc, why = _chunk_metrics(
            out, c, yt, scores[rows], pred[rows], list(classes or []), auc_classes
        )
        out["roc_auc"][c] = auc
        for sentence in why:
            lacking.setdefault(sentence, []).append(keys[c])
    out["notes"] = [
        text.replace("{chunks}", _chunk_list(ch)) for text, ch in lacking.items()
    ]
    return out


def _chunk_metrics(
    out: dict[str, Any],
    c: int,
    yt: np.ndarray,
    scores: np.ndarray,
    pred: np.ndarray,
    classes: list[Any],
    auc_classes: list[Any] | None,
) -> tuple[float | None, list[str]]:
    """Fill accuracy and F1 of chunk ``c``; return its ROC AUC and what it lacks."""
    import numpy as np
    from sklearn import metrics as m

    yt_obj = np.array([_same_type(v, classes) for v in yt], dtype=object)
    pd_obj = pred.astype(object)
    out["accuracy"][c] = float(np.mean(yt_obj == pd_obj))
    why = []
    unknown = sorted({str(v) for v in yt_obj if not any(v is k for k in classes)})
    if unknown:
        why.append(
            f"Labels of class(es) {', '.join(map(repr, unknown))}, which the model "
            "never learnt, in {chunks}: counted as errors, left out of ROC AUC."
        )
    if len(classes) == 2:
        pos = yt_obj == classes[1]
        out["f1"][c] = float(m.f1_score(pos, pd_obj == classes[1], zero_division=0))
        if 0 < pos.sum() < len(pos):
            return float(m.roc_auc_score(pos, scores[:, 1])), why
        only = classes[1] if pos.all() else classes[0]
        why.append(
            "Realized ROC AUC not defined in {chunks}: every label is class "
            f"{_plain(only)!r} (ROC AUC needs both classes)."
        )
        return None, why
    out["f1"][c] = float(
        m.f1_score(
            yt_obj.astype(str), pd_obj.astype(str), average="macro", zero_division=0
        )
    )
    wanted = classes if auc_classes is None else auc_classes
    aucs, missing = [], []
    for cls in wanted:
        pos = np.array([v is cls for v in yt_obj], dtype=bool)
        if 0 < pos.sum() < len(pos):
            aucs.append(m.roc_auc_score(pos, scores[:, classes.index(cls)]))
        else:
            missing.append(cls)
    if missing:
        why.append(
            f"No label of class {_classes_text(missing)} in {{chunks}}: realized ROC "
            "AUC there is the mean over the other classes' one-vs-rest AUCs."
            if len(aucs) >= 2
            else "Realized ROC AUC not computed in {chunks}: the labels hold fewer "
            f"than two of classes {_classes_text(wanted)}."
        )
    return (float(np.mean(aucs)) if len(aucs) >= 2 else None), why


def _chunk_list(keys: list[str]) -> str:
    shown = ", ".join(keys[:6]) + (
        f" and {len(keys) - 6} more" if len(keys) > 6 else ""
    )
    return f"{len(keys)} chunk(s) ({shown})"


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
