"""Scenario data with planted bias, split three ways, and fast models (per module)."""

from __future__ import annotations

import pytest
from _human_cases import build

from _team_fixtures import open_test_project


@pytest.fixture(scope="module")
def biased(request, tmp_path_factory, team_store):
    """Labels of group B planted lower; the model uses ``group`` and learns the bias."""
    with open_test_project(request, tmp_path_factory.mktemp("biased")) as proj:
        yield build(proj, bias=True)


@pytest.fixture(scope="module")
def clean(request, tmp_path_factory, team_store):
    """No planted bias."""
    with open_test_project(request, tmp_path_factory.mktemp("clean")) as proj:
        yield build(proj, bias=False)
