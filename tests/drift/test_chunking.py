from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.drift._chunking import ChunkSpec, reference_split, split
from mlops_nb.errors import ValidationError


def _spec(chunk=None, n_chunks=None, time="t", columns=("t", "year", "x")):
    return ChunkSpec.parse(
        chunk, n_chunks, time_column=time, columns=list(columns), what="test"
    )


@pytest.fixture
def frame():
    n = 1050
    return pd.DataFrame(
        {
            "t": pd.date_range("2024-01-01", periods=n, freq="6h")[
                ::-1
            ],  # newest first
            "year": np.repeat([2016, 2017, 2018], 350),
            "x": np.arange(n, dtype=float),
        }
    )


def test_size_chunks_follow_time_order_and_merge_a_small_remainder(frame):
    chunks = split(frame, _spec(200))
    # the remainder of 50 rows is below half a chunk: it joins the last chunk
    assert chunks.sizes.tolist() == [200, 200, 200, 200, 250]
    # rows are cut in time order: the oldest rows (at the end of the frame) come first
    assert chunks.codes[-1] == 0
    assert chunks.codes[0] == 4
    assert chunks.keys[0] == "[0:199]"
    assert chunks.starts[0] == "2024-01-01"


def test_remainder_of_half_a_chunk_is_its_own_chunk(frame):
    assert split(frame, _spec(300)).sizes.tolist() == [300, 300, 300, 150]


def test_count_chunks(frame):
    chunks = split(frame, _spec(n_chunks=4))
    assert chunks.n == 4
    assert chunks.sizes.sum() == len(frame)


def test_column_chunks_are_one_per_value(frame):
    chunks = split(frame, _spec("year"))
    assert chunks.keys == ["2016", "2017", "2018"]
    assert chunks.sizes.tolist() == [350, 350, 350]


@pytest.mark.parametrize(("period", "n"), [("M", 9), ("W", 38), ("30D", 10), ("Q", 3)])
def test_period_chunks(frame, period, n):
    chunks = split(frame, _spec(period))
    assert chunks.n == n
    assert chunks.sizes.sum() == len(frame)
    starts = pd.to_datetime(pd.Series(chunks.starts))
    assert starts.is_monotonic_increasing


def test_bad_chunk_options_say_what_to_do():
    with pytest.raises(ValidationError, match="not a column and not a pandas period"):
        _spec("fortnightly")
    with pytest.raises(ValidationError, match="needs a time column"):
        _spec("M", time=None)
    with pytest.raises(ValidationError, match="not both"):
        _spec(100, 3)
    with pytest.raises(ValidationError, match="2 rows or more"):
        _spec(1)


def test_period_on_a_non_datetime_column_is_refused(frame):
    spec = ChunkSpec("period", "M", "year")
    with pytest.raises(ValidationError, match="needs a datetime time column"):
        split(frame, spec)


def test_reference_falls_back_to_equal_chunks_and_says_so(frame):
    chunks, note = reference_split(frame, _spec("year"))
    assert chunks.n == 10
    assert "gives 3 reference chunks" in note
    chunks, note = reference_split(frame, _spec(100))
    assert chunks.n == 11
    assert note.startswith("11 reference chunks")
