"""An edge bundle runs only code it verified (issue 14 item 2).

``python predict.py`` puts the bundle folder first on ``sys.path``: a ``hashlib.py``
dropped in ran before the manifest check, an ``onnxruntime.py`` after it, and
``--verify`` still passed. Each canary below would create a marker file if Python
imported it; the bundle must refuse to run (exit 3, naming the file) and the marker
must never appear. A file of rows that cannot be read exits 2 with a message, never a
traceback.
"""

from __future__ import annotations

import os
import py_compile
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from _offline_guard import SITE_DIR


@pytest.fixture(scope="module")
def bundle(dep, tmp_path_factory):
    with mnb.config_context(user="tester"):
        variants = dep.lgbm.optimize(
            dep.test, kinds=("graph",), energy=False, memory=False, latency_seconds=0.02
        )
        variant = next(v for v in variants if v.row["kind"] == "graph")
        return variant.bundle(tmp_path_factory.mktemp("edge-inject") / "clf")


@pytest.fixture(scope="module")
def rows_csv(dep, tmp_path_factory) -> Path:
    frame = dep.test.frame.head(4).drop(columns=["y", "group", "id"])
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def run_plain(folder: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python predict.py ...`` as a user types it (no -I): the attack's setting.

    Without the offline guard's ``sitecustomize`` (it imports ``json`` and
    ``__future__`` at startup, before the bundle folder is on ``sys.path``, which
    would hide the attack on those two).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p
        for p in env.get("PYTHONPATH", "").split(os.pathsep)
        if p and Path(p).resolve() != SITE_DIR.resolve()
    )
    return subprocess.run(
        [sys.executable, str(folder / "predict.py"), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of(bundle, tmp_path: Path, name: str = "copy") -> Path:
    folder = tmp_path / name
    shutil.copytree(bundle.folder, folder, symlinks=True)
    return folder


CANARIES = [
    "hashlib.py",  # imported before the manifest check
    "json.py",
    "argparse.py",
    "__future__.py",  # a `from __future__` line would import it first of all
    "onnxruntime.py",  # imported after the manifest check
    "onnxruntime/__init__.py",  # as a package folder
    "numpy/__init__.py",
]


@pytest.mark.parametrize("canary", CANARIES)
def test_a_dropped_in_module_never_runs_and_the_bundle_refuses(
    bundle, rows_csv, tmp_path, canary
):
    folder = copy_of(bundle, tmp_path)
    marker = tmp_path / "MARKER"
    target = folder / canary
    target.parent.mkdir(exist_ok=True)
    target.write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    listed = canary.split("/")[0]
    for argv, cwd in (
        (("--verify", "--manifest-sha256", bundle.manifest_sha256), folder),
        ((str(rows_csv),), folder),
        ((str(rows_csv), "--format", "csv"), tmp_path),
    ):
        result = run_plain(folder, *argv, cwd=cwd)
        assert not marker.exists(), (canary, argv, result.stderr)
        assert result.returncode == 3, (canary, argv, result.stdout, result.stderr)
        assert "bundle verified" not in result.stdout
        assert f"{listed}: a " in result.stderr, result.stderr
        assert "does not list" in result.stderr
        assert "Traceback" not in result.stderr


def test_legacy_pyc_and_symlinks_in_the_bundle_are_refused(bundle, tmp_path):
    marker = tmp_path / "MARKER"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "hashlib.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (elsewhere / "README.md").write_bytes((bundle.folder / "README.md").read_bytes())
    cases = {
        "link to a module": lambda f: (f / "hashlib.py").symlink_to(
            elsewhere / "hashlib.py"
        ),
        "link to a folder": lambda f: (f / "lib").symlink_to(
            elsewhere, target_is_directory=True
        ),
        "listed file as a link": lambda f: (
            (f / "README.md").unlink(),
            (f / "README.md").symlink_to(elsewhere / "README.md"),
        ),
        "dangling link": lambda f: (f / "notes.txt").symlink_to(tmp_path / "nowhere"),
        "stray data file": lambda f: (f / ".DS_Store").write_bytes(b"\0\1"),
        "sourceless hashlib.pyc": lambda f: py_compile.compile(
            str(elsewhere / "hashlib.py"), cfile=str(f / "hashlib.pyc"), doraise=True
        ),
    }
    for i, (case, plant) in enumerate(cases.items()):
        folder = copy_of(bundle, tmp_path, f"c{i}")
        plant(folder)
        result = run_plain(
            folder, "--verify", "--manifest-sha256", bundle.manifest_sha256, cwd=folder
        )
        assert result.returncode == 3, (case, result.stdout, result.stderr)
        assert "refusing to run" in result.stderr, (case, result.stderr)
        assert not marker.exists(), case
    # the clean bundle still verifies, as plain `python predict.py` and with -I
    clean = run_plain(
        bundle.folder,
        "--verify",
        "--manifest-sha256",
        bundle.manifest_sha256,
        cwd=bundle.folder,
    )
    assert clean.returncode == 0, clean.stderr
    assert "bundle verified" in clean.stdout


def test_unreadable_rows_exit_2_with_a_message_never_a_traceback(
    bundle, rows_csv, tmp_path
):
    good = rows_csv.read_bytes()
    files = {
        "latin1.csv": good.replace(b"\n", b"\n\xe9\xff", 1),
        "huge-field.csv": good + b'"' + b"x" * 200_000 + b'",1,2,3\n',
        "ragged.csv": good + b"1,2,red,S,extra,more\n",
        "binary.json": b"\x00\xff\xfe garbage",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.csv").mkdir()
    for name in [*files, "folder.csv", "missing.csv"]:
        result = run_plain(bundle.folder, str(tmp_path / name), cwd=tmp_path)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert result.stderr.startswith("predict.py: "), (name, result.stderr)
        assert result.stdout == ""


@pytest.fixture(scope="module")
def bundle_main(bundle):
    """The bundle's own ``main``, loaded from its predict.py (not from mlops_nb)."""
    namespace = runpy.run_path(str(bundle.folder / "predict.py"), run_name="bundle")
    assert Path(namespace["__file__"]).parent == bundle.folder
    return namespace["main"]


CORRUPTIONS = st.sampled_from(["bad_utf8", "huge_field", "ragged", "not_number"])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(how=CORRUPTIONS, at=st.floats(0, 1), junk=st.binary(min_size=1, max_size=8))
def test_any_corrupted_csv_exits_2(
    bundle_main, rows_csv, tmp_path, capsys, how, at, junk
):
    lines = rows_csv.read_bytes().splitlines(keepends=True)
    header, body = lines[0], b"".join(lines[1:])
    cut = int(at * len(body))
    if how == "bad_utf8":  # a lone continuation / invalid lead byte is never UTF-8
        data = header + body[:cut] + b"\xff" + junk + body[cut:]
    elif how == "huge_field":
        data = header + body + b'"' + b"y" * 140_000 + b'"\n'
    elif how == "ragged":
        data = header + body + b"1,2,3,4,5," + junk.hex().encode() + b"\n"
    else:
        data = header + b"abc" + junk.hex().encode() + b"," + body.split(b",", 1)[1]
    path = tmp_path / "corrupt.csv"
    path.write_bytes(data)
    code = bundle_main([str(path)])
    err = capsys.readouterr().err
    assert code == 2, (how, err)
    assert err.startswith("predict.py: ")
