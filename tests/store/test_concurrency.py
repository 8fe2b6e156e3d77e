"""Several kernels at once: writers, first open, backup, gc (T19 T20 T21)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from mlops_nb._project import Project
from mlops_nb.errors import StoreError
from mlops_nb.store import SCHEMA_VERSION, Registry
from mlops_nb.store import _artifacts as artifacts_module

WORKERS = Path(__file__).parent / "_workers"


def frame(seed: int, step: int) -> pd.DataFrame:
    """The same frames as ``_workers/writer.py`` makes."""
    base = seed * 1_000_000 + step * 100
    return pd.DataFrame(
        {"x": list(range(base, base + 30)), "y": [i % 2 for i in range(30)]}
    )


def raw_rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(
    procs: list[subprocess.Popen], timeout: float = 120
) -> list[tuple[str, str]]:
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err
        outs.append((out, err))
    return outs


# -- T19 concurrent writers ------------------------------------------------------------
def test_t19_two_processes_register_50_versions_each_of_one_asset(tmp_path):
    path = tmp_path / "p"
    Project.open(path)._store.db.close()
    start = tmp_path / "go"
    procs = [
        spawn(str(WORKERS / "writer.py"), str(path), "acs", "50", str(seed), str(start))
        for seed in (1, 2)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    start.touch()
    outs = finish(procs)
    results = {}
    for seed, (out, err) in zip((1, 2), outs, strict=True):
        assert "database is locked" not in err
        lines = [json.loads(line) for line in out.splitlines()]
        assert [r["step"] for r in lines] == list(range(50))
        results[seed] = lines
    # each process saw its own versions increase; together they are 1..100
    returned = [r["version"] for lines in results.values() for r in lines]
    assert sorted(returned) == list(range(1, 101))
    for lines in results.values():
        assert [r["version"] for r in lines] == sorted(r["version"] for r in lines)
    # the stored rows: unique, gap-free, each content exactly once, as acknowledged
    db = path / "registry.sqlite"
    stored = raw_rows(db, "SELECT version, content_hash, parents FROM asset_versions "
                          "WHERE name = 'acs' ORDER BY version")  # fmt: skip
    assert [v for v, _, _ in stored] == list(range(1, 101))
    hashes = [h for _, h, _ in stored]
    assert len(set(hashes)) == 100
    acked = {
        r["version"]: r["content_hash"] for lines in results.values() for r in lines
    }
    assert {v: h for v, h, _ in stored} == acked
    # lineage: each new version's parent is the version before it
    assert json.loads(stored[0][2]) == []
    for v, _, parents in stored[1:]:
        assert json.loads(parents) == [["acs", v - 1]], v
    audit = raw_rows(db, "SELECT object FROM audit_log WHERE action = 'register'")
    assert sorted(o for (o,) in audit) == sorted(
        f"asset:acs@{v}" for v in range(1, 101)
    )
    proj = Project.open(path)
    assert proj.verify().ok
    assert proj.asset("acs", 37).frame.shape == (30, 2)


def test_t19_two_processes_registering_the_same_frames_agree(tmp_path):
    path = tmp_path / "p"
    Project.open(path)._store.db.close()
    start = tmp_path / "go"
    procs = [
        spawn(str(WORKERS / "writer.py"), str(path), "same", "20", "7", str(start))
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    start.touch()
    outs = finish(procs)
    per_proc = [[json.loads(line) for line in out.splitlines()] for out, _ in outs]
    assert [r["version"] for r in per_proc[0]] == [r["version"] for r in per_proc[1]]
    assert sorted(r["version"] for r in per_proc[0]) == list(range(1, 21))
    db = path / "registry.sqlite"
    assert raw_rows(db, "SELECT COUNT(*) FROM asset_versions") == [(20,)]
    blobs = [f for f in (path / "artifacts").rglob("*") if f.is_file()]
    assert len(blobs) == 20
    assert Project.open(path).verify().ok


def test_t19_deferred_read_then_write_fails_with_database_is_locked(tmp_path):
    """What BEGIN IMMEDIATE avoids: two deferred transactions that read, then write."""
    db = tmp_path / "raw.sqlite"
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE v (n INTEGER UNIQUE)")
    setup.close()
    a = sqlite3.connect(db, timeout=0, isolation_level=None)
    b = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        na = a.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM v").fetchone()[0]
        nb = b.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM v").fetchone()[0]
        assert na == nb == 1  # both read the same next number
        a.execute("INSERT INTO v VALUES (?)", (na,))
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            b.execute("INSERT INTO v VALUES (?)", (nb,))
        a.execute("COMMIT")
        # even after the first commits, the second cannot upgrade its stale snapshot
        # (SQLITE_BUSY_SNAPSHOT), and waiting would not help
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            b.execute("INSERT INTO v VALUES (?)", (nb,))
        b.execute("ROLLBACK")
    finally:
        a.close()
        b.close()


def test_t19_write_path_uses_begin_immediate_and_serialises(tmp_path):
    reg = Registry(tmp_path / "r.sqlite")
    with reg.write() as conn:
        conn.execute("CREATE TABLE v (n INTEGER UNIQUE)")
    statements: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def trace(sql: str) -> None:
        with lock:
            statements.append(sql.strip())

    def worker() -> None:
        try:
            reg._conn().set_trace_callback(trace)  # this thread's own connection
            for _ in range(25):
                with reg.write() as conn:
                    n = conn.execute(
                        "SELECT COALESCE(MAX(n), 0) + 1 FROM v"
                    ).fetchone()[0]
                    time.sleep(0.001)  # widen the read-then-write window
                    conn.execute("INSERT INTO v VALUES (?)", (n,))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            reg.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r[0] for r in reg.query("SELECT n FROM v ORDER BY n")] == list(range(1, 76))
    begins = [s for s in statements if s.upper().startswith("BEGIN")]
    assert len(begins) == 75
    assert set(begins) == {"BEGIN IMMEDIATE"}


def test_t19_project_data_writes_only_inside_begin_immediate(tmp_path):
    proj = Project.open(tmp_path / "p")
    statements: list[str] = []
    proj._store.db._conn().set_trace_callback(lambda s: statements.append(s.strip()))
    proj.data("acs", frame(1, 0), target="y")
    proj.data("acs", frame(1, 1))
    proj._store.db._conn().set_trace_callback(None)
    in_tx = False
    writes = 0
    for s in statements:
        head = s.split(None, 1)[0].upper()
        if head == "BEGIN":
            assert s == "BEGIN IMMEDIATE"
            in_tx = True
        elif head in ("COMMIT", "ROLLBACK"):
            in_tx = False
        elif head in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            assert in_tx, s
            writes += 1
    assert writes >= 6  # artifact, version and audit rows, twice


# -- gc while another kernel registers -------------------------------------------------
def test_gc_between_blob_and_row_does_not_lose_the_blob(tmp_path, monkeypatch):
    """Kernel A wrote its blob and waits for the lock; kernel B runs gc() then."""
    path = tmp_path / "p"
    a = Project.open(path)
    b = Project.open(path)
    a.data("acs", frame(1, 0), target="y")
    real_put = a._store.put_blob

    removed = []

    def put_then_gc(data, *, media_type):
        digest = real_put(data, media_type=media_type)
        if not removed:  # the blob is not referenced yet: gc sees an orphan
            removed.append(b.gc()["unreferenced_blobs"])
        return digest

    monkeypatch.setattr(a._store, "put_blob", put_then_gc)
    v2 = a.data("acs", frame(1, 1))
    monkeypatch.undo()
    assert removed == [1]
    report = Project.open(path).verify()
    assert report.ok, report.problems
    assert Project.open(path).asset("acs", 2).frame.equals(v2.frame)


def test_record_blob_refuses_a_blob_that_gc_removed(tmp_path):
    """Without the bytes to put again, the row is refused rather than left dangling."""
    a = Project.open(tmp_path / "p")
    b = Project.open(tmp_path / "p")
    store = a._store
    data = b"model bytes" * 100
    digest = store.put_blob(data, media_type="application/octet-stream")
    assert b.gc()["unreferenced_blobs"] == 1
    with (
        pytest.raises(StoreError, match=f"artifact {digest} is not in"),
        store.write() as conn,
    ):
        store.record_blob(conn, digest, len(data), "application/octet-stream")
    assert store.query("SELECT COUNT(*) FROM artifacts")[0][0] == 0
    with store.write() as conn:  # with the bytes, it is put again under the lock
        store.record_blob(
            conn, digest, len(data), "application/octet-stream", data=data
        )
    assert store.read_blob(digest) == data
    with pytest.raises(StoreError, match="hash differently"), store.write() as conn:
        store.record_blob(conn, "0" * 64, 3, "application/octet-stream", data=b"abc")
    assert Project.open(tmp_path / "p").verify().ok


def test_gc_does_not_remove_a_temp_file_being_written(tmp_path, monkeypatch):
    """Kernel B's gc() runs while kernel A's blob is still a temp file."""
    path = tmp_path / "p"
    a = Project.open(path)
    b = Project.open(path)
    real_replace = os.replace
    seen = []

    def gc_then_replace(src, dst, *args, **kwargs):
        seen.append(Path(src).exists())
        seen.append(b.gc()["temp_files"])
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(artifacts_module.os, "replace", gc_then_replace)
    v1 = a.data("acs", frame(1, 0), target="y")
    monkeypatch.undo()
    assert seen == [True, 0]
    assert v1.version == 1
    assert Project.open(path).verify().ok
    # once the writer is gone, a left-over temp file is removed
    leftover = next((path / "artifacts").iterdir()) / ".tmp-deadbeef"
    leftover.write_bytes(b"partial")
    assert b.gc()["temp_files"] == 1
    assert not leftover.exists()


# -- T20 concurrent first open ---------------------------------------------------------
def run_first_open(
    tmp_path: Path, paths: list[Path], n_procs: int, *extra: str
) -> list[dict]:
    rounds = [
        {"path": str(p), "start": str(tmp_path / f"start-{i}")}
        for i, p in enumerate(paths)
    ]
    spec = tmp_path / "rounds.json"
    spec.write_text(json.dumps(rounds))
    procs = [
        spawn(str(WORKERS / "first_open.py"), str(spec), *extra) for _ in range(n_procs)
    ]
    results: list[dict] = []
    try:
        for i, job in enumerate(rounds):
            for p in procs:
                line = p.stdout.readline().strip()
                assert line == f"ready {i}", (line, p.stderr.read() if p.poll() else "")
            Path(job["start"]).touch()
            for p in procs:
                results.append(json.loads(p.stdout.readline()))
    finally:
        finish(procs)
    return results


def test_t20_concurrent_first_open_migrates_once(tmp_path):
    paths = [tmp_path / f"fresh{i}" for i in range(12)]
    # half the rounds: the folder does not exist yet; half: it exists and is empty
    for p in paths[::2]:
        p.mkdir(mode=0o700)
    results = run_first_open(tmp_path, paths, 4)
    failures = [r for r in results if not r["ok"]]
    assert failures == [], failures[0].get("trace") if failures else None
    assert {r["user_version"] for r in results} == {SCHEMA_VERSION}
    for p in paths:
        db = p / "registry.sqlite"
        assert raw_rows(db, "SELECT version FROM schema_migrations") == [
            (v,) for v in range(1, SCHEMA_VERSION + 1)
        ]
        assert raw_rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
        assert (p / "artifacts").is_dir()
        proj = Project.open(p)
        proj.data("acs", frame(3, 0), target="y")
        assert proj.verify().ok


def test_t20_concurrent_upgrade_from_the_previous_schema(tmp_path):
    paths = []
    for i in range(8):
        p = tmp_path / f"old{i}"
        proj = Project.open(p)
        proj.data("acs", frame(4, i), target="y")
        proj._store.db.close()
        paths.append(p)
    results = run_first_open(tmp_path, paths, 4, "--extra-migration")
    failures = [r for r in results if not r["ok"]]
    assert failures == [], failures[0].get("trace") if failures else None
    assert {r["user_version"] for r in results} == {SCHEMA_VERSION + 1}
    for p in paths:
        db = p / "registry.sqlite"
        assert raw_rows(
            db, "SELECT version FROM schema_migrations ORDER BY version"
        ) == [(v,) for v in range(1, SCHEMA_VERSION + 2)]
        assert raw_rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
        cols = [r[1] for r in raw_rows(db, "PRAGMA table_info(asset_versions)")]
        assert cols.count("extra") == 1
        assert raw_rows(db, "SELECT COUNT(*) FROM asset_versions") == [(1,)]


# -- T21 backup while writing ----------------------------------------------------------
def test_t21_backup_while_another_process_writes(tmp_path):
    path = tmp_path / "p"
    proj = Project.open(path)
    start, stop = tmp_path / "go", tmp_path / "stop"
    start.touch()
    writer = spawn(
        str(WORKERS / "writer.py"), str(path), "acs", "0", "5", str(start), str(stop)
    )
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        for _ in range(3):
            assert writer.stdout.readline(), writer.stderr.read()
        windows = []
        for i in range(4):
            t0 = time.time()
            proj.backup(tmp_path / f"backup{i}")
            windows.append((t0, time.time()))
            time.sleep(0.05)
    finally:
        stop.touch()
    ((out, err),) = finish([writer])
    assert "database is locked" not in err
    acked = [json.loads(line) for line in out.splitlines()]
    during = sum(any(t0 <= r["t"] <= t1 for t0, t1 in windows) for r in acked)
    source = raw_rows(
        path / "registry.sqlite", "SELECT * FROM asset_versions ORDER BY id"
    )
    for i in range(4):
        dest = tmp_path / f"backup{i}"
        db = dest / "registry.sqlite"
        assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
        copy = raw_rows(db, "SELECT * FROM asset_versions ORDER BY id")
        assert len(copy) >= 3
        assert copy == source[: len(copy)]  # a committed state: a prefix of the history
        backup = Project.open(dest)
        report = backup.verify()
        assert report.ok, report.problems
        assert report.result.unreferenced == []
        assert backup.asset("acs", len(copy)).frame.equals(
            Project.open(path).asset("acs", len(copy)).frame
        )
    assert during >= 1, "no version was written while a backup ran"
    print(f"T21: {len(acked)} versions written, {during} of them while a backup ran")
