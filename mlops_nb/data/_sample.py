"""Sampling the rows worth labelling: random, stratified, or where a model is unsure.

:meth:`DataAsset.sample` returns the picked rows as a new version whose lineage names
the pool (and the model, for uncertainty sampling) and whose ``params["rows"]`` are the
rows' positions in the pool. See :mod:`mlops_nb.data._annotate` for labelling them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError, did_you_mean, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._asset import DataAsset

STRATEGIES = ("random", "stratified", "uncertain")


def sample(
    asset: DataAsset,
    n: int,
    *,
    seed: int = 0,
    strategy: Literal["random", "stratified", "uncertain"] = "random",
    model: Any = None,
    by: str | None = None,
    threshold: float | None = None,
    name: str | None = None,
) -> DataAsset:
    """Pick ``n`` rows worth labelling, as a new version with lineage.

    Parameters
    ----------
    asset : DataAsset
        The pool to pick from. When its target column has missing values, only those
        rows (the unlabelled ones) are candidates.
    n : int
        Rows to pick (all candidates when fewer).
    seed : int
        Seeds the choice and breaks ties.
    strategy : {"random", "stratified", "uncertain"}
        ``"random"``; ``"stratified"``: shares of ``by``'s values kept, every value
        present at least once; ``"uncertain"``: the rows whose predicted probability
        is closest to ``threshold`` (multiclass: the smallest margin between the two
        likeliest classes), most uncertain first.
    model : Model, optional
        Needed by ``"uncertain"``; recorded so :meth:`annotate` shows its predictions.
    by : str, optional
        The column of ``"stratified"``; default the target if labelled, else the
        first sensitive column.
    threshold : float, optional
        Decision threshold of ``"uncertain"`` for a binary model (default 0.5).
    name : str, optional
        Asset name of the sample; default ``"<name>-sample"``.

    Returns
    -------
    DataAsset
        The picked rows, in labelling order; ``params["rows"]`` are their positions
        in ``asset``.

    Raises
    ------
    ValidationError
        For an unknown strategy, a bad ``n`` or ``threshold``, or ``"uncertain"``
        without a model.
    """
    import numpy as np

    what = f"DataAsset.sample on {asset.label}"
    if strategy not in STRATEGIES:
        msg = (f"{what}: strategy={strategy!r} is not known; "
               f"use one of {listing(STRATEGIES)}."
               f"{did_you_mean(str(strategy), STRATEGIES)}")  # fmt: skip
        raise ValidationError(msg)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        msg = f"{what}: n={n!r} must be a positive whole number of rows, e.g. 50."
        raise ValidationError(msg)
    frame = asset._frame_nocopy()
    target = asset.schema.target
    pool = np.arange(len(frame))
    if target is not None and frame[target].isna().any():
        pool = np.flatnonzero(frame[target].isna().to_numpy())
    rng = np.random.default_rng(seed)
    n = min(int(n), len(pool))
    params: dict[str, Any] = {"strategy": strategy, "n": n, "seed": seed}
    if strategy == "random":
        rows = rng.choice(pool, n, replace=False)
    elif strategy == "stratified":
        by = by or _default_by(asset, frame, what)
        asset._check_column("sample", "by", by)
        rows = _stratified(frame[by].iloc[pool], pool, n, rng)
        params["by"] = by
    else:
        rows, info = _uncertain(asset, frame, pool, n, model, threshold, rng, what)
        params.update(info)
    params["rows"] = [int(r) for r in rows]
    note = f"{n} rows to label, picked by {strategy} sampling" + (
        f" with {params['model_label']}" if "model_label" in params else ""
    )
    return asset._derive(
        frame.iloc[rows], name or f"{asset.name}-sample", "sample", params, note
    )


def _default_by(asset: DataAsset, frame: pd.DataFrame, what: str) -> str:
    s = asset.schema
    if s.target and frame[s.target].notna().all():
        return s.target
    if s.sensitive:
        return s.sensitive[0]
    msg = (
        f"{what}: strategy='stratified' needs by='<column>' "
        "(no labelled target or sensitive column)."
    )
    raise ValidationError(msg)


def _stratified(
    values: pd.Series, pool: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Proportional allocation (largest remainder), at least one row per value."""
    import numpy as np

    from mlops_nb.data._learn import as_text

    keys = as_text(values).to_numpy()
    groups, counts = np.unique(keys, return_counts=True)
    quota = counts / counts.sum() * n
    alloc = np.floor(quota).astype(int)
    if n >= len(groups):
        alloc = np.maximum(alloc, 1)
    while alloc.sum() > n:  # the minimum of one took rows from the largest groups
        alloc[np.argmax(alloc - quota)] -= 1
    order = np.argsort(-(quota - alloc), kind="stable")
    for i in order[: n - alloc.sum()]:
        alloc[i] += 1
    picked = [rng.choice(pool[keys == g], min(a, c), replace=False)
              for g, a, c in zip(groups, alloc, counts, strict=True) if a]  # fmt: skip
    return rng.permutation(np.concatenate(picked)) if picked else np.array([], int)


def _uncertain(asset: DataAsset, frame: pd.DataFrame, pool: np.ndarray, n: int,
               model: Any, threshold: float | None, rng: np.random.Generator,
               what: str) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    import numpy as np
    import pandas as pd

    if model is None or not hasattr(model, "predict_proba"):
        msg = (f"{what}: strategy='uncertain' needs model=<a trained Model> "
               f"(got {model!r}), e.g. asset.sample(50, strategy='uncertain', "
               "model=proj.model('employment')).")  # fmt: skip
        raise ValidationError(msg)
    proba = np.asarray(model.predict_proba(frame.iloc[pool]))
    info: dict[str, Any] = {
        "model_label": getattr(model, "label", type(model).__name__)
    }
    if hasattr(model, "name") and hasattr(model, "version"):
        info["model"] = [model.name, int(model.version)]
    if proba.shape[1] == 2:
        t = 0.5 if threshold is None else float(threshold)
        if not 0 < t < 1:
            msg = f"{what}: threshold={threshold!r} must be between 0 and 1."
            raise ValidationError(msg)
        uncertainty = np.abs(proba[:, 1] - t)
        info["threshold"] = t
    else:
        top = np.sort(proba, axis=1)
        uncertainty = top[:, -1] - top[:, -2]
    order = np.lexsort((rng.random(len(pool)), uncertainty))
    # Survey-like data repeat whole profiles; identical rows get identical predictions
    # and would fill the batch with copies of one question. One row per profile first.
    s = asset.schema
    profile = [c for c in frame.columns if c not in (s.id, s.time, s.target)]
    hashes = pd.util.hash_pandas_object(
        frame.iloc[pool[order]][profile], index=False
    ).to_numpy()
    first = np.zeros(len(order), bool)
    first[np.unique(hashes, return_index=True)[1]] = True
    order = np.concatenate([order[first], order[~first]])[:n]
    info["distinct_profiles"] = int(min(first.sum(), n))
    return pool[order], info
