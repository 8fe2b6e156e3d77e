"""The mlops-nb command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_nb.cli import _value, main

EXE = str(Path(sys.executable).parent / "mlops-nb")


def test_parameter_values_are_literals_or_text():
    assert _value("3") == 3
    assert _value("0.5") == 0.5
    assert _value("None") is None
    assert _value("year") == "year"
    assert _value("[1, 2]") == [1, 2]


def test_verify_exit_codes(project, tiny_asset, capsys):
    assert main(["verify", str(project.path)]) == 0
    assert "all artifacts intact" in capsys.readouterr().out
    blob = project.path / "artifacts" / tiny_asset.artifact[:2] / tiny_asset.artifact
    blob.write_bytes(blob.read_bytes()[:-1])
    assert main(["verify", str(project.path)]) == 1
    assert tiny_asset.artifact in capsys.readouterr().out


def test_errors_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("a")
    done = subprocess.run(
        [EXE, "verify", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "not an mlops_nb project" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [EXE, "report", str(tmp_path / "none.ipynb")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr


@pytest.mark.slow
def test_demo_runs_each_notebook_on_its_own_project(tmp_path):
    import json

    import nbformat

    books = tmp_path / "nbs"
    books.mkdir()
    for stem in ("01_a", "02_b"):
        cells = [
            nbformat.v4.new_code_cell(
                'project_dir = "x"', metadata={"tags": ["parameters"]}
            ),
            nbformat.v4.new_code_cell(
                "import mlops_nb as mnb\nmnb.Project.open(project_dir)"
            ),
        ]
        nb = nbformat.v4.new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3",
                    "language": "python",
                }
            },
        )
        nbformat.write(nb, books / f"{stem}.ipynb")
    # ignored: no NN_ prefix
    (books / "_draft.ipynb").write_text("not a companion notebook")
    out = tmp_path / "reports"
    assert main(["demo", "--notebooks", str(books), "--out", str(out)]) == 0
    for stem in ("01_a", "02_b"):
        assert (out / "projects" / stem / "registry.sqlite").is_file()
        summary = json.loads((out / f"{stem}.json").read_text())
        assert summary["errors"] == []
        assert summary["objects"][0]["kind"] == "Project"
    with pytest.raises(SystemExit):
        main(["demo", "--unknown"])
