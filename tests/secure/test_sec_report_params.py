"""`mlops-nb report -p NAME VALUE`: names are identifiers, never code (issue 14.9)."""

from __future__ import annotations

import nbformat
import pytest

from mlops_nb import cli

HOSTILE = [
    "x=__import__('os').system('touch {c}');y",
    "__import__('os').system('touch {c}')#",
    "import os; os.system('touch {c}'); x",
    "x\nimport os\nos.system('touch {c}')\ny",
    "x = open('{c}', 'w') or 1; y",
    "exec(\"open('{c}','w')\")#",
    "class",
    "lambda",
    "__builtins__",
    "1x",
    "x-y",
    "",
    "\uff58",  # a full-width letter: an identifier NFKC-normalised to 'x'
]


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("seed = 0")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(seed)")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_parameter_names_are_refused_before_papermill(
    tmp_path, notebook, template, capsys
):
    canary = tmp_path / "canary-param"
    out = tmp_path / "out.html"
    name = template.format(c=canary)
    code = cli.main(["report", str(notebook), "-p", name, "1", "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "not a plain Python name" in err
    assert "Traceback" not in err
    assert not canary.exists()
    assert not out.exists()


@pytest.mark.parametrize("name", ["seed", "project_dir", "n_rows2", "_x", "type"])
def test_plain_names_are_accepted(name):
    assert cli._name(name) == name
