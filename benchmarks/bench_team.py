"""``team``: the team store (PostgreSQL + S3) vs MLflow on the same servers; writers.

Both sides run on one throw-away PostgreSQL cluster (Debian's ``initdb`` + ``postgres``
on 127.0.0.1, ``fsync=off``, started by ``tests/_team_fixtures.throwaway_cluster``, the
tests' own server) and one moto ``ThreadedMotoServer`` on 127.0.0.1 (S3 protocol over
HTTP, ``tests/_team_fixtures.moto_s3_server``), both hosted by the runner process.

*Save.* The model, its fit, its 10 params and 10 metrics are ``registry``'s (a LightGBM
pipeline on 20,000 x 10 rows, fitted outside every clock: see ``bench_registry``).
mlops_nb: ``_store_version`` with the fitted pipeline on a team project
(``Project.open("postgresql+psycopg://...?schema=...", artifacts="s3://bucket/...")``);
each save goes to a fresh schema (upgraded before the clock) and a fresh S3 prefix, so
no blob is deduplicated. It writes 4 content-addressed blobs to S3, the model-version
row (recipe, metrics, lineage, environment) and a hash-chained audit row to PostgreSQL.
MLflow: ``set_tracking_uri("postgresql+psycopg://.../mlflow")`` (its own database on the
same server), an experiment with ``artifact_location="s3://bucket/mlflow"`` and
``MLFLOW_S3_ENDPOINT_URL`` at moto; timed: ``start_run`` + ``log_params`` +
``log_metrics`` + ``set_tags`` (lineage) + ``mlflow.sklearn.log_model(...,
registered_model_name="m")`` (so it registers a model version, as our save does) + run
end; default requirements inference and pinned ``pip_requirements`` alternate.

*Load + predict one row.* mlops_nb: a fresh ``Project.open(url, artifacts=...)`` (a new
SQLAlchemy engine; the s3fs instance is fsspec's cached one) + ``model("m", version=1)
.predict_proba(row)``, every blob re-hashed: the first load GETs the blobs from S3, the
next ones read this machine's blob cache (``MLOPS_NB_CACHE``, a temporary folder here;
each copy re-hashed when served). MLflow: ``mlflow.pyfunc.load_model(
"models:/m/<v>").predict(row)`` (its tracking store and boto3 client are per process,
as in a notebook). Both return the same probability (checked).

*Writers.* 4 processes each register ``n`` new versions of one data name (100 rows x 3
columns of their own bytes; each registration writes a blob, a version row and an audit
row) at the same moment (a start file), on three stores in turn within each round: a
team project on PostgreSQL + moto S3, the same with its files in a local ``file://``
folder (the database alone), and an embedded folder project (SQLite WAL + local
files). Throughput = all versions / (last end - first start); the numbering is checked
gap-free and the audit rows counted. The rows show the time per version (lower is
better, ratio = SQLite / PostgreSQL); the notes give versions per second.

Children may connect to loopback addresses only; any other ``connect`` is refused
and counted (the run fails if one happens).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._harness import _MARKER, PRELUDE, ROOT, child_env, run_child
from benchmarks._registry import MLFLOW_SAVES, Config, Row, register
from benchmarks.bench_registry import FIT_CODE, MLFLOW_ENV, OFFLINE_ENV

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Refuses (and counts) connections that leave the machine; loopback and Unix
#: sockets (PostgreSQL, moto) may connect.
LOOPBACK_GUARD = """\
import socket as _socket

_net_attempts = []
_connect, _connect_ex = _socket.socket.connect, _socket.socket.connect_ex
_LOCAL = ("127.0.0.1", "::1", "localhost")

def _guarded(real):
    def connect(self, address):
        unix = self.family == getattr(_socket, "AF_UNIX", None)
        if not unix and not (isinstance(address, tuple) and address[0] in _LOCAL):
            _net_attempts.append(repr(address))
            raise OSError("network access is disabled in this benchmark")
        return real(self, address)
    return connect

_socket.socket.connect = _guarded(_connect)
_socket.socket.connect_ex = _guarded(_connect_ex)
"""

_OURS = """\
import mlops_nb
from mlops_nb.model._train import _store_version
from mlops_nb.store._migrate import upgrade

def fresh_project(i):
    url = f"{PG}?schema=ours_{i}"
    upgrade(url)
    arts = f"s3://{BUCKET}/ours/p{i}"
    proj = mlops_nb.Project.open(url, artifacts=arts)
    return proj, proj.data("d", frame, target="y"), url, arts

def save(i):
    proj, asset, url, arts = fresh_project(i)  # not timed: schema, data version
    t = time.perf_counter()
    model = _store_version(
        proj, "m", asset, pipe, est_name, family, features, "binary", [0, 1],
        validation, fit_s, seed=0, cv=None, holdout=0.2, use_sensitive=False,
        params=PARAMS, note="", parent=None, n_rows=len(X),
    )
    elapsed = time.perf_counter() - t
    assert model.version == 1
    proj._store.close()
    return elapsed, url, arts

def load_predict(url, arts):
    t = time.perf_counter()
    proj = mlops_nb.Project.open(url, artifacts=arts)  # fresh handle and engine
    t_open = time.perf_counter()
    proba = proj.model("m", version=1).predict_proba(row)
    t_end = time.perf_counter()
    proj._store.close()
    return t_end - t, t_open - t, float(proba[0, 1])

save_cold, url, arts = save(0)
saves = [save(i + 1)[0] for i in range(REPEATS)]
load_cold = load_predict(url, arts)
loads = [load_predict(url, arts) for _ in range(LOAD_REPEATS)]
_emit(
    save_cold_s=save_cold, save_s=saves, load_cold_s=load_cold[0],
    load_s=[x[0] for x in loads], load_open_s=[x[1] for x in loads],
    proba=loads[-1][2], net_attempts=_net_attempts,
)
"""

_MLFLOW = (
    "REGISTERED_NAME = 'm'\n"
    + MLFLOW_SAVES
    + """\
mlflow.set_tracking_uri(MLFLOW_DB)
# Creates its tables (migrations) before any clock starts.
experiment = mlflow.create_experiment(
    "bench", artifact_location=f"s3://{BUCKET}/mlflow"
)
mlflow.set_experiment(experiment_id=experiment)
info, pins, default_cold, pinned_cold, default, pinned = timed_saves()
uri = f"models:/m/{info.registered_model_version}"
load_cold = load_predict(uri)
loads = [load_predict(uri) for _ in range(LOAD_REPEATS)]
_emit(
    default_cold_s=default_cold, pinned_cold_s=pinned_cold, default_s=default,
    pinned_s=pinned, load_cold_s=load_cold[0], load_s=[x[0] for x in loads],
    proba=loads[-1][1], n_pins=len(pins), versions=2 * REPEATS + 2,
    net_attempts=_net_attempts,
)
"""
)

#: One writer process: open the project, say ready, wait for the start file,
#: register COUNT versions of "shared", emit its start and end times.
_WRITER = """\
import numpy as np
import pandas as pd
import mlops_nb

open_kw = {"artifacts": ARTS} if ARTS else {}
proj = mlops_nb.Project.open(WHERE, **open_kw)
rng = np.random.default_rng(WORKER)
frames = [
    pd.DataFrame({"w": WORKER, "s": step, "x": rng.normal(size=100)})
    for step in range(COUNT)
]
print("ready", flush=True)
while not os.path.exists(GO):
    time.sleep(0.002)
start = time.time()
versions = [proj.data("shared", f).version for f in frames]
end = time.time()
getattr(proj._store, "close", lambda: None)()  # a team project's pool
_emit(start=start, end=end, versions=versions, net_attempts=_net_attempts)
"""

_ROUND_CHECK = """\
import mlops_nb

open_kw = {"artifacts": ARTS} if ARTS else {}
proj = mlops_nb.Project.open(WHERE, **open_kw)
log = proj.audit_log()
_emit(
    versions=sorted(int(v) for v in proj.versions("shared")["version"]),
    audit_register=int(((log["action"] == "register")
                        & log["object"].str.startswith("asset:shared@")).sum()),
)
getattr(proj._store, "close", lambda: None)()
"""


def _team_fixtures() -> Any:
    """``tests/_team_fixtures.py`` as a module (the tests' PostgreSQL and moto)."""
    path = ROOT / "tests" / "_team_fixtures.py"
    spec = importlib.util.spec_from_file_location("_mlops_nb_team_fixtures", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@contextlib.contextmanager
def servers() -> Iterator[dict[str, str]]:
    """Start PostgreSQL and moto; yield the children's environment additions.

    Yields
    ------
    dict
        ``PG`` (base URL, database ``postgres``), ``MLFLOW_DB`` (database ``mlflow``
        on the same server), ``BUCKET``, ``ENDPOINT`` and ``env`` (AWS variables for
        moto, ``MLFLOW_S3_ENDPOINT_URL``).
    """
    import boto3
    import sqlalchemy as sa

    fixtures = _team_fixtures()
    with fixtures.throwaway_cluster() as pg, fixtures.moto_s3_server() as endpoint:
        engine = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE mlflow"))
        engine.dispose()
        env = {
            "AWS_ACCESS_KEY_ID": "bench-key-id",
            "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": endpoint,
            "MLFLOW_S3_ENDPOINT_URL": endpoint,
        }
        bucket = f"bench-{secrets.token_hex(4)}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        ).create_bucket(Bucket=bucket)
        yield {
            "PG": pg,
            "MLFLOW_DB": pg.rsplit("/", 1)[0] + "/mlflow",
            "BUCKET": bucket,
            "ENDPOINT": endpoint,
            "env": env,  # type: ignore[dict-item]
        }


def constants(**values: Any) -> str:
    """Python source assigning each value (``repr``) to its name, one per line."""
    return "".join(f"{name} = {value!r}\n" for name, value in values.items())


def throughput(results: list[dict[str, Any]], expected: int) -> tuple[int, float]:
    """All versions the writers registered, and the span they took together.

    Parameters
    ----------
    results : list of dict
        Each writer's emitted ``start``, ``end`` (epoch seconds) and ``versions``.
    expected : int
        How many registrations the writers made together.

    Returns
    -------
    tuple of (int, float)
        ``(count, seconds)`` from the first start to the last end.

    Raises
    ------
    RuntimeError
        When the version numbers are not exactly 1..expected (lost, shared or gaps).
    """
    got = sorted(v for r in results for v in r["versions"])
    if got != list(range(1, expected + 1)):
        msg = f"concurrent writers: version numbers are not 1..{expected}: {got}"
        raise RuntimeError(msg)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return len(got), span


def _writers_round(
    where: str, arts: str, count: int, env: dict[str, str], workers: int = 4
) -> dict[str, Any]:
    """Run ``workers`` concurrent writers on one project; return counts and span."""
    go = Path(tempfile.mkdtemp(prefix="mlops_nb-bench-go-")) / "go"
    procs = []
    for worker in range(workers):
        code = PRELUDE + LOOPBACK_GUARD + "import os, time\n"
        code += constants(
            WHERE=where, ARTS=arts, WORKER=worker, COUNT=count, GO=str(go)
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code + _WRITER],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=ROOT,
            )
        )
    try:
        for proc in procs:
            line = proc.stdout.readline().strip()  # type: ignore[union-attr]
            if line != "ready":
                msg = f"a writer did not start:\n{proc.stderr.read()}"
                raise RuntimeError(msg)
        go.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=900)
            if proc.returncode:
                msg = f"a writer failed:\n{err[-3000:]}"
                raise RuntimeError(msg)
            marker = [x for x in out.splitlines() if x.startswith(_MARKER)]
            results.append(json.loads(marker[-1].split(" ", 1)[1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        go.unlink(missing_ok=True)
        go.parent.rmdir()
    attempts = [a for r in results for a in r["net_attempts"]]
    if attempts:
        msg = f"a writer tried to reach the network: {attempts}"
        raise RuntimeError(msg)
    n, span = throughput(results, workers * count)
    check = run_child(
        LOOPBACK_GUARD
        + "import os, time\n"
        + constants(WHERE=where, ARTS=arts)
        + _ROUND_CHECK,
        env=env,
    ).values
    if check["versions"] != list(range(1, n + 1)):
        msg = f"the store holds {check['versions']} after {n} writes"
        raise RuntimeError(msg)
    if check["audit_register"] != n:
        msg = f"{check['audit_register']} audit rows for {n} registrations"
        raise RuntimeError(msg)
    return {"count": n, "span_s": span, "audit_rows": check["audit_register"]}


def _progress(text: str) -> None:
    print(f"[benchmarks] team: {text}", file=sys.stderr, flush=True)


def _loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return None


def _ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _writers(
    srv: dict[str, Any], env: dict[str, str], rounds: int, count: int
) -> dict[str, list[dict[str, Any]]]:
    """Rounds of 4 writers on each store, the stores alternating within a round.

    Returns
    -------
    dict
        ``team_s3`` (PostgreSQL + moto S3), ``team_file`` (PostgreSQL + a local
        ``file://`` folder: the database alone) and ``sqlite`` (an embedded folder
        project): one :func:`_writers_round` result per round.
    """
    import mlops_nb
    from mlops_nb.store._migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="mlops_nb-bench-writers-"))
    out: dict[str, list[dict[str, Any]]] = {
        "team_s3": [],
        "team_file": [],
        "sqlite": [],
    }
    try:
        for i in range(rounds):
            for kind in out:
                if kind == "sqlite":
                    where = str(folder / f"p{i}")
                    mlops_nb.Project.open(where)  # created before the start
                    arts = ""
                else:
                    where = f"{srv['PG']}?schema={kind}_{i}"
                    upgrade(where)  # explicit, never from a kernel; not timed
                    arts = (
                        f"s3://{srv['BUCKET']}/writers/{i}"
                        if kind == "team_s3"
                        else (folder / f"files{i}").as_uri()
                    )
                out[kind].append(_writers_round(where, arts, count, env))
                _progress(f"writers on {kind}: {out[kind][-1]}")
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return out


@register(
    "team",
    "team store (PostgreSQL + S3): save, load + predict 1 row vs MLflow on the same "
    "servers; 4 concurrent writers, PostgreSQL vs SQLite",
)
def bench_team(config: Config) -> list[Row]:
    """Time the team store against MLflow on one PostgreSQL and one moto S3 server.

    Parameters
    ----------
    config : Config
        ``quick``: 2 warm saves, 3 warm loads, 1 round of 4 x 5 writes (instead of
        5, 15 and 3 rounds of 4 x 25).

    Returns
    -------
    list of Row
        Save vs MLflow (default and pinned requirements), load + predict one row vs
        MLflow pyfunc, and the time per registration with 4 concurrent writers on
        PostgreSQL vs SQLite.
    """
    n_rows = 20_000
    repeats, load_repeats = config.pick(5, 2), config.pick(15, 3)
    rounds, count = config.pick(3, 1), config.pick(25, 5)
    load_before = _loadavg()
    home = tempfile.mkdtemp(prefix="mnb-bench-")  # the team project's machine folder
    try:
        with servers() as srv:
            env = child_env(
                **OFFLINE_ENV,
                **srv["env"],
                MLOPS_NB_TEAM_HOME=home,
                MLOPS_NB_CACHE=str(Path(home) / "blob-cache"),
            )
            head = LOOPBACK_GUARD + FIT_CODE.format(
                n_rows=n_rows, repeats=repeats, load_repeats=load_repeats
            )
            head += constants(PG=srv["PG"], BUCKET=srv["BUCKET"])
            ours = run_child(head + _OURS, env=env).values
            _progress(f"ours: save {ours['save_s']}, load {ours['load_s']}")
            peer = run_child(
                head + constants(MLFLOW_DB=srv["MLFLOW_DB"]) + _MLFLOW,
                env={**env, **MLFLOW_ENV},
            ).values
            _progress(f"mlflow: save {peer['default_s']}, load {peer['load_s']}")
            writers = _writers(srv, env, rounds, count)
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    attempts = ours["net_attempts"] + peer["net_attempts"]
    if attempts:
        msg = f"a benchmark child tried to reach the network: {attempts}"
        raise RuntimeError(msg)
    if abs(ours["proba"] - peer["proba"]) > 1e-9:
        probas = (ours["proba"], peer["proba"])
        msg = f"the tools predicted different probabilities for one row: {probas}"
        raise RuntimeError(msg)
    ours["loadavg_before_after"] = [load_before, _loadavg()]
    return _rows(ours, peer, writers, n_rows, repeats, load_repeats, count)


def _per_version(rounds: list[dict[str, Any]]) -> float:
    """Median over rounds of the seconds per registered version (all 4 writers)."""
    return statistics.median(r["span_s"] / r["count"] for r in rounds)


def _rows(
    ours: dict[str, Any],
    peer: dict[str, Any],
    writers: dict[str, list[dict[str, Any]]],
    n_rows: int,
    repeats: int,
    load_repeats: int,
    count: int,
) -> list[Row]:
    med = statistics.median
    save, load = med(ours["save_s"]), med(ours["load_s"])
    # the same loads without their Project.open: a notebook's project is open, as
    # MLflow's tracking store is process-wide (each sample's own difference)
    pairs = zip(ours["load_s"], ours["load_open_s"], strict=True)
    in_open = med([a - b for a, b in pairs])
    default, pinned = med(peer["default_s"]), med(peer["pinned_s"])
    per_s3, per_file = (
        _per_version(writers["team_s3"]),
        _per_version(writers["team_file"]),
    )
    per_lite = _per_version(writers["sqlite"])
    n_rounds, writes = len(writers["sqlite"]), writers["sqlite"][0]["count"]
    before, after = ours["loadavg_before_after"]
    busy = (
        f"; 1-min load average {before:.1f} -> {after:.1f} on {os.cpu_count()} CPUs"
        if before is not None and after is not None
        else ""
    )
    servers_note = (
        "one PostgreSQL 15 (throw-away cluster, fsync=off, 127.0.0.1) and one moto "
        "S3 server (127.0.0.1, HTTP) for both tools"
    )
    return [
        Row(
            "team: save (MLflow default)",
            save,
            default,
            peer_name="mlflow log_model + register",
            notes=(
                f"LightGBM 100 trees, 10 params, 10 metrics, lineage; {n_rows:,} x 10 "
                "rows; fit outside the clock; ours = _store_version (persistence + "
                "registry half of proj.train: 4 blobs to S3, version + audit rows to "
                "PostgreSQL), fresh schema + S3 prefix per save; MLflow = start_run + "
                "log_params + log_metrics + set_tags + sklearn.log_model("
                "registered_model_name='m') + end_run, its own database on the same "
                f"server, artifacts s3://; {servers_note}; median of {repeats} warm "
                f"saves; first call {_ms(ours['save_cold_s'])} vs "
                f"{_ms(peer['default_cold_s'])}{busy}"
            ),
            extra={
                "ours": ours,
                "mlflow": peer,
                "writers": writers,
            },
        ),
        Row(
            "team: save (MLflow pinned requirements)",
            save,
            pinned,
            peer_name="mlflow log_model + register, pinned",
            notes=(
                f"as above, MLflow with pip_requirements= the {peer['n_pins']} pins "
                f"its inference found; median of {repeats}, alternating with the "
                f"default; first pinned call {_ms(peer['pinned_cold_s'])}"
            ),
        ),
        Row(
            "team: load + predict 1 row",
            load,
            med(peer["load_s"]),
            peer_name="mlflow pyfunc",
            notes=(
                "ours = a fresh Project.open(postgresql URL, artifacts='s3://...') "
                "(new engine; open "
                f"{_ms(med(ours['load_open_s']))}) + model('m', version=1)"
                ".predict_proba(row), blobs re-hashed (from this machine's blob cache "
                "after the first load); MLflow = pyfunc.load_model("
                "'models:/m/<v>').predict(row) (predict_proba), process-wide store; "
                f"median of {load_repeats} warm loads; first call "
                f"{_ms(ours['load_cold_s'])} vs {_ms(peer['load_cold_s'])}; same "
                "probability"
            ),
        ),
        Row(
            "team: load + predict 1 row, project open",
            in_open,
            med(peer["load_s"]),
            peer_name="mlflow pyfunc",
            notes=(
                "the loads above without their Project.open (each sample's load "
                "minus its open): model('m', version=1).predict_proba(row) in a "
                "project a notebook already has open, as MLflow's process-wide "
                "tracking store is; the model's rows read and its blobs re-hashed "
                "each time"
            ),
        ),
        Row(
            "team: 4 writers, PostgreSQL + S3, per data version",
            per_s3,
            per_lite,
            peer_name="embedded SQLite",
            notes=(
                f"4 processes each register {count} versions of one data name at once "
                f"(each a blob, a version row, an audit row; {writes} per round): "
                f"PostgreSQL + moto S3 {1 / per_s3:.1f} versions/s vs embedded "
                f"SQLite WAL + local files {1 / per_lite:.1f} versions/s; median of "
                f"{n_rounds} rounds, the stores alternating; numbering gap-free and "
                "one audit row per version checked"
            ),
        ),
        Row(
            "team: 4 writers, PostgreSQL + local files, per data version",
            per_file,
            per_lite,
            peer_name="embedded SQLite",
            notes=(
                "as above with the team project's files in a local file:// folder "
                f"(the database alone): {1 / per_file:.1f} versions/s vs SQLite "
                f"{1 / per_lite:.1f} versions/s"
            ),
        ),
    ]
