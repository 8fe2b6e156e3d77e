"""Dask and DataSketches load only when a large-data summary runs."""

from __future__ import annotations

import json
import subprocess
import sys

SCALE_ONLY = ["dask", "distributed", "datasketches", "dask.dataframe"]


def test_import_and_the_summary_modules_load_no_dask_or_sketches():
    code = (
        "import json, sys, mlops_nb, mlops_nb.data, mlops_nb.drift; "
        "import mlops_nb.data._summaries, mlops_nb.data._summarize, "
        "mlops_nb.data._summary_json, mlops_nb.drift._binned; "
        f"print(json.dumps([m for m in {SCALE_ONLY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_a_summary_loads_the_sketches_but_not_dask():
    code = (
        "import json, sys, pandas as pd; "
        "from mlops_nb.data._summaries import SummarySpec, ColumnSpec; "
        "from mlops_nb.data._summarize import summarize_frame; "
        "summarize_frame(pd.DataFrame({'x': [1.0]}), "
        "SummarySpec({'x': ColumnSpec('numeric')})); "
        f"print(json.dumps([m for m in {SCALE_ONLY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == ["datasketches"]
