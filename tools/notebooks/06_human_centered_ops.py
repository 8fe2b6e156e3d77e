"""Cells of notebooks/06_human_centered_ops.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 06 · Human Centered Ops: fairness, explanations, a model card and a signed release

**The seed of this stage:** a model that decides about people is reviewed by people
before it decides. They need evidence, not assurances: how the decisions fall for each
group, what a fairer version would cost, which inputs drive a prediction, and a card
that says what was — and was not — checked.

**Why it matters:** a disparity found after release is found by the people it harmed.
Here the release to production is *gated*: a checklist of recorded facts (fairness
within limits or a named waiver, an explanation, a complete card, intact artifacts, a
monitoring plan) and a named person's sign-off. Every step lands in the audit log.

**What to look at:** the fairness review by sex, race and their intersection (with
intervals, and the groups too small to judge); the trade-off of a mitigated version in
accuracy and money; the global and local explanations; the gaps the model card admits;
and the gate that refuses production until someone signs.

The data is the US Census employment data for Massachusetts (2015). The decision is the
one of notebook 00's value canvas: contact people predicted *not employed* (class 0) for
a job-training programme. `SEX` is `1` male, `2` female; `RAC1P` is `1` White alone, `2`
Black alone, `6` Asian alone, `8` some other race alone, `9` two or more races (the
other codes are groups of fewer than 100 people in the data).
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-release-demo"  # its own folder: the release checklist this
# notebook turns on is a project-wide decision, and notebooks 02-09 promote without it
seed = 0
sample_rows = None                # e.g. 20000 for a quicker run on a sample
run_exponentiated_gradient = False  # the slow mitigation: about 10-20 s more on 2 cores
reviewer = "A. Reviewer"          # the person who signs the release
""",
        "parameters",
    ),
    code(
        """
import mlops_nb as mnb
from mlops_nb.human import ITEMS, configure_checklist

proj = mnb.Project.open(project_dir)
frame = mnb.datasets.employment("reference")
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"],
                time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
rest, test = ref.split(test=0.2, seed=seed, stratify="employed")
# a validation split to fit the mitigation on: data the model did not learn from
train, valid = rest.split(test=0.25, seed=seed, stratify="employed",
                          names=("acs-fit", "acs-valid"))
try:
    canvas = proj.canvas()   # set in notebook 00
except mnb.errors.NotFoundError:
    canvas = proj.canvas(
        process="Outreach for a job-training programme", value_level="optimize",
        kpis=["placements per 1,000 EUR of outreach"],
        outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0,
        stakeholders=["programme office", "applicants"],
        risks=["unequal outreach by sex or race"],
        success="business value per 1,000 cases above the current rule")
# the project's release policy, recorded with a name: every item of the checklist
configure_checklist(proj, by="Workshop lead", items=list(ITEMS),
                    note="full release checklist")
model = proj.train("employment", train, seed=seed)
model.evaluate(test)
model
"""
    ),
    md("""
## 1. Fairness: who is selected, and how accurately?

`model.fairness(test)` compares the model's *decisions* with the true labels for each
group of `SEX`, of `RAC1P` and of their intersection — fairlearn's `MetricFrame` for the
rates, 200 bootstrap replicates for the 95 % intervals. Groups with fewer than 30 rows
are flagged and left out of the disparity summaries: their rates are mostly noise
(fairlearn's own values over *all* groups are shown beside them, and one tiny group can
make them 1.0).

- **demographic parity difference**: the largest minus the smallest selection rate;
- **equalized odds difference**: the larger of the gaps in true and false positive rates
  — do people who need the programme get it equally often, and people who do not,
  equally rarely?

The release checklist's limit is 0.1 for both (a project can set its own, on the
record).

Groups read as words: the data's *dictionary* (from the ACS documentation, kept by every
split) names `SEX=2` "female" and `RAC1P=6` "Asian alone"; hover over a group to see its
code. The model finds the dictionary through its training data's lineage.
"""),
    code(
        """
print(test.labels["RAC1P"])        # codes -> labels, as the views show them
print(test.descriptions["RAC1P"])  # what the column is
"""
    ),
    code(
        """
fair = model.fairness(test)
fair
"""
    ),
    code(
        """
fair.findings()   # each disparity above its limit, in words
"""
    ),
    md("""
## 2. Mitigation: a fairer version, and its price

fairlearn's **threshold optimizer** keeps the model and gives each group its own
decision threshold, chosen on the validation split to equalize the odds across `RAC1P`
groups while keeping accuracy as high as it can. fairlearn's rule is randomized (some
people would be decided by a coin); mlops_nb stores one threshold per group that selects
the same share, so the same person always gets the same decision. The result is a **new
model version** with lineage to the original — and it reads `RAC1P` at decision time,
which the card records: whether that is lawful for the intended use is a question for
the reviewer.

The trade-off is measured on the *test* split, which neither the model nor the
thresholds saw: accuracy, ROC AUC, money value per 1,000 decisions (priced with the
canvas) and the disparities, before and after. Export and serving of such a version need
the threshold table; the *Export and serving* tab says so.

fairlearn's **exponentiated gradient** retrains models under the constraint instead. It
fits the learner tens of times (about 160 s for logistic regression on 5,000 rows with
fairlearn's defaults), so mlops_nb's defaults are sized for a notebook: 2,000 sampled
rows and at most 10 iterations, with a progress bar. It is off here to keep this
notebook under a minute on 2 cores: set `run_exponentiated_gradient = True` to try it.
"""),
    code(
        """
fixed = model.mitigate(valid, method="threshold_optimizer", constraint="equalized_odds",
                       sensitive="RAC1P", test=test)
fixed
"""
    ),
    code(
        """
if run_exponentiated_gradient:
    display(model.mitigate(valid, method="exponentiated_gradient",
                           constraint="equalized_odds", sensitive="RAC1P", test=test))
candidate = fixed.model
review = candidate.fairness(test)   # the full review again, now of the candidate
review
"""
    ),
    md("""
## 3. Explanations: what drives the candidate's decisions?

What is explained is the probability of the decision's class, `P(employed=0)`: the
chance of being contacted. Globally, interpret's Morris sensitivity ranks the inputs and
partial dependence draws the top four (for an EBM, its own term importances and shape
functions). The candidate reads `RAC1P` for its thresholds, so `RAC1P` is now an input —
and the explanation shows how much it weighs. Locally, for one person, the contributions
of each input (Shapley values sampled against rows of the training data) add up to the
prediction minus the average one. interpret's dashboard is never started: everything is
drawn here, offline, in about a second.
"""),
    code(
        """
candidate.explain(test)
"""
    ),
    code(
        """
local = candidate.explain(test.frame.iloc[[0]])
local
"""
    ),
    md("""
**What if?** In JupyterLab the local explanation has a *What-if* tab: a control per
input, and the prediction and contributions follow as you move them. The same controls
work from code — here, the same person ten years older:
"""),
    code(
        """
what_if = local.what_if()
what_if.controls["AGEP"].value = what_if.controls["AGEP"].value + 10
what_if
"""
    ),
    md("""
## 4. The model card: recorded facts, and admitted gaps

The monitoring plan of Drift Ops (a monitor anchored to a reference data version) is one
of the facts the release needs; then the card is assembled from what the project holds.
Sections without records are listed as **gaps** — here at least carbon (no energy
measurement was recorded) and export (the candidate was not exported) — never filled
with prose. `card.to_markdown("MODEL_CARD.md")` writes the Hugging Face layout with YAML
metadata.
"""),
    code(
        """
monitor = candidate.monitor(test)
card = candidate.card()
card
"""
    ),
    code(
        """
print(card.to_markdown()[:1400])
"""
    ),
    md("""
## 5. The release checklist gates production

The checklist is a promotion gate for production, in every kernel and for every model of
the project. Before a named sign-off it refuses — and nothing changes:
"""),
    code(
        """
checklist = candidate.checklist()
try:
    candidate.promote("production", reason="fairer outreach", data=test)
except mnb.errors.GateError as refused:
    print(refused)
checklist
"""
    ),
    md("""
A sign-off is refused while any other item fails. A disparity still above its limit (the
intersection groups are small and noisy) can be accepted only by a **named waiver** with
a reason — on the record, like the sign-off itself.
"""),
    code(
        """
if any(item.name == "fairness within limits" for item in checklist.open_items):
    checklist = checklist.waive(
        "fairness within limits", by=reviewer,
        reason="RAC1P disparities within limits after mitigation; intersection groups "
               "of a few hundred people are monitored monthly")
checklist = checklist.sign(reviewer,
                           note="fairness review, explanations and model card read")
candidate.promote("production", reason="fairer outreach, signed off", data=test)
"""
    ),
    code(
        """
proj.audit_log(limit=8)[["at", "user", "action", "object"]]
"""
    ),
]
