"""Seeded frames of each task for the MLflow interop tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(task: str, seed: int, n: int = 300, holes: bool = False) -> pd.DataFrame:
    """A seeded frame: x1, x2 numeric, color categorical, group sensitive, target y."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(5, 2, size=n)
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    signal_ = x1 + 0.3 * (color == "red") + rng.normal(scale=0.7, size=n)
    if task == "binary":
        y = (signal_ > 0).astype(int)
    elif task == "multiclass":
        y = np.select([signal_ < -0.5, signal_ < 0.5], ["low", "mid"], "high")
    else:
        y = 3.0 * signal_ + 0.1 * x2
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "color": color,
            "group": rng.choice(["A", "B"], size=n, p=[0.6, 0.4]),
            "y": y,
        }
    )
    if holes:  # missing numbers and categories, filled the same way on both sides
        frame.loc[frame.index[::7], "x2"] = np.nan
        frame.loc[frame.index[::11], "color"] = None
    return frame
