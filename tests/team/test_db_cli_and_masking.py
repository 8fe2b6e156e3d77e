"""``mlops-nb db upgrade|current URL`` and the password of a URL, masked everywhere.

Passwords are generated (every printable character, percent-encoded in the URL as a
user must write it) and must never appear, in any spelling, in the CLI's output, in
error messages, or in reprs.
"""

from __future__ import annotations

import contextlib
import io
import socket
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb import cli
from mlops_nb.errors import StoreError
from mlops_nb.store._db import SCHEMA_VERSION
from mlops_nb.store._migrate import upgrade
from mlops_nb.store._team import make_engine, parse_url
from mlops_nb.store._urls import mask_url, scrub

HEAD = f"{SCHEMA_VERSION:04d}"
# long enough that it cannot occur in a message by chance; any printable character
PASSWORDS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=10,
    max_size=24,
)
_FEW = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _with_password(url: str, password: str, user: str = "postgres") -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[1] if "@" in rest else rest
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def _spellings(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote_plus(password, safe="")}


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_hidden(text: str, password: str) -> None:
    for spelling in _spellings(password):
        assert spelling not in text


@settings(max_examples=60, deadline=None)
@given(
    password=PASSWORDS,
    user=st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z"),
    tail=st.sampled_from(["db.internal/mlops?schema=credit", "h:5432/x", "[::1]/d"]),
    scheme=st.sampled_from(["postgresql", "postgresql+psycopg", "sqlite", "s3"]),
)
def test_mask_url_hides_every_password(password, user, tail, scheme):
    url = f"{scheme}://{user}:{quote(password, safe='')}@{tail}"
    masked = mask_url(url)
    assert masked == f"{scheme}://{user}:***@{tail}"
    sentence = f"could not connect to {url} (twice: {url})"
    _assert_hidden(mask_url(sentence), password)
    # a driver quoting the decoded password anywhere is scrubbed too
    _assert_hidden(scrub(f"bad password {password!r} for {url}", url), password)
    assert (
        password not in repr(parse_url(url)) if scheme.startswith("postgres") else True
    )


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ml:s3cret@host/db", "postgresql://ml:***@host/db"),
        ("postgresql://ml:p@ss@host/db", "postgresql://ml:***@host/db"),  # raw "@"
        ("postgresql://ml:a/b?c@host/db", "postgresql://ml:***@host/db"),  # raw "/?"
        ("postgresql://ml@host/db?schema=x", "postgresql://ml@host/db?schema=x"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("sqlite:///tmp/r.sqlite", "sqlite:///tmp/r.sqlite"),
    ],
)
def test_mask_url_cases(url, masked):
    assert mask_url(url) == masked


@_FEW
@given(password=PASSWORDS)
def test_cli_upgrade_and_current_never_print_the_password(pg_url, password):
    # the throw-away server trusts every local connection: any password is accepted,
    # so the successful path prints the URL too
    url = _with_password(pg_url, password)
    code, out = _run("db", "current", url)
    assert code in (0, 1)
    code, up = _run("db", "upgrade", url)
    assert code == 0, up
    assert "postgres:***@127.0.0.1" in up
    assert f"to revision {HEAD}" in up or f"already at revision {HEAD}" in up
    code, now = _run("db", "current", url)
    assert (code, f"revision {HEAD} (current)") == (0, now.split(": ", 1)[1].strip())
    for text in (out, up, now):
        _assert_hidden(text, password)


@pytest.mark.parametrize("which", ["port", "database", "schema", "url", "scheme"])
@_FEW
@given(password=PASSWORDS)
def test_errors_never_show_the_password(pg_server, password, which):
    base = _with_password(pg_server, password)
    url = {
        "port": base.replace(
            base.split("@")[1].split("/")[0], f"127.0.0.1:{_closed_port()}"
        ),
        "database": base.rsplit("/", 1)[0] + "/no_such_db?schema=x",
        "schema": base + "?schema=Not-A-Schema",
        "url": base.replace("://", ":/", 1).replace("@", "@@:x:"),
        "scheme": base.replace("postgresql+psycopg", "post gres", 1),
    }[which]
    for command in ("upgrade", "current"):
        code, text = _run("db", command, url)
        assert code == 2, text
        assert text.startswith("mlops-nb: ")
        _assert_hidden(text, password)
    with pytest.raises(StoreError) as caught:
        upgrade(url)
    for shown in (str(caught.value), repr(caught.value), repr(caught.value.args)):
        _assert_hidden(shown, password)
    assert caught.value.__cause__ is None  # a chained driver error could quote it


def test_engine_and_parsed_url_reprs_hide_the_password():
    url = "postgresql://ml:Very-Secret-Pw@127.0.0.1:1/db?schema=credit"
    team = parse_url(url)
    engine = make_engine(team)
    try:
        for text in (repr(team), str(team), repr(engine), str(engine.url), team.text):
            assert "Very-Secret-Pw" not in text
        assert team.schema == "credit"
        assert team.url.drivername == "postgresql+psycopg"
        assert "schema" not in team.url.query
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u@h/db", "PostgreSQL or SQLite, not 'mysql'"),
        ("postgresql://u@h/db?schema=Credit", "schema 'Credit' is not a plain"),
        ("postgresql://u@h/db?schema=a;drop", "is not a plain lower-case name"),
        ("postgresql://u@h/db?schema=a&schema=b", "give \\?schema= once"),
        ("sqlite:///x.sqlite?schema=a", "has no schemas"),
        ("postgresql+psycopg2://u@h/db", "psycopg \\(3\\) driver"),
        ("not a url", "is not a database URL"),
    ],
)
def test_bad_urls_are_refused_with_what_to_write(url, match):
    with pytest.raises(StoreError, match=match):
        parse_url(url)


def test_cli_current_on_sqlite_says_what_to_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    code, text = _run("db", "current", url)
    assert code == 1
    assert "no mlops_nb schema yet: run mlops-nb db upgrade" in text
    assert _run("db", "upgrade", url) == (
        0,
        f"{url}: upgraded from empty to revision {HEAD}\n",
    )
    assert _run("db", "upgrade", url)[1].endswith(
        f"already at revision {HEAD}; nothing to do\n"
    )
