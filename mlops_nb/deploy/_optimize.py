"""``model.optimize(data)``: build every variant, measure each one, store the table."""

from __future__ import annotations

import functools
import hashlib
import platform
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy import _measure as m
from mlops_nb.deploy._runtime import frame_feeds, make_session, run_session, slice_feeds
from mlops_nb.deploy._xmo import KINDS, Candidate, build
from mlops_nb.errors import UnsupportedFormatError, ValidationError, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.deploy._variants import Variants
    from mlops_nb.model import Model

DOC_KIND = "xmo"
REFERENCE = "ONNX export (reference)"
NATIVE = "native model (Python)"
_SINGLE_ROWS = 64
#: Rows of the batch timed for throughput and predicted in the memory measurement.
BATCH_ROWS = 5000


def _decision(model: Model) -> dict[str, Any] | None:
    """Return the threshold a binary version decides at (None: most likely class)."""
    return model.threshold_info if model.task == "binary" else None


def _labels(
    model: Model, proba: np.ndarray, decision: dict[str, Any] | None
) -> np.ndarray:
    """Decided labels: at the model's threshold (binary), else the most likely class."""
    import numpy as np

    from mlops_nb.model._threshold import decide

    if decision is not None:
        return decide(proba, model.classes or [], decision)
    return np.asarray(model.classes, dtype=object)[np.asarray(proba).argmax(axis=1)]


def _value_setup(
    model: Model, y: Any, decision: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Price decisions with the canvas, at the model's threshold (binary only)."""
    import numpy as np

    from mlops_nb.business._canvas import current_canvas
    from mlops_nb.model._threshold import class_index

    canvas = current_canvas(model.project)
    if canvas is None or decision is None or y is None:
        return None
    k = class_index(model.classes or [], canvas.positive_class)
    if k < 0:
        return None
    positive_class = (model.classes or [])[k]
    return {
        "canvas": canvas,
        "positive_class": positive_class,
        "positive": np.asarray(y, dtype=object) == positive_class,
    }


def _value(setup: dict[str, Any] | None, labels: np.ndarray | None) -> float | None:
    """Value per 1,000 decisions of the decided ``labels``, priced by the canvas."""
    import numpy as np

    if setup is None or labels is None:
        return None
    act = np.asarray(labels, dtype=object) == setup["positive_class"]
    pos = setup["positive"]
    counts = {
        "tp": int((act & pos).sum()),
        "fp": int((act & ~pos).sum()),
        "fn": int((~act & pos).sum()),
        "tn": int((~act & ~pos).sum()),
    }
    return float(setup["canvas"].value_per_1000(**counts))


def _training(
    model: Model, max_rows: int, seed: int
) -> tuple[pd.DataFrame, Any] | None:
    d = model.lineage["data"][0]
    frame = model.project.asset(d["name"], d["version"]).frame
    target = model.recipe["target"]
    frame = frame[frame[target].notna()]
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return model._X(frame, "optimize"), frame[target]


def optimize(
    model: Model,
    data: DataAsset,
    *,
    kinds: tuple[str, ...] | list[str] = KINDS,
    energy: bool = True,
    memory: bool = True,
    country_iso_code: str = "FRA",
    max_rows: int = 20_000,
    latency_seconds: float = 0.15,
    tolerance: float = 1e-5,
    seed: int = 0,
) -> Variants:
    """Build smaller, faster or cheaper variants of a model version; measure them all.

    Parameters
    ----------
    model : Model
        The version to optimize (it must export to ONNX).
    data : DataAsset
        Labelled rows the model did not learn from (e.g. the test split): quality and
        money value are measured on them, latency and throughput run on them.
    kinds : sequence of str
        Which variants to build, among ``"graph"`` (onnxruntime optimization levels),
        ``"pruned"``, ``"refit"``, ``"distilled"``, ``"float16"`` and ``"int8"``.
    energy : bool
        Measure energy per 1,000 predictions with CodeCarbon's offline tracker
        (starting it takes about two seconds).
    memory : bool
        Measure each variant's peak memory in a fresh process (about 0.3 s each).
    country_iso_code : str
        CodeCarbon needs a country for its offline carbon intensity (energy does not
        depend on it).
    max_rows : int
        At most this many rows of ``data`` (and of the training data for refits and
        distillation) are used; a seeded sample beyond.
    latency_seconds : float
        How long each variant's single-row latency loop runs (at least 50 calls).
    tolerance : float
        Parity tolerance of the ONNX export (see :func:`export_onnx`).
    seed : int
        Seeds samples and the refitted/distilled estimators.

    Returns
    -------
    Variants
        A table and Pareto chart of every variant, stored with the model version;
        ``variants.choose(...)`` picks one by the 4 P's.
    """
    from mlops_nb.data import DataAsset
    from mlops_nb.deploy._export import export_onnx, store_onnx_files
    from mlops_nb.deploy._variants import Variants

    what = f"{model.label}.optimize"
    if not isinstance(data, DataAsset):
        msg = f"{what}: data must be a DataAsset (register it with proj.data first)."
        raise ValidationError(msg)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        msg = (
            f"{what}(kinds={list(kinds)!r}): unknown {listing(unknown)}; "
            f"use {listing(KINDS)}."
        )
        raise ValidationError(msg)
    export = export_onnx(model, check=data, tolerance=tolerance, seed=seed)
    reference, schema = export.onnx_bytes, export.schema
    frame = data.frame
    target = model.recipe["target"]
    if target in frame.columns:
        frame = frame[frame[target].notna()]
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    if not len(frame):
        msg = f"{what}: {data.label} has no rows to measure on."
        raise ValidationError(msg)
    X = model._X(frame, "optimize")
    y = frame[target] if target in frame.columns else None
    feeds = frame_feeds(X, schema)
    rows = min(_SINGLE_ROWS, len(X))
    singles = [slice_feeds(feeds, slice(i, i + 1)) for i in range(rows)]
    n_batch = min(len(X), BATCH_ROWS)
    batch = slice_feeds(feeds, slice(0, n_batch))
    candidates = [
        Candidate(
            REFERENCE, "reference", reference, note="the model version's ONNX export"
        )
    ]
    candidates += build(
        model,
        reference,
        _training(model, max_rows, seed),
        kinds=tuple(kinds),
        seed=seed,
    )
    meter = m.EnergyMeter(country_iso_code) if energy else None
    results: list[dict[str, Any]] = []
    ref_out: np.ndarray | None = None
    decision = _decision(model)
    value_setup = _value_setup(model, y, decision)
    try:
        for c in candidates:
            row: dict[str, Any] = {
                "name": c.name,
                "kind": c.kind,
                "status": c.status,
                "level": c.level,
                "note": c.note,
                "digest": None,
                "size_bytes": len(c.data) if c.data else None,
            }
            results.append(row)
            if c.data is None:
                continue
            try:
                session = make_session(
                    c.data, what=f"{model.label} variant {c.name!r}", level=c.level
                )
            except UnsupportedFormatError as err:
                why = str(err).split("could not load the model: ", 1)[-1]
                row.update(
                    status="failed",
                    note=f"{c.note}; onnxruntime refused to load it: {why}"[:300],
                )
                continue
            labels, proba = run_session(session, feeds, model.task)
            out = labels.astype(float) if model.task == "regression" else proba
            if proba is not None:  # decided as the model decides, not the raw graph
                labels = _labels(model, proba, decision)
            if ref_out is None:
                ref_out = out
            row.update(m.quality(y, labels, proba, ref_out, model.task, model.classes))
            row["value_per_1000"] = _value(
                value_setup, labels if proba is not None else None
            )
            run_batch = functools.partial(session.run, None, batch)
            row["throughput_rows_s"] = m.throughput(run_batch, n_batch, repeats=2)
            loop = m.LatencyLoop(
                functools.partial(_run_one, session, singles),
                rows,
                min_seconds=latency_seconds,
            )
            row["energy_wh_per_1000"], row["calls"] = (
                meter.measure(c.name, loop) if meter else (None, loop())
            )
            row["latency_p50_ms"], row["latency_p99_ms"] = m.percentiles_ms(
                loop.samples
            )
            row["digest"] = hashlib.sha256(c.data).hexdigest()  # stored below
        results.append(
            _native_row(
                model, X, y, ref_out, (decision, value_setup), meter, latency_seconds
            )
        )
    finally:
        if meter is not None:
            meter.close()
    if memory:
        measured = [r for r in results if r["digest"] and r["status"] == "measured"]
        data_of = {c.name: c.data for c in candidates if c.data is not None}
        jobs = [(data_of[r["name"]], r["level"]) for r in measured]
        for r, peak in zip(measured, m.peak_memory_mb(jobs, batch), strict=True):
            r["peak_memory_mb"] = peak
    _ratios(results, model.task, value_setup is not None)
    files = {
        r["digest"]: c.data
        for r, c in zip(results, candidates, strict=False)
        if r["digest"] and c.data is not None
    }
    if files:  # content addresses are the SHA-256 of the bytes, as computed above
        store_onnx_files(
            model,
            list(files.values()),
            action="optimize",
            data=data.label,
            variants=[r["name"] for r in results if r["digest"]],
        )
    payload = {
        "model": model.label,
        "data": {
            "label": data.label,
            "content_hash": data.content_hash,
            "rows": len(X),
        },
        "task": model.task,
        "currency": value_setup["canvas"].currency if value_setup else None,
        "threshold": decision["value"] if decision else None,
        "decision": None if model.task == "regression" else _describe(decision),
        "canvas_version": value_setup["canvas"].version if value_setup else None,
        "energy_method": meter.method if meter else "not measured (energy=False)",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "parity": export.parity,
        "schema": schema,
        "variants": results,
    }
    doc = model.project._save_document(
        DOC_KIND,
        f"{model.name}@{model.version}",
        payload,
        note=f"measured on {data.label}",
    )
    return Variants._from_doc(model, doc)


def _describe(decision: dict[str, Any] | None) -> str:
    from mlops_nb.model._threshold import describe

    return describe(decision)


def _run_one(session: Any, singles: list[dict[str, Any]], i: int) -> Any:
    return session.run(None, singles[i])


def _native_row(
    model: Model,
    X: pd.DataFrame,
    y: Any,
    ref_out: np.ndarray | None,
    setups: tuple[dict[str, Any] | None, dict[str, Any] | None],
    meter: m.EnergyMeter | None,
    latency_seconds: float,
) -> dict[str, Any]:
    import time

    decision, value_setup = setups
    predictor = model._predictor()
    t0 = time.perf_counter()
    if model.task == "regression":
        labels, proba = predictor.predict(X), None
    else:
        proba = predictor.proba(X)
        labels = _labels(model, proba, decision)
    batch_seconds = time.perf_counter() - t0
    row: dict[str, Any] = {
        "name": NATIVE,
        "kind": "native",
        "status": "measured",
        "level": None,
        "digest": None,
        "note": f"{model.flavor} model in Python (not an ONNX file: cannot be bundled)",
        "size_bytes": sum(  # through the store: a team project's blobs are in S3
            len(model.project._store.read_blob(d)) for d in model.artifacts.values()
        ),
    }
    row.update(m.quality(y, labels, proba, ref_out, model.task, model.classes))
    row["value_per_1000"] = _value(value_setup, None if proba is None else labels)
    row["throughput_rows_s"] = len(X) / batch_seconds if batch_seconds > 0 else None
    rows = [X.iloc[[i]] for i in range(min(_SINGLE_ROWS, len(X)))]
    one = predictor.predict if model.task == "regression" else predictor.proba
    loop = m.LatencyLoop(
        lambda i: one(rows[i]),
        len(rows),
        min_seconds=latency_seconds,
        min_calls=20,
        max_calls=500,
    )
    row["energy_wh_per_1000"], row["calls"] = (
        meter.measure(NATIVE, loop) if meter else (None, loop())
    )
    row["latency_p50_ms"], row["latency_p99_ms"] = m.percentiles_ms(loop.samples)
    return row


def _ratios(rows: list[dict[str, Any]], task: str, priced: bool) -> None:
    """Set ``value_ratio``: value (or accuracy, or 1/RMSE) over the reference's."""
    ref = rows[0]
    for r in rows:
        ratio, basis = None, None
        if r.get("status") == "measured":
            if (
                priced
                and r.get("value_per_1000") is not None
                and (ref.get("value_per_1000") or 0) > 0
            ):
                ratio, basis = (
                    r["value_per_1000"] / ref["value_per_1000"],
                    "money value",
                )
            elif (
                task != "regression"
                and r.get("accuracy") is not None
                and ref.get("accuracy")
            ):
                ratio, basis = r["accuracy"] / ref["accuracy"], "accuracy"
            elif task == "regression" and r.get("rmse") and ref.get("rmse") is not None:
                ratio, basis = ref["rmse"] / r["rmse"], "1 / RMSE"
        r["value_ratio"], r["value_basis"] = ratio, basis
