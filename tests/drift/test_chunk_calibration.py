"""Reference chunks too small to calibrate thresholds are named, with a better chunking.

Monthly chunks whose reference months held 2 and 17 rows set thresholds so wide that
a tripled balance never alerted. The monitor warns when it is created, the review
says it in its notes, and both suggest a chunking; clean chunking stays quiet.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.drift._chunking import (
    MIN_CHUNK_ROWS,
    ChunkSpec,
    reference_split,
    small_chunks_warning,
)


def monthly(sizes: list[int], seed: int = 0) -> pd.DataFrame:
    """One block of rows per month, of the given sizes."""
    rng = np.random.default_rng(seed)
    parts = []
    for m, n in enumerate(sizes):
        start = pd.Timestamp("2023-01-01") + pd.DateOffset(months=m)
        days = rng.integers(0, 28, n)
        parts.append(pd.DataFrame({"t": start + pd.to_timedelta(days, unit="D")}))
    frame = pd.concat(parts, ignore_index=True)
    n = len(frame)
    frame["balance"] = rng.lognormal(3, 1, n)
    frame["other"] = rng.normal(size=n)
    frame["churn"] = (np.log(frame["balance"]) - 3 + frame["other"] > 0).astype(int)
    frame.insert(0, "id", np.arange(n))
    return frame


def _model(project, reference: pd.DataFrame):
    proj = project
    train = monthly([150] * 6, seed=9)
    train["t"] = train["t"] - pd.DateOffset(years=2)
    train_asset = proj.data("tr", train, target="churn", id="id", time="t")
    ref = proj.data("ref", reference, target="churn", id="id", time="t")
    return proj.train("m", train_asset, params={"n_estimators": 10}), ref


@pytest.mark.parametrize("tiny", [(2, 17), (1,), (29, 5, 12)])
def test_tiny_reference_months_warn_and_suggest_a_chunking(project, tiny):
    sizes = [120] * 8
    for i, n in enumerate(tiny):
        sizes[1 + 2 * i] = n
    model, ref = _model(project, monthly(sizes))
    with pytest.warns(UserWarning, match=f"fewer than {MIN_CHUNK_ROWS} rows") as rec:
        mon = model.monitor(reference=ref, chunk="M", multivariate=[])
    [w] = [w for w in rec if "fewer than" in str(w.message)]
    text = str(w.message)
    assert f"{len(tiny)} of 8 reference chunk(s)" in text
    for n in tiny:
        assert f"({n} row{'s' * (n != 1)})" in text
    assert "chunk=" in text  # a chunking to use instead
    assert w.filename == __file__  # points at the user's line
    mon.observe(
        monthly([120] * 3, seed=1).assign(t=lambda f: f["t"] + pd.DateOffset(years=1))
    )
    review = mon.review()
    [note] = [n for n in review.notes if "reference chunk(s)" in n]
    assert "fewer than 30 rows" in note
    assert "chunk=" in note
    assert "note(s)" in review._text()


def test_even_months_stay_quiet(project):
    model, ref = _model(project, monthly([120] * 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mon = model.monitor(reference=ref, chunk="M", multivariate=[])
    mon.observe(
        monthly([120] * 3, seed=1).assign(t=lambda f: f["t"] + pd.DateOffset(years=1))
    )
    assert not mon.review().notes


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=14),
)
def test_small_chunk_rule_over_generated_month_sizes(sizes):
    frame = monthly(sizes)
    spec = ChunkSpec("period", "M", "t")
    chunks, _ = reference_split(frame, spec)
    text = small_chunks_warning(frame, spec, chunks)
    small = int((chunks.sizes < MIN_CHUNK_ROWS).sum())
    if not small:
        assert text is None
        return
    assert text is not None
    assert f"{small} of {chunks.n} reference chunk(s)" in text
    if len(frame) < MIN_CHUNK_ROWS * 6:
        assert "larger" in text
    else:  # the suggested chunking gives chunks that are large enough
        size = int(text.split("chunk=")[1].split(" ")[0])
        again, _ = reference_split(frame, ChunkSpec("size", size, "t"))
        assert again.sizes.min() >= MIN_CHUNK_ROWS
        assert small_chunks_warning(frame, ChunkSpec("size", size, "t"), again) is None
