"""Issue 14 item 9: a project this user cannot write to opens read-only.

Reading (assets, models, predictions, verify) works; anything that would change the
project raises a StoreError that says it is read-only, and not one byte of the folder
changes. The tests run as root, whom file modes do not stop: the child process drops
every capability first (``_workers/readonly_reader.py``), so modes apply to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _helpers import raw_snapshot

WORKERS = Path(__file__).parent / "_workers"
NOBODY = 65534
READS = ["assets", "asset frame", "versions", "models", "predict", "verify"]
WRITES = ["data", "train", "canvas", "gc", "generate_key", "sign_model"]


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """A signed project, and what reading it gives to a user who can write it."""
    path = tmp_path_factory.mktemp("ro") / "proj"
    proj = mnb.Project.open(path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(120), "y": rng.integers(0, 2, 120)})
    proj.data("toy", frame, target="y")
    model = proj.train("m", proj.asset("toy"), estimator="logistic")
    mnb.secure.generate_key(proj)
    mnb.secure.sign_model(model)
    new = pd.DataFrame({"x": np.arange(30.0)})
    values = {
        "assets": len(proj.assets()),
        "asset frame": len(proj.asset("toy").frame),
        "versions": len(proj.versions("toy")),
        "models": len(proj.models()),
        "predict": model.predict(new).tolist(),
        "verify": [True, {}],
    }
    assert proj.verify().ok
    proj._store.db.close()  # the last connection: SQLite folds the WAL in
    return path, values


def _copy(expected, tmp_path) -> Path:
    src, _ = expected
    dest = tmp_path / "copy"
    mnb.Project.open(src).backup(dest)
    # the backup leaves the private key behind: bring it along for these tests
    (dest / "keys" / "ed25519.pem").write_bytes((src / "keys/ed25519.pem").read_bytes())
    (dest / "keys" / "ed25519.pem").chmod(0o600)
    return dest


def _walk(root: Path):
    yield root
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(dirpath) / name


def _another_users(root: Path) -> None:
    """Owned by 'nobody', readable by all, writable by none but its owner."""
    for p in _walk(root):
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
        p.chmod(0o755 if p.is_dir() else 0o644)
    (root / "keys").chmod(0o755)
    (root / "keys" / "ed25519.pem").chmod(0o600)  # the private key stays private


def _write_protected(root: Path) -> None:
    """The owner's own project after ``chmod -R a-w``."""
    for p in _walk(root):
        p.chmod(0o555 if p.is_dir() else 0o444)
    (root / "keys").chmod(0o500)
    (root / "keys" / "ed25519.pem").chmod(0o400)


def _run(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(WORKERS / "readonly_reader.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=path.parent,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check(result: dict, values: dict, path: Path) -> None:
    warned = " ".join(result["open"]["warnings"])
    assert "read-only" in warned, warned
    for step in READS:
        assert result[step]["ok"], (step, result[step])
        assert result[step]["value"] == values[step], step
    assert result["verify_model"]["value"] == "verified"
    for step in WRITES:
        outcome = result[step]
        assert not outcome["ok"], (step, outcome)
        assert outcome["mlops_nb"], (step, outcome)
        assert outcome["error"].startswith("StoreError"), (step, outcome)
        assert "read-only" in outcome["error"], (step, outcome)
        assert str(path) in outcome["error"], (step, outcome)


@pytest.mark.parametrize("protect", [_another_users, _write_protected])
def test_a_project_that_cannot_be_written_opens_read_only(expected, tmp_path, protect):
    path = _copy(expected, tmp_path)
    protect(path)
    before = raw_snapshot(path)
    try:
        result = _run(path)
        _check(result, expected[1], path)
        assert raw_snapshot(path) == before  # not one byte, and no -wal/-shm made
    finally:
        for p in _walk(path):  # let pytest clean up
            p.chmod(0o700 if p.is_dir() else 0o600)


def test_a_read_only_project_with_a_live_writer_reads_its_wal(expected, tmp_path):
    """Another kernel (the owner) holds the project open: its WAL is read too."""
    path = _copy(expected, tmp_path)
    owner = mnb.Project.open(path)
    frame = pd.DataFrame({"x": np.linspace(0, 1, 40), "y": np.arange(40) % 2})
    owner.data("toy", frame, target="y")  # version 2, still in the -wal file
    assert (path / "registry.sqlite-wal").stat().st_size > 0
    _another_users(path)
    (path / "registry.sqlite-shm").chmod(0o644)
    (path / "registry.sqlite-wal").chmod(0o644)
    try:
        result = _run(path)
        assert result["versions"] == {"ok": True, "value": 2}, result["versions"]
        assert result["data"]["error"].startswith("StoreError"), result["data"]
    finally:
        owner._store.db.close()
        for p in _walk(path):
            p.chmod(0o700 if p.is_dir() else 0o600)
