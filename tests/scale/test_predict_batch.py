"""Issue 17 item 4: ``model.predict_batch(large, to=...)`` — partitioned parquet scored
by ONNX Runtime, ids passed through, decisions at the model's threshold, tampered
partitions refused before anything is scored, one session per worker process.

The fast tests score in this process (``client="local"``, the very function the
workers run); the slow one runs on the session's LocalCluster.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _partitions import flip_byte
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.deploy import _batch
from mlops_nb.errors import IntegrityError, ValidationError
from mlops_nb.sustain._ledger import ledger_entries


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    color = rng.choice(["red", "blue", "green"], size=n).astype(object)
    return pd.DataFrame(
        {
            "request_id": rng.permutation(10 * n)[:n].astype("int64"),  # not in order
            "x": x,
            "color": pd.Series(color, dtype=object),
            "y": (x + 0.4 * (color == "red") + rng.normal(size=n) > 0.3).astype(int),
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project, a logistic model trained by the library, and fresh rows to score."""
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("batch") / "p")
        train = proj.data("train", _frame(400, 0), target="y", id="request_id")
        model = proj.train("m", train, estimator="logistic")
    rows = _frame(300, 1).drop(columns="y")
    return proj, model, rows


def _write_parts(folder: Path, rows: pd.DataFrame, cuts: list[int]) -> list:
    """Split ``rows`` at ``cuts`` (empty partitions allowed) into parquet files."""
    folder.mkdir(parents=True)
    bounds = [0, *sorted(cuts), len(rows)]
    parts = [rows.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    for i, part in enumerate(parts):
        part.to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return parts


def _planted(scores: np.ndarray, low: bool) -> float:
    """A threshold in the widest gap between scores on one side of 0.5."""
    s = np.unique(scores)
    s = s[(s > 0.05) & (s < 0.45)] if low else s[(s > 0.55) & (s < 0.95)]
    gaps = np.diff(s)
    i = int(np.argmax(gaps))
    assert gaps[i] > 1e-4  # much wider than float32 rounding
    return float((s[i] + s[i + 1]) / 2)


def _snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }


cuts_strategy = st.lists(st.integers(0, 300), min_size=1, max_size=5)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cuts=cuts_strategy, low=st.booleans())
def test_scores_ids_and_decisions_per_partition(trained, request, cuts, low):
    proj, model, rows = trained
    p = model.predict_proba(rows)[:, 1]
    t = _planted(p, low)
    with mnb.config_context(user="tester"):
        model.set_threshold(t, reason="planted between two scores")
    expected = p >= t
    assert (expected != (p >= 0.5)).any()  # some rows decide otherwise at 0.5
    tmp = Path(tempfile.mkdtemp())
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    parts = _write_parts(tmp / "in", rows, cuts)
    with mnb.config_context(user="tester"):
        large = proj.data("logs", tmp / "in", id="request_id")
        assert large.is_large
        result = model.predict_batch(large, tmp / "out", client="local")
    assert result.rows == len(rows)
    assert result.threshold["value"] == t
    files = sorted((tmp / "out").glob("part-*.parquet"))
    assert [f.name for f in files] == [
        f"part-{i:05d}.parquet" for i in range(len(parts))
    ]
    start = 0
    for f, part in zip(files, parts, strict=True):
        got = pd.read_parquet(f)
        assert list(got.columns) == ["request_id", "score", "decision"]
        # ids passed through, in the partition's order
        assert got["request_id"].tolist() == part["request_id"].tolist()
        want = p[start : start + len(part)]
        np.testing.assert_allclose(got["score"], want, atol=1e-6, rtol=0)
        assert (
            got["decision"].tolist()
            == expected[start : start + len(part)].astype(int).tolist()
        )
        start += len(part)
    summary = json.loads((tmp / "out" / "_batch.json").read_text())
    assert summary["threshold"]["value"] == t
    assert summary["rows"] == len(rows)
    assert [x["rows"] for x in summary["files"]] == [len(q) for q in parts]


def test_small_version_and_frame_give_the_large_versions_output(trained, tmp_path):
    proj, model, rows = trained
    _write_parts(tmp_path / "in", rows, [100, 100, 230])
    with mnb.config_context(user="tester"):
        large = proj.data("logs-b", tmp_path / "in", id="request_id")
        small = proj.data("small", rows, id="request_id")
        model.predict_batch(large, tmp_path / "large", client="local")
        model.predict_batch(small, tmp_path / "small")
        frame_result = model.predict_batch(rows, tmp_path / "frame")
    whole = pd.read_parquet(tmp_path / "large").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "small"), whole)
    # a frame without an id role: the row's position in the source
    by_row = pd.read_parquet(tmp_path / "frame")
    assert frame_result.id == "row"
    assert by_row["row"].tolist() == list(range(len(rows)))
    pd.testing.assert_frame_equal(
        by_row[["score", "decision"]], whole[["score", "decision"]]
    )
    # the row numbers of a large version without ids run on across partitions
    with mnb.config_context(user="tester"):
        no_ids = proj.data("logs-c", tmp_path / "in", id=None)
        model.predict_batch(no_ids, tmp_path / "rows", client="local", id=None)
    assert pd.read_parquet(tmp_path / "rows")["row"].tolist() == list(range(len(rows)))


def _trained_on(tmp_path: Path, task: str, seed: int) -> tuple:
    """A model of ``task`` (binary, multiclass, regression) and rows to score."""
    frame = _frame(300, seed)
    if task == "multiclass":
        frame["y"] = np.digitize(frame["x"], [-0.5, 0.5])
    elif task == "regression":
        frame["y"] = 2.0 * frame["x"] + (frame["color"] == "red")
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        data = proj.data("d", frame, target="y", id="request_id")
        model = proj.train(
            "m", data, estimator="linear" if task == "regression" else "logistic"
        )
    return model, frame.drop(columns="y")


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_multiclass_and_regression_scores(tmp_path, task):
    model, rows = _trained_on(tmp_path, task, 2)
    with mnb.config_context(user="tester"):
        model.predict_batch(rows, tmp_path / "out", id="request_id")
    got = pd.read_parquet(tmp_path / "out")
    assert got["request_id"].tolist() == rows["request_id"].tolist()
    if task == "regression":
        assert list(got.columns) == ["request_id", "score"]
        np.testing.assert_allclose(
            got["score"], model.predict(rows), atol=1e-4, rtol=1e-5
        )
    else:
        proba = model.predict_proba(rows)
        np.testing.assert_allclose(got["score"], proba.max(axis=1), atol=1e-6, rtol=0)
        assert got["decision"].tolist() == model.predict(rows).tolist()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_rows_fed_in_blocks_score_as_one_run(tmp_path, monkeypatch, task):
    """A partition is fed to ONNX Runtime in blocks (its arena keeps the largest run's
    memory): block edges, a last short block and one-row blocks change no output."""
    model, rows = _trained_on(tmp_path, task, 3)
    with mnb.config_context(user="tester"):
        assert len(rows) < _batch.BLOCK_ROWS
        model.predict_batch(rows, tmp_path / "one", id="request_id")
        outputs = {}
        for block in (1, 7, 299):
            monkeypatch.setattr(_batch, "BLOCK_ROWS", block)
            model.predict_batch(rows, tmp_path / f"b{block}", id="request_id")
            outputs[block] = pd.read_parquet(tmp_path / f"b{block}")
    one = pd.read_parquet(tmp_path / "one")
    assert len(one) == len(rows)
    for got in outputs.values():
        pd.testing.assert_frame_equal(got, one)


@pytest.mark.parametrize("bad", [0, 2, 3])
def test_a_tampered_partition_is_refused_before_anything_is_written(
    trained, tmp_path, bad
):
    proj, model, rows = trained
    _write_parts(tmp_path / "in", rows, [60, 150, 200])
    earlier = tmp_path / "earlier"
    with mnb.config_context(user="tester"):
        large = proj.data(f"logs-t{bad}", tmp_path / "in", id="request_id")
        model.predict_batch(large, earlier, client="local")
    kept = _snapshot(earlier)
    digest = json.loads(proj._store.read_blob(large.artifact))["partitions"][bad][
        "sha256"
    ]
    flip_byte(proj, digest)
    before = len(ledger_entries(proj))
    name = f"partition {bad} \\('part-{bad:02d}.parquet'\\)"
    with pytest.raises(IntegrityError, match=name):
        model.predict_batch(large, tmp_path / "out", client="local")
    assert not (tmp_path / "out").exists()
    # nor are an earlier batch's files replaced when overwriting was asked for
    with pytest.raises(IntegrityError, match=name):
        model.predict_batch(large, earlier, client="local", overwrite=True)
    assert _snapshot(earlier) == kept
    assert len(ledger_entries(proj)) == before  # no scoring recorded


@pytest.mark.parametrize(
    "planted", ["part-00000.parquet", "_batch.json", "notes.txt", "sub/x.csv"]
)
def test_to_holding_files_is_refused_unless_overwriting_a_batch(
    trained, tmp_path, planted
):
    _proj, model, rows = trained
    out = tmp_path / "out"
    (out / planted).parent.mkdir(parents=True, exist_ok=True)
    (out / planted).write_bytes(b"keep me")
    before = _snapshot(out)
    with pytest.raises(ValidationError, match="already holds 1 file"):
        model.predict_batch(rows, out)
    assert _snapshot(out) == before
    if planted in ("notes.txt", "sub/x.csv"):  # not a batch's file: never replaced
        with pytest.raises(ValidationError, match="did not write"):
            model.predict_batch(rows, out, overwrite=True)
        assert _snapshot(out) == before
        return
    # an earlier batch with more partitions: overwrite leaves no stale file behind
    (out / "part-00007.parquet").write_bytes(b"stale")
    model.predict_batch(rows, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "_batch.json",
        "part-00000.parquet",
    ]


def test_ledger_and_audit_count_the_predictions(trained, tmp_path):
    proj, model, rows = trained
    _write_parts(tmp_path / "in", rows, [120])
    with mnb.config_context(user="tester"):
        large = proj.data("logs-l", tmp_path / "in", id="request_id")
        result = model.predict_batch(large, tmp_path / "out", client="local")
    entry = ledger_entries(proj)[-1]
    assert entry["stage"] == "predict"
    assert entry["predictions"] == len(rows)
    assert entry["object"] == f"model:{model.name}@{model.version}"
    log = proj.audit_log()
    row = log[log["action"] == "predict batch"].iloc[0]
    detail = json.loads(row["detail"])
    assert detail["rows"] == len(rows)
    assert detail["files"] == 2
    assert detail["threshold"] == model.threshold
    assert f"{len(rows)} rows scored into 2 file(s)" in repr(result)


def test_bad_client_and_source_are_refused(trained, tmp_path):
    proj, model, rows = trained
    with pytest.raises(ValidationError, match="DataAsset or a pandas DataFrame"):
        model.predict_batch(rows.to_dict("list"), tmp_path / "o")
    with pytest.raises(ValidationError, match="not a column"):
        model.predict_batch(rows, tmp_path / "o", id="nope")
    _write_parts(tmp_path / "in", rows, [150])
    with mnb.config_context(user="tester"):
        large = proj.data("logs-x", tmp_path / "in", id="request_id")
    with pytest.raises(ValidationError, match=r"not a dask\.distributed Client"):
        model.predict_batch(large, tmp_path / "o", client=42)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_on_a_cluster_one_session_per_worker_never_pickled(tmp_path, dask_client):
    frame = _frame(600, 5)
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        data = proj.data("train", frame, target="y", id="request_id")
        model = proj.train("m-cluster", data, estimator="logistic")
        rows = _frame(900, 6).drop(columns="y")
        parts = _write_parts(tmp_path / "in", rows, [100, 250, 250, 400, 700, 800])
        large = proj.data("logs", tmp_path / "in", id="request_id")
        first = model.predict_batch(large, tmp_path / "a", client=dask_client)
        # a scheduler address: connects its own client, closes it afterwards
        second = model.predict_batch(
            large, tmp_path / "b", client=dask_client.scheduler.address
        )
        third = model.predict_batch(large, tmp_path / "c")  # the default client
    digest = first.model.export_onnx().digest
    counts = dask_client.run(_batch.session_counts)
    workers = {c["pid"]: c["created"].get(digest, 0) for c in counts.values()}
    scored_by = {f["pid"] for r in (first, second, third) for f in r.files}
    assert scored_by <= set(workers)
    assert os.getpid() not in scored_by
    # created once in each worker that scored, reused by every later partition/batch
    assert all(workers[pid] == 1 for pid in scored_by)
    assert digest not in _batch.session_counts()["created"]  # not in this process
    with pytest.raises(TypeError, match="pickle"):  # why only bytes travel
        pickle.dumps(first.model.export_onnx().session())
    p = model.predict_proba(rows)[:, 1]
    for folder in ("a", "b", "c"):
        got = pd.read_parquet(tmp_path / folder)
        assert got["request_id"].tolist() == rows["request_id"].tolist()
        np.testing.assert_allclose(got["score"], p, atol=1e-6, rtol=0)
        assert got["decision"].tolist() == model.predict(rows).tolist()
    assert [f["rows"] for f in first.files] == [len(q) for q in parts]
    # a tampered partition on the cluster: refused, nothing written
    flip_byte(
        proj,
        json.loads(proj._store.read_blob(large.artifact))["partitions"][4]["sha256"],
    )
    with pytest.raises(IntegrityError, match=r"partition 4 \('part-04.parquet'\)"):
        model.predict_batch(large, tmp_path / "d", client=dask_client)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("pick", [0.2, 0.5, 0.8])
def test_a_score_exactly_at_the_threshold_is_decided_positive(trained, tmp_path, pick):
    """``>=``: a row whose ONNX score equals the threshold takes the positive class,
    as the ONNX export's own ``predict`` (the same float32 scores) decides."""
    _proj, model, rows = trained
    with mnb.config_context(user="tester"):
        model.predict_batch(rows, tmp_path / "first")
    scores = pd.read_parquet(tmp_path / "first")["score"].to_numpy()
    at = int(np.argsort(scores)[int(pick * (len(scores) - 1))])
    with mnb.config_context(user="tester"):
        model.set_threshold(float(scores[at]), reason="exactly one row's score")
        model.predict_batch(rows, tmp_path / "second")
    got = pd.read_parquet(tmp_path / "second")
    assert got["decision"].iloc[at] == 1
    assert (got["decision"] == (scores >= scores[at])).all()
    exported = model.export_onnx().predict(rows)
    assert got["decision"].tolist() == exported.tolist()
