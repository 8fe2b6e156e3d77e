"""The model card's badge says "complete" only when every section is recorded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _team_fixtures import open_test_project


@pytest.fixture(scope="module")
def bare_card(request, tmp_path_factory, team_store):
    rng = np.random.default_rng(0)
    n = 300
    x1 = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(size=n),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )
    with open_test_project(request, tmp_path_factory.mktemp("card")) as proj:
        with mnb.config_context(user="tester"):
            model = proj.train(
                "m", proj.data("d", frame, target="y"), estimator="logistic"
            )
            card = model.card()
        yield card


def _with_gaps(card, gapped: set[int]):
    """The same card with exactly the sections ``gapped`` (indices) unrecorded."""
    sections = []
    for i, s in enumerate(card.sections):
        if i in gapped:
            sections.append(dataclasses.replace(s, gap=s.gap or "not recorded"))
        elif s.title == "Evaluation":
            sections.append(
                dataclasses.replace(
                    s, gap=None, tables=[("metrics with intervals", [{"m": 1}])]
                )
            )
        else:
            sections.append(dataclasses.replace(s, gap=None))
    return dataclasses.replace(card, sections=tuple(sections))


def test_a_bare_card_is_not_called_complete(bare_card):
    view = bare_card._view()
    total = len(bare_card.sections)
    recorded = total - len(bare_card.gaps)
    assert recorded < total
    texts = [t for t, _ in view.badges]
    assert "complete" not in texts
    assert f"{recorded}/{total} sections" in texts
    html = bare_card._repr_html_()
    assert f"{recorded}/{total} sections" in html
    assert ">complete<" not in html


def _subsets():
    rng = np.random.default_rng(7)
    out = [set(), {0}, {1}]
    for _ in range(9):
        k = int(rng.integers(1, 13))
        out.append({int(i) for i in rng.choice(13, size=k, replace=False)})
    return out


@pytest.mark.parametrize("gapped", _subsets(), ids=lambda g: f"gaps{sorted(g)}")
def test_complete_only_when_every_section_is_recorded(bare_card, gapped):
    gapped = {i for i in gapped if i < len(bare_card.sections)}
    card = _with_gaps(bare_card, gapped)
    total = len(card.sections)
    assert len(card.gaps) == len(gapped)
    badges = card._view().badges
    if not gapped:
        assert badges == [("complete", "ok")]
    else:
        assert badges[0] == (f"{total - len(gapped)}/{total} sections", "warning")
        assert all(text != "complete" for text, _ in badges)
