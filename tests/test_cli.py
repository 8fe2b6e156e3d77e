"""The mlops-nb command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import mlops_nb as mnb
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


# -- mlops-nb retrain: refusals change nothing; the comparison skips seen rows ---------
def _champion(project, tiny_asset):
    train, test = tiny_asset.split(test=0.25, seed=0, stratify="y")
    model = project.train("clf", train, params={"n_estimators": 20})
    model.promote("production", reason="first", data=test)
    return train.frame


def _retrain(project, data, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    return subprocess.run(
        [EXE, "retrain", str(project.path), "--model", "clf", "--data", str(data),
         "--report", str(tmp_path / "r.html")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def test_retrain_refuses_data_without_a_champion_column_and_exits_2(
    project, tiny_asset, tiny_frame, tmp_path
):
    """The whole class of bad data is generated in tests/model/test_retrain_refusal."""
    from _store_state import changed, last_audit, stored_state

    _champion(project, tiny_asset)
    bad = tiny_frame.assign(id=tiny_frame["id"] + 10_000).drop(columns=["y", "when"])
    bad = bad.rename(columns={"id": " id"})
    bad.to_parquet(tmp_path / "new.parquet")
    before = stored_state(project.path)
    done = _retrain(project, tmp_path / "new.parquet", tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("mlops-nb: retrain('clf')")
    for text in ("column 'y' is missing", "column 'when' is missing", "' id'"):
        assert text in done.stderr
    assert "Nothing was stored" in done.stderr
    assert "Traceback" not in done.stderr
    assert changed(before, stored_state(project.path)) == []
    assert not (tmp_path / "r.html").exists()
    entry = last_audit(project, "retrain refused")
    assert entry["object"] == "model:clf v1"
    assert {f["column"] for f in entry["detail"]["failures"]} == {"y", "id", "when"}


@pytest.mark.slow
def test_retrain_of_a_padded_csv_keeps_roles_and_reports_the_overlap(
    project, tiny_asset, tiny_frame, tmp_path
):
    """The issue's case: ", "-separated CSV, most rows the champion trained on."""
    import json

    from _store_state import changed, stored_state

    seen = _champion(project, tiny_asset)
    fresh = tiny_frame.assign(id=tiny_frame["id"] + 10_000).iloc[:80]
    new = pd.concat([seen.iloc[:240], fresh], ignore_index=True)[tiny_frame.columns]
    text = new.to_csv(index=False).splitlines()
    padded = [", ".join(line.split(",")) for line in text]
    (tmp_path / "new.csv").write_text("\n".join(padded) + "\n")
    before = stored_state(project.path)
    done = _retrain(project, tmp_path / "new.csv", tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    if done.returncode == 2:  # refused: then nothing may have changed
        assert changed(before, stored_state(project.path)) == []
        return
    assert done.returncode in (0, 1), done.stderr[-2000:]
    fresh_project = mnb.Project.open(project.path)
    stored = fresh_project.asset("tiny", version=2).schema
    assert (stored.target, stored.id, stored.time) == ("y", "id", "when")
    summary = json.loads((tmp_path / "r.json").read_text())
    overlap = summary["overlap"]
    assert overlap["seen_by_champion"] > 0
    assert overlap["excluded"] + overlap["compared"] == overlap["test_rows"]
    compared = fresh_project.asset(*summary["test"].rsplit(" v", 1)).frame
    assert not compared["id"].isin(seen["id"]).any()
    assert len(compared) == overlap["compared"]
    assert f"compared on {overlap['compared']:,} of {overlap['test_rows']:,}" in (
        done.stdout
    )
    html = (tmp_path / "r.html").read_text()
    assert "Rows compared" in html
    assert "seen by the champion" in html
