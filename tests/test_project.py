"""Project: open/create, listing, the story view, verify, audit log."""

from __future__ import annotations

import pytest

import mlops_nb as mnb
from _helpers import tree_snapshot
from mlops_nb import errors


def test_open_creates_then_reopens(tmp_path):
    p = mnb.Project.open(tmp_path / "new")
    assert (tmp_path / "new" / "registry.sqlite").is_file()
    assert (tmp_path / "new" / "artifacts").is_dir()
    assert mnb.Project.open(tmp_path / "new").path == p.path


def test_open_refuses_what_is_not_a_project(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("keep me")
    before = tree_snapshot(folder)
    with pytest.raises(errors.NotAProjectError, match="not an mlops_nb project"):
        mnb.Project.open(folder)
    assert tree_snapshot(folder) == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.NotAProjectError, match="is a file"):
        mnb.Project.open(tmp_path / "file")
    with pytest.raises(errors.NotAProjectError, match="create=True"):
        mnb.Project.open(tmp_path / "missing", create=False)


def test_assets_versions_and_audit(project, tiny_frame, tiny_asset):
    tiny_asset.split(test=0.5, seed=1)
    listing = project.assets()
    assert listing["name"].tolist() == ["tiny", "tiny-test", "tiny-train"]
    assert listing.set_index("name").loc["tiny-test", "made by"] == "split"
    log = project.audit_log()
    assert log["action"].tolist() == ["split", "split", "register"]
    assert set(log["user"]) == {"tester"}
    assert log["object"].iloc[-1] == "asset:tiny@1"


def test_audit_log_is_append_only(project, tiny_asset):
    import sqlite3

    conn = sqlite3.connect(project.path / "registry.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET user = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    conn.close()


def test_verify_finds_a_changed_byte(project, tiny_asset):
    assert project.verify().ok
    blob = project.path / "artifacts" / tiny_asset.artifact[:2] / tiny_asset.artifact
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    report = project.verify()
    assert not report.ok
    assert list(report.problems) == [tiny_asset.artifact]
    with pytest.raises(errors.IntegrityError, match=tiny_asset.artifact):
        mnb.Project.open(project.path).asset("tiny").frame  # noqa: B018 - loads the blob
    assert "integrity problem" in report._html()


def test_project_view_tells_the_story(project, tiny_asset):
    tiny_asset.split(test=0.5, seed=1)
    with mnb.config_context(display="html"):
        html = project._repr_mimebundle_()["text/html"]
    for text in ("Assets", "Lineage", "Audit log", "tiny-test v1", "split"):
        assert text in html
    assert str(project) == f"Project proj: 3 assets, 3 versions, at {project.path}"


def test_versions_are_equal_by_project_and_row_whoever_loaded_them(project, tiny_asset):
    model = project.train("m", tiny_asset, estimator="logistic")
    again = mnb.Project.open(project.path)
    assert again.asset("tiny") == tiny_asset
    assert again.model("m") == model
    assert len({tiny_asset, again.asset("tiny"), model, again.model("m")}) == 2
    assert tiny_asset.id == model.id == 1
    assert tiny_asset != model  # same row id, other kind
    assert (tiny_asset.label, model.label) == ("tiny v1", "m v1")


def test_project_view_shows_the_audit_log_as_people_read_it(project, tiny_asset):
    import re

    project.train("clf", tiny_asset, estimator="logistic")
    raw = project.audit_log()
    assert raw["at"].str.contains(r"\.\d{6}").any()  # stored to the microsecond
    assert raw["object"].str.contains("@").any()
    with mnb.config_context(display="html"):
        html = project._repr_mimebundle_()["text/html"]
    audit = html[html.index("Audit log") :]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", audit)
    assert not re.search(r"T\d\d:\d\d:\d\d\.\d{6}", audit)
    assert "asset tiny v1" in audit
    assert "model clf v1" in audit
    assert "tiny@1" not in audit
