"""A real PostgreSQL server for tests: ``MLOPS_NB_TEST_PG_URL``, else a throw-away one.

Import the fixtures into a ``conftest.py`` (``from store.conftest_pg import ...``):

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

There is no skip: without PostgreSQL the fixture fails and says what to install.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

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
    url = os.environ.get(ENV_URL, "").strip()
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
