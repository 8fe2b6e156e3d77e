"""Cells of notebooks/08_drift_review.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 08 · Drift Ops: watching a model after it ships

**The seed of this stage:** a model is trained on yesterday's world and used in today's.
A *monitor* compares production data, chunk by chunk, with a *reference* the model is
known to do well on — its test data — and says what changed, whether performance
suffered, who it affects and what it costs.

**Why it matters:** labels usually arrive weeks or months late. Until then, all we can see
is the inputs and the model's scores. Drift in the inputs is only a warning; what matters
is performance, which we can *estimate* without labels (nannyml's CBPE) — as long as the
relation between inputs and target stays the same. When it does not (*concept drift*),
only labels can tell. mlops_nb therefore calls a chunk without labels **unverified**,
never healthy.

**What to look at:** the drift heatmap (features × chunks), the distributions behind an
alert, the estimated ROC AUC with its confidence band, the realized ROC AUC once labels
arrive, fairness over time, the money value at risk, and the recommendation.

The data: the model of notebook 02 was trained on the 2015 ACS survey for Massachusetts;
now 2016, 2017 and 2018 arrive — real temporal drift.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
chunk = "year"                    # a column ("year"), a period of a datetime column ("M", "30D") or rows (5000)
alert_on = ["jensen_shannon"]     # statistics whose threshold crossings are alerts
statistics = None                 # e.g. ["jensen_shannon", "kolmogorov_smirnov", "psi", "chi2"]; None: all
std = 3.0                         # thresholds: reference chunks' mean + std standard deviations
thresholds = {}                   # or constants, e.g. {"jensen_shannon": 0.1}
multivariate = ["pca"]            # add "domain_classifier" for a (slower) second opinion
seed = 0
""",
        "parameters",
    ),
    code("""
import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
ref = proj.data("acs", mnb.datasets.employment("reference"), target="employed",
                sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    canvas = proj.canvas()   # set in notebook 00
except mnb.errors.NotFoundError:
    canvas = proj.canvas(
        process="Outreach for a job-training programme", value_level="optimize",
        outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0)
try:
    model = proj.model("employment", stage="production")   # promoted in notebook 02
except mnb.errors.NotFoundError:
    model = proj.train("employment", train, seed=seed)
    model.promote("production", reason="first release", data=test, min_metrics={"roc_auc": 0.85})
model
"""),
    md("""
## 1. A monitor, anchored to its reference

`model.monitor(reference=test, ...)` creates the monitor of this model version and stores
it in the project (running the cell again reopens it). Its reference is *anchored*: it
never follows the data by itself — otherwise a slow drift, or slow poisoning, would move
the yardstick along with it and never alarm (section 5). Alert thresholds come from the
reference itself: it is cut into chunks, each compared with the rest of the reference,
and a statistic alerts above the mean plus `std` standard deviations of those values.
"""),
    code("""
options = {"chunk": chunk, "alert_on": alert_on, "std": std, "thresholds": thresholds,
           "multivariate": multivariate}
if statistics:
    options["statistics"] = statistics
mon = model.monitor(reference=test, **options)
mon
"""),
    md("""
## 2. Production data arrives — without labels

`observe` checks the batch against the reference's schema (a missing or retyped column
is refused, and nothing is stored), registers it as a data version with lineage, and
shows the chunks it fell in with a first univariate drift check.
"""),
    code("""
batch = mnb.datasets.employment("analysis")   # 2016-2018, no target column
mon.observe(batch, note="ACS 2016-2018 as it arrived, labels to follow")
"""),
    md("""
## 3. The drift review, before labels

Read it top down: the **recommendation** and its reasons; one row per chunk with the
estimated ROC AUC and its band, and its status — *unverified* while there are no labels;
the **drift heatmap** (colour is drift relative to the alert threshold, ▲ marks an alert;
the last rows are the model's own score and the target); the **distributions** behind the
strongest drift; **performance** estimated by CBPE from the model's calibrated scores;
**fairness over time** — the selection rate of each group needs no labels; and the
**business value** per 1,000 decisions, priced with the value canvas, with the value at
risk against the reference. Every decision here (CBPE's, the realized ones, the value)
is made at the model's own decision threshold (notebook 02: the canvas's
value-maximising one, or the one set with `model.set_threshold`), not at 0.5; the
review names it. In JupyterLab, the Distributions tab lets you pick any
feature and chunk.
"""),
    code("""
review = mon.review()
review
"""),
    md("""
## 4. Labels arrive: realized performance and the concept-drift verdict

`add_targets` joins the late labels by id and says how many matched. The review then
shows the realized ROC AUC next to the estimate. Realized performance outside the
estimate's band in consecutive chunks is *concept drift*: the part of the change that
the change of the inputs does not explain.
"""),
    code("""
mon.add_targets(mnb.datasets.employment("analysis_targets"), on="id")
"""),
    code("""
review = mon.review()
review
"""),
    md("""
## 5. Why the reference stays anchored: the boiling frog

A slow drift — here one feature's mean rises by 0.01 standard deviations per window of
1,000 rows, on synthetic data — never looks large next to the *previous* window, but it
does next to an anchored reference. The monitor's reference changes only through
`mon.approve_rebaseline(new_reference, reason="...")`, which writes who, when, why and the
old and new references' SHA-256 to the audit log.
"""),
    code("""
import numpy as np
import pandas as pd
from mlops_nb.drift import univariate_drift

rng = np.random.default_rng(seed)
window = np.repeat(np.arange(1, 61), 1000)                 # 60 windows of 1,000 rows
stream = pd.DataFrame({"x": rng.normal(size=60_000) + 0.01 * window})
anchored = univariate_drift(pd.DataFrame({"x": rng.normal(size=10_000)}), stream, chunk=1000)
alerts = anchored.alerts().loc["x"].to_numpy()
previous = [univariate_drift(stream.iloc[(w - 1) * 1000:w * 1000], stream.iloc[w * 1000:(w + 1) * 1000],
                             n_chunks=1).alerts().iloc[0, 0] for w in range(1, 60)]
print(f"anchored reference: first alert in window {alerts.argmax() + 1}, "
      f"{alerts.sum()} of 60 windows alert")
print(f"previous window as the reference: {sum(previous)} alert(s) in 59 windows")
anchored
"""),
    md("""
## 6. Closing the loop

When labelled chunks show a performance drop or concept drift, the recommendation is
*retrain*, and `mon.retrain()` hands the labelled production data to Model Ops: it becomes
the next version of the training data, the production recipe is retrained on it, and the
challenger is promoted only if every gate passes (notebook 02). Here we follow the review.
"""),
    code("""
if review.recommendation["action"] == "retrain":
    result = mon.retrain(reason="drift review: " + review.recommendation["reasons"][0])
    print(result.to_dict())
else:
    print(f"Recommendation: {review.recommendation['action']} — no retraining.")
    for reason in review.recommendation["reasons"]:
        print(" -", reason)
"""),
    md("""
Every step of the monitor is in the audit log, and the monitor keeps its own history:
"""),
    code("""
proj.audit_log(limit=10)[["at", "user", "action", "object"]]
"""),
]
