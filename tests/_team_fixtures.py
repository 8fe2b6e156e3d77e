"""A real PostgreSQL and a real S3-protocol server for tests (a pytest plugin).

Loaded by ``tests/conftest.py`` (``pytest_plugins``), so every test folder can use:

pg_server (session)
    A base SQLAlchemy URL (``postgresql+psycopg://user@host:port/db``). When the
    environment variable ``MLOPS_NB_TEST_PG_URL`` is set, that server is used as it is.
    Otherwise a cluster is made with Debian's ``initdb`` in a temporary folder and
    started with ``postgres`` on 127.0.0.1 and a free port, as the ``postgres`` user
    when this process is root (``pg_ctl``/``postgres`` refuse to run as root); it is
    stopped with SIGINT (a fast shutdown: SIGTERM would wait for every pooled client)
    and removed at the end of the session.
pg_url (function)
    ``pg_server`` plus ``?schema=t_<random>``: a fresh schema per test, dropped
    afterwards (with ``CASCADE``), so tests never see each other's tables.
schema_pool (session)
    Upgraded schemas for :func:`open_test_project`, emptied and reused between
    tests (``tests/_schema_pool.py``): a new one only when none is free.
s3_server (session)
    moto's ``ThreadedMotoServer`` on a free loopback port (reached over HTTP through
    s3fs, the way s3fs, pandas and dask test their S3 code); yields its endpoint URL.
s3_bucket (function)
    A fresh bucket; the AWS credentials and endpoint are set in this test's
    environment only.
team_url (function)
    ``(database URL, artifacts URL)``: ``pg_url`` upgraded with
    :func:`mlops_nb.store._migrate.upgrade` and a prefix in ``s3_bucket``.

There is no skip: without PostgreSQL the fixture fails and says what to install.

``MLOPS_NB_TEST_STORE=postgresql`` (or a full ``postgresql://`` URL, used as
``MLOPS_NB_TEST_PG_URL``) makes the shared ``project`` fixture of ``tests/conftest.py``
a team project on these servers (see :func:`team_store_requested`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_URL = "MLOPS_NB_TEST_PG_URL"
_HOW_TO_GET_ONE = (
    "install PostgreSQL's server binaries (Debian/Ubuntu: `apt-get install -y "
    "postgresql`; they land in /usr/lib/postgresql/<major>/bin), or point the tests "
    f"at a running server: {ENV_URL}=postgresql+psycopg://user@127.0.0.1:5432/db"
)


def _pg_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return found[-1].parent
    for name in ("initdb", "pg_ctl"):
        path = shutil.which(name)
        if path:
            return Path(path).parent
    pytest.fail(f"no PostgreSQL server binaries (initdb) found: {_HOW_TO_GET_ONE}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> dict[str, object]:
    """``subprocess`` keywords that drop root to the ``postgres`` user (or none)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "the tests run as root and PostgreSQL refuses to: there is no 'postgres' "
            f"user to run it as; {_HOW_TO_GET_ONE}"
        )
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _tail(path: Path, n: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return ""


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a PostgreSQL cluster in a temporary folder; yield its base URL."""
    bindir = _pg_bin()
    as_user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="mlops_nb_pg_"))
    if as_user:
        os.chown(folder, as_user["user"], as_user["group"])  # type: ignore[arg-type]
    data, log = folder / "data", folder / "server.log"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    init = subprocess.run(
        [bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        check=False,
        **as_user,  # type: ignore[arg-type]
    )
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *(bindir / "postgres", "-D", data, "-p", str(port), "-k", folder),
                *("-h", "127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
            **as_user,  # type: ignore[arg-type]
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [bindir / "pg_isready", "-h", "127.0.0.1", "-p", str(port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start on port {port}:\n{_tail(log)}")
            time.sleep(0.1)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url = os.environ.get(ENV_URL, "").strip() or _store_server_url()
    if url:
        if url.startswith("postgresql://"):  # psycopg 3, not SQLAlchemy's psycopg2
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        yield url
        return
    with throwaway_cluster() as base:
        yield base


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"t_{secrets.token_hex(6)}"
    yield f"{pg_server}{'&' if '?' in pg_server else '?'}schema={schema}"
    engine = sa.create_engine(pg_server, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


#: ``postgresql`` (or a server URL): run the shared ``project`` fixture on a team store.
ENV_STORE = "MLOPS_NB_TEST_STORE"


def team_store_requested() -> bool:
    """Whether ``MLOPS_NB_TEST_STORE`` asks for the team store (PostgreSQL + S3)."""
    value = os.environ.get(ENV_STORE, "").strip().lower()
    if not value or value in ("embedded", "sqlite", "folder"):
        return False
    if value == "postgresql" or value.startswith(("postgresql://", "postgresql+")):
        return True
    msg = (
        f"{ENV_STORE}={value!r}: use 'postgresql' (a throw-away cluster, or "
        f"{ENV_URL}), a postgresql:// server URL, or leave it unset for folders"
    )
    raise pytest.UsageError(msg)


#: fixtures that put a test on the store under test (``project`` and every fixture
#: built with :func:`open_test_project` request ``team_store``), or on the servers
STORE_FIXTURES = frozenset({"team_store", "pg_server", "s3_server"})


def pytest_collection_modifyitems(config, items):
    """Under the team store, keep only the tests that run on it.

    Deselected: tests marked ``embedded_only`` (they read ``registry.sqlite``,
    ``audit.head``, the folder or its file modes, which a team project does not
    have), and tests that never reach the store under test (no ``team_store``,
    ``pg_server`` or ``s3_server`` among their fixtures: pure functions, or projects
    made in folders of their own), which would only repeat the embedded run.
    """
    if not team_store_requested():
        return
    kept, dropped = [], []
    for item in items:
        on_store = STORE_FIXTURES & set(getattr(item, "fixturenames", ()))
        off = item.get_closest_marker("embedded_only") or not on_store
        (dropped if off else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def team_store() -> bool:
    """Whether this run puts the shared ``project`` fixture on a team store.

    Fixtures that make projects with :func:`open_test_project` request it, which
    also keeps their tests in the team run (see ``pytest_collection_modifyitems``).
    """
    return team_store_requested()


@pytest.fixture(scope="session")
def schema_pool(pg_server) -> Iterator[Any]:
    """Upgraded schemas of ``pg_server``, emptied and reused between tests."""
    from _schema_pool import SchemaPool

    pool = SchemaPool(pg_server)
    try:
        yield pool
    finally:
        pool.close()


def _store_server_url() -> str:
    """The server URL given in ``MLOPS_NB_TEST_STORE`` itself ("" when just a name)."""
    value = os.environ.get(ENV_STORE, "").strip()
    return value if value.lower().startswith("postgresql") and "://" in value else ""


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Run moto's ``ThreadedMotoServer`` on a free loopback port; yield its endpoint.

    The same server as the ``s3_server`` fixture, usable outside pytest (the
    ``team`` benchmark starts one with it).
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yield its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch) -> str:
    """A fresh bucket; credentials and endpoint only in this test's environment."""
    import boto3

    _aws_env(monkeypatch, s3_server)
    bucket = f"arts-{secrets.token_hex(6)}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def team_url(pg_url, s3_bucket) -> tuple[str, str]:
    """An upgraded team database (fresh schema) and a fresh S3 prefix for its files."""
    from mlops_nb.store._migrate import upgrade

    upgrade(pg_url)
    return pg_url, f"s3://{s3_bucket}/proj"


def _aws_env(mp: pytest.MonkeyPatch, endpoint: str) -> None:
    mp.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        mp.delenv(name, raising=False)


@functools.cache
def _s3_client(endpoint: str) -> Any:
    """One boto3 client per S3 endpoint (making a client costs more than a bucket)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing-key-id",
        aws_secret_access_key="testing-secret-key",
        region_name="us-east-1",
    )


@contextlib.contextmanager
def open_test_project(request: pytest.FixtureRequest, folder: Path) -> Iterator[Any]:
    """Open a new project for a fixture of any scope, on the store this run tests.

    A folder ``folder / "proj"`` normally; under ``MLOPS_NB_TEST_STORE`` a team project
    on an upgraded schema of ``pg_server`` that holds no other test's rows
    (``schema_pool``) and a fresh bucket on ``s3_server`` (AWS variables set while
    the block runs). A fixture that uses it should request ``team_store``.
    """
    import mlops_nb as mnb

    if not team_store_requested():
        yield mnb.Project.open(folder / "proj")
        return
    pool = request.getfixturevalue("schema_pool")
    endpoint = request.getfixturevalue("s3_server")
    with pytest.MonkeyPatch.context() as mp:
        _aws_env(mp, endpoint)
        home = tempfile.mkdtemp(prefix="mnb")  # short: AF_UNIX paths in keys/ fit
        mp.setenv("MLOPS_NB_TEAM_HOME", home)
        bucket = f"arts-{secrets.token_hex(6)}"
        _s3_client(endpoint).create_bucket(Bucket=bucket)
        schema = pool.take()
        try:
            proj = mnb.Project.open(pool.url(schema), artifacts=f"s3://{bucket}/proj")
            try:
                yield proj
            finally:
                proj._store.close()
        finally:
            pool.give_back(schema)
            shutil.rmtree(home, ignore_errors=True)
