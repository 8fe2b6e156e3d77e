"""Issue 14 item 9: backup() and key generation on a full disk.

A child process lowers RLIMIT_FSIZE (SIGXFSZ ignored) so every write past the limit
fails with EFBIG, as on a full disk, at each limit in a range that makes a different
step fail (the database copy, an artifact, the trust file). Expect a StoreError that
says what failed and how to fix it, no partial backup folder, no temporary key file,
and the project unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _helpers import tree_snapshot

WORKERS = Path(__file__).parent / "_workers"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    proj = mnb.Project.open(tmp_path_factory.mktemp("full") / "proj")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(3000), "y": rng.integers(0, 2, 3000)})
    proj.data("toy", frame, target="y")
    proj.data("toy", frame.assign(z=rng.random(3000)), target="y")
    mnb.secure.generate_key(proj)
    proj._store.db.close()
    return proj.path


def _run(jobs: list[dict], tmp_path: Path) -> list[dict]:
    spec = tmp_path / "jobs.json"
    spec.write_text(json.dumps(jobs))
    out = subprocess.run(
        [sys.executable, str(WORKERS / "fsize_backup.py"), str(spec)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.strip().splitlines()]


def _sizes(path: Path) -> list[int]:
    return sorted(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_backup_on_a_full_disk_leaves_nothing_behind(template, tmp_path):
    src = mnb.Project.open(template).backup(tmp_path / "src")  # a project to attack
    sizes = _sizes(src)
    # limits that stop the copy at each step: inside the database, each artifact,
    # the anchor and trust files
    limits = sorted({1, 100, 1000, *(s - 1 for s in sizes if s > 1), 4096, 8192})
    before = tree_snapshot(src)
    jobs = [
        {"action": "backup", "path": str(src), "dest": str(tmp_path / f"b{i}/x/y")}
        for i in range(len(limits))
    ]
    for job, limit in zip(jobs, limits, strict=True):
        job["limit"] = limit
    results = _run(jobs, tmp_path)
    failed = 0
    for job, result in zip(jobs, results, strict=True):
        dest = Path(job["dest"])
        if result["ok"]:  # the limit was above every file written: a whole backup
            assert mnb.Project.open(dest).verify().ok
            continue
        failed += 1
        assert result["mlops_nb"], result
        assert result["error"].startswith("StoreError"), result
        assert f"backup to {dest} failed" in result["error"], result
        assert "Free space" in result["error"], result
        assert not dest.parent.parent.exists(), (job["limit"], result)  # b{i} too
    assert failed >= len(limits) - 2  # nearly every limit stops the copy somewhere
    assert tree_snapshot(src) == before  # the project is unchanged
    assert mnb.Project.open(src).verify().ok


@pytest.mark.parametrize("empty_dest", [False, True])
def test_a_failed_backup_keeps_an_existing_empty_destination(
    template, tmp_path, empty_dest
):
    dest = tmp_path / "dest"
    if empty_dest:
        dest.mkdir()
    results = _run(
        [{"action": "backup", "path": str(template), "dest": str(dest), "limit": 1}],
        tmp_path,
    )
    assert results[0]["error"].startswith("StoreError"), results
    assert dest.exists() == empty_dest  # the user's folder stays, and is empty
    if empty_dest:
        assert list(dest.iterdir()) == []


def test_key_generation_on_a_full_disk_leaves_no_temp_file(tmp_path):
    jobs = []
    for i, limit in enumerate([1, 50, 118, 200, 300, 432]):
        proj = mnb.Project.open(tmp_path / f"p{i}")
        proj._store.db.close()
        jobs.append({"action": "key", "path": str(proj.path), "limit": limit})
    befores = [tree_snapshot(job["path"]) for job in jobs]
    results = _run(jobs, tmp_path)
    for job, before, result in zip(jobs, befores, results, strict=True):
        assert not result["ok"], job
        assert result["error"].startswith("StoreError"), result
        assert "generate_key" in result["error"] or "trust file" in result["error"]
        keys = Path(job["path"]) / "keys"
        left = sorted(p.name for p in keys.iterdir()) if keys.exists() else []
        assert left == [], (job["limit"], left)  # no .tmp-PID, no half-installed key
        after = tree_snapshot(job["path"])
        for anchor in ("audit.head", ".audit.head.lock"):  # the audit anchor's own
            before.pop(anchor, None)  # files (store/_anchor.py) are not checked here
            after.pop(anchor, None)
        assert after == before, job["limit"]
        mnb.secure.generate_key(mnb.Project.open(job["path"]))  # works with space
