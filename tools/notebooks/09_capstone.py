"""Cells of notebooks/09_capstone.ipynb: the whole loop in one run."""

from nbcells import code, md

CELLS = [
    md("""
# 09 · Capstone: the whole operations loop in one run

Every stage of the workshop, end to end, on one project:
**canvas → data → model → fairness → export → serve → monitor → retrain.**

Each step is a call you have met in notebooks 00-08; here they run in order, so you can
see how each one hands its result to the next: the canvas prices the evaluation and the
drift alerts; the data version is the model's lineage; the production model is what gets
exported, served and monitored; the labelled production data is what retrains it.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "capstone-demo"   # a fresh folder keeps the story short
seed = 0
analysis_rows = 40_000          # production rows to monitor (sampled from 2016-2018)
""",
        "parameters",
    ),
    md("## 1. Business value: what is a decision worth?"),
    code(
        """
import json
import secrets
import socket
import urllib.request

import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
canvas = proj.canvas(
    process="Outreach for a job-training programme", value_level="optimize",
    kpis=["placements per 1,000 EUR of outreach"],
    outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0,
    stakeholders=["programme office", "applicants"], risks=["unequal outreach by sex or race"],
    success="business value per 1,000 cases above contacting everyone")
canvas
"""
    ),
    md("## 2. Data: a checked, versioned reference"),
    code(
        """
ref = proj.data("acs", mnb.datasets.employment("reference"), target="employed",
                sensitive=["SEX", "RAC1P"], time="year", id="id", note="ACS 2015")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
ref.check()
"""
    ),
    md("## 3. Model: train, evaluate in money, promote through gates"),
    code(
        """
model = proj.train("employment", train, seed=seed)
model.evaluate(test)
"""
    ),
    code("""model.promote("production", reason="capstone release", data=test, min_metrics={"roc_auc": 0.85})"""),
    md("## 4. Fairness: the decisions by sex and race"),
    code("""model.fairness(test)"""),
    md("## 5. Export and serve: ONNX with parity, an authenticated service"),
    code(
        """
onnx = model.export_onnx(check=test)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
token = secrets.token_urlsafe(32)
server = model.serve(port=port, token=token, record_seconds=1)
rows = json.loads(test.frame.head(3)[model.features].to_json(orient="records"))
request = urllib.request.Request(server.url + "/predict", data=json.dumps(rows).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {token}"})
with urllib.request.urlopen(request, timeout=10) as response:
    print("served:", json.loads(response.read()))
server.stop()
onnx
"""
    ),
    md("""
## 6. Monitor: production data arrives without labels

The monitor is anchored to the test split. Production data from 2016-2018 is cut into one
chunk per year; without labels, performance is *estimated* (CBPE) — and such chunks are
marked unverified, because a label-free estimate cannot see concept drift.
"""),
    code(
        """
analysis = mnb.datasets.employment("analysis").sample(analysis_rows, random_state=seed)
mon = model.monitor(reference=test, chunk="year")
mon.observe(analysis, note="2016-2018 production data")
mon.review()
"""
    ),
    md("## 7. Labels arrive: realized performance and the concept-drift verdict"),
    code(
        """
arrived = mon.add_targets(mnb.datasets.employment("analysis_targets"), on="id")
display(arrived)
mon.review()
"""
    ),
    md("""
## 8. Close the loop: retrain on the labelled production data

The monitor hands its labelled data to Model Ops: a challenger is trained with the
production recipe and promoted only if every gate passes on the same new test split.
"""),
    code(
        """
result = mon.retrain(reason="capstone: labelled 2016-2018 data")
if result.promoted:
    print("promoted")
else:  # which gate refused, on which data, with which values, and what to do
    import pandas as pd

    columns = ["gate", "data", "this version", "compared with", "how to proceed"]
    display(pd.DataFrame(result.failures, columns=columns))
proj.compare("employment")
"""
    ),
    md("## The project's story"),
    code("""proj.verify()"""),
    code("""proj"""),
]
