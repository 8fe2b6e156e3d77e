"""Cells of notebooks/03_annotation_synthetic_features.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 03 · DataOps continued: labels, synthetic data and generated features

**The seed of this stage:** labels, synthetic rows and generated features are *data too*.
Each one becomes a new data version with lineage, so a model trained on them can still say
exactly where every column and every label came from — and who gave it.

**Why it matters:** labelling is the most expensive step of most projects, so we label the
rows a model is least sure about first, save every label the moment it is given, and measure
whether two annotators agree. Synthetic data is only useful if it is *faithful* (a model
trained on it works on real people) and *private* (it does not copy real people). Generated
features are only worth their complexity if they measurably help — and target encodings
must never see the label of the row they encode.

**What to look at:** the labelling widget and what happens after a kernel restart; Cohen's
kappa between two annotators; the fidelity and privacy report of the synthetic version; the
candidates the feature search tried and the gain of the ones it kept.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
seed = 0
batch_size = 20                   # rows to label
synthetic_rows = 10_000           # rows of synthetic data
feature_rows = 10_000             # rows the feature search uses (then fitted on all)
sample_rows = None                # e.g. 5000 for a quick run on a sample
""",
        "parameters",
    ),
    code(
        """
import pandas as pd

import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
frame = mnb.datasets.employment("reference")
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    model = proj.model("employment", stage="production")   # promoted in notebook 02
except mnb.errors.NotFoundError:
    model = proj.train("employment", train, seed=seed, note="for notebook 03")
model
"""
    ),
    md("""
## 1. Choose the rows worth labelling

New survey answers arrive without the label. We register the 2016 rows *without* their
`employed` column — an unlabelled pool — and ask for the rows the model is least sure about:
predicted probability closest to the decision threshold. Labelling those first teaches the
next model the most. Many people give exactly the same answers, so the sample takes one row
per distinct profile before any repeat. The sample is a data version whose lineage names the
pool and the model.
"""),
    code(
        """
answers_2016 = mnb.datasets.employment("analysis").query("year == 2016")
if sample_rows:
    answers_2016 = answers_2016.sample(n=int(sample_rows), random_state=seed).sort_values("id")
pool = proj.data("acs-2016", answers_2016, sensitive=["SEX", "RAC1P"], time="year", id="id",
                 note="ACS 2016 answers, not labelled yet")
batch = pool.sample(batch_size, seed=seed, strategy="uncertain", model=model, name="acs-2016-to-label")
batch
"""
    ),
    md("""
## 2. Label them in a widget

`batch.annotate(...)` opens a labelling session for one annotator. In JupyterLab it is a
widget: the row's values, the model's guess and confidence, one button per label, *skip* and
*undo*, a progress bar, and a key box (type `0` or `1` to label, `s` to skip, `u` to undo).
Every action is saved to the project the moment it is given.

A scheduled report has no human, so here we **play the annotator Ana by code**, clicking the
widget's own buttons. Her answers are the real census answers for 2016.
"""),
    code(
        """
truth = mnb.datasets.employment("analysis_targets").set_index("id")["employed"]
labels = batch.annotate(choices=[0, 1], column="employed", annotator="ana")

def true_answer(session):
    return int(truth[session.row()["id"]])

if not labels.labels:   # on a re-run the saved session simply resumes
    for _ in range(8):
        labels.buttons[true_answer(labels)].click()   # what a click in the browser does
    labels.skip_button.click()                         # not sure: come back later
    labels.undo_button.click()                         # changed her mind: back to that row
labels
"""
    ),
    md("""
## 3. The kernel restarts — no label is lost

A browser tab closes, the kernel dies, or the workshop breaks for lunch. We open the project
again from its folder, as a new kernel would, and reopen Ana's session: it replays every saved
action and resumes at the first row still to label. Undo still reaches labels given before
the restart.
"""),
    code(
        """
after_restart = mnb.Project.open(project_dir).asset(batch.name, batch.version)
labels = after_restart.annotate(choices=[0, 1], column="employed", annotator="ana")
print(f"resumed {labels.resumed} saved actions; {len(labels.labels)} labels; next row {labels.current}")
while not labels.done:
    labels.key_box.value = str(true_answer(labels))   # the keyboard path of the widget
labels
"""
    ),
    md("""
## 4. Do two annotators agree?

Ben labels the same rows independently. Cohen's kappa measures their agreement beyond what
chance would give (1 = perfect, 0 = chance). A low kappa means the labelling guide is
unclear — fix that before training on the labels. The rows where they differ are the ones to
discuss. (Ben, played by code, disagrees with the census on a few rows.)
"""),
    code(
        """
ben = batch.annotate(choices=[0, 1], column="employed", annotator="ben")
for i in range(batch.n_rows):
    if i not in ben.labels:
        answer = int(truth[batch.frame["id"].iloc[i]])
        ben.label(1 - answer if i % 6 == 5 else answer, row=i)
labels.agreement("ben")
"""
    ),
    md("""
## 5. Labels become a data version

`commit()` merges Ana's labels into a new version of the batch. Its lineage goes back to the
unlabelled pool and the sampling step; its audit entry names the annotator.
"""),
    code(
        """
labelled = labels.commit(note="uncertainty sample, first round")
labelled.lineage()
"""
    ),
    md("""
## 6. Synthetic data: faithful, and private?

`ref.synthesize(n)` fits a generator on 80 % of the real rows and draws `n` synthetic rows.
The default generator is a **Gaussian copula with empirical marginals**, written in numpy and
scipy inside mlops_nb (no extra dependency): every column keeps its own distribution and
the rank associations between columns are kept, with one copula per class of the target so
each column's relation to the label is exact. The synthetic version is marked `SYNTHETIC` in
its lineage.

The report compares it with the 20 % of real people the generator never saw:

- **fidelity** — per-column distance (the real holdout's own distance is the noise floor),
  the change in pairwise associations, and *train on synthetic, test on real*;
- **privacy** — synthetic rows that equal a training row (compared with how often real
  holdout people do, since on 17 categorical answers many real people share a row), and the
  distance to the closest real record.
"""),
    code(
        """
synth = ref.synthesize(n=synthetic_rows, seed=seed)
synth
"""
    ),
    md("""
Against the baseline that draws every column independently: each column alone looks right,
but the joint structure — what a model needs — is gone.
"""),
    code(
        """
baseline = ref.synthesize(n=synthetic_rows, seed=seed, method="independent")
pd.DataFrame({
    name: {**report.fidelity, **{k: report.privacy[k] for k in ("exact_copy_share", "dcr_synthetic_median")}}
    for name, report in [("Gaussian copula", synth), ("independent columns", baseline)]
}).round(4)
"""
    ),
    md("""
## 7. Automated feature engineering

`train.features(auto=True, target=...)` proposes candidates — date parts, ratios and
differences of numbers, bins, category frequencies, target means of categories and of
category pairs (learnt *out of fold*, so a row's own label never enters its feature) — and
keeps only those that raise the cross-validated ROC AUC significantly. The kept steps are a
JSON recipe stored with the new version, so Model Ops can compute the same features for new
rows; the *Recipe* tab says which steps could also run inside an ONNX graph.
"""),
    code(
        """
feats = train.features(auto=True, target="employed", max_rows=feature_rows, seed=seed)
feats
"""
    ),
    md("""
The search's own gain is measured on the training rows. The honest check is the held-out
test split: the same recipe is applied to it, and a model trained with the features is
compared with the production recipe's model.
"""),
    code(
        """
if feats.kept:
    with_features = proj.train("employment-features", feats.asset, seed=seed)
    scores = {
        "without generated features": model.evaluate(test).metrics["roc_auc"],
        "with generated features": with_features.evaluate(feats.apply(test)).metrics["roc_auc"],
    }
    print(pd.Series(scores, name="test ROC AUC").round(4))
else:
    print("No candidate beat the baseline significantly: the data stays as it is. "
          "LightGBM on these 14 categorical answers and age already finds what the "
          "candidates offer — adding columns would only add cost and risk.")
"""
    ),
    md("""
## 8. Everything is in the audit log

Each label, the merge (with the annotator's name), the synthetic versions and the feature
search are recorded — who, when, what.
"""),
    code(
        """
import json

log = proj.audit_log(limit=500)
saves = log[log["action"] == "save annotation"]
print("actions saved per annotator:", saves["object"].str.extract(r"/employed/([^@]+)@")[0].value_counts().to_dict())
steps = log[log["action"].isin(["sample", "annotate", "synthesize", "features"])].copy()
steps["note"] = steps["detail"].map(lambda d: json.loads(d).get("note", ""))
steps[["at", "user", "action", "object", "note"]].head(8)
"""
    ),
]
