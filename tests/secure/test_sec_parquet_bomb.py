"""Issue 14 item 9: a Parquet "bomb" is refused from its metadata, before reading.

Each bomb below is a small file whose footer declares a table far larger than the
file (long runs that compress to nothing, nulls, one repeated string, thousands of
columns). With ``max_data_bytes`` set below the declared size, registering it (by
``Project.data`` or pinned ``ingest``) must raise DataReadError naming the file and
the numbers, and store nothing; a file within the limit still registers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlops_nb as mnb
from mlops_nb.errors import DataReadError

CAP = 16 << 20  # 16 MiB for these tests
ROWS = 3_000_000  # x 8 bytes = 24 MB > CAP


def _nulls(n: int) -> pa.Table:
    return pa.table({"x": pa.nulls(n, pa.int64()), "y": pa.nulls(n, pa.int8())})


def _constant(n: int) -> pa.Table:
    return pa.table({"x": np.zeros(n), "y": np.ones(n, dtype=np.int8)})


def _one_string(n: int) -> pa.Table:
    words = pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), ["spam"])
    return pa.table({"x": words, "y": np.zeros(n, dtype=np.int8)})


def _wide(n: int) -> pa.Table:
    rows = max(n // 2000, 1)
    return pa.table({f"c{i}": np.zeros(rows) for i in range(2400)})


BOMBS = {"nulls": _nulls, "constant": _constant, "one string": _one_string}
BOMBS["wide"] = _wide


def _write(table: pa.Table, path, compression: str = "zstd") -> None:
    pq.write_table(table, path, compression=compression, row_group_size=1 << 22)


@pytest.mark.parametrize("kind", list(BOMBS))
@pytest.mark.parametrize("compression", ["zstd", "snappy"])
def test_a_parquet_bomb_is_refused_before_reading(tmp_path, kind, compression):
    path = tmp_path / f"{kind.replace(' ', '_')}.parquet"
    _write(BOMBS[kind](ROWS), path, compression)
    size = path.stat().st_size
    meta = pq.ParquetFile(path).metadata
    assert size < CAP // 8  # the file is small; what it declares is not
    proj = mnb.Project.open(tmp_path / "proj")
    with mnb.config_context(max_data_bytes=CAP):
        with pytest.raises(DataReadError) as info:
            proj.data("bomb", path)
        text = str(info.value)
        assert str(path) in text
        assert f"{meta.num_rows:,} rows" in text
        assert "max_data_bytes" in text
        with pytest.raises(DataReadError, match=path.name):
            mnb.secure.ingest(proj, "pinned-bomb", [path])
    assert len(proj.assets()) == 0  # nothing was stored
    assert "register" not in set(proj.audit_log()["action"])


@pytest.mark.parametrize("kind", list(BOMBS))
def test_parquet_within_the_limit_registers(tmp_path, kind):
    path = tmp_path / "small.parquet"
    table = BOMBS[kind](1000)
    if kind == "nulls":  # an all-null table has nothing to register
        table = pa.table({"x": np.arange(1000), "y": np.zeros(1000, dtype=np.int8)})
    _write(table, path)
    proj = mnb.Project.open(tmp_path / "proj")
    with mnb.config_context(max_data_bytes=CAP):
        asset = proj.data("fine", path)
        pinned = mnb.secure.ingest(proj, "pinned", [path])
    assert asset.n_rows == pinned.n_rows == table.num_rows


def test_the_limit_is_a_setting(tmp_path):
    path = tmp_path / "c.parquet"
    _write(_constant(ROWS), path)
    proj = mnb.Project.open(tmp_path / "proj")
    with mnb.config_context(max_data_bytes=CAP), pytest.raises(DataReadError):
        proj.data("c", path)
    with mnb.config_context(max_data_bytes=ROWS * 2 * 8 + 1):
        assert proj.data("c", path).n_rows == ROWS
    for bad in (0, -1, True):
        with pytest.raises(mnb.errors.ValidationError, match="max_data_bytes"):
            mnb.set_config(max_data_bytes=bad)
