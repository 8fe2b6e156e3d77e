"""Cells of mlops_nb/model/retrain_report.ipynb (run by `mlops-nb retrain`)."""

from nbcells import code, md

CELLS = [
    code(
        """
# Parameters (set by `mlops-nb retrain`)
project_dir = "employment-demo"
model_name = "employment"
summary = {
    "promoted": False,
    "champion": 1,
    "challenger": 2,
    "test": "acs-test v1",
    "failures": [],
    "overlap": {},
}
""",
        "parameters",
    ),
    code(
        """
import mlops_nb as mnb

proj = mnb.Project.open(project_dir, create=False)
verdict = "PROMOTED" if summary["promoted"] else "NOT PROMOTED: gates failed"
print(
    f"Retraining of {model_name}: challenger v{summary['challenger']} vs champion "
    f"v{summary['champion']} on {summary['test']} -> {verdict}"
)
"""
    ),
    md("""
# Retraining report

A scheduled run trained a *challenger* with the production recipe on new data and compared
it with the *champion* on the same new test split, without the rows either model
trained on (a model scores too well on rows it learnt from). It is promoted only when every gate
passes; otherwise nothing changed in production.
"""),
    md("## Gate failures (empty when promoted)"),
    code(
        """
import pandas as pd

columns = ["gate", "data", "this version", "compared with", "message", "how to proceed"]
pd.DataFrame(summary["failures"], columns=columns)
"""
    ),
    md("""
## Rows compared

Test rows that the champion or the challenger trained on are left out of the
comparison; rows are matched by the id column, or by a hash of their values.
"""),
    code(
        """
overlap = summary.get("overlap") or {}
pd.DataFrame(
    [
        ("new test split", overlap.get("split", summary["test"])),
        ("test rows", overlap.get("test_rows")),
        ("seen by the champion", overlap.get("seen_by_champion")),
        ("seen by the challenger", overlap.get("seen_by_challenger")),
        ("excluded", overlap.get("excluded")),
        ("compared", overlap.get("compared")),
        ("rows matched by", overlap.get("matched_by")),
    ],
    columns=["", "value"],
).astype(str)
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
