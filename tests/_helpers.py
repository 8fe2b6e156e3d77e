"""Helpers shared by the tests (import with ``from _helpers import ...``)."""

from __future__ import annotations


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
