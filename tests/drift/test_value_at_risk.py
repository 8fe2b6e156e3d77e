"""One value-at-risk figure: summary, tabs, alerts and JSON summary agree.

Value at risk of a chunk = (reference value per 1,000 decisions - the chunk's value
per 1,000 decisions, realized once labelled else estimated) x its decisions / 1,000;
signed, positive is lost. The total is their sum.
"""

from __future__ import annotations

import json
import re

import pytest
from _drift_helpers import scenario_frames

import mlops_nb as mnb

NUMBER = r"(-?[\d,]+) EUR"


def _review(proj, flip):
    model, test_split = proj.model("m"), proj.asset("sc-test")
    proj.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    _, _, ana = scenario_frames()
    if flip:  # plant a loss: positives of the last chunks turn negative
        start, share = flip
        late = ana.iloc[start:]
        pos = late.index[late["y"] == 1]
        turned = pos[: int(share * len(pos))]
        ana.loc[turned, "y"] = 0
    mon = model.monitor(reference=test_split, chunk=3000)
    mon.observe(ana.drop(columns="y"))
    mon.add_targets(ana[["id", "y"]])
    return mon.review()


def _by_hand(payload):
    """The definition, computed from the per-chunk values of the payload."""
    v = payload["value"]
    per_chunk = []
    for real, est, n in zip(
        v["realized_per_1000"],
        v["estimated_per_1000"],
        payload["chunks"]["sizes"],
        strict=True,
    ):
        basis = real if real is not None else est
        per_chunk.append((v["reference_per_1000"] - basis) * n / 1000)
    return per_chunk, sum(per_chunk)


def _noise(review) -> float:
    """10 % of what the reference earns on as many decisions: sampling noise."""
    decisions = sum(review.payload["chunks"]["sizes"])
    return 0.1 * abs(review.payload["value"]["reference_per_1000"]) * decisions / 1000


def _eur(text: str, after: str) -> float:
    match = re.search(re.escape(after) + r"\s*" + NUMBER, text)
    assert match, (after, text)
    return float(match.group(1).replace(",", ""))


def _figures(review):
    """Every place the review shows value at risk, as numbers."""
    view = review._view()
    out = {"text summary": _eur(review._text(), "value at risk")}
    tab = next(t for t in view.tabs if t.title == "Business value")
    items = dict(tab.blocks[0].items)
    out["Business value tab"] = _eur(str(items["value at risk, all chunks"]), "")
    with mnb.config_context(display="html"):
        html = review._repr_mimebundle_()["text/html"]
    script = re.search(
        r'<script type="application/json" class="mnb-summary">(.*?)</script>', html
    )
    summary = json.loads(script.group(1))
    assert summary["kind"] == "DriftReview"
    out["JSON summary"] = _eur(summary["summary"], "value at risk")
    cell = re.search(r"value at risk, all chunks(?:\s*<[^>]*>)+\s*" + NUMBER, html)
    out["static HTML"] = float(cell.group(1).replace(",", ""))
    return out


@pytest.mark.parametrize(
    "flip", [(6000, 0.6), (9000, 1.0)], ids=["half-60pct", "last-chunk-all"]
)
def test_planted_value_loss_is_one_number_everywhere(drift_project, flip):
    review = _review(drift_project, flip)
    per_chunk, total = _by_hand(review.payload)
    var = review.value_at_risk
    assert var["per_chunk"] == pytest.approx(per_chunk, abs=0.01)
    assert var["total"] == pytest.approx(total, abs=0.05)
    # the planted drift loses value: well beyond the noise clean data shows
    print(f"value at risk {flip}: {total:,.0f} EUR")
    assert total > _noise(review)
    assert max(per_chunk) > 0
    # every rendering carries the same total
    for where, shown in _figures(review).items():
        assert shown == round(var["total"]), where
    reason = next(
        r for r in review.recommendation["reasons"] if "value at risk" in r.lower()
    )
    assert _eur(reason, "value at risk") == round(var["total"])
    # the chunk table and the alerts carry the same per-chunk figures
    table = review.chunk_table()
    assert table["value at risk (EUR)"].tolist() == pytest.approx(var["per_chunk"])
    alerts = review.alerts()
    assert len(alerts)
    idx = {str(k): i for i, k in enumerate(review.chunks)}
    for chunk, shown in zip(alerts["chunk"], alerts["value_at_risk"], strict=True):
        assert shown == pytest.approx(var["per_chunk"][idx[chunk]])
    # ranked by value at risk: the most value lost first
    ranked = alerts["value_at_risk"].tolist()
    assert ranked == sorted(ranked, reverse=True)
    # the stored per-chunk figures are the same numbers
    assert review.payload["value"]["value_at_risk"] == var["per_chunk"]
    assert review.payload["value"]["value_at_risk_total"] == var["total"]


def test_clean_data_has_no_alert_and_little_value_at_risk(drift_project):
    review = _review(drift_project, None)
    _, total = _by_hand(review.payload)
    var = review.value_at_risk
    assert var["total"] == pytest.approx(total, abs=0.05)
    assert review.alerts().empty
    assert (
        not [
            r for r in review.recommendation["reasons"] if "value at risk" in r.lower()
        ]
        or var["total"] > 0
    )
    print(f"value at risk, clean data: {var['total']:,.0f} EUR")
    assert abs(var["total"]) < _noise(review)
    for where, shown in _figures(review).items():
        assert shown == round(var["total"]), where
