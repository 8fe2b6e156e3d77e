"""Reading, normalising, hashing and serialising tables.

A data version is stored as Parquet bytes (zstd) in the artifact store. Its identity
is a content hash over column names, dtypes, every row's values (in order) and the
schema (kinds and roles), so the same data with the same roles is the same version.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    DataReadError,
    EmptyDataError,
    SchemaError,
    UnsafeFormatError,
    UnsupportedFormatError,
    listing,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data._schema import Schema

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def read_source(source: Any, *, what: str) -> tuple[pd.DataFrame, str]:
    """Return ``(frame, description of the source)`` for a DataFrame or file path.

    CSV files are read with a sniffed delimiter and stripped padding (see
    :mod:`mlops_nb.data._csv`).

    Raises
    ------
    UnsupportedFormatError
        For a file type other than CSV or Parquet, or an object that is neither a
        DataFrame nor a path.
    UnsafeFormatError
        For a pickle file, whatever its name.
    DataReadError
        When the file is missing or cannot be parsed.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source, "DataFrame"
    if not isinstance(source, (str, Path)):
        msg = (
            f"{what}: cannot read data from a {type(source).__name__}. Pass a pandas "
            "DataFrame or the path of a .csv or .parquet file."
        )
        raise UnsupportedFormatError(msg)
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if not path.is_file():
        msg = (
            f"{what}: {str(path)!r} is not a readable file "
            "(it does not exist or is a folder)."
        )
        raise DataReadError(msg)
    try:
        with path.open("rb") as fh:
            head = fh.read(2)
    except OSError as err:
        msg = f"{what}: cannot read {str(path)!r}: {err}"
        raise DataReadError(msg) from err
    if head in _PICKLE_MAGIC:
        msg = (
            f"{what}: {str(path)!r} is a pickle file; mlops_nb never loads pickles "
            "because they can run code. Save the data as CSV or Parquet instead."
        )
        raise UnsafeFormatError(msg)
    if suffix not in READERS:
        msg = (
            f"{what}: unsupported file type {suffix or '(none)'!r} for {str(path)!r}. "
            f"Supported: {listing(READERS)}."
        )
        raise UnsupportedFormatError(msg)
    try:
        if READERS[suffix] == "csv":
            from mlops_nb.data._csv import read_csv

            frame = read_csv(path)
        else:
            from mlops_nb.data._parquet_guard import check_parquet

            check_parquet(path, what=what)  # a "bomb" is refused from its footer
            frame = pd.read_parquet(path)
    except (SchemaError, DataReadError):
        raise
    except Exception as err:
        msg = f"{what}: could not parse {str(path)!r} as {READERS[suffix]}: {err}"
        raise DataReadError(msg) from err
    return frame, f"file:{path.name}"


def normalise(frame: pd.DataFrame, *, what: str) -> pd.DataFrame:
    """Check a frame is usable and give it string column names and a plain index.

    A named index becomes a column; an unnamed one is dropped.

    Raises
    ------
    EmptyDataError
        When there are no rows or no columns.
    SchemaError
        When column names repeat.
    """
    import pandas as pd

    if frame.shape[1] == 0:
        msg = (
            f"{what}: the frame has no columns. Pass a table with at least one column."
        )
        raise EmptyDataError(msg)
    if frame.shape[0] == 0:
        msg = (
            f"{what}: the frame has no rows (columns: {listing(frame.columns)}). "
            "Check the filter or file that produced it."
        )
        raise EmptyDataError(msg)
    index = frame.index
    named = any(n is not None for n in index.names)
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if named or not default:
        frame = frame.reset_index(drop=not named)
    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = (
            f"{what}: duplicate column names {listing(dupes)}. Rename them so each "
            "column has its own name."
        )
        raise SchemaError(
            msg, [{"column": d, "problem": "duplicate name"} for d in dupes]
        )
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


def content_hash(frame: pd.DataFrame, schema: Schema) -> str:
    """SHA-256 over names, dtypes, row values in order, and the schema."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([list(frame.columns), [str(t) for t in frame.dtypes]]).encode())
    h.update(json.dumps(schema.to_dict(), sort_keys=True).encode())
    for name in frame.columns:
        col = frame[name]
        try:
            hashed = pd.util.hash_pandas_object(col, index=False)
        except TypeError:  # unhashable cells (lists, dicts): hash their text
            hashed = pd.util.hash_pandas_object(col.astype(str), index=False)
        h.update(hashed.to_numpy().tobytes())
    return h.hexdigest()


def to_parquet_bytes(frame: pd.DataFrame, *, what: str) -> bytes:
    """Serialise a frame to Parquet bytes, naming a column Parquet cannot hold."""
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    except Exception as err:
        bad = _unstorable_columns(frame)
        msg = (
            f"{what}: cannot store column(s) {listing(bad) if bad else '(unknown)'}: "
            f"{err}. Mixed types in one column are the usual cause; convert with "
            "frame[col].astype(str) or fix the values."
        )
        raise SchemaError(
            msg, [{"column": c, "problem": "not storable"} for c in bad]
        ) from err
    return buf.getvalue()


def from_parquet_bytes(data: bytes) -> pd.DataFrame:
    """Read a frame written by :func:`to_parquet_bytes`."""
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def _unstorable_columns(frame: pd.DataFrame) -> list[str]:
    import pyarrow as pa

    bad = []
    for name in frame.columns:
        try:
            pa.Table.from_pandas(frame[[name]], preserve_index=False)
        except Exception:
            bad.append(name)
    return bad
