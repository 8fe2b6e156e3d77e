"""prepare_X turns a pandas categorical column into the same text as the same values
held as objects (the categorical path converts each level once, for speed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.model._prep import MISSING, Features, prepare_X

LEVELS = st.one_of(
    st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=6, unique=True),
    st.lists(st.integers(-5, 5), min_size=1, max_size=6, unique=True),
    st.lists(
        st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=6, unique=True
    ),
    st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
    st.lists(
        st.datetimes(
            min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2030-01-01").to_pydatetime(),
        ),
        min_size=1,
        max_size=4,
        unique=True,
    ),
)


@settings(max_examples=60, deadline=None)
@given(levels=LEVELS, data=st.data())
def test_a_categorical_column_gives_the_text_of_its_values(levels, data):
    picks = data.draw(
        st.lists(st.integers(-1, len(levels) - 1), min_size=1, max_size=30)
    )
    values = [None if i < 0 else levels[i] for i in picks]
    unused = data.draw(st.booleans())  # categories no row uses are kept by pandas
    plain = pd.Series(values, dtype=object)
    cats = pd.Categorical(values, categories=levels if unused else None)
    features = Features((), ("c",))
    got = prepare_X(pd.DataFrame({"c": cats}), features, what="t")["c"]
    want = prepare_X(pd.DataFrame({"c": plain}), features, what="t")["c"]
    assert got.tolist() == want.tolist()
    assert (got.to_numpy() == MISSING).sum() == sum(v is None for v in values)
    assert np.asarray(got).dtype == object
