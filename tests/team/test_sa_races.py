"""Many writers on a real PostgreSQL, in separate processes (as separate machines):
gap-free version numbers, one audit chain, exactly one production version per name."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_nb.errors import StoreError
from mlops_nb.store._db import now
from mlops_nb.store._migrate import upgrade
from mlops_nb.store._sa_registry import SARegistry, next_version, set_stage

WORKER = str(Path(__file__).with_name("_sa_worker.py"))
_MODEL = (
    "INSERT INTO model_versions(name, version, stage, flavor, artifacts, recipe, "
    "metrics, lineage, environment, created_at, created_by) VALUES (?, ?, ?, 'lgbm', "
    '\'{}\', \'{"estimator": "x", "task": "binary"}\', \'{}\', \'{"data": []}\', '
    "'{}', ?, 'test')"
)


def _start(url, mode, workers, count, tmp_path, *extra):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                WORKER,
                url,
                mode,
                str(w),
                str(count),
                str(go),
                *map(str, e),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, e in zip(range(workers), extra or [()] * workers, strict=True)
    ]
    for proc in procs:  # every worker has opened the store before any writes
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
    return procs, go


def _finish(procs):
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        outs.append([json.loads(line) for line in out.splitlines() if line.strip()])
    return outs


@pytest.mark.slow
def test_four_processes_register_versions_gap_free_with_one_audit_chain(
    pg_url, tmp_path
):
    upgrade(pg_url)
    procs, go = _start(pg_url, "versions", 4, 25, tmp_path)
    go.touch()
    outs = _finish(procs)

    reported = [r for out in outs for r in out]
    assert len(reported) == 100
    reg = SARegistry(pg_url)
    try:
        rows = reg.query(
            "SELECT version, content_hash FROM asset_versions WHERE name = ? "
            "ORDER BY version",
            ("shared",),
        )
        assert [r["version"] for r in rows] == list(range(1, 101))  # gap-free
        stored = {r["content_hash"]: r["version"] for r in rows}
        for r in reported:  # no lost write: each one committed is there as reported
            assert stored[f"{r['worker']:02d}-{r['step']:04d}"] == r["version"]
        audit = reg.query("SELECT object, detail FROM audit_log ORDER BY id")
        assert sorted(a["object"] for a in audit) == sorted(
            f"asset:shared@{v}" for v in range(1, 101)
        )
        # the chain is in commit order: each entry names the next version
        assert [a["object"] for a in audit] == [
            f"asset:shared@{v}" for v in range(1, 101)
        ]
        assert reg.audit_chain_problems() == []
    finally:
        reg.close()


def _models(reg, n, production=1):
    with reg.write() as conn:
        for v in range(1, n + 1):
            stage = "production" if v == production else "candidate"
            conn.execute(_MODEL, ("clf", v, stage, now()))
    return {
        r["version"]: r["id"]
        for r in reg.query("SELECT id, version FROM model_versions")
    }


def _waiting(reg, n):
    """Wait until ``n`` other sessions wait for a lock (the workers, blocked)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = reg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        if rows[0][0] >= n:
            return
        time.sleep(0.05)
    pytest.fail(f"the {n} workers never waited for the lock")


def test_two_processes_promoting_different_versions_leave_exactly_one_production(
    pg_url, tmp_path
):
    upgrade(pg_url)
    reg, watcher = SARegistry(pg_url), SARegistry(pg_url)
    try:
        ids = _models(reg, 3)
        # hold every version of "clf" so both promotions are in flight at once
        with reg.write() as hold:
            hold.execute("SELECT id FROM model_versions WHERE name = 'clf' FOR UPDATE")
            procs, go = _start(pg_url, "promote", 2, 1, tmp_path, [ids[2]], [ids[3]])
            go.touch()
            _waiting(watcher, 2)
        outs = _finish(procs)
        rows = reg.query("SELECT version, stage FROM model_versions ORDER BY version")
        stages = {r["version"]: r["stage"] for r in rows}
        assert list(stages.values()).count("production") == 1
        winner = next(v for v, s in stages.items() if s == "production")
        assert winner in (2, 3)
        assert stages[1] == "archived"
        assert stages[5 - winner] == "archived"  # the first promotion was replaced
        # the history replays to the final stages, one change at a time
        history = reg.query(
            "SELECT m.version, h.from_stage, h.to_stage FROM model_stage_history h "
            "JOIN model_versions m ON m.id = h.model_id ORDER BY h.id"
        )
        replay = {1: "production", 2: "candidate", 3: "candidate"}
        for h in history:
            assert replay[h["version"]] == h["from_stage"]
            replay[h["version"]] = h["to_stage"]
        assert replay == stages
        assert sorted(len(out[0]["changes"]) for out in outs) == [2, 2]
        assert reg.audit_chain_problems() == []
    finally:
        reg.close()
        watcher.close()


def test_set_stage_moves_one_version_and_archives_the_old_production(pg_url):
    upgrade(pg_url)
    reg = SARegistry(pg_url)
    try:
        ids = _models(reg, 3)
        with reg.write() as conn:
            assert set_stage(conn, ids[2], "staging", "try", "me") == [
                (ids[2], "candidate", "staging")
            ]
            assert set_stage(conn, ids[2], "staging", "again", "me") == []
            assert set_stage(conn, ids[3], "production", "better", "me") == [
                (ids[1], "production", "archived"),
                (ids[3], "candidate", "production"),
            ]
        with pytest.raises(StoreError, match="not one of candidate"), reg.write() as c:
            set_stage(c, ids[2], "prod", "typo", "me")
        with (
            pytest.raises(StoreError, match="no model version with id"),
            reg.write() as c,
        ):
            set_stage(c, 10**9, "production", "gone", "me")
        stages = [
            r[0] for r in reg.query("SELECT stage FROM model_versions ORDER BY version")
        ]
        assert stages == ["archived", "staging", "production"]
    finally:
        reg.close()


@pytest.mark.parametrize(
    ("table", "kind"),
    [("audit_log", None), ("model_thresholds", None), ("documents", None),
     ("asset_versions", "canvas"), ("users; DROP TABLE x", None)],
)  # fmt: skip
def test_next_version_refuses_what_is_not_a_versioned_table(pg_url, table, kind):
    upgrade(pg_url)
    reg = SARegistry(pg_url)
    try:
        with pytest.raises(StoreError, match="not a versioned table"), reg.write() as c:
            next_version(c, table, "x", kind=kind)
        with reg.write() as c:
            assert next_version(c, "documents", "x", kind="canvas") == 1
            assert next_version(c.sa, "model_versions", "x") == 1
    finally:
        reg.close()


def _next_version_within(reg, name, timeout):
    with reg.write() as conn:
        conn.execute(f"SET LOCAL lock_timeout = '{timeout}'")
        return next_version(conn, "model_versions", name)


def test_next_version_holds_the_name_until_commit(pg_url):
    """A second writer of the same name waits; one of another name does not."""
    upgrade(pg_url)
    first, second = SARegistry(pg_url), SARegistry(pg_url)
    try:
        with first.write() as conn:
            assert next_version(conn, "model_versions", "a") == 1
            conn.execute(_MODEL, ("a", 1, "candidate", now()))
            with second.write() as other:  # another name: no wait
                other.execute("SET LOCAL lock_timeout = '200ms'")
                assert next_version(other, "model_versions", "b") == 1
            with pytest.raises(StoreError, match="lock timeout"):
                _next_version_within(second, "a", "200ms")
        with second.write() as conn:
            assert next_version(conn, "model_versions", "a") == 2
    finally:
        first.close()
        second.close()


def test_a_writer_waits_lock_timeout_for_another_then_fails_clearly(pg_url):
    from mlops_nb._config import get_config, set_config

    upgrade(pg_url)
    before = get_config()["lock_timeout"]
    set_config(lock_timeout=0.3)
    holder, waiter = SARegistry(pg_url), SARegistry(pg_url)
    set_config(lock_timeout=before)
    try:
        with holder.write() as conn:
            holder.audit(conn, "slow", "x")  # holds the audit log's lock
            with pytest.raises(StoreError, match="lock timeout; nothing was changed"):
                _audit_once(waiter)
        _audit_once(waiter)  # the lock is free again
        assert [r[0] for r in waiter.query("SELECT action FROM audit_log")] == [
            "slow",
            "waiter",
        ]
    finally:
        holder.close()
        waiter.close()


def _audit_once(reg):
    with reg.write() as conn:
        reg.audit(conn, "waiter", "x")
