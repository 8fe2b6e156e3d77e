"""``interop``: export a model version to MLflow and import an MLflow model, vs MLflow.

The model is the same in both children: mlops_nb's ``logistic`` pipeline (median
imputer + scaler for 8 numeric columns, one-hot for 2 categorical ones, then
``LogisticRegression``), trained by ``proj.train`` on the same seeded 5,000-row frame
outside every timed region.

*Export.* mlops_nb: ``model.to_mlflow(path)`` into a fresh folder: an MLmodel
directory whose ``python_function`` flavor ships its loader and the version's own
skops file, SHA-256 checked, signature and lineage metadata, requirements pinned from
the installed versions, plus an audit entry. MLflow: ``mlflow.sklearn.save_model``
(the same kind of folder) and ``mlflow.sklearn.log_model`` (a run in a local sqlite
store), each with its default requirements inference and with ``pip_requirements=``
given (no inference); skops, its default format, with the pipeline's non-default
types listed.

*Import.* Both tools read the folder ``mlflow.sklearn.save_model`` wrote (skops
format). mlops_nb: ``proj.from_mlflow(path, data=asset)`` — hashes every file,
loads the skops file with its trusted list, stores a new model version (skops file,
SQLite row, audit entry) and measures its metrics on ``asset`` (5,000 rows). MLflow:
``mlflow.sklearn.load_model(path)`` and ``mlflow.pyfunc.load_model(path)`` (load
only). Each then predicts one row; all answers must agree to 1e-9.

One child process per tool, imports warm after a first (cold) call reported in the
notes; medians of the warm repetitions. Children run offline (MLflow telemetry off,
non-Unix ``connect`` refused and counted).
"""

from __future__ import annotations

import statistics

from benchmarks._harness import child_env, run_child
from benchmarks._registry import Config, Row, register
from benchmarks.bench_registry import GUARD_CODE, MLFLOW_ENV, OFFLINE_ENV

#: The seeded data and the shared fit (not timed); ``pipe`` is the fitted pipeline.
FIT_CODE = """\
import tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd
import mlops_nb

REPEATS = {repeats}
rng = np.random.default_rng(0)
N = 5_000
frame = pd.DataFrame({{f"x{{i}}": rng.normal(size=N) for i in range(8)}})
frame["c0"] = rng.choice(["a", "b", "c"], size=N)
frame["c1"] = rng.choice(["u", "v"], size=N)
frame["y"] = (frame["x0"] - frame["x1"] + (frame["c0"] == "a") + rng.normal(size=N) > 0
              ).astype("int64")
root = Path(tempfile.mkdtemp(prefix="mlops_nb-bench-interop-"))
proj = mlops_nb.Project.open(root / "proj")
asset = proj.data("d", frame, target="y")
model = proj.train("m", asset, estimator="logistic")
pipe = model._predictor().objects["pipeline"]
row = frame.drop(columns="y").head(1)
X_row = model._X(row, "bench")
"""

_OURS = """\
import mlflow.models  # what to_mlflow / from_mlflow import on first use: warm below

def export(i):
    t = time.perf_counter()
    model.to_mlflow(root / f"ours{i}")
    return time.perf_counter() - t

import mlflow.sklearn, skops.io
mlflow_dir = root / "mlflow-model"
mlflow.sklearn.save_model(  # the folder both tools import (not timed)
    pipe, str(mlflow_dir), pip_requirements=["scikit-learn", "skops"],
    skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipe)),
)

def import_(i):
    t = time.perf_counter()
    m = proj.from_mlflow(str(mlflow_dir), data=asset, name="imp")
    elapsed = time.perf_counter() - t
    return elapsed, float(m.predict_proba(row)[0, 1])

export_cold = export(0)
exports = [export(i + 1) for i in range(REPEATS)]
import_cold = import_(0)
imports = [import_(i + 1) for i in range(REPEATS)]
_emit(
    export_cold_s=export_cold, export_s=exports, import_cold_s=import_cold[0],
    import_s=[x[0] for x in imports], proba=imports[-1][1],
    native_proba=float(model.predict_proba(row)[0, 1]), net_attempts=_net_attempts,
)
import shutil
shutil.rmtree(root, ignore_errors=True)
"""

_MLFLOW = """\
import mlflow, mlflow.pyfunc, mlflow.sklearn, skops.io

TRUSTED = skops.io.get_untrusted_types(data=skops.io.dumps(pipe))
mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
experiment = mlflow.create_experiment(  # schema migrations before any clock
    "bench", artifact_location=(root / "artifacts").as_uri()
)
mlflow.set_experiment(experiment_id=experiment)

def save(i, pins):
    t = time.perf_counter()
    mlflow.sklearn.save_model(
        pipe, str(root / f"save{i}-{bool(pins)}"), pip_requirements=pins,
        skops_trusted_types=TRUSTED, pyfunc_predict_fn="predict_proba",
    )
    return time.perf_counter() - t

def log(pins):
    t = time.perf_counter()
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            pipe, name="model", pip_requirements=pins, skops_trusted_types=TRUSTED,
            pyfunc_predict_fn="predict_proba",
        )
    return time.perf_counter() - t

save_cold = save(0, None)
pins = [
    line.strip()
    for line in (root / "save0-False" / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
pinned_cold = save(0, pins)
log_cold, log_pinned_cold = log(None), log(pins)
saves, saves_pinned, logs, logs_pinned = [], [], [], []
for i in range(REPEATS):  # alternating, so background load hits all alike
    saves.append(save(i + 1, None))
    saves_pinned.append(save(i + 1, pins))
    logs.append(log(None))
    logs_pinned.append(log(pins))

path = str(root / "save0-True")

def load(kind):
    t = time.perf_counter()
    if kind == "sklearn":
        m = mlflow.sklearn.load_model(path)
        elapsed = time.perf_counter() - t
        return elapsed, float(m.predict_proba(X_row)[0, 1])
    m = mlflow.pyfunc.load_model(path)
    elapsed = time.perf_counter() - t
    return elapsed, float(np.asarray(m.predict(X_row))[0, 1])

sk_cold, py_cold = load("sklearn"), load("pyfunc")
sk = [load("sklearn") for _ in range(REPEATS)]
py = [load("pyfunc") for _ in range(REPEATS)]
_emit(
    save_cold_s=save_cold, pinned_cold_s=pinned_cold, log_cold_s=log_cold,
    log_pinned_cold_s=log_pinned_cold, save_s=saves, save_pinned_s=saves_pinned,
    log_s=logs, log_pinned_s=logs_pinned, sklearn_cold_s=sk_cold[0],
    pyfunc_cold_s=py_cold[0], sklearn_s=[x[0] for x in sk],
    pyfunc_s=[x[0] for x in py], proba=sk[-1][1], pins=pins,
    net_attempts=_net_attempts,
)
import shutil
shutil.rmtree(root, ignore_errors=True)
"""


def _ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


@register(
    "interop",
    "model.to_mlflow / proj.from_mlflow vs mlflow.sklearn save/log/load_model",
)
def bench_interop(config: Config) -> list[Row]:
    """Time exporting a version to MLflow and importing an MLflow model, vs MLflow.

    Parameters
    ----------
    config : Config
        ``quick`` runs 2 warm repetitions of each instead of 5.

    Returns
    -------
    list of Row
        Export vs ``save_model`` and ``log_model`` (default and pinned
        requirements); import vs ``sklearn.load_model`` and ``pyfunc.load_model``.
    """
    repeats = config.pick(5, 2)
    fit = FIT_CODE.format(repeats=repeats)
    ours = run_child(GUARD_CODE + fit + _OURS, env=child_env(**OFFLINE_ENV)).values
    peer = run_child(
        GUARD_CODE + fit + _MLFLOW, env=child_env(**OFFLINE_ENV, **MLFLOW_ENV)
    ).values
    if ours["net_attempts"] or peer["net_attempts"]:
        msg = f"a benchmark child tried to reach the network: {ours} {peer}"
        raise RuntimeError(msg)
    probas = (ours["proba"], ours["native_proba"], peer["proba"])
    if max(probas) - min(probas) > 1e-9:
        msg = f"the tools predicted different probabilities for one row: {probas}"
        raise RuntimeError(msg)
    med = statistics.median
    export, imp = med(ours["export_s"]), med(ours["import_s"])
    model = (
        "logistic pipeline (impute, scale, one-hot), 8 numeric + 2 categorical "
        f"columns, 5,000 rows; median of {repeats} warm runs, one process per tool"
    )
    details = {"repeats": repeats, "ours": ours, "mlflow": peer}
    export_note = (
        "ours = model.to_mlflow(path) (pyfunc flavor + loader + skops file, hashes, "
        "signature, lineage metadata, pinned requirements, audit entry)"
    )

    def export_row(label: str, key: str, cold: str, what: str) -> Row:
        return Row(
            f"interop: export vs {label}",
            export,
            med(peer[key]),
            peer_name=f"mlflow {label}",
            notes=(
                f"{model}; {export_note}; MLflow = {what}; first call "
                f"{_ms(ours['export_cold_s'])} vs {_ms(peer[cold])}"
            ),
            extra=details if key == "save_s" else {},
        )

    pinned = f"pip_requirements= the {len(peer['pins'])} pins its inference found"
    import_note = (
        "ours = proj.from_mlflow(MLflow's skops folder, data=5,000 rows): every file "
        "hashed, skops loaded with the trusted list, a new version stored, metrics "
        "measured on the data"
    )
    return [
        export_row(
            "save_model",
            "save_s",
            "save_cold_s",
            "sklearn.save_model, requirements inferred",
        ),
        export_row(
            "save_model, pinned",
            "save_pinned_s",
            "pinned_cold_s",
            f"sklearn.save_model, {pinned}",
        ),
        export_row(
            "log_model",
            "log_s",
            "log_cold_s",
            "start_run + sklearn.log_model (sqlite store), requirements inferred",
        ),
        export_row(
            "log_model, pinned",
            "log_pinned_s",
            "log_pinned_cold_s",
            f"start_run + sklearn.log_model, {pinned}",
        ),
        Row(
            "interop: import vs sklearn.load_model",
            imp,
            med(peer["sklearn_s"]),
            peer_name="mlflow sklearn.load_model",
            notes=(
                f"{model}; {import_note}; MLflow loads only; first call "
                f"{_ms(ours['import_cold_s'])} vs {_ms(peer['sklearn_cold_s'])}"
            ),
        ),
        Row(
            "interop: import vs pyfunc.load_model",
            imp,
            med(peer["pyfunc_s"]),
            peer_name="mlflow pyfunc.load_model",
            notes=(
                f"as above; first pyfunc call {_ms(peer['pyfunc_cold_s'])}; all "
                "three predict the same probability for one row (1e-9)"
            ),
        ),
    ]
