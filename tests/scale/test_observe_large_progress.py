"""Observing a large version shows its progress, one step per partition, where a
person watches (a terminal here, a bar in a live notebook), quiet in reports."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from _partitions import day as day_frame
from _partitions import write_cut

import mlops_nb as mnb
from mlops_nb.data._large import manifest
from mlops_nb.ui import _progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def _setup(project, folder):
    ref = pd.concat([day_frame(300, d, d) for d in range(4)], ignore_index=True)
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 4}, seed=0)
    whole = pd.concat([day_frame(500, 20 + d, d) for d in range(3)], ignore_index=True)
    write_cut(folder, whole, 0, 5)
    logs = project.data("logs", str(folder / "*.parquet"), time="ts")
    return model.monitor(reference=test, chunk="D"), logs


@pytest.mark.parametrize("where", ["synchronous", "cluster"])
def test_a_terminal_sees_one_step_per_partition(
    project, tmp_path, monkeypatch, where, request
):
    mon, logs = _setup(project, tmp_path / "logs")
    n = len(manifest(logs)["partitions"])
    client = (
        "synchronous"
        if where == "synchronous"
        else request.getfixturevalue("dask_client")
    )
    err = Tty()
    monkeypatch.setattr(_progress.sys, "stderr", err)
    with mnb.config_context(display="text"):
        mon.observe(logs, client=client)
    out = err.getvalue()
    assert f"summarising {logs.label}: {n}/{n} partition" in out
    assert f"summarising {logs.label}: {n + 1}/" not in out
    assert out.endswith("\n")


def test_a_report_stays_quiet(project, tmp_path, monkeypatch):
    mon, logs = _setup(project, tmp_path / "logs")
    err = io.StringIO()  # papermill, CI logs: not a terminal
    monkeypatch.setattr(_progress.sys, "stderr", err)
    mon.observe(logs, client="synchronous")
    assert "summarising" not in err.getvalue()
