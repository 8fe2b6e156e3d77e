"""A team project end to end: ``Project.open(postgresql://..., artifacts="s3://...")``
on a real PostgreSQL and moto's S3 server over HTTP; nothing mocked."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.errors import IntegrityError, StoreError, ValidationError
from mlops_nb.store._q_assets import asset_at

_FEW = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


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


def _history(proj: mnb.Project) -> dict:
    """What a second kernel must see the same: versions, stages, the audit log."""
    models = proj.models()
    versions = proj.versions("d")[["version", "n_rows", "note"]]
    return {
        "versions": versions.to_dict("records"),
        "stages": sorted(zip(models["version"], models["stage"], strict=True)),
        "audit": proj.audit_log()[["id", "action", "object"]].to_dict("records"),
    }


def test_a_team_project_runs_the_life_cycle_and_a_second_kernel_sees_it(
    team_url, tmp_path
):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    v1 = proj.data("d", _frame(), target="y", sensitive="group")
    v2 = proj.data("d", _frame(seed=1), note="more")
    assert (v1.version, v2.version, v2.parents) == (1, 2, (("d", 1),))
    assert proj.data("d", _frame()).version == 1  # same bytes, same version
    train, test = v2.split(test=0.3, seed=0, stratify="y")
    model = proj.train("clf", train, estimator="lightgbm", params={"n_estimators": 8})
    evaluation = model.evaluate(test)
    assert evaluation.metrics["roc_auc"] > 0.6
    report = model.promote("production", data=test)
    assert (report.from_stage, report.to_stage) == ("candidate", "production")
    model.set_threshold(0.4, reason="cheaper misses")
    monitor = model.monitor(reference=train, chunk=35, multivariate=[])
    observed = monitor.observe(_frame(200, seed=2).drop(columns="y"))
    assert (observed.rows, observed.new) == (200, True)
    card = model.card()
    assert "clf" in card._repr_html_()
    seen = _history(proj)
    assert ("promote", "model:clf v1") in {
        (e["action"], e["object"]) for e in seen["audit"]
    }

    other = mnb.Project.open(url, artifacts=artifacts)  # another kernel's store
    assert other._store is not proj._store
    assert _history(other) == seen
    again = other.model("clf")
    assert (again.version, again.stage) == (1, "production")
    assert again.threshold == pytest.approx(0.4)
    pd.testing.assert_frame_equal(other.asset("d", 1).frame, proj.asset("d", 1).frame)
    checked = other.verify()
    assert checked.ok, checked.problems
    assert checked.result.checked == len(other._store.referenced_blobs()) > 3

    copy = mnb.Project.open(other.backup(tmp_path / "copy"))  # an embedded copy
    assert copy.verify().ok
    assert _history(copy) == seen
    for p in (proj, other):
        p._store.close()


def test_a_changed_blob_in_s3_is_named_by_verify_and_refused_on_read(team_url):
    import s3fs

    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    proj.data("d", _frame(), target="y")
    keep = proj.data("d", _frame(seed=1))
    digest = asset_at(proj._store, "d", 1)["artifact"]
    s3fs.S3FileSystem(skip_instance_cache=True).pipe_file(
        proj._store.artifacts.key_for(digest), b"other bytes"
    )
    fresh = mnb.Project.open(url, artifacts=artifacts)
    result = fresh.verify()
    assert not result.ok
    assert list(result.result.problems) == [digest]
    assert "corrupted" in result.problems[digest]
    with pytest.raises(IntegrityError, match=digest):
        _ = fresh.asset("d", 1).frame
    pd.testing.assert_frame_equal(fresh.asset("d", 2).frame, keep.frame)
    for p in (proj, fresh):
        p._store.close()


_PASSWORDS = st.text(
    alphabet=st.sampled_from("abcXYZ0189@:/?#%+&=! é'\""), min_size=10, max_size=24
)


def _spellings(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote(password, safe="").lower()}


@_FEW
@given(password=_PASSWORDS)
def test_the_password_is_shown_nowhere(team_url, password):
    url, artifacts = team_url
    secret = url.replace("postgres@", f"postgres:{quote(password, safe='')}@", 1)
    proj = mnb.Project.open(secret, artifacts=artifacts)
    try:
        proj.data("d", _frame(40), target="y", note=f"from {mnb.__name__}")
        shown = [
            repr(proj),
            str(proj),
            proj._repr_html_(),
            repr(proj._store),
            proj.audit_log().to_string(),
            repr(proj.verify()),
        ]
        unreached = (  # nothing listens on port 1
            sa.make_url(secret).set(port=1).render_as_string(hide_password=False)
        )
        for bad in (
            secret.replace("schema=", "schema=x", 1),  # not upgraded
            unreached,  # nothing listens there
        ):
            with pytest.raises(StoreError) as caught:
                mnb.Project.open(bad, artifacts=artifacts)
            shown.append(str(caught.value))
        assert "mlops-nb db upgrade" in shown[-2]
        assert all("***" in s for s in shown[-2:])
        assert "***" in proj._repr_html_()
        for text in shown:
            for spelling in _spellings(password):
                assert spelling not in text
    finally:
        proj._store.close()


def test_a_database_url_needs_artifacts_and_a_folder_refuses_them(team_url, tmp_path):
    url, artifacts = team_url
    with pytest.raises(ValidationError, match="needs artifacts="):
        mnb.Project.open(url)
    with pytest.raises(ValidationError, match="artifacts= is for team projects"):
        mnb.Project.open(tmp_path / "folder", artifacts=artifacts)
    assert not (tmp_path / "folder").exists()


def test_an_un_upgraded_database_is_refused_with_the_command_to_run(pg_url, s3_bucket):
    with pytest.raises(StoreError, match="mlops-nb db upgrade") as caught:
        mnb.Project.open(pg_url, artifacts=f"s3://{s3_bucket}/p")
    assert "never migrates" in str(caught.value)
    import s3fs

    assert s3fs.S3FileSystem(skip_instance_cache=True).find(s3_bucket) == []


def test_gc_removes_only_blobs_no_row_refers_to(team_url):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    kept = proj.data("d", _frame(), target="y")
    orphans = {proj._store.put_blob(bytes([i]) * 50, media_type="x") for i in range(3)}
    assert orphans <= set(proj._store.artifacts.iter_digests())
    assert proj.gc() == {"temp_files": 0, "unreferenced_blobs": 3}
    assert orphans.isdisjoint(proj._store.artifacts.iter_digests())
    pd.testing.assert_frame_equal(proj.asset("d").frame, kept.frame)
    assert proj.verify().ok
    proj._store.close()


@pytest.mark.slow
def test_four_processes_register_and_promote_without_losing_anything(
    team_url, tmp_path
):
    import json
    import subprocess
    import sys
    from pathlib import Path

    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    data = proj.data("clf-data", _frame(), target="y")
    for trees in (3, 4, 5, 6):  # versions 1-4, one per worker
        proj.train("clf", data, estimator="lightgbm", params={"n_estimators": trees})
    worker = str(Path(__file__).with_name("_project_worker.py"))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, worker, url, artifacts, str(w), "10", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    go.touch()
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err
        lines += [json.loads(line) for line in out.splitlines() if line.strip()]
    registered = sorted(r["version"] for r in lines if "version" in r)
    assert registered == list(range(1, 41))  # none lost, none shared, no gap
    assert sorted(proj.versions("shared")["version"]) == registered
    assert sum(1 for r in lines if r.get("promoted") == "production") == 12
    stages = proj.models()["stage"].tolist()
    assert stages.count("production") == 1
    checked = proj.verify()
    assert checked.ok, checked.problems
    proj._store.close()


@_FEW
@given(
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    password=st.text(alphabet=st.sampled_from("ab1 \t@:/?#%"), min_size=3),
)
def test_a_url_alone_is_masked_even_with_spaces_in_its_password(user, password):
    from mlops_nb.store._urls import mask_url

    for scheme, secret, host in (
        ("postgresql", password, "db.internal:5432/mlops?schema=credit"),
        ("postgresql+psycopg", quote(password, safe=""), "db/mlops"),
    ):
        shown = mask_url(f"{scheme}://{user}:{secret}@{host}")
        assert shown == f"{scheme}://{user}:***@{host}"
