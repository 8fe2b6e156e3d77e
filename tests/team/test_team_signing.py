"""Issue 16 security: signing on a team project, where each machine has its own folder.

Member A signs a model version on their machine (another process, another
``MLOPS_NB_TEAM_HOME``); member B's machine refuses it until B trusts A's key, with an
error that names the key to check with A and says how to trust it; once trusted
(``trust=`` or ``MLOPS_NB_TRUST``), B loads A's version and keeps verifying its own
signatures. A key that only the database names is never trusted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.secure import _envelope
from mlops_nb.secure._trust import TRUST_ENV, fingerprint

SIGNER = str(Path(__file__).with_name("_sign_worker.py"))


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    x1 = rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "y": (x1 > 0).astype(int)})


def _sign_on_machine(home: Path, url: str, artifacts: str, version: int) -> dict:
    import os

    out = subprocess.run(
        [sys.executable, SIGNER, url, artifacts, "clf", str(version)],
        env={**os.environ, "MLOPS_NB_TEAM_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def team(team_url, tmp_path, monkeypatch):
    """Two model versions; v1 signed by member A on machine A (another process)."""
    url, artifacts = team_url
    monkeypatch.setenv("MLOPS_NB_TEAM_HOME", str(tmp_path / "machine-b"))
    monkeypatch.delenv(TRUST_ENV, raising=False)
    proj = mnb.Project.open(url, artifacts=artifacts)
    data = proj.data("clf-data", _frame(), target="y")
    for trees in (3, 4):
        proj.train("clf", data, estimator="lightgbm", params={"n_estimators": trees})
    a = _sign_on_machine(tmp_path / "machine-a", url, artifacts, 1)
    assert a["status"] == "verified"
    assert Path(a["folder"]).is_relative_to(tmp_path / "machine-a")
    assert not (tmp_path / "machine-b").exists()  # B has no key of its own yet
    proj._store.close()
    return url, artifacts, a


def _open(url, artifacts, **kw):
    return mnb.Project.open(url, artifacts=artifacts, **kw)


@pytest.mark.parametrize("b_has_a_key", [False, True])
def test_b_refuses_a_signature_until_it_trusts_a_key(team, b_has_a_key):
    url, artifacts, a = team
    proj = _open(url, artifacts)
    try:
        if b_has_a_key:  # B signs v2 with a key of its own, made on machine B
            assert mnb.secure.sign_model(proj.model("clf", 2)).status == "verified"
        # the database names A's key (A's signing-key row): never trusted from there
        assert proj._document("signing-key", "project") is not None
        with pytest.raises(errors.IntegrityError) as refused:
            proj.model("clf", 1).predict(_frame(5).drop(columns="y"))
        text = str(refused.value)
        assert "clf v1" in text
        assert a["fingerprint"] in text  # the key to confirm with A ...
        assert f"trust={a['fingerprint']!r}" in text  # ... and how to trust it
        assert f"{TRUST_ENV}={a['fingerprint']}" in text
        assert "model:clf@1" in proj.verify().problems
        if b_has_a_key:
            assert proj.model("clf", 2).predict(_frame(5).drop(columns="y")) is not None
    finally:
        proj._store.close()


@pytest.mark.parametrize("how", ["trust=", "environment", "public key hex"])
def test_b_verifies_a_signature_once_it_trusts_a_key(team, how, monkeypatch):
    url, artifacts, a = team
    before = _open(url, artifacts)
    mnb.secure.sign_model(before.model("clf", 2))  # B's own key, B's own version
    before._store.close()
    if how == "trust=":
        proj = _open(url, artifacts, trust=a["fingerprint"])
    else:
        pin = a["fingerprint"] if how == "environment" else a["public_key"]
        monkeypatch.setenv(TRUST_ENV, pin)
        proj = _open(url, artifacts)
    try:
        rows = _frame(5).drop(columns="y")
        assert mnb.secure.verify_model(proj.model("clf", 1)).status == "verified"
        assert proj.model("clf", 1).predict(rows) is not None  # A's
        assert proj.model("clf", 2).predict(rows) is not None  # B's own, no pin needed
        report = proj.verify()
        assert report.ok, report.problems
    finally:
        proj._store.close()


@pytest.mark.parametrize("pin", ["another key", "both"])
def test_a_signature_by_a_key_only_the_database_names_is_refused(team, pin):
    """A writer of the database re-signs A's version with its own key and records
    that key as the project's: B, trusting A (or nothing else), refuses it."""
    url, artifacts, a = team
    proj = _open(url, artifacts)
    evil = Ed25519PrivateKey.generate()
    victim = proj.model("clf", 1)
    envelope = _envelope.sign_manifest(
        mnb.secure.model_manifest(victim), key=evil, sequence=50
    )
    proj._save_document("model-signature", "clf@1", envelope, note="forged")
    proj._store.close()
    pins = [a["fingerprint"]] if pin == "both" else []
    pins.append(fingerprint(Ed25519PrivateKey.generate()))  # an unrelated colleague
    fresh = _open(url, artifacts, trust=pins)
    try:
        with pytest.raises(errors.IntegrityError, match="clf v1") as refused:
            fresh.model("clf", 1).predict(_frame(5).drop(columns="y"))
        assert fingerprint(evil.public_key()) in str(refused.value)
        assert "model:clf@1" in fresh.verify().problems
    finally:
        fresh._store.close()
