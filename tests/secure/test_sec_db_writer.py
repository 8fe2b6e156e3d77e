"""Issue 14.3 and 14.5: what a writer of ``registry.sqlite`` can no longer do.

The attacker uses plain ``sqlite3`` on the database file; they cannot read or write
``keys/`` (and, for 14.4, ``audit.head``).
"""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.secure import _envelope, _signing, _trust

# The attacker writes registry.sqlite with sqlite3: the embedded store's file.
pytestmark = pytest.mark.embedded_only


def sql(project, statement, params=()):
    conn = sqlite3.connect(project.path / "registry.sqlite", isolation_level=None)
    try:
        conn.execute(statement, params)
    finally:
        conn.close()


def insert_document(project, kind, name, version, payload):
    sql(
        project,
        "INSERT INTO documents(kind, name, version, content_hash, payload, note, "
        "created_at, created_by) VALUES (?, ?, ?, ?, ?, '', '2030-01-01', 'mallory')",
        (kind, name, version, "f" * 64, json.dumps(payload)),
    )


def reopen(project, **kw):
    return mnb.Project.open(project.path, **kw)


@pytest.fixture
def signed(sec_project, two_versions):
    m1, m2 = two_versions
    mnb.secure.sign_model(m1)
    mnb.secure.sign_model(m2)
    mnb.secure.require_signatures(sec_project, reason="production")
    assert sec_project.verify().ok
    return sec_project, m1, m2


# -- 14.3: the policy and the key are not the database's to decide -------------------
STEPS = ("delete signatures", "policy off", "repoint v2 to v1")


def _attack(project, m1, steps):
    if "delete signatures" in steps:
        sql(project, "DELETE FROM documents WHERE kind = 'model-signature'")
    if "policy off" in steps:
        insert_document(
            project, "secure-policy", "signing", 99, {"require_signatures": False}
        )
    if "repoint v2 to v1" in steps:
        conn = sqlite3.connect(project.path / "registry.sqlite", isolation_level=None)
        row = conn.execute(
            "SELECT artifacts, flavor, recipe, created_at FROM model_versions "
            "WHERE version = 1"
        ).fetchone()
        conn.execute(
            "UPDATE model_versions SET artifacts = ?, flavor = ?, recipe = ?, "
            "created_at = ? WHERE version = 2",
            row,
        )
        conn.close()


@pytest.mark.parametrize(
    "steps",
    [c for n in range(1, len(STEPS) + 1) for c in itertools.combinations(STEPS, n)],
    ids=lambda c: "+".join(c),
)
def test_sql_alone_cannot_switch_signatures_off(signed, steps, sec_split):
    project, m1, _ = signed
    _attack(project, m1, steps)
    fresh = reopen(project)
    assert mnb.secure.signature_problems(fresh) or "policy off" in steps
    assert _signing.signatures_required(fresh)  # the database cannot turn it off
    report = fresh.verify()
    assert not report.ok
    if steps != ("policy off",):
        v2 = fresh.model("clf", version=2)
        with pytest.raises(errors.IntegrityError, match="clf v2"):
            v2.predict(sec_split[1].frame)
        assert "model:clf@2" in report.problems
    if "policy off" in steps:
        assert (
            "no audit entry saved it"
            in report.problems["document:secure-policy:signing@99"]
        )


def test_a_deleted_signature_is_refused_even_without_the_policy(
    sec_project, two_versions
):
    m1, _ = two_versions
    mnb.secure.sign_model(m1)
    sql(sec_project, "DELETE FROM documents WHERE kind = 'model-signature'")
    fresh = reopen(sec_project)
    with pytest.raises(errors.IntegrityError, match="gone from the database"):
        fresh.model("clf", version=1).predict(sec_project.asset("tiny-test").frame)
    assert "model:clf@1" in fresh.verify().problems


def _forge_with_own_key(project, model):
    """Put the attacker's key in the DB and sign a tampered manifest with it."""
    evil = Ed25519PrivateKey.generate()
    pub = evil.public_key()
    from mlops_nb.secure._keys import key_id, raw_public

    insert_document(
        project,
        "signing-key",
        "project",
        50,
        {"public_key": raw_public(pub).hex(), "key_id": key_id(pub)},
    )
    manifest = mnb.secure.model_manifest(model)
    envelope = _envelope.sign_manifest(manifest, key=evil, sequence=99)
    insert_document(
        project, "model-signature", f"{model.name}@{model.version}", 50, envelope
    )
    return envelope


@pytest.mark.parametrize("where", ["backup without keys/", "project without a key"])
def test_a_key_stored_in_the_database_is_never_trusted(
    sec_project, two_versions, where, tmp_path
):
    m1, _ = two_versions
    if where == "backup without keys/":
        mnb.secure.sign_model(m1)
        project = mnb.Project.open(sec_project.backup(tmp_path / "bk"))
        assert not (project.path / "keys" / "ed25519.pem").exists()
    else:
        project = sec_project
    victim = project.model("clf", version=2)
    _forge_with_own_key(project, victim)
    fresh = reopen(project)
    check = mnb.secure.verify_model(fresh.model("clf", version=2))
    assert check.status == "failed"
    with pytest.raises(errors.IntegrityError):
        fresh.model("clf", version=2).predict(sec_project.asset("tiny-test").frame)
    assert not fresh.verify().ok


def test_a_backup_keeps_the_key_and_the_policy_but_not_the_private_key(
    signed, tmp_path
):
    project, _, _ = signed
    fp = _trust.fingerprint(mnb.secure.public_key(project))
    backup = mnb.Project.open(project.backup(tmp_path / "bk"), trust=fp)
    assert not (backup.path / "keys" / "ed25519.pem").exists()
    assert (
        json.loads((backup.path / "keys" / "trust.json").read_text())["body"][
            "fingerprint"
        ]
        == fp
    )
    assert mnb.secure.verify_model(backup.model("clf", version=1)).status == "verified"
    assert _signing.signatures_required(backup)
    # turning the policy off needs the private key the backup does not carry
    with pytest.raises(errors.ValidationError, match="private key"):
        mnb.secure.require_signatures(backup, False)
    # restoring: another key is refused without an explicit override
    with pytest.raises(errors.ValidationError, match="overwrite=True"):
        mnb.secure.generate_key(backup)
    with pytest.raises(errors.IntegrityError, match="not the pinned"):
        mnb.Project.open(
            backup.path, trust=_trust.fingerprint(Ed25519PrivateKey.generate())
        )
    original = (project.path / "keys" / "ed25519.pem").read_bytes()
    mnb.secure.generate_key(backup, key=original)  # the same key is accepted
    assert backup.verify().ok, backup.verify().problems


def test_an_edited_trust_file_fails_closed(signed):
    project, _, _ = signed
    path = project.path / "keys" / "trust.json"
    doc = json.loads(path.read_text())
    doc["body"]["require_signatures"] = False  # without re-signing it
    path.write_text(json.dumps(doc))
    (project.path / "keys" / "ed25519.pem").unlink()
    sql(project, "DELETE FROM documents WHERE kind = 'secure-policy'")
    fresh = reopen(project)
    assert _signing.signatures_required(fresh)
    assert "trust:keys/trust.json" in fresh.verify().problems


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_pinned_keys_decide_what_loads(signed, monkeypatch, how, sec_split):
    project, _, _ = signed
    good = mnb.secure.public_key(project)
    other = _trust.fingerprint(Ed25519PrivateKey.generate())
    if how == "argument":
        assert (
            reopen(project, trust=good)
            .model("clf", version=1)
            .predict(sec_split[1].frame)
            is not None
        )
        with pytest.raises(errors.IntegrityError, match="not the pinned"):
            reopen(project, trust=other)
    else:
        monkeypatch.setenv(_trust.TRUST_ENV, f"{other}, sha256:{'0' * 64}")
        fresh = reopen(project)
        with pytest.raises(errors.IntegrityError, match="no trusted key"):
            fresh.model("clf", version=1).predict(sec_split[1].frame)
        monkeypatch.setenv(_trust.TRUST_ENV, _trust.fingerprint(good))
        assert (
            reopen(project).model("clf", version=1).predict(sec_split[1].frame)
            is not None
        )
    with pytest.raises(errors.ValidationError, match="fingerprint"):
        reopen(project, trust="not-a-key")


# -- 14.5: verify() checks what rows point at, and how stages got there ---------------
POINTERS = [
    "../../x",
    "/etc/passwd",
    "A" * 64,
    "0" * 63,
    "",
    "ab" * 32,  # a well-formed digest of no stored blob
]


@pytest.mark.parametrize("pointer", POINTERS)
def test_a_model_row_repointed_is_reported_and_refused(sec_project, pointer):
    sql(
        sec_project,
        "UPDATE model_versions SET artifacts = json_set(artifacts, '$.booster', ?) "
        "WHERE version = 2",
        (pointer,),
    )
    report = sec_project.verify()
    assert not report.ok
    assert "'booster'" in report.problems["model:clf@2"]
    with pytest.raises(errors.MlopsNbError):
        reopen(sec_project).model("clf", version=2).predict(
            sec_project.asset("tiny-test").frame
        )


@pytest.mark.parametrize("pointer", POINTERS)
def test_an_asset_row_repointed_is_reported(sec_project, pointer):
    sql(
        sec_project,
        "UPDATE asset_versions SET artifact = ? WHERE name = 'tiny-test'",
        (pointer,),
    )
    report = sec_project.verify()
    assert not report.ok
    assert "asset:tiny-test@1" in report.problems


@pytest.mark.parametrize("stage", ["production", "staging", "archived"])
@pytest.mark.parametrize("forge", ["stage only", "stage and history"])
def test_a_stage_set_in_the_database_is_not_served(sec_project, stage, forge):
    m1 = sec_project.model("clf", version=1)
    sql(sec_project, "UPDATE model_versions SET stage = ? WHERE id = ?", (stage, m1.id))
    if forge == "stage and history":
        sql(
            sec_project,
            "INSERT INTO model_stage_history(model_id, from_stage, to_stage, reason, "
            "at, by) VALUES (?, 'candidate', ?, 'trust me', '2030', 'mallory')",
            (m1.id, stage),
        )
    fresh = reopen(sec_project)
    with pytest.raises(errors.IntegrityError, match=f"clf v1.*{stage}"):
        fresh.model("clf", stage=stage)
    problem = fresh.verify().problems["model:clf@1"]
    assert "set in the database" in problem


def test_stages_set_by_promote_and_rollback_pass(sec_project):
    m1, m2 = sec_project.model("clf", version=1), sec_project.model("clf", version=2)
    m1.promote("staging", reason="try")
    m1.promote("production", reason="go")
    m2.promote(
        "production",
        reason="better",
        data=sec_project.asset("tiny-test"),
        tolerance=1.0,
    )
    sec_project.rollback("clf", reason="oops")
    fresh = reopen(sec_project)
    assert fresh.model("clf", stage="production").version == 1
    assert fresh.model("clf", stage="archived").version == 2
    report = fresh.verify()
    assert report.ok, report.problems
