"""Every view of the employment demo shows labels, with the code on hover.

The shipped employment data brings its data dictionary; fairness, profile, data,
explanations, what-if, drift review and evaluation then read as words ("female",
"Bachelor's degree", "ROC AUC") while the returned frames and dicts keep the codes.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _team_fixtures import open_test_project
from mlops_nb.datasets import employment


def _widget_html(widget) -> str:
    """Every HTML widget's value in a live view, in order."""
    out, todo = [], [widget]
    while todo:
        w = todo.pop(0)
        if hasattr(w, "value") and isinstance(w.value, str):
            out.append(w.value)
        todo.extend(getattr(w, "children", ()))
        out.extend(
            str(o.get("data", {}).get("application/vnd.plotly.v1+json", ""))
            for o in getattr(w, "outputs", ())
        )
    return "".join(out)


def _visible(text: str) -> str:
    """Drop plotly.js itself (a library, not the view's content)."""
    return re.sub(
        r"<script type=\"text/javascript\">/\*\*.*?</script>", "", text, flags=re.S
    )


def _span(title: str, label: str) -> re.Pattern[str]:
    return re.compile(
        rf'<span title="{re.escape(html.escape(title))}"[^>]*>'
        rf"{re.escape(html.escape(label))}</span>"
    )


@pytest.fixture(scope="module")
def acs(request, tmp_path_factory, team_store):
    with open_test_project(request, tmp_path_factory.mktemp("labels")) as proj:
        yield _acs(proj)


def _acs(proj):
    frame = employment("reference").sample(n=3000, random_state=0).sort_values("id")
    ref = proj.data(
        "acs",
        frame,
        target="employed",
        sensitive=["SEX", "RAC1P"],
        time="year",
        id="id",
    )
    train, test = ref.split(test=0.3, seed=0, stratify="employed")
    model = proj.train("employment", train, seed=0, params={"n_estimators": 30})
    return {"project": proj, "ref": ref, "train": train, "test": test, "model": model}


def test_fairness_groups_show_labels_with_the_code_on_hover(acs):
    rep = acs["model"].fairness(acs["test"])
    for shown in (rep.to_html(), _widget_html(rep.widget())):
        shown = _visible(shown)
        assert _span("SEX = 2", "female").search(shown)
        assert _span("SEX = 1", "male").search(shown)
        assert _span("RAC1P = 1", "White alone").search(shown)
        assert _span("SEX = 2, RAC1P = 1", "female, White alone").search(shown)
        assert "SEX=2" not in shown
        assert "RAC1P=1" not in html.unescape(shown)
    # the chart's bars are labelled too, the code in the hover text
    fig = rep.plot("SEX")
    assert list(fig.data[0].x) == ["male", "female"]
    assert list(fig.data[0].customdata) == ["SEX = 1", "SEX = 2"]
    # what users and tests read keeps the codes
    assert {"SEX=1", "SEX=2"} <= set(rep.to_frame()["group"])


def test_profile_and_data_views_show_labels_and_descriptions(acs):
    ref = acs["ref"]
    prof = _visible(ref.profile().to_html())
    assert _span("SEX: Sex", "SEX").search(prof)
    top = ref.frame["SEX"].astype(str).value_counts().index[0]
    label = {"1": "male", "2": "female"}[top]
    assert _span(f"SEX = {top}", label).search(prof)
    assert '"female"' in prof  # the distribution's bars
    assert "SEX=" not in prof
    data = _visible(ref.to_html())
    for code in ref.frame.head(10)["SEX"].astype(str).unique():
        assert _span(f"SEX = {code}", {"1": "male", "2": "female"}[code]).search(data)
    schl = str(ref.frame.head(10)["SCHL"].iloc[0])
    assert _span(f"SCHL = {schl}", ref.labels["SCHL"][int(schl)]).search(data)
    assert 'title="AGEP: Age (years)"' in data  # the column header's description
    assert "Sex" in data  # Schema tab: the description column


def test_what_if_options_are_sorted_labelled_and_valued_by_code(acs):
    test, model = acs["test"], acs["model"]
    local = model.explain(test.frame.iloc[[0]])
    wi = local.what_if()
    schl = wi.controls["SCHL"]
    values = [v for _, v in schl.options]
    assert values == sorted(values, key=int)  # 2 before 10, whatever is most common
    assert dict(schl.options)["Bachelor's degree"] == "21"
    mar = dict(wi.controls["MAR"].options)
    assert mar == {
        "Married": "1",
        "Widowed": "2",
        "Divorced": "3",
        "Separated": "4",
        "Never married or under 15": "5",
    }
    start = wi.prediction
    schl.value = "24" if schl.value != "24" else "1"  # the value is the code
    assert wi.row().iloc[0]["SCHL"] == schl.value
    assert wi.prediction != start
    shown = _visible(wi.to_html())
    assert f"SCHL = {acs['ref'].labels['SCHL'][int(schl.value)]}" in html.unescape(
        shown
    )
    assert _span(
        f"SCHL = {schl.value}", acs["ref"].labels["SCHL"][int(schl.value)]
    ).search(shown)


def test_explanations_carry_descriptions_and_labels(acs):
    model, test = acs["model"], acs["test"]
    shown = _visible(model.explain(test).to_html())
    assert 'title="AGEP: Age (years)"' in shown
    local = model.explain(test.frame.iloc[[0]])
    row = test.frame.iloc[0]
    shown = _visible(local.to_html())
    code = str(row["MAR"])
    assert _span(f"MAR = {code}", acs["ref"].labels["MAR"][int(code)]).search(shown)
    assert 'title="MAR: Marital status"' in shown


def test_metric_names_read_as_words_and_keys_stay(acs):
    ev = acs["model"].evaluate(acs["test"])
    assert "roc_auc" in ev.metrics  # the keys users read are unchanged
    for shown in (_visible(ev.to_html()), _visible(acs["model"].to_html())):
        assert _span("roc_auc", "ROC AUC").search(shown)
        assert _span("log_loss", "log loss").search(shown)
        text = re.sub(
            r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", shown, flags=re.S)
        )
        assert not re.search(r"\b(roc_auc|log_loss|balanced_accuracy)\b", text)


@pytest.mark.slow
def test_drift_review_names_groups_by_their_labels(acs):
    model, test = acs["model"], acs["test"]
    mon = model.monitor(reference=test, chunk="year")
    batch = employment("analysis").sample(n=3000, random_state=1)
    mon.observe(batch, note="later years")
    review = mon.review()
    assert review.payload["labels"]["SEX"] == {"1": "male", "2": "female"}
    fig = review.plot("fairness", column="SEX")
    assert {"male", "female"} <= {t.name for t in fig.data}
    assert "Gaps between SEX groups (male, female)" in review.to_html()


_col = st.text("ABCXYZ_ =,1", min_size=1, max_size=6)
_code = st.one_of(st.integers(0, 40), st.text("abc =,", min_size=1, max_size=4))


@settings(max_examples=40, deadline=None)
@given(
    cols=st.lists(_col, min_size=1, max_size=3, unique=True),
    codes=st.lists(_code, min_size=3, max_size=3),
)
def test_group_keys_read_back_as_labels_with_their_codes(cols, codes):
    """Any column names and codes: a fairness group key shows as its labels, the
    codes on hover, and notes naming the group say it in words."""
    import pandas as pd

    from mlops_nb.data._dictionary import Dictionary
    from mlops_nb.human._common import group_keys
    from mlops_nb.human._labels import in_text

    frame = pd.DataFrame({c: [codes[i]] for i, c in enumerate(cols)})
    key = group_keys(frame, cols)[0]
    words = Dictionary({c: ((codes[i], f"word{i}"),) for i, c in enumerate(cols)})
    shown = words.group(key, cols)
    assert str(shown) == ", ".join(f"word{i}" for i in range(len(cols)))
    assert shown.title == ", ".join(f"{c} = {codes[i]}" for i, c in enumerate(cols))
    grouping = " x ".join(cols)
    note = in_text(
        words,
        f"no label in group(s) {key}: ...",
        [{"grouping": grouping, "group": key}],
    )
    assert f"{shown} ({shown.title})" in note
    assert Dictionary().group(key, cols) == key  # no dictionary: the key as it is
