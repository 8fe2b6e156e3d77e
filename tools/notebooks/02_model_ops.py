"""Cells of notebooks/02_model_ops.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 02 · ML/Model Ops: versioned models, evaluated in money, promoted through gates

**The seed of this stage:** a model is not a file on someone's laptop but a *version* —
trained from a named data version, with its recipe (estimator, parameters, features, seed),
its validation metrics and the environment it ran in, stored without pickle so it can be
loaded safely years later.

**Why it matters:** production changes only through *gates*. A challenger that is worse
than the champion on the same data, or below an agreed minimum, is refused — and nothing
changes. Every promotion, refusal and rollback is in the audit log with who, when and why.

**What to look at:** the model's lineage and metrics, the evaluation's *money value* (priced
with the business value canvas of notebook 00) and how it moves with the decision
threshold, the gate that refuses a weaker challenger, and the comparison table.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
estimator = "lightgbm"            # the champion's estimator
challenger_estimator = "logistic" # a second recipe to compare
seed = 0
sample_rows = None                # e.g. 5000 for a quick run on a sample
""",
        "parameters",
    ),
    code(
        """
import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
frame = mnb.datasets.employment("reference")
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    canvas = proj.canvas()   # set in notebook 00
except mnb.errors.NotFoundError:
    canvas = proj.canvas(
        process="Outreach for a job-training programme", value_level="optimize",
        kpis=["placements per 1,000 EUR of outreach"],
        outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0,
        stakeholders=["programme office", "applicants"], risks=["unequal outreach by sex or race"],
        success="business value per 1,000 cases above the current rule")
canvas
"""
    ),
    md("""
## 1. Train a model version

`proj.train` builds the preprocessing from the data's schema (sensitive columns are left
out), validates on a seeded 20 % holdout and stores the version with its lineage.
"""),
    code(
        """
model = proj.train("employment", train, estimator=estimator, seed=seed)
model
"""
    ),
    md("""
## 2. Evaluate — in metrics and in money

On the held-out test split. The *Value* tab prices every threshold with the canvas: the
best threshold is rarely 0.5. In JupyterLab, move the slider to see the value and the
confusion matrix change.
"""),
    code(
        """
ev = model.evaluate(test)
ev
"""
    ),
    md("""
### The model's decision threshold

A binary model version decides with **one** threshold: *act when P(positive class) ≥
threshold*. Its default was recorded when it was trained: the canvas's value-maximising
threshold on the validation holdout. Predictions, this evaluation's confusion matrix,
fairness, serving, edge bundles and the drift monitor all decide with it and name it.
Change it with a reason: the audit log records who, when, from what and why, and the
version's files (and their signature) stay as they are.
"""),
    code(
        """
model.threshold_info
"""
    ),
    code(
        """
model.set_threshold(round(ev.best_threshold, 4), reason=f"value-maximising on {test.label}")
model.threshold
"""
    ),
    md("""
## 3. Promote through gates

The first production version needs a minimum ROC AUC. Then a challenger with another
recipe must not be worse than the champion on the same test data — if it is, the gate
refuses it and production stays as it was.
"""),
    code(
        """
model.promote("production", reason="first release", data=test, min_metrics={"roc_auc": 0.85})
"""
    ),
    code(
        """
challenger = proj.train("employment", train, estimator=challenger_estimator, seed=seed)
try:
    challenger.promote("production", reason="try a simpler model", data=test)
    print("promoted", challenger.label)
except mnb.errors.GateError as refused:
    print(refused)
    display(refused.failure_cases)
"""
    ),
    code(
        """
proj.compare("employment", test)
"""
    ),
    md("""
## 4. Use the production model — in a new kernel it predicts the same

The project folder holds everything: a fresh `Project` object (as a new kernel would make)
loads the production version from its verified files. Next to its scikit-learn and
LightGBM files, a LightGBM version keeps the same fit as plain numpy arrays (medians,
categories, trees), so a cold load that answers one row — what a scoring script or a
serverless function does — takes a few milliseconds, with the very same numbers.
"""),
    code(
        """
import time

import numpy as np

start = time.perf_counter()
prod = mnb.Project.open(project_dir).model("employment", stage="production")
prod.predict_proba(test.frame.head(1))
print(f"fresh project, load {prod.label}, predict one row: {(time.perf_counter() - start) * 1000:.1f} ms")
rows = test.frame.head(5)
assert np.array_equal(prod.predict_proba(rows), model.predict_proba(rows))
prod.predict(rows)
"""
    ),
    md("""
## 5. CI/CD for models

The same recipe runs unattended: `mlops-nb retrain` registers new labelled data, retrains with
the production recipe, evaluates champion and challenger on the same new test split, writes
an HTML report and a JSON summary, promotes only if every gate passes and exits with 1 when
they refuse. `examples/retrain.yml` (GitHub Actions) and `examples/crontab.txt` schedule it:

```bash
mlops-nb retrain employment-demo --model employment --data new.parquet \\
    --min-metric roc_auc=0.85 --report retrain.html
```

Every promotion, refusal and rollback is in the audit log:
"""),
    code(
        """
proj.audit_log(limit=8)[["at", "user", "action", "object"]]
"""
    ),
]
