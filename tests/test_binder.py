"""Binder: the files repo2docker reads, and that the pinned environment installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in ("python3", "python"):
        exe = shutil.which(python)
        if (
            exe
            and subprocess.run(
                [exe, "-m", "uv", "--version"], capture_output=True
            ).returncode
            == 0
        ):
            return [exe, "-m", "uv"]
    pytest.fail("uv is missing: `make test` installs it before running the tests")


def test_binder_files_parse():
    assert not (ROOT / ".binder").exists()  # repo2docker refuses both folders
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-3.")
    assert int(runtime.split(".")[1]) >= 11
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    assert "-r binder/pinned.txt" in text
    assert "-e ." in text
    assert not (
        BINDER / "requirements.txt"
    ).exists()  # pip would resolve it and hit nannyml's caps
    assert not (BINDER / "environment.yml").exists()


def _demo_extras() -> list[str]:
    """The extras `make demo` installs (Makefile DEMO_EXTRAS); Binder gets them too."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("DEMO_EXTRAS :="):
            return line.split(":=", 1)[1].split()
    pytest.fail("the Makefile defines no DEMO_EXTRAS")


def test_binder_installs_what_the_demo_installs():
    extras = _demo_extras()
    assert extras[::2] == ["--extra"] * (len(extras) // 2)
    # the notebooks 10 and 11 need them
    assert set(extras[1::2]) >= {"mlflow", "hub", "lineage", "scale"}
    header = (BINDER / "pinned.txt").read_text().splitlines()[1]
    assert " ".join(extras) in header


def test_pinned_requirements_match_the_lock_file():
    done = subprocess.run([*_uv(), "export", "--locked", "--no-hashes",
                           "--no-emit-project", "--format", "requirements-txt", "-q",
                           *_demo_extras()],
                          cwd=ROOT, capture_output=True, text=True,
                          check=True)  # fmt: skip

    def pins(text: str) -> list[str]:
        return sorted(
            ln.split(";")[0].strip()
            for ln in text.splitlines()
            if ln and ln[0].isalnum()
        )

    assert pins(done.stdout) == pins((BINDER / "pinned.txt").read_text()), (
        "binder/pinned.txt is stale: regenerate it with `uv export --locked "
        "--no-hashes --no-emit-project --format requirements-txt "
        f"{' '.join(_demo_extras())} -o binder/pinned.txt`"
    )


@pytest.mark.slow
def test_pinned_environment_installs_the_package(tmp_path):
    """What postBuild does, in a fresh virtual environment (uv's installer, same
    pins)."""
    venv = tmp_path / "venv"
    uv = _uv()
    subprocess.run(
        [*uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True
    )
    py = venv / "bin" / "python"
    for args in (["-r", str(BINDER / "pinned.txt")], ["-e", str(ROOT)]):
        done = subprocess.run([*uv, "pip", "install", "-q", "--python", str(py),
                               "--no-deps", *args],
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    code = ("import mlops_nb, lightgbm, nannyml.datasets, importlib.metadata as m; "
            "import mlflow.pyfunc, huggingface_hub, openlineage.client, "
            "dask.dataframe, distributed, datasketches; "
            "print(mlops_nb.__version__, m.version('lightgbm'), "
            "m.version('nannyml'))")  # fmt: skip
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    out = subprocess.run(
        [str(py), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    _version, lgb, nml = out.stdout.split()
    assert int(lgb.split(".")[1]) >= 6
    assert nml == "0.13.1"


def _badge_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "binder_badge", ROOT / "tools" / "binder_badge.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/mlops_nb.git",
        "https://github.com/acme/mlops_nb",
        "git@github.com:acme/mlops_nb.git",
        "ssh://git@github.com/acme/mlops_nb.git\n",
    ],
)
def test_the_badge_names_the_github_repository_of_the_remote(url):
    assert _badge_tool().repo_from_remote(url) == "acme/mlops_nb"


def test_the_badge_opens_the_first_notebook_in_jupyterlab(tmp_path):
    tool = _badge_tool()
    with pytest.raises(ValueError, match="not a GitHub remote"):
        tool.repo_from_remote("https://gitlab.com/acme/mlops_nb.git")
    with pytest.raises(ValueError, match="OWNER/REPO"):
        tool.badge("acme/mlops_nb/../evil")
    markdown = tool.badge("acme/mlops_nb", ref="v0.1")
    url = markdown.split("](")[-1].rstrip(")")
    assert url == (
        "https://mybinder.org/v2/gh/acme/mlops_nb/v0.1"
        "?urlpath=lab/tree/notebooks/00_business_value_canvas.ipynb"
    )
    assert (ROOT / tool.FIRST_NOTEBOOK).is_file()
    # --write replaces only the marked block of the README, and again gives the same
    # text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(tool.BEGIN) == readme.count(tool.END) == 1
    once = tool.write(readme, markdown)
    assert tool.write(once, markdown) == once
    assert markdown in once
    before, after = readme.split(tool.BEGIN)[0], readme.split(tool.END)[1]
    assert once.startswith(before)
    assert once.endswith(after)
