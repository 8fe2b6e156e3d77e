"""Cells of notebooks/04_edge_export_xmo.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 04 · IT Model Ops: ONNX export, eXtreme Model Optimization, edge bundle, serving

**The seed of this stage:** a model that only runs inside the notebook that trained it
helps nobody. IT Model Ops takes a model *version* out of Python: into ONNX (one portable
file holding the preprocessing and the model), into smaller and cheaper *variants*, into a
self-checking *edge bundle* for a device, and behind an authenticated *web service*.

**Why it matters:** every step can silently change the predictions, or make them slower,
bigger or hungrier than the device or the budget allows. So each step here is *measured*:
parity between ONNX and the native model; accuracy, money value, size, latency, memory and
energy for every variant; a choice made by the **4 P's** — *Purpose* (what it must still
achieve), *Performance* (latency), *Power* (size, memory, energy) and *Price* (energy
priced per 1,000 predictions) — with numbers measured here, never invented.

**What to look at:** the parity figure, the variant table (including the variants that
failed or had no effect — they stay in the table), the Pareto chart, the explanation of the
choice, the bundle that refuses a changed byte, and the HTTP calls to the running service.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
seed = 0
sample_rows = None                # e.g. 5000 for a quick run on a sample
port = 0                          # 0 picks a free port; e.g. 8765 for a fixed one
price_per_kwh = 0.25              # your electricity price (EUR per kWh), for the Price P
work_dir = None                   # where the edge bundle goes; None: beside the project folder
                                  # (a team project: this machine's folder of it)
""",
        "parameters",
    ),
    code(
        """
import json, secrets, shutil, subprocess, sys, urllib.error, urllib.request
from pathlib import Path
import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
frame = mnb.datasets.employment("reference")
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    proj.canvas()   # set in notebook 00
except mnb.errors.NotFoundError:
    proj.canvas(process="Outreach for a job-training programme", value_level="optimize",
                outcomes={"tp": 120, "fp": -15, "fn": -60, "tn": 0}, positive_class=0)
try:   # the production model of notebook 02, if that notebook ran in this project
    model = proj.model("employment", stage="production")
except mnb.errors.NotFoundError:
    model = proj.train("employment", train, estimator="lightgbm", seed=seed)
model
"""
    ),
    md("""
## 1. Export to ONNX — and prove it predicts the same

`export_onnx` converts the preprocessing (imputer, ordinal encoder) and the LightGBM
booster into one ONNX graph, runs it in ONNX Runtime on the test data and compares every
probability with the native model. The ONNX file is stored in the project as a
content-addressed artifact with lineage to the model version.
"""),
    code(
        """
onnx = model.export_onnx(check=test)
onnx
"""
    ),
    md("""
## 2. eXtreme Model Optimization — build variants, measure everything

Each variant is measured on the same test rows: accuracy and money value (priced with the
value canvas), file size, single-row latency (p50/p99), batch throughput, peak memory (in a
fresh process) and energy per 1,000 predictions (CodeCarbon, offline). Lower precision does
not help every model: the float16 tree ensemble does not load in ONNX Runtime, and int8
quantization has nothing to quantize in a tree ensemble — the table says so instead of
hiding them. The native Python model is measured too, for comparison.
"""),
    code(
        """
variants = model.optimize(test, seed=seed)
variants
"""
    ),
    md("""
## 3. Choose by the 4 P's

*Purpose*: keep at least 98 % of the model's money value. *Performance*: a median
single-row latency under 1 ms. *Power*: a file under 2 MB and under 0.01 Wh per 1,000
predictions. *Price*: at most 0.001 EUR per 1,000 predictions at your electricity price.
Among the variants that meet every budget, `prefer="size"` takes the smallest file.
"""),
    code(
        """
pick = variants.choose(purpose="score applicants on the office's kiosk", latency_ms=1, size_mb=2,
                       energy_wh_per_1000=0.01, price_per_kwh=price_per_kwh, max_price_per_1000=0.001,
                       min_value=0.98, prefer="size")
pick
"""
    ),
    md("""
When nothing fits, the choice says which budget no variant meets — here a file of at most
10 KB:
"""),
    code(
        """
impossible = variants.choose(size_mb=0.01, min_value=0.98)
print(impossible.explanation)
"""
    ),
    md("""
## 4. A detached edge bundle

`bundle` writes `model.onnx`, `schema.json`, a README, a standalone `predict.py` (numpy and
onnxruntime only — no mlops_nb, no pandas) and `manifest.json` with the SHA-256 of every
file, plus a zip beside the folder. `predict.py` checks every file before it loads anything.
"""),
    code(
        """
edge = Path(work_dir or proj.path.parent).absolute() / "edge" / "employment"
bundle = pick.bundle(edge, overwrite=True)
bundle
"""
    ),
    code(
        """
rows = test.frame.head(5)[model.features]        # the model's input columns
rows.to_csv(edge.parent / "rows.csv", index=False)
run = subprocess.run([sys.executable, "-I", "predict.py", "../rows.csv", "--format", "csv"],
                     cwd=edge, capture_output=True, text=True)
source = (edge / "predict.py").read_text().splitlines()
imports = {line.split()[1].split(".")[0] for line in map(str.strip, source)
           if line.startswith(("import ", "from ")) and "__future__" not in line}
print("predict.py imports:", ", ".join(sorted(imports)))
print(run.stdout)

# one changed byte in the model file, and the bundle refuses to run (exit status 3)
tampered = edge.parent / "employment-tampered"
shutil.rmtree(tampered, ignore_errors=True)
shutil.copytree(edge, tampered)
data = bytearray((tampered / "model.onnx").read_bytes()); data[1000] ^= 1
(tampered / "model.onnx").write_bytes(bytes(data))
refused = subprocess.run([sys.executable, "-I", "predict.py", "../rows.csv"], cwd=tampered,
                         capture_output=True, text=True)
print("exit status", refused.returncode, "-", refused.stderr.strip())
"""
    ),
    md("""
## 5. Serve it — authenticated, validated, recorded

`serve` starts an HTTP service in the background of this kernel, over ONNX Runtime, bound to
127.0.0.1. Every route but `/health` needs the bearer token; requests are checked against
the model's schema before the model runs (a missing column, an undeclared one or a `NaN`
gets a 422 that names the field; a category never seen in training is scored as unknown
and flagged, or refused with `strict=True`). Each served batch is recorded as a version of the
data asset `employment-served`, which the Drift Ops monitor reads as analysis data.
"""),
    code(
        """
token = secrets.token_urlsafe(32)
server = model.serve(port=port, token=token, record_seconds=1)
server
"""
    ),
    code(
        """
def post(path, body, token=token):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())

batch = json.loads(rows.to_json(orient="records"))   # plain JSON rows: numbers, categories, null
print("3 rows            ->", post("/predict", batch[:3]))
print("no token          ->", post("/predict", batch[:1], token=None))
print("unknown category  ->", post("/predict", [{**batch[0], "SCHL": 99}])[1]["unseen_categories"])
print("undeclared column ->", post("/predict", [{**batch[0], "ssn": "1"}])[1]["message"])

# rows as they come: a row may carry the data's id column (and time, target, sensitive)
with_ids = test.frame.head(3)[["id", *model.features]]
with_ids = json.loads(with_ids.to_json(orient="records"))
print("ids echoed        ->", post("/predict", with_ids)[1]["ids"])
"""
    ),
    code(
        """
server.stop()
proj.asset("employment-served")
"""
    ),
    md("""
## 6. Any column name

Exported data rarely has tidy column names. Here two features are renamed to hold a
hyphen, a space, a dot and brackets, and a small LightGBM model (20 trees) is trained on
3,000 rows. The ONNX graph's inputs get valid, unique names (`onnx_name`: an ASCII stem
plus 8 hex digits of the name's SHA-256); the export, its variants, the bundle and the
server map them back, so you only ever see your own names.
"""),
    code(
        """
odd_names = {"AGEP": "age-in years", "SCHL": "school.level [code]"}
odd = frame.head(3000).rename(columns=odd_names)
odd_ref = proj.data("acs-odd-names", odd, target="employed", sensitive=["SEX", "RAC1P"],
                    time="year", id="id", note="column names as exported")
odd_train, odd_test = odd_ref.split(test=0.3, seed=seed, stratify="employed")
odd_model = proj.train("employment-odd-names", odd_train, params={"n_estimators": 20},
                       seed=seed)
odd_onnx = odd_model.export_onnx(check=odd_test)
print({name: graph for name, graph in odd_onnx.input_names.items() if name != graph})
odd_onnx
"""
    ),
    code(
        """
sample = odd_test.frame.head(5)
p_onnx, p_native = odd_onnx.predict_proba(sample), odd_model.predict_proba(sample)
print("ONNX   P(employed):", p_onnx[:, 1].round(6))
print("native P(employed):", p_native[:, 1].round(6))
print("max |p_onnx - p_native| =", float(abs(p_onnx - p_native).max()))
"""
    ),
    md("""
## What was recorded

The export, every variant's ONNX file, the bundle's manifest hash and the service's start
and stop are in the project — and in its audit log:
"""),
    code(
        """
proj.audit_log(limit=10)[["at", "user", "action", "object"]]
"""
    ),
]
