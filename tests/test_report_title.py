"""A report's page title is its notebook's title, not nbconvert's "Notebook"."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mlops_nb._report import notebook_to_html


@pytest.mark.parametrize(
    ("cells", "title"),
    [
        ([new_markdown_cell("# 08 · Drift review\n\ntext"), new_code_cell("1")],
         "08 · Drift review"),
        ([new_code_cell("x = 1"), new_markdown_cell("intro\n## Second <b>"),
          new_markdown_cell("# later")], "Second &lt;b&gt;"),
        ([new_code_cell("x = 1")], "my_report"),  # no heading: the file's name
    ],
)  # fmt: skip
def test_report_title_is_the_notebooks_heading(tmp_path, cells, title):
    executed = tmp_path / "my_report.ipynb"
    nbformat.write(new_notebook(cells=cells), executed)
    html = notebook_to_html(executed, tmp_path / "out.html").read_text()
    assert re.search(r"<title>(.*?)</title>", html).group(1) == title
