"""``registry``: save a model version, and load it + predict one row, vs MLflow.

The model is the same in both children: a scikit-learn pipeline (mlops_nb's
preprocessing for LightGBM, i.e. a median imputer in a pandas-output
ColumnTransformer, then ``LGBMClassifier`` with 100 trees and 10 explicit params),
fitted on the same seeded 20,000 x 10 numeric frame with the same 80/20 holdout, built
with mlops_nb's own helpers so both tools persist bit-identical fits. Training and
the 10 holdout metrics happen *outside* every timed region.

*Save.* mlops_nb: ``mlops_nb.model._train._store_version`` with the already fitted
pipeline — exactly the persistence + registry half of ``proj.train``: skops
preprocessing + LightGBM text booster written as SHA-256 named, fsynced blobs, one
SQLite row with the recipe (all estimator params and the 10 given ones), the 10
metrics, lineage (data name, version, content hash), environment (package versions),
plus a hash-chained audit entry. Each repetition saves into a fresh project (its data
version registered before the clock starts), so no blob is deduplicated against an
earlier identical save. MLflow: ``start_run``, ``log_params`` (the 10 params),
``log_metrics`` (the 10 metrics), ``set_tags`` (the same lineage: data name, version,
hash) and ``mlflow.sklearn.log_model(pipeline, name="model",
pyfunc_predict_fn="predict_proba", skops_trusted_types=[...])``, run end included,
into a local sqlite backend and artifact folder. MLflow 3 saves scikit-learn models
with skops by default (and reloads them once to check); it refuses the pipeline's
four non-default types (``lightgbm`` classes, ``OrderedDict``, ``numpy.dtype``)
unless they are listed, so the list is exactly what skops reports for this pipeline.
Two MLflow variants: the default (requirements inference) and
``pip_requirements=`` pinned to exactly the list the default inferred (skips
inference). The variants alternate within the one MLflow child.

*Load + predict one row.* mlops_nb: ``Project.open(path).model("m", version=1)
.predict_proba(row)`` — a fresh Project object every time, so nothing is cached and
every blob is re-hashed before parsing. A LightGBM version keeps, next to its skops
preprocessing and LightGBM text, two numpy forms of the same fit: ``tree_prep`` (the
medians and categories as JSON) and ``trees`` (the trees as flat arrays). A fresh
process predicting a few rows uses those (parity tests hold both equal to scikit-learn's
and LightGBM's output to the bit); the skops file and the LightGBM text are verified on
load but parsed only when needed (a large batch, ONNX export, explanations). MLflow:
``mlflow.pyfunc.load_model(uri)
.predict(row)`` with the ``models:/`` URI ``log_model`` returned (probabilities too,
via ``pyfunc_predict_fn``).

One child process per tool; imports are warm after a first (cold) call, which is
reported separately; the rows are medians of the steady-state repetitions (5 saves
and 15 loads per tool; 2 and 3 with ``--quick``). Children run offline: MLflow
telemetry disabled, and any non-Unix-socket ``connect`` is refused and counted.

Both children set ``OMP_WAIT_POLICY=passive``. LightGBM (in both tools alike) parses
and predicts in OpenMP parallel regions whose worker threads, under libgomp's default
policy, spin after each region; on an idle machine that costs nothing, but on one
whose cores are busy with other work the spinning threads and the descheduled ones
added 10-40 ms of noise to *both* tools' load + predict (measured: ours 7.6 ms with
passive vs 36-48 ms default; MLflow 17 ms vs 41-172 ms). Passive waiting reproduces
the idle-machine numbers; the notes give the load average during the run.
"""

from __future__ import annotations

import os
import statistics

from benchmarks._harness import child_env, run_child
from benchmarks._registry import MLFLOW_SAVES, Config, Row, register

#: Environment of both children: no telemetry, nothing leaves the machine.
OFFLINE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GIT_PYTHON_REFRESH": "quiet",
    # Same for both tools; see the module docstring.
    "OMP_WAIT_POLICY": "passive",
}

#: Children run in the repository root, a uv project. There MLflow 3 would replace its
#: requirements inference by ``uv export`` of this repository's lock file (and copy
#: ``uv.lock`` into every model); switched off so "default" means the inference a
#: notebook in an ordinary folder gets.
MLFLOW_ENV = {"MLFLOW_UV_AUTO_DETECT": "false"}

#: Refuses (and counts) network connections; only Unix sockets may connect.
GUARD_CODE = """\
import socket as _socket

_net_attempts = []
_connect, _connect_ex = _socket.socket.connect, _socket.socket.connect_ex

def _guarded(real):
    def connect(self, address):
        if self.family != getattr(_socket, "AF_UNIX", None):
            _net_attempts.append(repr(address))
            raise OSError("network access is disabled in this benchmark")
        return real(self, address)
    return connect

_socket.socket.connect = _guarded(_connect)
_socket.socket.connect_ex = _guarded(_connect_ex)
"""

#: The seeded data, the shared fit (not timed) and the 10 params / 10 metrics.
FIT_CODE = """\
import tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlops_nb.model._estimators import make_estimator
from mlops_nb.model._prep import Features, make_preprocessor, prepare_X
from mlops_nb.model._train import _pipeline, fit_and_validate

N_ROWS, REPEATS, LOAD_REPEATS = {n_rows}, {repeats}, {load_repeats}
PARAMS = {{
    "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "max_depth": -1,
    "min_child_samples": 20, "subsample": 1.0, "colsample_bytree": 1.0,
    "reg_alpha": 0.0, "reg_lambda": 0.0, "random_state": 0,
}}

def make_frame(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    cols = {{f"x{{i}}": rng.normal(size=n_rows) for i in range(10)}}
    logit = cols["x0"] - 0.5 * cols["x1"] + 0.25 * cols["x2"] * cols["x3"]
    cols["y"] = (logit + rng.normal(size=n_rows) > 0).astype("int64")
    return pd.DataFrame(cols)

frame = make_frame(N_ROWS)
features = Features(tuple(f"x{{i}}" for i in range(10)), ())
X = prepare_X(frame, features, what="bench")
y = frame["y"]
est, est_name, family = make_estimator("lightgbm", "binary", PARAMS, 0)
_t = time.perf_counter()
pipe, validation = fit_and_validate(
    _pipeline(make_preprocessor(features, family), est), X, y,
    task="binary", classes=[0, 1], cv=None, holdout=0.2, seed=0,
)
fit_s = time.perf_counter() - _t
# 10 holdout metrics: mlops_nb's 7 plus precision, recall and MCC (same split).
from sklearn.model_selection import train_test_split
_, X_te, _, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
_pred = pipe.predict(X_te)
METRICS = {{
    **validation["metrics"],
    "precision": float(skm.precision_score(y_te, _pred)),
    "recall": float(skm.recall_score(y_te, _pred)),
    "mcc": float(skm.matthews_corrcoef(y_te, _pred)),
}}
assert len(METRICS) == 10, sorted(METRICS)
validation = {{**validation, "metrics": METRICS}}
assert len(pipe.named_steps["model"].booster_.dump_model()["tree_info"]) == 100
row = frame.drop(columns="y").head(1)
_emit(fit_s=fit_s, n_metrics=len(METRICS), n_params=len(PARAMS))
"""

_OURS = """\
import mlops_nb
from mlops_nb.model._prep import features_from_schema
from mlops_nb.model._train import _store_version

root = Path(tempfile.mkdtemp(prefix="mlops_nb-bench-registry-"))
sizes = []

def fresh_project(i):
    proj = mlops_nb.Project.open(root / f"p{i}")
    asset = proj.data("d", frame, target="y")
    assert features_from_schema(asset.schema) == features
    assert asset.schema.task == "binary"
    return proj, asset

def save(i):
    proj, asset = fresh_project(i)  # not timed: a new project and its data version
    t = time.perf_counter()
    model = _store_version(
        proj, "m", asset, pipe, est_name, family, features, "binary", [0, 1],
        validation, fit_s, seed=0, cv=None, holdout=0.2, use_sensitive=False,
        params=PARAMS, note="", parent=None, n_rows=len(X),
    )
    elapsed = time.perf_counter() - t
    assert model.version == 1
    sizes.append(sum(
        (root / f"p{i}" / "artifacts" / d[:2] / d).stat().st_size
        for d in model.artifacts.values()
    ))
    return elapsed

def load_predict():
    t = time.perf_counter()
    proj = mlops_nb.Project.open(root / "p0")  # a fresh Project: nothing cached
    t_open = time.perf_counter()
    proba = proj.model("m", version=1).predict_proba(row)
    t_end = time.perf_counter()
    return t_end - t, t_open - t, float(proba[0, 1])

save_cold = save(0)
saves = [save(i + 1) for i in range(REPEATS)]
load_cold = load_predict()
loads = [load_predict() for _ in range(LOAD_REPEATS)]
artifact_kb = sizes[-1] / 1024

# Context only: proj.train end to end (fit + holdout metrics + save), same params.
proj, asset = fresh_project("train")
t = time.perf_counter()
trained = proj.train("m", asset, estimator="lightgbm", params=PARAMS)
train_s = time.perf_counter() - t
_emit(
    save_cold_s=save_cold, save_s=saves, load_cold_s=load_cold[0],
    load_s=[x[0] for x in loads], load_open_s=[x[1] for x in loads],
    proba=loads[-1][2], train_proba=float(trained.predict_proba(row)[0, 1]),
    pipe_proba=float(pipe.predict_proba(X.head(1))[0, 1]),
    train_s=train_s, artifact_kb=artifact_kb, net_attempts=_net_attempts,
)
import shutil
shutil.rmtree(root, ignore_errors=True)
"""

_MLFLOW = (
    MLFLOW_SAVES
    + """\
root = Path(tempfile.mkdtemp(prefix="mlflow-bench-registry-"))
mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
# Creates the database (schema migrations) before any clock starts.
experiment = mlflow.create_experiment(
    "bench", artifact_location=(root / "artifacts").as_uri()
)
mlflow.set_experiment(experiment_id=experiment)
info, pins, default_cold, pinned_cold, default, pinned = timed_saves()
load_cold = load_predict(info.model_uri)
loads = [load_predict(info.model_uri) for _ in range(LOAD_REPEATS)]
_emit(
    default_cold_s=default_cold, pinned_cold_s=pinned_cold, default_s=default,
    pinned_s=pinned, trusted=TRUSTED, load_cold_s=load_cold[0],
    load_s=[x[0] for x in loads],
    proba=loads[-1][1], pins=pins, model_uri=info.model_uri,
    net_attempts=_net_attempts,
)
import shutil
shutil.rmtree(root, ignore_errors=True)
"""
)


def _child(body: str, n_rows: int, repeats: int, load_repeats: int) -> str:
    fit = FIT_CODE.format(n_rows=n_rows, repeats=repeats, load_repeats=load_repeats)
    return GUARD_CODE + fit + body


def _ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return None


@register(
    "registry",
    "save a LightGBM model version, load + predict 1 row, vs MLflow (sqlite backend)",
)
def bench_registry(config: Config) -> list[Row]:
    """Time saving a model version and loading it to predict one row, vs MLflow.

    Parameters
    ----------
    config : Config
        ``quick`` runs 2 warm saves and 3 warm loads per tool instead of 5 and 15.

    Returns
    -------
    list of Row
        Save vs MLflow's default ``log_model``, save vs MLflow with pinned
        requirements, and load + predict one row.
    """
    n_rows = 20_000
    repeats, load_repeats = config.pick(5, 2), config.pick(15, 3)
    load_before = _loadavg()
    ours = run_child(
        _child(_OURS, n_rows, repeats, load_repeats), env=child_env(**OFFLINE_ENV)
    ).values
    peer = run_child(
        _child(_MLFLOW, n_rows, repeats, load_repeats),
        env=child_env(**OFFLINE_ENV, **MLFLOW_ENV),
    ).values
    load_after = _loadavg()
    if ours["net_attempts"] or peer["net_attempts"]:
        msg = (
            f"a benchmark child tried to reach the network: "
            f"{ours['net_attempts'] or peer['net_attempts']}"
        )
        raise RuntimeError(msg)
    probas = (ours["proba"], ours["train_proba"], ours["pipe_proba"], peer["proba"])
    if max(probas) - min(probas) > 1e-9:
        msg = f"the tools predicted different probabilities for one row: {probas}"
        raise RuntimeError(msg)

    med = statistics.median
    save, load = med(ours["save_s"]), med(ours["load_s"])
    default, pinned = med(peer["default_s"]), med(peer["pinned_s"])
    peer_load = med(peer["load_s"])
    cpu = os.cpu_count()
    busy = (
        f"; 1-min load average {load_before:.1f} -> {load_after:.1f} on {cpu} CPUs"
        if load_before is not None and load_after is not None
        else ""
    )
    model = (
        f"LightGBM 100 trees, 10 params, 10 metrics, lineage; {n_rows:,} x 10 "
        f"numeric rows; fit + metrics outside the clock (fit {_ms(ours['fit_s'])})"
    )
    ours_save = (
        "ours = mlops_nb.model._train._store_version with the fitted pipeline (the "
        "persistence + registry step of proj.train: skops prep, LightGBM text "
        "booster and their numpy forms (JSON medians, tree table), "
        f"{ours['artifact_kb']:.0f} KB, fsynced blobs, SQLite row, audit "
        f"entry; fresh project per save; whole proj.train {_ms(ours['train_s'])})"
    )
    mlflow_save = (
        "MLflow = start_run + log_params + log_metrics + set_tags(lineage) + "
        "sklearn.log_model (skops, its default format) + end_run, sqlite backend"
    )
    details = {
        "n_rows": n_rows,
        "repeats": repeats,
        "load_repeats": load_repeats,
        "loadavg_before_after": [load_before, load_after],
        "ours": ours,
        "mlflow": peer,
    }
    return [
        Row(
            "registry: save (MLflow default)",
            save,
            default,
            peer_name="mlflow log_model",
            notes=(
                f"{model}; {ours_save}; {mlflow_save}, default requirements "
                f"inference; median of {repeats} warm saves, one process per tool; "
                f"first (cold) call {_ms(ours['save_cold_s'])} vs "
                f"{_ms(peer['default_cold_s'])}{busy}"
            ),
            extra=details,
        ),
        Row(
            "registry: save (MLflow pinned requirements)",
            save,
            pinned,
            peer_name="mlflow log_model, pinned",
            notes=(
                f"ours as above; MLflow as above with pip_requirements= the "
                f"{len(peer['pins'])} pins its inference found (skips inference); "
                f"median of {repeats} warm saves, alternating with the default; "
                f"first pinned call {_ms(peer['pinned_cold_s'])}"
            ),
        ),
        Row(
            "registry: load + predict 1 row",
            load,
            peer_load,
            peer_name="mlflow pyfunc",
            notes=(
                "ours = Project.open(path).model('m', version=1).predict_proba(row) "
                "on a fresh Project (all 4 files re-hashed and sniffed; preprocessing "
                "from its JSON medians, the 100 trees walked with numpy from the tree "
                "table, both equal to the bit to sklearn/LightGBM by parity tests; the "
                "skops file is verified, not parsed; the LightGBM text is verified "
                "and read by the strict Python reader once per process (the first "
                "call), not by LightGBM; open "
                f"{_ms(med(ours['load_open_s']))}) vs mlflow.pyfunc.load_model("
                "'models:/...').predict(row) (predict_proba via pyfunc_predict_fn); "
                f"median of {load_repeats} warm loads; first call "
                f"{_ms(ours['load_cold_s'])} vs {_ms(peer['load_cold_s'])}; both "
                "return the same probability"
            ),
        ),
    ]
