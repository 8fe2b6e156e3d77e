"""Multivariate drift, with nannyml as the engine.

Univariate statistics miss a change in how features move *together* (the same
marginals, a different correlation). Two nannyml calculators see it:

- data reconstruction drift (``"pca"``): PCA fitted on the reference keeps 65 % of
  its variance; the mean error of reconstructing a chunk from those components
  rises when the joint distribution changes. Alerts leave the reference chunks'
  mean plus or minus three standard deviations. Fast.
- domain classifier (``"domain_classifier"``): a LightGBM model learns to tell the
  chunk from the reference, scored by cross-validated ROC AUC (0.5: cannot tell
  them apart). Alerts above 0.65. Slower: one model per chunk, so it is opt-in.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from mlops_nb.drift._performance import CHUNK_COL, chunker_by_code

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("pca", "domain_classifier")
_COLUMN = {
    "pca": "reconstruction_error",
    "domain_classifier": "domain_classifier_auroc",
}
LABELS = {
    "pca": "data reconstruction error (PCA)",
    "domain_classifier": "domain classifier ROC AUC",
}


def _plain(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Turn categorical columns into pandas categoricals (not Arrow strings)."""
    import pandas as pd

    out = frame.copy()
    for col in categorical:
        out[col] = pd.Categorical(
            out[col].astype(object).where(out[col].notna(), "(missing)").astype(str)
        )
    return out


def multivariate(
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    methods: tuple[str, ...] = ("pca",),
) -> dict[str, Any]:
    """Run each method on frames that hold the features and the chunk codes.

    Returns
    -------
    dict
        Per method: ``values``, ``upper``/``lower`` thresholds and ``alert`` per
        analysis chunk, and a ``label``.
    """
    from mlops_nb._offline import import_nannyml

    nml = import_nannyml()
    columns = [*numeric, *categorical]
    ref = _plain(reference[[*columns, CHUNK_COL]], categorical)
    ana = _plain(analysis[[*columns, CHUNK_COL]], categorical)
    out: dict[str, Any] = {}
    for method in methods:
        with warnings.catch_warnings():  # nannyml warns about few chunks
            warnings.simplefilter("ignore")
            if method == "pca":
                calc = nml.DataReconstructionDriftCalculator(
                    column_names=columns, chunker=chunker_by_code()
                )
            else:
                calc = nml.DomainClassifierCalculator(
                    feature_column_names=columns,
                    treat_as_categorical=categorical,
                    chunker=chunker_by_code(),
                )
            calc.fit(ref)
            frame = calc.calculate(ana).filter(period="analysis").to_df()
        key = _COLUMN[method]

        def col(name: str, key: str = key, frame: Any = frame) -> list[Any]:
            values = frame[(key, name)].tolist()
            return [
                None
                if v is None or v != v
                else (bool(v) if name == "alert" else float(v))
                for v in values
            ]

        out[method] = {
            "label": LABELS[method],
            "values": col("value"),
            "upper": col("upper_threshold"),
            "lower": col("lower_threshold"),
            "alert": col("alert"),
        }
    return out
