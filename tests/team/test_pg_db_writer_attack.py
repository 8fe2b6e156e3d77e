"""Issue 16.2 security: what a holder of the app role's credentials can do.

Kernels connect as the role :func:`grant_app_role` makes, so anyone who reads a
kernel's connection URL holds it. Here that someone connects with plain SQLAlchemy
(no mlops_nb code) and tries to rewrite what is recorded: a model's artifact digest,
its signature, its stage history, the audit log; to drop or disable the log's
triggers; to give itself more rights. PostgreSQL refuses every statement that
changes a recorded row in place (generated for every column of every table). What
the role may do (append rows, set a stage) is what a kernel does, and mlops_nb
detects the forgeries: ``verify()`` names them and loading refuses them.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_pg_app_role import _owner, app_role

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.secure import _envelope
from mlops_nb.secure._keys import key_id, raw_public
from mlops_nb.store._db import _GENESIS, _chain_hash
from mlops_nb.store._pg_audit import APP_ROLE_UPDATES

__all__ = ["app_role"]


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x1 = rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "y": (x1 > 0).astype(int)})


@pytest.fixture
def attacked(app_role, team_url, tmp_path, monkeypatch):
    """A team project used by a kernel AS THE APP ROLE: two signed model versions,
    v1 in production. Yields (project, app-role engine, owner engine, role url)."""
    monkeypatch.setenv("MLOPS_NB_TEAM_HOME", str(tmp_path / "machine"))
    _role, url, _password = app_role
    _, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)  # everything below as the role
    data = proj.data("clf-data", _frame(), target="y")
    for trees in (3, 4):
        m = proj.train(
            "clf", data, estimator="lightgbm", params={"n_estimators": trees}
        )
        mnb.secure.sign_model(m)
    proj.model("clf", 1).promote("production", reason="first")
    assert proj.verify().ok, proj.verify().problems
    app, owner = _owner(url), _owner(team_url[0])
    yield proj, app, owner, url
    app.dispose()
    owner.dispose()
    proj._store.close()


def _snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY 1"
                )
            )
        ]
        return {
            t: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{t}"')), key=str)
            for t in tables
        }


def _columns(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() ORDER BY 1, 2"
                )
            )
        ]


def _refused(engine, statement: str) -> str:
    with engine.connect() as conn:
        with pytest.raises(sa.exc.ProgrammingError) as err:
            conn.exec_driver_sql(statement)
        conn.rollback()
    return str(err.value.orig)


def test_the_role_cannot_rewrite_any_recorded_row_or_the_triggers(attacked):
    proj, app, owner, _ = attacked
    before = _snapshot(owner)
    columns = _columns(owner)
    tables = sorted({t for t, _ in columns})
    assert {"audit_log", "model_versions", "documents", "model_stage_history"} <= set(
        tables
    )
    statements = []
    for table, column in columns:  # every column of every table, but two
        if (table, column) in APP_ROLE_UPDATES:
            continue
        statements.append(f'UPDATE "{table}" SET "{column}" = "{column}"')
    for table in tables:
        statements += [
            f'DELETE FROM "{table}"',
            f'TRUNCATE "{table}" CASCADE',
            f'ALTER TABLE "{table}" DISABLE TRIGGER ALL',
            f'DROP TABLE "{table}" CASCADE',
            f'CREATE TRIGGER evil BEFORE INSERT ON "{table}" FOR EACH ROW '
            "EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        ]
    with owner.connect() as conn:
        triggers = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = "
                    "t.tgrelid WHERE c.relname = 'audit_log' AND NOT t.tgisinternal "
                    "AND c.relnamespace = current_schema()::regnamespace"
                )
            )
        ]
        owner_name = conn.execute(sa.text("SELECT current_user")).scalar()
    assert triggers  # the append-only triggers are there to drop
    statements += [f'DROP TRIGGER "{t}" ON audit_log' for t in triggers]
    statements += [
        'INSERT INTO audit_log(id, at, "user", action, object, detail, prev_hash, '
        "hash) SELECT id, at, \"user\", 'forged', object, detail, prev_hash, hash "
        "FROM audit_log ON CONFLICT (id) DO UPDATE SET action = 'forged'",
        "CREATE TABLE evil(x int)",
        "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        f'SET ROLE "{owner_name}"',
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "ALTER ROLE CURRENT_USER BYPASSRLS",
    ]
    for statement in statements:
        message = _refused(app, statement)
        assert "permission denied" in message or "must be" in message, (
            statement,
            message,
        )
    assert _snapshot(owner) == before  # nothing changed
    report = proj.verify()
    assert report.ok, report.problems


def _append(engine, *, prev=None, good_hash=False, entry_id=None, action="promote"):
    """Append an audit row as the role, computing what it can compute."""
    with engine.begin() as conn:
        last = conn.exec_driver_sql(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
        ).one()
        entry = {
            "at": "2030-01-01T00:00:00+00:00",
            "user": "mallory",
            "action": action,
            "object": "model:clf v2",
            "detail": json.dumps({"to": "production"}, sort_keys=True),
        }
        previous = last.hash if prev is None else prev
        digest = (
            _chain_hash(previous, entry)
            if good_hash
            else hashlib.sha256(b"forged").hexdigest()
        )
        ident = last.id + 1000 if entry_id is None else entry_id
        conn.execute(
            sa.text(
                'INSERT INTO audit_log(id, at, "user", action, object, detail, '
                "prev_hash, hash) VALUES (:id, :at, :user, :action, :object, "
                ":detail, :prev, :hash)"
            ),
            {**entry, "id": ident, "prev": previous, "hash": digest},
        )
        return ident


@pytest.mark.parametrize(
    "forgery",
    ["wrong hash", "wrong previous hash", "genesis again", "inside the chain"],
)
def test_a_forged_audit_row_the_role_can_insert_breaks_the_chain(attacked, forgery):
    proj, app, _owner_engine, _ = attacked
    if forgery == "wrong hash":
        ident = _append(app)
    elif forgery == "wrong previous hash":
        ident = _append(app, prev="0" * 64, good_hash=True)
    elif forgery == "genesis again":
        ident = _append(app, prev=_GENESIS, good_hash=True)
    else:  # a well-formed entry slipped in before the newest one, by id
        with app.connect() as conn:
            ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM audit_log")]
        ident = _append(app, good_hash=True, entry_id=-1)
        assert ident < min(ids)
    report = proj.verify()
    assert not report.ok
    assert f"audit log entry {ident} does not chain" in json.dumps(report.problems)


@pytest.mark.parametrize("history", [False, True])
def test_a_stage_the_role_sets_in_the_database_is_not_served(attacked, history):
    proj, app, _, url = attacked
    with app.begin() as conn:  # the one column it may change, set by hand
        conn.exec_driver_sql(
            "UPDATE model_versions SET stage = 'production' WHERE version = 2"
        )
        conn.exec_driver_sql(
            "UPDATE model_versions SET stage = 'archived' WHERE version = 1"
        )
        if history:  # and the history rows it may append
            conn.exec_driver_sql(
                "INSERT INTO model_stage_history(model_id, from_stage, to_stage, "
                "reason, at, \"by\") SELECT id, 'candidate', 'production', 'trust "
                "me', '2030', 'mallory' FROM model_versions WHERE version = 2"
            )
    fresh = mnb.Project.open(url, artifacts=proj._store.artifacts_location)
    try:
        with pytest.raises(errors.IntegrityError, match="clf v2"):
            fresh.model("clf", stage="production")
        problems = fresh.verify().problems
        assert "set in the database" in problems["model:clf@2"]
    finally:
        fresh._store.close()


def test_a_signature_the_role_inserts_with_its_own_key_is_refused(attacked):
    proj, app, _, url = attacked
    evil = Ed25519PrivateKey.generate()
    victim = proj.model("clf", 2)
    envelope = _envelope.sign_manifest(
        mnb.secure.model_manifest(victim), key=evil, sequence=99
    )
    with app.begin() as conn:  # a newer signature and "the project key", appended
        for kind, name, payload in (
            (
                "signing-key",
                "project",
                {"public_key": raw_public(evil.public_key()).hex(),
                 "key_id": key_id(evil.public_key())},
            ),
            ("model-signature", "clf@2", envelope),
        ):  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO documents(kind, name, version, content_hash, "
                    "payload, note, created_at, created_by) VALUES (:k, :n, 99, "
                    ":h, :p, '', '2030', 'mallory')"
                ),
                {"k": kind, "n": name, "h": "f" * 64, "p": json.dumps(payload)},
            )
    fresh = mnb.Project.open(url, artifacts=proj._store.artifacts_location)
    try:
        with pytest.raises(errors.IntegrityError, match="clf v2"):
            fresh.model("clf", 2).predict(_frame(5).drop(columns="y"))
        assert "model:clf@2" in fresh.verify().problems
    finally:
        fresh._store.close()


def test_a_digest_rewritten_past_the_privileges_is_refused_on_load(attacked):
    """Even the tables' owner (or a role granted by an older mlops_nb, which could
    UPDATE every column) repointing a signed version's file is caught on load."""
    proj, app, owner, url = attacked
    v1, v2 = proj.model("clf", 1), proj.model("clf", 2)
    art, theirs = sorted(v1.artifacts.items())[0]
    message = _refused(
        app,
        "UPDATE model_versions SET artifacts = "
        f"jsonb_set(artifacts::jsonb, '{{{art}}}', '\"{theirs}\"')::text "
        "WHERE version = 2",
    )
    assert "permission denied" in message
    with owner.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE model_versions SET artifacts = "
            f"jsonb_set(artifacts::jsonb, '{{{art}}}', '\"{theirs}\"')::text "
            "WHERE version = 2"
        )
    assert v2.artifacts[art] != theirs
    fresh = mnb.Project.open(url, artifacts=proj._store.artifacts_location)
    try:
        with pytest.raises(errors.IntegrityError, match=f"clf v2.*{art}|{art}.*clf v2"):
            fresh.model("clf", 2).predict(_frame(5).drop(columns="y"))
        assert art in fresh.verify().problems["model:clf@2"]
    finally:
        fresh._store.close()
