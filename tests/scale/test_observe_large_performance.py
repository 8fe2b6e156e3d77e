"""Monitor.observe on a large version: model scores and CBPE from per-partition sums.

Scores come from the model's ONNX export on the workers; the large path fits CBPE
on the reference's ONNX scores. Parity is checked against the in-memory CBPE
(:func:`mlops_nb.drift._performance.estimate_cbpe`, the function the in-memory
monitor runs) on those same scores and chunks: confusion-matrix metrics within 1e-9
with the same alerts, ROC AUC within its stated bound. Fast tests use Dask's
synchronous scheduler; the slow one runs on the session's LocalCluster.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from _partitions import day as day_frame
from _partitions import write_cut
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.drift._cbpe_large import METRICS, binned_auc, merge_sums, sums

REF_DAYS, DAY_ROWS = 8, 700
CELLS = {"tp": "true_positive", "fp": "false_positive",
         "fn": "false_negative", "tn": "true_negative"}  # fmt: skip


def _day(n: int, day: int, drop: bool, seed: int) -> pd.DataFrame:
    """One day; ``drop``: x1 (what the model relies on) squeezed to the boundary."""
    return day_frame(n, day, seed, x1_scale=0.15 if drop else 1.0, noise=0.6)


def _model(project):
    ref = pd.concat(
        [_day(400, d, False, d) for d in range(REF_DAYS)], ignore_index=True
    )
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 20}, seed=0)
    return model, test


def _logs(folder, dropped, *, days=6, seed=0) -> pd.DataFrame:
    """Days 20.. as parquet cut at random rows (partitions span days)."""
    whole = pd.concat(
        [_day(DAY_ROWS, 20 + d, d in dropped, 100 * seed + d) for d in range(days)],
        ignore_index=True,
    )
    write_cut(folder, whole, seed, days + 2)
    return whole


def _in_memory_cbpe(mon, whole: pd.DataFrame, chunk) -> dict:
    """The in-memory monitor's CBPE, on the ONNX scores the large path uses."""
    from mlops_nb.deploy._batch import _job, model_outputs
    from mlops_nb.drift._analysis import _is_class
    from mlops_nb.drift._chunking import ChunkSpec, reference_split, split
    from mlops_nb.drift._performance import CHUNK_COL, estimate_cbpe

    model = mon.model
    job, data = _job(model, "test")
    cs = ChunkSpec.from_dict(mon.options["chunk"])
    reference = mon.reference.frame
    t = model.threshold

    def frame(df, codes):
        proba = np.asarray(model_outputs(df, job, data)[1], dtype="float64")
        return pd.DataFrame(
            {
                "__score_0": proba[:, 0],
                "__score_1": proba[:, 1],
                "__pred__": (proba[:, 1] >= t).astype(int),
                CHUNK_COL: codes,
            }
        )

    ref = frame(reference, reference_split(reference, cs)[0].codes)
    ref["__y__"] = _is_class(reference["y"], model.classes[1]).astype(int)
    chunks = split(whole, cs)
    ana = frame(whole, chunks.codes)
    est = estimate_cbpe(
        ref, ana, classes=list(model.classes), metrics=("roc_auc", *METRICS)
    )
    return est, chunks.keys


@pytest.mark.parametrize(("chunk", "dropped"), [("D", {1, 4}), (1000, {2})])
def test_cbpe_equals_the_in_memory_cbpe(project, tmp_path, chunk, dropped):
    model, test = _model(project)
    whole = _logs(tmp_path / "logs", dropped, seed=3)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    mon = model.monitor(reference=test, chunk=chunk)
    mon.observe(logs, client="synchronous")
    got = mon.review().payload["performance"]
    want, keys = _in_memory_cbpe(mon, whole, chunk)
    assert mon.review().chunks == keys
    # the expected confusion matrix: exact
    for cell in CELLS:
        np.testing.assert_allclose(got["confusion"][cell], want["confusion"][cell],
                                   rtol=1e-9, atol=1e-9)  # fmt: skip
    # accuracy, precision, recall, F1, specificity: values, bands, thresholds, alerts
    for m in METRICS:
        g, w = got["estimated_all"][m], want[m]
        for k in ("estimated", "sampling_error", "upper_band", "lower_band",
                  "upper_threshold", "lower_threshold"):  # fmt: skip
            np.testing.assert_allclose(
                np.array(g[k], dtype=float), np.array(w[k], dtype=float),
                rtol=1e-9, atol=1e-9, err_msg=f"{m} {k}",
            )  # fmt: skip
        assert g["alert"] == w["alert"], m
    # ROC AUC from score bins: the exact value lies within the stated bound
    exact = np.array(want["roc_auc"]["estimated"], dtype=float)
    binned = np.array(got["estimated"], dtype=float)
    bound = np.array(got["bound"], dtype=float)
    assert np.all(np.abs(binned - exact) <= bound + 1e-12)
    assert np.all(bound < 0.05)
    for k in ("upper_threshold", "lower_threshold"):
        assert got[k] == pytest.approx(want["roc_auc"][k], abs=1e-9)
    # the in-memory monitor (native model, float64 scores): ONNX's float32 scores
    # differ by ~1e-7, so its cells agree to that, and its alerts are the same
    twin = project.train("twin", project.asset("ref-train"),
                         params={"n_estimators": 20}, seed=0)  # fmt: skip
    memory = twin.monitor(reference=test, chunk=chunk)
    memory.observe(whole)
    native = memory.review().payload["performance"]
    for cell in CELLS:
        np.testing.assert_allclose(got["confusion"][cell], native["confusion"][cell],
                                   rtol=1e-5)  # fmt: skip
    assert got["estimated_alert"] == native["estimated_alert"]
    assert np.all(np.abs(binned - np.array(native["estimated"])) <= bound + 1e-5)
    # the planted drop is estimated lower there; clean chunks stay quiet
    acc = np.array(got["estimated_all"]["accuracy"]["estimated"])
    idx = [keys.index(k) for k in keys]
    low = {i for i in idx if got["estimated_all"]["accuracy"]["alert"][i]}
    planted = _planted_chunks(mon, whole, dropped, keys)
    assert low == planted
    assert {i for i, a in enumerate(got["estimated_alert"]) if a} == planted
    assert acc[sorted(planted)].max() < acc[[i for i in idx if i not in planted]].min()


def _planted_chunks(mon, whole, dropped, keys) -> set[int]:
    """Chunks that are mostly rows of a dropped day."""
    from mlops_nb.drift._chunking import ChunkSpec, split

    chunks = split(whole, ChunkSpec.from_dict(mon.options["chunk"]))
    day = (whole["ts"].dt.day - 21).to_numpy()
    out = set()
    for c in range(len(keys)):
        rows = chunks.codes == c
        if np.isin(day[rows], list(dropped)).mean() > 0.5:
            out.add(c)
    return out


@pytest.mark.parametrize(("seed", "dropped"), [(0, {0, 3}), (1, {5}), (2, set())])
def test_review_shows_estimated_performance_and_score_drift(
    project, tmp_path, seed, dropped
):
    model, test = _model(project)
    _logs(tmp_path / "logs", dropped, seed=seed)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    mon = model.monitor(reference=test, chunk="D")
    mon.observe(logs, client="synchronous")
    review = mon.review()
    perf = review.payload["performance"]
    assert perf["method"].startswith("CBPE")
    est = np.array(perf["estimated"], dtype=float)
    assert np.isfinite(est).all()
    assert {i for i, a in enumerate(perf["estimated_alert"]) if a} == dropped
    if dropped:
        clean = [i for i in range(6) if i not in dropped]
        assert est[sorted(dropped)].max() < est[clean].min()
        assert review.recommendation["action"] != "no action"
    # the model score is reviewed like a feature; its drift found on the same days
    u = review.payload["univariate"]
    i = u["columns"].index("model score")
    js = u["statistics"]["jensen_shannon"]["alert"][i]
    assert {c for c, a in enumerate(js) if a} == dropped
    flagged = review.alerts()
    perf_rows = flagged[flagged["kind"] == "estimated performance"]
    assert {review.chunks.index(k) for k in perf_rows["chunk"]} == dropped
    assert perf["large"] in " ".join(review.notes)
    assert review.plot("performance") is not None
    notes = " ".join(review.notes)
    assert "score drift" not in notes
    assert "estimated (CBPE" not in notes
    assert "realized performance" in notes
    assert "multivariate" in notes
    # stored: reopened as is
    assert mon.review().payload == review.payload


def test_review_after_observe_reuses_the_reference_fit_until_the_threshold_moves(
    project, tmp_path, monkeypatch
):
    """observe() scores the reference and fits CBPE; review() in the same session
    reuses them, unless what they depend on changed (here the model's threshold)."""
    from mlops_nb.drift import _cbpe_large

    fits = []
    real = _cbpe_large._fit

    def counted(*args, **kwargs):  # the real fit runs: counted, not replaced
        fits.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_cbpe_large, "_fit", counted)
    model, test = _model(project)
    _logs(tmp_path / "logs", {0, 3}, seed=0)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    mon = model.monitor(reference=test, chunk="D")
    mon.observe(logs, client="synchronous")
    assert len(fits) == 1
    first = mon.review()
    assert len(fits) == 1  # observe's fit, reused
    model.set_threshold(0.3, reason="test: a lower threshold")
    second = mon.review()
    assert len(fits) == 2  # the decision moved: fitted again
    assert second.payload["decision"]["threshold"] == 0.3
    assert first.payload["decision"]["threshold"] != 0.3
    assert second.payload["performance"] != first.payload["performance"]


def _scores(draw_n, rng, ties):
    raw = rng.integers(0, ties, draw_n) / ties if ties else rng.random(draw_n)
    p = np.clip(raw + rng.normal(0, 0.1, draw_n), 0, 1)
    return raw, p


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(5, 400),
    ties=st.sampled_from([0, 3, 17, 200]),
    n_edges=st.integers(1, 60),
    parts=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_binned_auc_holds_the_exact_value_within_its_bound(
    n, ties, n_edges, parts, seed
):
    """Any scores (with ties), any bins, any partitioning: exact within the bound."""
    from nannyml.performance_estimation.confidence_based.metrics import (
        estimate_roc_auc,
    )

    rng = np.random.default_rng(seed)
    raw, p = _scores(n, rng, ties)
    pred = raw >= rng.random()
    edges = np.unique(rng.random(n_edges)).tolist()
    cuts = np.sort(rng.integers(0, n + 1, parts - 1))
    merged = None
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        mask = np.zeros(n, dtype=bool)
        mask[a:b] = True
        merged = merge_sums(
            merged, sums({"raw": raw, "p": p, "pred": pred}, mask, edges)
        )
    whole = sums({"raw": raw, "p": p, "pred": pred}, np.ones(n, bool), edges)
    for k in ("tp", "fp", "fn", "tn"):
        assert merged[k] == pytest.approx(whole[k], rel=1e-12, abs=1e-12)
    assert merged["bins_n"] == whole["bins_n"]
    assert merged["tp"] == pytest.approx(p[pred].sum(), rel=1e-12, abs=1e-12)
    auc, bound = binned_auc(merged)
    if auc is None:
        return
    exact = estimate_roc_auc(p, raw)
    assert abs(auc - exact) <= bound + 1e-12
    # every row in its own bin (edges at every distinct score): the bound is tight
    fine = sums({"raw": raw, "p": p, "pred": pred}, np.ones(n, bool),
                np.unique(raw).tolist())  # fmt: skip
    auc_f, bound_f = binned_auc(fine)
    assert abs(auc_f - exact) <= bound_f + 1e-12
    if ties == 0:
        assert bound_f < 1e-3


@pytest.mark.slow
def test_scores_come_from_one_session_per_worker(project, tmp_path, dask_client):
    from mlops_nb.deploy._batch import session_counts
    from mlops_nb.deploy._export import stored_exports

    model, test = _model(project)
    _logs(tmp_path / "logs", {2}, seed=9)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    on_cluster = model.monitor(reference=test, chunk="D")
    on_cluster.observe(logs, client=dask_client)
    digest = stored_exports(model)[-1].digest
    counts = dask_client.run(session_counts)
    used = {w: c for w, c in counts.items() if digest in c["created"]}
    assert len(used) == 2  # both workers scored partitions
    assert all(c["created"][digest] == 1 for c in used.values())
    assert all(c["pid"] != os.getpid() for c in used.values())
    a = on_cluster.review().payload["performance"]
    twin = project.train("twin", project.asset("ref-train"),
                         params={"n_estimators": 20}, seed=0)  # fmt: skip
    local = twin.monitor(reference=test, chunk="D")
    local.observe(logs, client="synchronous")
    b = local.review().payload["performance"]
    assert {i for i, x in enumerate(a["estimated_alert"]) if x} == {2}
    np.testing.assert_allclose(a["estimated"], b["estimated"], rtol=1e-9)
    for cell in CELLS:
        np.testing.assert_allclose(a["confusion"][cell], b["confusion"][cell],
                                   rtol=1e-9)  # fmt: skip


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_other_tasks_review_score_drift_and_say_what_is_not_estimated(
    project, tmp_path, task
):
    def target(frame):
        x1 = frame["x1"].to_numpy()
        if task == "regression":
            return frame.assign(y=x1 + frame["x2"].to_numpy())
        return frame.assign(y=np.digitize(x1, [-0.5, 0.5]))

    ref = pd.concat(
        [target(_day(400, d, False, d)) for d in range(REF_DAYS)], ignore_index=True
    )
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 8}, seed=0)
    whole = pd.concat(
        [target(_day(DAY_ROWS, 20 + d, d == 1, d)) for d in range(3)],
        ignore_index=True,
    )
    (tmp_path / "logs").mkdir()
    for i, (a, b) in enumerate([(0, 900), (900, 2100)]):
        whole.iloc[a:b].to_parquet(tmp_path / "logs" / f"part-{i}.parquet")
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    mon = model.monitor(reference=test, chunk="D")
    mon.observe(logs, client="synchronous")
    review = mon.review()
    u = review.payload["univariate"]
    i = u["columns"].index("model score")
    js = u["statistics"]["jensen_shannon"]["alert"][i]
    assert {c for c, a in enumerate(js) if a} == {1}  # the squeezed day
    perf = review.payload["performance"]
    assert perf["estimated"] == [None] * 3
    assert perf["confusion"] is None
    notes = " ".join(review.notes)
    assert ("DLE for regression" if task == "regression" else "3 classes") in notes
