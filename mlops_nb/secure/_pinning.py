"""Dataset pinning (T28) and per-source contribution caps (T29).

**Pinning against split-view poisoning.** A dataset published as files can change
after it was reviewed (a domain expires, a mirror is edited). :func:`ingest` records
the SHA-256 and size of every file, in order, the first time; every later ingest of
the same name must present exactly the same files in the same order, or it fails
listing each changed, added, missing or moved file. The bytes that were hashed are
the bytes that are parsed (read once), and the registered version keeps the file
hashes in its parameters; models trained on it carry its content hash in lineage.

**Contribution caps.** A poisoner who controls one source can only move a model as
far as that source's share of the training data (Kloft & Laskov). :func:`assemble`
builds one training table from several sources and enforces a cap on each source's
share, refusing (naming the source) or down-sampling, and records the shares.
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    DataReadError,
    IntegrityError,
    UnsafeFormatError,
    UnsupportedFormatError,
    ValidationError,
)
from mlops_nb.secure._files import read_regular_file

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset

PIN_DOC = "dataset-pin"
_PICKLE = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def _read_once(path: Path, what: str) -> bytes:
    return read_regular_file(path, error=DataReadError, label=f"{what}: {str(path)!r}")


def _parse(data: bytes, path: Path, what: str) -> pd.DataFrame:
    import pandas as pd

    if data[:2] in _PICKLE:
        msg = (
            f"{what}: {path.name!r} is a pickle file; mlops_nb never loads "
            f"pickles. Use CSV or Parquet."
        )
        raise UnsafeFormatError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(io.BytesIO(data))
        if suffix in (".parquet", ".pq"):
            from mlops_nb.data._parquet_guard import check_parquet

            check_parquet(data, what=what, name=path.name)  # refuse a "bomb" first
            return pd.read_parquet(io.BytesIO(data))
    except DataReadError:
        raise
    except Exception as err:
        msg_0 = f"{what}: could not parse {path.name!r}: {err}"
        raise DataReadError(msg_0) from err
    msg_0 = f"{what}: {path.name!r} is not a .csv or .parquet file."
    raise UnsupportedFormatError(msg_0)


def pin_differences(
    pinned: list[dict[str, Any]], current: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Every file that differs from the pin: changed, added, missing or moved."""
    old = {f["file"]: (i, f["sha256"]) for i, f in enumerate(pinned)}
    new = {f["file"]: (i, f["sha256"]) for i, f in enumerate(current)}
    out = []
    for name, (i, sha) in new.items():
        if name not in old:
            out.append(
                {"file": name, "problem": f"added (sha256 {sha[:12]}…), not in the pin"}
            )
        elif old[name][1] != sha:
            out.append(
                {
                    "file": name,
                    "problem": f"changed: sha256 {sha[:12]}…, pinned "
                    f"{old[name][1][:12]}…",
                }
            )
        elif old[name][0] != i:
            out.append(
                {
                    "file": name,
                    "problem": f"moved from position {old[name][0] + 1} to {i + 1}",
                }
            )
    out += [
        {"file": n, "problem": "missing: pinned but not given"}
        for n in old
        if n not in new
    ]
    return out


def ingest(
    project: Project,
    name: str,
    files: Sequence[str | Path],
    *,
    source: str = "",
    licence: str = "",
    repin: bool = False,
    reason: str = "",
    **roles: Any,
) -> DataAsset:
    """Register data from files whose SHA-256 are pinned on first ingest.

    Parameters
    ----------
    project : Project
    name : str
        The asset (and pin) name.
    files : sequence of paths
        CSV or Parquet files with the same columns, concatenated in this order.
        Files are identified by their name, so names must be distinct.
    source, licence : str
        Recorded with the pin.
    repin : bool
        Accept a changed file set and record it as the new pin; needs ``reason``.
    reason : str
        Why the pin changes (audited).
    **roles
        ``target``, ``sensitive``, ``time``, ``id``, ``kinds``, ``note`` as for
        :meth:`Project.data`.

    Raises
    ------
    IntegrityError
        When the files differ from the pin; ``failure_cases`` is not available on this
        error, so the message lists every file and what changed.
    """
    import pandas as pd

    from mlops_nb.data._register import register_frame
    from mlops_nb.store import validate_name

    what = f"ingest({name!r})"
    validate_name(name, what="ingest(name=...)")
    paths = [Path(f).expanduser() for f in files]
    if not paths:
        msg = f"{what}: give at least one file."
        raise ValidationError(msg)
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        msg = (
            f"{what}: file names repeat ({names}); pinned files are named by file name."
        )
        raise ValidationError(msg)
    blobs = [_read_once(p, what) for p in paths]
    current = [
        {"file": p.name, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
        for p, b in zip(paths, blobs, strict=True)
    ]
    pin = project._document(PIN_DOC, name)
    if pin is not None:
        diffs = pin_differences(pin["payload"]["files"], current)
        if diffs and not repin:
            listed = "; ".join(f"{d['file']}: {d['problem']}" for d in diffs)
            msg = (
                f"{what}: the files differ from the pin recorded "
                f"{pin['created_at'][:19]} by "
                f"{pin['created_by']}: {listed}. Nothing was registered. If the "
                f"change is expected, "
                "review it and call again with repin=True, reason='...'."
            )
            raise IntegrityError(msg)
        if diffs and len(reason.strip()) < 5:
            msg_0 = f"{what}: repin=True needs a reason (at least 5 characters)."
            raise ValidationError(msg_0)
    if pin is None or repin:
        project._save_document(
            PIN_DOC,
            name,
            {"files": current, "source": source, "licence": licence},
            note=reason or "first ingest",
        )
    frames = [_parse(b, p, what) for p, b in zip(paths, blobs, strict=True)]
    columns = list(frames[0].columns)
    odd = [
        p.name for p, f in zip(paths, frames, strict=True) if list(f.columns) != columns
    ]
    if odd:
        msg_0 = f"{what}: {odd} have other columns than {paths[0].name!r}."
        raise ValidationError(msg_0)
    frame = pd.concat(frames, ignore_index=True)
    note = roles.pop("note", "") or f"ingested from {len(paths)} pinned file(s)"
    params = {"files": current, "source": source, "licence": licence}
    return register_frame(
        project,
        name,
        frame,
        operation="ingest",
        params=params,
        note=note,
        source="files: " + ", ".join(names),
        what=what,
        **roles,
    )


def _capped_counts(sizes: dict[str, int], cap: float) -> dict[str, int]:
    """Largest row counts with no source above ``cap`` of the total (water-filling)."""
    order = sorted(sizes, key=lambda s: -sizes[s])
    for k in range(len(order)):  # assume the k largest sources are the capped ones
        rest = sum(sizes[s] for s in order[k:])
        total = rest / (1 - cap * k)
        if (
            all(sizes[s] >= cap * total for s in order[:k])
            and sizes[order[k]] <= cap * total
        ):
            counts = {
                s: (int(cap * total) if s in order[:k] else sizes[s]) for s in order
            }
            while any(n > cap * sum(counts.values()) + 1e-9 for n in counts.values()):
                big = max(
                    counts, key=lambda s: counts[s]
                )  # rounding left one a row over: trim it
                counts[big] -= 1
            return counts
    return dict.fromkeys(sizes, 0)


def assemble(
    project: Project,
    name: str,
    parts: Mapping[str, pd.DataFrame | DataAsset],
    *,
    cap: float = 0.5,
    on_exceed: str = "raise",
    seed: int = 0,
    source_column: str | None = "source",
    note: str = "",
    **roles: Any,
) -> DataAsset:
    """One training table from several sources, no source above ``cap`` of the rows.

    Parameters
    ----------
    project : Project
    name : str
        The asset to register.
    parts : mapping of source name to DataFrame or DataAsset
        Each source's rows (same columns).
    cap : float
        Largest share of rows one source may supply, in (0, 1].
    on_exceed : {"raise", "downsample"}
        Refuse with an error naming the source, or keep a seeded sample of the
        source's rows that meets the cap.
    seed : int
        Seed of that sample.
    source_column : str or None
        Column that records each row's source (None: not added).
    **roles
        As for :meth:`Project.data`.

    Returns
    -------
    DataAsset
        Its parameters record every source's offered and used rows and share.
    """
    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.data._register import register_frame

    what = f"assemble({name!r})"
    if not 0 < cap <= 1:
        msg = f"{what}: cap={cap!r} must be a share in (0, 1], e.g. 0.4."
        raise ValidationError(msg)
    if len(parts) * cap < 1:
        msg = (
            f"{what}: {len(parts)} source(s) cannot each stay under cap={cap:.0%}; "
            f"it needs at least "
            f"{math.ceil(1 / cap)} sources. Add sources or raise the cap."
        )
        raise ValidationError(msg)
    if on_exceed not in ("raise", "downsample"):
        msg_0 = f"{what}: on_exceed={on_exceed!r}; use 'raise' or 'downsample'."
        raise ValidationError(msg_0)
    frames = {
        str(s): (p.frame if isinstance(p, DataAsset) else p) for s, p in parts.items()
    }
    sizes = {s: len(f) for s, f in frames.items()}
    total = sum(sizes.values())
    over = {s: n / total for s, n in sizes.items() if n > cap * total}
    if over and on_exceed == "raise":
        listed = ", ".join(f"{s!r} supplies {share:.0%}" for s, share in over.items())
        msg = (
            f"{what}: {listed} of the rows, above the cap of {cap:.0%} per source. "
            f"Add rows from "
            "other sources, or pass on_exceed='downsample' to keep a sample of it."
        )
        raise ValidationError(
            msg,
            [{"source": s, "share": round(v, 4), "cap": cap} for s, v in over.items()],
        )
    used = _capped_counts(sizes, cap) if over else sizes
    rng = np.random.default_rng(seed)
    pieces = []
    for s, f in frames.items():
        keep = (
            f
            if used[s] == len(f)
            else f.iloc[np.sort(rng.choice(len(f), used[s], replace=False))]
        )
        pieces.append(keep.assign(**{source_column: s}) if source_column else keep)
    frame = pd.concat(pieces, ignore_index=True)
    n = len(frame)
    shares = {
        s: {"offered": sizes[s], "used": used[s], "share": round(used[s] / n, 4)}
        for s in frames
    }
    parents = [(p.name, p.version) for p in parts.values() if isinstance(p, DataAsset)]
    return register_frame(
        project,
        name,
        frame,
        operation="assemble",
        params={"sources": shares, "cap": cap, "on_exceed": on_exceed},
        parents=parents or None,
        note=note
        or "sources: " + ", ".join(f"{s} {v['share']:.0%}" for s, v in shares.items()),
        source="sources: " + ", ".join(frames),
        what=what,
        **roles,
    )
