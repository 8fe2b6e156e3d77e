"""Team-store tests: a real PostgreSQL and a real S3-protocol server (moto's
``ThreadedMotoServer`` on 127.0.0.1, reached over HTTP through s3fs, the way s3fs,
pandas and dask test their S3 code).

``pg_server``, ``pg_url``, ``s3_server``, ``s3_bucket`` and ``team_url`` come from
``tests/_team_fixtures.py`` (a plugin loaded by ``tests/conftest.py``, so the whole
suite can run on a team store with ``MLOPS_NB_TEST_STORE=postgresql``).
"""

from __future__ import annotations

import pytest

__all__ = ["any_project"]


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
