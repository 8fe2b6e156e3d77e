"""Row fingerprints and per-column distances, shared by vetting and leakage checks.

Exact fingerprints hash each row's values after a light type harmonisation (numbers
as floats, everything else as text), so ``1`` and ``1.0`` or a categorical and a
string column still match. Near fingerprints also round numbers to ``decimals``
places and case-fold, trim and collapse the whitespace and punctuation of text, so
re-exported or lightly edited copies match too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_PUNCT = re.compile(r"[\s\W_]+")


def _column_hash(col: pd.Series, *, near: bool, decimals: int) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        x = col.to_numpy(dtype="float64", na_value=np.nan)
        if near:
            x = np.round(x, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return pd.util.hash_array(x)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)  # distinct values only
    text = [str(v) for v in uniques]
    if near:
        text = [_PUNCT.sub(" ", v).strip().casefold() for v in text]
    hashed = pd.util.hash_array(np.array([*text, "\x00<NA>"], dtype=object))
    return hashed[np.where(codes < 0, len(text), codes)]


def row_hashes(
    frame: pd.DataFrame, columns: list[str], *, near: bool = False, decimals: int = 2
) -> np.ndarray:
    """One 64-bit fingerprint per row over ``columns`` (in the given order)."""
    import numpy as np

    out = np.zeros(len(frame), dtype="uint64")
    with np.errstate(over="ignore"):
        for name in columns:
            out = out * np.uint64(1_000_003) + _column_hash(
                frame[name], near=near, decimals=decimals
            )
    return out


def js_distance(
    ref: pd.Series, new: pd.Series, *, bins: int = 10, top: int = 20
) -> float | None:
    """Jensen-Shannon distance (base 2, 0 = same, 1 = disjoint) between two columns.

    Numbers are binned at the reference's deciles; other values compare their ``top``
    most frequent reference categories plus "other".
    """
    import numpy as np
    import pandas as pd

    r, n = ref.dropna(), new.dropna()
    if not len(r) or not len(n):
        return None
    numeric = all(
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        for s in (r, n)
    )
    if numeric:
        edges = np.unique(
            np.nanquantile(r.astype(float), np.linspace(0, 1, bins + 1)[1:-1])
        )
        p = np.bincount(
            np.searchsorted(edges, r.astype(float), side="right"),
            minlength=len(edges) + 1,
        )
        q = np.bincount(
            np.searchsorted(edges, n.astype(float), side="right"),
            minlength=len(edges) + 1,
        )
    else:
        rs, ns = r.astype(str), n.astype(str)
        cats = rs.value_counts().index[:top].tolist()
        p = np.array(
            [int((rs == c).sum()) for c in cats] + [int((~rs.isin(cats)).sum())],
            dtype=float,
        )
        q = np.array(
            [int((ns == c).sum()) for c in cats] + [int((~ns.isin(cats)).sum())],
            dtype=float,
        )
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.nansum(np.where(a > 0, a * np.log2(a / m), 0.0)))

    return round(float(np.sqrt(max((kl(p) + kl(q)) / 2, 0.0))), 4)
