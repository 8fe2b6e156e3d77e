"""Subprocess entry point: one "machine" writing a team store concurrently.

Usage: python _sa_worker.py URL MODE WORKER COUNT START_FILE [MODEL_ID]

Opens an :class:`SARegistry`, prints ``ready``, waits until START_FILE exists, then:

versions
    COUNT times, in one write each: take ``next_version`` of the asset ``shared``,
    add its artifact row and version row, and append an audit entry naming it.
    Prints one JSON line per committed write: ``{"worker", "step", "version"}``.
promote
    Once: move model version MODEL_ID to production with ``set_stage`` and audit
    it. Prints ``{"changes": [...]}``.

Any exception is printed to stderr with its traceback and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from mlops_nb.store._db import now
from mlops_nb.store._sa_registry import SARegistry, next_version, set_stage

_ASSET = (
    "INSERT INTO asset_versions(name, version, content_hash, artifact, n_rows, n_cols, "
    '"schema", parents, operation, params, note, source, created_at, created_by) '
    "VALUES (?, ?, ?, ?, 1, 1, '{\"columns\": []}', '[]', 'register', '{}', '', "
    "'test', ?, ?)"
)


def versions(reg: SARegistry, worker: int, count: int) -> None:
    for step in range(count):
        digest = f"{worker:02d}-{step:04d}"
        with reg.write() as conn:
            version = next_version(conn, "asset_versions", "shared")
            conn.execute(
                "INSERT INTO artifacts(digest, size, media_type, created_at) "
                "VALUES (?, 1, 'application/x-test', ?)",
                (digest, now()),
            )
            conn.execute(
                _ASSET, ("shared", version, digest, digest, now(), f"w{worker}")
            )
            reg.audit(
                conn, "register", f"asset:shared@{version}", worker=worker, step=step
            )
        print(json.dumps({"worker": worker, "step": step, "version": version}))


def promote(reg: SARegistry, worker: int, model_id: int) -> None:
    with reg.write() as conn:
        changes = set_stage(conn, model_id, "production", f"worker {worker}", "test")
        reg.audit(conn, "promote", f"model:{model_id}", worker=worker)
    print(json.dumps({"changes": changes}))


def main() -> int:
    url, mode, worker, count, start = sys.argv[1:6]
    try:
        reg = SARegistry(url)
        print("ready", flush=True)
        while not Path(start).exists():
            time.sleep(0.01)
        if mode == "versions":
            versions(reg, int(worker), int(count))
        else:
            promote(reg, int(worker), int(sys.argv[6]))
        reg.close()
    except Exception:  # reported to the parent test
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
