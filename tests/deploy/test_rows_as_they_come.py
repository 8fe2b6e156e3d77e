"""Rows as they come: declared id/time/target columns, unseen categories (13.7).

Rows a user sends come from the same table the model was trained on: they carry the
declared id (and the target, sensitive and time columns), and a category the
training rows never held. The edge bundle and the server accept the declared
columns (echoing the id per row, ignoring the target with a note), score an unseen
category as the model does in Python (unknown) and flag the row; ``strict`` keeps
the refusal, and an undeclared column is still refused.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.deploy import _standalone as std

TOKEN = "rows-token-0123456789abcdef"
UNSEEN = st.sampled_from(["purple", "XL", "", " red", "RED", "ultraviolet", "0"])


@pytest.fixture(scope="module")
def graph_variant(dep):
    """The export as a variant (the same predictions as the native model)."""
    with mnb.config_context(user="tester"):
        variants = dep.lgbm.optimize(
            dep.test, kinds=("graph",), energy=False, memory=False, latency_seconds=0.01
        )
    return variants.reference


@pytest.fixture(scope="module")
def edge(graph_variant, tmp_path_factory):
    with mnb.config_context(user="tester"):
        b = graph_variant.bundle(tmp_path_factory.mktemp("rows") / "clf")
    return b, std.Bundle(b.folder)


def plain(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


@st.composite
def batches(draw, frame):
    """Rows of the training table as users hold them, some categories never seen."""
    n = draw(st.integers(1, 8))
    start = draw(st.integers(0, len(frame) - n))
    part = frame.iloc[start : start + n]
    keep = draw(st.sets(st.sampled_from(["id", "y", "group"])))
    rows, planted = [], []
    for _, row in part.iterrows():
        rec = {k: plain(row[k]) for k in ("x1", "x2", "color", "size", *sorted(keep))}
        bad = []
        for col in ("color", "size"):
            if draw(st.booleans()) and draw(st.booleans()):
                rec[col] = draw(UNSEEN)
                bad.append(col)
        rows.append(rec)
        planted.append(bad)
    return rows, planted, keep


def native(model, rows):
    import pandas as pd

    frame = pd.DataFrame(rows)
    for col in ("color", "size"):
        frame[col] = frame[col].astype(object)
    return model.predict_proba(frame)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bundle_accepts_declared_columns_and_scores_unseen_as_the_model(
    edge, dep, data
):
    _, bundle = edge
    rows, planted, keep = data.draw(batches(dep.frame))
    out = bundle.predict(rows)
    # the model's own answer, unseen categories included
    np.testing.assert_allclose(out["probabilities"], native(dep.lgbm, rows), atol=1e-5)
    assert out["unseen_categories"] == planted  # flagged per row, nothing else
    if "id" in keep:
        assert out["id_column"] == "id"
        assert out["ids"] == [r["id"] for r in rows]  # echoed, in order
    else:
        assert "ids" not in out
    assert any("target" in n for n in out.get("notes", [])) == ("y" in keep)
    if any(planted):
        with pytest.raises(std.InputError) as err:
            bundle.predict(rows, strict=True)
        rules = {(p["row"], p["field"], p["rule"]) for p in err.value.problems}
        assert rules == {
            (r, c, "unseen_category") for r, cols in enumerate(planted) for c in cols
        }
    else:
        assert (
            bundle.predict(rows, strict=True)["probabilities"] == out["probabilities"]
        )
    extra = data.draw(st.sampled_from(["ssn", "Id", "y ", "prediction", "time"]))
    with pytest.raises(std.InputError) as err:
        bundle.predict([{**rows[0], extra: 1}])
    assert [(p["field"], p["rule"]) for p in err.value.problems] == [(extra, "extra")]


def run(folder, *argv):
    return subprocess.run(
        [sys.executable, str(folder / "predict.py"), *map(str, argv)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_predict_py_echoes_ids_and_flags_unseen_as_a_process(edge, dep, tmp_path):
    b, _ = edge
    part = dep.frame.iloc[:4]
    rows = [
        {k: plain(r[k]) for k in ("id", "x1", "x2", "color", "size", "y", "group")}
        for _, r in part.iterrows()
    ]
    rows[2]["color"] = "purple"
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    header = list(rows[0])
    lines = [",".join(header)] + [
        ",".join("" if r[k] is None else str(r[k]) for k in header) for r in rows
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    done = run(b.folder, tmp_path / "rows.json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ids"] == [r["id"] for r in rows]
    assert out["unseen_categories"] == [[], [], ["color"], []]
    assert "target" in done.stderr  # the note: the target column is ignored
    np.testing.assert_allclose(out["probabilities"], native(dep.lgbm, rows), atol=1e-5)
    done = run(b.folder, tmp_path / "rows.csv", "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.reader(io.StringIO(done.stdout)))
    assert table[0] == ["id", "prediction", "proba_0", "proba_1", "unseen_categories"]
    assert [r[0] for r in table[1:]] == [str(r["id"]) for r in rows]
    assert [r[-1] for r in table[1:]] == ["", "", "color", ""]
    strict = run(b.folder, tmp_path / "rows.json", "--strict")
    assert strict.returncode == 2
    assert "'purple'" in strict.stderr
    assert "unseen_category" in strict.stderr
    (tmp_path / "extra.json").write_text(json.dumps([{**rows[0], "ssn": "1-2-3"}]))
    extra = run(b.folder, tmp_path / "extra.json")
    assert extra.returncode == 2
    assert "'ssn'" in extra.stderr


def post(server, body):
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/predict",
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
    )
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def test_server_accepts_ids_flags_unseen_and_records_both(dep):
    rows = [
        {k: plain(r[k]) for k in ("id", "x1", "x2", "color", "size", "y", "group")}
        for _, r in dep.frame.iloc[10:16].iterrows()
    ]
    for r in rows:
        r["id"] = 100_000 + r["id"]  # ids the project never stored
    rows[1]["size"] = "XXL"
    rows[4]["color"] = "ultraviolet"
    with mnb.config_context(user="tester"):
        server = dep.lgbm.serve(
            port=0, token=TOKEN, record_rows=1000, record_seconds=600
        )
        strict = dep.lgbm.serve(port=0, token=TOKEN, record=False, strict=True)
        try:
            status, out = post(server, rows)
            assert status == 200, out
            assert out["ids"] == [r["id"] for r in rows]
            assert out["unseen_categories"] == [[], ["size"], [], [], ["color"], []]
            out_flags = out["unseen_categories"]
            assert any("target" in n for n in out["notes"])
            np.testing.assert_allclose(
                out["probabilities"], native(dep.lgbm, rows), atol=1e-5
            )
            status, refused = post(strict, rows)
            assert status == 422
            assert {(p["row"], p["field"]) for p in refused["problems"]} == {
                (1, "size"),
                (4, "color"),
            }
            status, refused = post(server, [{**rows[0], "ssn": "1"}])
            assert status == 422
            assert refused["problems"][0]["rule"] == "extra"
            # the declared columns are optional: bare inputs still work
            bare = [{k: r[k] for k in ("x1", "x2", "color", "size")} for r in rows]
            status, out = post(server, bare[:2])
            assert status == 200
            assert "ids" not in out
        finally:
            server.stop()
            strict.stop()
    assert len(server.recorded_versions) == 1  # one flush, on stop: this batch only
    served = dep.project.asset("clf-served", server.recorded_versions[-1]).frame
    assert len(served) == len(rows) + 2
    assert served["id"].tolist()[: len(rows)] == [r["id"] for r in rows]
    assert served["id"].iloc[len(rows) :].isna().all()
    # flagged per row; the bare rows repeat rows[0] and rows[1] (unseen size)
    flags = [bool(u) for u in out_flags] + [False, True]
    assert served["unseen_category"].tolist() == flags
    assert served["group"].tolist()[: len(rows)] == [r["group"] for r in rows]
    assert "y" not in served.columns  # the target is ignored, not stored
