"""Issue 15 item 2: the served answer, the ONNX export and the edge bundle's
predict.py decide at the model's threshold, and say which one.

A threshold is planted halfway between two scores of the test rows (far from 0.5,
with a gap much wider than ONNX's float32 rounding), so rows just below and just above
it must flip between the two classes wherever the model decides.
"""

from __future__ import annotations

import http.client
import json

import numpy as np
import pandas as pd
import pytest
from test_edge_bundle import run_isolated

import mlops_nb as mnb

TOKEN = "t" * 24


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "color": rng.choice(["red", "blue"], size=n).astype(object),
            "y": (x + rng.normal(scale=1.0, size=n) > 0.3).astype(int),
        }
    )


def _planted(scores: np.ndarray, low: bool) -> float:
    """A threshold in the widest gap between scores on one side of 0.5."""
    s = np.unique(scores[(scores > 0.05) & (scores < 0.45)] if low else scores)
    if not low:
        s = s[(s > 0.55) & (s < 0.95)]
    gaps = np.diff(s)
    i = int(np.argmax(gaps))
    assert gaps[i] > 1e-4
    return float((s[i] + s[i + 1]) / 2)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("thr") / "p")
        asset = proj.data("d", _frame(), target="y")
        train, test = asset.split(test=0.3, seed=0, stratify="y")
        model = proj.train("m", train, estimator="logistic")
        variants = model.optimize(
            test, kinds=(), energy=False, memory=False, latency_seconds=0.02
        )
    rows = test.frame.drop(columns="y").head(120)
    return model, variants.reference, rows, model.predict_proba(rows)[:, 1]


def _post(server, rows: list[dict]) -> dict:
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST",
        "/predict",
        body=json.dumps(rows),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
    )
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 200, body
    return body


@pytest.mark.parametrize("low", [True, False])
def test_served_exported_and_bundled_decisions_flip_at_the_threshold(
    served, tmp_path, low
):
    model, reference, rows, p = served
    t = _planted(p, low)
    with mnb.config_context(user="tester"):
        model.set_threshold(t, reason="planted between two scores")
    expected = (p >= t).astype(int).tolist()
    assert expected != (p >= 0.5).astype(int).tolist()  # some rows flip
    assert model.predict(rows).tolist() == expected
    records = rows.to_dict("records")

    # the ONNX export answers as the model does
    assert model.export_onnx().predict(rows).tolist() == expected

    # the HTTP service: decisions, and the threshold it used
    with mnb.config_context(user="tester"):
        server = model.serve(port=0, token=TOKEN, record=False)
    try:
        answer = _post(server, records)
        meta_rule = server.schema["model"]["threshold"]
        facts = dict(server._facts())
    finally:
        server.stop()
    assert answer["predictions"] == expected
    assert answer["threshold"] == {
        "value": t,
        "positive_class": 1,
        "source": "set",
    }
    assert meta_rule["value"] == t
    assert f"{t:.4g}" in facts["decides at"]

    # the edge bundle: the threshold in schema.json, predict.py decides with it,
    # in a process where mlops_nb cannot be imported
    with mnb.config_context(user="tester"):
        bundle = reference.bundle(tmp_path / "edge")
    schema = json.loads((bundle.folder / "schema.json").read_text())
    assert schema["model"]["threshold"]["value"] == t
    assert schema["model"]["threshold"]["source"] == "set"
    assert f"{t:.4g}" in (bundle.folder / "README.md").read_text()
    (tmp_path / "rows.json").write_text(json.dumps(records))
    out = run_isolated(
        [["rows", str(bundle.folder), [str(tmp_path / "rows.json")]]], tmp_path
    )
    assert out["rows"]["code"] in (0, None), out["rows"]["err"]
    result = json.loads(out["rows"]["out"])
    assert result["predictions"] == expected
    assert result["threshold"]["value"] == t
    assert "mlops_nb" not in out["_modules"]
