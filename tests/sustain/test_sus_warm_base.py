"""A warm start records its checked base model's hash in lineage (T34)."""

from __future__ import annotations

import pytest

import mlops_nb as mnb


@pytest.mark.slow
def test_warm_start_records_the_base_model_hash(project, tiny_asset):
    base = project.train("m", tiny_asset, params={"n_estimators": 20})
    report = base.retrain_warm(tiny_asset, extra_trees=5, compare=False)
    lineage = report.warm.lineage
    assert lineage["parent_model"] == ["m", 1]
    assert lineage["base_model"]["version"] == 1
    assert len(lineage["base_model"]["sha256"]) == 64
    mnb.secure.require_signatures(project, True, reason="signed releases only")
    with pytest.raises(mnb.errors.IntegrityError):  # unsigned base refused
        base.retrain_warm(tiny_asset, extra_trees=5, compare=False)
