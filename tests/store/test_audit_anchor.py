"""Issue 14.4: the audit log's hash chain is anchored outside the database.

The attacker here can write ``registry.sqlite`` with plain SQL (drop the append-only
triggers, delete or rewrite rows, recompute every hash), but not ``audit.head``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from mlops_nb._project import Project
from mlops_nb.store._anchor import ANCHOR_FILE, AuditAnchor

if TYPE_CHECKING:
    from pathlib import Path

GENESIS = "0" * 64


def chain_hash(prev: str, entry: dict[str, str]) -> str:
    """The chain's hash, as an attacker who read the source recomputes it."""
    return hashlib.sha256(
        json.dumps([prev, entry], sort_keys=True).encode()
    ).hexdigest()


def attacker(proj: Project) -> sqlite3.Connection:
    conn = sqlite3.connect(proj.path / "registry.sqlite", isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def rechain(conn: sqlite3.Connection) -> None:
    """Recompute every prev_hash and hash so the chain is internally consistent."""
    prev = GENESIS
    rows = conn.execute(
        "SELECT id, at, user, action, object, detail FROM audit_log ORDER BY id"
    ).fetchall()
    for rid, at, user, action, obj, detail in rows:
        entry = {
            "at": at,
            "user": user,
            "action": action,
            "object": obj,
            "detail": detail,
        }
        digest = chain_hash(prev, entry)
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
            (prev, digest, rid),
        )
        prev = digest


def frame(seed: int) -> pd.DataFrame:
    return pd.DataFrame({"x": [seed * 10 + i for i in range(5)], "y": [0, 1] * 2 + [0]})


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    p = Project.open(tmp_path / "p")
    for seed in range(6):
        p.data(f"a{seed}", frame(seed), note=f"entry {seed}")
    return p


def attack(proj: Project, kind: str, where: int) -> str:
    """Tamper with the log; return the word the report must contain."""
    conn = attacker(proj)
    ids = [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id")]
    if kind == "delete newest":
        for rid in ids[-where:]:
            conn.execute("DELETE FROM audit_log WHERE id = ?", (rid,))
        expected = "removed"
    elif kind == "delete all":
        conn.execute("DELETE FROM audit_log")
        expected = "removed"
    elif kind == "edit and rechain":
        conn.execute(
            "UPDATE audit_log SET detail = ?, user = 'mallory' WHERE id = ?",
            (json.dumps({"note": "nothing to see"}), ids[where % len(ids)]),
        )
        rechain(conn)
        expected = "rewritten"
    elif kind == "delete oldest and rechain":
        for rid in ids[:where]:
            conn.execute("DELETE FROM audit_log WHERE id = ?", (rid,))
        rechain(conn)
        expected = "rewritten"
    else:  # "replace newest": delete the newest, append a forged one, rechain
        conn.execute("DELETE FROM audit_log WHERE id = ?", (ids[-1],))
        conn.execute(
            "INSERT INTO audit_log(at, user, action, object, detail, prev_hash, hash) "
            "VALUES ('2020', 'mallory', 'noop', 'x', '{}', '', '')"
        )
        rechain(conn)
        expected = "rewritten"
    conn.close()
    return expected


ATTACKS = [
    ("delete newest", 1),
    ("delete newest", 3),
    ("delete all", 0),
    ("edit and rechain", 0),
    ("edit and rechain", 3),
    ("edit and rechain", -1),
    ("delete oldest and rechain", 1),
    ("delete oldest and rechain", 4),
    ("replace newest", 0),
]


def test_clean_project_verifies_and_anchor_names_its_head(proj):
    report = proj.verify()
    assert report.ok, report.problems
    anchor = json.loads((proj.path / ANCHOR_FILE).read_text())
    head = proj._store.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    assert (anchor["last_id"], anchor["head"]) == (head[0]["id"], head[0]["hash"])
    assert anchor["count"] == 6
    assert anchor["pending"] is None


@pytest.mark.parametrize(("kind", "where"), ATTACKS)
def test_truncated_or_rewritten_log_is_found(proj, kind, where):
    expected = attack(proj, kind, where)
    report = proj.verify()
    assert not report.ok
    # the attacker's chain is internally consistent: only the anchor gives it away
    assert not any("does not chain" in p for p in report.result.audit)
    assert any(expected in p for p in report.result.audit), report.result.audit
    assert "audit log" in report.problems


@pytest.mark.parametrize(("kind", "where"), ATTACKS[:5])
def test_a_later_write_does_not_hide_the_tampering(proj, kind, where):
    expected = attack(proj, kind, where)
    proj.data("after", frame(99))  # mlops_nb writes again on the tampered log
    proj.data("after-2", frame(98))
    audit = proj.verify().result.audit
    assert any("incident" in p and expected in p for p in audit), audit
    # and a backup taken now carries the incident with it
    backup = Project.open(proj.backup(proj.path.parent / "bk"))
    assert any(expected in p for p in backup.verify().result.audit)


def test_the_anchor_file_missing_is_reported(proj):
    (proj.path / ANCHOR_FILE).unlink()
    audit = proj.verify().result.audit
    assert any("missing" in p for p in audit)


def test_entries_appended_outside_mlops_nb_are_named(proj):
    conn = attacker(proj)
    last = conn.execute(
        "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"
    ).fetchone()
    entry = {
        "at": "2030",
        "user": "m",
        "action": "promote",
        "object": "x",
        "detail": "{}",
    }
    conn.execute(
        "INSERT INTO audit_log(at, user, action, object, detail, prev_hash, hash) "
        "VALUES (:at, :user, :action, :object, :detail, :p, :h)",
        {**entry, "p": last[0], "h": chain_hash(last[0], entry)},
    )
    conn.close()
    audit = proj.verify().result.audit
    assert any("added after the anchored head outside mlops_nb" in p for p in audit)


def test_a_crash_between_anchor_and_commit_is_not_an_incident(proj, monkeypatch):
    # the anchor names the new head, then the process dies before COMMIT
    db = proj._store.db
    before = json.loads((proj.path / ANCHOR_FILE).read_text())
    forged_after = {**before, "count": 7, "last_id": 7, "head": "f" * 64}
    AuditAnchor(proj.path).prepare(before, forged_after)
    assert proj.verify().ok
    # and a crash after COMMIT, before the anchor settles: the pending head is real
    monkeypatch.setattr(AuditAnchor, "settle", lambda *a, **k: None)
    proj.data("crash", frame(50))
    anchor = json.loads((proj.path / ANCHOR_FILE).read_text())
    assert anchor["pending"] is not None
    assert proj.verify().ok, proj.verify().result.audit
    monkeypatch.undo()
    proj.data("next", frame(51))  # the next write settles it
    assert json.loads((proj.path / ANCHOR_FILE).read_text())["pending"] is None
    assert db.audit_chain_problems() == []


def test_backup_anchors_its_snapshot(proj, tmp_path):
    copy = Project.open(proj.backup(tmp_path / "bk"))
    assert copy.verify().ok
    attack(copy, "delete newest", 2)
    assert any("removed" in p for p in copy.verify().result.audit)
    assert proj.verify().ok  # the source is untouched
