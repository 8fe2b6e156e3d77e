"""``mlops-nb copy``: an embedded project to a team project (real PostgreSQL, moto's
S3 server over HTTP) and back to a folder, every hash checked; nothing mocked."""

from __future__ import annotations

import shutil
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb.cli import main
from mlops_nb.errors import IntegrityError, StoreError, ValidationError
from mlops_nb.store._copy import ORDER, copy_project


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "group": rng.choice(["A", "B"], size=n, p=[0.6, 0.4]),
            "y": (x1 + rng.normal(scale=0.7, size=n) > 0).astype(int),
        }
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An embedded project with the whole life cycle in it (built once)."""
    folder = tmp_path_factory.mktemp("copy") / "src"
    proj = mnb.Project.open(folder)
    proj.data("d", _frame(), target="y", sensitive="group")
    v2 = proj.data("d", _frame(seed=1), note="more")
    train, test = v2.split(test=0.3, seed=0, stratify="y")
    model = proj.train("clf", train, estimator="lightgbm", params={"n_estimators": 6})
    model.promote("production", data=test)
    model.set_threshold(0.4, reason="cheaper misses")
    monitor = model.monitor(reference=train, chunk=35, multivariate=[])
    monitor.observe(_frame(120, seed=2).drop(columns="y"))
    model.card()
    proj._store.db.close()
    return folder


def _fresh(source, tmp_path):
    """A copy of the source folder this test may change."""
    out = tmp_path / "src"
    shutil.copytree(source, out)
    return out


def _facts(proj: mnb.Project) -> dict:
    models = proj.models()
    model = proj.model("clf")
    return {
        "versions": proj.versions("d")[["version", "n_rows", "note"]].to_dict(
            "records"
        ),
        "stages": sorted(zip(models["version"], models["stage"], strict=True)),
        "threshold": model.threshold,
        "monitors": len(proj.monitors()),
        "audit": proj.audit_log()[["id", "action", "object", "detail"]],
        "proba": model.predict_proba(_frame(50, seed=9).drop(columns="y")),
    }


def _rows(store) -> dict[str, list]:
    return {t: [tuple(r) for r in store.query(f"SELECT * FROM {t}")] for t in ORDER}


def test_a_folder_goes_to_a_team_project_and_back_with_every_hash_checked(
    source, team_url, tmp_path
):
    url, artifacts = team_url
    before = _facts(mnb.Project.open(source))
    report = copy_project(source, url, artifacts=artifacts)
    assert report.rows["audit_log"] == len(before["audit"]) > 5
    assert report.rows["model_versions"] == 1
    assert report.blobs > 5
    assert report.bytes > 1000

    team = mnb.Project.open(url, artifacts=artifacts)
    checked = team.verify()
    assert checked.ok, checked.problems
    got = _facts(team)
    assert got["versions"] == before["versions"]
    assert got["stages"] == before["stages"] == [(1, "production")]
    assert got["threshold"] == pytest.approx(before["threshold"]) == pytest.approx(0.4)
    assert got["monitors"] == before["monitors"] == 1
    np.testing.assert_array_equal(got["proba"], before["proba"])
    # the same chain (ids and hashes), then one entry naming what it continues from
    log = team._store.query(
        "SELECT id, hash, action, object FROM audit_log ORDER BY id"
    )
    src_log = mnb.Project.open(source)._store.query(
        "SELECT id, hash FROM audit_log ORDER BY id"
    )
    assert [tuple(r)[:2] for r in log[:-1]] == [tuple(r) for r in src_log]
    assert log[-1]["action"] == "copy"
    assert log[-1]["object"] == (
        f"copied from {source} ({sum(report.rows.values())} rows, "
        f"head {src_log[-1]['hash']})"
    )
    # new writes after the copy take ids past the copied ones (sequences re-set)
    team.data("d", _frame(seed=5), note="after the copy")
    assert team.verify().ok
    assert team.versions("d")["version"].tolist() == [1, 2, 3]

    back = copy_project(url, tmp_path / "back", artifacts=artifacts)
    assert back.rows["asset_versions"] == report.rows["asset_versions"] + 1
    folder = mnb.Project.open(tmp_path / "back")
    assert folder.verify().ok
    np.testing.assert_array_equal(_facts(folder)["proba"], before["proba"])
    assert folder.model("clf").threshold == pytest.approx(0.4)
    team._store.close()


@pytest.mark.parametrize("occupant", ["a data version", "an earlier copy"])
def test_a_target_that_holds_a_project_is_refused_and_unchanged(
    source, team_url, occupant
):
    url, artifacts = team_url
    if occupant == "an earlier copy":
        copy_project(source, url, artifacts=artifacts)
    else:
        other = mnb.Project.open(url, artifacts=artifacts)
        other.data("other", _frame(30, seed=3), target="y")
        other._store.close()
    team = mnb.Project.open(url, artifacts=artifacts)
    rows, blobs = _rows(team._store), sorted(team._store.artifacts.iter_digests())
    with pytest.raises(StoreError, match="never merges") as caught:
        copy_project(source, url, artifacts=artifacts)
    assert "nothing was changed" in str(caught.value)
    assert _rows(team._store) == rows
    assert sorted(team._store.artifacts.iter_digests()) == blobs
    assert team.verify().ok
    team._store.close()


@pytest.mark.parametrize(
    ("which", "change"),
    [
        (0, lambda b: b[:-1]),  # truncated
        (-1, lambda b: b + b"\0"),  # grown
        (3, lambda b: bytes([b[0] ^ 1]) + b[1:]),  # one bit flipped
        (
            -2,
            lambda b: (
                b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0x80]) + b[1 + len(b) // 2 :]
            ),
        ),
    ],
)
def test_a_changed_source_blob_stops_the_copy_and_the_target_stays_empty(
    source, team_url, tmp_path, which, change
):
    url, artifacts = team_url
    folder = _fresh(source, tmp_path)
    proj = mnb.Project.open(folder)
    digests = sorted(proj._store.referenced_blobs())
    bad = digests[which]
    path = proj._store.artifacts.path_for(bad)
    path.chmod(0o600)
    path.write_bytes(change(path.read_bytes()))
    with pytest.raises(IntegrityError, match=bad[:12]):
        copy_project(folder, url, artifacts=artifacts)
    team = mnb.Project.open(url, artifacts=artifacts)
    assert all(not v for v in _rows(team._store).values())
    assert list(team._store.artifacts.iter_digests()) == []  # blobs it wrote removed
    team._store.close()


def test_the_command_prints_a_masked_report(source, team_url, capsys):
    url, artifacts = team_url
    password = "s3cr:t/@pw"
    secret = url.replace("postgres@", f"postgres:{quote(password, safe='')}@", 1)
    assert main(["copy", str(source), secret, "--artifacts", artifacts]) == 0
    out = capsys.readouterr().out
    assert "***" in out
    for spelling in (password, quote(password, safe="")):
        assert spelling not in out
    for word in ("audit_log", "tables", "rows", "blobs", "bytes", " s"):
        assert word in out
    assert main(["copy", secret, str(source) + "-x", "--artifacts", artifacts]) == 0
    back = capsys.readouterr().out
    assert "***" in back
    assert quote(password, safe="") not in back
    assert mnb.Project.open(str(source) + "-x").verify().ok
    # the same URL again: refused (exit 2), the message masked
    assert main(["copy", str(source), secret, "--artifacts", artifacts]) == 2
    err = capsys.readouterr().err
    assert "never merges" in err
    assert quote(password, safe="") not in err


@pytest.mark.parametrize(
    ("src", "dest", "match"),
    [
        ("a", "b", r"proj\.backup"),
        ("postgresql://u@h/d", "postgresql://u@h/e", "copy one to a folder"),
        ("a", "postgresql://u@h/d", "--artifacts is needed"),
    ],
)
def test_what_cannot_be_copied_is_refused_with_a_hint(tmp_path, src, dest, match):
    src = src if "://" in src else str(tmp_path / src)
    dest = dest if "://" in dest else str(tmp_path / dest)
    with pytest.raises(ValidationError, match=match):
        copy_project(src, dest)
    assert list(tmp_path.iterdir()) == []


def test_a_signed_model_still_verifies_on_the_team_copy(
    team_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLOPS_NB_TEAM_HOME", str(tmp_path / "home"))
    url, artifacts = team_url
    proj = mnb.Project.open(tmp_path / "signed")
    data = proj.data("d", _frame(120), target="y")
    model = proj.train("clf", data, estimator="lightgbm", params={"n_estimators": 3})
    mnb.secure.generate_key(proj)
    assert mnb.secure.sign_model(model).status == "verified"
    copy_project(tmp_path / "signed", url, artifacts=artifacts)
    team = mnb.Project.open(url, artifacts=artifacts)
    assert (team.path / "keys" / "trust.json").exists()  # the public part only
    assert not (team.path / "keys" / "ed25519.pem").exists()
    assert mnb.secure.verify_model(team.model("clf")).status == "verified"
    assert team.verify().ok
    team._store.close()


@pytest.mark.slow
def test_notebook_01_runs_against_a_team_project(team_url, tmp_path, monkeypatch):
    """``project_dir`` may be a database URL; the files' place from the environment."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    url, artifacts = team_url
    monkeypatch.setenv("MLOPS_NB_ARTIFACTS", artifacts)
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "01_dataops.ipynb"
    out = tmp_path / "01.html"
    cmd = [str(Path(sys.executable).parent / "mlops-nb"), "report", str(notebook)]
    cmd += ["-p", "project_dir", url, "-p", "sample_rows", "3000", "-o", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(out.with_suffix(".json").read_text())["errors"] == []
    html = out.read_text(encoding="utf-8")
    assert "Traceback" not in html
    assert "schema=" in html  # the project shown is the team project
    team = mnb.Project.open(url, artifacts=artifacts)
    assert "acs" in set(team.assets()["name"])
    assert team.verify().ok
    team._store.close()
