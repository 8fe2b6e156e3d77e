"""Content-addressed blobs through fsspec: S3 (moto over HTTP, through s3fs) and a
local folder, with the same behaviour."""

from __future__ import annotations

import hashlib
import secrets
import socket

import boto3
import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.errors import IntegrityError, NotFoundError, StoreError, ValidationError
from mlops_nb.store._fsspec_blobs import FsspecBlobStore

_FEW = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(params=["s3", "file"])
def store_url(request, tmp_path):
    if request.param == "s3":
        return f"s3://{request.getfixturevalue('s3_bucket')}/proj/artifacts"
    return f"file://{tmp_path / 'artifacts'}"


def _raw(url, digest):
    """The file system as another tool sees it (not through the store)."""
    extra = {"auto_mkdir": True} if url.startswith("file:") else {}
    fs, root = fsspec.core.url_to_fs(url, **extra)
    return fs, f"{root.rstrip('/')}/{digest[:2]}/{digest}"


@_FEW
@given(blobs=st.lists(st.binary(max_size=3000), min_size=1, max_size=5))
def test_put_read_exists_list_round_trip(store_url, blobs):
    store = FsspecBlobStore(store_url)
    digests = [store.put(blob) for blob in blobs]
    assert digests == [hashlib.sha256(b).hexdigest() for b in blobs]
    for digest, blob in zip(digests, blobs, strict=True):
        assert store.exists(digest)
        assert store.read(digest) == blob
        assert store.verify(digest) is None
    assert set(digests) <= set(store.iter_digests())
    fs, _ = _raw(store_url, digests[0])
    tmp = [k for k in fs.find(store.root) if "/.tmp/" in k]
    assert tmp == []  # the temporary keys are gone
    assert all(d not in store.iter_digests() for d in ["0" * 64])


@_FEW
@given(
    blob=st.binary(min_size=1, max_size=2000),
    change=st.sampled_from(["flip", "truncate", "append", "replace"]),
)
def test_every_read_rehashes_and_names_the_corruption(store_url, blob, change):
    store = FsspecBlobStore(store_url)
    digest = store.put(blob)
    fs, key = _raw(store_url, digest)
    bad = {
        "flip": bytes([blob[0] ^ 1]) + blob[1:],
        "truncate": blob[:-1],
        "append": blob + b"\0",
        "replace": b"other bytes entirely",
    }[change]
    fs.pipe_file(key, bad)
    with pytest.raises(IntegrityError, match=f"artifact {digest} .* is corrupted"):
        store.read(digest)
    assert "corrupted" in store.verify(digest)
    fs.pipe_file(key, blob)  # restored: reads again
    assert store.read(digest) == blob


def test_missing_blobs_and_bad_digests(store_url):
    store = FsspecBlobStore(store_url)
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(NotFoundError, match=f"artifact {missing} is missing"):
        store.read(missing)
    assert "missing" in store.verify(missing)
    for bad in ["../../etc/passwd", "A" * 64, "ab", missing + "0", "/" + missing[1:]]:
        with pytest.raises(IntegrityError, match="not a SHA-256"):
            store.read(bad)
    assert list(store.iter_digests()) == []


def test_delete_and_gc_listing_ignores_foreign_and_temporary_keys(store_url):
    store = FsspecBlobStore(store_url)
    keep, drop = store.put(b"keep"), store.put(b"drop")
    fs, _ = _raw(store_url, keep)
    fs.pipe_file(f"{store.root}/.tmp/abc-{keep}", b"half")  # an interrupted put
    fs.pipe_file(f"{store.root}/notes.txt", b"x")
    fs.pipe_file(f"{store.root}/zz/{keep}", b"keep")  # wrong shard
    assert sorted(store.iter_digests()) == sorted([keep, drop])
    store.delete(drop)
    store.delete(drop)  # twice: no error
    assert list(store.iter_digests()) == [keep]
    assert store.remove_temp_files(older_than=3600) == []  # too young to be stale
    removed = store.remove_temp_files(older_than=-1)
    assert [k.rsplit("/", 1)[1] for k in removed] == [f"abc-{keep}"]
    assert store.read(keep) == b"keep"


def test_a_blob_is_visible_under_its_key_only_once_whole(s3_bucket):
    # watch every key the S3 server holds while a put runs: the final key never
    # exists with other bytes, and the temporary key is gone afterwards
    store = FsspecBlobStore(f"s3://{s3_bucket}/p")
    blob = bytes(range(256)) * 4096  # 1 MiB
    digest = store.put(blob)
    s3 = boto3.client("s3")
    keys = {
        o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]
    }
    assert keys == {f"p/{digest[:2]}/{digest}": len(blob)}
    body = s3.get_object(Bucket=s3_bucket, Key=f"p/{digest[:2]}/{digest}")["Body"]
    assert hashlib.sha256(body.read()).hexdigest() == digest


@pytest.mark.parametrize(
    "options",
    [
        {"key": "AKIA", "secret": "s"},
        {"secret": "s"},
        {"token": "t"},
        {"client_kwargs": {"aws_secret_access_key": "s"}},
        {"config_kwargs": {}, "client_kwargs": {"aws_session_token": "t"}},
    ],
)
def test_credentials_are_refused_as_options(options):
    with pytest.raises(ValidationError, match="hold credentials") as refused:
        FsspecBlobStore("s3://bucket/p", storage_options=options)
    for value in ("AKIA", '"s"', "'s'", "'t'"):
        assert value not in str(refused.value)


def test_repr_and_errors_do_not_show_credentials_or_passwords(s3_bucket, s3_server):
    store = FsspecBlobStore(f"s3://{s3_bucket}/p")
    assert repr(store) == f"FsspecBlobStore('s3://{s3_bucket}/p')"
    assert "testing-secret-key" not in repr(vars(store))
    hidden = FsspecBlobStore("memory://u:hunter2-pw@/x")
    assert "hunter2-pw" not in repr(hidden)
    gone = FsspecBlobStore(f"s3://no-such-bucket-{s3_bucket}/p")
    with pytest.raises(StoreError, match="could not write artifact") as failed:
        gone.put(b"x")
    assert "testing-secret-key" not in str(failed.value)
    assert failed.value.__cause__ is None


@pytest.mark.slow  # s3fs and botocore retry the dead endpoint for about 10 s
def test_a_stopped_s3_server_is_a_clear_error_and_leaves_no_key(s3_bucket):
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    store = FsspecBlobStore(
        f"s3://{s3_bucket}/down", {"client_kwargs": {"endpoint_url": endpoint}}
    )
    kept = store.put(b"stored while the server ran")
    server.stop()
    blob = b"written while the server is down"
    with pytest.raises(StoreError, match=f"could not .* in s3://{s3_bucket}/down: "):
        store.put(blob)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()  # back (moto keeps its buckets in this process)
    try:
        assert list(store.iter_digests()) == [kept]
        assert not store.exists(hashlib.sha256(blob).hexdigest())
        assert [k for k in store.fs.find(store.root) if "/.tmp/" in k] == []
        assert store.put(blob) == hashlib.sha256(blob).hexdigest()  # and works again
    finally:
        server.stop()


@pytest.mark.slow  # the client retries the cut line for about 10 s
@pytest.mark.parametrize("cut_kib", [1, 700])  # in the first request; mid-body
def test_a_line_cut_mid_upload_leaves_no_blob_under_its_key(
    s3_bucket, s3_server, cut_kib
):
    from _proxy import CuttingProxy

    port = int(s3_server.rsplit(":", 1)[1])
    direct = FsspecBlobStore(f"s3://{s3_bucket}/cut")
    blob = secrets.token_bytes(1 << 20)  # one PUT of 1 MiB
    digest = hashlib.sha256(blob).hexdigest()
    direct.put(b"already there")  # the HEAD/list requests before the upload pass
    proxy = CuttingProxy(port, cut_after=cut_kib * 1024)
    through = FsspecBlobStore(
        f"s3://{s3_bucket}/cut", {"client_kwargs": {"endpoint_url": proxy.url}}
    )
    try:
        with pytest.raises(StoreError, match=f"could not .* artifact {digest}"):
            through.put(blob)
        assert proxy.cut.is_set()
    finally:
        proxy.close()
    assert not direct.exists(digest)
    assert digest not in set(direct.iter_digests())
    with pytest.raises(NotFoundError):
        direct.read(digest)
    assert direct.put(blob) == digest  # the same blob lands whole later
    assert direct.read(digest) == blob


def test_a_blob_another_machine_wrote_after_a_listing_is_read(store_url):
    """A listing taken before another machine's write must not hide its blob.

    s3fs sizes a read from its listing cache: with the shard's listing cached, a blob
    written there later by another machine read as "missing" (found by the SIGKILL
    fault test in CI). The other machine is a separate file-system instance here.
    """
    store = FsspecBlobStore(store_url)
    first = store.put(b"first blob")
    assert first in set(store.iter_digests())  # lists (and used to cache) its shard
    other = next(
        blob
        for i in range(100_000)
        if hashlib.sha256(blob := f"other {i}".encode()).hexdigest()[:2] == first[:2]
    )
    digest = hashlib.sha256(other).hexdigest()
    fs, key = _raw(store_url, digest)
    fresh = type(fs)(skip_instance_cache=True, **fs.storage_options)
    fresh.pipe_file(key, other)  # the other machine, in the same shard
    assert store.verify(digest) is None  # what verify() does for every blob
    store.iter_digests()
    assert store.read(digest) == other
    store.iter_digests()
    assert store.stored_hash(digest) == digest
    store.iter_digests()
    assert store.exists(digest)
    assert {first, digest} <= set(store.iter_digests())


@_FEW
@given(
    blobs=st.lists(st.binary(min_size=1, max_size=2000), min_size=2, max_size=6),
    bad=st.integers(0, 5),
)
def test_read_many_fetches_each_blob_rehashed(store_url, blobs, bad):
    store = FsspecBlobStore(store_url)
    digests = [store.put(blob) for blob in blobs]
    assert store.read_many(digests) == dict(zip(digests, blobs, strict=True))
    victim = digests[bad % len(digests)]
    others = [d for d in digests if d != victim]
    fs, key = _raw(store_url, victim)
    original = fs.cat_file(key)
    fs.pipe_file(key, original + b"!")  # changed after it was stored
    try:
        with pytest.raises(IntegrityError, match=victim):
            store.read_many(digests)
        assert store.read_many(others) == {d: store.read(d) for d in others}
        fs.rm_file(key)
        with pytest.raises(NotFoundError, match=victim):
            store.read_many(digests)
    finally:
        fs.pipe_file(key, original)
