from __future__ import annotations

import re

import pytest
import yaml

from mlops_nb import errors

PLACEHOLDERS = re.compile(r"More Information Needed|TBD|TODO|lorem|\[Your", re.I)


def test_a_bare_model_card_lists_its_gaps_honestly(project, tiny_asset):
    model = project.train("bare", tiny_asset, estimator="logistic")
    card = model.card()
    gaps = {g["section"] for g in card.gaps}
    assert {
        "Intended use",
        "Out-of-scope use",
        "Limitations",
        "Evaluation",
        "Fairness",
        "Explanations",
        "Environmental impact",
        "Export and serving",
        "Monitoring plan",
    } <= gaps
    missing = " ".join(card.missing_required())
    assert "intended use" in missing
    assert "limitations" in missing
    assert "metrics with intervals" in missing
    md = card.to_markdown()
    assert not PLACEHOLDERS.search(md)
    assert md.count("> **Gap:**") == len(card.gaps)
    # what is recorded is there: the data version and its content hash
    assert tiny_asset.content_hash in md
    assert "## Training Details / Training Data" in md


def test_card_sections_come_from_recorded_facts(clean, tmp_path):
    proj, model, test = clean["project"], clean["model"], clean["test"]
    proj.canvas(
        process="Approve small loans",
        value_level="optimize",
        positive_class=1,
        outcomes={"tp": 40, "fp": -100, "fn": -20, "tn": 0},
        risks=["refusing good applicants"],
    )
    model.evaluate(test)
    model.fairness(test)
    model.explain(test)
    model.monitor(test)
    card = model.card()
    assert not card.missing_required()
    assert {g["section"] for g in card.gaps} == {
        "Out-of-scope use",
        "Environmental impact",
        "Export and serving",
    }
    facts = dict(card.section("Intended use").facts)
    assert facts["business process"] == "Approve small loans"
    assert "tp +40" in facts["value of outcomes"]
    assert any(
        "refusing good applicants" in n for n in card.section("Limitations").notes
    )
    assert any("interval" in cap for cap, _ in card.section("Evaluation").tables)
    assert "x1" in dict(card.section("Explanations").facts)[f"global, on {test.label}"]
    assert (
        test.content_hash[:12]
        in dict(card.section("Monitoring plan").facts)["reference"]
    )
    path = tmp_path / "README.md"
    md = card.to_markdown(path)
    assert path.read_text(encoding="utf-8") == md
    meta = yaml.safe_load(md.split("---\n")[1])
    assert meta["model-index"][0]["name"] == model.label
    assert {m["type"] for m in meta["model-index"][0]["results"][0]["metrics"]} >= {
        "roc_auc",
        "accuracy",
    }
    for heading in (
        "## Model Details",
        "## Uses / Direct Use",
        "## Bias, Risks, and Limitations",
        "## Evaluation / Results",
        "## Model Examination",
        "## Environmental Impact",
    ):
        assert heading in md
    html = card.to_html()
    assert "Model card" in html
    assert "Gap: no carbon" in html


def test_annotations_are_named_and_audited(project, tiny_asset):
    model = project.train("noted", tiny_asset, estimator="logistic")
    card = model.card().annotate(
        by="B. Author",
        limitations=["only 400 rows of synthetic data"],
        out_of_scope=["decisions about real people"],
    )
    assert "Out-of-scope use" not in {g["section"] for g in card.gaps}
    assert any("recorded by B. Author" in n for n in card.section("Limitations").notes)
    assert (project.audit_log()["action"] == "save model-card-notes").any()
    with pytest.raises(errors.ValidationError, match="must name a person"):
        model.card().annotate(by="  ", limitations=["x"])
