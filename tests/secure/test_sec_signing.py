"""T16 (and T15 on model versions): signed manifests, verified before loading."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mlops_nb as mnb
from _helpers import reopen
from mlops_nb import errors
from mlops_nb.secure import _envelope as envelopes
from mlops_nb.secure import _keys, _signing

# A manifest signed by mlops_nb 0.1.0 with the key bytes(range(32)). Every later release
# must still verify it (the canonical form and the payload layout may not drift).
_PAYLOAD = (
    '{"key_id":"56475aa75463474c","manifest":{"artifacts":{"booster":"ec8ce1a8be0e259a7580'
    '5a0a6397489d6413413e2c322bacbf3e3a2b874fd5de","prep":"b10b18f906fcd1ca87847667a5011c'
    'd5974171625d4173caf48507d49d5d68ee"},"base_model":null,"created_at":"2026-11-01T00:0'
    '0:00+00:00","data":[{"content_hash":"3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a'
    '9a923d3bb23adc8b7","name":"acs-train","version":1}],"flavor":"lightgbm","format":"ml'
    'ops_nb/model-manifest@1","model":"employment","recipe_sha256":"e1d8e552330911f9f779f'
    '85b6f2c00a15e790dcc3fbb3b28f5da1d660a30c5b8","version":3},"sequence":3,"signed_at":"'
    '2026-11-01T00:00:01+00:00"}'
)
RELEASE_0_1_0 = {
    "payload": _PAYLOAD,
    "signature": "b62086ce7d63ceacea36939dd302585ac136b4ea279ee6e31ea186f8160259b4"
    "a70d8b0777db3baac56412909374a0c34a07bec1328bc2cba2b0d1f251e32905",
    "key_id": "56475aa75463474c",
    "public_key": "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
}


def _set_row(sec_project, model, **columns):
    """Simulate a hostile edit of the registry row of ``model``."""
    sets = ", ".join(f"{k} = ?" for k in columns)
    values = [json.dumps(v) if not isinstance(v, str) else v for v in columns.values()]
    with sec_project._store.write() as conn:
        conn.execute(
            f"UPDATE model_versions SET {sets} WHERE id = ?", (*values, model.id)
        )
    return sec_project.model(model.name, version=model.version)


def _envelope(sec_project, model):
    return sec_project._document(
        _signing.SIGNATURE_DOC, f"{model.name}@{model.version}"
    )["payload"]


def _put_envelope(sec_project, model, envelope):
    sec_project._save_document(
        _signing.SIGNATURE_DOC, f"{model.name}@{model.version}", envelope, note="attack"
    )


def test_release_fixture_still_verifies():
    payload = envelopes.verify_envelope(
        RELEASE_0_1_0, public_key=RELEASE_0_1_0["public_key"]
    )
    assert payload["manifest"]["version"] == 3
    assert payload["sequence"] == 3
    again = envelopes.sign_manifest(
        payload["manifest"],
        key=bytes(range(32)),
        sequence=3,
        signed_at=payload["signed_at"],
    )
    assert again == RELEASE_0_1_0  # canonical JSON and Ed25519 are deterministic


def test_sign_and_verify(sec_project, two_versions):
    m1, m2 = two_versions
    check = mnb.secure.sign_model(m2)
    assert check.status == "verified"
    assert check.ok
    assert check.sequence == 1
    fresh = reopen(sec_project).model("clf", version=2)
    assert mnb.secure.verify_model(fresh).status == "verified"
    assert mnb.secure.verify_model(m1).status == "unsigned"
    assert (
        mnb.secure.sign_model(m1).sequence == 2
    )  # sequence counts signatures of the model
    assert (
        sec_project.audit_log()["action"].str.contains("save model-signature").sum()
        == 2
    )
    assert "verified" in check._repr_html_()


def test_key_is_private_to_the_project(sec_project, two_versions):
    mnb.secure.sign_model(two_versions[0])
    path = _keys.key_path(sec_project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(mnb.secure.public_key(sec_project)) == 64
    with pytest.raises(errors.ValidationError, match="already has a signing key"):
        mnb.secure.generate_key(sec_project)
    path.chmod(0o644)
    with pytest.raises(errors.IntegrityError, match="chmod 600"):
        mnb.secure.sign_model(two_versions[0])
    path.chmod(0o600)


def test_a_symlinked_key_file_is_refused(sec_project, two_versions, tmp_path):
    other = tmp_path / "other.pem"
    mnb.secure.generate_key(sec_project)
    path = _keys.key_path(sec_project)
    other.write_bytes(path.read_bytes())
    other.chmod(0o600)
    path.unlink()
    path.symlink_to(other)
    with pytest.raises(errors.IntegrityError, match="symbolic link"):
        mnb.secure.sign_model(two_versions[0])


def test_a_user_key_can_be_passed(sec_project, two_versions):
    key = Ed25519PrivateKey.generate()
    m1, _ = two_versions
    check = mnb.secure.sign_model(m1, key=key)
    assert check.status == "verified"
    assert mnb.secure.verify_model(m1, public_key=key.public_key()).status == "verified"
    # the sec_project has no key of its own: nothing to verify with unless pinned
    assert mnb.secure.verify_model(m1).status == "failed"


def test_wrong_public_key_fails(sec_project, two_versions):
    m1, _ = two_versions
    mnb.secure.sign_model(m1)
    check = mnb.secure.verify_model(
        m1, public_key=Ed25519PrivateKey.generate().public_key()
    )
    assert check.status == "failed"
    assert any("wrong key" in p["problem"] for p in check.problems)
    with pytest.raises(errors.IntegrityError, match="signature verification failed"):
        check.raise_if_failed()


def test_truncated_signature_fails(sec_project, two_versions):
    m1, _ = two_versions
    mnb.secure.sign_model(m1)
    env = _envelope(sec_project, m1)
    _put_envelope(sec_project, m1, {**env, "signature": env["signature"][:-2]})
    problems = mnb.secure.verify_model(m1).problems
    assert any(
        "63 bytes" in p["problem"] and "truncated" in p["problem"] for p in problems
    )


def test_signature_of_another_manifest_fails(sec_project, two_versions):
    m1, m2 = two_versions
    mnb.secure.sign_model(m1)
    mnb.secure.sign_model(m2)
    env1, env2 = _envelope(sec_project, m1), _envelope(sec_project, m2)
    _put_envelope(
        sec_project, m1, {**env1, "signature": env2["signature"]}
    )  # m2's signature on m1's payload
    problems = [p["problem"] for p in mnb.secure.verify_model(m1).problems]
    assert any("another manifest's signature" in p for p in problems)
    _put_envelope(sec_project, m1, env2)  # m2's whole, valid envelope under m1's name
    check = mnb.secure.verify_model(m1)
    assert check.status == "failed"
    assert {p["check"] for p in check.problems} >= {"version", "artifact"}


def test_rollback_older_signed_version_presented_as_newer(sec_project, two_versions):
    m1, m2 = two_versions
    mnb.secure.sign_model(m1)
    mnb.secure.sign_model(m2)
    env1 = _envelope(sec_project, m1)
    # the attacker makes version 2 hold version 1's files and signed manifest
    row1 = sec_project._store.query(
        "SELECT * FROM model_versions WHERE id = ?", (m1.id,)
    )[0]
    attacked = _set_row(
        sec_project,
        m2,
        artifacts=json.loads(row1["artifacts"]),
        flavor=row1["flavor"],
        recipe=json.loads(row1["recipe"]),
        created_at=row1["created_at"],
    )
    _put_envelope(sec_project, attacked, env1)
    check = mnb.secure.verify_model(attacked)
    assert check.status == "failed"
    assert any("rollback" in p["problem"] for p in check.problems)
    # an edge device that remembers the last sequence it accepted refuses the older one
    with pytest.raises(errors.IntegrityError, match="rollback"):
        envelopes.verify_envelope(
            env1, public_key=mnb.secure.public_key(sec_project), min_sequence=2
        )


def test_base_model_hash_must_match_lineage(sec_project, two_versions, sec_split):
    from mlops_nb.model._train import train_model

    m1, m2 = two_versions
    child = train_model(
        sec_project, "clf", sec_split[0], estimator="logistic", parent=m1
    )
    signed = mnb.secure.sign_model(child)
    assert signed.status == "verified"
    manifest = mnb.secure.model_manifest(child)
    assert manifest["base_model"]["sha256"] == mnb.secure.model_digest(m1)
    # the lineage is rewritten to claim another base model
    lineage = {**child.lineage, "parent_model": [m2.name, m2.version]}
    forged = _set_row(sec_project, child, lineage=lineage)
    check = mnb.secure.verify_model(forged)
    assert [p["check"] for p in check.problems] == ["base_model"]
    assert "differs from the recorded lineage" in check.problems[0]["problem"]


@pytest.mark.parametrize(
    "attack", ["added", "deleted", "renamed", "swapped", "modified", "symlink"]
)
@pytest.mark.embedded_only  # edits blob files in the folder
def test_t15_each_change_to_a_signed_version_is_named(
    sec_project, two_versions, attack, tmp_path
):
    _, m2 = two_versions
    mnb.secure.sign_model(m2)
    store = sec_project._store
    arts = dict(m2.artifacts)
    expected = {}
    if attack == "added":
        arts["extra"] = store.put_blob(b"extra file", media_type="x")
        expected = {"extra": "added"}
    elif attack == "deleted":
        del arts["prep"]
        expected = {"prep": "deleted"}
    elif attack == "renamed":
        arts["preprocessing"] = arts.pop("prep")
        expected = {"preprocessing": "renamed"}
    elif attack == "swapped":
        arts["prep"], arts["booster"] = arts["booster"], arts["prep"]
        expected = {"prep": "swapped", "booster": "swapped"}
    if attack in ("added", "deleted", "renamed", "swapped"):
        model = _set_row(sec_project, m2, artifacts=arts)
    else:
        model = m2
        path = store.artifacts.path_for(arts["booster"])
        data = bytearray(path.read_bytes())
        path.chmod(0o600)
        if attack == "modified":
            data[10] ^= 1
            path.write_bytes(bytes(data))
        else:
            outside = tmp_path / "outside"
            outside.write_bytes(bytes(data))
            path.unlink()
            path.symlink_to(outside)
        expected = {"booster": attack}
    check = mnb.secure.verify_model(model)
    named = {
        p["problem"].split(":")[0]: p["problem"].split(":")[1].split()[0]
        for p in check.problems
        if p["check"] == "artifact"
    }
    assert named == expected
    with pytest.raises(errors.IntegrityError):
        _signing.check_on_load(model) if attack in (
            "added",
            "deleted",
            "renamed",
            "swapped",
        ) else model.predict(sec_project.asset("tiny-test").frame)


def test_check_on_load_and_required_signatures(sec_project, two_versions):
    m1, m2 = two_versions
    _signing.check_on_load(m1)  # unsigned, not required: fine
    mnb.secure.require_signatures(sec_project, reason="production sec_project")
    with pytest.raises(errors.IntegrityError, match="not signed"):
        _signing.check_on_load(m1)
    mnb.secure.sign_model(m1)
    _signing.check_on_load(m1)
    tampered = _set_row(
        sec_project, m1, artifacts={"pipeline": m2.artifacts["booster"]}
    )
    with pytest.raises(errors.IntegrityError, match="pipeline: modified"):
        _signing.check_on_load(tampered)
    mnb.secure.require_signatures(sec_project, False, reason="back to optional")


def test_signature_problems_for_project_verify(sec_project, two_versions):
    m1, m2 = two_versions
    mnb.secure.sign_model(m1)
    assert mnb.secure.signature_problems(sec_project) == {}
    _set_row(sec_project, m1, artifacts={"pipeline": m2.artifacts["prep"]})
    problems = mnb.secure.signature_problems(sec_project)
    assert list(problems) == ["model:clf@1"]
    assert "pipeline: modified" in problems["model:clf@1"]


@pytest.mark.embedded_only  # edits a blob file in the folder
def test_signing_refuses_a_damaged_version(sec_project, two_versions):
    _, m2 = two_versions
    path = sec_project._store.artifacts.path_for(m2.artifacts["prep"])
    path.chmod(0o600)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(errors.IntegrityError, match="not signed"):
        mnb.secure.sign_model(m2)


def test_predict_verifies_the_signature_when_wired(sec_project, two_versions):
    m1, m2 = two_versions
    mnb.secure.sign_model(m1)
    env2 = mnb.secure.sign_model(m2)
    assert env2.ok
    _put_envelope(sec_project, m1, _envelope(sec_project, m2))
    fresh = reopen(sec_project).model("clf", version=1)
    with pytest.raises(errors.IntegrityError, match="signature verification failed"):
        fresh.predict(sec_project.asset("tiny-test").frame)
