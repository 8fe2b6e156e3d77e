"""Fairness over time: group rates per chunk from vectorised counts.

For each sensitive column and chunk: the selection rate of each group (the share of
rows the model decides positively for; it needs no labels) and, on labelled rows,
each group's true and false positive rates. All counts come from one
``numpy.bincount`` over ``chunk * n_groups + group``, which gives the values of
fairlearn's ``MetricFrame`` (``selection_rate``, ``true_positive_rate``,
``false_positive_rate`` by group) per chunk, in milliseconds instead of seconds.

The disparity of a chunk is the largest minus the smallest rate among the groups
that hold at least :data:`MIN_GROUP_SHARE` of the reference rows (smaller groups are
shown, but their rates are too noisy to alert on). Its band is the mean plus or minus
three standard deviations of the disparities of the reference chunks; a disparity
above the band is an alert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_GROUP_SHARE = 0.02


def group_counts(
    groups: np.ndarray,
    n_groups: int,
    codes: np.ndarray,
    k: int,
    decided: np.ndarray,
    actual: np.ndarray | None = None,
    labelled: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Count per chunk and group: ``n``, ``selected`` and with labels ``tp fp fn tn``.

    Parameters
    ----------
    groups : ndarray of int
        The group of each row, 0..n_groups-1 (-1: missing, left out).
    codes : ndarray of int
        The chunk of each row, 0..k-1.
    decided : ndarray of bool
        The model decided positively for the row.
    actual, labelled : ndarray of bool, optional
        The row is truly positive; the row has a label.

    Returns
    -------
    dict
        Arrays of shape ``(k, n_groups)``.
    """
    import numpy as np

    ok = groups >= 0
    cell = codes * n_groups + groups
    size = k * n_groups

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cell[mask & ok], minlength=size).reshape(k, n_groups)

    out = {"n": count(np.ones(len(groups), bool)), "selected": count(decided)}
    if actual is not None and labelled is not None:
        out["tp"] = count(labelled & decided & actual)
        out["fp"] = count(labelled & decided & ~actual)
        out["fn"] = count(labelled & ~decided & actual)
        out["tn"] = count(labelled & ~decided & ~actual)
    return out


def rates(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return selection rates, and TPR / FPR when labels were counted (NaN if empty)."""
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"selection_rate": counts["selected"] / counts["n"]}
        if "tp" in counts:
            out["tpr"] = counts["tp"] / (counts["tp"] + counts["fn"])
            out["fpr"] = counts["fp"] / (counts["fp"] + counts["tn"])
    return out


def _disparity(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Return the largest minus the smallest rate of the kept groups, per chunk."""
    import numpy as np

    sub = np.where(np.isfinite(values[:, keep]), values[:, keep], np.nan)
    finite = np.isfinite(sub).sum(axis=1)
    hi = np.max(np.where(np.isfinite(sub), sub, -np.inf), axis=1)
    lo = np.min(np.where(np.isfinite(sub), sub, np.inf), axis=1)
    return np.where(finite >= 2, hi - lo, np.nan)


def fairness_over_time(
    ref_groups: pd.Series,
    ref_codes: np.ndarray,
    ref_k: int,
    ref_decided: np.ndarray,
    ref_actual: np.ndarray,
    groups: pd.Series,
    codes: np.ndarray,
    k: int,
    decided: np.ndarray,
    actual: np.ndarray,
    labelled: np.ndarray,
    *,
    std: float = 3.0,
) -> dict[str, Any]:
    """Compute group rates per chunk, their disparities and bands from the reference.

    Returns
    -------
    dict
        JSON-ready: ``groups``, ``rows`` per chunk and group, per rate the values,
        the disparity per chunk, its band and alerts.
    """
    import numpy as np
    import pandas as pd

    ref_codes_g, uniques = pd.factorize(
        ref_groups.astype(str).where(ref_groups.notna()), sort=True
    )
    index = pd.Index(uniques)
    ana_g = index.get_indexer(groups.astype(str).where(groups.notna()))
    n_groups = len(uniques)
    ref_counts = group_counts(
        ref_codes_g,
        n_groups,
        ref_codes,
        ref_k,
        ref_decided,
        ref_actual,
        np.ones(len(ref_actual), bool),
    )
    ana_counts = group_counts(ana_g, n_groups, codes, k, decided, actual, labelled)
    share = ref_counts["n"].sum(axis=0) / max(1, ref_counts["n"].sum())
    keep = share >= MIN_GROUP_SHARE
    ref_rates, ana_rates = rates(ref_counts), rates(ana_counts)
    out: dict[str, Any] = {
        "groups": [str(g) for g in uniques],
        "reference_share": share.tolist(),
        "compared": [str(g) for g, kp in zip(uniques, keep, strict=True) if kp],
        "rows": ana_counts["n"].tolist(),
        "rates": {},
    }
    labelled_rows = (
        ana_counts["tp"] + ana_counts["fp"] + ana_counts["fn"] + ana_counts["tn"]
    )
    out["notes"] = []
    names = {"tpr": ("TPR", "positive"), "fpr": ("FPR", "negative")}
    for name, ana_values in ana_rates.items():
        if name != "selection_rate":  # TPR/FPR only where the chunk has labels
            ana_values = np.where(
                labelled_rows.sum(axis=1, keepdims=True) > 0, ana_values, np.nan
            )
        ref_disp = (
            _disparity(ref_rates[name], keep)
            if keep.sum() >= 2
            else np.full(ref_k, np.nan)
        )
        disp = _disparity(ana_values, keep) if keep.sum() >= 2 else np.full(k, np.nan)
        finite = ref_disp[np.isfinite(ref_disp)]
        upper = float(finite.mean() + std * finite.std()) if len(finite) else None
        alert = [bool(upper is not None and np.isfinite(d) and d > upper) for d in disp]
        if name in names and keep.sum() >= 2:
            lacking = [
                c
                for c in range(k)
                if labelled_rows[c].sum() > 0 and not np.isfinite(disp[c])
            ]
            if lacking:
                label, side = names[name]
                out["notes"].append({"rate": label, "side": side, "chunks": lacking})
        out["rates"][name] = {
            "values": [
                [None if not np.isfinite(v) else float(v) for v in row]
                for row in ana_values
            ],
            "reference": [
                None if not np.isfinite(v) else float(v)
                for v in _pooled(ref_counts, name)
            ],
            "disparity": [None if not np.isfinite(d) else float(d) for d in disp],
            "upper": upper,
            "alert": alert,
        }
    return out


def _pooled(counts: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Return a rate per group over all chunks together."""
    import numpy as np

    total = {key: v.sum(axis=0) for key, v in counts.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "selection_rate":
            return total["selected"] / total["n"]
        if name == "tpr":
            return total["tp"] / (total["tp"] + total["fn"])
        return total["fp"] / (total["fp"] + total["tn"])
