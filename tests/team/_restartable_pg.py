"""A PostgreSQL cluster of one test's own that can be stopped and started again.

The session's server (``pg_server``) is shared by every test, so a test that restarts
PostgreSQL gets its own cluster: ``initdb`` once in a temporary folder, then
:meth:`PgCluster.start` / :meth:`PgCluster.stop` on the same port (stop sends SIGINT,
a fast shutdown that cuts every client off, as an operator's ``pg_ctl -m fast``).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from _team_fixtures import _free_port, _pg_bin, _run_as, _tail


class PgCluster:
    """A throw-away cluster on 127.0.0.1 (started by :meth:`start`)."""

    def __init__(self) -> None:
        import os

        self.bindir = _pg_bin()
        self.as_user = _run_as()
        self.folder = Path(tempfile.mkdtemp(prefix="mlops_nb_pg_restart_"))
        if self.as_user:
            os.chown(self.folder, self.as_user["user"], self.as_user["group"])
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        self.port = _free_port()
        self.server: subprocess.Popen[bytes] | None = None
        init = subprocess.run(
            [self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres"],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            check=False,
            **self.as_user,
        )
        if init.returncode:
            self.remove()
            pytest.fail(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        with self.log.open("ab") as out:
            self.server = subprocess.Popen(
                [
                    *(self.bindir / "postgres", "-D", self.data, "-p", str(self.port)),
                    *("-k", self.folder, "-h", "127.0.0.1", "-c", "fsync=off"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.folder,
                **self.as_user,
            )
        deadline = time.monotonic() + 60
        ready = [self.bindir / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run([*ready, "-q"], check=False).returncode:
            if self.server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start:\n{_tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are cut off, the data stays."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
