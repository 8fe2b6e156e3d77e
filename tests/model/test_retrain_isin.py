"""Row matching of the retrain overlap check: the fast membership test is exact.

``_isin`` answers "was this row seen?" for text ids and for 64-bit row hashes. It
must say exactly what a hash table of the same keys says, for any keys: repeated,
empty, unicode, digits that look like numbers, hashes at the top of the range.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.model._retrain_checks import _isin, row_keys

TEXT = st.lists(st.text(max_size=6), max_size=40)
HASHES = st.lists(st.integers(0, 2**64 - 1), max_size=40)


def _expected(values, among):
    known = set(among)
    return np.array([v in known for v in values], dtype=bool)


@settings(max_examples=60, deadline=None)
@given(values=TEXT, among=TEXT, extra=st.integers(0, 5))
def test_text_ids(values, among, extra):
    among = among + values[:extra]  # some overlap, often
    got = _isin(np.array(values, dtype=object), np.array(among, dtype=object))
    assert got.dtype == bool
    assert got.tolist() == _expected(values, among).tolist()


@settings(max_examples=60, deadline=None)
@given(values=HASHES, among=HASHES, extra=st.integers(0, 5))
def test_row_hashes(values, among, extra):
    among = among + values[:extra]
    got = _isin(np.array(values, dtype=np.uint64), np.array(among, dtype=np.uint64))
    assert got.tolist() == _expected(values, among).tolist()


def test_keys_of_real_frames_match_by_id_and_by_hash(tiny_frame):
    seen, new = tiny_frame.iloc[:250], tiny_frame.iloc[150:]
    for key in (
        {"id": "id", "columns": ["id"]},
        {"id": None, "columns": ["x1", "color", "group"]},
    ):
        mask = _isin(row_keys(new, key), row_keys(seen, key))
        assert mask.tolist() == [i < 250 for i in range(150, 400)], key
