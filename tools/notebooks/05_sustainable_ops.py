"""Cells of notebooks/05_sustainable_ops.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 05 · Sustainable Ops: a carbon ledger, and greener alternatives measured

**The seed of this stage:** every training, evaluation and benchmark burns electricity,
and electricity has a carbon cost that depends on *where* it is made. mlops_nb records
the energy (kWh), emissions (kg CO₂e) and duration of each action with the object it
belongs to — a model version, a data version, a deployable variant — in a ledger that
lives in the project.

**Why it matters:** "greener" claims are cheap; measurements are not. Continuing to
train the current model on new data (*warm start*) sounds cheaper than retraining from
scratch — but it must first score the old model on the new rows, and it may cost
accuracy or money. Here we measure both, side by side, on the same data.

**What to look at:** how the figures were obtained (CodeCarbon says whether it
*measured* power counters or *estimated* from the CPU's TDP — on most laptops and all
Binder machines it estimates), the energy saved by the warm start against its change
in ROC AUC and in money, and the energy per 1,000 predictions of two ways to serve the
same model.

Everything runs offline: CodeCarbon's tracker is built so that no config file or
environment variable can make it send data, and the grid's carbon intensity comes from
its offline table.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"  # the project folder: created if missing, reused
country = "DEU"                  # where this computer runs: prices energy in CO2e
extra_trees = 50                 # boosting rounds the warm start adds on new data
seed = 0
sample_rows = None               # e.g. 10000 for a quick run on a sample of each year
""",
        "parameters",
    ),
    code(
        """
import mlops_nb as mnb
from mlops_nb.sustain import measure

proj = mnb.Project.open(project_dir)
proj.sustainability(country=country)  # where the electricity comes from (stored)

frame = mnb.datasets.employment("reference")  # ACS 2015, Massachusetts
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"],
                time="year", id="id", note="ACS 2015, Massachusetts (nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    canvas = proj.canvas()  # set in notebook 00
except mnb.errors.NotFoundError:
    canvas = proj.canvas(
        process="Outreach for a job-training programme", value_level="optimize",
        kpis=["placements per 1,000 EUR of outreach"],
        outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0,
        stakeholders=["programme office", "applicants"],
        risks=["unequal outreach by sex or race"],
        success="business value per 1,000 cases above the current rule")
"""
    ),
    md("""
## 1. Train and evaluate — both are measured

Training and evaluation run inside CodeCarbon's offline tracker; each adds an entry to
the ledger, attached to the model version. (The first measurement in a new kernel takes
a few seconds more: CodeCarbon looks up this CPU's TDP once.)
"""),
    code(
        """
model = proj.train("employment", train, seed=seed)
ev = model.evaluate(test)
model
"""
    ),
    md("""
## 2. Energy per 1,000 predictions: batch scoring vs one call per row

Anything can be measured with `measure(proj, stage, obj, predictions=...)`. Here the
same model serves the test rows in two ways; the ledger turns each into energy and
emissions per 1,000 predictions. IT Model Ops records its ONNX, pruned and quantized
variants the same way.
"""),
    code(
        """
rows = test.frame
with measure(proj, "predict", model, variant="batch: one call", predictions=len(rows)):
    model.predict(rows)

few = rows.head(50)
with measure(proj, "predict", model, variant="one call per row") as m:
    for i in range(len(few)):
        model.predict(few.iloc[[i]])
    m.predictions = len(few)
m
"""
    ),
    md("""
## 3. A year later: warm start or full retrain?

New labelled data arrives (ACS 2016). `model.retrain_warm(new)` continues LightGBM
boosting from the current model's trees on the new rows (`init_model`): a new version
whose lineage points to its parent and whose recipe records the warm start. For
comparison it retrains from scratch with the production recipe on the *same* rows,
measures both, and evaluates the old model, the warm start and the full retrain on the
*same* test split — in ROC AUC and in money per 1,000 cases (priced with the canvas).
"""),
    code(
        """
later = mnb.datasets.employment("analysis").merge(
    mnb.datasets.employment("analysis_targets"), on="id")
later = later[later["year"] == 2016]
if sample_rows:
    later = later.sample(n=int(sample_rows), random_state=seed).sort_values("id")
new = proj.data("acs", later, note="ACS 2016: a year later, with labels")
warm = model.retrain_warm(new, extra_trees=extra_trees)
warm
"""
    ),
    md("""
**Reading it honestly.** The warm start trains a quarter of the rounds, yet it does not
save three quarters: continuing from a model means first scoring all its trees on every
new row, and scoring a tree costs LightGBM about half as much as growing one on binned
data. Both options also pay the same fixed costs (loading, validating, storing). So the
saving shrinks as `extra_trees` grows, and vanishes near half the original rounds — try
`extra_trees=20` and `100`. Weigh what remains against the change in ROC AUC and money
on the same test split.

On this machine the energy is an *estimate*: CPU energy follows this process's CPU
time, RAM energy the wall-clock time — which other programs on a shared machine
stretch, so compare the CPU time too.
"""),
    md("""
## 4. The ledger: by model version, by stage, cumulative, per 1,000 predictions

`proj.sustainability()` sums every measured action once (an action measured inside
another is subtracted from its parent). A new kernel shows the same ledger.
"""),
    code(
        """
ledger = proj.sustainability()
ledger
"""
    ),
    code(
        """
ledger.per_1000_predictions()
"""
    ),
    md("""
## 5. In your own pipeline

```python
from mlops_nb.sustain import measure

with measure(proj, "benchmark", model, variant="onnx-int8", predictions=n) as m:
    run_benchmark()          # anything: an export, a load test, a batch job
m.energy_kwh, m.emissions_kg, m.method["summary"]

proj.sustainability(country="FRA")           # the grid your computers draw from
proj.sustainability(country="USA", region="massachusetts")
proj.sustainability(track=False)             # stop measuring in this project
```

Measure whole actions, not single predictions: each measurement costs milliseconds.
An action that fails records nothing, like every other failed action in mlops_nb.
"""),
]
