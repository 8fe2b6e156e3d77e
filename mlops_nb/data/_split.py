"""Stratified splits that keep rare classes on both sides and survive missing values.

Each class (compared as text, in sorted order) is shuffled and its first
``round(n * test)`` rows go to the test part, clamped to ``[1, n - 1]`` so a class
with at least 2 rows has rows on both sides. A class with a single row stays in the
train part, and the split warns naming it. Rows whose stratify value is missing are
kept: they form one more group, split at the same share, and the split warns how many
there were (nothing is dropped).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def stratified_test_mask(
    values: pd.Series, test: float, rng: np.random.Generator, *, what: str
) -> np.ndarray:
    """Return a boolean mask of the test rows, stratified by ``values``.

    Parameters
    ----------
    values : Series
        The stratify column.
    test : float
        Share of each class that goes to the test part.
    rng : numpy Generator
        The seeded shuffle.
    what : str
        How to name the call in warnings, e.g. ``"DataAsset.split(stratify='y')"``.

    Warns
    -----
    UserWarning
        Naming classes with a single row (train part only), and counting rows whose
        value is missing (split at random as their own group).
    """
    import numpy as np

    missing = values.isna().to_numpy()
    groups = values.astype(str).to_numpy(dtype=object)
    is_test = np.zeros(len(values), bool)
    singletons = []
    for value in np.unique(groups[~missing]):
        idx = np.flatnonzero((groups == value) & ~missing)
        rng.shuffle(idx)
        k = round(len(idx) * test)
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:  # one row cannot be on both sides: it stays in the train part
            k = 0
            singletons.append(value)
        is_test[idx[:k]] = True
    if missing.any():
        idx = np.flatnonzero(missing)
        rng.shuffle(idx)
        is_test[idx[: round(len(idx) * test)]] = True
        warnings.warn(
            f"{what}: {int(missing.sum()):,} of {len(values):,} rows have no "
            f"{values.name!r} value; they were kept and split at random as their own "
            "group. Drop them first (asset.filter) if the parts must be labelled.",
            UserWarning,
            stacklevel=3,
        )
    if singletons:
        shown = ", ".join(map(repr, singletons[:10]))
        more = f" and {len(singletons) - 10} more" if len(singletons) > 10 else ""
        warnings.warn(
            f"{what}: class(es) {shown}{more} of {values.name!r} have a single row, "
            "so they are only in the train part; the test part cannot measure them.",
            UserWarning,
            stacklevel=3,
        )
    return is_test
