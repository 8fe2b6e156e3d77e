"""The benchmark runner stays runnable (numbers themselves are not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_register_benchmark_runs_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "register_1m",
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| benchmark | mlops_nb | peer |" in done.stdout
    result = json.loads(out.read_text())
    rows = result["benchmarks"]["register_1m"]["rows"]
    assert any("profile" in r["benchmark"] and r["ours"] > 0 for r in rows)
