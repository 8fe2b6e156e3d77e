"""A data check's badge is honest: warnings are not "passed", errors are "failed"."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.data._check import CheckReport


def _finding(severity: str, i: int) -> dict:
    return {
        "check": "missing values",
        "severity": severity,
        "column": f"c{i}",
        "message": f"finding {i}",
        "value": 0.1,
    }


@settings(max_examples=40, deadline=None)
@given(errors=st.integers(0, 3), warnings=st.integers(0, 4), infos=st.integers(0, 3))
def test_the_badge_counts_warnings_and_fails_on_errors(errors, warnings, infos):
    severities = ["error"] * errors + ["warning"] * warnings + ["info"] * infos
    report = CheckReport(
        "d v1", tuple(_finding(s, i) for i, s in enumerate(severities))
    )
    (text, tone), *_ = report._view().badges
    html = report._repr_html_()
    if errors:
        assert (text, tone) == ("failed", "error")
    elif warnings:
        word = "warning" if warnings == 1 else "warnings"
        assert (text, tone) == (f"{warnings} {word}", "warning")
        assert f"{warnings} {word}" in html
    else:
        assert (text, tone) == ("passed", "ok")
    if errors or warnings:
        assert "passed" not in html


@pytest.mark.parametrize("n_missing", [1, 2])
def test_planted_warnings_on_real_data_do_not_read_passed(
    project, tiny_frame, n_missing
):
    frame = tiny_frame.copy()
    # 10% missing in each of n_missing feature columns: a warning each, no error
    for col in ["x1", "x2"][:n_missing]:
        frame.loc[frame.index[:40], col] = np.nan
    report = project.data("warned", frame, target="y", id="id").check()
    assert report.counts()["error"] == 0
    assert report.counts()["warning"] == n_missing
    (text, tone), *_ = report._view().badges
    assert tone == "warning"
    assert text.startswith(f"{n_missing} warning")
    assert "passed" not in report._repr_html_()


def test_clean_data_still_passes(project, tiny_frame):
    report = project.data("clean", tiny_frame, target="y", id="id").check()
    assert report.counts() == {"error": 0, "warning": 0, "info": 0}
    assert report._view().badges[0] == ("passed", "ok")


def test_the_data_versions_own_badge_agrees_with_its_check(project, tiny_frame):
    import mlops_nb as mnb

    frame = tiny_frame.copy()
    frame.loc[frame.index[:40], "x2"] = np.nan  # 10 % missing: one warning
    asset = project.data("gappy", frame, target="y", id="id")
    report = asset.check()
    verdict, _ = report._badge()
    assert verdict != "passed"
    with mnb.config_context(display="html"):
        html = asset._repr_mimebundle_()["text/html"]
    assert f"checks {verdict}" in html
    assert "checks passed" not in html
