"""Cells of mlops_nb/model/retrain_report.ipynb (run by `mlops-nb retrain`)."""

from nbcells import code, md

CELLS = [
    code(
        """
# Parameters (set by `mlops-nb retrain`)
project_dir = "employment-demo"
model_name = "employment"
summary = {"promoted": False, "champion": 1, "challenger": 2, "test": "acs-test v1", "failures": []}
""",
        "parameters",
    ),
    code(
        """
import mlops_nb as mnb

proj = mnb.Project.open(project_dir, create=False)
verdict = "PROMOTED" if summary["promoted"] else "NOT PROMOTED: gates failed"
print(f"Retraining of {model_name}: challenger v{summary['challenger']} vs champion "
      f"v{summary['champion']} on {summary['test']} -> {verdict}")
"""
    ),
    md("""
# Retraining report

A scheduled run trained a *challenger* with the production recipe on new data and compared
it with the *champion* on the same new test split. It is promoted only when every gate
passes; otherwise nothing changed in production.
"""),
    md("## Gate failures (empty when promoted)"),
    code(
        """
import pandas as pd

pd.DataFrame(summary["failures"], columns=["gate", "passed", "message"])
"""
    ),
    md("## Champion and challenger on the new test data"),
    code(
        """
name, version = summary["test"].rsplit(" v", 1)
test = proj.asset(name, int(version))
proj.compare(model_name, test)
"""
    ),
    code("""proj.model(model_name, version=summary["challenger"]).evaluate(test)"""),
    md("## The model now in production"),
    code("""proj.model(model_name, stage="production")"""),
]
