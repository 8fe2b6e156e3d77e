"""Any column name works end to end: export, variants, choice, bundle, server (13.1).

A user's table arrives with names like ``hours-per-week``, ``capital gain``,
``col[0]`` or ``a-b`` beside ``a_b``. Each stage of the IT Model Ops README runs on
such frames: ONNX export with parity, ONNX predictions, variants, a chosen variant's
edge bundle (its ``predict.py`` run as a real process) and the HTTP server (real
requests on 127.0.0.1), always speaking the original column names.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from column_name_strategies import column_names
from hypothesis import HealthCheck, Phase, assume, given, settings

import mlops_nb as mnb

TOKEN = "names-token-0123456789abcdef"
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TARGET = "target"
#: The names a user reported, and their hardest neighbours.
REPORTED = [
    "hours-per-week",
    "hours_per_week",
    "capital gain",
    "a.b",
    "col[0]",
    'say "hi"',
    "Ünïcödé",
    "1st",
    "label",
    "k" * 200,
    "a-b",
    "a_b",
    "a b",
    "back\\slash",
    "tab\tname",
]


def make_frame(names: list[str], n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Numeric and categorical columns under ``names``, and a learnable target."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    signal = np.zeros(n)
    for i, name in enumerate(names):
        if i % 3 == 2:
            values = rng.choice(["red", "green", "blue"], size=n).astype(object)
            values[rng.random(n) < 0.05] = None
            data[name] = pd.Series(values, dtype=object)
            signal += 0.5 * (values == "red")
        else:
            x = rng.normal(size=n)
            signal += x * (1 if i % 2 else -0.5)
            x[rng.random(n) < 0.05] = np.nan
            data[name] = x
    data[TARGET] = (signal + rng.normal(scale=0.7, size=n) > 0).astype(int)
    return pd.DataFrame(data)


def records(X: pd.DataFrame) -> list[dict]:
    """JSON rows under the original names (missing as null)."""
    out = []
    for rec in X.to_dict("records"):
        out.append(
            {
                k: None
                if v is None
                or v == "(missing)"
                or (isinstance(v, float) and np.isnan(v))
                else v
                for k, v in rec.items()
            }
        )
    return out


def post(url: str, body: object) -> tuple[int, dict]:
    port = int(url.rsplit(":", 1)[1])
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


def run_bundle(folder: Path, rows: list[dict], tmp: Path) -> dict:
    path = tmp / "rows.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(folder / "predict.py"), str(path)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def end_to_end(names: list[str], estimator: str, root: Path, *, memory: bool) -> None:
    """Every IT Model Ops stage on a frame whose columns are ``names``."""
    frame = make_frame(names)
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(root / "proj")
        asset = proj.data("named", frame, target=TARGET)
        train, test = asset.split(test=0.3, seed=0)
        params = {"n_estimators": 6} if estimator == "lightgbm" else {}
        model = proj.train("m", train, estimator=estimator, params=params)
        features = model.recipe["features"]
        used = [*features["numeric"], *features["categorical"]]
        assert set(used) <= set(names)
        export = model.export_onnx(check=test)
        assert export.parity["ok"], export.parity
        # the stored mapping: every column, a valid and unique graph name
        graph = {i["name"]: i["onnx_name"] for i in export.schema["inputs"]}
        assert list(graph) == used
        assert export.input_names == graph
        assert len(set(graph.values())) == len(graph)
        assert all(IDENTIFIER_PATTERN.match(g) for g in graph.values())
        np.testing.assert_allclose(
            export.predict_proba(test.frame), model.predict_proba(test.frame), atol=1e-5
        )
        kinds = ("graph", "pruned") if estimator == "lightgbm" else ("graph",)
        variants = model.optimize(
            test, kinds=kinds, energy=False, memory=memory, latency_seconds=0.01
        )
        assert not [r for r in variants.rows if r["status"] == "failed"], [
            (r["name"], r.get("note")) for r in variants.rows
        ]
        variant = variants.choose().variant
        assert variant is not None
        expected = variant.predict_proba(test.frame)
        rows = records(model._X(test.frame, "test"))
        bundle = variant.bundle(root / "edge" / "named")
        schema = json.loads((bundle.folder / "schema.json").read_text("utf-8"))
        assert [(i["name"], i["onnx_name"]) for i in schema["inputs"]] == list(
            graph.items()
        )
        out = run_bundle(bundle.folder, rows, root)
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-6)
        server = variant.serve(port=0, token=TOKEN, record=False)
        try:
            status, answer = post(server.url, rows)
        finally:
            server.stop()
        assert status == 200, answer
        np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-6)


@pytest.mark.parametrize("estimator", ["lightgbm", "logistic"])
def test_reported_names_work_end_to_end(estimator, tmp_path):
    end_to_end(REPORTED, estimator, tmp_path, memory=estimator == "lightgbm")


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # each try costs seconds
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(names=column_names(min_size=3, max_size=7))
@pytest.mark.parametrize("estimator", ["lightgbm", "logistic"])
def test_generated_names_work_end_to_end(estimator, names):
    assume(TARGET not in names)
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end(names, estimator, Path(tmp), memory=False)
