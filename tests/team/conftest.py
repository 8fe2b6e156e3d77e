"""Team-store tests: a real PostgreSQL (``tests/store/conftest_pg.py``) and a real
S3-protocol server (moto's ``ThreadedMotoServer`` on 127.0.0.1, reached over HTTP
through s3fs, the way s3fs, pandas and dask test their S3 code)."""

from __future__ import annotations

import logging
import secrets
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

_STORE_TESTS = str(Path(__file__).resolve().parent.parent / "store")
if _STORE_TESTS not in sys.path:
    sys.path.insert(0, _STORE_TESTS)

from conftest_pg import pg_server, pg_url  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["any_project", "pg_server", "pg_url", "s3_bucket", "s3_server", "team_url"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
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

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"arts-{secrets.token_hex(6)}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def team_url(pg_url, s3_bucket) -> tuple[str, str]:
    """An upgraded team database (fresh schema) and a fresh S3 prefix for its files."""
    from mlops_nb.store._migrate import upgrade

    upgrade(pg_url)
    return pg_url, f"s3://{s3_bucket}/proj"


@pytest.fixture(params=["embedded", "team"])
def any_project(request, tmp_path):
    """A new project on each back end: a folder, and PostgreSQL + S3 (moto)."""
    import mlops_nb as mnb

    if request.param == "embedded":
        yield mnb.Project.open(tmp_path / "proj")
        return
    url, artifacts = request.getfixturevalue("team_url")
    proj = mnb.Project.open(url, artifacts=artifacts)
    yield proj
    proj._store.close()  # pooled connections would keep the schema from dropping
