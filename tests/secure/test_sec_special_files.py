"""Issue 14 item 9: a FIFO, socket or folder in place of a file Sec Ops reads.

Opening a FIFO for reading waits for a writer, so a named pipe put in place of the
key file (or the trust file, or a pinned dataset file) used to hang the kernel. Each
child process below meets one such special file and must end, within a bounded
timeout, with a clear mlops_nb error naming the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _helpers import open_code
from mlops_nb.secure import _keys
from mlops_nb.secure._trust import trust_path

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 120  # generous: the old code never returned at all


SPECIAL = """
import os, socket
from pathlib import Path

def special(path, kind):
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    else:
        path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path.mkdir(mode=0o700)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(1)
        path.chmod(0o600)
        return sock
"""
KINDS = ["fifo", "socket", "directory"]


def _run(path: Path, code: str) -> dict[str, dict]:
    """In a child, put each kind of special file at ``path`` and run ``code``.

    The child prints one JSON object: kind -> the error that ``code`` raised.
    """
    script = SPECIAL + textwrap.dedent(
        """
        import json
        import mlops_nb as mnb
        from mlops_nb.errors import MlopsNbError
        results = {{}}
        for kind in {kinds!r}:
            keep = special({path!r}, kind)
            try:
        {body}
                results[kind] = {{"error": None}}
            except Exception as err:
                results[kind] = {{
                    "error": type(err).__name__, "message": str(err),
                    "mlops_nb": isinstance(err, MlopsNbError),
                }}
            if keep is not None:
                keep.close()
        print(json.dumps(results))
        """
    ).format(
        kinds=KINDS,
        path=str(path),
        body=textwrap.indent(textwrap.dedent(code).strip(), " " * 8),
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child hung for {TIMEOUT} s on a special file")
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_special_key_file_is_refused_without_blocking(sec_project):
    mnb.secure.generate_key(sec_project)
    path = _keys.key_path(sec_project)
    results = _run(
        path,
        f"""
        proj = {open_code(sec_project)}
        mnb.secure.sign_model(proj.model("clf", version=1))
        """,
    )
    for kind in KINDS:
        result = results[kind]
        assert result["error"] == "IntegrityError", (kind, result)
        assert result["mlops_nb"]
        assert str(path) in result["message"]
        assert "not a regular file" in result["message"]


def test_a_special_trust_file_is_refused_without_blocking(sec_project):
    mnb.secure.generate_key(sec_project)
    path = trust_path(sec_project)
    results = _run(
        path,
        f"""
        from mlops_nb.secure._trust import read_trust_file
        read_trust_file({open_code(sec_project)})
        """,
    )
    for kind in KINDS:
        result = results[kind]
        assert result["error"] == "IntegrityError", (kind, result)
        assert str(path) in result["message"]
        assert "not a regular file" in result["message"]


def test_a_special_pinned_data_file_is_refused_without_blocking(tmp_path):
    proj = mnb.Project.open(tmp_path / "proj")
    rng = np.random.default_rng(0)
    good = tmp_path / "a.csv"
    pd.DataFrame({"x": rng.random(20), "y": rng.integers(0, 2, 20)}).to_csv(
        good, index=False
    )
    mnb.secure.ingest(proj, "pinned", [good], target="y")
    results = _run(
        good,
        f"""
        proj = mnb.Project.open({str(proj.path)!r})
        mnb.secure.ingest(proj, "pinned", [{str(good)!r}], target="y")
        """,
    )
    for kind in KINDS:
        result = results[kind]
        assert result["error"] == "DataReadError", (kind, result)
        assert str(good) in result["message"]
        assert "not a regular file" in result["message"]
    assert proj.asset("pinned").version == 1  # nothing new was registered
