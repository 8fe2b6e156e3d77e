"""Reading CSVs as people have them: sniffed delimiters, padded cells, honest dates.

Generated files: a random delimiter among , ; tab |, random spaces around every header
and value (outside quotes), quoted values holding the delimiter, header names with
inner spaces, missing values, and integer, float, text and ISO date columns. The frame
registered from the padded file must equal the one registered from a plain comma file
of the same table, with the right kinds.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb import errors
from mlops_nb.data._csv import sniff_delimiter

DELIMS = [",", ";", "\t", "|"]
_counter = itertools.count()

# names: letters, digits, inner spaces, _ - . ; never padded in the truth
_name = st.text("abcdefghijklmnopqrstuvwxyz ABC0123456789_-.", min_size=1, max_size=12)
_name = _name.map(str.strip).filter(lambda s: s and not s[0].isdigit())
# text values: no letters of NA/null/true/nan words, may hold , ; | and inner spaces
_word = st.text("bcxyz ,;|", min_size=1, max_size=8).map(str.strip).filter(bool)


@st.composite
def tables(draw):
    n_cols = draw(st.integers(2, 5))
    n_rows = draw(st.integers(1, 12))
    names = draw(st.lists(_name, min_size=n_cols, max_size=n_cols, unique=True))
    kinds = draw(
        st.lists(
            st.sampled_from(["int", "float", "text", "date"]),
            min_size=n_cols,
            max_size=n_cols,
        )
    )
    columns = []
    for kind in kinds:
        if kind == "int":
            value = st.integers(-(10**6), 10**6).map(str)
        elif kind == "float":
            value = st.floats(-1e6, 1e6, allow_nan=False).map(repr)
        elif kind == "text":
            value = _word
        else:
            start = datetime(2020, 1, 1)
            value = st.integers(0, 2000 * 24).map(
                lambda h, s=start: str(s + timedelta(hours=h))
            )
        cells = draw(
            st.lists(st.one_of(value, st.just("")), min_size=n_rows, max_size=n_rows)
        )
        columns.append(cells)
    rows = [list(r) for r in zip(*columns, strict=True)]
    return names, kinds, rows


def _field(value: str, delim: str, quote: bool) -> str:
    if quote or delim in value or '"' in value or (delim != "," and "," in value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _write(rows, delim, draw_pad=None, quote=None) -> str:
    lines = []
    for i, row in enumerate(rows):
        cells = []
        for j, value in enumerate(row):
            cell = _field(value, delim, bool(quote and quote(i, j) and value))
            if draw_pad is not None:
                left, right = draw_pad(i, j)
                cell = " " * left + cell + " " * right
            cells.append(cell)
        lines.append(delim.join(cells))
    return "\n".join(lines) + "\n"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(table=tables(), delim=st.sampled_from(DELIMS), data=st.data())
def test_padded_csv_registers_like_the_plain_one(project, tmp_path, table, delim, data):
    names, kinds, rows = table
    grid = [names, *rows]
    pads = data.draw(
        st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
            min_size=len(grid) * len(names),
            max_size=len(grid) * len(names),
        )
    )
    pads[0] = (2, 1)  # the first header is always padded
    quotes = data.draw(st.lists(st.booleans(), min_size=len(pads), max_size=len(pads)))
    width = len(names)
    k = next(_counter)
    plain = tmp_path / f"plain{k}.csv"
    padded = tmp_path / f"padded{k}.csv"
    plain.write_text(_write(grid, ","), encoding="utf-8")
    padded.write_text(
        _write(
            grid,
            delim,
            lambda i, j: pads[i * width + j],
            lambda i, j: quotes[i * width + j],
        ),
        encoding="utf-8",
    )
    want = project.data(f"plain{k}", plain)
    got = project.data(f"padded{k}", padded)
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert list(got.frame.columns) == names
    got_kinds = {c.name: c.kind for c in got.schema.columns}
    assert got_kinds == {c.name: c.kind for c in want.schema.columns}
    for name, kind in zip(names, kinds, strict=True):
        col = got.frame[name]
        if col.isna().all():
            continue
        if kind == "date":
            assert got_kinds[name] == "datetime"
            assert pd.api.types.is_datetime64_any_dtype(col.dtype)
        elif kind in ("int", "float"):
            assert got_kinds[name] == "numeric"
            assert pd.api.types.is_numeric_dtype(col.dtype)
        else:
            assert got_kinds[name] in ("categorical", "text", "id")
    # check() says which headers were stripped; the plain file has no such note
    notes = got.check().by_check("whitespace stripped")
    assert names[0] in {f["column"] for f in notes}
    assert all(f["severity"] == "info" for f in notes)
    assert want.check().by_check("whitespace stripped") == []


@pytest.mark.parametrize("delim", DELIMS)
def test_sniffing_ignores_the_delimiter_inside_values(delim):
    # decimal commas in a semicolon file, commas in quoted text, pipes in text
    header = delim.join(["city", "price", "note"])
    body = [
        delim.join(["Lyon", "1,5", '"a, b; c | d"']),
        delim.join(["Nice", "2,25", "plain"]),
    ]
    assert sniff_delimiter("\n".join([header, *body])) == delim


def test_a_single_column_file_reads_as_one_column(project, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("name\n alice \n bob\n", encoding="utf-8")
    asset = project.data("one", path)
    assert list(asset.frame["name"]) == ["alice", "bob"]
    assert [f["column"] for f in asset.check().by_check("whitespace stripped")] == [
        "name"
    ]
    # the note belongs to the version read from the file, not to versions made from it
    derived = asset.transform(lambda df: df.assign(n=1), note="add n")
    assert derived.check().by_check("whitespace stripped") == []


def test_headers_that_collide_once_stripped_are_refused(project, tmp_path):
    path = tmp_path / "dupe.csv"
    path.write_text("a ,a, b\n1,2, x\n", encoding="utf-8")
    with pytest.raises(errors.SchemaError, match="'a'"):
        project.data("dupe", path)
    assert len(project.assets()) == 0  # nothing was stored


# -- honest datetimes ---------------------------------------------------------------
_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fmt=st.sampled_from(_FORMATS),
    hours=st.lists(st.integers(0, 24 * 3000), min_size=3, max_size=30),
    missing=st.lists(st.booleans(), min_size=31, max_size=31),
)
def test_date_strings_become_datetimes_at_registration(project, fmt, hours, missing):
    stamps = [datetime(2019, 1, 1) + timedelta(hours=h) for h in hours]
    if fmt == "%d/%m/%Y":
        stamps.append(datetime(2020, 1, 31))  # a day > 12 settles the order
    text = [s.strftime(fmt) for s in stamps]
    settles = len(text) - 1 if fmt == "%d/%m/%Y" else None  # never blank that day
    text = [
        None if missing[i] and i and i != settles else t for i, t in enumerate(text)
    ]
    frame = pd.DataFrame({"when": text, "x": np.arange(len(text), dtype=float)})
    asset = project.data(f"d{next(_counter)}", frame)
    assert asset.schema.kind("when") == "datetime"
    col = asset.frame["when"]
    assert pd.api.types.is_datetime64_any_dtype(col.dtype)
    expected = pd.Series(
        [None if t is None else pd.Timestamp(datetime.strptime(t, fmt)) for t in text]
    )
    assert (col.isna().to_numpy() == expected.isna().to_numpy()).all()
    assert list(col.dropna()) == list(expected.dropna())


@pytest.mark.parametrize(
    "bad", ["unknown", "2024-13-45", "31/31/2020", "next week", "2024-02-30"]
)
def test_date_like_text_that_does_not_parse_is_text_not_datetime(project, bad):
    text = [f"2024-01-{d:02d}" for d in range(1, 29)] * 2 + [bad]
    asset = project.data("d", pd.DataFrame({"when": text, "x": range(len(text))}))
    assert asset.schema.kind("when") == "text"
    assert asset.frame["when"].iloc[-1] == bad  # nothing was coerced away


def test_declaring_unparseable_text_a_datetime_is_refused(project):
    frame = pd.DataFrame({"when": ["2024-01-01", "soon"] * 20, "x": range(40)})
    with pytest.raises(errors.SchemaError, match="'when'"):
        project.data("d", frame, kinds={"when": "datetime"})
    ok = project.data("d", frame.iloc[::2], kinds={"when": "datetime"})
    assert pd.api.types.is_datetime64_any_dtype(ok.frame["when"].dtype)
