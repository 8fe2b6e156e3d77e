"""Monitoring survives a rare class, absent from reference, analysis or a chunk.

A class of 2-5 rows is common in real multiclass data (e.g. a quality grade seen
five times in 4,898 rows). nannyml's CBPE refuses a reference that lacks a class the
model knows; the review must still run, estimate what it can and say which class it
left out. The frames are generated: 3-7 classes, string or integer labels, the rare
class placed in training only, or kept out of the analysis or out of all chunks but one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

N_TRAIN, N_REF, N_ANA, CHUNK = 600, 400, 400, 100


def rare_frame(n_classes: int, rare_rows: int, absent_from: str, seed: int, ints: bool):
    """Train, reference and analysis rows; the rare class is placed per ``absent_from``.

    Returns the frame and the rare class's label.
    """
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_REF + N_ANA
    x = rng.normal(size=(n, 3))
    weights = rng.normal(size=(3, n_classes - 1))
    logits = 2 * x @ weights + rng.gumbel(size=(n, n_classes - 1))
    labels = (
        list(range(n_classes)) if ints else [f"grade {i}" for i in range(n_classes)]
    )
    y = np.asarray(labels[:-1], dtype=object)[logits.argmax(axis=1)]
    rare = labels[-1]
    where = {
        # training rows only: the model knows the class, the reference never saw it
        "reference": rng.choice(N_TRAIN, rare_rows, replace=False),
        # training and reference rows, never in production
        "analysis": np.concatenate(
            [rng.choice(N_TRAIN, 2, replace=False), N_TRAIN + np.arange(rare_rows)]
        ),
        # training, reference and the second analysis chunk only
        "chunk": np.concatenate(
            [
                rng.choice(N_TRAIN, 2, replace=False),
                N_TRAIN + np.arange(rare_rows),
                N_TRAIN + N_REF + CHUNK + np.arange(rare_rows),
            ]
        ),
    }[absent_from]
    y[where] = rare
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    frame.insert(0, "id", np.arange(n))
    frame["group"] = rng.choice(["p", "q"], n)
    frame["grade"] = pd.Series(y, dtype="int64" if ints else object)
    return frame, rare


def _monitor(project, frame):
    proj = project
    train = proj.data("tr", frame.iloc[:N_TRAIN], target="grade", id="id")
    ref = proj.data(
        "ref", frame.iloc[N_TRAIN : N_TRAIN + N_REF], target="grade", id="id"
    )
    model = proj.train("m", train, params={"n_estimators": 8})
    mon = model.monitor(reference=ref, chunk=CHUNK, multivariate=[])
    ana = frame.iloc[N_TRAIN + N_REF :]
    mon.observe(ana.drop(columns="grade"))
    return model, mon, ana


CASES = [
    pytest.param(
        n_classes,
        absent_from,
        2 + (i % 4),
        bool(i % 2),
        marks=[pytest.mark.slow] if n_classes > 3 else [],
    )
    for i, (n_classes, absent_from) in enumerate(
        (k, a) for k in (3, 5, 7) for a in ("reference", "analysis", "chunk")
    )
]


@pytest.mark.parametrize(("n_classes", "absent_from", "rare_rows", "ints"), CASES)
def test_review_runs_and_names_the_class_it_could_not_cover(
    project, n_classes, absent_from, rare_rows, ints
):
    frame, rare = rare_frame(n_classes, rare_rows, absent_from, n_classes, ints)
    model, mon, ana = _monitor(project, frame)
    assert rare in model.classes
    review = mon.review()  # nannyml's InvalidArgumentsException before
    perf = review.payload["performance"]
    assert all(e is not None for e in perf["estimated"])
    if absent_from == "reference":
        [note] = [n for n in review.notes if "CBPE" in n]
        assert repr(rare) in note
        assert "No reference row" in note
        assert note in perf["notes"]
    mon.add_targets(ana[["id", "grade"]])
    review = mon.review()
    perf = review.payload["performance"]
    assert all(r is not None for r in perf["realized"])
    lacking = [n for n in review.notes if n.startswith("No label of class")]
    if absent_from == "reference":
        # the estimate leaves the class out, so realized ROC AUC does too
        assert not lacking
    else:
        [note] = lacking
        assert repr(rare) in note
        missing = N_ANA // CHUNK - (absent_from == "chunk")
        assert f"in {missing} chunk(s)" in note
    html = review._html()
    assert "could not compute" in review._text()
    assert repr(rare).replace("'", "&#x27;") in html or repr(rare) in html


@pytest.mark.parametrize("only", [0, 1])
def test_binary_chunk_with_one_class_says_roc_auc_is_undefined(project, only):
    rng = np.random.default_rng(only)
    n = N_TRAIN + N_REF + N_ANA
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + rng.normal(size=n) > 0).astype(int)
    first = slice(N_TRAIN + N_REF, N_TRAIN + N_REF + CHUNK)
    y[first] = only  # the first analysis chunk holds one class
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(
        id=np.arange(n), group=rng.choice(["p", "q"], n), grade=y
    )
    proj = project
    train = proj.data("tr", frame.iloc[:N_TRAIN], target="grade", id="id")
    ref = proj.data(
        "ref",
        frame.iloc[N_TRAIN : N_TRAIN + N_REF],
        target="grade",
        id="id",
        sensitive="group",
    )
    model = proj.train("m", train, params={"n_estimators": 8})
    mon = model.monitor(reference=ref, chunk=CHUNK, multivariate=[])
    ana = frame.iloc[N_TRAIN + N_REF :]
    mon.observe(ana.drop(columns="grade"))
    mon.add_targets(ana[["id", "grade"]])
    review = mon.review()
    perf = review.payload["performance"]
    assert perf["realized"][0] is None
    assert all(r is not None for r in perf["realized"][1:])
    assert any(
        "Realized ROC AUC not defined in 1 chunk(s)" in n
        and f"every label is class {only!r}" in n
        for n in review.notes
    )
    rate = "TPR" if only == 0 else "FPR"
    assert any(n.startswith(f"{rate} gap by group not computed") for n in review.notes)


def test_reference_with_one_class_estimates_nothing_and_says_why(project):
    frame, _ = rare_frame(3, 3, "reference", 0, False)
    frame.loc[N_TRAIN : N_TRAIN + N_REF - 1, "grade"] = "grade 0"
    _, mon, _ = _monitor(project, frame)
    review = mon.review()
    assert review.payload["performance"]["estimated"] == [None] * (N_ANA // CHUNK)
    assert any("CBPE cannot estimate" in n and "'grade 0'" in n for n in review.notes)
