"""An exported report opens in a real browser with every network request refused."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent.parent


def test_report_renders_offline_in_a_real_browser(browser, tmp_path):
    from mlops_nb._report import run_report

    result = run_report(
        ROOT / "notebooks" / "01_dataops.ipynb",
        tmp_path / "01.html",
        parameters={"project_dir": str(tmp_path / "proj"), "sample_rows": 3000},
    )
    errors, remote = [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def refuse(route):
        if route.request.url.startswith(("http://", "https://")):
            remote.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", refuse)
    page.goto(result["html"].as_uri())
    page.wait_for_selector(".mlops-nb .main-svg", timeout=30_000)
    n_charts = page.locator(".mlops-nb .main-svg").count()
    page.locator(".mlops-nb", has_text="Profile").first.screenshot(
        path=tmp_path / "profile.png"
    )
    context.close()
    assert n_charts >= 1
    assert errors == []
    assert remote == []
    assert (tmp_path / "profile.png").stat().st_size > 10_000
