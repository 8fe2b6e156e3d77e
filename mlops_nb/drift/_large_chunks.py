"""Per-chunk summaries of a batch, partition by partition, on Dask workers.

Each partition is read (re-hashed) and cut into the monitor's chunks (a period of
the time column, a column's values, or row positions) in one task; every chunk's
drift counts on the drift spec's bins (:func:`mlops_nb.drift._binned.drift_spec`)
are computed at once (:mod:`mlops_nb.drift._chunk_counts`), and the counts of one
chunk are merged across partitions as a tree on the workers. Only counts (numpy
arrays) and CBPE sums travel between processes, never frames of rows.

``client`` is a ``dask.distributed.Client`` or a scheduler address; None uses the
active client, else starts a LocalCluster sized to the machine (closed after);
``"synchronous"`` runs every task in this process with Dask's synchronous scheduler
(for tests and small data).
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from mlops_nb.drift._chunking import ChunkSpec, split

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.data._summaries import SummarySpec

SYNCHRONOUS = "synchronous"


def _size(cs: ChunkSpec, total: int) -> tuple[int, int]:
    """Rows per chunk and number of chunks of a size/count chunking (as ``split``)."""
    size = int(cs.value) if cs.kind == "size" else max(1, total // int(cs.value))
    k = max(1, total // size)
    if cs.kind == "size" and total - k * size >= size / 2:
        k += 1
    return size, k


def _period_chunks(frame: pd.DataFrame, cs: ChunkSpec) -> Any:
    """``split`` of a period chunking, labelling only each chunk's first row."""
    import numpy as np
    import pandas as pd

    from mlops_nb.drift._chunking import Chunks, _period_kind, _text, period_keys

    values = frame.get(cs.time_column) if cs.time_column else None
    if (
        values is None
        or not pd.api.types.is_datetime64_any_dtype(values)
        or _period_kind(str(cs.value)) != "floor"
        or values.isna().any()
    ):
        return split(frame, cs)
    sort_key = values.dt.floor(str(cs.value))
    uniques, codes = np.unique(sort_key.to_numpy(), return_inverse=True)
    keys = period_keys(uniques, str(cs.value))
    codes = codes.astype(np.int64).ravel()
    starts, ends = [], []
    for c in range(len(uniques)):
        sub = values[codes == c] if len(uniques) > 1 else values
        starts.append(_text(sub.min()))
        ends.append(_text(sub.max()))
    return Chunks(codes, keys, starts, ends)


def _pieces(
    frame: pd.DataFrame, offset: int, total: int, cs: ChunkSpec
) -> tuple[np.ndarray, list[tuple[str, Any, str, str]]]:
    """Each row's chunk (a code) and each chunk's ``(key, sort, from, to)``."""
    import numpy as np
    import pandas as pd

    from mlops_nb.drift._chunking import _text

    t = frame[cs.time_column] if cs.time_column in frame.columns else None
    if cs.kind in ("size", "count"):
        size, k = _size(cs, total)
        chunk = np.minimum((offset + np.arange(len(frame))) // size, k - 1)
        first, codes = np.unique(chunk, return_inverse=True)
        out = []
        for j, c in enumerate(first.tolist()):
            a, b = c * size, (c + 1) * size - 1 if c < k - 1 else total - 1
            rows = codes == j
            lo, hi = (
                (_text(t[rows].min()), _text(t[rows].max()))
                if t is not None
                else (str(a), str(b))
            )
            out.append((f"[{a}:{b}]", a, lo, hi))
        return codes.astype(np.int64).ravel(), out
    chunks = _period_chunks(frame, cs) if cs.kind == "period" else split(frame, cs)
    column = cs.value if cs.kind == "column" else None
    out = []
    for c, key in enumerate(chunks.keys):
        if column is not None:
            v = frame[column].iloc[int(np.flatnonzero(chunks.codes == c)[0])]
            sort: Any = float(v) if isinstance(v, (int, float, np.number)) else str(v)
        else:
            sort = _text(pd.Timestamp(t[chunks.codes == c].min()))
        out.append((key, sort, chunks.starts[c], chunks.ends[c]))
    return chunks.codes, out


def part_chunks(
    frame: pd.DataFrame,
    offset: int,
    total: int,
    spec_d: dict[str, Any],
    chunk_d: dict[str, Any],
    plan: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> dict[str, Any]:
    """Count each chunk's rows of one partition (and score them).

    Parameters
    ----------
    frame : DataFrame
        The partition.
    offset : int
        Rows before it in the analysis stream (for chunks of a number of rows).
    total : int
        Rows in the whole analysis stream.
    spec_d, chunk_d : dict
        The summary spec and the chunking, as dicts.
    plan, data : dict and bytes, optional
        How to score (:func:`mlops_nb.drift._cbpe_large.scoring_plan`) and the ONNX
        bytes: the score becomes the spec's ``model score`` column, and CBPE's sums
        are added per chunk (``"cbpe"``, binary classifiers).

    Returns
    -------
    dict
        Chunk key -> ``{"counts", "rows", "from", "to", "sort"}`` (and ``"cbpe"``);
        ``counts`` as :func:`mlops_nb.drift._chunk_counts.frame_counts` returns.
    """
    from mlops_nb.data._summaries import SummarySpec
    from mlops_nb.drift._chunk_counts import frame_counts

    spec, cs = SummarySpec.from_dict(spec_d), ChunkSpec.from_dict(chunk_d)
    if len(frame) == 0:
        return {}
    frame = frame.reset_index(drop=True)
    rows_cbpe = None
    if plan is not None and data is not None:
        from mlops_nb.drift._analysis import SCORE
        from mlops_nb.drift._cbpe_large import score_frame

        score, rows_cbpe = score_frame(frame, plan, data)
        frame = frame.assign(**{SCORE: score})
    codes, pieces = _pieces(frame, offset, total, cs)
    counts = frame_counts(frame, codes, len(pieces), spec)
    out = {}
    for c, (key, sort, lo, hi) in enumerate(pieces):
        rows = codes == c
        out[key] = {
            "counts": counts[c],
            "rows": int(rows.sum()),
            "from": lo,
            "to": hi,
            "sort": sort,
        }
        if rows_cbpe is not None:
            from mlops_nb.drift._cbpe_large import sums

            out[key]["cbpe"] = sums(rows_cbpe, rows, plan["cbpe"]["edges"])
    return out


def merge_chunks(cap: int, *parts: dict[str, Any]) -> dict[str, Any]:
    """Merge per-chunk counts of several partitions (or batches), by chunk key.

    ``cap`` is the spec's ``category_cap`` (new categories counted up to it).
    """
    from mlops_nb.drift._cbpe_large import merge_sums
    from mlops_nb.drift._chunk_counts import merge_counts

    out: dict[str, Any] = {}
    for part in parts:
        for key, p in part.items():
            have = out.get(key)
            if have is None:
                out[key] = dict(p)
                continue
            out[key] = {
                "counts": merge_counts(have["counts"], p["counts"], cap),
                "rows": have["rows"] + p["rows"],
                "from": min(have["from"], p["from"]),
                "to": max(have["to"], p["to"]),
                "sort": min(have["sort"], p["sort"]),
            }
            if "cbpe" in have or "cbpe" in p:
                out[key]["cbpe"] = merge_sums(have.get("cbpe"), p.get("cbpe"))
    return out


def _read_part(
    reader: Any, part: tuple[Any, ...], start: int, total: int, *args: Any
) -> dict[str, Any]:
    """Read one partition (re-hashed) and count its chunks: one task, no frame moves."""
    return part_chunks(reader(part), start, total, *args)


@contextlib.contextmanager
def dask_client(client: Any) -> Iterator[Any]:
    """Yield the client to run on (or ``"synchronous"``); close what was started here.

    Raises
    ------
    MissingDependencyError
        Without ``dask.distributed``.
    """
    if client == SYNCHRONOUS:
        yield SYNCHRONOUS
        return
    try:
        from dask.distributed import Client, LocalCluster, default_client
    except ImportError as err:  # pragma: no cover - the scale extra is installed
        from mlops_nb.errors import MissingDependencyError

        msg = "observing a large version needs dask: pip install 'mlops-nb[scale]'."
        raise MissingDependencyError(msg) from err
    if client is not None and not isinstance(client, str):
        yield client
        return
    if isinstance(client, str):
        own = Client(client)
        try:
            yield own
        finally:
            own.close()
        return
    try:
        yield default_client()
        return
    except ValueError:
        pass
    cores = os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None
    )
    own = Client(cluster)
    try:
        yield own
    finally:
        own.close()
        cluster.close()


def batch_chunks(
    asset: DataAsset,
    offset: int,
    total: int,
    spec: SummarySpec,
    cs: ChunkSpec,
    *,
    client: Any = None,
    split_every: int = 8,
    plan: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> dict[str, Any]:
    """Per-chunk summaries of one batch: on the workers for a large version.

    A small version is summarised in this process. Every partition of a large one
    is re-hashed as it is read (a changed one raises ``IntegrityError``). With a
    scoring ``plan``, the ONNX ``data`` is scattered to the workers once and each
    worker scores its partitions with its own session (never pickled).
    """
    spec_d, chunk_d = spec.to_dict(), cs.to_dict()
    cap = spec.category_cap
    if not asset.is_large:
        return part_chunks(asset.frame, offset, total, spec_d, chunk_d, plan, data)
    from mlops_nb.data._large import manifest, reader_of

    rows = [int(p["rows"]) for p in manifest(asset)["partitions"]]
    starts = [offset + sum(rows[:i]) for i in range(len(rows))]
    if not rows:
        return {}
    from mlops_nb.ui._progress import progress

    reader, parts = reader_of(asset)
    args = (spec_d, chunk_d, plan)
    with (
        dask_client(client) as c,
        progress(len(parts), f"summarising {asset.label}") as bar,
    ):
        if c == SYNCHRONOUS:
            out: dict[str, Any] = {}
            for part, start in zip(parts, starts, strict=True):
                got = _read_part(reader, part, start, total, *args, data)
                out = merge_chunks(cap, out, got)
                bar.step("partition")
            return out
        shared: Any = data
        if data is not None:
            shared = c.scatter(data, broadcast=True, hash=False)  # bytes, no session
        try:
            from dask.distributed import as_completed

            read = [
                c.submit(
                    _read_part, reader, part, start, total, *args, shared, pure=False
                )
                for part, start in zip(parts, starts, strict=True)
            ]
            level = read
            while len(level) > 1:  # merged on the workers, as a tree
                level = [
                    c.submit(merge_chunks, cap, *level[i : i + split_every], pure=False)
                    for i in range(0, len(level), split_every)
                ]
            for _ in as_completed(read):  # a bar in a live notebook; quiet elsewhere
                bar.step("partition")
            return level[0].result()
        finally:
            if shared is not data:
                # release, not cancel: cancelling recurses into the partition tasks
                # this client already released and trips the scheduler's assert
                shared.release()
