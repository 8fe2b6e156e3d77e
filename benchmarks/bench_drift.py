"""``drift_1m``: univariate drift of 1M analysis rows against 1M reference rows.

Both children build the same seeded frames (not timed): 1,000,000 reference and
1,000,000 analysis rows of 20 columns, 15 continuous (normal, log-normal and integer
columns, 1 % missing values in five of them) and 5 categorical (pandas categoricals of
4 to 40 levels); in the analysis half of the columns drift from the middle on. Each
child cuts the analysis into 10 chunks and computes every statistic of the issue:

- mlops_nb: ``mlops_nb.drift.univariate_drift`` with continuous Jensen-Shannon,
  Kolmogorov-Smirnov, Wasserstein, PSI and Hellinger and categorical chi-squared,
  Jensen-Shannon, L-infinity and PSI, thresholds from 10 reference chunks, then the
  heatmap figure (``table.plot()``, timed on its own after plotly's import);
- nannyml 0.13 (imported through ``mlops_nb._offline.import_nannyml``: no telemetry):
  ``UnivariateDriftCalculator(chunk_number=10)`` with the same statistics it has (PSI
  is not one of them: mlops_nb computes one statistic more), ``fit`` + ``calculate``.

The timed region is the computation only: imports (for mlops_nb, scipy.stats too,
which it loads on first use and nannyml at import) and frame building are reported in
the JSON. Peak RSS is the whole child's, frames included (they take about 250 MB).
The full run alternates two runs of each and reports medians; ``--quick`` runs each
once on 100,000 + 100,000 rows.
"""

from __future__ import annotations

from benchmarks._harness import Repeated, child_env, run_child
from benchmarks._registry import Config, Row, register

#: Defines ``make_frames(n_rows, seed)``; shared by both children.
FRAME_CODE = """\
def make_frames(n_rows, seed=0):
    import numpy as np
    import pandas as pd

    def one(rng, drift):
        half = np.arange(n_rows) >= n_rows // 2
        shift = np.where(half, drift, 0.0)
        cols = {}
        for i in range(15):
            kind = i % 3
            if kind == 0:
                v = rng.normal(loc=i + shift * (i < 8), scale=1.0, size=n_rows)
            elif kind == 1:
                mean = 0.5 + 0.2 * shift * (i < 8)
                v = rng.lognormal(mean=mean, sigma=0.6, size=n_rows)
            else:
                v = rng.integers(0, 50, size=n_rows).astype("float64")
                v += (shift * 5 * (i < 8)).round()
            if i % 3 == 0:
                v[rng.random(n_rows) < 0.01] = np.nan
            cols[f"num_{i:02d}"] = v
        for j, levels in enumerate((4, 8, 12, 20, 40)):
            w = 1 / np.arange(1, levels + 1)
            codes = rng.choice(levels, size=n_rows, p=w / w.sum())
            if drift and j < 2:
                codes = np.where(half & (rng.random(n_rows) < 0.2), levels - 1, codes)
            names = [f"c{j}_{k:02d}" for k in range(levels)]
            cols[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=names)
        return pd.DataFrame(cols)

    rng = np.random.default_rng(seed)
    return one(rng, 0.0), one(rng, 0.3)
"""

_COMMON = """\
import resource, sys, time

_scale = 1 if sys.platform == "darwin" else 1024
def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _scale / 2**20

_t = time.perf_counter()
reference, analysis = make_frames({n_rows})
_emit(build_s=time.perf_counter() - _t, frame_rss_mb=_rss_mb(),
      frame_mb=sum(f.memory_usage(deep=True).sum() for f in (reference, analysis))
      / 2**20)
"""

_OURS = """\
_t = time.perf_counter()
from mlops_nb.drift import univariate_drift
import scipy.special, scipy.stats  # loaded on first use (by nannyml at import)
_import_s = time.perf_counter() - _t
cats = [c for c in reference.columns if c.startswith("cat_")]
t0 = time.perf_counter()
table = univariate_drift(
    reference, analysis, n_chunks=10, categorical=cats,
    continuous_statistics=(
        "jensen_shannon", "kolmogorov_smirnov", "wasserstein", "psi", "hellinger"
    ),
    categorical_statistics=("chi2", "jensen_shannon", "l_infinity", "psi"),
)
t1 = time.perf_counter()
import plotly.graph_objects  # the figure's own time, not plotly's import
t2 = time.perf_counter()
fig = table.plot()
t3 = time.perf_counter()
values = table.to_frame()
_emit(import_s=_import_s, compute_s=t1 - t0, heatmap_s=t3 - t2,
      n_values=int(values["value"].notna().sum()),
      n_alerts=int(table.alerts().to_numpy().sum()), compute_rss_mb=_rss_mb())
"""

_NANNYML = """\
import warnings
_t = time.perf_counter()
from mlops_nb._offline import import_nannyml
nml = import_nannyml()
_import_s = time.perf_counter() - _t
cats = [c for c in reference.columns if c.startswith("cat_")]
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    calc = nml.UnivariateDriftCalculator(
        column_names=list(reference.columns), treat_as_categorical=cats,
        chunk_number=10,
        continuous_methods=[
            "jensen_shannon", "kolmogorov_smirnov", "wasserstein", "hellinger"
        ],
        categorical_methods=["chi2", "jensen_shannon", "l_infinity"],
    )
    calc.fit(reference)
    result = calc.calculate(analysis).filter(period="analysis").to_df()
t1 = time.perf_counter()
n_values = int(result.filter(like="value").notna().to_numpy().sum())
_emit(import_s=_import_s, compute_s=t1 - t0, n_values=n_values,
      compute_rss_mb=_rss_mb())
"""

_KEYS = ("build_s", "frame_rss_mb", "import_s", "compute_s")


def _child(body: str, n_rows: int) -> str:
    return FRAME_CODE + _COMMON.format(n_rows=n_rows) + body


@register(
    "drift",
    "univariate drift, 1M + 1M rows x 20 columns, 10 chunks: mlops_nb vs nannyml",
)
def bench_drift(config: Config) -> list[Row]:
    """Time and peak memory of univariate drift on large frames, side by side.

    Parameters
    ----------
    config : Config
        ``quick`` uses 100,000 + 100,000 rows and one run per tool.

    Returns
    -------
    list of Row
        Compute time, peak RSS and the heatmap figure's time.
    """
    n_rows = config.pick(1_000_000, 100_000)
    repeats = config.pick(2, 1)
    run_child(_child(_OURS, 2_000), env=child_env())  # warm-up: bytecode, page cache
    run_child(_child(_NANNYML, 2_000), env=child_env())
    ours_runs, peer_runs = [], []
    for _ in range(repeats):  # alternate, so background load hits both alike
        ours_runs.append(run_child(_child(_OURS, n_rows), env=child_env()))
        peer_runs.append(run_child(_child(_NANNYML, n_rows), env=child_env()))
    ours, peer = Repeated(tuple(ours_runs)), Repeated(tuple(peer_runs))
    o = {k: ours.median(k) for k in (*_KEYS, "heatmap_s")}
    p = {k: peer.median(k) for k in _KEYS}
    first = ours.runs[0].values
    label = "drift_1m" if n_rows == 1_000_000 else f"drift_{n_rows // 1000}k"
    runs = f"median of {repeats} fresh processes" if repeats > 1 else "one process"
    details = {
        "n_rows": n_rows,
        "repeats": repeats,
        "ours_median": o,
        "nannyml_median": p,
        "ours_runs": [r.values for r in ours.runs],
        "nannyml_runs": [r.values for r in peer.runs],
        "ours_peak_rss_mb": [r.peak_rss_mb for r in ours.runs],
        "nannyml_peak_rss_mb": [r.peak_rss_mb for r in peer.runs],
    }
    return [
        Row(
            f"{label}: univariate drift, all statistics",
            o["compute_s"],
            p["compute_s"],
            peer_name="nannyml UnivariateDriftCalculator",
            notes=(
                f"{n_rows:,} + {n_rows:,} rows x 20 columns (15 continuous, 5 "
                "categorical), 10 chunks; "
                f"{first['n_values']} values incl. PSI (nannyml: no PSI); "
                "thresholds from 10 reference "
                f"chunks; {runs}; imports excluded (ours {o['import_s']:.2f} s, "
                f"nannyml {p['import_s']:.1f} s)"
            ),
            extra=details,
        ),
        Row(
            f"{label}: peak RSS",
            ours.peak_rss_mb,
            peer.peak_rss_mb,
            unit="MB",
            peer_name="nannyml UnivariateDriftCalculator",
            notes=(
                f"whole child; the two frames alone peak at {o['frame_rss_mb']:.0f} MB"
            ),
        ),
        Row(
            f"{label}: heatmap figure",
            o["heatmap_s"],
            notes="DriftTable.plot(): 20 columns x 10 chunks, plotly already imported",
        ),
    ]
