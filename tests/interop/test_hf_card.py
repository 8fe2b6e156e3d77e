"""Model cards as ``huggingface_hub.ModelCard``: validated metadata, offline."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.human._hf_card import card_data


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "group": rng.choice(["A", "B"], size=n),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


def _loaded(path):
    from huggingface_hub import ModelCard

    return ModelCard.load(path)


@pytest.fixture
def evaluated(project):
    data = project.data("null", _frame(), target="y", sensitive="group")
    train, test = data.split(test=0.3, seed=0)
    model = project.train("1e3", train, estimator="logistic")
    model.evaluate(test)
    return {"model": model, "train": train, "test": test}


def test_card_round_trips_through_huggingface_hub(evaluated, tmp_path):
    from huggingface_hub import ModelCard

    model, train, test = evaluated["model"], evaluated["train"], evaluated["test"]
    card = model.card()
    hf = card.to_huggingface()
    assert isinstance(hf, ModelCard)
    path = card.push_to_hub_format(tmp_path / "cards" / "credit")
    assert path == tmp_path / "cards" / "credit" / "README.md"
    back = _loaded(path)
    assert back.data.to_dict() == hf.data.to_dict()
    meta = back.data
    # YAML-looking names ("null", "1e3") stay text
    assert meta.model_name == "1e3 v1"
    assert meta.library_name == "mlops_nb"
    assert "license" not in meta.to_dict()
    assert {"sklearn", "logistic", "tabular-classification"} <= set(meta.tags)
    assert meta.datasets == [train.label]
    [version] = meta.to_dict()["mlops_nb"]["data_versions"]
    assert version == {
        "name": train.name,
        "version": train.version,
        "sha256": train.content_hash,
        "rows": train.n_rows,
    }
    [evaluation] = model.evaluations()
    results = {r.metric_type: r for r in meta.eval_results}
    assert set(results) == set(evaluation.headline())
    for metric, r in results.items():
        assert r.metric_value == pytest.approx(evaluation.metrics[metric], abs=0)
        assert r.dataset_name == test.label
        assert r.dataset_type == test.name
        assert r.dataset_split == "test"
        assert r.dataset_revision == test.content_hash
        assert r.task_type == "tabular-classification"
    # the body carries the card's sections
    for heading in (
        "## Uses / Direct Use",
        "## Bias, Risks, and Limitations",
        "## Bias, Risks, and Limitations / Fairness",
        "## Environmental Impact",
        "## Training Details / Training Data",
    ):
        assert heading in back.text
    assert train.content_hash in back.text


def test_fairness_and_licence_reach_the_card(evaluated, tmp_path):
    model, test = evaluated["model"], evaluated["test"]
    model.fairness(test, n_boot=20)
    card = model.card()
    path = card.push_to_hub_format(tmp_path, license="apache-2.0")
    back = _loaded(path)
    assert back.data.license == "apache-2.0"
    fairness = back.text.split("## Bias, Risks, and Limitations / Fairness", 1)[1]
    fairness = fairness.split("\n## ", 1)[0]
    assert "DP difference" in fairness
    assert "Gap" not in fairness


NAME = st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,30}", fullmatch=True
) | st.sampled_from(["null", "true", "no", "1e3", "0x1F", "1.0", ".inf", "on", "yes"])
METRIC = st.sampled_from(["roc_auc", "accuracy", "f1", "log_loss", "rmse", "r2", "mae"])
VALUE = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def facts(draw):
    data = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": NAME,
                    "version": st.integers(1, 999),
                    "sha256": st.text("0123456789abcdef", min_size=64, max_size=64),
                    "rows": st.integers(0, 10**9),
                }
            ),
            max_size=3,
        )
    )
    results = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "data_name": st.shared(NAME, key="data") | NAME,
                    "version": st.integers(1, 3),
                    "split": st.none() | st.sampled_from(["test", "train"]),
                    "sha256": st.none()
                    | st.text("0123456789abcdef", min_size=64, max_size=64),
                    "metrics": st.dictionaries(METRIC, VALUE, max_size=4),
                }
            ),
            max_size=3,
        )
    )
    for r in results:  # labels as the project writes them
        r["data_label"] = f"{r['data_name']} v{r.pop('version')}"
    return {
        "model": draw(NAME.map(lambda n: f"{n} v2")),
        "task": draw(st.sampled_from(["binary", "multiclass", "regression"])),
        "estimator": draw(
            st.sampled_from(["lightgbm", "logistic", "ebm", "random_forest"])
        ),
        "family": "",
        "data": data,
        "metrics": sorted({m for r in results for m in r["metrics"]}),
        "results": results,
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=facts(), license=st.none() | st.sampled_from(["mit", "apache-2.0"]))
def test_metadata_round_trips_for_generated_cards(facts, license, tmp_path_factory):
    from huggingface_hub import ModelCard

    data = card_data(facts, license=license)
    path = tmp_path_factory.mktemp("card") / "README.md"
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n# card\n").save(path)
    back = ModelCard.load(path).data
    assert back.to_dict() == data.to_dict()
    assert back.model_name == facts["model"]
    assert back.license == license
    assert back.library_name == "mlops_nb"
    framework = {"lightgbm": "lightgbm", "ebm": "interpret"}.get(
        facts["estimator"], "sklearn"
    )
    assert framework in back.tags
    assert back.datasets == (
        sorted({f"{d['name']} v{d['version']}" for d in facts["data"]}) or None
    )
    assert back.to_dict().get("mlops_nb", {}).get("data_versions") == facts["data"]
    # one result set per data version (hash, else label): the newest evaluation wins
    newest = {}
    for r in facts["results"]:
        newest[(r["data_name"], r["split"], r["sha256"] or r["data_label"])] = r
    expected = [
        (r["data_label"], name, split, revision, m, v)
        for (name, split, revision), r in newest.items()
        for m, v in r["metrics"].items()
        if math.isfinite(v)
    ]
    got = [
        (
            e.dataset_name,
            e.dataset_type,
            e.dataset_split,
            e.dataset_revision,
            e.metric_type,
            e.metric_value,
        )
        for e in back.eval_results or []
    ]
    assert got == expected


def test_hub_is_offline_and_not_imported_by_mlops_nb(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
    }
    code = (
        "import json, sys, mlops_nb\n"
        "before = 'huggingface_hub' in sys.modules\n"
        "from mlops_nb.human._hf_card import card_data\n"
        "data = card_data({'model': 'm v1', 'task': 'binary', 'estimator': 'lightgbm',"
        " 'family': 'lightgbm', 'data': [], 'metrics': [], 'results': []})\n"
        "import huggingface_hub.constants as c\n"
        "print(json.dumps([before, c.HF_HUB_OFFLINE, c.HF_HUB_DISABLE_TELEMETRY]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True, True]
