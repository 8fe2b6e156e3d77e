"""A large version's profile: equal to pandas where exact, within bounds elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_parts(folder, seed):
    """A random partitioning with an empty and an all-null partition, and a time."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_parts = int(rng.integers(3, 7))
    empty_at, null_at = int(rng.integers(n_parts)), int(rng.integers(n_parts))
    frames = []
    for i in range(n_parts):
        rows = 0 if i == empty_at else int(rng.integers(50, 400))
        f = pd.DataFrame(
            {
                "x": np.where(
                    rng.random(rows) < 0.1, np.nan, rng.normal(i, 1 + i, rows)
                ),
                "c": pd.Series(
                    rng.choice(list("abcdefg")[: 3 + i], rows), dtype=object
                ),
                "t": pd.Timestamp("2025-01-01")
                + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
                "y": rng.integers(0, 2, rows),
            }
        )
        if i == null_at:
            f["x"] = np.nan
        f.to_parquet(folder / f"part-{i}.parquet", index=False)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_profile_of_a_large_version_matches_pandas(project, tmp_path, seed):
    whole = make_parts(tmp_path / "p", seed)
    asset = project.data("logs", tmp_path / "p", target="y", kinds={"c": "categorical"})
    prof = asset.profile()
    table = prof.to_frame()
    assert prof.payload["n_rows"] == len(whole)

    x = whole["x"].dropna()
    row = table.loc["x"]
    assert row["missing"] == whole["x"].isna().sum()
    assert row["mean"] == pytest.approx(x.mean(), rel=1e-9, abs=1e-12)
    assert row["std"] == pytest.approx(x.std(ddof=1), rel=1e-9)
    assert (row["min"], row["max"]) == (x.min(), x.max())
    # sketched figures stay within their stated bounds
    for q, name in ((0.25, "p25"), (0.5, "median"), (0.75, "p75")):
        rank = (x <= row[name]).mean()
        assert abs(rank - q) <= row["quantile_rank_error"] + 1.0 / len(x)
    true_unique = x.nunique()
    assert row["unique_lower"] <= true_unique <= row["unique_upper"]
    hist = prof.payload["histograms"]["x"]
    assert sum(hist["counts"]) == len(x)
    want, _ = np.histogram(x, bins=np.asarray(hist["edges"]))
    assert np.abs(np.asarray(hist["counts"]) - want).sum() <= 2  # edges' float ties

    c = table.loc["c"]
    counts = whole["c"].value_counts()
    assert c["unique"] == whole["c"].nunique()
    assert c["top_pct"] == pytest.approx(100 * counts.iloc[0] / len(whole))
    bars = prof.payload["histograms"]["c"]
    assert dict(zip(bars["labels"], bars["counts"], strict=True)) == counts.to_dict()

    t = table.loc["t"]
    assert (t["min"], t["max"]) == (str(whole["t"].min()), str(whole["t"].max()))
    assert sum(prof.payload["histograms"]["t"]["counts"]) == len(whole)


def test_the_profile_is_stored_and_read_back(project, tmp_path):
    make_parts(tmp_path / "p", 5)
    asset = project.data("logs", tmp_path / "p")
    first = asset.profile().payload
    assert first["engine"] == "summaries"
    assert project.asset("logs").profile().payload == first


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sketched_figures_show_their_bounds_and_never_exceed_the_rows(
    project, tmp_path, seed
):
    """All-distinct values, where an HLL estimate can overshoot the row count."""
    rng = np.random.default_rng(seed)
    folder = tmp_path / "p"
    folder.mkdir()
    n_parts, rows = 4, 6_000
    for i in range(n_parts):
        pd.DataFrame(
            {
                "u": rng.normal(size=rows),  # every value distinct
                "c": rng.choice(list("abc"), rows),
            }
        ).to_parquet(folder / f"part-{i}.parquet", index=False)
    asset = project.data("logs", folder, kinds={"c": "categorical"})
    prof = asset.profile()
    u = prof.to_frame().loc["u"]
    n = n_parts * rows
    assert u["unique_lower"] <= u["unique"] <= u["unique_upper"] <= n
    assert u["unique_lower"] <= n  # the truth (n) stays inside the stated bound
    html = prof._repr_mimebundle_()["text/html"]
    # the sketched figures carry their bound beside them; exact ones stay plain
    assert f"~{int(u['unique']):,} ({int(u['unique_lower']):,} to " in html
    assert "(rank ±" in html
    c = prof.to_frame().loc["c"]
    assert f">{int(c['unique'])}<" in html or f"<b>{int(c['unique'])}</b>" in html
