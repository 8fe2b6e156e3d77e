"""Issue 15 items 5 and 8: names people read in the Project view's audit log and the
model card's Training procedure, not internal codes.

- Audit objects: ``onnx:clf@1@1`` reads "ONNX export of model clf v1",
  ``monitor:clf@v1@1`` "monitor of model clf v1", ``model:clf@2`` "model clf v2".
- The card's Training procedure names each validation metric in words.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb._project import _readable_audit
from mlops_nb._readable import DOCUMENT_WORDS, readable_object

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
versions = st.integers(min_value=1, max_value=10_000)
model_kinds = st.sampled_from(
    ["onnx", "xmo", "monitor", "model-signature", "release-signoff", "model-card-notes"]
)


@settings(max_examples=200, deadline=None)
@given(names, versions, versions, model_kinds, st.booleans())
def test_documents_of_a_model_version_read_as_words(name, v, rev, kind, with_v):
    entry = f"{kind}:{name}@{'v' if with_v else ''}{v}@{rev}"
    words = DOCUMENT_WORDS[kind]
    revision = f", revision {rev}" if rev > 1 else ""
    assert readable_object(entry) == f"{words} of model {name} v{v}{revision}"


@settings(max_examples=100, deadline=None)
@given(names, versions, st.sampled_from(["model", "asset"]))
def test_versions_read_as_kind_name_version(name, v, kind):
    assert readable_object(f"{kind}:{name}@{v}") == f"{kind} {name} v{v}"
    assert readable_object(f"{kind}:{name} v{v}") == f"{kind} {name} v{v}"
    assert readable_object(f"{kind}:{name}") == f"{kind} {name}"


@settings(max_examples=50, deadline=None)
@given(names, versions, names, versions)
def test_waivers_annotations_and_project_documents(model, v, item, rev):
    waiver = readable_object(f"release-waiver:{model}@{v}:{item}@{rev}")
    assert waiver.startswith(f"release waiver ({item}) of model {model} v{v}")
    note = readable_object(f"annotation:{model}@{v}/label/{item}@{rev}")
    assert note.startswith(f"annotation label/{item} of asset {model} v{v}")
    assert readable_object(f"canvas:canvas@{rev}") == f"value canvas v{rev}"
    assert readable_object(f"release-checklist:project@{rev}") == (
        f"release checklist v{rev}"
    )


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {"x": x, "z": rng.normal(size=n), "y": (x + rng.normal(size=n) > 0).astype(int)}
    )


def test_project_view_names_exports_and_monitors_and_card_metrics(tmp_path):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        asset = proj.data("d", _frame(), target="y")
        train, test = asset.split(test=0.3, seed=0, stratify="y")
        model = proj.train("clf", train, estimator="logistic")
        model.export_onnx(check=test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small reference data: nannyml warns
            model.monitor(reference=test)
        card = model.card()
    objects = _readable_audit(proj.audit_log())["object"].tolist()
    assert "ONNX export of model clf v1" in objects
    assert "monitor of model clf v1" in objects
    assert "model clf v1" in objects
    assert not [o for o in objects if "@" in o or ":" in o], objects
    with mnb.config_context(display="html"):
        html = proj._repr_mimebundle_()["text/html"]
    assert "ONNX export of model clf v1" in html
    assert "onnx clf@1" not in html

    from mlops_nb.human._card_sections import procedure_section

    facts = dict(procedure_section(model).facts)
    shown = [k for k in facts if k.startswith("validation ")]
    assert len(shown) == len(model.metrics["validation"]["metrics"]) >= 5
    for key in shown:  # words, not metric keys
        assert not re.search(r"[a-z]_[a-z]", key), key
    assert "validation balanced accuracy" in facts
    assert "validation Brier score" in facts
    card_html = card._repr_mimebundle_()["text/html"]
    assert "validation Brier score" in card_html
    assert "balanced_accuracy" not in card_html.replace('title="balanced_accuracy"', "")
