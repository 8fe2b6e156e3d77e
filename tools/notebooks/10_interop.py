"""Cells of notebooks/10_interop.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 10 · Interop: MLflow models in and out, Hugging Face cards, OpenLineage events

**The seed of this stage:** teams rarely start from nothing. A teammate's model already
sits in MLflow; the model cards live on the Hugging Face Hub; lineage goes to Marquez or
DataHub. mlops_nb is useful to them when it can monitor, review and document a model it
did not train — and hand its own versions back to the tools that deploy them.

**The story:** *a teammate's model sits in MLflow; we monitor it with mlops_nb; and we
hand our own versions back.*

**What to look at:** the imported version's lineage (the MLflow URI and every file's
SHA-256), its drift review catching the drift we plant, the pickle refusal, the
`python_function` model that predicts mlops_nb's numbers, the Hugging Face card's YAML
metadata, and the OpenLineage events one action emits.

Everything stays on this machine: MLflow tracks into a SQLite file in the work folder
(no server), the card is written offline and the lineage events go to a file. This
notebook needs the extras `pip install 'mlops-nb[mlflow,hub,lineage]'` (`make demo` and
Binder install them).
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
work_dir = None                   # its folder interop/ holds the MLflow store, exports, cards (default: <project_dir>-interop)
seed = 0
batch_rows = 20000                # rows of the later production batch
shift_years = 12                  # the drift we plant: AGEP + shift_years in the last year
""",
        "parameters",
    ),
    code("""
import os
import shutil
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")   # no network
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")      # keep the notebook readable
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
import contextlib
import io
import json
import textwrap

import numpy as np
import pandas as pd

import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
# this notebook's own folder (inside work_dir if given): only it is emptied below
work = (Path(work_dir) / "interop" if work_dir else Path(f"{project_dir.rstrip('/')}-interop")).resolve()
shutil.rmtree(work, ignore_errors=True)   # a fresh MLflow store on every run
work.mkdir(parents=True)
ref = proj.data("acs", mnb.datasets.employment("reference"), target="employed",
                sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
print(f"work folder: {work}")
"""),
    md("""
## 1. A teammate's model, logged in MLflow

The teammate works outside mlops_nb: a scikit-learn pipeline (one-hot encoding and a
logistic regression) on the same 2015 training rows, logged with
`mlflow.sklearn.log_model` and registered as `employment-teammate`. MLflow tracks into a
SQLite file here — MLflow 3 keeps the old `./mlruns` folder store in maintenance mode —
with no server running. Two details matter:

- `pip_requirements=[...]` is given: otherwise MLflow spends many seconds inferring them
  in a subprocess;
- MLflow 3 stores scikit-learn models in the **skops** format by default, which can be
  loaded without running code from the file. The `MLmodel` file below says so.
"""),
    code("""
import mlflow
import mlflow.sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

features = ["AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC",
            "NATIVITY", "DEAR", "DEYE", "DREM"]
categorical = features[1:]
X, y = train.frame[features], train.frame["employed"]
teammate = Pipeline([
    ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical)],
                               remainder=StandardScaler())),
    ("clf", LogisticRegression(max_iter=500)),
]).fit(X, y)

tracking = f"sqlite:///{work / 'mlflow.db'}"
mlflow.set_tracking_uri(tracking)
if mlflow.get_experiment_by_name("employment-teammate") is None:  # artifacts in the work folder, not ./mlruns
    mlflow.create_experiment("employment-teammate", artifact_location=(work / "artifacts").as_uri())
mlflow.set_experiment("employment-teammate")
quiet = contextlib.redirect_stderr(io.StringIO())   # MLflow prints "Successfully registered..." there
with mlflow.start_run(run_name="logistic-regression"), quiet:
    info = mlflow.sklearn.log_model(
        teammate, name="model", registered_model_name="employment-teammate",
        signature=mlflow.models.infer_signature(X.head(200), teammate.predict_proba(X.head(200))),
        pip_requirements=["scikit-learn", "skops"])
print(f"logged {info.model_uri}, registered as employment-teammate v{info.registered_model_version}")
flavor = info.flavors["sklearn"]
print(f"sklearn flavor: serialization_format={flavor['serialization_format']!r}, "
      f"file {flavor['pickled_model']!r}")
"""),
    md("""
## 2. The MLflow model, monitored by mlops_nb

`proj.from_mlflow(uri, data=..., registry=...)` fetches the registered model, loads the
skops file with mlops_nb's list of trusted types, stores it in the project in safe formats
and measures it on `data` (here the held-out 2015 test split). The new version records
where it came from: the URI, the flavor and the SHA-256 of every file MLflow wrote. From
then on it is a model version like a trained one: it evaluates, monitors, explains,
exports and has a card. `uri` may be any form MLflow hands out: `models:/name/1`,
`models:/name@champion`, `models:/name/latest`, `runs:/<run id>/model`, or the
`info.model_uri` that `log_model` returned above (MLflow 3's logged model, `models:/m-…`).
"""),
    code("""
outside = proj.from_mlflow("models:/employment-teammate/1", data=test, registry=tracking,
                           name="employment-teammate")
source = outside.lineage["source"]
print(f"{outside.label} from {source['uri']} ({source['flavor']}); files pinned by SHA-256:")
for file, digest in source["files"].items():
    print(f"  {file:<20} {digest[:16]}…")
outside
"""),
    code("""
outside.evaluate(test)
"""),
    md("""
A monitor anchored to the test split, then a later batch: 2016–2018 rows as they arrive,
without labels. We **plant** a drift so we know what the review must find: in 2018, every
person is `shift_years` older (a data-entry bug in one year's extract, say). The review
must show `AGEP` alerting in 2018, far above its threshold, and the model's score moving
with it. (The real 2016–2018 data drifts a little on its own, as notebook 08 shows: ages
in 2017 and ancestry in 2018 may cross their thresholds too, by much less.)
"""),
    code("""
mon = outside.monitor(reference=test, chunk="year", alert_on=["jensen_shannon"],
                      multivariate=[])
later = mnb.datasets.employment("analysis").sample(n=batch_rows, random_state=seed).sort_values("id")
later.loc[later["year"] == 2018, "AGEP"] += shift_years     # the planted drift
mon.observe(later, note=f"2016-2018, AGEP + {shift_years} planted in 2018")
"""),
    code("""
review = mon.review()
table = review.to_frame()
age = table[(table["column"] == "AGEP") & (table["statistic"] == "jensen_shannon")]
print("AGEP, Jensen-Shannon distance per year (alert above the threshold):")
print(age[["chunk", "value", "upper", "alert"]].rename(columns={"upper": "threshold"})
      .to_string(index=False, float_format="{:.3f}".format))
review
"""),
    md("""
### Pickles are refused — unless you say you trust them

Older MLflow models (and MLflow 2's default) store scikit-learn with **cloudpickle**.
Loading a pickle runs whatever code its author put in it: a model file from a shared
drive, a registry anyone can write to, or an e-mail attachment can open a shell on your
machine the moment it is loaded. So `from_mlflow` refuses pickle-based flavors with an
`UnsafeFormatError` that says why and what to do. `trust_pickle=True` loads it anyway —
only for a file whose author and path you trust, since nothing can check it first — and
then stores the result in safe formats, so no pickle enters the project. Here we only
show the refusal; the better fix is to have the model logged again with
`serialization_format="skops"`.
"""),
    code("""
pickled = work / "teammate-cloudpickle"
mlflow.sklearn.save_model(teammate, str(pickled), serialization_format="cloudpickle",
                          signature=info.signature, pip_requirements=["scikit-learn", "cloudpickle"])
try:
    proj.from_mlflow(str(pickled), data=test, name="employment-pickled")
except mnb.errors.UnsafeFormatError as err:
    print(textwrap.fill(f"{type(err).__name__}: {err}", width=110))
"""),
    md("""
## 3. Our own version, handed back to MLflow

We train our own version (mlops_nb's default LightGBM recipe) and write it as an MLflow
model folder with `model.to_mlflow(folder)`. Its `python_function` flavor is a small
loader shipped in the folder that reads the version's own skops and LightGBM text files,
each checked against its SHA-256 — no pickle. Anyone with MLflow loads it with
`mlflow.pyfunc.load_model` and gets the same numbers as mlops_nb: `proba_<class>` columns
and the `decision` at the model's threshold. (`model.to_mlflow(registry=URL,
name=...)` logs and registers it in a tracking server instead, with the lineage as tags.)
"""),
    code("""
try:
    ours = proj.model("employment", stage="production")   # promoted in notebook 02
except mnb.errors.NotFoundError:
    try:
        ours = proj.model("employment")                   # trained on an earlier run
    except mnb.errors.NotFoundError:
        ours = proj.train("employment", train, seed=seed)
exported = ours.to_mlflow(work / "exports" / "employment")
exported
"""),
    code("""
loaded = mlflow.pyfunc.load_model(str(work / "exports" / "employment"))
rows = test.frame.sample(n=2000, random_state=seed)
inputs = ours.recipe["features"]
# MLflow's schema check refuses pandas "category" columns: hand them over as plain objects
theirs = loaded.predict(rows[inputs["numeric"] + inputs["categorical"]]
                        .astype({c: object for c in inputs["categorical"]}))
positive = ours.classes[-1]
gap = np.abs(theirs[f"proba_{positive}"].to_numpy() - ours.predict_proba(rows)[:, -1]).max()
print(f"mlflow.pyfunc vs mlops_nb on {len(rows):,} rows: max |Δp| = {gap:.1e}")
theirs.head()
"""),
    md("""
## 4. The model card, in the Hugging Face format

`card.to_huggingface()` returns a `huggingface_hub.ModelCard` whose YAML metadata is built
and validated by `ModelCardData`: the model name, library, tags, the data versions with
their content hashes and the recorded metrics as `model-index` results.
`push_to_hub_format(folder)` writes it as `README.md` — the folder
`huggingface_hub.upload_folder` would push. Nothing here contacts the Hub. We document the
teammate's model: mlops_nb writes the card from what it recorded (the import, the
evaluation on the test split, the monitor), not from what anyone typed.
"""),
    code("""
card = outside.card()
hf = card.to_huggingface()
readme = card.push_to_hub_format(work / "cards" / "employment-teammate")
front = readme.read_text(encoding="utf-8").split("---")[1]
print(f"{readme.relative_to(work)}: {type(hf).__module__}.{type(hf).__name__}, YAML front matter:")
print(front.strip())
"""),
    md("""
## 5. Lineage events for Marquez or DataHub

With `mnb.set_config(lineage="openlineage", lineage_file=...)`, data registration,
training, ONNX export and `Monitor.observe` emit OpenLineage run events through
openlineage-python: START, then COMPLETE with the input and output datasets (or FAIL with
the error). Here they go to a JSON-lines file; without `lineage_file` they go to the
client's console transport. We register the 2016 extract, derive its adults from it, and
read the events back: the second action has the first one's output as its input.
"""),
    code("""
events_file = work / "lineage.jsonl"
mnb.set_config(lineage="openlineage", lineage_file=str(events_file))
try:
    recent = proj.data("acs-2016", mnb.datasets.employment("analysis").query("year == 2016"),
                       time="year", id="id", note="2016 extract, for the lineage demo")
    adults = recent.filter("AGEP >= 18", name="acs-2016-adults")
finally:
    mnb.set_config(lineage="off", lineage_file="")   # back to the default: no events
events = [json.loads(line) for line in events_file.read_text().splitlines()]
print(f"{len(events)} events in {events_file.name}; job namespace: {events[0]['job']['namespace']}")
pd.DataFrame([{
    "eventType": e["eventType"],
    "job": e["job"]["name"],
    "inputs": ", ".join(d["name"] for d in e.get("inputs", [])) or "—",
    "outputs": ", ".join(d["name"] for d in e.get("outputs", [])) or "—",
} for e in events])
"""),
    md("""
Every import and export is in the audit log, like any other action:
"""),
    code("""
proj.audit_log(limit=8)[["at", "user", "action", "object"]]
"""),
]
