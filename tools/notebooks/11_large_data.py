"""Cells of notebooks/11_large_data.ipynb."""

from nbcells import code, md

CELLS = [
    md("""
# 11 · Data larger than memory: versions, checks, drift and batch scoring on Dask

**The seed of this stage:** production logs outgrow one process's memory long before the
model does. The ops stages still apply — a data version pinned by content, its profile
and checks, drift per day, label-free performance, batch scoring — but none of them may
load the whole table.

**How mlops_nb does it:** a *large version* is a manifest of parquet partitions, each
pinned by SHA-256 and re-hashed whenever it is read. Profiles, checks and drift come from
one *summarize → merge → finalize* protocol: each partition is summarised on a Dask
worker, the summaries are merged, and the figures are computed from the merge. Where the
statistic allows it (counts, nulls, ranges, binned divergences such as Jensen-Shannon and
PSI, CBPE's confusion-matrix sums) the result **equals** the in-memory path; where it
does not (quartiles, distinct counts, Kolmogorov-Smirnov), a sketch gives it **with its
bound**. The model is scored on the workers from its ONNX export, one ONNX Runtime
session per worker.

**What to look at:** nothing is loaded when the logs are registered; the profile and
checks of rows never held in one place; the drift review alerting on exactly the days we
planted a drift in; and the scored partitions with the ids passed through.

The data here is generated (a million rows is modest, so this runs in about a minute on 2
cores); the same code runs on `s3://...` globs and a remote scheduler. This notebook
needs the extra `pip install 'mlops-nb[scale]'` (`make demo` and Binder install it).
"""),
    code(
        """
# Parameters (papermill can override these)
project_dir = "employment-demo"   # the project folder: created if missing, reused if present
work_dir = None                   # its folder large_data/ holds the logs and scores (default: <project_dir>-large)
seed = 0
days = 20                         # daily parquet files of production logs
rows_per_day = 50000              # 20 days x 50,000: 1M rows
drifted_days = [12, 13, 14]       # the days we plant a drift in (0-based)
memory_limit = "1GB"              # per Dask worker
""",
        "parameters",
    ),
    md("""
## 1. Generate the logs: one parquet file per day

A churn-like scenario: five features, a request id, a timestamp. The reference (two weeks
of labelled history) is small and lives in memory; the production logs are written as
daily parquet files, vectorised with numpy. In the `drifted_days` we **plant** a drift:
incomes rise by half and the customers come from another mix of regions — so we know
exactly which days the review must flag, and which it must leave quiet.
"""),
    code("""
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mlops_nb as mnb

REGIONS = np.array(["north", "south", "east", "west", "centre"], dtype=object)


def generate(n, day, *, drift=False, rng):
    \"\"\"n rows of day `day` (days after 2026-03-01); labels from a fixed rule.\"\"\"
    p_region = [0.05, 0.1, 0.15, 0.3, 0.4] if drift else [0.3, 0.25, 0.2, 0.15, 0.1]
    frame = pd.DataFrame({
        "ts": pd.Timestamp("2026-03-01") + pd.Timedelta(days=day)
              + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s"),
        "request_id": day * 10_000_000 + np.arange(n, dtype=np.int64),
        "age": rng.normal(42, 12, n).clip(18, 90).round(),
        "income": rng.lognormal(10.3 + (0.4 if drift else 0.0), 0.5, n).round(2),
        "tenure_months": rng.gamma(2.0, 12.0, n).round(1),
        "support_calls": rng.poisson(1.2, n).astype(np.int64),
        "region": pd.Series(REGIONS[rng.choice(5, n, p=p_region)], dtype=object),
    })
    logit = (-1.0 + 0.6 * frame["support_calls"] - 0.03 * frame["tenure_months"]
             - 0.3 * (np.log(frame["income"]) - 10.3) + 0.5 * (frame["region"] == "west"))
    frame["churned"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame


started = time.perf_counter()
rng = np.random.default_rng(seed)
# this notebook's own folder (inside work_dir if given): only it is emptied below
work = (Path(work_dir) / "large_data" if work_dir else Path(f"{project_dir.rstrip('/')}-large")).resolve()
shutil.rmtree(work, ignore_errors=True)
(work / "logs").mkdir(parents=True)
history = pd.concat([generate(3_000, d - 14, rng=rng) for d in range(14)], ignore_index=True)
for day in range(days):
    logs_day = generate(rows_per_day, day, drift=day in drifted_days, rng=rng)
    logs_day.drop(columns="churned").to_parquet(work / "logs" / f"{logs_day['ts'].iloc[0]:%Y-%m-%d}.parquet",
                                                index=False)
files = sorted((work / "logs").glob("*.parquet"))
print(f"{len(files)} files, {days * rows_per_day:,} rows, "
      f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB on disk, "
      f"written in {time.perf_counter() - started:.1f} s")
print("drift planted in:", ", ".join(files[d].stem for d in drifted_days))
"""),
    md("""
## 2. A model, trained on the history in memory

Training stays on one machine: the history is small. (`proj.train(..., engine="dask")`
trains LightGBM on a large version with `lightgbm.dask`, experimental — see the README.)
"""),
    code("""
proj = mnb.Project.open(project_dir)
history_v = proj.data("churn-history", history, target="churned", time="ts", id="request_id",
                      note="two weeks of labelled history (generated)")
train, test = history_v.split(test=0.3, seed=seed, stratify="churned")
model = proj.train("churn", train, params={"n_estimators": 60}, seed=seed)
model
"""),
    md("""
## 3. A Dask cluster

Two worker processes with one thread each and a memory limit — what a laptop or a 2-core
Binder can afford. With a real cluster, pass `Client("tcp://scheduler:8786")` instead;
everything below stays the same.
"""),
    code("""
import logging

from dask.distributed import Client, LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                       dashboard_address=":0", silence_logs=logging.ERROR)
client = Client(cluster)
print(f"{len(client.scheduler_info()['workers'])} workers, 1 thread each, {memory_limit} each")
"""),
    md("""
## 4. Register the logs as a large version — nothing is loaded

`proj.data(name, "<folder>/*.parquet", time=..., id=...)` stores each partition as its own
blob, pinned by SHA-256 in a manifest; row counts come from the parquet footers and the
schema from a seeded 1,000-row sample. The same partitions give the same version. It has
no `.frame` — asking for one says what to use instead.
"""),
    code("""
import textwrap

logs = proj.data("logs", str(work / "logs" / "*.parquet"), time="ts", id="request_id",
                 note="production logs, one parquet file per day (generated)")
print(f"{logs.label}: large={logs.is_large}, {logs.n_rows:,} rows, {logs.n_cols} columns")
try:
    logs.frame
except mnb.errors.ValidationError as err:
    print(textwrap.fill(f"{type(err).__name__}: {err}", width=110))
logs
"""),
    md("""
## 5. Profile and checks, from per-partition summaries

Counts, nulls, means, ranges and histograms are exact (merged Welford/Chan moments, fixed
bins); quartiles come from KLL sketches and distinct counts from HyperLogLog, each shown
with its error bound. The checks run on the same summaries; what needs whole rows
compared across partitions (duplicate rows) is listed as *not checked* rather than
silently skipped.
"""),
    code("""
logs.profile()
"""),
    code("""
logs.check()
"""),
    md("""
## 6. Drift per day, on the workers

`mon.observe(logs, client=client)` summarises each partition per day on the workers, on
the reference's bins, and scores it with the model's ONNX export (one session per worker;
only the bytes travel). The review reads like the in-memory one (notebook 08): the
binned statistics are exact, Kolmogorov-Smirnov D and Wasserstein come with their bound,
CBPE estimates ROC AUC and the confusion-matrix metrics without labels, and the notes
say what the large path does not compute yet. The monitor alerts on Jensen-Shannon
(`alert_on`): it does not grow with the number of rows, so a day of 50,000 rows is held
to a threshold learnt on reference days of a few hundred rows. (The chi-squared
statistic, shown too, does grow with the rows; it is not used for alerts here.) Only the
planted days should alert.
"""),
    code("""
mon = model.monitor(reference=test, chunk="D", alert_on=["jensen_shannon"])
obs = mon.observe(logs, client=client, note="20 days of logs")
obs
"""),
    md("""
Each worker held one partition at a time (scored in blocks of 65,536 rows), so its peak
memory stays well under its limit whatever the number of days. At 100M rows in 100 files
the same two workers peaked under 1 GB each (see the README's benchmarks).
"""),
    code("""
def peak_mb():   # runs in each worker process
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

peaks = client.run(peak_mb)
print("peak memory per worker: " + ", ".join(f"{mb:,.0f} MB" for mb in peaks.values())
      + f" (limit {memory_limit} each)")
"""),
    code("""
review = mon.review()
table = review.to_frame()   # every statistic, its threshold, crossed, alert (alert_on only)
alerted = sorted(set(table[table["alert"]]["chunk"]))
planted = sorted(files[d].stem for d in drifted_days)
print(f"days alerting: {', '.join(alerted) or 'none'}")
print(f"days planted:  {', '.join(planted)}  -> exactly these: {alerted == planted}")
review
"""),
    md("""
## 7. Batch scoring into partitioned parquet

`model.predict_batch(logs, to=folder)` re-hashes every partition first (a changed one is
refused, naming it, before anything is scored), then scores each on a worker with ONNX
Runtime and writes `part-NNNNN.parquet` with the id, the score and the decision at the
model's threshold, and `_batch.json` last. The folder could be `s3://...`.
"""),
    code("""
batch = model.predict_batch(logs, to=work / "scores", client=client)
batch
"""),
    code("""
scored = sorted((work / "scores").glob("part-*.parquet"))
print(f"{len(scored)} scored partitions; the first rows of {scored[0].name}:")
pd.read_parquet(scored[0]).head()
"""),
    code("""
client.close()
cluster.close()
print(f"done in {time.perf_counter() - started:.0f} s")
"""),
]
