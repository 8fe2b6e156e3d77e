"""Faults on a team project (real PostgreSQL, moto's S3 server over HTTP; no mocks).

- a writer SIGKILLed at random moments never leaves a row without its blob;
- PostgreSQL restarted (fast shutdown) during a session: the next call reconnects,
  and while it is down every call raises a clear ``StoreError``; nothing is lost;
- the S3 connection cut at any byte of an upload (a TCP proxy that closes every
  connection and stops listening): a ``StoreError`` naming the artifacts URL, no
  row, nothing half-visible; once the server is back the same call succeeds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _proxy import CuttingProxy
from _restartable_pg import PgCluster
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import StoreError

_SECRETS = ("testing-key-id", "testing-secret-key")
_RUNS = itertools.count()


def _frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"seed": seed, "x": rng.normal(size=n), "k": np.arange(n)})


def _frame_hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame).values).hexdigest()


def _final_keys_are_whole(proj: mnb.Project) -> set[str]:
    """Every blob under the prefix hashes to its name; return the digests."""
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)  # straight to moto
    blobs = proj._store.artifacts
    found = set()
    for key in fs.find(blobs.root):
        name = key.rsplit("/", 1)[-1]
        if "/.tmp/" in key:
            continue
        assert hashlib.sha256(fs.cat_file(key)).hexdigest() == name, key
        found.add(name)
    return found


@pytest.mark.slow
def test_sigkill_during_writes_leaves_no_row_without_its_blob(team_url):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    worker = str(Path(__file__).with_name("_kill_worker.py"))
    rng = np.random.default_rng(16)
    acknowledged: dict[int, str] = {}
    waited = 0
    for seed in range(10):
        proc = subprocess.Popen(
            [sys.executable, worker, url, artifacts, str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        lines = [proc.stdout.readline() for _ in range(int(rng.integers(0, 3)))]
        waited += len(lines)
        time.sleep(rng.uniform(0.0, 0.3))  # the moment of the kill: inside a write
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err
        for line in [*lines, *out.splitlines()]:
            if line.strip().endswith("}"):  # the kill may cut the last line
                row = json.loads(line)
                acknowledged[row["version"]] = row["sha256"]
        checked = proj.verify()
        assert checked.ok, (seed, checked.problems, checked.result.audit)
    versions = sorted(proj.versions("k")["version"])
    assert len(acknowledged) >= waited
    assert versions == list(range(1, len(versions) + 1))  # killed writes left no gap
    assert set(acknowledged) <= set(versions)
    for version in versions:  # committed rows whose writer died before printing too
        frame = proj.asset("k", version).frame
        assert _frame_hash(frame) == acknowledged.get(version, _frame_hash(frame))
    before = proj.verify().result
    referenced = proj._store.referenced_blobs()
    assert proj.gc()["unreferenced_blobs"] == len(before.unreferenced)
    assert set(proj._store.artifacts.iter_digests()) == referenced
    after = proj.verify()
    assert after.ok
    assert after.result.checked == before.checked
    assert sorted(proj.versions("k")["version"]) == versions
    proj._store.close()


def test_postgresql_restarted_during_a_session(s3_bucket):
    from mlops_nb.store._migrate import upgrade

    cluster = PgCluster()
    cluster.start()
    try:
        url = cluster.url.replace("postgres@", "postgres:S3cr%40t-pw@") + "?schema=tm"
        upgrade(url)
        proj = mnb.Project.open(url, artifacts=f"s3://{s3_bucket}/pg")
        assert proj.data("d", _frame(0)).version == 1
        cluster.stop()  # the pooled connection dies with the server
        cluster.start()
        assert proj.data("d", _frame(1)).version == 2  # pre-ping: a new connection
        cluster.stop()
        for call in (lambda: proj.data("d", _frame(2)), lambda: proj.versions("d")):
            with pytest.raises(StoreError) as caught:
                call()
            text = str(caught.value)
            assert f"postgres:***@127.0.0.1:{cluster.port}/postgres" in text, text
            assert "S3cr" not in text
            assert "running" in text, text  # says what to check
        cluster.start()
        again = proj.data("d", _frame(2))
        assert again.version == 3
        assert sorted(proj.versions("d")["version"]) == [1, 2, 3]
        for version in (1, 2, 3):
            pd.testing.assert_frame_equal(
                proj.asset("d", version).frame, _frame(version - 1)
            )
        assert proj.verify().ok
        proj._store.close()
    finally:
        cluster.remove()


@pytest.fixture
def cut_project(team_url, s3_server):
    """A team project whose S3 traffic goes through a proxy on a fixed port."""
    url, artifacts = team_url
    moto_port = int(s3_server.rsplit(":", 1)[1])
    proxy = CuttingProxy(moto_port, cut_after=10**12)
    options = {
        "client_kwargs": {"endpoint_url": proxy.url},
        "config_kwargs": {"retries": {"max_attempts": 1}},  # fail fast in tests
    }
    proj = mnb.Project.open(url, artifacts=artifacts, storage_options=options)
    proj.data("d", _frame(0))
    sent = proxy.sent
    proj.data("d", _frame(1))  # what one new version sends upstream
    per_version = proxy.sent - sent
    proxy.close()
    yield proj, moto_port, proxy.port, per_version
    proj._store.close()


_FEW = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_FEW
@given(where=st.floats(0.0, 0.97), seed=st.integers(10, 10**6))
@example(where=0.0, seed=2)
@example(where=0.5, seed=3)
def test_s3_cut_mid_upload_writes_no_row_and_the_call_succeeds_after(
    cut_project, where, seed
):
    proj, moto_port, port, per_version = cut_project
    versions = sorted(proj.versions("d")["version"])
    audit = len(proj.audit_log())
    frame = _frame(seed).assign(run=next(_RUNS))  # new bytes: a real upload
    proxy = CuttingProxy(moto_port, cut_after=1 + int(where * per_version), port=port)
    try:
        with pytest.raises(StoreError) as caught:
            proj.data("d", frame)
    finally:
        proxy.close()
    text = str(caught.value)
    assert proj._store.artifacts_location in text, text
    assert "Nothing was recorded" in text
    assert "then run the call again" in text
    assert not any(s in text for s in _SECRETS)
    assert sorted(proj.versions("d")["version"]) == versions  # no row
    assert len(proj.audit_log()) == audit
    _final_keys_are_whole(proj)  # a blob is whole under its key or absent

    back = CuttingProxy(moto_port, port=port)  # the server is back
    try:
        asset = proj.data("d", frame)  # the same call
        assert asset.version == versions[-1] + 1
        pd.testing.assert_frame_equal(proj.asset("d", asset.version).frame, frame)
    finally:
        back.close()
    assert proj._store.referenced_blobs() <= _final_keys_are_whole(proj)
