"""``mlops-nb demo`` on a team project: ``MLOPS_NB_PROJECT=postgresql://...``.

Every notebook runs on the one team project (a real PostgreSQL and moto's S3 server,
from ``tests/_team_fixtures.py``); files a notebook writes on this machine go to
``<out>/work/<notebook>``; a password in the URL reaches no notebook, report or summary;
a database that is not upgraded stops the demo before any notebook runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

import mlops_nb as mnb
from mlops_nb import cli

ROOT = Path(__file__).resolve().parents[2]
# the notebooks that matter for a team project: data, model, exports and bundle, secops
TEAM_NOTEBOOKS = (
    "00_business_value_canvas",
    "01_dataops",
    "02_model_ops",
    "04_edge_export_xmo",
    "07_sec_ops",
)
# the characters a URL must percent-encode, around a random core (trust auth: the
# throw-away server accepts any password)
_AWKWARD = "@:/?#%&+=[] äß€"


def _password() -> str:
    import secrets

    picked = "".join(secrets.choice(_AWKWARD) for _ in range(6))
    return f"{picked[:3]}{secrets.token_hex(6)}{picked[3:]}"


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def _tiny_notebooks(folder: Path) -> Path:
    """Two small companion notebooks: one registers data, one writes a local file."""
    folder.mkdir()
    bodies = {
        "01_data": (
            'project_dir = "x"',
            "import pandas as pd\nimport mlops_nb as mnb\n"
            "proj = mnb.Project.open(project_dir)\n"
            "proj.data('tiny', pd.DataFrame({'a': [1, 2, 3], 'y': [0, 1, 0]}), "
            "target='y')",
        ),
        "02_local_files": (
            'project_dir = "x"\nwork_dir = None',
            "from pathlib import Path\nimport mlops_nb as mnb\n"
            "proj = mnb.Project.open(project_dir)\n"
            "out = Path(work_dir or proj.path.parent) / 'bundle.txt'\n"
            "out.parent.mkdir(parents=True, exist_ok=True)\n"
            "out.write_text(str(len(proj.assets())))\n"
            "proj",
        ),
    }
    for stem, (params, body) in bodies.items():
        cells = [
            nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
        kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel})
        nbformat.write(nb, folder / f"{stem}.ipynb")
    return folder


@pytest.fixture
def team_home(monkeypatch):
    """This machine's folder of team projects (short: AF_UNIX paths in keys/ fit)."""
    home = tempfile.mkdtemp(prefix="mnb")
    monkeypatch.setenv("MLOPS_NB_TEAM_HOME", home)
    yield Path(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_demo_runs_every_notebook_on_the_team_project(
    team_url, team_home, tmp_path, monkeypatch
):
    url, artifacts = team_url
    password = _password()
    with_pw = _with_password(url, password)
    monkeypatch.setenv("MLOPS_NB_PROJECT", with_pw)
    monkeypatch.setenv("MLOPS_NB_ARTIFACTS", artifacts)
    books, out = _tiny_notebooks(tmp_path / "nbs"), tmp_path / "reports"
    code, shown = _run("demo", "--notebooks", str(books), "--out", str(out))
    assert code == 0, shown
    assert "every notebook runs on team project" in shown
    # both notebooks wrote into the one team project; nothing went to projects/
    assert not (out / "projects").exists()
    proj = mnb.Project.open(url, artifacts=artifacts)
    try:
        assert proj.asset("tiny").version == 1
        assert proj.verify().ok
    finally:
        proj._store.close()
    # notebook 02 saw what 01 registered: one project
    assert (out / "work" / "02_local_files" / "bundle.txt").read_text() == "1"
    assert not (out / "work" / "01_data").exists()  # no work_dir declared: not given
    for stem in ("01_data", "02_local_files"):
        summary = json.loads((out / f"{stem}.json").read_text())
        assert summary["errors"] == []
        assert summary["parameters"]["project_dir"] == url
    spellings = {password, quote(password, safe="")}
    for path in [p for p in out.rglob("*") if p.is_file()]:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not any(s in text for s in spellings), path
    assert not any(s in shown for s in spellings)


def test_without_the_variable_each_notebook_has_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_NB_PROJECT", raising=False)
    books, out = _tiny_notebooks(tmp_path / "nbs"), tmp_path / "reports"
    code, shown = _run("demo", "--notebooks", str(books), "--out", str(out))
    assert code == 0, shown
    for stem in ("01_data", "02_local_files"):
        assert (out / "projects" / stem / "registry.sqlite").is_file()
    # the local file lands beside the notebook's own project, as before
    assert (out / "projects" / "bundle.txt").read_text() == "0"  # its own project
    assert not (out / "work").exists()


@pytest.mark.parametrize("problem", ["not upgraded", "no artifacts"])
def test_demo_stops_before_any_notebook_with_a_readable_error(
    problem, pg_url, s3_bucket, team_home, tmp_path, monkeypatch
):
    from mlops_nb.store._migrate import upgrade

    password = _password()
    monkeypatch.setenv("MLOPS_NB_PROJECT", _with_password(pg_url, password))
    if problem == "no artifacts":
        upgrade(pg_url)
        monkeypatch.delenv("MLOPS_NB_ARTIFACTS", raising=False)
    else:
        monkeypatch.setenv("MLOPS_NB_ARTIFACTS", f"s3://{s3_bucket}/proj")
    books, out = _tiny_notebooks(tmp_path / "nbs"), tmp_path / "reports"
    code, shown = _run("demo", "--notebooks", str(books), "--out", str(out))
    assert code == 2, shown
    assert "Traceback" not in shown
    assert shown.startswith("mlops-nb: ")
    if problem == "not upgraded":
        assert "mlops-nb db upgrade" in shown
    else:
        assert "MLOPS_NB_ARTIFACTS" in shown
    assert password not in shown
    assert quote(password, safe="") not in shown
    assert not list(out.glob("*.html"))  # no notebook ran


@pytest.mark.slow
def test_companion_notebooks_on_a_team_project(
    team_url, team_home, tmp_path, monkeypatch
):
    from test_notebooks import KEY_SECTIONS, REMOTE

    url, artifacts = team_url
    monkeypatch.setenv("MLOPS_NB_PROJECT", url)
    monkeypatch.setenv("MLOPS_NB_ARTIFACTS", artifacts)
    monkeypatch.delenv("MLOPS_NB_DISPLAY", raising=False)
    books = tmp_path / "nbs"
    books.mkdir()
    for stem in TEAM_NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", books)
    out = tmp_path / "reports"
    code, shown = _run("demo", "--notebooks", str(books), "--out", str(out))
    assert code == 0, shown[-4000:]
    for stem in TEAM_NOTEBOOKS:
        html = (out / f"{stem}.html").read_text(encoding="utf-8")
        assert "Traceback" not in html, stem
        assert not REMOTE.search(html), stem
        for text in KEY_SECTIONS[stem]:
            assert text in html, f"{text!r} missing from the {stem} report"
        assert json.loads((out / f"{stem}.json").read_text())["errors"] == []
    # the bundle of notebook 04 is a local file: in the demo's work folder
    bundle = out / "work" / "04_edge_export_xmo" / "edge" / "employment"
    assert (bundle / "manifest.json").is_file()
    assert not (out / "projects").exists()
    proj = mnb.Project.open(url, artifacts=artifacts)
    try:
        assets = set(proj.assets()["name"])
        assert {"acs", "acs-test", "contacts", "acs-monthly", "acs-odd-names"} <= assets
        assert len(proj.versions("acs-monthly")) == 8
        prod = proj.model("employment", stage="production")  # from 02, signed in 07
        assert mnb.secure.verify_model(prod).status == "verified"
        assert proj.model("employment-odd-names").version == 1  # from 04
        actions = set(proj.audit_log()["action"])
        assert {"train", "promote", "promotion refused"} <= actions
        report = proj.verify()
        assert report.ok, report.problems
    finally:
        proj._store.close()
