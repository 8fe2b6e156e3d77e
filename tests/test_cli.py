"""The mlops-nb command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlops_nb.cli import _value, main

EXE = str(Path(sys.executable).parent / "mlops-nb")


def test_parameter_values_are_literals_or_text():
    assert _value("3") == 3 and _value("0.5") == 0.5 and _value("None") is None
    assert _value("year") == "year" and _value("[1, 2]") == [1, 2]


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
    assert "not an mlops_nb project" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [EXE, "report", str(tmp_path / "none.ipynb")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "does not exist" in done.stderr
