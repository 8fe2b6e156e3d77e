from __future__ import annotations

import math
import re
import socket

import pytest

from _helpers import reopen
from mlops_nb import errors

REMOTE = re.compile(
    r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)


@pytest.fixture
def no_sockets(monkeypatch, request, team_store):
    """Record every socket bound, listened on or connected (a dashboard would).

    On a team store, connections to the project's own database and S3 server are
    the store at work, not network use of the explanation: they are not recorded.
    """
    calls = []
    store = set()
    if team_store:
        from urllib.parse import urlsplit

        for url in (request.getfixturevalue(f) for f in ("pg_server", "s3_server")):
            parts = urlsplit(url)
            store.add((parts.hostname, parts.port))
    for name in ("bind", "listen", "connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def spy(self, *args, _name=name, _original=original):
            to_store = _name.startswith("connect") and tuple(args[0][:2]) in store
            if not to_store:
                calls.append((_name, args))
            return _original(self, *args)

        monkeypatch.setattr(socket.socket, name, spy)
    return calls


def test_black_box_explanation_ranks_the_planted_feature_first(clean, no_sockets):
    exp = clean["model"].explain(clean["test"])
    imp = exp.to_frame()
    assert (
        imp["feature"].iloc[0] == "x1"
    )  # the scenario's strongest effect (coefficient 1.0)
    assert set(imp["feature"]) == set(clean["model"].features)
    assert (
        imp.set_index("feature").loc["x4", "importance"] < imp["importance"].iloc[0] / 3
    )  # x4 has no effect
    assert "Morris" in exp.payload["method"]
    assert len(exp.payload["shapes"]) == 4
    html = exp.to_html()
    assert "Global importance" in html
    assert not REMOTE.search(html)
    assert "window.Plotly" in html
    assert no_sockets == []  # no interpret dashboard, no network


def test_ebm_uses_its_own_term_importances(project):
    from mlops_nb.datasets import scenario

    data = project.data(
        "s",
        scenario(3000, seed=1).frame.drop(columns=["timestamp"]),
        target="y",
        id="id",
    )
    model = project.train("ebm", data, estimator="ebm", params={"n_jobs": 1})
    exp = model.explain(data, top=2)
    assert exp.payload["method"].startswith("EBM term importances")
    assert exp.to_frame()["feature"].iloc[0] == "x1"
    local = model.explain(data.frame.iloc[[0, 1]])
    row = local.payload["rows"][0]
    logit = row["base"] + sum(row["contributions"].values())  # exact: EBM terms add up
    p = model.predict_proba(data.frame.iloc[[0]])[0, 1]
    assert 1 / (1 + math.exp(-logit)) == pytest.approx(p, abs=1e-6)


def test_local_explanation_adds_up_and_what_if_moves_the_prediction(clean, no_sockets):
    model, test = clean["model"], clean["test"]
    rows = test.frame.iloc[[0, 1]]
    local = model.explain(rows)
    r = local.payload["rows"][0]
    assert r["prediction"] == pytest.approx(model.predict_proba(rows.iloc[[0]])[0, 1])
    assert r["base"] + sum(r["contributions"].values()) == pytest.approx(
        r["prediction"], abs=1e-9
    )
    wi = local.what_if()
    start = wi.prediction
    x1 = wi.controls["x1"]
    x1.value = x1.max  # the strongest positive effect
    assert wi.prediction > start + 0.1
    assert wi.contributions.set_index("input").loc["x1", "contribution"] > 0
    wi.controls["region"].value = "west"
    assert set(wi.controls["region"].options) == {"north", "south", "east", "west"}
    wi.reset()
    assert wi.prediction == pytest.approx(start)
    box = local.widget()
    assert box.what_if.controls.keys() == wi.controls.keys()
    assert "What-if" in local.to_html()
    assert "What-if" in wi.to_html()
    assert no_sockets == []


def test_pipelines_with_categories_are_explained(project, tiny_asset):
    model = project.train(
        "lin", tiny_asset, estimator="logistic"
    )  # one-hot 'color': isnan fails without decoding
    exp = model.explain(tiny_asset, sample_rows=200)
    assert set(exp.to_frame()["feature"]) == {"x1", "x2", "color"}
    assert exp.to_frame()["feature"].iloc[0] == "x1"
    assert "color" in exp.payload["shapes"] or len(exp.payload["shapes"]) == 3


def test_explanations_are_stored_and_errors_say_what_to_do(clean):
    model, test = clean["model"], clean["test"]
    first = model.explain(test)
    again = (
        reopen(clean["project"]).model("credit", version=model.version).explain(test)
    )
    assert again.payload == first.payload
    with pytest.raises(errors.ValidationError, match="1 to 20 rows"):
        model.explain(test.frame)
    with pytest.raises(errors.ValidationError, match="target_class"):
        model.explain(test.frame.iloc[[0]], target_class="maybe")


def test_the_same_seed_gives_the_same_global_explanation(clean):
    """Morris trajectories and their bootstrap are seeded: a live kernel and a report
    (each with its own global random state) rank the features the same way."""
    import numpy as np

    from mlops_nb.human._explainer import Explainer

    X = clean["test"].frame.sample(300, random_state=0)
    runs = []
    for state in (1, 2):
        np.random.seed(state)  # what other code in the kernel may have done
        ex = Explainer(clean["model"], None, 0)
        runs.append(ex.explain_global(ex.typed(X), 4)["importances"])
    assert runs[0] == runs[1]
    ex = Explainer(clean["model"], None, 1)
    other = ex.explain_global(ex.typed(X), 4)["importances"]
    assert other != runs[0]  # the seed is what fixes them
