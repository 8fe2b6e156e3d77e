"""Refuse a Parquet "bomb" from its metadata, before reading any column.

A Parquet file of a few kilobytes can declare billions of rows (its metadata says
so, or long runs of one value compress to almost nothing); reading it would exhaust
memory, or raise a bare ``MemoryError``. :func:`check_parquet` reads only the footer
and refuses a file whose declared table is larger than ``max_data_bytes``
(:func:`mlops_nb.set_config`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mlops_nb._config import get_config
from mlops_nb.errors import DataReadError

_CELL = 8  # bytes a value takes in memory, at least (an int64, a float64, a pointer)


def check_parquet(source: Path | bytes, *, what: str, name: str = "") -> None:
    """Refuse a Parquet file whose metadata declares more data than allowed.

    Parameters
    ----------
    source : Path or bytes
        The file, or its bytes.
    what : str
        Starts the error message (the call that read it).
    name : str
        The file's name, for the message (default: the path).

    Raises
    ------
    DataReadError
        When the footer cannot be read, or when rows x columns x 8 bytes or the
        declared uncompressed size exceeds ``max_data_bytes``; the message names the
        file, both numbers and the setting.
    """
    import pyarrow.parquet as pq

    label = name or str(source if isinstance(source, Path) else "the data")
    try:
        handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
        meta = pq.ParquetFile(handle).metadata
        rows, columns = int(meta.num_rows), int(meta.num_columns)
        by_group = by_column = 0
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            by_group += max(int(group.total_byte_size), 0)
            by_column += sum(
                max(int(group.column(j).total_uncompressed_size), 0)
                for j in range(group.num_columns)
            )
        uncompressed = max(by_group, by_column)
    except (OSError, ValueError, TypeError, MemoryError) as err:
        msg = f"{what}: could not parse {label!r} as parquet (its metadata): {err}"
        raise DataReadError(msg) from err
    cap = int(get_config()["max_data_bytes"])
    in_memory = rows * max(columns, 1) * _CELL
    if rows < 0 or columns < 0 or max(in_memory, uncompressed) > cap:
        msg = (
            f"{what}: {label!r} declares {rows:,} rows x {columns:,} columns (at least "
            f"{_size(in_memory)} in memory) and {_size(uncompressed)} uncompressed, "
            f"more than max_data_bytes={_size(cap)}; it was not read. If the file is "
            "genuine, raise the limit with mnb.set_config(max_data_bytes=...), or "
            "register it in parts."
        )
        raise DataReadError(msg)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n:,} bytes"
