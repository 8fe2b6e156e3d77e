"""Subprocess entry point for T20: open fresh (or old-schema) projects all at once.

Usage: python first_open.py ROUNDS_JSON [--extra-migration]

ROUNDS_JSON lists {"path": ..., "start": ...}. For each round the worker prints
``ready <i>``, waits for the start file, calls ``Project.open(path)`` and prints one
JSON line {"round", "ok", "error", "user_version"}. With ``--extra-migration`` this
process knows a schema one version newer than the installed mlops_nb (a column added
with ALTER TABLE, which fails with "duplicate column" if applied twice).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from mlops_nb._project import Project
from mlops_nb.store import _db


def main() -> int:
    rounds = json.loads(open(sys.argv[1]).read())  # noqa: PTH123, SIM115
    if "--extra-migration" in sys.argv:
        _db._MIGRATIONS.append("ALTER TABLE asset_versions ADD COLUMN extra TEXT;")
        _db.SCHEMA_VERSION = len(_db._MIGRATIONS)
    for i, job in enumerate(rounds):
        print(f"ready {i}", flush=True)
        while not Path(job["start"]).exists():
            time.sleep(0.0005)
        try:
            proj = Project.open(job["path"])
            result = {"round": i, "ok": True, "error": None,
                      "user_version": proj._store.db.schema_version()}  # fmt: skip
            proj._store.db.close()
        except Exception as err:
            result = {"round": i, "ok": False, "user_version": None,
                      "error": f"{type(err).__name__}: {err}",
                      "trace": traceback.format_exc()}  # fmt: skip
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
