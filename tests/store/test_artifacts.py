"""Content-addressed blobs: containment, links, tampering, permissions.

SECURITY-TESTS T02, T03, T06 and T09.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
from pathlib import Path

import pandas as pd
import pytest

from _helpers import raw_snapshot as snapshot
from mlops_nb._project import Project
from mlops_nb.errors import IntegrityError, NotFoundError, StoreError
from mlops_nb.store import ArtifactStore, is_contained, sha256_bytes

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def rows(db: Path, table: str = "asset_versions") -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def frame(seed: int, n: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": [seed * 1000 + i for i in range(n)], "y": [i % 2 for i in range(n)]}
    )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(b"OUTSIDE-SECRET-BYTES\n" * 10)
    return out


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project.open(tmp_path / "store")


def blob_path(proj: Project, digest: str) -> Path:
    return proj.path / "artifacts" / digest[:2] / digest


# -- T02 containment ------------------------------------------------------------------
def test_t02_sibling_prefix_is_not_contained(tmp_path):
    store = tmp_path / "store"
    evil = tmp_path / "store_evil"
    store.mkdir()
    evil.mkdir()
    (evil / "x").write_text("x")
    assert str(evil / "x").startswith(str(store))  # a string-prefix check would pass
    assert not is_contained(evil / "x", store)
    assert not is_contained(store / ".." / "store_evil" / "x", store)
    assert not is_contained(Path(str(store) + "_evil") / "x", store)
    assert is_contained(store / "a" / "b", store)
    assert is_contained(store, store)


def test_t02_symlink_inside_store_pointing_outside_is_not_contained(tmp_path, outside):
    store = tmp_path / "store"
    store.mkdir()
    (store / "link").symlink_to(outside, target_is_directory=True)
    (store / "etc").symlink_to("/etc", target_is_directory=True)
    assert not is_contained(store / "link" / "secret.txt", store)
    assert not is_contained(store / "link", store)
    assert not is_contained(store / "etc" / "passwd", store)


@pytest.mark.parametrize("base", ["", Path(), "."], ids=["str", "Path", "dot"])
def test_t02_empty_base_raises(tmp_path, base):
    with pytest.raises(StoreError, match="empty base"):
        is_contained(tmp_path / "x", base)


def test_t02_symlinked_shard_dir_is_never_written_through(proj, outside):
    """A shard folder replaced by a link to outside: put refuses, writes nothing."""
    data = b"some blob bytes"
    digest = sha256_bytes(data)
    shard = proj.path / "artifacts" / digest[:2]
    shard.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        proj._store.put_blob(data, media_type="application/octet-stream")
    with pytest.raises((IntegrityError, StoreError), match="symbolic link"):
        proj._store.read_blob(digest)
    assert snapshot(outside) == before


def test_t02_artifacts_dir_replaced_by_symlink_is_refused(tmp_path, outside, proj):
    art = proj.path / "artifacts"
    art.rmdir()
    art.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        proj.data("acs", frame(1))
    assert snapshot(outside) == before
    assert rows(proj.path / "registry.sqlite") == []


# -- T03 symlinked / hard-linked blobs -------------------------------------------------
def test_t03_blob_replaced_by_symlink_is_refused(tmp_path, outside, proj):
    a = proj.data("acs", frame(1), target="y")
    b = proj.data("other", frame(2), target="y")
    path = blob_path(proj, a.artifact)
    path.unlink()
    path.symlink_to(outside / "secret.txt")

    fresh = Project.open(proj.path)
    with pytest.raises(
        IntegrityError, match=f"artifact {a.artifact} is a symbolic link"
    ) as info:
        fresh.asset("acs").frame  # noqa: B018
    assert "OUTSIDE-SECRET" not in str(info.value)
    with pytest.raises(IntegrityError, match=a.artifact):
        fresh._store.read_blob(a.artifact)
    assert fresh.asset("other").frame.equals(b.frame)  # the other blob is fine

    report = fresh.verify()
    assert not report.ok
    assert list(report.problems) == [a.artifact]
    assert "symbolic link" in report.problems[a.artifact]
    assert (outside / "secret.txt").read_bytes() == b"OUTSIDE-SECRET-BYTES\n" * 10


def test_t03_blob_replaced_by_hard_link_to_outside_file_is_refused(outside, proj):
    a = proj.data("acs", frame(1), target="y")
    path = blob_path(proj, a.artifact)
    # an outside file holding the *right* bytes, hard-linked in: whoever owns the
    # outside path could change the blob later, so it is refused even though it hashes
    outside_copy = outside / "copy.parquet"
    outside_copy.write_bytes(path.read_bytes())
    path.unlink()
    os.link(outside_copy, path)
    assert path.stat().st_nlink == 2

    fresh = Project.open(proj.path)
    with pytest.raises(IntegrityError, match=f"artifact {a.artifact} has 2 hard links"):
        fresh.asset("acs").frame  # noqa: B018
    report = fresh.verify()
    assert list(report.problems) == [a.artifact]
    assert "hard links" in report.problems[a.artifact]


def test_t03_extra_hard_link_to_blob_is_refused(outside, proj):
    a = proj.data("acs", frame(1), target="y")
    os.link(blob_path(proj, a.artifact), outside / "alias")
    fresh = Project.open(proj.path)
    with pytest.raises(IntegrityError, match=a.artifact):
        fresh.asset("acs").frame  # noqa: B018
    assert list(fresh.verify().problems) == [a.artifact]


def test_t03_hard_link_to_outside_file_with_other_bytes_returns_no_outside_bytes(
    outside, proj
):
    a = proj.data("acs", frame(1), target="y")
    path = blob_path(proj, a.artifact)
    path.unlink()
    os.link(outside / "secret.txt", path)
    fresh = Project.open(proj.path)
    with pytest.raises(IntegrityError) as info:
        fresh._store.read_blob(a.artifact)
    assert "OUTSIDE-SECRET" not in str(info.value)
    assert a.artifact in str(info.value)


# -- T06 tamper detection --------------------------------------------------------------
def test_t06_flipped_and_truncated_blobs_are_reported_not_deleted(proj):
    a = proj.data("flip", frame(1), target="y")
    b = proj.data("trunc", frame(2), target="y")
    c = proj.data("fine", frame(3), target="y")
    flip, trunc = blob_path(proj, a.artifact), blob_path(proj, b.artifact)
    raw = bytearray(flip.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    flip.write_bytes(bytes(raw))
    flipped_hash = hashlib.sha256(raw).hexdigest()
    cut = trunc.read_bytes()[:-7]
    trunc.write_bytes(cut)
    truncated_hash = hashlib.sha256(cut).hexdigest()
    db = proj.path / "registry.sqlite"
    rows_before = rows(db)
    artifacts_before = rows(db, "artifacts")

    fresh = Project.open(proj.path)
    with pytest.raises(IntegrityError) as info:
        fresh.asset("flip").frame  # noqa: B018
    assert a.artifact in str(info.value)
    assert flipped_hash in str(info.value)
    with pytest.raises(IntegrityError) as info:
        fresh.asset("trunc").frame  # noqa: B018
    assert b.artifact in str(info.value)
    assert truncated_hash in str(info.value)
    assert fresh.asset("fine").frame.equals(c.frame)

    report = fresh.verify()
    assert not report.ok
    assert sorted(report.problems) == sorted([a.artifact, b.artifact])
    assert flipped_hash in report.problems[a.artifact]
    assert truncated_hash in report.problems[b.artifact]
    # nothing deleted or "repaired" automatically; rows untouched
    assert flip.read_bytes() == bytes(raw)
    assert trunc.read_bytes() == cut
    fresh.gc()
    assert flip.exists()
    assert trunc.exists()
    assert rows(db) == rows_before
    assert rows(db, "artifacts") == artifacts_before


def test_t06_missing_blob_is_not_found_and_reported(proj):
    a = proj.data("acs", frame(1), target="y")
    blob_path(proj, a.artifact).unlink()
    fresh = Project.open(proj.path)
    with pytest.raises(NotFoundError, match=f"artifact {a.artifact} is missing"):
        fresh.asset("acs").frame  # noqa: B018
    assert list(fresh.verify().problems) == [a.artifact]


def test_t06_artifact_ids_must_be_hex_digests(proj):
    for bad in ["../../etc/passwd", "A" * 64, "0" * 63, "", "0" * 64 + "/x"]:
        with pytest.raises(IntegrityError, match="not a SHA-256 hex digest"):
            proj._store.read_blob(bad)
        with pytest.raises(IntegrityError):
            proj._store.artifacts.path_for(bad)


def test_t06_damaged_blob_is_rewritten_when_the_same_bytes_are_put_again(proj):
    store = ArtifactStore(proj.path / "artifacts")
    data = b"payload" * 100
    digest = store.put(data)
    path = store.path_for(digest)
    path.write_bytes(b"garbage")
    assert store.put(data) == digest
    assert store.read(digest) == data


# -- T09 permissions -------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_t09_permissions_under_umask_000(tmp_path):
    old = os.umask(0o000)
    try:
        proj = Project.open(tmp_path / "p")
        proj.data("acs", frame(1), target="y")
        proj.data("acs", frame(2), target="y")
    finally:
        os.umask(old)

    def mode(p: Path) -> int:
        return stat.S_IMODE(os.lstat(p).st_mode)

    assert mode(proj.path) == 0o700
    assert mode(proj.path / "registry.sqlite") == 0o600
    for extra in ("registry.sqlite-wal", "registry.sqlite-shm"):
        if (proj.path / extra).exists():
            assert mode(proj.path / extra) & 0o077 == 0, extra
    assert mode(proj.path / "artifacts") == 0o700
    shards = list((proj.path / "artifacts").iterdir())
    blobs = [f for s in shards for f in s.iterdir()]
    assert shards
    assert len(blobs) == 2
    for s in shards:
        assert mode(s) == 0o700, s
    for b in blobs:
        assert mode(b) == 0o600, b


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_t09_backup_permissions_under_umask_000(tmp_path, proj):
    proj.data("acs", frame(1), target="y")
    old = os.umask(0o000)
    try:
        dest = proj.backup(tmp_path / "bk")
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    for f in dest.rglob("*"):
        want = 0o700 if f.is_dir() else 0o600
        assert stat.S_IMODE(f.stat().st_mode) == want, f


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("bits", [0o020, 0o002, 0o022])
@pytest.mark.parametrize("which", ["root", "db"])
def test_t09_group_or_world_writable_project_is_refused(tmp_path, bits, which):
    proj = Project.open(tmp_path / "p")
    proj.data("acs", frame(1), target="y")
    target = proj.path if which == "root" else proj.path / "registry.sqlite"
    target.chmod(stat.S_IMODE(target.stat().st_mode) | bits)
    with pytest.raises(
        StoreError,
        match=rf"writable by other users.*chmod go-w {re.escape(str(target))}",
    ):
        Project.open(proj.path)
    target.chmod(stat.S_IMODE(target.stat().st_mode) & ~0o022)
    assert Project.open(proj.path).asset("acs").version == 1


# -- content addressing ----------------------------------------------------------------
def test_same_frame_twice_is_the_same_version(proj):
    db = proj.path / "registry.sqlite"
    v1 = proj.data("acs", frame(1), target="y")
    blobs_before = sorted(
        p.name for p in (proj.path / "artifacts").rglob("*") if p.is_file()
    )
    rows_before = rows(db)
    again = proj.data("acs", frame(1), target="y")
    assert (again.version, again.artifact, again.content_hash) == (
        1,
        v1.artifact,
        v1.content_hash,
    )
    assert rows(db) == rows_before
    assert (
        sorted(p.name for p in (proj.path / "artifacts").rglob("*") if p.is_file())
        == blobs_before
    )
    assert len(blobs_before) == 1

    v2 = proj.data("acs", frame(2))
    assert v2.version == 2
    assert v2.parents == (("acs", 1),)
    assert v2.schema.target == "y"  # roles carried over
    assert v2.artifact != v1.artifact
    assert len(rows(db)) == 2
    assert Project.open(proj.path).asset("acs", 1).frame.equals(v1.frame)
    assert proj.verify().ok


def test_t02_gc_never_follows_links_out_of_the_store(proj, outside):
    proj.data("acs", frame(1), target="y")
    fake = "ab" * 32
    (outside / fake).write_bytes(b"not ours")
    (outside / ".tmp-123").write_bytes(b"not ours either")
    (proj.path / "artifacts" / "ff").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    proj.gc()
    assert snapshot(outside) == before
    assert proj.verify().ok

    (proj.path / "artifacts" / "ff").unlink()
    art = proj.path / "artifacts"
    art.rename(proj.path.parent / "moved-artifacts")
    art.symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="symbolic link"):
        proj.gc()
    assert snapshot(outside) == before
