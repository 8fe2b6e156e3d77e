"""Cells of notebooks/01_dataops.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 01 · DataOps: data as versioned, checked facts

**The seed of this stage:** every model is only as trustworthy as the data it learnt from.
In DataOps we register data as *immutable versions* — each identified by a hash of its
content — so that every later result (a model, a fairness review, a drift alert) can name
exactly which rows it came from.

**Why it matters:** "which data did we train on?" is the first question in every audit,
every incident review and every retraining. A version number plus lineage answers it.

**What to look at:** the schema mlops_nb infers (kinds and roles), the profile, the quality
findings and their severities, and the lineage graph after we split and filter.

We use real data: the US Census ACS survey for Massachusetts (2015), predicting whether a
person is employed. `SEX` and `RAC1P` (race) are *sensitive* attributes: we never use them
silently, and later stages review fairness across them.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder (created if missing), or a team database URL
test_share = 0.2                  # share of rows in the test split
seed = 0                          # seed of the split
sample_rows = None                # e.g. 5000 for a quick run on a sample
""",
        "parameters",
    ),
    code("""
import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
proj
"""),
    md("""
### One project for a team

A folder is a project on one disk. A team shares one project from many kernels and
machines: its metadata in PostgreSQL, its files in an object store, and the same API:

```python
proj = mnb.Project.open("postgresql://ml@db.internal/mlops?schema=credit",
                        artifacts="s3://ml-artifacts/credit")
```

The database is made ready once, from a shell (`mlops-nb db upgrade URL`; a kernel never
migrates it), and `mlops-nb copy employment-demo URL --artifacts s3://...` moves this
folder there with every hash checked. This notebook runs unchanged on such a project:
pass the URL as `project_dir` (and `MLOPS_NB_ARTIFACTS=s3://...`), or run every companion
notebook on it with `MLOPS_NB_PROJECT=URL make demo`.
"""),
    md("""
## 1. Register the data

`proj.data(name, frame, ...)` stores the table as a version of the asset `acs`. We declare
the *roles*: the target, the sensitive attributes, the time column and the id. Registering
the same data again returns the same version — re-running this cell changes nothing.
"""),
    code("""
frame = mnb.datasets.employment("reference")
if sample_rows:
    frame = frame.sample(n=int(sample_rows), random_state=seed).sort_values("id")
ref = proj.data(
    "acs", frame,
    target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id",
    note="ACS 2015, Massachusetts (shipped with nannyml)",
)
ref
"""),
    md("""
### The data dictionary: words for codes

The survey stores answers as codes (`SEX` 1/2, `SCHL` 21, `RAC1P` 1–9). The shipped data
brings its *data dictionary* from the ACS PUMS documentation, and every view shows the
label with the code on hover ("female", *SEX = 2*). For your own data pass `labels=` and
`descriptions=` to `proj.data` (or call `asset.with_labels(...)` later). The dictionary is
metadata: the content hash does not change, so documenting data never makes a new version,
and later versions (splits, filters, new data under the same name) keep it.
"""),
    code("""
ref = proj.data("acs", frame, labels={"SEX": {1: "male", 2: "female"}},
                descriptions={"SEX": "Sex of the person"})   # same data: same version
print(f"version {ref.version}, content hash {ref.content_hash[:12]}")
print(ref.labels["SEX"], "|", ref.labels["SCHL"][21], "|", ref.descriptions["SEX"])
"""),
    md("""
## 2. Profile

Per-column statistics and distributions. Look for skewed numbers (age), rare categories
(some `RAC1P` groups have very few people — fairness estimates for them will be uncertain),
and the share of the target.
"""),
    code("ref.profile()"),
    md("""
## 3. Quality checks

Each finding has a severity and a plain sentence. On census data, *duplicate rows* are
expected: many people give identical answers to 17 questions. A *target leakage* error
would mean one column alone almost predicts employment — a sign it was recorded after the
outcome. `year` is constant because the reference period is a single year.
"""),
    code("""
checks = ref.check()
checks
"""),
    md("""
## 4. Split, with lineage

A stratified split keeps the share of employed people equal in both parts. Each part is a
new version whose parent is recorded.
"""),
    code("""
train, test = ref.split(test=test_share, seed=seed, stratify="employed")
test
"""),
    code("test.lineage()"),
    md("""
## 5. New data arrives: a new version

The 2016 survey (with its labels) is registered under the same name: it becomes `acs` v2
with v1 as its parent. Its checks compare it with v1: the `year` is now out of v1's range —
exactly the kind of change a data scientist wants to be told about.
"""),
    code("""
analysis = mnb.datasets.employment("analysis")
targets = mnb.datasets.employment("analysis_targets")
y2016 = analysis[analysis["year"] == 2016].merge(targets, on="id")
if sample_rows:
    y2016 = y2016.sample(n=int(sample_rows), random_state=seed).sort_values("id")
v2 = proj.data("acs", y2016, note="ACS 2016 with labels")
v2.check()
"""),
    md("""
## 6. Derived versions: filter and transform

Keep the working-age population, and add a derived column. Both become versions with
lineage that says what was done and why.
"""),
    code("""
adults = ref.filter("AGEP >= 16", note="working-age population", name="acs-adults")


def add_age_band(df):
    df["age_band"] = (df["AGEP"] // 10 * 10).astype(int).astype(str) + "s"
    return df


banded = adults.transform(add_age_band, note="age in decades")
banded.lineage()
"""),
    md("""
## 7. Data as people have it

Files rarely arrive as clean as a pandas frame. Here 300 rows come as a survey tool
might export them: `;`-delimited, every header and value padded with spaces, and the row
number in a column called `rid`. `proj.data` sniffs the delimiter, strips the padding
before pandas infers the types (and `check()` says which headers and columns it
stripped), and makes `rid` an `id` — a different integer on every row, under a name that
says id — so it is never used as a feature.
"""),
    code("""
import tempfile
from pathlib import Path

raw = frame.head(300).drop(columns=["id"]).reset_index(drop=True)
raw.insert(0, "rid", range(1001, 1001 + len(raw)))
lines = raw.to_csv(sep=";", index=False).splitlines()
padded = "\\n".join(";".join(f" {v} " for v in line.split(";")) for line in lines)
print(padded[:160], "...")
with tempfile.TemporaryDirectory() as tmp:
    csv_path = Path(tmp) / "survey-export.csv"
    csv_path.write_text(padded + "\\n")
    survey = proj.data("acs-export", csv_path, target="employed", note="as exported")
features = survey.schema.features
print("kind of 'rid':", survey.schema.kind("rid"), "| features:", *features[:4], "...")
stripped = survey.check().by_check("whitespace stripped")
print(len(stripped), "findings 'whitespace stripped', e.g.:", stripped[0]["message"])
"""),
    md("""
A filter string is not Python: it may name columns, compare and combine them, but it
cannot call anything, read attributes or reach local variables. This one tries, and is
refused before anything runs:
"""),
    code("""
try:
    survey.filter("AGEP > 0 and @os.system('x')")
except mnb.errors.MlopsNbError as refused:
    print(type(refused).__name__, "-", refused)
"""),
    md("""
## 8. Integrity and the project's story

Every artifact is re-hashed; the audit log records who did what and when. Displaying the
project shows its assets, lineage and audit log.
"""),
    code("proj.verify()"),
    code("proj"),
]
