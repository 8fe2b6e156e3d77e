"""Per-chunk summaries of a batch, partition by partition, on Dask workers.

Each partition is cut into the monitor's chunks (a period of the time column, a
column's values, or row positions), each piece is summarised with the drift spec
(:func:`mlops_nb.drift._binned.drift_spec`), and pieces of one chunk are merged
across partitions as a tree. Only summaries travel between processes: JSON-ready
dicts, never pickled frames of rows.

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


def part_chunks(
    frame: pd.DataFrame,
    offset: int,
    total: int,
    spec_d: dict[str, Any],
    chunk_d: dict[str, Any],
    plan: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> dict[str, Any]:
    """Summarise each chunk's rows of one partition (and score them).

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
        Chunk key -> ``{"summary", "rows", "from", "to", "sort"}`` (and ``"cbpe"``).
    """
    import numpy as np
    import pandas as pd

    from mlops_nb.data._summaries import SummarySpec
    from mlops_nb.data._summarize import summarize_frame
    from mlops_nb.drift._chunking import _text

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
    t = frame[cs.time_column] if cs.time_column in frame.columns else None
    pieces: list[tuple[str, np.ndarray, Any, str, str]] = []
    if cs.kind in ("size", "count"):
        size, k = _size(cs, total)
        codes = np.minimum((offset + np.arange(len(frame))) // size, k - 1)
        for c in np.unique(codes):
            a, b = int(c) * size, (int(c) + 1) * size - 1 if c < k - 1 else total - 1
            rows = codes == c
            lo, hi = (
                (_text(t[rows].min()), _text(t[rows].max()))
                if t is not None
                else (str(a), str(b))
            )
            pieces.append((f"[{a}:{b}]", rows, a, lo, hi))
    else:
        chunks = split(frame, cs)
        column = cs.value if cs.kind == "column" else None
        for c, key in enumerate(chunks.keys):
            rows = chunks.codes == c
            if column is not None:
                v = frame[column][rows].iloc[0]
                sort: Any = (
                    float(v) if isinstance(v, (int, float, np.number)) else str(v)
                )
            else:
                sort = _text(pd.Timestamp(t[rows].min()))
            pieces.append((key, rows, sort, chunks.starts[c], chunks.ends[c]))
    out = {}
    for key, rows, sort, lo, hi in pieces:
        out[key] = {
            "summary": summarize_frame(frame[rows], spec).to_dict(),
            "rows": int(rows.sum()),
            "from": lo,
            "to": hi,
            "sort": sort,
        }
        if rows_cbpe is not None:
            from mlops_nb.drift._cbpe_large import sums

            out[key]["cbpe"] = sums(rows_cbpe, rows, plan["cbpe"]["edges"])
    return out


def merge_chunks(*parts: dict[str, Any]) -> dict[str, Any]:
    """Merge per-chunk summaries of several partitions (or batches), by chunk key."""
    from mlops_nb.data._summaries import Summary
    from mlops_nb.drift._cbpe_large import merge_sums

    out: dict[str, Any] = {}
    for part in parts:
        for key, p in part.items():
            have = out.get(key)
            if have is None:
                out[key] = dict(p)
                continue
            merged = Summary.from_dict(have["summary"]).merge(
                Summary.from_dict(p["summary"])
            )
            out[key] = {
                "summary": merged.to_dict(),
                "rows": have["rows"] + p["rows"],
                "from": min(have["from"], p["from"]),
                "to": max(have["to"], p["to"]),
                "sort": min(have["sort"], p["sort"]),
            }
            if "cbpe" in have or "cbpe" in p:
                out[key]["cbpe"] = merge_sums(have.get("cbpe"), p.get("cbpe"))
    return out


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
    if not asset.is_large:
        return part_chunks(asset.frame, offset, total, spec_d, chunk_d, plan, data)
    from dask import delayed

    from mlops_nb.data._large import manifest

    rows = [int(p["rows"]) for p in manifest(asset)["partitions"]]
    starts = [offset + sum(rows[:i]) for i in range(len(rows))]
    if not rows:
        return {}
    with dask_client(client) as c:
        shared: Any = data
        if c != SYNCHRONOUS and data is not None:
            shared = c.scatter(data, broadcast=True, hash=False)  # bytes, no session
        level = [
            delayed(part_chunks, pure=True)(
                part, start, total, spec_d, chunk_d, plan, shared
            )
            for part, start in zip(asset.dask().to_delayed(), starts, strict=True)
        ]
        while len(level) > 1:
            level = [
                delayed(merge_chunks, pure=True)(*level[i : i + split_every])
                for i in range(0, len(level), split_every)
            ]
        if c == SYNCHRONOUS:
            return level[0].compute(scheduler="synchronous")
        try:
            return c.compute(level[0]).result()
        finally:
            if shared is not data:
                c.cancel([shared])
