"""Companion notebooks run under papermill and export readable, offline HTML.

Run alone with ``pytest -m slow tests/test_notebooks.py``. Their time budget (a minute
each on 2 cores) lives in ``benchmarks/bench_notebooks.py``, not in an assert here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
REMOTE = re.compile(
    r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)
# what each notebook's report must show, proving its static views rendered
KEY_SECTIONS = {
    "07_sec_ops": [
        "SignatureCheck", "verified", "booster: swapped", "ManifestDiff", "renamed",
        "(rollback)", "code ran: False", "PrivacyReport", "personal data in 5 columns",
        "[EMAIL]", "same token for the same person in both versions: 100%",
        "PoisoningReport", "Confident joint", "LGBMClassifier(n_estimators=100",
        "PoisoningTrend", "alert at v", "anchored baseline", "VetReport",
        "acs-test v1 (test data)", "differ from the pin", "supplies 60%",
        "AggregationResult", "Trust per partner", "plain mean (unsafe)",
        "with the pin",
    ],
    "05_sustainable_ops": [
        "Sustainability", "WarmStart", "energy saved by warm start", "CPU time saved",
        "By model version", "By stage", "Per 1,000 predictions", "one call per row",
        "Cumulative energy", "estimates, not meter readings",
        "offline tracker (no network)", "warm start: +50 rounds",
    ],
    "08_drift_review": [
        "Monitor", "employment@v1", "Observation", "DriftReview", "Recommendation:",
        "Drift heatmap", "Distributions",
        "unverified: label-free estimate assumes no concept drift",
        "CBPE", "concept drift", "Fairness over time", "Business value",
        "matched observed rows", "anchored reference: first alert in window",
        "previous window as the reference", "DriftTable",
    ],
    "09_capstone": [
        "ValueCanvas", "acs v1", "Evaluation", "Promotion", "Fairness", "OnnxExport",
        "served:", "Monitor", "DriftReview", "matched observed rows", "Recommendation:",
        "Comparison", "all artifacts intact",
    ],
    "04_edge_export_xmo": [
        "OnnxExport", "parity ok", "max |p_onnx - p_native|", "Variants", "Pareto",
        "float16 weights", "no effect", "native model (Python)", "Choice", "Purpose",
        "Performance", "Power", "Price", "No variant meets every budget", "EdgeBundle",
        "verified manifest", "exit status 3", "Server", "a bearer token is required",
        "never seen in training", "employment-served v1", "serve stop",
        "ids echoed", "age-in years",
    ],
    "06_human_centered_ops": [
        "Fairness", "Disparities", "SEX x RAC1P", "Mitigation", "Trade-off",
        "threshold_optimizer", "Export and serving", "Explanation",
        "Morris sensitivity", "Local explanation", "What-if", "Model card",
        "Gap: no carbon", "Monitoring plan", "Release checklist", "Nothing changed",
        "signed off by A. Reviewer", "save release-signoff",
    ],
    "03_annotation_synthetic_features": [
        "Annotation", "acs-2016-to-label v1", "Resumed: 10 saved actions replayed",
        "20 of 20 labelled", "Agreement", "kappa", "labels by ana",
        "acs-2016-to-label v2", "SynthesisReport", "acs-synthetic v1",
        "train on synthetic", "no sign of memorisation", "FeatureReport", "Screening",
        "out of fold",
    ],
    "00_business_value_canvas": [
        "ValueCanvas",
        "Outreach for a job-training programme",
        "Decision outcomes",
        "+120",
        "break-even",
        "Policies",
        "contact everyone",
        "v2",
        "save canvas",
    ],
    "01_dataops": [
        "DataAsset",
        "acs v1",
        "Profile",
        "Distributions",
        "Checks",
        "duplicate rows",
        "acs-test v1",
        "split",
        "out of range",
        "acs-adults v2",
        "transform",
        "Verify",
        "all artifacts intact",
        "Audit log",
        "whitespace stripped",
        "kind of 'rid': id",
        "uses '@' (local variables)",
    ],
    "10_interop": [
        "sklearn flavor: serialization_format=", "registered as employment-teammate v1",
        "from models:/employment-teammate/1 (sklearn (skops))", "model.skops",
        "measured at import", "Evaluation", "Observation", "DriftReview",
        "AGEP, Jensen-Shannon distance per year", "UnsafeFormatError",
        "trust_pickle=True", "MLflow model", "python_function",
        "mlflow.pyfunc vs mlops_nb on 2,000 rows: max |Δp| =",
        "huggingface_hub.repocard.ModelCard", "model-index", "sha256:",
        "register:acs-2016", "filter:acs-2016-adults", "data/acs-2016-adults/v1",
        "COMPLETE", "import mlflow", "export mlflow",
    ],
    "11_large_data": [
        "20 files, 1,000,000 rows", "large=True", "ValidationError",
        "is a large version (1,000,000 rows in 20 stored partitions)", "DataAsset",
        "Profile",
        "1,000,000 rows x 7 columns", "Checks", "not checked", "Observation",
        "peak memory per worker:",
        "DriftReview", "20 chunks", "exactly these: True", "CBPE", "BatchScores",
        "20 scored partitions", "request_id", "done in",
    ],
    "02_model_ops": [
        "Model",
        "employment v1",
        "Evaluation",
        "Money value per 1,000 cases",
        "best threshold",
        "Promotion",
        "not worse than champion",
        "Nothing changed",
        "Comparison",
        "retrain",
    ],
}  # fmt: skip


def test_every_notebook_has_a_parameters_cell_and_no_outputs():
    assert NOTEBOOKS, "no companion notebooks found"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert any("parameters" in t for t in tags), path.name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            path.name
        )
        assert "widgets" not in nb.metadata, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_report(path, tmp_path):
    out = tmp_path / f"{path.stem}.html"
    cmd = [str(Path(sys.executable).parent / "mlops-nb"), "report", str(path),
           "-p", "project_dir", str(tmp_path / "proj"), "-o", str(out)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    import papermill as pm

    keep = None
    if "work_dir" in pm.inspect_notebook(str(path)):  # a folder the user already has
        work = tmp_path / "work"
        work.mkdir()
        keep = work / "notes.txt"
        keep.write_text("the user's own file")
        cmd += ["-p", "work_dir", str(work)]
    beside = set(path.parent.rglob("*"))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # a notebook given a work folder only adds to it: nothing of the user's is removed
    assert keep is None or keep.read_text() == "the user's own file"
    # a notebook writes under its project and work folders, never beside itself
    # (MLflow's default ./mlruns artifact root did, in the notebooks folder)
    assert set(path.parent.rglob("*")) == beside, sorted(
        map(str, set(path.parent.rglob("*")) - beside)
    )[:5]
    html = out.read_text(encoding="utf-8")
    for text in KEY_SECTIONS.get(path.stem, []):
        assert text in html, f"{text!r} missing from the {path.stem} report"
    assert not REMOTE.search(html), REMOTE.search(html).group(0)
    assert (
        html.count("window.Plotly=") + html.count("window.Plotly = Plotly") == 1
    )  # plotly.js once
    assert "Traceback" not in html
    assert "Could not render" not in html
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["objects"]
    assert summary["errors"] == []
    assert all(
        {"kind", "title", "summary", "badges"} <= set(o) for o in summary["objects"]
    )
    if path.stem == "02_model_ops":
        assert any(g["kind"] == "GateRefusal" for g in summary["gates"])
        assert any(g["kind"] == "Promotion" for g in summary["gates"])
    executed = nbformat.read(out.with_suffix(".ipynb"), as_version=4)
    assert (
        "widgets" not in executed.metadata
    )  # no saved widget state: nbconvert shows our HTML
    mimes = {
        m
        for c in executed.cells
        for o in c.get("outputs", [])
        for m in o.get("data", {})
    }
    assert "application/vnd.jupyter.widget-view+json" not in mimes
    print(json.dumps({"notebook": path.name, "html_bytes": len(html)}))
