"""The team store adds nothing to ``import mlops_nb`` or to ``mlops-nb --help``."""

from __future__ import annotations

import json
import subprocess
import sys

TEAM_ONLY = ["sqlalchemy", "alembic", "psycopg", "s3fs", "fsspec", "boto3", "moto"]


def test_import_and_the_cli_parser_load_no_database_or_object_store_module():
    code = (
        "import json, sys, mlops_nb, mlops_nb.store, mlops_nb.cli as c; "
        "c.build_parser(); import mlops_nb.store._urls; "
        f"print(json.dumps([m for m in {TEAM_ONLY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_db_help_lists_upgrade_and_current():
    out = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "db", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "upgrade" in out.stdout
    assert "current" in out.stdout
