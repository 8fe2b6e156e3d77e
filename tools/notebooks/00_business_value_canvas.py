"""Cells of notebooks/00_business_value_canvas.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 00 * Business Ops: the value canvas

**The seed of this stage:** before we touch data or train anything, we write down *why*
the ML system exists: which business process it serves, how it creates value, who is
affected, what can go wrong — and what each decision it makes is worth in money. That
is the **value canvas**.

**Why it matters:** accuracy is not value. A model that is right 85% of the time can
still lose money if its mistakes are the expensive ones, and a model can be pointless
if a simple rule already captures the value. Every later stage prices its results with
this canvas: evaluation picks the threshold that earns the most, monitoring prices its
alerts, and the release checklist asks whether the success criterion is met.

**What to look at:** the 2x2 *decision outcome* matrix, the break-even probability it
implies, and the value of simple policies (contact everyone, contact nobody, a rule):
that value is the bar a model must clear.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, else reused
""",
        "parameters",
    ),
    code("""
import numpy as np

import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
"""),
    md("""
## 1. The use case, and which class is "positive"

A public **job-training programme** contacts people to offer them training. Contacting
costs money; reaching someone who needs a job is what the programme is for. We will use
the US Census ACS survey for Massachusetts, whose target `employed` is 1 for employed
people and 0 for the others.

The decision is *contact or not*. In a cost matrix, **"positive" is the case the
decision acts on**, not whatever the label calls 1. The programme acts on people
predicted **not employed**, so the positive class is `employed = 0`:

| outcome | prediction → decision | truth | value per person |
|---|---|---|---|
| **tp** | not employed → contact | not employed | **+120 EUR**: the programme's aim |
| **fp** | not employed → contact | employed | **-15 EUR**: a wasted contact |
| **fn** | employed → no contact | not employed | **-60 EUR**: a person in need missed |
| **tn** | employed → no contact | employed | **0 EUR**: nothing happens |

Get this wrong (`positive_class=1`) and every number downstream is priced backwards.

**Value level.** The canvas asks *how* the system creates value:
`add_value` (a new signal inside an existing process), `optimize` (make an existing
process cheaper, faster or better targeted), `new_process` (a process that could not
exist without the model) or `ecosystem` (value across organisations). The programme
already contacts people; the model only targets the contacts better: **optimize**.
"""),
    code("""
canvas = proj.canvas(
    process="Outreach for a job-training programme",
    value_level="optimize",            # add_value | optimize | new_process | ecosystem
    kpis=["placements per 1,000 EUR of outreach", "share of contacted who enrol"],
    outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0},   # EUR per decision
    positive_class=0,                  # the programme acts on people NOT employed
    stakeholders=["programme office", "applicants", "case workers"],
    risks=["unequal outreach by sex or race"],
    success="business value per 1,000 cases above the current rule",
    note="first draft with the programme office",
)
canvas
"""),
    md("""
## 2. Read the canvas: the break-even probability

The four outcome values imply a rule: contacting a person who is not employed with
probability *p* is worth `p*120 + (1-p)*(-15)`; not contacting is worth `p*(-60)`.
The two are equal at the **break-even probability**. Above it, contacting pays. A good
model is one that finds people *below* it — those we can safely skip.

The validation is strict on purpose: an unknown value level, a missing or non-numeric
outcome is refused with every problem listed at once, and nothing is saved.
"""),
    code("""
print(f"contacting pays when P(not employed) >= {canvas.break_even:.1%}")
try:
    proj.canvas(value_level="optimise", outcomes={"tp": 120, "fp": "cheap", "fn": -60})
except mnb.errors.ValidationError as err:
    print(err)
"""),
    md("""
## 3. What must a model beat? Price simple policies on real data

Before training anything, price the policies the programme could use *today*, on the
2015 reference data (68,785 people). `canvas.confusion` counts the four outcomes of a
policy and `canvas.value_per_1000` prices them per 1,000 people, so numbers stay
comparable across data sizes.
"""),
    code("""
frame = mnb.datasets.employment("reference")
y = frame["employed"]
age = frame["AGEP"]
school = frame["SCHL"].astype(int)        # SCHL < 16: no high-school diploma

everyone = np.ones(len(frame), dtype=bool)  # True = contact
counts = canvas.confusion(y, everyone)
print(counts, f"-> {canvas.value_per_1000(**counts):,.0f} EUR per 1,000 people")
"""),
    code("""
policies = {
    "contact everyone": everyone,
    "contact nobody": ~everyone,
    "rule: age < 25 or >= 60, or no diploma": (age < 25) | (age >= 60) | (school < 16),
    "rule: no high-school diploma": school < 16,
}
baselines = canvas.compare_policies(y, policies)
baselines
"""),
    md("""
**What the numbers say.** With these values, *contact everyone* is hard to beat: a
wasted contact costs 15 EUR while a missed person costs 60, so the break-even
probability is only 7.7%. A model adds value only by finding people who are almost
certainly employed. *Contact everyone* is the bar the ML/Model Ops notebook must clear,
in money, not in accuracy.

Notice also what the canvas *prices*: labels. The survey includes children and retirees;
contacting an 8-year-old counts as a "true positive" worth 120 EUR. "Not employed" is a
proxy for "would benefit from training". A canvas makes such gaps visible: the programme
must define its population (the DataOps notebook builds `acs-adults`), and the gap is a
risk to record.

## 4. What if contacts cost more?

`with_fields` makes an unsaved copy for a what-if. If each contact were a personal
phone call costing 40 EUR, the break-even rises to 18% and the lead of *contact
everyone* over the age-and-diploma rule shrinks from about 10,000 to under 2,000 EUR
per 1,000 people: skipping people starts to pay, and a model has room to earn. Whether
ML is worth it depends on the canvas as much as on the model.
"""),
    code("""
what_if = canvas.with_fields(outcomes={**canvas.outcomes, "fp": -40})
print(f"break-even with a 40 EUR contact: {what_if.break_even:.1%}")
what_if.compare_policies(y, policies)
"""),
    md("""
## 5. The canvas evolves: a partial update makes version 2

Fields not given keep their values; changed fields make a new version, recorded in the
audit log with who and why. Saving the same fields again changes nothing. Evaluation and
monitoring always use the project's *current* canvas, `proj.canvas()`. In JupyterLab the
canvas also has an **Edit** tab: a form that saves a new version the same way.
"""),
    code("""
v2 = proj.canvas(
    risks=[
        *canvas.risks,
        "'not employed' includes children and retirees: define the population",
    ],
    note="population risk found while pricing baselines",
)
v2
"""),
    code("""
print(f"current canvas: version {proj.canvas().version}")
proj.audit_log(limit=3)[["at", "user", "action", "object", "detail"]]
"""),
]
