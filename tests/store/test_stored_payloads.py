"""Issue 14 item 9: bad JSON put into the registry's columns by a database writer.

Every JSON column gets the class of bad values, written with raw sqlite3 (as an
attacker with SQL access would); reading the object back through the public API
must raise IntegrityError naming the table, column and row, never a bare
RecursionError, TypeError or KeyError, and ``verify()`` must list the row instead of
crashing.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import IntegrityError
from mlops_nb.store._payloads import COLUMNS, MAX_DEPTH


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    proj = mnb.Project.open(tmp_path_factory.mktemp("payloads") / "proj")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(200), "y": rng.integers(0, 2, 200)})
    train, test = proj.data("toy", frame, target="y").split(test=0.3, seed=0)
    model = proj.train("m", train, estimator="logistic")
    proj.canvas(
        process="p",
        value_level="optimize",
        outcomes={"tp": 1, "fp": -1, "fn": -1, "tn": 0},
    )
    model.evaluate(test)  # stores a report (after the canvas: its key names it)
    return proj


@pytest.fixture
def proj(template, tmp_path):
    return mnb.Project.open(template.backup(tmp_path / "copy"))


def _evaluate(p):
    return p.model("m").evaluate(p.asset("toy-test"))


# table -> (SQL choosing the row to spoil, the public calls that read it)
READERS = {
    "asset_versions": (
        "name = 'toy-train'",
        [lambda p: p.asset("toy-train"), lambda p: p.versions("toy-train")],
    ),
    "model_versions": ("name = 'm'", [lambda p: p.model("m")]),
    "reports": ("kind LIKE 'evaluation%'", [_evaluate]),
    "documents": ("kind = 'canvas'", [lambda p: p.canvas()]),
    "audit_log": ("id = 1", [lambda p: p.audit_log()]),
}

DEEP = 200_000
GENERIC_BAD = {
    "deep list": "[" * DEEP + "]" * DEEP,
    "deep object": '{"a":' * DEEP + "1" + "}" * DEEP,
    "deep but parseable": "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
    "not json": "{'single': quotes}",
    "empty": "",
    "truncated": '{"a": [1, 2',
    "number": "5",
    "string": '"text"',
    "null": "null",
    "boolean": "true",
    "bytes": b"\x80\x04\x95 not text",
}
SHAPE_BAD = {
    ("asset_versions", "schema"): [
        {"columns": 3},
        {"columns": [5]},
        {"columns": [{"name": "x", "kind": "numeric", "dtype": "f", "evil": 1}]},
        {"columns": [{"name": 1, "kind": "numeric", "dtype": "f"}]},
        {"columns": [], "sensitive": "SEX"},
    ],
    ("asset_versions", "parents"): [[["toy"]], [[1, 1]], ["toy v1"], [["toy", "1"]]],
    ("model_versions", "recipe"): [{"task": "binary"}, {"estimator": 5, "task": "b"}],
    ("model_versions", "lineage"): [{}, {"data": "toy"}, {"data": [1]}],
}


def _cases():
    for table, columns in COLUMNS.items():
        for column in columns:
            yield pytest.param(table, column, id=f"{table}.{column}")


def _spoil(path, table: str, column: str, value) -> int:
    where, _ = READERS[table]
    conn = sqlite3.connect(path / "registry.sqlite")
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")  # an attacker can
        row_id = conn.execute(f"SELECT id FROM {table} WHERE {where}").fetchone()[0]
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row_id))
        conn.commit()
    finally:
        conn.close()
    return row_id


def _original(path, table: str, column: str):
    where, _ = READERS[table]
    conn = sqlite3.connect(path / "registry.sqlite")
    try:
        return conn.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize(("table", "column"), list(_cases()))
def test_bad_json_in_every_column_raises_integrity_error(proj, table, column):
    path = proj.path
    good = _original(path, table, column)
    bad = dict(GENERIC_BAD)
    for i, value in enumerate(SHAPE_BAD.get((table, column), [])):
        bad[f"shape {i}"] = json.dumps(value)
    kinds, _ = COLUMNS[table][column]
    if list in kinds:  # "[]"/"{}" are fine where either is accepted
        bad.pop("deep list")
    for label, value in bad.items():
        row_id = _spoil(path, table, column, value)
        reader = mnb.Project.open(path)
        readers = list(READERS[table][1])
        if column in ("recipe", "lineage"):  # the columns the model list shows
            readers.append(lambda p: p.models())
        for read in readers:
            with pytest.raises(IntegrityError) as info:
                read(reader)
            text = str(info.value)
            assert f"{table}.{column}" in text, (label, text)
            # the row, by its id, its name and version, or the key that selected it
            named = any(k in text for k in (f"id={row_id}", "version=1", "'evaluation"))
            assert named, (label, text)
        if label in ("deep list", "number", "bytes"):  # verify lists, never raises
            report = reader.verify()
            assert not report.ok
            assert f"{table} row {row_id}" in report.problems, (label, report.problems)
        reader._store.db.close()
    _spoil(path, table, column, good)
    restored = mnb.Project.open(path)
    for read in READERS[table][1]:
        read(restored)  # the original value reads again
    assert restored.verify().problems.keys().isdisjoint({f"{table} row {row_id}"})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    column=st.sampled_from(["schema", "parents"]),
    value=_json,
    extra=st.dictionaries(
        st.sampled_from(["columns", "sensitive", "target"]), _json, max_size=2
    ),
)
def test_any_json_in_an_asset_row_reads_or_raises_integrity_error(
    template, proj, column, value, extra
):
    """Arbitrary JSON: the asset either loads or is refused with IntegrityError."""
    if column == "schema" and isinstance(value, dict):
        value = {**value, **extra}
    for other in ("schema", "parents"):  # undo the previous example
        good = _original(template.path, "asset_versions", other)
        _spoil(proj.path, "asset_versions", other, good)
    _spoil(proj.path, "asset_versions", column, json.dumps(value))
    reader = mnb.Project.open(proj.path)
    try:
        reader.asset("toy-train")
    except IntegrityError as err:
        message = str(err)
    else:
        message = "asset_versions." + column
    finally:
        reader._store.db.close()
    assert "asset_versions." + column in message
