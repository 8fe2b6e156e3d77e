"""The machine-local blob cache of a team project (real moto S3 over HTTP + PostgreSQL).

A cached blob is served without a GET, re-hashed; a damaged cache entry is discarded
and fetched again; ``verify()`` reads S3 itself, whatever the cache holds; a disabled
cache writes nothing; processes share one cache folder safely. GETs are counted by
the store (``FsspecBlobStore.fetches``) and, for one test, by botocore's own
request events.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import s3fs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import IntegrityError
from mlops_nb.store._blob_cache import BlobCache, default_cache_dir
from mlops_nb.store._fsspec_blobs import FsspecBlobStore
from mlops_nb.store._q_assets import asset_at

_FEW = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_WORKER = Path(__file__).with_name("_cache_worker.py")


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "y": (x1 + rng.normal(scale=0.7, size=n) > 0).astype(int),
        }
    )


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if not p.is_dir())


def _tamper_s3(key: str, data: bytes | None) -> None:
    """Change (or, with ``None``, delete) an object as another tool would."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    if data is None:
        fs.rm_file(key)
    else:
        fs.pipe_file(key, data)


@pytest.fixture
def s3_url(s3_bucket):
    return f"s3://{s3_bucket}/proj/artifacts"


@_FEW
@given(blobs=st.lists(st.binary(max_size=3000), min_size=1, max_size=4, unique=True))
def test_a_cache_hit_serves_the_same_bytes_without_a_get(s3_url, tmp_path, blobs):
    cache = tmp_path / f"cache-{os.urandom(4).hex()}"
    writer = FsspecBlobStore(s3_url)
    digests = [writer.put(blob) for blob in blobs]
    first = FsspecBlobStore(s3_url, cache=cache)  # a kernel on this machine
    assert first.read_many(digests) == dict(zip(digests, blobs, strict=True))
    assert first.fetches == len(digests)
    for digest, blob in zip(digests, blobs, strict=True):
        assert (cache / digest[:2] / digest).read_bytes() == blob
    again = FsspecBlobStore(s3_url, cache=cache)  # the next kernel
    assert again.read_many(digests) == dict(zip(digests, blobs, strict=True))
    assert [again.read(d) for d in digests] == blobs
    assert again.fetches == 0
    assert again.cache.hits == 2 * len(digests)


def test_a_team_model_loads_from_the_cache_on_the_second_open(
    team_url, tmp_path, monkeypatch
):
    """The second Project.open + load makes no S3 GET (botocore's own count)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLOPS_NB_CACHE", str(cache))
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    data = proj.data("d", _frame(), target="y")
    model = proj.train("clf", data, estimator="lightgbm", params={"n_estimators": 5})
    row = _frame().drop(columns="y").head(3)
    expected = model.predict_proba(row)  # this kernel read (and cached) the files
    proj._store.close()
    shutil.rmtree(cache)  # the next kernels run on a machine that has none
    gets = []
    probas = []
    for _ in range(2):
        fresh = mnb.Project.open(url, artifacts=artifacts)
        client = fresh._store.artifacts.fs.s3  # the aiobotocore client s3fs uses
        handler = lambda request, **_: gets.append(request.url)  # noqa: E731
        client.meta.events.register("before-send.s3.GetObject", handler)
        try:
            probas.append(fresh.model("clf", version=1).predict_proba(row))
        finally:
            client.meta.events.unregister("before-send.s3.GetObject", handler)
        fresh._store.close()
        if len(probas) == 1:
            first_gets = len(gets)
    n_blobs = len(model.artifacts)
    assert first_gets == n_blobs  # every file fetched once
    assert len(gets) == n_blobs  # ... and not again by the second kernel
    for proba in probas:
        np.testing.assert_array_equal(proba, expected)
    assert {p.name for p in _entries(cache)} == set(model.artifacts.values())


_DAMAGE = ["flip", "truncate", "append", "empty", "replace", "symlink", "folder"]


@_FEW
@given(blob=st.binary(min_size=1, max_size=3000), damage=st.sampled_from(_DAMAGE))
def test_a_damaged_cache_entry_is_discarded_and_fetched_again(
    s3_url, tmp_path, blob, damage
):
    cache = tmp_path / f"cache-{os.urandom(4).hex()}"
    digest = FsspecBlobStore(s3_url).put(blob)
    FsspecBlobStore(s3_url, cache=cache).read(digest)  # cached
    entry = cache / digest[:2] / digest
    if damage in ("symlink", "folder"):
        entry.unlink()
        if damage == "symlink":  # even to the right bytes: not a file of the cache
            (tmp_path / "elsewhere").write_bytes(blob)
            entry.symlink_to(tmp_path / "elsewhere")
        else:
            entry.mkdir()
    else:
        entry.write_bytes(
            {
                "flip": bytes([blob[0] ^ 1]) + blob[1:],
                "truncate": blob[:-1],
                "append": blob + b"\0",
                "empty": b"",
                "replace": b"planted bytes",
            }[damage]
        )
    store = FsspecBlobStore(s3_url, cache=cache)
    if damage == "folder":  # cannot be replaced by a file: fetched every time
        assert store.read(digest) == blob
        assert store.read_many([digest]) == {digest: blob}
        assert store.fetches == 2
        return
    assert store.read(digest) == blob
    assert store.fetches == 1
    assert entry.is_file()
    assert not entry.is_symlink()
    assert entry.read_bytes() == blob  # fetched, re-hashed and cached again
    assert store.read(digest) == blob
    assert store.fetches == 1  # now a hit


def test_verify_reads_s3_itself_even_when_the_cache_holds_good_bytes(team_url):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    proj.data("d", _frame(), target="y")
    proj.data("d", _frame(seed=1))
    good = proj.asset("d", 1).frame  # read from S3, now cached
    digest = asset_at(proj._store, "d", 1)["artifact"]
    key = proj._store.artifacts.key_for(digest)
    assert proj.verify().ok
    for change in (b"other bytes", None):  # changed in S3, then deleted
        _tamper_s3(key, change)
        fresh = mnb.Project.open(url, artifacts=artifacts)
        result = fresh.verify()
        assert not result.ok
        assert list(result.result.problems) == [digest]
        problem = result.problems[digest]
        assert ("corrupted" if change else "missing") in problem
        # A load serves the good cached copy: the digest names the content, so it
        # is the content the row was written with (verify() reports the damage).
        pd.testing.assert_frame_equal(fresh.asset("d", 1).frame, good)
        assert fresh._store.artifacts.fetches == 1 + 1  # verify's two GETs, no load
        fresh._store.close()
    proj._store.close()


def test_without_the_cache_a_changed_s3_blob_is_refused_on_load(team_url, monkeypatch):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    proj.data("d", _frame(), target="y")
    _ = proj.asset("d", 1).frame  # cached by this kernel
    digest = asset_at(proj._store, "d", 1)["artifact"]
    _tamper_s3(proj._store.artifacts.key_for(digest), b"other bytes")
    monkeypatch.setenv("MLOPS_NB_CACHE", "off")
    fresh = mnb.Project.open(url, artifacts=artifacts)
    assert fresh._store.artifacts.cache is None
    with pytest.raises(IntegrityError, match=f"{digest} .* is corrupted"):
        _ = fresh.asset("d", 1).frame
    for p in (proj, fresh):
        p._store.close()


@pytest.mark.parametrize("off", ["off", "0", "none", " OFF "])
def test_a_disabled_cache_never_writes(team_url, tmp_path, monkeypatch, off):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("MLOPS_NB_CACHE", off)
    assert default_cache_dir() is None
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    proj.data("d", _frame(), target="y")
    for _ in range(2):
        fresh = mnb.Project.open(url, artifacts=artifacts)
        frame = fresh.asset("d", 1).frame
        assert len(frame) == 200
        assert fresh._store.artifacts.fetches == 1  # every kernel fetches again
        fresh._store.close()
    proj._store.close()
    assert not home.exists() or _entries(home) == []


def test_the_default_cache_folder_and_a_local_store_without_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_NB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mlops_nb" / "blobs"
    monkeypatch.setenv("MLOPS_NB_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    local = FsspecBlobStore((tmp_path / "arts").as_uri(), cache=tmp_path / "c")
    digest = local.put(b"local bytes")
    assert local.cache is None  # the files are on this disk already
    assert local.read(digest) == b"local bytes"
    assert not (tmp_path / "c").exists()


def test_a_cache_folder_that_cannot_be_written_never_fails_a_read(s3_url, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"a file where the cache folder should be")
    digest = FsspecBlobStore(s3_url).put(b"some bytes")
    store = FsspecBlobStore(s3_url, cache=blocked)
    assert store.read(digest) == b"some bytes"
    assert store.read_many([digest]) == {digest: b"some bytes"}
    assert store.fetches == 2
    assert store.cache.writes == 0
    assert isinstance(store.cache, BlobCache)


@pytest.mark.parametrize("workers", [3])
def test_processes_sharing_one_cache_folder(s3_url, tmp_path, workers):
    rng = np.random.default_rng(0)
    blobs = [rng.bytes(int(n)) for n in rng.integers(1, 200_000, size=6)]
    writer = FsspecBlobStore(s3_url)
    digests = [writer.put(b) for b in blobs]
    cache, go = tmp_path / "shared-cache", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(_WORKER), s3_url, str(cache), str(go), "15", *digests],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["hits"] for r in results) > 0  # they did share the folder
    entries = _entries(cache)
    assert [p.name for p in entries if p.name.startswith(".tmp-")] == []
    assert sorted(p.name for p in entries) == sorted(digests)
    for entry in entries:
        assert hashlib.sha256(entry.read_bytes()).hexdigest() == entry.name
        assert entry.stat().st_mode & 0o077 == 0  # this user's only


def test_blobs_over_the_cap_and_data_partitions_are_never_cached(
    s3_url, tmp_path, monkeypatch
):
    from mlops_nb.data._large import read_partition
    from mlops_nb.store import _blob_cache

    monkeypatch.setattr(_blob_cache, "MAX_ENTRY_BYTES", 100)
    cache = tmp_path / "cache"
    writer = FsspecBlobStore(s3_url)
    small, big = b"m" * 100, b"d" * 101
    store = FsspecBlobStore(s3_url, cache=cache)
    for blob in (small, big):
        digest = writer.put(blob)
        assert store.read(digest) == blob
    assert [p.name for p in _entries(cache)] == [hashlib.sha256(small).hexdigest()]
    # a large version's partition (parquet) is read past the cache, re-hashed
    buf = tmp_path / "part.parquet"
    _frame(20).to_parquet(buf, index=False)
    digest = writer.put(buf.read_bytes())
    fetched = store.fetches
    got = read_partition(store, digest, 0, "part.parquet", "logs v1", None)
    assert len(got) == 20
    assert store.fetches == fetched + 1
    assert digest not in {p.name for p in _entries(cache)}


def test_a_fifo_in_the_cache_folder_cannot_hang_a_read(tmp_path):
    import threading

    cache = BlobCache(tmp_path / "cache")
    digest = hashlib.sha256(b"model").hexdigest()
    path = cache.path_for(digest)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)  # planted by another user of a shared cache folder
    got: list[bytes | None] = []
    reader = threading.Thread(target=lambda: got.append(cache.get(digest)), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "the read blocked on a FIFO"
    assert got == [None]  # a miss: the caller fetches from the object store
    assert not path.exists()  # the planted entry was removed


def test_the_cache_stays_under_its_cap_removing_the_least_recently_used(tmp_path):
    import time

    cache = BlobCache(tmp_path / "cache", max_bytes=3000)
    blobs = {k: bytes([k]) * 1000 for k in b"abcd"}
    digest = {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()}
    for k in b"abc":
        cache.put(digest[k], blobs[k])
    past = time.time() - 1000
    for i, k in enumerate(b"abc"):  # written long ago, a first
        os.utime(cache.path_for(digest[k]), (past + i, past + i))
    assert cache.evicted == 0  # 3,000 bytes: at the cap, not over it
    assert cache.get(digest[ord("a")]) == blobs[ord("a")]  # a read: a is used now
    cache.put(digest[ord("d")], blobs[ord("d")])  # over the cap: b goes
    assert cache.evicted == 1
    kept = {p.name for p in _entries(tmp_path / "cache")}
    assert kept == {digest[k] for k in b"acd"}
    assert sum(p.stat().st_size for p in _entries(tmp_path / "cache")) <= 3000
    assert cache.get(digest[ord("b")]) is None  # a miss: fetched again by the store


def test_the_cache_cap_comes_from_the_environment(team_url, tmp_path, monkeypatch):
    from mlops_nb.errors import ValidationError
    from mlops_nb.store._blob_cache import DEFAULT_MAX_BYTES

    monkeypatch.setenv("MLOPS_NB_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("MLOPS_NB_CACHE_MAX", raising=False)
    assert BlobCache(tmp_path / "c").max_bytes == DEFAULT_MAX_BYTES == 2**30
    for text, size in [("500M", 500 * 2**20), ("2G", 2 * 2**30), ("4096", 4096)]:
        monkeypatch.setenv("MLOPS_NB_CACHE_MAX", text)
        assert BlobCache(tmp_path / "c").max_bytes == size
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    proj.data("d", _frame(), target="y")
    proj._store.close()
    monkeypatch.setenv("MLOPS_NB_CACHE_MAX", "lots")
    with pytest.raises(ValidationError, match=r"MLOPS_NB_CACHE_MAX='lots'.*500M"):
        mnb.Project.open(url, artifacts=artifacts)
    monkeypatch.setenv("MLOPS_NB_CACHE_MAX", "1")  # smaller than any blob: none kept
    fresh = mnb.Project.open(url, artifacts=artifacts)
    assert len(fresh.asset("d", 1).frame) == 200
    fresh._store.close()
    assert _entries(tmp_path / "c") == []
