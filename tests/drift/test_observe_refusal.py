"""A batch `Monitor.observe` refuses is never stored, and labels never match it.

Every bad batch is generated from clean analysis rows (a missing, padded or retyped
feature, time values that are not dates, numbers where dates belong, no rows) and
observed under size and monthly chunking. Each refusal must raise an mlops_nb error,
leave the project byte for byte as it was apart from one audit entry, and leave the
monitor able to observe the next good batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _store_state import audit_count, changed, last_audit, stored_state
from mlops_nb.errors import MlopsNbError

FEATURES = ["age", "x1", "x2", "x3", "x4", "x5", "region"]
CHUNKS = {"size": 2000, "month": "M"}


def _mon(model, test_split, chunk):
    return model.monitor(reference=test_split, chunk=CHUNKS[chunk], multivariate=[])


def _not_dates(draw, n):
    """Text no ISO 8601 parser reads as a date, some of it shaped like one."""
    shaped = st.builds(
        lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
        st.integers(1900, 2100),
        st.integers(13, 99),  # no such month
        st.integers(1, 28),
    )
    words = st.text(
        alphabet=st.characters(categories=["L"], max_codepoint=0x24F),
        min_size=1,
        max_size=12,
    )
    bad = draw(st.lists(shaped | words, min_size=1, max_size=5))
    return [bad[i % len(bad)] for i in range(n)]


@st.composite
def bad_batches(draw, clean: pd.DataFrame):
    """A batch with one of the problems a user brings (and its kind)."""
    start = draw(st.integers(0, len(clean) - 300))
    batch = clean.iloc[start : start + 300].copy()
    kind = draw(
        st.sampled_from(
            ["missing", "padded", "retyped", "not dates", "numbers as dates", "empty"]
        )
    )
    col = draw(st.sampled_from(FEATURES[:-1]))  # numeric features
    if kind == "missing":
        batch = batch.drop(columns=draw(st.sampled_from(FEATURES)))
    elif kind == "padded":
        name = draw(st.sampled_from(FEATURES))
        pad = draw(st.sampled_from([" ", "  ", "\t"]))
        batch = batch.rename(
            columns={name: draw(st.sampled_from([pad + name, name + pad]))}
        )
    elif kind == "retyped":
        unit = draw(st.sampled_from([" kg", " EUR", "%"]))
        batch[col] = batch[col].map(lambda v: f"{v:.2f}{unit}")
    elif kind == "not dates":
        batch["timestamp"] = _not_dates(draw, len(batch))
    elif kind == "numbers as dates":
        batch["timestamp"] = batch["timestamp"].astype("int64") // 10**9
    else:
        batch = batch.iloc[:0]
    return kind, batch


@pytest.mark.parametrize("chunk", list(CHUNKS))
def test_a_refused_batch_changes_nothing_but_the_audit_log(
    drift_project, model, test_split, analysis, chunk
):
    mon = _mon(model, test_split, chunk)
    mon.observe(analysis.iloc[:600])  # an earlier good batch: the stream exists
    clean = analysis.iloc[600:6000]

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(case=bad_batches(clean))
    def refused(case):
        kind, batch = case
        before = stored_state(drift_project.path)
        n_refusals = audit_count(drift_project, "observe refused")
        with pytest.raises(MlopsNbError) as err:
            mon.observe(batch)
        assert "nothing was stored" in str(err.value).lower(), kind
        assert changed(before, stored_state(drift_project.path)) == [], kind
        assert audit_count(drift_project, "observe refused") == n_refusals + 1
        entry = last_audit(drift_project, "observe refused")
        assert entry["object"] == f"monitor:{mon.name}"
        assert entry["detail"]["message"] == str(err.value)

    refused()
    assert [b.label for b in mon.batches] == ["m-v1-analysis v1"]
    after = mon.observe(analysis.iloc[6000:7200])  # the next good batch is taken
    assert after.new
    assert [b.label for b in mon.batches] == ["m-v1-analysis v1", "m-v1-analysis v2"]


@pytest.mark.parametrize("chunk", list(CHUNKS))
def test_labels_never_match_a_refused_batch(model, test_split, analysis, chunk):
    mon = _mon(model, test_split, chunk)
    bad = analysis.iloc[:500].assign(timestamp="2024-13-01")  # date-shaped, no month 13
    with pytest.raises(MlopsNbError, match="timestamp"):
        mon.observe(bad)
    labels = pd.DataFrame({"id": bad["id"], "y": np.arange(500) % 2})
    first = mon.add_targets(labels)  # before any batch is stored: nothing to match
    assert (first.matched, first.unmatched, first.observed) == (0, 500, 0)
    mon.observe(analysis.iloc[500:1100])
    with pytest.raises(MlopsNbError, match="timestamp"):
        mon.observe(bad)
    both = pd.concat(
        [labels, pd.DataFrame({"id": analysis["id"].iloc[500:600], "y": 1})],
        ignore_index=True,
    )
    report = mon.add_targets(both)
    assert (report.matched, report.unmatched, report.observed) == (100, 500, 600)


def test_iso_text_times_are_parsed_and_chunked_by_month(
    drift_project, model, test_split, analysis
):
    """ISO 8601 text where the reference holds dates is a date, not a refusal."""
    mon = _mon(model, test_split, "month")
    batch = analysis.iloc[:3000].copy()
    batch["timestamp"] = batch["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    obs = mon.observe(batch)
    stored = mon.batches[-1].frame["timestamp"]
    assert pd.api.types.is_datetime64_any_dtype(stored.dtype)
    expected = analysis["timestamp"].iloc[:3000].dt.to_period("M").astype(str)
    assert sorted(obs.chunks["chunk"]) == sorted(expected.unique())
    assert obs.chunks["rows"].sum() == 3000
    assert audit_count(drift_project, "observe refused") == 0


@pytest.mark.parametrize("size", [20, 24, 60])
def test_a_batch_whose_numbers_look_like_row_numbers_is_observed(
    model, test_split, analysis, size
):
    """A small batch's integer feature holding 1..n once each is inferred as an id
    there; it is still the reference's number, not a retyped column."""
    mon = model.monitor(reference=test_split, chunk=10, multivariate=[])
    batch = analysis.head(size).copy()
    batch["age"] = np.random.default_rng(size).permutation(np.arange(1, size + 1))
    obs = mon.observe(batch)
    assert obs.new
    assert obs.rows == size
