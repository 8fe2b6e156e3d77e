"""Alerts name the right kind of drift: a feature's is data drift, the score's is score
drift — also on a large version, whose review has no target row (labels of large data
are not reviewed yet), so the score is its last column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _day(n: int, day: int, drifted: set[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(1.5 if "x1" in drifted else 0.0, 1, n)
    x2 = rng.exponential(3 if "x2" in drifted else 1, n)
    p = [0.7, 0.2, 0.1] if "c" in drifted else [0.2, 0.3, 0.5]
    c = rng.choice(list("abc"), n, p=p)
    ts = pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)
    return pd.DataFrame(
        {
            "ts": ts + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, n)), unit="s"),
            "x1": x1,
            "x2": x2,
            "c": pd.Series(c, dtype=object),
            "y": (x1 + rng.normal(0, 1, n) > 0).astype(int),
            "id": np.arange(n) + day * 10**6,
        }
    )


@pytest.mark.parametrize("drifted", [{"c"}, {"x2"}, {"x1"}])
def test_large_review_names_features_data_drift_and_the_score_score_drift(
    project, tmp_path, drifted
):
    ref = pd.concat([_day(300, d, set(), d) for d in range(6)], ignore_index=True)
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 8}, seed=0)
    mon = model.monitor(reference=test, chunk="D")
    folder = tmp_path / "logs"
    folder.mkdir()
    for d in range(3):  # day 1 drifts, days 0 and 2 do not
        part = _day(600, 20 + d, drifted if d == 1 else set(), 100 + d)
        part.to_parquet(folder / f"part-{d}.parquet", index=False)
    logs = project.data("logs", str(folder / "*.parquet"), time="ts", id="id")
    mon.observe(logs, client="synchronous")
    review = mon.review()
    alerts = review.payload["alerts"]
    by_what = {a["what"]: a["kind"] for a in alerts if a["kind"].endswith(" drift")}
    assert {w for w, k in by_what.items() if k == "data drift"} == drifted
    for what, kind in by_what.items():
        assert kind == ("score drift" if what == "model score" else "data drift")
    assert "target drift" not in {a["kind"] for a in alerts}
    # the score moves only when a feature the model uses (x1) moves
    assert ("model score" in by_what) == ("x1" in drifted)
    summary = " ".join(review.recommendation["reasons"])
    if "x1" not in drifted:
        assert "score distribution changed" not in summary
