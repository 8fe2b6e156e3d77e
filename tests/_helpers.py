"""Helpers shared by the tests (import with ``from _helpers import ...``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def tree_snapshot(root) -> dict[str, object]:
    """What a folder holds, to show nothing changed: (size, sha256) of every file, and
    for a registry database its content (SQLite's own -wal/-shm bookkeeping aside)."""
    import hashlib
    import sqlite3
    from pathlib import Path

    out: dict[str, object] = {}
    for p in sorted(Path(root).rglob("*")):
        if not p.is_file() or p.is_symlink() or p.name.endswith(("-wal", "-shm")):
            continue
        key = str(p.relative_to(root))
        if p.name == "registry.sqlite":
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                out[key] = list(conn.iterdump())
            finally:
                conn.close()
        else:
            out[key] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def raw_snapshot(root: Path) -> dict[str, tuple[int, str] | str]:
    """(path -> size, sha256) of every file, folder and link under ``root``, byte for
    byte (SQLite's -wal/-shm included; see :func:`tree_snapshot` for database
    content)."""
    out: dict[str, tuple[int, str] | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow links
        for entry in dirnames + filenames:
            p = Path(dirpath) / entry
            key = str(p.relative_to(root))
            if p.is_symlink():
                out[key] = f"link:{p.readlink()}"
            elif p.is_dir():
                out[key] = "dir"
            else:
                data = p.read_bytes()
                out[key] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def reopen(project, **kwargs):
    """Open ``project`` again, as a new kernel would: its folder, or its team URLs.

    Tests that show something survives a restart use this instead of
    ``Project.open(project.path)``, so they run on both back ends
    (``MLOPS_NB_TEST_STORE``; the test URLs carry no password).
    """
    import mlops_nb as mnb

    store = project._store
    if hasattr(store, "artifacts_location"):  # a TeamStore
        return mnb.Project.open(store.location, artifacts=store.artifacts.url, **kwargs)
    return mnb.Project.open(project.path, **kwargs)


def project_args(project) -> list[str]:
    """The command-line words naming ``project``: ``PATH`` or ``URL --artifacts A``."""
    store = project._store
    if hasattr(store, "artifacts_location"):  # a TeamStore
        return [store.location, "--artifacts", store.artifacts.url]
    return [str(project.path)]


def open_code(project) -> str:
    """Python source that opens ``project`` in another process (folder or team)."""
    store = project._store
    if hasattr(store, "artifacts_location"):  # a TeamStore
        return (
            f"mnb.Project.open({store.location!r}, create=False, "
            f"artifacts={store.artifacts.url!r})"
        )
    return f"mnb.Project.open({str(project.path)!r}, create=False)"
