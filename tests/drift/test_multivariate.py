"""Multivariate drift: a planted change in correlation, with the marginals left alone.

Univariate statistics cannot see it; data reconstruction (PCA) and the domain classifier
must alert on exactly the chunks after the change and stay quiet before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.drift._multivariate import multivariate
from mlops_nb.drift._performance import CHUNK_COL

CHUNK = 1000
FLIP_AT = 4  # analysis chunks 4..7 have the correlation flipped


def _rows(rng, n, rho):
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({
        "a": a, "b": b, "c": rng.normal(size=n),
        "k": rng.choice(["x", "y", "z"], size=n),
    })  # fmt: skip


def _frames(seed):
    rng = np.random.default_rng(seed)
    reference = _rows(rng, 5 * CHUNK, 0.9)
    reference[CHUNK_COL] = np.repeat(np.arange(5), CHUNK)
    parts = [_rows(rng, CHUNK, 0.9 if i < FLIP_AT else -0.9) for i in range(8)]
    analysis = pd.concat(parts, ignore_index=True)
    analysis[CHUNK_COL] = np.repeat(np.arange(8), CHUNK)
    return reference, analysis


def _check(result, method):
    alerts = result[method]["alert"]
    assert alerts[FLIP_AT:] == [True] * 4, result[method]
    assert alerts[:FLIP_AT] == [False] * FLIP_AT, result[method]
    return result[method]["values"]


def test_the_marginals_really_are_unchanged():
    from scipy.stats import ks_2samp

    reference, analysis = _frames(0)
    flipped = analysis[analysis[CHUNK_COL] >= FLIP_AT]
    for col in ("a", "b", "c"):
        assert ks_2samp(reference[col], flipped[col]).pvalue > 0.01
    assert np.corrcoef(flipped["a"], flipped["b"])[0, 1] < -0.85


@pytest.mark.parametrize("seed", [0, 1])
def test_pca_reconstruction_finds_the_flipped_correlation(seed):
    reference, analysis = _frames(seed)
    result = multivariate(
        reference,
        analysis,
        numeric=["a", "b", "c"],
        categorical=["k"],
        methods=("pca",),
    )
    values = _check(result, "pca")
    assert min(values[FLIP_AT:]) > max(values[:FLIP_AT])
    assert result["pca"]["label"] == "data reconstruction error (PCA)"


def test_the_domain_classifier_tells_the_flipped_chunks_apart():
    reference, analysis = _frames(0)
    result = multivariate(
        reference,
        analysis,
        numeric=["a", "b", "c"],
        categorical=["k"],
        methods=("domain_classifier",),
    )
    values = _check(result, "domain_classifier")
    assert max(values[:FLIP_AT]) < 0.6 < 0.9 < min(values[FLIP_AT:])
