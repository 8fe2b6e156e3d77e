"""One drift review, computed: every view of the review comes from this payload.

:func:`analyze` takes the reference frame and the analysis frame (all observed batches,
labels joined where they arrived) and computes, on one chunking: univariate drift of
every feature, of the model's score and of the target; multivariate drift; estimated
and realized performance with the concept-drift verdict; group rates over time;
money value per chunk; the status of each chunk; the ranked alerts; and the
recommendation. The result is a JSON-ready dict that is stored with the monitor.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from mlops_nb.drift import _univariate
from mlops_nb.drift._chunking import (
    ChunkSpec,
    reference_split,
    small_chunks_warning,
    split,
)
from mlops_nb.drift._performance import CHUNK_COL

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.model import Model

SCORE = "model score"
UNVERIFIED = "unverified: label-free estimate assumes no concept drift"


def _decisions(
    model: Model, proba: np.ndarray, canvas: Any, threshold: float
) -> dict[str, Any]:
    """Which class counts as 'act', and who the model acts on at ``threshold``."""
    import numpy as np

    classes = list(model.classes or [])
    pos = len(classes) - 1
    if canvas is not None:
        match = [
            i
            for i, c in enumerate(classes)
            if c == canvas.positive_class or str(c) == str(canvas.positive_class)
        ]
        pos = match[0] if match else pos
    score = proba[:, pos]
    decided = score >= threshold if len(classes) == 2 else proba.argmax(axis=1) == pos
    if len(classes) == 2:
        labels = np.where(decided, classes[pos], classes[1 - pos])
    else:
        labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return {
        "pos": pos,
        "positive_class": classes[pos],
        "score": score,
        "decided": decided,
        "labels": labels,
        "proba": proba,
    }


def _is_class(y: pd.Series, cls: Any) -> np.ndarray:
    import numpy as np

    v = y.to_numpy(dtype=object)
    return np.array([x == cls or str(x) == str(cls) for x in v], dtype=bool)


def analyze(
    model: Model,
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    options: dict[str, Any],
    *,
    canvas: Any = None,
    keys: tuple[str, str] | None = None,
    reuse: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute the drift review of ``analysis`` against ``reference``, with progress."""
    from mlops_nb.ui._progress import progress

    with progress(4, "drift review") as bar:
        return _analyze(model, reference, analysis, options, canvas=canvas, keys=keys,
                        reuse=reuse, bar=bar)  # fmt: skip


def _analyze(
    model: Model,
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    options: dict[str, Any],
    *,
    canvas: Any = None,
    keys: tuple[str, str] | None = None,
    reuse: dict[str, Any] | None = None,
    bar: Any = None,
) -> dict[str, Any]:
    """Compute the drift review of ``analysis`` against ``reference`` (module doc).

    ``keys`` name the reference's and the analysis's content, so the model's
    outputs are computed once per kernel; ``reuse`` holds sections of an earlier
    review of the same data and chunking (multivariate drift does not depend on
    labels, so it is not computed again when only labels arrived).
    """
    import numpy as np
    import pandas as pd

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    spec = ChunkSpec.from_dict(options["chunk"])
    chunks = split(analysis, spec)
    ref_chunks, ref_note = reference_split(reference, spec)
    notes = [
        text
        for text in (
            small_chunks_warning(reference, spec, ref_chunks),
            small_chunks_warning(reference, spec, chunks, part="analysis"),
        )
        if text
    ]
    target = model.recipe["target"]
    task = model.task
    labels = (
        analysis[target]
        if target in analysis.columns
        else pd.Series(np.nan, index=analysis.index)
    )
    labelled = labels.notna().to_numpy()
    feats = model.recipe["features"]
    kinds = dict.fromkeys(feats["numeric"], "continuous") | dict.fromkeys(
        feats["categorical"], "categorical"
    )

    # -- model outputs ---------------------------------------------------------------
    threshold = float(options.get("decision_threshold") or 0.5)
    ref_key, ana_key = keys or (None, None)
    if task == "regression":
        ref_pred = _outputs(model, reference, ref_key, "predict")
        ana_pred = _outputs(model, analysis, ana_key, "predict")
        ref_score, ana_score = ref_pred.astype(float), ana_pred.astype(float)
        ref_dec = ana_dec = None
    else:
        ref_proba = _outputs(model, reference, ref_key, "predict_proba")
        ana_proba = _outputs(model, analysis, ana_key, "predict_proba")
        ref_dec = _decisions(model, ref_proba, canvas, threshold)
        ana_dec = _decisions(model, ana_proba, canvas, threshold)
        ref_score, ana_score = ref_dec["score"], ana_dec["score"]
    timings["predict"] = time.perf_counter() - t0
    if bar is not None:
        bar.step("predictions")

    # -- univariate drift: features, model score, target -----------------------------
    t = time.perf_counter()
    target_row = f"target ({target})"
    kinds_all = {
        **kinds,
        SCORE: "continuous",
        target_row: "continuous" if task == "regression" else "categorical",
    }
    ref_u = reference[list(kinds)].assign(
        **{SCORE: ref_score, target_row: _as_target(reference[target], task)}
    )
    ana_u = analysis[list(kinds)].assign(
        **{SCORE: ana_score, target_row: _as_target(labels, task)}
    )
    uni = _univariate.run_with_options(
        ref_u, ana_u, kinds_all, ref_chunks, chunks, options
    )
    timings["univariate"] = time.perf_counter() - t
    if bar is not None:
        bar.step("univariate drift")

    # -- multivariate drift ----------------------------------------------------------
    multi = (reuse or {}).get("multivariate")
    if options.get("multivariate") and multi is None:
        t = time.perf_counter()
        from mlops_nb.drift._multivariate import multivariate

        multi = multivariate(
            reference.assign(**{CHUNK_COL: ref_chunks.codes}),
            analysis.assign(**{CHUNK_COL: chunks.codes}),
            numeric=list(feats["numeric"]),
            categorical=list(feats["categorical"]),
            methods=tuple(options["multivariate"]),
        )
        timings["multivariate"] = time.perf_counter() - t

    # -- performance -----------------------------------------------------------------
    t = time.perf_counter()
    estimate_key = None
    if keys is not None and ref_dec is not None:
        positive = repr(ref_dec["positive_class"])
        estimate_key = (str(model.project.path), model.id, *keys, threshold, positive)
    perf = _performance(
        model,
        reference,
        analysis,
        labels,
        chunks,
        ref_chunks,
        options,
        task,
        ref_dec,
        ana_dec,
        ref_score,
        ana_score,
        estimate_key=estimate_key,
    )
    timings["performance"] = time.perf_counter() - t
    if bar is not None:
        bar.step("performance")

    # -- fairness over time ----------------------------------------------------------
    t = time.perf_counter()
    fairness = {}
    if ref_dec is not None and ana_dec is not None:
        from mlops_nb.drift._fairness import fairness_over_time

        ref_actual = _is_class(reference[target], ref_dec["positive_class"])
        ana_actual = _is_class(labels, ana_dec["positive_class"]) & labelled
        for col in options.get("sensitive") or []:
            if col in reference.columns and col in analysis.columns:
                fairness[col] = fairness_over_time(
                    reference[col],
                    ref_chunks.codes,
                    ref_chunks.n,
                    ref_dec["decided"],
                    ref_actual,
                    analysis[col],
                    chunks.codes,
                    chunks.n,
                    ana_dec["decided"],
                    ana_actual,
                    labelled,
                    std=float(options["std"]),
                )
    for col, fair in fairness.items():
        for gap in fair.pop("notes", []):
            shown = [chunks.keys[c] for c in gap["chunks"]]
            notes.append(
                f"{gap['rate']} gap by {col} not computed in {len(shown)} labelled "
                f"chunk(s) ({', '.join(shown[:6])}{' ...' if len(shown) > 6 else ''})"
                f": fewer than two compared groups have a {gap['side']} label there."
            )
    timings["fairness"] = time.perf_counter() - t
    if bar is not None:
        bar.step("fairness")

    value = (
        _value(canvas, perf, ref_dec, reference[target], chunks, labels, ana_dec)
        if ref_dec
        else None
    )
    payload = {
        "model": model.label,
        "task": task,
        "target": target,
        "chunking": spec.describe(),
        "reference_chunks": {
            "n": ref_chunks.n,
            "note": ref_note,
            "sizes": ref_chunks.sizes.tolist(),
        },
        "notes": [*notes, *perf.get("notes", [])],
        "chunks": {
            "keys": chunks.keys,
            "starts": chunks.starts,
            "ends": chunks.ends,
            "sizes": chunks.sizes.tolist(),
            "labelled": np.bincount(
                chunks.codes[labelled], minlength=chunks.n
            ).tolist(),
        },
        "univariate": uni,
        "multivariate": multi,
        "performance": perf,
        "fairness": fairness,
        "value": value,
        "decision": None
        if ref_dec is None
        else {
            "positive_class": _jsonable(ref_dec["positive_class"]),
            "threshold": threshold,
        },
        "rows": {
            "reference": len(reference),
            "analysis": len(analysis),
            "labelled": int(labelled.sum()),
        },
    }
    from mlops_nb.drift._verdict import judge

    payload.update(judge(payload))
    timings["total"] = time.perf_counter() - t0
    payload["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return payload


_OUTPUTS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MAX_OUTPUTS = 6


def _outputs(model: Model, frame: pd.DataFrame, key: str | None, method: str) -> Any:
    """Return ``model.<method>(frame)``, remembered per kernel for stored data."""
    if key is None:
        return getattr(model, method)(frame)
    cache_key = (str(model.project.path), model.id, key, method)
    if cache_key in _OUTPUTS:
        _OUTPUTS.move_to_end(cache_key)
        return _OUTPUTS[cache_key]
    out = getattr(model, method)(frame)
    _OUTPUTS[cache_key] = out
    while len(_OUTPUTS) > _MAX_OUTPUTS:
        _OUTPUTS.popitem(last=False)
    return out


_ESTIMATES: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MAX_ESTIMATES = 4


def _estimate_once(key: tuple[Any, ...] | None, estimate: Any) -> dict[str, Any]:
    """Return ``estimate()``, remembered per kernel under ``key`` (None: always run).

    A label-free estimate reads the model's scores and decisions on the reference
    and the analysis data, never the analysis labels: when only labels arrive (same
    data, chunking, threshold and positive class) it is the same, so the review
    after ``add_targets`` does not fit CBPE again. Each caller gets its own copy.
    """
    import copy

    if key is None:
        return estimate()
    if key not in _ESTIMATES:
        _ESTIMATES[key] = estimate()
        while len(_ESTIMATES) > _MAX_ESTIMATES:
            _ESTIMATES.popitem(last=False)
    _ESTIMATES.move_to_end(key)
    return copy.deepcopy(_ESTIMATES[key])


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _as_target(y: pd.Series, task: str) -> pd.Series:
    """Return the target as drift input: numbers (regression) or text categories."""
    import pandas as pd

    if task == "regression":
        return pd.to_numeric(y, errors="coerce")
    return (
        y.astype(object)
        .where(y.notna())
        .map(lambda v: v if v is None or v != v else str(_num(v)))
    )


def _num(v: Any) -> Any:
    """Turn 1.0 into 1: labels read as floats (missing values) then match int labels."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _performance(
    model: Model,
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    labels: pd.Series,
    chunks: Any,
    ref_chunks: Any,
    options: dict[str, Any],
    task: str,
    ref_dec: Any,
    ana_dec: Any,
    ref_score: Any,
    ana_score: Any,
    estimate_key: tuple[Any, ...] | None = None,
) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from mlops_nb.drift._performance import (
        concept_verdict,
        estimate_cbpe,
        estimate_dle,
        realized,
    )

    target = model.recipe["target"]
    classes = list(model.classes or [])
    if task == "regression":
        metric = "rmse"
        feats = model.features
        ref = model._X(reference, "monitor").assign(
            __pred__=ref_score,
            __y__=pd.to_numeric(reference[target]),
            **{CHUNK_COL: ref_chunks.codes},
        )
        ana = model._X(analysis, "monitor").assign(
            __pred__=ana_score, **{CHUNK_COL: chunks.codes}
        )
        est = estimate_dle(ref, ana, features=feats, metrics=("rmse", "mae"))
        real = realized(
            labels,
            np.column_stack([ana_score]),
            ana_score,
            chunks.codes,
            chunks.n,
            task=task,
            classes=None,
        )
        method = "DLE (direct loss estimation)"
    else:
        metric = "roc_auc"
        ref_proba, ana_proba = ref_dec["proba"], ana_dec["proba"]
        positive = classes[1] if len(classes) == 2 else None

        def frame(proba: Any, dec: Any, codes: Any) -> pd.DataFrame:
            cols = {f"__score_{i}": proba[:, i] for i in range(len(classes))}
            pred = dec["labels"]
            cols["__pred__"] = (
                np.array([p == positive for p in pred], dtype=int)
                if positive is not None
                else np.array([str(p) for p in pred], dtype=object)
            )
            cols[CHUNK_COL] = codes
            return pd.DataFrame(cols)

        ref = frame(ref_proba, ref_dec, ref_chunks.codes)
        ref["__y__"] = (
            _is_class(reference[target], positive).astype(int)
            if positive is not None
            else reference[target].astype(str).to_numpy()
        )
        ana = frame(ana_proba, ana_dec, chunks.codes)
        est = _estimate_once(
            estimate_key,
            lambda: estimate_cbpe(ref, ana, classes=classes, metrics=("roc_auc",)),
        )
        real = realized(
            labels,
            ana_proba,
            ana_dec["labels"],
            chunks.codes,
            chunks.n,
            task=task,
            classes=classes,
            keys=chunks.keys,
            auc_classes=[c for c in classes if _jsonable(c) in est["classes"]],
        )
        method = "CBPE (confidence-based performance estimation)"
    m = est[metric]
    verdict = concept_verdict(
        real[metric],
        m["lower_band"],
        m["upper_band"],
        chunks.keys,
        consecutive=int(options["consecutive"]),
    )
    lower_t, upper_t = m["lower_threshold"][0], m["upper_threshold"][0]
    higher_better = metric != "rmse"
    realized_alert = []
    for r in real[metric]:
        bad = r is not None and (
            (lower_t is not None and r < lower_t)
            if higher_better
            else (upper_t is not None and r > upper_t)
        )
        realized_alert.append(bool(bad))
    estimated_alert = [
        bool(a)
        and (
            (e is not None and lower_t is not None and e < lower_t)
            if higher_better
            else (e is not None and upper_t is not None and e > upper_t)
        )
        for a, e in zip(m["alert"], m["estimated"], strict=True)
    ]
    return {
        "method": method,
        "metric": metric,
        **m,
        "estimated_alert": estimated_alert,
        "realized": real[metric],
        "realized_alert": realized_alert,
        "realized_all": {k: v for k, v in real.items() if k != "labelled"},
        "concept": verdict,
        "confusion": est.get("confusion"),
        "notes": [*est.get("notes", []), *real.get("notes", [])],
        "reference_value": _reference_metric(
            model, reference, ref_score, ref_dec, metric
        ),
    }


def _reference_metric(
    model: Model, reference: pd.DataFrame, score: Any, dec: Any, metric: str
) -> float | None:
    """Compute the metric on the whole reference (realized: it has labels)."""
    import numpy as np
    from sklearn import metrics as m

    y = reference[model.recipe["target"]]
    if metric == "rmse":
        return float(np.sqrt(np.mean((y.astype(float).to_numpy() - score) ** 2)))
    classes = list(model.classes or [])
    if len(classes) != 2:
        return None
    return float(m.roc_auc_score(_is_class(y, classes[1]), dec["proba"][:, 1]))


def _value(
    canvas: Any,
    perf: dict[str, Any],
    ref_dec: Any,
    ref_y: pd.Series,
    chunks: Any,
    labels: pd.Series,
    ana_dec: Any,
) -> dict[str, Any] | None:
    """Price each chunk: value per 1,000 decisions, estimated and realized; at risk."""
    import numpy as np

    if canvas is None or perf.get("confusion") is None:
        return None
    conf = perf["confusion"]
    # CBPE counts the model's second class; the canvas may call the first positive
    flip = ref_dec["pos"] == 0
    est: list[float | None] = []
    for tp, fp, fn, tn in zip(
        conf["tp"], conf["fp"], conf["fn"], conf["tn"], strict=True
    ):
        if None in (tp, fp, fn, tn):
            est.append(None)
            continue
        cells = (tn, fn, fp, tp) if flip else (tp, fp, fn, tn)
        est.append(canvas.value_per_1000(*cells))
    actual_ref = _is_class(ref_y, ref_dec["positive_class"])
    ref_cells = _cells(ref_dec["decided"], actual_ref)
    ref_value = canvas.value_per_1000(*ref_cells)
    has = labels.notna().to_numpy()
    actual = _is_class(labels, ana_dec["positive_class"])
    sizes = np.bincount(chunks.codes, minlength=chunks.n)
    real = []
    for c in range(chunks.n):
        rows = has & (chunks.codes == c)
        real.append(
            canvas.value_per_1000(*_cells(ana_dec["decided"][rows], actual[rows]))
            if rows.sum() and rows.sum() >= 0.5 * sizes[c]
            else None
        )
    from mlops_nb.drift._verdict import value_at_risk

    out = {
        "currency": canvas.currency,
        "canvas_version": canvas.version,
        "reference_per_1000": ref_value,
        "estimated_per_1000": est,
        "realized_per_1000": real,
        # realized value once labels arrived, else the label-free estimate
        "at_risk_basis": ["realized" if r is not None else "estimated" for r in real],
    }
    out["value_at_risk"], out["value_at_risk_total"] = value_at_risk(
        out, [int(n) for n in sizes]
    )
    return out


def _cells(decided: np.ndarray, actual: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int((decided & actual).sum()),
        int((decided & ~actual).sum()),
        int((~decided & actual).sum()),
        int((~decided & ~actual).sum()),
    )
