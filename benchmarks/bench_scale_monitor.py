"""``scale_monitor``: a 2-worker LocalCluster monitors ROWS x 20 columns, 100 days.

One child (measured by :mod:`benchmarks._harness`) starts a LocalCluster of 2 worker
processes x 1 thread (``memory_limit="3GB"`` each), generates the rows ON the
workers as 100 daily parquet partitions (one seeded task per file, vectorised numpy
written by pyarrow, kept under :data:`CACHE` by size and seed for later runs: 15 numeric
columns, normal / log-normal / integer with 1 % missing in five, and 5 categorical
of 4 to 40 levels; half of the numeric and two categorical columns drift from day
50 on), restarts the workers (so their peak RSS counts the monitoring only),
registers the folder as a large version (in the client process: each file hashed
and copied into the store) and times ``mon.observe(large, client=...)`` with
``chunk="D"`` and every statistic (continuous JS, KS, Wasserstein, PSI, Hellinger;
categorical chi-squared, JS, L-infinity, PSI). The peak memory per worker is the
worker process's own ``ru_maxrss``, read on each worker after the run.

Beside it, in fresh children and on the same generated rows held in memory (pandas
categoricals): mlops_nb's in-memory ``univariate_drift`` (the same statistics and
daily chunks: the computation the large path distributes) and nannyml's
``UnivariateDriftCalculator(chunk_period="D")`` (every statistic it has), each at
growing sizes up to a cap (:data:`MEMORY_SIZES`, :data:`NANNYML_SIZES`); where each
stops is in the notes. The throughput ratio per core is
``(rows / observe_s / 2 workers) / (rows / in-memory_s / 1 core)`` at the largest
size both ran (goal >= 0.8); beside it the same ratio per CPU second (the
workers' and the client's CPU time against the in-memory process's), which is what
the wall ratio is on idle cores and does not move with other load on the machine.

``python -m benchmarks --only scale_monitor`` runs 10M rows (``--quick``: 1M);
``python -m benchmarks.bench_scale_monitor ROWS [MEMORY_CAP NANNYML_CAP]`` runs one
size (and the in-memory paths up to those caps) and prints the rows; 100,000,000 for
the issue's figure writes ~11 GB of parquet, twice on disk (the store's copy).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import ChildError, child_env, run_child
from benchmarks._registry import Config, Row, register

DAYS = 100
#: In-memory sizes tried (stop at the first failure or at the last: the cap).
MEMORY_SIZES = (1_000_000, 10_000_000, 20_000_000)
NANNYML_SIZES = (1_000_000, 5_000_000)

#: Generated partitions are kept here between runs, one folder per size and seed.
CACHE = os.environ.get(
    "MLOPS_NB_BENCH_CACHE", str(Path(tempfile.gettempdir()) / "mlops_nb-bench-data")
)

#: Defines ``make_table(i, rows_per_day, seed)`` (one day, pyarrow), ``make_part``
#: (the same day as pandas), ``logs_folder(rows, seed, client)`` (the 100 daily
#: files, generated once per size and seed under :data:`CACHE`) and
#: ``make_reference``. Everything is vectorised numpy, written by pyarrow.
GEN_CODE = """\
CACHE = __CACHE__
NUM_COLS, LEVELS = 15, (4, 8, 12, 20, 40)


def make_table(i, n, seed=0):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng([seed, i])
    drift = 0.3 if 50 <= i < 100 else 0.0
    secs = np.sort(rng.uniform(0, 86_399, n))
    start = np.datetime64("2026-01-01", "ns") + np.timedelta64(i, "D")
    ts = start + (secs * 1e9).astype("int64").astype("timedelta64[ns]")
    cols = {"ts": pa.array(ts, type=pa.timestamp("ns"))}
    for k in range(NUM_COLS):
        kind = k % 3
        if kind == 0:
            v = rng.standard_normal(n) + (k + drift * (k < 8))
        elif kind == 1:
            v = np.exp(rng.standard_normal(n) * 0.6 + (0.5 + 0.2 * drift * (k < 8)))
        else:
            v = rng.integers(0, 50, size=n).astype("float64")
            v += round(drift * 5 * (k < 8))
        if k % 3 == 0:
            v[rng.random(n) < 0.01] = np.nan
        cols[f"num_{k:02d}"] = pa.array(v, from_pandas=True)  # NaN -> null
    for j, levels in enumerate(LEVELS):
        w = 1 / np.arange(1, levels + 1)
        cum = np.cumsum(w / w.sum())
        codes = np.minimum(np.searchsorted(cum, rng.random(n)), levels - 1)
        if drift and j < 2:
            codes = np.where(rng.random(n) < 0.2, levels - 1, codes)
        names = pa.array([f"c{j}_{q:02d}" for q in range(levels)])
        cols[f"cat_{j}"] = pa.DictionaryArray.from_arrays(
            pa.array(codes.astype("int8")), names
        )
    return pa.table(cols)


def make_part(i, n, seed=0):
    return make_table(i, n, seed).to_pandas()


def _write_day(i, n, seed, folder):
    import os
    import pyarrow.parquet as pq

    path = os.path.join(folder, "day-%03d.parquet" % i)
    pq.write_table(make_table(i, n, seed), path + ".tmp")
    os.replace(path + ".tmp", path)
    return n


def logs_folder(rows, seed=0, client=None):
    \"\"\"The 100 daily files of ``rows`` rows (made once; on workers if given).\"\"\"
    import os

    folder = os.path.join(CACHE, f"scale-{rows}-seed{seed}")
    done = os.path.join(folder, "COMPLETE")
    if os.path.exists(done):
        return folder, 0.0
    import time

    os.makedirs(folder, exist_ok=True)
    per_day = rows // 100
    t = time.perf_counter()
    if client is None:
        made = [_write_day(i, per_day, seed, folder) for i in range(100)]
    else:
        made = client.gather(
            client.map(_write_day, range(100), n=per_day, seed=seed, folder=folder)
        )
    assert sum(made) == per_day * 100
    with open(done, "w") as f:
        f.write(str(rows))
    return folder, time.perf_counter() - t


def make_reference(n):
    import numpy as np
    import pandas as pd

    days = [make_part(1000 + d, n // 10, seed=1) for d in range(10)]
    ref = pd.concat(days, ignore_index=True)
    ref["ts"] = ref["ts"] - pd.Timedelta(days=1365)  # 10 days of 2023
    rng = np.random.default_rng(5)
    ref["y"] = (ref["num_00"].fillna(0) + rng.normal(0, 1, len(ref)) > 0).astype(int)
    return ref
""".replace("__CACHE__", repr(CACHE))

STATS = """\
CONT = ("jensen_shannon", "kolmogorov_smirnov", "wasserstein", "psi", "hellinger")
CAT = ("chi2", "jensen_shannon", "l_infinity", "psi")
"""

_LARGE = """\
import os, resource, tempfile, time
import mlops_nb as mnb
from dask.distributed import Client, LocalCluster

def _peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def _cpu_s():
    import time
    return time.process_time()  # this worker process's CPU seconds

rows = {rows}
with tempfile.TemporaryDirectory(dir={tmp!r}) as tmp:
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="3GB")
    client = Client(cluster)
    folder, gen_s = logs_folder(rows, 0, client)
    parquet_mb = sum(os.path.getsize(os.path.join(folder, f))
                     for f in os.listdir(folder) if f.endswith(".parquet")) / 2**20
    client.restart()  # fresh worker processes: their peak RSS is the monitoring's
    proj = mnb.Project.open(os.path.join(tmp, "proj"))
    ref = make_reference(20_000)
    asset = proj.data("ref", ref, target="y", time="ts")
    train, test = asset.split(test=0.5, seed=0)
    model = proj.train("m", train, params={{"n_estimators": 8}}, seed=0)
    t = time.perf_counter()
    logs = proj.data("logs", os.path.join(folder, "*.parquet"), time="ts")
    register_s = time.perf_counter() - t
    mon = model.monitor(reference=test, chunk="D", continuous=CONT, categorical=CAT)
    cpu0, own0 = sum(client.run(_cpu_s).values()), time.process_time()
    t = time.perf_counter()
    obs = mon.observe(logs, client=client)
    observe_s = time.perf_counter() - t
    cpu_s = sum(client.run(_cpu_s).values()) - cpu0 + time.process_time() - own0
    peaks = sorted(client.run(_peak_mb).values())
    alerts = [int(a > 0) for a in obs.chunks["alerts"]]
    client.close()
    cluster.close()
_emit(gen_s=gen_s, register_s=register_s, observe_s=observe_s, cpu_s=cpu_s,
      load=os.getloadavg()[0],
      worker_peak_mb=peaks, parquet_mb=parquet_mb, chunks=len(obs.chunks),
      alerted_before=sum(alerts[:50]), alerted_after=sum(alerts[50:]),
      client_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

_MEMORY = """\
import resource, time
import pandas as pd
import glob, os
import pyarrow.dataset as pads
folder, _ = logs_folder({rows}, 0)  # the large path's files (made once)
files = sorted(glob.glob(os.path.join(folder, "*.parquet")))
analysis = pads.dataset(files, format="parquet").to_table().to_pandas()
ref = make_reference(20_000).drop(columns="y")
feats = [c for c in ref.columns if c != "ts"]
cats = [c for c in feats if c.startswith("cat_")]
t, cpu0 = time.perf_counter(), time.process_time()
"""

_OURS = """\
from mlops_nb.drift import univariate_drift
table = univariate_drift(ref, analysis, columns=feats, categorical=cats, chunk="D",
                         time_column="ts", continuous_statistics=CONT,
                         categorical_statistics=CAT)
n_chunks = table.to_frame()["chunk"].nunique()
"""

_NANNYML = """\
import warnings
from mlops_nb._offline import import_nannyml
nml = import_nannyml()
t = time.perf_counter()  # nannyml's import is not timed
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    calc = nml.UnivariateDriftCalculator(
        column_names=feats, treat_as_categorical=cats, timestamp_column_name="ts",
        chunk_period="D",
        continuous_methods=["jensen_shannon", "kolmogorov_smirnov", "wasserstein",
                            "hellinger"],
        categorical_methods=["chi2", "jensen_shannon", "l_infinity"],
    )
    calc.fit(ref)
    result = calc.calculate(analysis).filter(period="analysis").to_df()
n_chunks = len(result)
"""

_END = """\
_emit(compute_s=time.perf_counter() - t, cpu_s=time.process_time() - cpu0,
      chunks=int(n_chunks),
      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _large(rows: int, tmp: str) -> dict:
    code = GEN_CODE + STATS + _LARGE.format(rows=rows, tmp=tmp)
    result = run_child(code, timeout=3600)
    return {**result.values, "wall": result.wall, "child_peak_mb": result.peak_rss_mb}


def _in_memory(body: str, sizes: tuple[int, ...]) -> tuple[dict[int, dict], str]:
    """Run ``body`` at growing sizes; the results and where it stopped, in words."""
    env = child_env(NML_DISABLE_USAGE_LOGGING="1")
    out: dict[int, dict] = {}
    for rows in sizes:
        code = GEN_CODE + STATS + _MEMORY.format(rows=rows) + body + _END
        try:
            res = run_child(code, env=env, timeout=600)
        except ChildError as err:
            last = str(err).strip().splitlines()[-1][:80]
            return out, f"stopped at {rows:,} rows: {last}"
        out[rows] = {**res.values, "wall": res.wall}
    return out, f"not tried above {sizes[-1]:,} rows (the cap here)"


def measure(
    rows: int,
    config: Config,
    memory_sizes: tuple[int, ...] = MEMORY_SIZES,
    nannyml_sizes: tuple[int, ...] = NANNYML_SIZES,
) -> list[Row]:
    """Run the large path at ``rows`` and both in-memory paths up to their caps."""
    tmp = tempfile.gettempdir()
    large = _large(rows, tmp)
    peaks = large["worker_peak_mb"]
    sizes = tuple(s for s in memory_sizes if not config.quick or s <= rows)
    ours, ours_stop = _in_memory(_OURS, sizes or (rows,))
    nsizes = tuple(s for s in nannyml_sizes if not config.quick or s <= rows)
    nml, nml_stop = _in_memory(_NANNYML, nsizes or (rows,))
    rows_txt = f"{rows / 1e6:g}M rows x 20 columns, 100 daily chunks"
    total_mb = sum(peaks) + large["client_rss_mb"]
    notes = (
        f"2 workers x 1 thread; peak RSS per worker {peaks[0]:,.0f} / "
        f"{peaks[1]:,.0f} MB, client {large['client_rss_mb']:,.0f} MB (in all "
        f"{total_mb:,.0f} MB); registering (hash + copy {large['parquet_mb']:,.0f} MB "
        f"of parquet, one process) {large['register_s']:.0f} s, generating on the "
        f"workers {large['gen_s']:.0f} s; alerted days {large['alerted_before']}/50 "
        f"clean, {large['alerted_after']}/50 drifted"
    )
    out = [
        Row(
            f"scale_monitor: observe {rows_txt}, on a LocalCluster",
            large["observe_s"],
            notes=notes,
            extra=large,
        ),
        Row(
            f"scale_monitor: {rows_txt}, peak memory in all (2 workers + client)",
            total_mb,
            unit="MB",
            extra={"worker_peak_mb": peaks, "client_rss_mb": large["client_rss_mb"]},
        ),
    ]
    fits = [s for s in ours if s <= rows]
    for size, res in ours.items():
        peer = nml.get(size)
        out.append(
            Row(
                f"scale_monitor: in memory, {size / 1e6:g}M rows x 20, daily chunks",
                res["compute_s"],
                peer["compute_s"] if peer else None,
                peer_name="nannyml" if peer else "",
                notes=(
                    f"mlops_nb univariate_drift, 1 process, peak {res['peak_mb']:,.0f}"
                    " MB"
                    + (f"; nannyml peak {peer['peak_mb']:,.0f} MB" if peer else "")
                ),
                extra={"ours": res, "nannyml": peer},
            )
        )
    for size, res in nml.items():  # sizes only nannyml ran
        if size not in ours:
            out.append(
                Row(
                    f"scale_monitor: nannyml in memory, {size / 1e6:g}M rows x 20, "
                    "daily chunks",
                    None,
                    res["compute_s"],
                    peer_name="nannyml",
                    notes=f"nannyml peak {res['peak_mb']:,.0f} MB",
                    extra={"nannyml": res},
                )
            )
    if fits:
        at = max(fits)
        per_core_large = rows / large["observe_s"] / 2
        per_core_mem = at / ours[at]["compute_s"]
        ratio = per_core_large / per_core_mem
        cpu_ratio = (rows / large["cpu_s"]) / (at / ours[at]["cpu_s"])
        out.append(
            Row(
                "scale_monitor: throughput per core, cluster / in memory",
                None,
                notes=(
                    f"{ratio:.2f} (goal >= 0.8): {per_core_large:,.0f} rows/s per "
                    f"core at {rows / 1e6:g}M on the cluster vs {per_core_mem:,.0f} "
                    f"in memory at {at / 1e6:g}M; per CPU second (workers + client, "
                    f"{large['cpu_s']:,.0f} s, vs {ours[at]['cpu_s']:,.0f} s: what "
                    f"the wall ratio is on idle cores) {cpu_ratio:.2f}; load average "
                    f"{large['load']:.1f} on 2 cores"
                ),
                extra={"ratio": ratio, "cpu_ratio": cpu_ratio},
            )
        )
    out.append(
        Row(
            "scale_monitor: where the in-memory paths stop",
            None,
            notes=f"mlops_nb in memory: {ours_stop}; nannyml: {nml_stop}",
        )
    )
    return out


@register(
    "scale_monitor",
    "large-version monitoring on a 2-worker LocalCluster (10M x 20, 100 days) vs "
    "in memory and nannyml",
)
def bench_scale_monitor(config: Config) -> list[Row]:
    """Wall time and peak memory of ``observe`` on a cluster, beside in memory.

    Parameters
    ----------
    config : Config
        ``quick`` runs 1,000,000 rows and the in-memory paths at that size only.

    Returns
    -------
    list of Row
        Observe time, peak memory, in-memory and nannyml times, the per-core ratio.
    """
    return measure(config.pick(10_000_000, 1_000_000), config)


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    args = [int(a) for a in sys.argv[1:]]
    n = args[0] if args else 10_000_000
    mem_cap = args[1] if len(args) > 1 else MEMORY_SIZES[-1]
    nml_cap = args[2] if len(args) > 2 else NANNYML_SIZES[-1]
    print(
        markdown_table(
            measure(
                n,
                Config(),
                tuple(s for s in MEMORY_SIZES if s <= mem_cap),
                tuple(s for s in NANNYML_SIZES if s <= nml_cap),
            )
        )
    )
