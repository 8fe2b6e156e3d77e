"""``register_1m``: register, profile and check a 1,000,000 x 20 table.

mlops_nb's child opens a new project, registers the frame (schema inference, content
hash, Parquet artifact, SQLite row), profiles it and checks it; each step is timed
on its own. There is no competitor doing all of that, so the peer column is a
*pandas baseline* for context: ``frame.to_parquet`` (the raw I/O) and
``frame.describe(include="all")`` (the raw statistics) on the same frame, in a
separate fresh process. Both children build the same seeded frame first (not timed),
after a discarded warm-up run of each on 1,000 rows. The full run alternates three
runs of each and reports medians; ``--quick`` runs each once on 100,000 rows.
"""

from __future__ import annotations

from benchmarks._harness import Repeated, child_env, run_child
from benchmarks._registry import Config, Row, register

#: Defines ``make_frame(n_rows, seed)``; shared by both children.
FRAME_CODE = """\
def make_frame(n_rows, seed=0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(15):
        cols[f"num_{i:02d}"] = rng.normal(loc=i, scale=1 + i / 5, size=n_rows)
    # The target follows num_00 (plus noise), so it is correlated with a feature.
    logit = 1.5 * cols["num_00"] + rng.normal(size=n_rows)
    y = (logit > 0).astype("int64")
    for i in range(15):  # 0.5 % to 4.5 % missing values per numeric column
        col = cols[f"num_{i:02d}"]
        col[rng.random(n_rows) < 0.005 + 0.01 * (i % 5)] = np.nan
    for j, levels in enumerate((5, 12, 25, 50)):
        weights = 1 / np.arange(1, levels + 1)
        codes = rng.choice(levels, size=n_rows, p=weights / weights.sum())
        names = [f"c{j}_{k:02d}" for k in range(levels)]
        cols[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=names)
    cols["y"] = y
    return pd.DataFrame(cols)
"""

_COMMON = """\
import resource, sys, tempfile, time
from pathlib import Path

_scale = 1 if sys.platform == "darwin" else 1024
def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _scale / 2**20

_t = time.perf_counter()
frame = make_frame({n_rows})
_emit(build_s=time.perf_counter() - _t, frame_rss_mb=_rss_mb(),
      frame_mb=frame.memory_usage(deep=True).sum() / 2**20, shape=list(frame.shape))
"""

_OURS = """\
import mlops_nb

with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    proj = mlops_nb.Project.open(Path(tmp) / "bench")
    t1 = time.perf_counter()
    asset = proj.data("big", frame, target="y")
    t2 = time.perf_counter()
    profile = asset.profile()
    t3 = time.perf_counter()
    report = asset.check()
    t4 = time.perf_counter()
    artifact_mb = sum(
        p.stat().st_size for p in (Path(tmp) / "bench" / "artifacts").rglob("*")
        if p.is_file()
    ) / 2**20
    _emit(open_s=t1 - t0, data_s=t2 - t1, profile_s=t3 - t2, check_s=t4 - t3,
          total_s=t4 - t0, n_findings=len(report.findings), artifact_mb=artifact_mb,
          n_rows=asset.n_rows)
"""

_BASELINE = """\
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    frame.to_parquet(Path(tmp) / "big.parquet")
    t1 = time.perf_counter()
    stats = frame.describe(include="all")
    t2 = time.perf_counter()
    _emit(parquet_s=t1 - t0, describe_s=t2 - t1, total_s=t2 - t0,
          parquet_mb=(Path(tmp) / "big.parquet").stat().st_size / 2**20)
"""

_BASELINE_NOTE = "pandas baseline (context, not a competitor)"
_COMMON_KEYS = ("build_s", "frame_rss_mb")
_OURS_KEYS = (*_COMMON_KEYS, "open_s", "data_s", "profile_s", "check_s", "total_s")
_BASE_KEYS = (*_COMMON_KEYS, "parquet_s", "describe_s", "total_s")


def _child(body: str, n_rows: int) -> str:
    return FRAME_CODE + _COMMON.format(n_rows=n_rows) + body


@register(
    "register_1m",
    "Project.open + data() + profile() + check() on 1M x 20; pandas baseline",
)
def bench_register(config: Config) -> list[Row]:
    """Time registering, profiling and checking a large frame, step by step.

    Parameters
    ----------
    config : Config
        ``quick`` uses 100,000 rows instead of 1,000,000.

    Returns
    -------
    list of Row
        One row per step, the total and the children's peak RSS.
    """
    n_rows = config.pick(1_000_000, 100_000)
    repeats = config.pick(3, 1)
    # Tiny warm-up runs: bytecode caches and the page cache, not the data, are warm.
    run_child(_child(_OURS, 1_000), env=child_env())
    run_child(_child(_BASELINE, 1_000), env=child_env())
    ours_runs, base_runs = [], []
    for _ in range(repeats):  # alternate, so background load hits both alike
        ours_runs.append(run_child(_child(_OURS, n_rows), env=child_env()))
        base_runs.append(run_child(_child(_BASELINE, n_rows), env=child_env()))
    ours, base = Repeated(tuple(ours_runs)), Repeated(tuple(base_runs))
    o = {k: ours.median(k) for k in _OURS_KEYS}
    b = {k: base.median(k) for k in _BASE_KEYS}
    first = ours.runs[0].values
    label = "register_1m" if n_rows == 1_000_000 else f"register_{n_rows // 1000}k"
    shape = f"{first['shape'][0]:,} x {first['shape'][1]}"
    runs = f"median of {repeats} fresh processes" if repeats > 1 else "one process"
    details = {
        "n_rows": n_rows,
        "repeats": repeats,
        "shape": first["shape"],
        "frame_build_s": o["build_s"],
        "frame_mb": first["frame_mb"],
        "ours_median": o,
        "baseline_median": b,
        "ours_runs": [r.values for r in ours.runs],
        "baseline_runs": [r.values for r in base.runs],
        "ours_peak_rss_mb": [r.peak_rss_mb for r in ours.runs],
        "baseline_peak_rss_mb": [r.peak_rss_mb for r in base.runs],
    }
    return [
        Row(
            f"{label}: Project.open",
            o["open_s"],
            notes="new project folder + SQLite registry (first use loads the store)",
        ),
        Row(
            f"{label}: data()",
            o["data_s"],
            b["parquet_s"],
            peer_name="pandas to_parquet",
            notes=(
                f"schema + content hash + Parquet artifact "
                f"({first['artifact_mb']:.0f} MB) + registry row; "
                f"{_BASELINE_NOTE}: frame.to_parquet"
            ),
        ),
        Row(
            f"{label}: profile()",
            o["profile_s"],
            b["describe_s"],
            peer_name="pandas describe",
            notes=f'{_BASELINE_NOTE}: frame.describe(include="all")',
        ),
        Row(
            f"{label}: check()",
            o["check_s"],
            notes=f"{first['n_findings']} findings",
        ),
        Row(
            f"{label}: total",
            o["total_s"],
            b["total_s"],
            peer_name="pandas to_parquet + describe",
            notes=f"{shape} frame, {runs}; {_BASELINE_NOTE}: to_parquet + describe",
            extra=details,
        ),
        Row(
            f"{label}: peak RSS",
            ours.peak_rss_mb,
            base.peak_rss_mb,
            unit="MB",
            peer_name="pandas to_parquet + describe",
            notes=(
                f"whole child; the frame ({first['frame_mb']:.0f} MB in memory) "
                f"peaks at {o['frame_rss_mb']:.0f} MB before any step; {_BASELINE_NOTE}"
            ),
        ),
    ]
