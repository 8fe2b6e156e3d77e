"""The store's query functions (``mlops_nb/store/_q_*.py``) on a real SQLite project.

They return plain dicts, lists and numbers (never a driver's row type), bind every
value as a parameter, insert exactly a table's columns, and keep the first of two
reports of one kind (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import StoreError
from mlops_nb.store import _q_assets as qa
from mlops_nb.store import _q_documents as qd
from mlops_nb.store import _q_models as qm
from mlops_nb.store import _q_reports as qr
from mlops_nb.store._db import now

_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# names with the characters LIKE, quotes and substr() could trip on
_names = st.text(alphabet="ab_%'\"-.", min_size=1, max_size=12).filter(
    lambda s: s.strip(".") and not s.startswith("-")
)


def _model_row(name: str, version: int) -> dict[str, object]:
    return {
        "name": name,
        "version": version,
        "stage": "candidate",
        "flavor": "test",
        "artifacts": "{}",
        "recipe": json.dumps({"estimator": "none", "task": "binary"}),
        "metrics": "{}",
        "lineage": json.dumps({"data": []}),
        "environment": "{}",
        "created_at": now(),
        "created_by": "tester",
    }


def _no_driver_rows(value: object) -> None:
    assert not isinstance(value, sqlite3.Row)
    if isinstance(value, list):
        for item in value:
            _no_driver_rows(item)
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)


def test_asset_reads_return_plain_values(project, tiny_frame):
    project.data("tiny", tiny_frame)
    project.data("tiny", tiny_frame.head(100))
    store = project._store
    results = [
        qa.latest_asset(store, "tiny"),
        qa.asset_at(store, "tiny", 1),
        qa.asset_names(store),
        qa.asset_version_numbers(store, "tiny"),
        qa.asset_summaries(store),
        qa.asset_history(store, "tiny"),
        qa.asset_parents(store, "tiny", 2),
        qa.all_asset_parents(store),
        qr.audit_entries(store),
    ]
    for value in results:
        _no_driver_rows(value)
    assert qa.latest_asset(store, "tiny")["version"] == 2
    assert qa.asset_version_numbers(store, "tiny") == [1, 2]
    assert json.loads(qa.asset_parents(store, "tiny", 2)["parents"]) == [["tiny", 1]]
    assert qa.latest_asset(store, "nope") is None
    assert set(qr.audit_entries(store)[0]) == {
        "id", "at", "user", "action", "object", "detail"
    }  # fmt: skip
    assert qr.audit_count(store) == len(qr.audit_entries(store))


@_SETTINGS
@given(
    n=st.integers(min_value=0, max_value=6),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=8)),
)
def test_audit_entries_newest_first_and_limited(tmp_path_factory, n, limit):
    project = mnb.Project.open(tmp_path_factory.mktemp("p") / "proj")
    store = project._store
    before = qr.audit_count(store)
    with store.write() as conn:
        for i in range(n):
            store.audit(conn, "test", f"obj:{i}")
    total = before + n
    rows = qr.audit_entries(store, limit)
    assert len(rows) == (min(total, limit) if limit else total)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True)
    assert qr.audit_count(store) == total


@_SETTINGS
@given(
    drop=st.sets(st.sampled_from(qm.MODEL_COLUMNS), max_size=2),
    extra=st.sets(st.sampled_from(["id", "schema", "x; DROP TABLE t"]), max_size=2),
)
def test_an_insert_needs_exactly_the_tables_columns(project, drop, extra):
    store = project._store
    row = {k: v for k, v in _model_row("m", 1).items() if k not in drop}
    row.update(dict.fromkeys(extra, "1"))
    if not drop and not extra:
        return  # the valid row: covered by the stage test below
    with pytest.raises(StoreError, match="exactly the columns"), store.write() as conn:
        qm.insert_model_version(conn, row)
    assert qm.model_names(store) == []


@_SETTINGS
@given(name=_names)
def test_stages_history_and_thresholds(tmp_path_factory, name):
    project = mnb.Project.open(tmp_path_factory.mktemp("p") / "proj")
    store = project._store
    with store.write() as conn:
        for _ in range(2):
            version = qm.next_model_version(conn, name)
            qm.insert_model_version(conn, _model_row(name, version))
    one, two = (qm.find_model(store, name, v) for v in (1, 2))
    assert qm.find_model(store, name)["version"] == 2
    with store.write() as conn:
        qm.set_stage(conn, one["id"], "candidate", "production", "r1", now(), "amy")
    assert qm.newest_version_at_stage(store, name, "production") == 1
    with store.write() as conn:
        others = qm.other_production_versions(conn, name, two["id"])
        assert [o["version"] for o in others] == [1]
        qm.set_stage(conn, one["id"], "production", "archived", "r2", now(), "bob")
        qm.set_stage(conn, two["id"], "candidate", "production", "r2", now(), "bob")
        qm.insert_threshold(conn, two["id"], 0.25, '"1"', "why", now(), "cy")
    assert qm.replaced_production_version(store, name, two["id"]) == 1
    history = qm.stage_changes(store, name)
    assert [(h["version"], h["to_stage"], h["by"]) for h in history] == [
        (1, "production", "amy"),
        (1, "archived", "bob"),
        (2, "production", "bob"),
    ]
    threshold = qm.latest_threshold(store, two["id"])
    assert (threshold["threshold"], threshold["by"]) == (0.25, "cy")
    assert qm.latest_threshold(store, one["id"]) is None
    assert qm.model_names(store) == [name]
    assert qm.model_version_numbers(store, name) == [1, 2]
    for value in (history, threshold, qm.all_model_versions(store)):
        _no_driver_rows(value)


@_SETTINGS
@given(
    payloads=st.lists(
        st.dictionaries(st.sampled_from("abc"), st.integers()), min_size=2, max_size=4
    ),
    kind=_names,
)
def test_a_report_kept_once_keeps_the_first(tmp_path_factory, payloads, kind):
    project = mnb.Project.open(tmp_path_factory.mktemp("p") / "proj")
    for payload in payloads:
        project._save_report("model", 7, kind, payload)
    assert project._report("model", 7, kind) == payloads[0]
    assert project._report("model", 8, kind) is None
    with project._store.write() as conn:
        qr.insert_report(conn, "model", 7, f"energy:{kind}", "{}", now())
    with pytest.raises(StoreError), project._store.write() as conn:
        qr.insert_report(conn, "model", 7, f"energy:{kind}", "{}", now())
    assert qr.energy_payloads(project._store) == ["{}"]


@_SETTINGS
@given(name=_names, other=_names)
def test_document_names_match_literally(tmp_path_factory, name, other):
    """``_``, ``%`` and quotes in names match themselves, never as patterns."""
    project = mnb.Project.open(tmp_path_factory.mktemp("p") / "proj")
    for n in dict.fromkeys([name, other]):
        project._save_document("sig", f"{n}@1", {"n": n})
    found = qd.payloads_with_name_prefix(project._store, "sig", f"{name}@")
    assert [json.loads(p)["n"] for p in found] == [name]
    prefixed = qd.document_names_with_prefix(project._store, "sig", name)
    assert f"{name}@1" in prefixed
    assert all(p.startswith(name) for p in prefixed)
    assert qd.document_names_in_order(project._store, "sig") == list(
        dict.fromkeys([f"{name}@1", f"{other}@1"])
    )
