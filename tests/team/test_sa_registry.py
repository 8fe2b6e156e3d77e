"""SARegistry: the embedded registry's surface on SQLAlchemy, on a real PostgreSQL
(and on SQLite through the same code): the schema check on open, all-or-nothing
writes, sqlite3-style statements, the audit chain, read-only, masked messages."""

from __future__ import annotations

import itertools
import socket
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.errors import IntegrityError, StoreError
from mlops_nb.store._migrate import upgrade
from mlops_nb.store._sa_registry import SARegistry, statement
from mlops_nb.store._team import VERSION_TABLE, parse_url

_FEW = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# text PostgreSQL stores (no NUL), with the characters that break naive placeholders
_TEXT = st.text(
    alphabet=st.sampled_from("?'\":;%$ab\\é\n")
    | st.characters(blacklist_characters="\x00"),
    max_size=20,
)


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request, tmp_path):
    """An upgraded store on each back end."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture
def reg(store_url):
    registry = SARegistry(store_url)
    yield registry
    registry.close()


def _with_password(url: str, password: str) -> str:
    base, _, query = url.partition("?")
    user, _, host = base.split("://", 1)[1].partition("@")
    return f"postgresql://{user}:{quote(password, safe='')}@{host}?{query}"


def _set_revision(pg_url, revision):
    engine = sa.create_engine(pg_url.split("?")[0], poolclass=sa.pool.NullPool)
    schema = parse_url(pg_url).schema
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"UPDATE \"{schema}\".{VERSION_TABLE} SET version_num = '{revision}'"
            )
    finally:
        engine.dispose()


@_FEW
@given(password=st.text(alphabet="abcXYZ019!@#%^&*()/?:+ =", min_size=6, max_size=16))
@pytest.mark.parametrize("state", ["empty", "older", "newer"])
def test_open_refuses_a_database_it_cannot_use_and_masks_the_password(
    pg_url, state, password
):
    if state != "empty":
        upgrade(pg_url)
        _set_revision(pg_url, "0001" if state == "older" else "9999")
    url = _with_password(pg_url, password)
    with pytest.raises(StoreError) as refused:
        SARegistry(url)
    message = str(refused.value)
    for spelling in {password, quote(password, safe=""), quote(password)}:
        assert spelling not in message
    if state == "newer":
        assert "upgraded by a newer mlops_nb (revision 9999)" in message
    else:
        shown = parse_url(url).text
        assert ":***@" in shown
        assert f"mlops-nb db upgrade '{shown}'" in message
    if state != "empty":
        _set_revision(pg_url, "0003")
        SARegistry(pg_url).close()  # the check changed nothing; it opens again


@_FEW
@given(password=st.text(alphabet="abcXYZ019!@#%^&*()/?:+ =", min_size=6, max_size=16))
def test_an_unreachable_server_is_a_store_error_without_the_password(password):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ml:{quote(password, safe='')}@127.0.0.1:{port}/db?schema=x"
    with pytest.raises(StoreError) as refused:
        SARegistry(url)
    message = str(refused.value)
    assert "127.0.0.1" in message
    assert refused.value.__cause__ is None  # the driver's error would quote the URL
    for spelling in {password, quote(password, safe="")}:
        assert spelling not in message


def _write_then(reg, digests, fail=None):
    """Audit and add artifact rows in one write; raise ``fail`` at the end."""
    with reg.write() as conn:
        reg.audit(conn, "write", "x")
        for digest in digests:
            conn.execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?)", (digest, 1, "m", "t")
            )
        if fail is not None:
            raise fail


def _nested_write(reg):
    with reg.write(), reg.write():
        pass


def test_a_write_commits_together_or_not_at_all(reg):
    with pytest.raises(ZeroDivisionError):
        _write_then(reg, ["d1"], ZeroDivisionError())
    with pytest.raises(StoreError, match="could not write to") as failed:
        _write_then(reg, ["d2", "d2"])  # the second row breaks the primary key
    assert str(failed.value).endswith("; nothing was changed.")
    assert reg.query("SELECT count(*) FROM artifacts")[0][0] == 0
    assert reg.query("SELECT count(*) FROM audit_log")[0][0] == 0
    with reg.write() as conn:  # the registry still works
        reg.audit(conn, "third", "x")
    assert [r["action"] for r in reg.query("SELECT action FROM audit_log")] == ["third"]
    assert reg.audit_chain_problems() == []


def test_a_read_inside_a_write_sees_the_writes_own_changes(reg):
    with reg.write() as conn:
        conn.execute("INSERT INTO artifacts VALUES (?, ?, ?, ?)", ("d", 7, "m", "t"))
        rows = reg.query("SELECT digest, size FROM artifacts WHERE digest = ?", ("d",))
        assert [dict(r) for r in rows] == [{"digest": "d", "size": 7}]
    with pytest.raises(StoreError, match="already open in this thread"):
        _nested_write(reg)
    assert reg.schema_version() == 3


@_FEW
@given(values=st.lists(_TEXT, min_size=1, max_size=4))
def test_sqlite3_style_statements_bind_every_value_exactly(reg, values):
    marks = ", ".join(f"? AS v{i}" for i in range(len(values)))
    sql = (
        f"SELECT '?' AS lit, 'it''s ?' AS q, 'x:y' AS c, {marks} FROM schema_migrations"
    )
    row = reg.query(sql, tuple(values))[-1]
    assert row["lit"] == "?"
    assert row["q"] == "it's ?"
    assert [row[f"v{i}"] for i in range(len(values))] == values
    assert list(row)[3:] == values
    literals = {"lit": "?", "q": "it's ?", "c": "x:y"}
    assert dict(row) == {**literals, **{f"v{i}": v for i, v in enumerate(values)}}
    with pytest.raises(StoreError, match=f"{len(values)} '\\?' placeholders but"):
        statement(sql, (*values, "extra"))
    named = reg.query("SELECT :a AS a, ':b' AS b", {"a": values[0]})[0]
    assert (named["a"], named["b"]) == (values[0], ":b")


@pytest.mark.parametrize("tampered", [1, 3, 5])
def test_the_chain_check_names_exactly_the_tampered_entry(pg_url, tampered):
    upgrade(pg_url)
    reg = SARegistry(pg_url)
    try:
        for n in range(5):
            with reg.write() as conn:
                reg.audit(conn, "register", f"asset:a@{n + 1}", n=n)
        assert reg.audit_chain_problems() == []
        ids = [r[0] for r in reg.query("SELECT id FROM audit_log ORDER BY id")]
        with reg.write() as conn:  # the owner, triggers disabled, forges one detail
            conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            conn.execute(
                "UPDATE audit_log SET detail = ? WHERE id = ?",
                ('{"n": 99}', ids[tampered - 1]),
            )
            conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        assert reg.audit_chain_problems() == [
            f"audit log entry {ids[tampered - 1]} does not chain to the one before"
        ]
    finally:
        reg.close()


def test_a_read_only_registry_refuses_writes_and_the_server_does_too(pg_url):
    upgrade(pg_url)
    reg = SARegistry(pg_url, read_only=True)
    try:
        with pytest.raises(StoreError, match="open read-only"):
            _nested_write(reg)
        with pytest.raises(StoreError, match="read-only transaction"):
            reg.query(
                "INSERT INTO artifacts VALUES ('d', 1, 'm', 't') RETURNING digest"
            )
        assert reg.query("SELECT count(*) FROM artifacts")[0][0] == 0
    finally:
        reg.close()


def test_json_columns_are_checked_as_the_embedded_store_checks_them(reg):
    with reg.write() as conn:
        conn.execute(
            "INSERT INTO reports(owner_kind, owner_id, kind, payload, created_at) "
            "VALUES ('model', 1, 'card', ?, 't'), ('model', 2, 'card', ?, 't')",
            ('{"ok": 1}', "not json"),
        )
    with pytest.raises(IntegrityError, match=r"reports\.payload in the row with id=2"):
        reg.query("SELECT id, payload FROM reports ORDER BY id")
    with reg.lenient_payloads() as found:
        rows = reg.query("SELECT id, payload FROM reports ORDER BY id")
    assert [r["payload"] for r in rows] == ['{"ok": 1}', "null"]
    assert len(found) == 1
    assert "id=2" in found[0]


def test_core_statements_run_in_the_projects_schema(pg_url, pg_server):
    from mlops_nb.store._tables import artifacts

    upgrade(pg_url)
    reg = SARegistry(pg_url)
    try:
        with reg.write() as conn:
            conn.execute(
                artifacts.insert().values(
                    digest="d", size=1, media_type="m", created_at="t"
                )
            )
        assert reg.query(sa.select(artifacts.c.digest))[0]["digest"] == "d"
    finally:
        reg.close()
    engine = sa.create_engine(pg_server, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            schema = parse_url(pg_url).schema
            rows = conn.exec_driver_sql(
                f'SELECT digest FROM "{schema}".artifacts'
            ).all()
            assert rows == [("d",)]
    finally:
        engine.dispose()


@_FEW
@given(detail=st.dictionaries(st.sampled_from(["n", "note", "é?:"]), _TEXT, max_size=3))
def test_an_embedded_registrys_audit_log_verifies_and_continues_through_sqlalchemy(
    tmp_path_factory, detail
):
    from mlops_nb.store._db import Registry

    path = tmp_path_factory.mktemp("embedded") / "registry.sqlite"
    embedded = Registry(path)
    try:
        for n in range(3):
            with embedded.write() as conn:
                embedded.audit(conn, "register", f"asset:a@{n + 1}", **detail)
    finally:
        embedded.close()
    reg = SARegistry(f"sqlite:///{path}")  # adopted as revision 0003, not migrated
    try:
        assert (reg.revision, reg.schema_version()) == ("0003", 3)
        assert reg.audit_chain_problems() == []  # hashed the same way on both
        with reg.write() as conn:
            reg.audit(conn, "promote", "model:m@1", **detail)
        assert reg.audit_chain_problems() == []
        rows = reg.query("SELECT prev_hash, hash FROM audit_log ORDER BY id")
        assert len(rows) == 4
        assert all(a["hash"] == b["prev_hash"] for a, b in itertools.pairwise(rows))
    finally:
        reg.close()
