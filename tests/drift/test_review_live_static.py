"""The static and the live drift review show the same numbers (issue 15).

A notebook shows the live widget; a report, a reopened notebook and GitHub show the
static HTML. Both are read here the way a person reads them: the value at risk in
the summary line and in the Business value tab, the chunk table (estimated metric,
alerts, value at risk per chunk), the alerts table and every chart's data. They
must agree with each other and with the review's own numbers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from _drift_helpers import drift_copy, scenario_frames

import mlops_nb as mnb

PLOTLY = "application/vnd.plotly.v1+json"
SPEC = re.compile(r"var spec=(\{.*?\});function plot\(\)", re.S)
AT_RISK = re.compile(r"value at risk (-?[\d,]+) (\w+) over (\d+) chunk")


# -- reading the two renderings ------------------------------------------------
def _live_parts(widget: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Every HTML text and every plotly figure under ``widget``, in order."""
    import ipywidgets as w

    texts, figures = [], []
    if isinstance(widget, w.HTML):
        texts.append(widget.value)
    if isinstance(widget, w.Output):
        figures += [o["data"][PLOTLY] for o in widget.outputs if PLOTLY in o["data"]]
    for child in getattr(widget, "children", ()):
        t, f = _live_parts(child)
        texts += t
        figures += f
    return texts, figures


def _static_figures(html: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in SPEC.findall(html)]


def _read(html: str) -> dict[str, Any]:
    """The numbers a person reads off one rendering's HTML."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup(["script", "style"]):  # what a person does not see
        hidden.decompose()
    text = " ".join(soup.get_text(" ").split())
    out: dict[str, Any] = {"summary_at_risk": AT_RISK.findall(text)}
    tables = {}
    for table in soup.find_all("table"):
        rows = [
            [" ".join(td.get_text(" ").split()) for td in tr.find_all("td")]
            for tr in table.find_all("tr")
        ]
        if "tabular-nums" not in (table.get("style") or ""):  # key-value pairs
            tables.setdefault("keyvalues", {}).update(dict(rows))
            continue
        caption = table.parent.find_previous_sibling("div")
        name = " ".join(caption.get_text(" ").split()) if caption else ""
        tables[re.sub(r"^\d+ alert\(s\), ranked.*", "alerts", name)] = rows
    out["tables"] = tables
    return out


def _column(rows: list[list[str]], header: str) -> dict[str, str]:
    """``{chunk: cell}`` of the column whose header starts with ``header``."""
    head = rows[0]
    j = next(i for i, h in enumerate(head) if h.startswith(header))
    return {r[0]: r[j] for r in rows[1:]}


def _number(cell: str) -> float | None:
    return None if cell in ("—", "") else float(cell.replace(",", ""))


def _canonical(figures: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(f, sort_keys=True) for f in figures)


# -- reviews of several kinds --------------------------------------------------
def _flip(ana: Any, start: int, share: float) -> Any:
    """Plant a loss: a share of the positives from row ``start`` on turn negative."""
    late = ana.iloc[start:]
    pos = late.index[late["y"] == 1]
    ana.loc[pos[: int(share * len(pos))], "y"] = 0
    return ana


CASES = {
    "labelled loss": ({}, (6000, 0.6), True),
    "drift, no labels": (
        {"drift": {"features": ["x1", "region"], "start": 0.5}},
        None,
        False,
    ),
    "drift, labelled": ({"drift": {"features": ["x2"], "start": 0.3}}, None, True),
}


@pytest.fixture(scope="module", params=list(CASES))
def review(request, tmp_path_factory, team_store):
    effects, flip, labelled = CASES[request.param]
    with drift_copy(request, tmp_path_factory.mktemp("agree")) as proj:
        yield _review(proj, effects, flip, labelled)


def _review(proj, effects, flip, labelled):
    proj.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    _, _, ana = scenario_frames(**effects)
    if flip:
        ana = _flip(ana, *flip)
    mon = proj.model("m").monitor(reference=proj.asset("sc-test"), chunk=3000)
    mon.observe(ana.drop(columns="y"))
    if labelled:
        mon.add_targets(ana[["id", "y"]])
    return mon.review()


@pytest.fixture(scope="module")
def both(review):
    with mnb.config_context(display="html"):
        static_html = review._html()
    texts, live_figures = _live_parts(review.widget())
    return {
        "static": _read(static_html),
        "live": _read("".join(f"<div>{t}</div>" for t in texts)),
        "static_figures": _static_figures(static_html),
        "live_figures": live_figures,
    }


def test_value_at_risk_is_one_number_in_both_views(review, both):
    var = review.value_at_risk
    assert var is not None
    total = f"{var['total']:,.0f}"
    n = sum(v is not None for v in var["per_chunk"])
    for side in ("static", "live"):
        read = both[side]
        # the header's summary line (and the recommendation's reason, if one)
        assert read["summary_at_risk"], side
        assert set(read["summary_at_risk"]) == {(total, "EUR", str(n))}, side
        kv = read["tables"]["keyvalues"]
        assert kv["value at risk, all chunks"].startswith(f"{total} EUR"), side
    assert both["static"]["summary_at_risk"] == both["live"]["summary_at_risk"]
    assert both["static"]["tables"]["keyvalues"] == both["live"]["tables"]["keyvalues"]


def test_chunk_table_alerts_and_estimates_agree(review, both):
    frame = review.chunk_table()
    static = both["static"]["tables"]["Chunks"]
    live = both["live"]["tables"]["Chunks"]
    assert static == live
    chunks = [str(c) for c in frame["chunk"]]
    # alerts per chunk: the table, the alerts list and the payload say the same
    alerts = _column(static, "alerts")
    assert [int(alerts[c]) for c in chunks] == frame["alerts"].tolist()
    listed = Counter(str(r[0]) for r in both["static"]["tables"].get("alerts", [])[1:])
    assert {c: listed.get(c, 0) for c in chunks} == dict(
        zip(chunks, frame["alerts"], strict=True)
    )
    assert both["static"]["tables"].get("alerts") == both["live"]["tables"].get(
        "alerts"
    )
    # the estimated metric shown is the estimate, to the decimals shown
    estimated = _column(static, "estimated")
    shown_any = False
    for c, value in zip(chunks, frame.filter(like="estimated").iloc[:, 0], strict=True):
        cell = _number(estimated[c])
        if value is None or value != value:
            assert cell is None
            continue
        decimals = len(estimated[c].split(".")[1]) if "." in estimated[c] else 0
        assert cell == pytest.approx(value, abs=0.51 * 10**-decimals)
        shown_any = True
    assert shown_any
    # value at risk per chunk, to the currency unit shown
    per_chunk = _column(static, "value at risk")
    for c, value in zip(chunks, review.value_at_risk["per_chunk"], strict=True):
        if value is None:
            assert _number(per_chunk[c]) is None
        else:
            assert _number(per_chunk[c]) == pytest.approx(value, abs=0.51)


def test_every_chart_carries_the_same_data(both):
    static, live = both["static_figures"], both["live_figures"]
    assert static
    assert _canonical(static) == _canonical(live)
