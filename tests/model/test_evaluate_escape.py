"""The canvas currency is user text: escaped in the evaluation widget (issue 14.9)."""

from __future__ import annotations

import html

import pytest

CURRENCIES = ["<img src=x>", "<script>", "<b>EUR</b>", "<svg/onload=", "A&B<i>"]


@pytest.mark.parametrize("currency", CURRENCIES)
def test_currency_markup_is_shown_as_text_in_the_value_widget(
    project, lgbm, split, currency
):
    project.canvas(process="Offer a discount", value_level="optimize",
                   outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
                   positive_class=1, currency=currency)  # fmt: skip
    ev = lgbm.evaluate(split[1])
    box = ev.widget()
    for threshold in (0.2, 0.8):
        box.threshold_slider.value = threshold
        shown = box.value_html.value
        assert html.escape(currency) in shown
        assert currency not in shown  # never as raw markup
    assert currency not in ev._html()
