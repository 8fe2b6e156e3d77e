"""Profiles: statistics that match pandas, distributions as plotly figures."""

from __future__ import annotations

import pytest

from mlops_nb.errors import SchemaError


def test_statistics_match_pandas(tiny_asset, tiny_frame):
    stats = tiny_asset.profile().to_frame()
    x2 = tiny_frame["x2"]
    assert stats.loc["x2", "mean"] == pytest.approx(x2.mean())
    assert stats.loc["x2", "std"] == pytest.approx(x2.std())
    assert stats.loc["x2", "median"] == pytest.approx(x2.median())
    assert stats.loc["x2", "p25"] == pytest.approx(x2.quantile(0.25))
    assert stats.loc["color", "unique"] == 3
    assert (
        stats.loc["color", "top"]
        == tiny_frame["color"].astype(str).value_counts().index[0]
    )
    assert stats.loc["when", "min"].startswith("2024-01-01")
    assert stats.loc["y", "role"] == "target"


def test_histograms_count_every_row(tiny_asset):
    p = tiny_asset.profile()
    for name, h in p.payload["histograms"].items():
        assert sum(h["counts"]) == 400, name
    fig = p.plot()
    assert len(fig.data) == len(p.payload["histograms"])
    one = p.plot("x1")
    assert len(one.data) == 1
    assert sum(one.data[0].y) == 400
    with pytest.raises(SchemaError, match="Did you mean 'x1'"):
        p.plot("X1")


def test_profile_is_stored_once(project, tiny_asset):
    first = tiny_asset.profile()
    rows = project._store.query("SELECT COUNT(*) FROM reports WHERE kind = 'profile'")
    second = tiny_asset.profile()
    assert rows[0][0] == 1
    assert first.payload == second.payload
