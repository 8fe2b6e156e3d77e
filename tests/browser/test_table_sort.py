"""Tables sort on a header click in a real browser: numbers by value, not as text."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_nb.ui import Table
from mlops_nb.ui._html import table_html

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_header_click_sorts_rows_by_value_and_a_second_click_reverses(
    browser, tmp_path
):
    frame = pd.DataFrame(
        {
            "variant": ["b", "a", "c", "d"],
            # as text "1,000" < "999" and "-15,523" > "-2": only values sort right
            "value_eur": [999.0, 1000.0, -15523.0, -2.0],
            "rows": [5844, 34679, 12, float("nan")],
        }
    )
    path = tmp_path / "t.html"
    path.write_text(f"<html><body>{table_html(Table(frame))}</body></html>")
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())

    def first_column() -> list[str]:
        return page.locator("tr").evaluate_all(
            "rows => rows.slice(1).map(r => r.cells[0].textContent.trim())"
        )

    assert first_column() == ["b", "a", "c", "d"]
    head = page.locator("tr").first.locator("td")
    head.nth(1).click()
    assert first_column() == ["c", "d", "b", "a"]  # -15,523 < -2 < 999 < 1,000
    head.nth(1).click()
    assert first_column() == ["a", "b", "d", "c"]
    head.nth(0).click()
    assert first_column() == ["a", "b", "c", "d"]
    head.nth(2).click()  # numbers in order, the missing mark last either way
    assert first_column() == ["c", "b", "a", "d"]
    head.nth(2).click()
    assert first_column() == ["a", "b", "c", "d"]
    assert errors == []
    page.context.close()
