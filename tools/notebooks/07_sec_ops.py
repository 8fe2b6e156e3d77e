"""Cells of notebooks/07_sec_ops.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 07 · Sec Ops: integrity, confidentiality, poisoning and partners you cannot trust

**The seed of this stage:** a model is only as trustworthy as the bytes it is loaded
from, the data it learnt from and the partners it learnt with. Each of these can be
attacked quietly: a swapped file, a re-published dataset, a few flipped labels per
month, one partner sending poisoned weights.

**Why it matters:** these attacks leave no error message. They have to be *checked for*,
every time, and the checks have to be recorded so an auditor can see they ran.

**What to look at:** the signed manifest of a model version and what each kind of
tampering looks like; the personal data found per column and the masked and
pseudonymized versions; confident learning finding planted label flips, and a slow
poisoning campaign caught by a change-point alert; the one-verdict vetting of an open
dataset; and robust aggregation surviving 30 % hostile partners where the plain mean
collapses.
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
seed = 0
partners = 10                      # federated partners in section 6
bad_partners = 3                   # how many of them send poisoned weights
work_dir = None                    # where scratch copies go; None: the system's temporary folder
""",
        "parameters",
    ),
    code(
        """
import json
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import mlops_nb as mnb

proj = mnb.Project.open(project_dir)
frame = mnb.datasets.employment("reference")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id",
                note="ACS 2015, Massachusetts (shipped with nannyml)")
train, test = ref.split(test=0.2, seed=seed, stratify="employed")
try:
    model = proj.model("employment", stage="production")   # from notebook 02
except mnb.errors.NotFoundError:
    model = proj.train("employment", train, estimator="lightgbm", seed=seed)
if work_dir:
    Path(work_dir).mkdir(parents=True, exist_ok=True)
scratch = Path(tempfile.mkdtemp(prefix="secops-", dir=work_dir))   # for files we tamper with
model
""",
    ),
    md("""
## 1. Integrity: every file hashed, every version signed

Every artifact in the project is stored under its SHA-256 and re-hashed whenever it is
read. On top of that, a model version's **manifest** — its files' hashes, the data
versions it learnt from, its base model's hash, its recipe, name and version — is signed
with the project's Ed25519 key (kept in `keys/` inside the project, readable by you
only). Verification rebuilds the manifest from the registry and compares.
"""),
    code(
        """
mnb.secure.sign_model(model)
"""
    ),
    code(
        """
proj.verify()
"""
    ),
    md("""
**What tampering looks like.** On a *copy* of the project (never your real one), an
attacker swaps two files of the model version — the preprocessing and the booster — in
the registry. Each file is still intact, so the store alone sees nothing wrong; the signed
manifest names exactly what changed. (The copy holds no private key — backups never do —
so we verify with the public key pinned from the real project.)
"""),
    code(
        """
copy = mnb.Project.open(proj.backup(scratch / "copy"))
victim = copy.model(model.name, version=model.version)
swapped = {**victim.artifacts, "prep": victim.artifacts["booster"], "booster": victim.artifacts["prep"]}
with copy._store.write() as conn:     # the attacker edits the registry directly
    conn.execute("UPDATE model_versions SET artifacts = ? WHERE id = ?", (json.dumps(swapped), victim.id))
mnb.secure.verify_model(copy.model(model.name, version=model.version),
                        public_key=mnb.secure.public_key(proj))
"""
    ),
    md("""
Edge bundles and other file folders get the same treatment with `diff_manifest`: added,
deleted, renamed, modified, swapped and symlinked files are each named. And a device that
remembers the last manifest it accepted refuses an *older*, correctly signed one
presented as new (a rollback).
"""),
    code(
        """
bundle = scratch / "bundle"
bundle.mkdir()
for name, data in {"model.onnx": b"weights", "schema.json": b"{}", "predict.py": b"run()"}.items():
    (bundle / name).write_bytes(data)
recorded = mnb.secure.folder_manifest(bundle)
(bundle / "model.onnx").write_bytes(b"weights with a backdoor")
(bundle / "predict.py").rename(bundle / "main.py")
(bundle / "schema.json").unlink()
(bundle / "schema.json").symlink_to("/etc/hostname")
mnb.secure.diff_manifest(recorded, bundle)
"""
    ),
    code(
        """
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

device_key = Ed25519PrivateKey.generate()
v1 = mnb.secure.sign_manifest({"model.onnx": "aaa"}, key=device_key, sequence=1)
v2 = mnb.secure.sign_manifest({"model.onnx": "bbb"}, key=device_key, sequence=2)
accepted = mnb.secure.verify_envelope(v2, public_key=device_key.public_key())["sequence"]
try:
    mnb.secure.verify_envelope(v1, public_key=device_key.public_key(), min_sequence=accepted)
except mnb.errors.IntegrityError as refused:
    print(refused)
"""
    ),
    md("""
**Trust anchored outside the database.** Whoever can write the whole project folder can
also replace its key and re-sign everything: verifying with the folder's own key then
proves nothing. So keep the project's public key *outside* the folder (a CI secret, a
device's configuration) and pin it when you open the project: `trust=` takes the public
key or its `sha256:` fingerprint (or set `MLOPS_NB_TRUST`). With a pin, only the pinned key
verifies and every version must be signed. A copy whose key was replaced is refused at
the door:
"""),
    code(
        """
pinned = mnb.secure.public_key(proj)   # 64 hex digits: keep them outside the project
trusted = mnb.Project.open(project_dir, trust=pinned)
print(trusted.verify())

forged_dir = proj.backup(scratch / "forged")   # an attacker copies the whole folder ...
forged = mnb.Project.open(forged_dir)
mnb.secure.generate_key(forged, overwrite=True)   # ... installs their own key, re-signs
mnb.secure.sign_model(forged.model(model.name, version=model.version))
print("without a pin:", forged.verify())
try:
    mnb.Project.open(forged_dir, trust=pinned)
except mnb.errors.IntegrityError as refused:
    print("with the pin: ", refused)
"""
    ),
    md("""
## 2. Safe loading: nothing is ever unpickled

A pickle can run any code when it is loaded. mlops_nb decides the format from the bytes
(not the file name) and refuses the whole pickle family before parsing. This payload
would create a marker file if it were unpickled:
"""),
    code(
        """
marker = scratch / "pwned"

class Payload:
    def __reduce__(self):
        import io
        return (io.open, (str(marker), "w"))   # "open this file for writing" when unpickled

(scratch / "data.csv").write_bytes(pickle.dumps(Payload()))
try:
    proj.data("suspicious-upload", scratch / "data.csv")
except mnb.errors.UnsafeFormatError as refused:
    print(refused)
print("code ran:", marker.exists())
"""
    ),
    md("""
## 3. Confidentiality: find personal data, then mask or pseudonymize it

A contact list for the programme's outreach (synthetic people, real-looking formats:
e-mail, phone, IBAN, payment card, names in free-text notes). `privacy()` finds each
kind per column — examples are always redacted. `mask()` and `pseudonymize(key=...)`
each make a **new version** with lineage; the original stays as it is. Pseudonyms are
keyed HMACs: the same person gets the same token in every version, so joins still
work, and nobody without the key can recompute a token from a guessed e-mail address.
"""),
    code(
        """
rng = np.random.default_rng(seed)
first = np.array(["Maria", "John", "Aisha", "Wei", "Sofia", "Daniel", "Fatima", "Lucas"])
last = np.array(["Lopez", "Smith", "Okafor", "Chen", "Rossi", "Murphy", "Haddad", "Silva"])

def iban(rng):
    bban = "".join(rng.choice(list("0123456789"), 18))
    check = 98 - int(bban + "131400") % 97            # DE = 13 14, mod-97 check digits
    text = f"DE{check:02d}{bban}"
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))

def card(rng):
    digits = [4, *rng.integers(0, 10, 14)]
    total = sum(d if i % 2 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(reversed(digits)))
    digits.append((10 - total % 10) % 10)             # Luhn check digit
    text = "".join(map(str, digits))
    return " ".join(text[i:i + 4] for i in range(0, 16, 4))

people = frame.sample(n=2000, random_state=seed).reset_index(drop=True)[["id", "AGEP", "SCHL", "employed"]]
f, l = rng.choice(first, len(people)), rng.choice(last, len(people))
people["email"] = [f"{a.lower()}.{b.lower()}{i}@example.org" for i, (a, b) in enumerate(zip(f, l))]
people["phone"] = [f"+1 617 555 {rng.integers(0, 10000):04d}" for _ in range(len(people))]
people["iban"] = [iban(rng) for _ in range(len(people))]
people["card"] = [card(rng) if rng.random() < 0.3 else "" for _ in range(len(people))]
people["notes"] = [f"Called {a} {b} about the programme" if rng.random() < 0.4 else "no answer"
                   for a, b in zip(f, l)]
contacts = proj.data("contacts", people, target="employed", id="id", note="outreach contact list")
found = contacts.privacy()
found
"""
    ),
    code(
        """
masked = found.mask(name="contacts-masked")
masked.frame.head(3)
"""
    ),
    code(
        """
key = "keep-this-secret-outside-the-project-0123"   # in practice: from a secrets manager
pseudo = found.pseudonymize(key, name="contacts-pseudo")
# next month's list (the same people, re-ordered and with e-mail in capitals) pseudonymizes alike
later = proj.data("contacts-next", people.iloc[::-1].assign(email=people["email"].str.upper()[::-1]),
                  target="employed", id="id")
later_pseudo = later.privacy().pseudonymize(key, name="contacts-next-pseudo")
same = pseudo.frame.set_index("id")["email"].eq(later_pseudo.frame.set_index("id")["email"]).mean()
print(f"same token for the same person in both versions: {same:.0%}; original untouched:",
      proj.asset("contacts").frame.equals(contacts.frame))
pseudo
"""
    ),
    md("""
## 4. Poisoning: flipped labels, outliers, and the slow campaign

**Per version.** Confident learning (Northcutt et al.) uses out-of-fold probabilities
from a fixed LightGBM model to estimate which labels disagree with everything else the
data says. On a set with crisp labels, with 10 % of labels flipped on purpose, it finds
most of the flips — here is the measurement:
"""),
    code(
        """
from sklearn.datasets import make_classification

X, y = make_classification(n_samples=3000, n_features=10, n_informative=6, n_redundant=2, n_classes=3,
                           n_clusters_per_class=1, class_sep=1.2, random_state=seed)
flipped = np.sort(rng.choice(3000, 300, replace=False))
noisy = y.copy()
noisy[flipped] = (y[flipped] + rng.integers(1, 3, 300)) % 3
planted = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(label=noisy, row=np.arange(3000))
screen = proj.data("planted-flips", planted, target="label", id="row").poisoning()
hits = set(screen.label_issues["id"]) & set(flipped.tolist())
print(f"recall {len(hits) / len(flipped):.2f}, precision {len(hits) / len(screen.label_issues):.2f}")
screen
"""
    ),
    md("""
On the census data labels are *inherently* uncertain (two people with the same answers
can differ in employment), so a single version's suspicious rate — around 15 % — says
little by itself. What matters is whether it **rises**. Here eight monthly batches
arrive; from the fifth on, someone flips 5 % more of the "employed" labels each month.
No single month looks alarming. `poisoning_trend` compares every batch with an
**anchored** baseline (the first three batches, never "last month", which would drift
along with the attack) and accumulates the evidence with a CUSUM:
"""),
    code(
        """
order = rng.permutation(len(frame))
for month in range(8):
    batch = frame.iloc[order[month * 2000:(month + 1) * 2000]].copy()
    share = 0.05 * max(0, month - 3)
    employed = np.flatnonzero(batch["employed"].to_numpy() == 1)
    batch.iloc[rng.choice(employed, round(share * len(employed)), replace=False),
               batch.columns.get_loc("employed")] = 0
    proj.data("acs-monthly", batch, target="employed", id="id", sensitive=["SEX", "RAC1P"],
              time="year", note=f"month {month + 1}")
proj.poisoning_trend("acs-monthly", n_estimators=30)
"""
    ),
    md("""
## 5. Open data: one verdict before it joins the project

Someone found ACS data for 2016 on a mirror. `proj.vet` records where it came from and
under which licence (the URL is stored as text, never fetched), looks for duplicates and
for rows that are already in the project — above all in the **test** split, which would
make every later evaluation look better than it is — compares its distribution with the
reference data, and scans it for personal data.
"""),
    code(
        """
analysis = mnb.datasets.employment("analysis").merge(mnb.datasets.employment("analysis_targets"), on="id")
mirror = pd.concat([analysis[analysis["year"] == 2016].head(20_000), test.frame.head(300)], ignore_index=True)
verdict = proj.vet(mirror, name="acs-2016-mirror", source="https://mirror.example.org/acs/2016.csv",
                   licence="CC0-1.0")
verdict
"""
    ),
    md("""
**Pinning.** Before training on files from outside, pin them: the first ingest records
every file's SHA-256; a later ingest of a changed, added, removed or re-ordered file
fails and names it (split-view poisoning: the mirror serves different bytes later).
"""),
    code(
        """
download = scratch / "download"
download.mkdir()
clean_2016 = analysis[analysis["year"] == 2016].head(6000)
shards = []
for i in range(3):
    part = clean_2016.iloc[i * 2000:(i + 1) * 2000]
    shards.append(download / f"part-{i}.csv")
    part.to_csv(shards[-1], index=False)
pinned = mnb.secure.ingest(proj, "acs-2016", shards, source="https://mirror.example.org/acs/2016",
                           licence="CC0-1.0", target="employed", id="id", time="year")
shards[1].write_text(shards[1].read_text().replace(",2016,1\\n", ",2016,0\\n", 50))  # mirror edits 50 labels
try:
    mnb.secure.ingest(proj, "acs-2016", shards, target="employed", id="id", time="year")
except mnb.errors.IntegrityError as refused:
    print(refused)
"""
    ),
    md("""
**Contribution caps.** When a retraining batch is assembled from several sources, no
single source may supply more than a set share — a poisoner who controls one feed can
then only move the model so far.
"""),
    code(
        """
sources = {"survey": clean_2016.iloc[:1000], "partner-feed": clean_2016.iloc[1000:4000],
           "archive": clean_2016.iloc[4000:5000]}
try:
    mnb.secure.assemble(proj, "retrain-batch", sources, cap=0.4, target="employed")
except mnb.errors.ValidationError as refused:
    print(refused)
batch = mnb.secure.assemble(proj, "retrain-batch", sources, cap=0.4, on_exceed="downsample",
                            target="employed")
pd.DataFrame(batch.params["sources"]).T.astype({"offered": int, "used": int})
"""
    ),
    md("""
## 6. Partners you cannot trust: robust aggregation

Ten regional offices each fit a logistic regression on their own rows, with the same
agreed feature encoding, and send the weights. Three of them send poisoned weights
(sign-flipped and scaled). The plain average — what most federated code does — collapses;
the median, the trimmed mean and (multi-)Krum stay within a point or two of the model
averaged from the honest offices alone. Each partner also gets a **trust score** from
its distance to the robust centre.
"""),
    code(
        """
from sklearn.linear_model import LogisticRegression

features = [c for c in frame.columns if c not in ("id", "year", "employed", "SEX", "RAC1P")]
encoded = pd.get_dummies(frame[features], columns=[c for c in features if c != "AGEP"], dtype=float)
encoded["AGEP"] = encoded["AGEP"] / 100          # the encoding every partner agreed on
labels = frame["employed"].to_numpy()
holdout, rest = order[:10_000], order[10_000:40_000]
offices = {}
for i, rows in enumerate(np.array_split(rest, partners)):
    office = LogisticRegression(max_iter=300).fit(encoded.iloc[rows], labels[rows])
    if i < bad_partners:
        office.coef_, office.intercept_ = -10 * office.coef_, -10 * office.intercept_
    offices[f"office-{i + 1}"] = office
honest = {k: v for k, v in offices.items() if int(k.split("-")[1]) > bad_partners}
X_test, y_test = encoded.iloc[holdout], labels[holdout]
scores = {"mean of honest offices only": mnb.secure.aggregate(honest, method="mean", unsafe=True,
                                                              clip_norm=None).model.score(X_test, y_test),
          "plain mean (unsafe)": mnb.secure.aggregate(offices, method="mean", unsafe=True,
                                                      clip_norm=None).model.score(X_test, y_test)}
for method in ("median", "trimmed_mean", "krum"):
    scores[method] = mnb.secure.aggregate(offices, method=method).model.score(X_test, y_test)
pd.Series(scores, name="accuracy").round(3).to_frame()
"""
    ),
    code(
        """
mnb.secure.aggregate(offices, method="trimmed_mean", beta=0.3)
"""
    ),
    md("""
In low-trust mode (the default) the plain mean is refused unless you say `unsafe=True`,
self-reported example counts are capped, and malformed updates (wrong shape or dtype,
NaN, infinity) are rejected and logged with the partner's id. Every action of this
notebook is in the audit log:
"""),
    code(
        """
proj.audit_log(limit=10)[["at", "user", "action", "object"]]
"""
    ),
]
