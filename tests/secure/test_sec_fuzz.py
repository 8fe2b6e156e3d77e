"""T14, second half: mlops_nb's own parsers of manifests and stored metadata, fuzzed.

Whatever bytes or JSON they are handed, only documented mlops_nb errors may escape —
never a KeyError, AttributeError or a crash in numpy. Bounded: a few hundred examples
per parser (a few seconds each).
"""

from __future__ import annotations

import contextlib
import json

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb import errors
from mlops_nb.model._persist import sniff
from mlops_nb.model._prep import TreePrep
from mlops_nb.model._trees import MAGIC, TreeTable
from mlops_nb.secure import _envelope
from mlops_nb.secure._manifest import diff_manifest

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def table_bytes() -> bytes:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    booster = lgb.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1).fit(
        X, (X[:, 0] > 0).astype(int)
    )
    return TreeTable.from_model_text(booster.booster_.model_to_string()).to_bytes()


@FUZZ
@given(data=st.binary(max_size=300))
def test_sniff_names_a_format_or_refuses(data):
    with contextlib.suppress(errors.UnsupportedFormatError):
        assert sniff(data, artifact="a" * 64) in (
            "skops",
            "lightgbm",
            "tree-prep",
            "trees",
            "onnx",
        )


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                     max_size=6),
       cut=st.integers(0, 10**6))  # fmt: skip
def test_damaged_tree_tables_load_or_refuse(table_bytes, flips, cut):
    data = bytearray(table_bytes)
    for position, value in flips:
        data[position % len(data)] = value
    data = bytes(data[: max(cut % (len(data) + 1), 0)] if cut % 3 == 0 else data)
    try:
        table = TreeTable.from_bytes(data, artifact="t" * 64)
    except errors.UnsupportedFormatError:
        return
    # a table that loads must predict or refuse the input shape, never crash numpy
    X = np.zeros((2, table.n_features))
    out = table.predict(X)
    assert len(out) == 2


@FUZZ
@given(header=json_values, body=st.binary(max_size=64))
def test_tree_tables_with_any_header_load_or_refuse(header, body):
    text = json.dumps(header).encode()
    data = MAGIC + len(text).to_bytes(4, "little") + text + body
    with contextlib.suppress(errors.UnsupportedFormatError):
        TreeTable.from_bytes(data, artifact="h" * 64)


@FUZZ
@given(doc=json_values)
def test_tree_prep_files_load_or_refuse(doc):
    if isinstance(doc, dict) and doc:
        doc = {"format": TreePrep.FORMAT, **doc}
    with contextlib.suppress(errors.UnsupportedFormatError):
        TreePrep.from_json(json.dumps(doc).encode(), artifact="p" * 64)


@FUZZ
@given(envelope=st.dictionaries(
    st.sampled_from(["payload", "signature", "key_id", "public_key", "other"]),
    json_values | st.text(max_size=40).map(lambda t: t.encode().hex()),
    max_size=5,
), payload=json_values, min_sequence=st.none() | st.integers(-5, 5))  # fmt: skip
def test_signature_envelopes_verify_or_raise_integrity_error(
    envelope, payload, min_sequence
):
    key = "11" * 32
    if "payload" not in envelope:
        envelope["payload"] = json.dumps(payload)
    try:
        _envelope.verify_envelope(
            envelope, public_key=bytes.fromhex(key), min_sequence=min_sequence
        )
    except errors.IntegrityError:
        pass
    else:  # nothing unsigned can verify
        pytest.fail(f"an unsigned envelope verified: {envelope!r}")


@FUZZ
@given(expected=st.dictionaries(st.text(max_size=30), st.text(max_size=70),
                                max_size=6),
       actual=st.dictionaries(st.text(max_size=30), st.text(max_size=70),
                              max_size=6))  # fmt: skip
def test_manifest_diffs_of_any_mappings_name_each_path(expected, actual):
    try:
        diff = diff_manifest(expected, actual)
    except errors.MlopsNbError:
        return
    changed = {c.path for c in diff.changes}
    assert changed <= set(expected) | set(actual)
    assert diff.ok == (expected == actual)
