"""Batch scoring: ``model.predict_batch(source, to=...)`` writes partitioned parquet.

Every partition is scored by ONNX Runtime from the model version's ONNX export (made
now if there is none; the export's parity with the native model is recorded as for
any export). How it runs:

1. ``to`` is checked first: a folder or fsspec URL that already holds files is
   refused unless ``overwrite=True``, and even then only the files of an earlier batch
   (``part-NNNNN.parquet`` and ``_batch.json``) are replaced; anything else there is
   refused. Nothing is written on refusal.
2. **Every partition is verified before any is scored**: each worker re-hashes its
   partitions against the SHA-256 the version's manifest pinned; if one differs the
   whole batch is refused with an ``IntegrityError`` naming every changed partition,
   and nothing is written. Scoring then re-reads each partition through the same
   verified read, so a file changed between the two passes is still refused.
3. Each partition is scored on a worker with an ONNX Runtime session created **once
   per worker process**: the ONNX bytes are scattered to the workers once, each
   worker checks them against the export's SHA-256 and keeps its session in a module
   dict keyed by that digest. A session is never pickled (onnxruntime sessions cannot
   be); only the bytes travel.
4. One parquet file per partition, ``part-00000.parquet``, ..., with the id column
   (the version's ``id`` role; without one, ``row``: the row's position in the whole
   source, from 0), ``score`` and ``decision``; ``_batch.json`` is written last and
   lists every file with its rows and SHA-256 (a batch without it did not finish).

What ``score`` and ``decision`` hold: binary, P(positive class) and the positive class
iff ``score >= model.threshold`` (as everywhere in mlops_nb); multiclass, the most
likely class and its probability; regression, the predicted value and no decision.

A small version or a pandas frame is one partition, scored in this process (same
files, same columns). A large version runs on ``dask.distributed``: the ``client``
given (a ``Client`` or a scheduler address), else the active default client, else a
``LocalCluster`` sized to the machine (one single-threaded process per core), closed
afterwards. ``client="local"`` scores a large version here, one partition at a time.

The audit entry (``predict batch``) and the carbon ledger's ``predict`` entry (its
``predictions`` are the rows scored) are recorded in this process; CodeCarbon meters
this process only, so the energy of workers in other processes is not in the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError, listing
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

SUMMARY = "_batch.json"
FORMAT = "mlops_nb.batch"
_PART = re.compile(r"part-\d{5}\.parquet\Z")
ROW = "row"
OUTPUTS = ("score", "decision")
#: Rows scored by one session run: ONNX Runtime's arena grows to the largest run's
#: intermediate tensors (one-hot categories of a million rows are hundreds of MB)
#: and keeps them, so a partition is fed in blocks.
BLOCK_ROWS = 65_536

#: ONNX Runtime sessions of this process, by the SHA-256 of their ONNX bytes, and how
#: many times each was created (read by tests through :func:`session_counts`).
_SESSIONS: dict[str, Any] = {}
_CREATED: dict[str, int] = {}
_LOCK = threading.Lock()
_MAX_SESSIONS = 4


def session_counts() -> dict[str, Any]:
    """Return ``{"pid": ..., "created": {onnx digest: times}}`` of this process."""
    return {"pid": os.getpid(), "created": dict(_CREATED)}


def _session(digest: str, data: bytes, what: str) -> Any:
    """Return this process's session of the ONNX bytes (created on first use)."""
    with _LOCK:
        session = _SESSIONS.get(digest)
        if session is None:
            if hashlib.sha256(bytes(data)).hexdigest() != digest:
                msg = (
                    f"{what}: the ONNX bytes that reached this worker do not hash to "
                    f"{digest[:12]}…; nothing was scored. Run the batch again."
                )
                raise IntegrityError(msg)
            from mlops_nb.deploy._runtime import make_session

            session = make_session(data, what=what, threads=1)
            if len(_SESSIONS) >= _MAX_SESSIONS:
                _SESSIONS.pop(next(iter(_SESSIONS)))
            _SESSIONS[digest] = session
            _CREATED[digest] = _CREATED.get(digest, 0) + 1
        return session


# -- on the workers --------------------------------------------------------------------
def _verify_part(artifacts: Any, part: dict[str, Any]) -> str | None:
    """Re-hash one stored partition; return what is wrong with it, or None."""
    from mlops_nb.errors import NotFoundError

    try:
        artifacts.read(part["digest"])
    except (IntegrityError, NotFoundError) as err:
        return f"partition {part['index']} ({part['source']!r}): {err}"
    return None


def model_outputs(
    frame: pd.DataFrame, job: dict[str, Any], data: bytes
) -> tuple[Any, Any]:
    """Return ``(labels, probabilities)`` of ``frame``'s rows (this process's session).

    ``job`` is :func:`_job`'s; ``data`` the ONNX bytes (checked against the export's
    digest the first time this process opens a session on them). Regression:
    ``(values, None)``.
    """
    import numpy as np

    from mlops_nb.deploy._runtime import frame_feeds, run_session
    from mlops_nb.model._prep import Features, prepare_X

    what = job["what"]
    if not len(frame):
        return np.zeros(0), np.zeros((0, max(len(job["classes"] or []), 1)))
    recipe = job["feature_recipe"]
    if recipe and any(c not in frame.columns for c in recipe["outputs"]):
        from mlops_nb.data._recipe import apply_recipe

        frame = apply_recipe(frame, recipe)
    # typed once (every bad column named at once, each category level converted once)
    X = prepare_X(frame, Features.from_dict(job["features"]), what=what)
    session = _session(job["onnx"], data, what)
    labels, probas = [], []
    for start in range(0, len(X), BLOCK_ROWS):  # the session's memory stays small
        feeds = frame_feeds(X.iloc[start : start + BLOCK_ROWS], job["schema"])
        got = run_session(session, feeds, job["task"])
        labels.append(got[0])
        probas.append(got[1])
    if len(labels) == 1:
        return labels[0], probas[0]
    proba = None if probas[0] is None else np.concatenate(probas)
    return np.concatenate(labels), proba


def _score_frame(frame: pd.DataFrame, job: dict[str, Any], data: bytes) -> Any:
    """Return the output table of one partition's rows."""
    import numpy as np
    import pandas as pd

    out = {}
    if job["id"] is not None:
        out[job["id"]] = frame[job["id"]].reset_index(drop=True)
    else:
        out[ROW] = np.arange(job["offset"], job["offset"] + len(frame), dtype="int64")
    labels, proba = model_outputs(frame, job, data)
    classes = np.asarray(job["classes"] or [])
    if job["task"] == "regression":
        out["score"] = np.asarray(labels, dtype="float64")
    elif job["threshold"] is not None:
        k = job["positive"]
        score = np.asarray(proba, dtype="float64")[:, k]
        out["score"] = score
        out["decision"] = classes[np.where(score >= job["threshold"], k, 1 - k)]
    else:
        p = np.asarray(proba, dtype="float64")
        best = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
        out["score"] = p[np.arange(len(p)), best] if len(p) else np.zeros(0)
        out["decision"] = classes[best] if len(classes) else np.zeros(0)
    return pd.DataFrame(out)


def _score_part(part: dict[str, Any], job: dict[str, Any], data: bytes) -> dict:
    """Read (verified), score and write one partition; return what was written."""
    import io

    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    if "frame" in part:
        frame = part["frame"]
    else:
        from mlops_nb.data._large import read_partition

        frame = read_partition(
            job["artifacts"], part["digest"], part["index"], part["source"],
            job["version"], job["arrow_schema"],
        )  # fmt: skip
    table = pa.Table.from_pandas(
        _score_frame(frame, {**job, "offset": part["offset"]}, data),
        preserve_index=False,
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    body = buf.getvalue()
    name = f"part-{part['index']:05d}.parquet"
    fs, root = fsspec.core.url_to_fs(job["to"], **job["storage_options"])
    fs.pipe_file(f"{root.rstrip('/')}/{name}", body)
    return {
        "file": name,
        "partition": part["index"],
        "source": part["source"],
        "rows": table.num_rows,
        "sha256": hashlib.sha256(body).hexdigest(),
        "pid": os.getpid(),
    }


# -- the engine ------------------------------------------------------------------------
@contextlib.contextmanager
def engine(client: Any, what: str) -> Iterator[Any]:
    """Yield a ``dask.distributed`` client: the given one, the default, or a new one.

    A ``Client`` is used as it is; a scheduler address (``"tcp://host:8786"``) is
    connected to and closed afterwards; None uses the active default client, else
    starts a ``LocalCluster`` sized to the machine (processes, one thread each, no
    dashboard) and closes it afterwards.
    """
    try:
        from dask.distributed import Client, LocalCluster, default_client
    except ImportError as err:
        from mlops_nb.errors import MissingDependencyError

        msg = f"{what} needs dask.distributed: pip install 'mlops-nb[scale]'."
        raise MissingDependencyError(msg) from err
    if isinstance(client, Client):
        yield client
        return
    if isinstance(client, str):
        try:
            made = Client(client, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as err:
            msg = (
                f"{what}: could not reach the Dask scheduler at {client!r} ({err}). "
                "Pass a running scheduler's address, a Client, or client=None for a "
                "LocalCluster on this machine."
            )
            raise ValidationError(msg) from err
        try:
            yield made
        finally:
            made.close()
        return
    if client is not None:
        msg = (
            f"{what}: client={client!r} is not a dask.distributed Client or a "
            "scheduler address; pass Client(...), 'tcp://host:8786', 'local' or None."
        )
        raise ValidationError(msg)
    active = None
    with contextlib.suppress(ValueError):  # no default client: ValueError
        active = default_client()
    if active is not None:
        yield active
        return
    cluster = LocalCluster(
        n_workers=os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    made = Client(cluster, set_as_default=False)
    try:
        yield made
    finally:
        made.close()
        cluster.close()


# -- the batch -------------------------------------------------------------------------
def _job(model: Model, what: str) -> tuple[dict[str, Any], bytes]:
    from mlops_nb.deploy._convert import with_roles
    from mlops_nb.deploy._export import export_onnx, stored_exports
    from mlops_nb.model._threshold import class_index

    exports = stored_exports(model)
    export = exports[-1] if exports else export_onnx(model)
    info = model.threshold_info
    positive = None
    if info is not None:
        k = class_index(model.classes or [], info["positive_class"])
        positive = len(model.classes or []) - 1 if k < 0 else k
    job = {
        "what": what,
        "onnx": export.digest,
        "schema": with_roles(model, export.schema),
        "features": model.recipe["features"],
        "feature_recipe": model.recipe.get("feature_recipe"),
        "task": model.task,
        "classes": model.classes,
        "threshold": None if info is None else float(info["value"]),
        "positive": positive,
    }
    return job, export.onnx_bytes


def _source(source: Any, id: str | None, what: str) -> dict[str, Any]:
    """Describe the partitions of ``source``: large version, small version or frame."""
    import pandas as pd

    from mlops_nb.data import DataAsset

    if isinstance(source, DataAsset):
        id_col = id if id is not None else source.schema.id
        label, columns = source.label, [c.name for c in source.schema.columns]
        if source.is_large:
            from mlops_nb.data._large import _parts, manifest, preview_table

            rows = [int(e["rows"]) for e in manifest(source)["partitions"]]
            offsets = [sum(rows[:i]) for i in range(len(rows))]
            parts = [
                {"digest": d, "index": i, "source": s, "offset": offsets[i]}
                for d, i, s in _parts(source)
            ]
            return {
                "label": label, "columns": columns, "id": id_col, "parts": parts,
                "rows": sum(rows), "large": True,
                "artifacts": source.project._store.artifacts,
                "arrow_schema": preview_table(source).schema,
            }  # fmt: skip
        frame = source.frame
    elif isinstance(source, pd.DataFrame):
        frame, id_col, label = source, id, f"a DataFrame ({len(source):,} rows)"
        columns = [str(c) for c in frame.columns]
    else:
        msg = (
            f"{what}: expected a DataAsset or a pandas DataFrame, got "
            f"{type(source).__name__}. Register large data first: "
            "proj.data('logs', 'folder/*.parquet', id='request_id')."
        )
        raise ValidationError(msg)
    part = {"frame": frame, "index": 0, "source": label, "offset": 0}
    return {
        "label": label, "columns": columns, "id": id_col, "parts": [part],
        "rows": len(frame), "large": False,
    }  # fmt: skip


def _check_target(to: Any, overwrite: bool, storage_options: dict, what: str) -> Any:
    """Refuse a ``to`` that holds files (unless ``overwrite``); list what is there."""
    import fsspec

    text = os.path.expanduser(os.fspath(to))  # noqa: PTH111
    try:
        fs, root = fsspec.core.url_to_fs(text, **storage_options)
        if fs.exists(root) and not fs.isdir(root):
            msg = f"{what}: to={text!r} is a file; pass a folder or a folder URL."
            raise ValidationError(msg)
        found = sorted(fs.find(root)) if fs.exists(root) else []
    except OSError as err:
        from mlops_nb.errors import DataReadError

        msg = f"{what}: cannot list to={text!r}: {err}"
        raise DataReadError(msg) from err
    if found and not overwrite:
        shown = listing([f.rsplit("/", 1)[-1] for f in found], limit=5)
        msg = (
            f"{what}: to={text!r} already holds {len(found)} file(s) ({shown}); "
            "nothing was written. Pick an empty folder, or pass overwrite=True to "
            "replace an earlier batch's files."
        )
        raise ValidationError(msg)
    foreign = [f for f in found if not _ours(f)]
    if foreign:
        shown = listing([f.rsplit("/", 1)[-1] for f in foreign], limit=5)
        msg = (
            f"{what}: to={text!r} holds files a batch did not write ({shown}); "
            "overwrite=True replaces only part-NNNNN.parquet and _batch.json. "
            "Nothing was written; pick an empty folder."
        )
        raise ValidationError(msg)
    return fs, root.rstrip("/"), text, found


def _ours(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name == SUMMARY or bool(_PART.match(name))


def predict_batch(
    model: Model,
    source: DataAsset | pd.DataFrame,
    to: str | os.PathLike[str],
    *,
    client: Any = None,
    id: str | None = None,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> BatchScores:
    """Score ``source`` and write one parquet file per partition under ``to``.

    See :meth:`Model.predict_batch` and this module's docstring.
    """
    from mlops_nb.sustain import measure
    from mlops_nb.ui._progress import progress

    what = f"{model.label}.predict_batch"
    opts = dict(storage_options or {})
    src = _source(source, id, what)
    if src["id"] is not None and src["id"] not in src["columns"]:
        msg = f"{what}: id={src['id']!r} is not a column of {src['label']}."
        raise ValidationError(msg)
    if src["id"] in OUTPUTS:
        msg = f"{what}: the id column may not be named {src['id']!r} (an output)."
        raise ValidationError(msg)
    store = model.project._store
    if store.read_only:
        from mlops_nb.errors import StoreError

        msg = (
            f"{what}: the project is open read-only ({store.read_only}); the batch's "
            "audit and ledger entries could not be recorded, so nothing was scored."
        )
        raise StoreError(msg)
    fs, root, text, old = _check_target(to, overwrite, opts, what)
    job, data = _job(model, what)
    job.update(
        to=text, storage_options=opts, id=src["id"], version=src["label"],
        artifacts=src.get("artifacts"), arrow_schema=src.get("arrow_schema"),
    )  # fmt: skip
    parts = src["parts"]
    local = not src["large"] or (isinstance(client, str) and client == "local")
    with (
        measure(
            model.project, "predict", model, variant="onnx",
            note=f"batch: {src['label']} -> {text}", predictions=int(src["rows"]),
        ),
        progress(2 * len(parts), f"scoring {src['label']}") as bar,
    ):  # fmt: skip
        if local:
            written = _run_here(parts, job, data, fs, root, old, bar)
        else:
            with engine(client, what) as c:
                written = _run_on(c, parts, job, data, fs, root, old, bar)
    written.sort(key=lambda w: w["partition"])
    return _finish(model, src, job, written, fs, root, text)


def _refuse(problems: list[str], src_label: str, what: str) -> None:
    if problems:
        msg = (
            f"{what}: {len(problems)} partition(s) of {src_label} changed since they "
            f"were registered; nothing was scored or written. {' '.join(problems)} "
            "Restore them from a backup, or register the data again as a new version."
        )
        raise IntegrityError(msg)


def _clear(fs: Any, old: list[str]) -> None:
    for path in old:  # an earlier batch's files (overwrite=True), once all verified
        fs.rm_file(path)


def _run_here(parts, job, data, fs, root, old, bar) -> list[dict]:
    problems = []
    for part in parts:
        if "digest" in part:
            problems.append(_verify_part(job["artifacts"], part))
        bar.step("verified")
    _refuse([p for p in problems if p], job["version"], job["what"])
    _clear(fs, old)
    fs.makedirs(root, exist_ok=True)
    written = []
    for part in parts:
        written.append(_score_part(part, job, data))
        bar.step("scored")
    return written


def _run_on(c, parts, job, data, fs, root, old, bar) -> list[dict]:
    from dask.distributed import as_completed

    checks = [c.submit(_verify_part, job["artifacts"], p, pure=False) for p in parts]
    problems = []
    for fut in as_completed(checks):
        problems.append(fut.result())
        bar.step("verified")
    _refuse(sorted(p for p in problems if p), job["version"], job["what"])
    _clear(fs, old)
    fs.makedirs(root, exist_ok=True)
    shared = c.scatter(data, broadcast=True, hash=False)  # bytes, never a session
    scored = [c.submit(_score_part, p, job, shared, pure=False) for p in parts]
    written = []
    try:
        for fut in as_completed(scored):
            written.append(fut.result())
            bar.step("scored")
    finally:
        c.cancel(scored)  # after a failure, the partitions not scored yet stop
        # released, not cancelled: cancelling a scattered future recurses into
        # tasks already released and can trip the scheduler's assertion
        shared.release()
    return written


def _finish(model, src, job, written, fs, root, text) -> BatchScores:
    rows = sum(w["rows"] for w in written)
    info = model.threshold_info
    summary = {
        "format": FORMAT,
        "model": {"name": model.name, "version": model.version, "onnx": job["onnx"]},
        "source": src["label"],
        "id": src["id"] or ROW,
        "task": model.task,
        "threshold": None
        if info is None
        else {k: info[k] for k in ("value", "positive_class", "source")},
        "rows": rows,
        "files": [{k: w[k] for k in ("file", "partition", "rows", "sha256")}
                  for w in written],
    }  # fmt: skip
    fs.pipe_file(
        f"{root}/{SUMMARY}", json.dumps(summary, indent=1, default=str).encode()
    )
    store = model.project._store
    with store.write() as conn:
        store.audit(
            conn, "predict batch", f"model:{model.name}@{model.version}",
            source=src["label"], to=text, rows=rows, files=len(written),
            threshold=job["threshold"], onnx=job["onnx"], id=summary["id"],
        )  # fmt: skip
    return BatchScores(model, text, src["label"], summary["id"], rows, written, info)


@dataclass(frozen=True, eq=False, repr=False)
class BatchScores(Displayable):
    """What :meth:`Model.predict_batch` wrote.

    Attributes
    ----------
    to : str
        The folder or URL holding ``part-NNNNN.parquet`` and ``_batch.json``.
    rows : int
        Rows scored (the ledger entry's prediction count).
    files : list of dict
        ``file``, ``partition``, ``source``, ``rows``, ``sha256`` and ``pid`` (the
        process that scored it) of each file, in partition order.
    id : str
        The id column written (``"row"`` when the source has none).
    threshold : dict or None
        The decision threshold used (binary models).
    """

    model: Model = field(repr=False)
    to: str
    source: str
    id: str
    rows: int
    files: list[dict[str, Any]]
    threshold: dict[str, Any] | None

    def to_frame(self) -> pd.DataFrame:
        """One row per file written."""
        import pandas as pd

        return pd.DataFrame(self.files)

    def _view(self) -> View:
        from mlops_nb.model._threshold import describe

        facts = KeyValues(
            [
                ("model", self.model.label),
                ("source", self.source),
                ("written to", self.to),
                ("rows scored", f"{self.rows:,}"),
                ("files", len(self.files)),
                ("id column", self.id),
                ("decides", describe(self.threshold)),
            ]
        )
        summary = f"{self.rows:,} rows scored into {len(self.files)} file(s)"
        cols = ["file", "partition", "source", "rows", "sha256"]
        table = Table(self.to_frame()[cols]) if self.files else Text("No files.")
        tabs = [Tab("Overview", [facts]), Tab("Files", [table])]
        return View("BatchScores", self.model.label, summary, [("written", "ok")], tabs)
