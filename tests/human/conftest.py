"""Scenario data with planted bias, split three ways, and fast models (per module)."""

from __future__ import annotations

import pytest
from _human_cases import build


@pytest.fixture(scope="module")
def biased(tmp_path_factory):
    """Labels of group B planted lower; the model uses ``group`` and learns the bias."""
    return build(tmp_path_factory.mktemp("biased") / "proj", bias=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """No planted bias."""
    return build(tmp_path_factory.mktemp("clean") / "proj", bias=False)
