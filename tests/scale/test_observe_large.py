"""Monitor.observe on a large version: drift per chunk from per-partition summaries.

The fast tests pass ``client="synchronous"`` (Dask's synchronous scheduler, in this
process: the client is optional); the slow one runs on the session's LocalCluster.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _partitions import day as day_frame
from _partitions import flip_byte, write_cut

from mlops_nb.drift._observe_large import BOUNDED, EXACT
from mlops_nb.errors import IntegrityError

REF_DAYS, DAY_ROWS = 8, 700


def _day(n: int, day: int, drift: bool, seed: int) -> pd.DataFrame:
    if drift:
        return day_frame(n, day, seed, x1_loc=1.2, c_p=(0.6, 0.3, 0.1))
    return day_frame(n, day, seed)


def _model(project, name="m", chunk="D"):
    ref = pd.concat(
        [_day(400, d, False, d) for d in range(REF_DAYS)], ignore_index=True
    )
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train(name, train, params={"n_estimators": 8}, seed=0)
    return model, test


def _logs(folder, drifted, *, days=6, seed=0):
    """Days 20.. as parquet cut at random rows: partitions span days, days span them."""
    whole = pd.concat(
        [_day(DAY_ROWS, 20 + d, d in drifted, 100 * seed + d) for d in range(days)],
        ignore_index=True,
    )
    write_cut(folder, whole, seed, days + 2)
    return whole


@pytest.mark.parametrize(
    ("seed", "drifted"), [(0, {2, 4}), (1, {0}), (2, {1, 3, 5}), (3, set())]
)
def test_drift_is_found_in_exactly_the_planted_days(project, tmp_path, seed, drifted):
    model, test = _model(project)
    mon = model.monitor(reference=test, chunk="D")
    _logs(tmp_path / "logs", drifted, seed=seed)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    assert logs.is_large
    obs = mon.observe(logs, client="synchronous")
    assert list(obs.chunks["chunk"]) == [f"2026-01-{21 + d}" for d in range(6)]
    assert list(obs.chunks["rows"]) == [DAY_ROWS] * 6
    alerted = {i for i, n in enumerate(obs.chunks["alerts"]) if n}
    assert alerted == drifted
    for d in drifted:
        assert {"x1", "c"} <= set(obs.chunks["drifted features"][d].split(", "))
    review = mon.review()
    frame = review.to_frame()
    hits = frame[frame["alert"] & frame["statistic"].isin(["jensen_shannon"])]
    assert {review.chunks.index(k) for k in hits["chunk"]} == drifted
    assert review.recommendation["action"] == (
        "investigate" if drifted else "no action"
    )
    # what the large path does not compute is named, not silently missing
    notes = " ".join(review.notes)
    for word in ("multivariate", "realized performance", "target drift", "fairness"):
        assert word in notes
    assert "kolmogorov_smirnov" in review.payload["univariate"]["large"]["bounded"]
    # stored like an in-memory monitor's: the batch and the review, reopened as is
    assert mon.state["batches"] == [[logs.name, logs.version]]
    again = mon.review()
    assert again.payload == review.payload
    assert mon.observe(logs, client="synchronous").new is False


@pytest.mark.parametrize("chunk", ["D", 1000])
def test_binned_statistics_equal_the_in_memory_monitor(project, tmp_path, chunk):
    model, test = _model(project)
    twin = project.train("twin", project.asset("ref-train"), params={"n_estimators": 8},
                         seed=0)  # fmt: skip
    whole = _logs(tmp_path / "logs", {1, 4}, seed=5)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    large = model.monitor(reference=test, chunk=chunk)
    large.observe(logs, client="synchronous")
    memory = twin.monitor(reference=test, chunk=chunk)
    memory.observe(whole)  # the same rows, in memory
    got, want = large.review(), memory.review()
    assert got.chunks == want.chunks
    assert got.payload["chunks"]["sizes"] == want.payload["chunks"]["sizes"]
    g, w = got.payload["univariate"], want.payload["univariate"]
    cols = g["columns"]
    checked = 0
    for stat in g["statistics"]:
        for i, col in enumerate(cols):
            if col == "model score":  # ONNX here, the native model in memory
                continue  # (its parity: test_observe_large_performance.py)
            j = w["columns"].index(col)
            gs, ws = g["statistics"][stat], w["statistics"][stat]
            gv = np.array(gs["values"][i], dtype=float)
            wv = np.array(ws["values"][j], dtype=float)
            if stat in EXACT:
                np.testing.assert_allclose(gv, wv, rtol=0, atol=1e-9)
                np.testing.assert_allclose(
                    np.array(gs["reference"][i], dtype=float),
                    np.array(ws["reference"][j], dtype=float),
                    rtol=0,
                    atol=1e-9,
                )
                assert gs["upper"][i] == pytest.approx(ws["upper"][j], abs=1e-9)
                assert gs["alert"][i] == ws["alert"][j]
                checked += int(np.isfinite(gv).sum())
            elif stat in BOUNDED and not np.isnan(wv).all():
                bound = np.array(g["bounds"][stat][i], dtype=float)
                # the in-memory value is exact here (reference under 10,000 rows)
                assert np.all(np.abs(gv - wv) <= bound + 1e-12)
                assert np.all(bound < 0.05)
                checked += len(gv)
    assert checked >= (len(cols) - 1) * len(got.chunks) * 4


def test_a_tampered_partition_stores_nothing(project, tmp_path):
    model, test = _model(project)
    mon = model.monitor(reference=test, chunk="D")
    _logs(tmp_path / "logs", {1}, seed=7)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    before = mon._doc()
    parts = json.loads(project._store.read_blob(logs.artifact))["partitions"]
    flip_byte(project, parts[3]["sha256"], 120)
    with pytest.raises(IntegrityError, match=r"partition 3 \('part-03.parquet'\)"):
        mon.observe(logs, client="synchronous")
    after = mon._doc()
    assert after["version"] == before["version"]
    assert after["payload"]["batches"] == []
    assert not project._report("asset", logs.id, "drift-review:large")
    assert "observe refused" in set(project.audit_log()["action"])


@pytest.mark.slow
def test_observe_on_a_local_cluster_equals_the_synchronous_run(
    project, tmp_path, dask_client
):
    model, test = _model(project)
    twin = project.train("twin", project.asset("ref-train"), params={"n_estimators": 8},
                         seed=0)  # fmt: skip
    _logs(tmp_path / "logs", {0, 5}, seed=11)
    logs = project.data("logs", str(tmp_path / "logs" / "*.parquet"), time="ts")
    on_cluster = model.monitor(reference=test, chunk="D")
    obs = on_cluster.observe(logs, client=dask_client)
    assert {i for i, n in enumerate(obs.chunks["alerts"]) if n} == {0, 5}
    local = twin.monitor(reference=test, chunk="D")
    local.observe(logs, client="synchronous")
    a, b = on_cluster.review().payload, local.review().payload
    assert a["univariate"]["statistics"] == b["univariate"]["statistics"]
    assert a["chunks"] == b["chunks"]
