"""T34: a base model is fine-tuned from only when its provenance is established."""

from __future__ import annotations

import hashlib
import json

import pytest

import mlops_nb as mnb
from mlops_nb import errors


def test_unsigned_base_is_refused_until_trusted(sec_project, two_versions):
    base, _ = two_versions
    with pytest.raises(errors.IntegrityError, match="not signed") as info:
        mnb.secure.require_trusted_base(sec_project, base, what="retrain_warm")
    sha = mnb.secure.model_digest(base)
    assert sha in str(info.value)
    assert "trust_base_model" in str(info.value)
    record = mnb.secure.trust_base_model(
        sec_project, sha, reason="reviewed by the ML lead, ticket 42"
    )
    assert record["by"] == "tester"
    cleared = mnb.secure.require_trusted_base(sec_project, base)
    assert cleared.sha256 == sha
    assert cleared.basis.startswith("trusted: reviewed")
    assert sec_project.audit_log()["action"].eq("save trusted-base-model").any()


def test_signed_base_is_accepted_and_a_tampered_one_refused(sec_project, two_versions):
    base, other = two_versions
    mnb.secure.sign_model(base)
    assert mnb.secure.require_trusted_base(sec_project, base).basis == "signature"
    with sec_project._store.write() as conn:
        conn.execute(
            "UPDATE model_versions SET artifacts = ? WHERE id = ?",
            (json.dumps({"pipeline": other.artifacts["prep"]}), base.id),
        )
    tampered = sec_project.model("clf", version=1)
    with pytest.raises(errors.IntegrityError, match="signature fails"):
        mnb.secure.require_trusted_base(sec_project, tampered)


def test_external_base_by_file_hash(sec_project):
    sha = hashlib.sha256(b"weights of a downloaded base model").hexdigest()
    with pytest.raises(errors.IntegrityError, match="no signature or trust record"):
        mnb.secure.require_trusted_base(sec_project, sha)
    mnb.secure.trust_base_model(
        sec_project, sha, reason="published by the vendor, hash checked"
    )
    assert mnb.secure.require_trusted_base(sec_project, sha).sha256 == sha
    with pytest.raises(errors.ValidationError, match="SHA-256"):
        mnb.secure.trust_base_model(sec_project, "../etc/passwd", reason="nope nope")
    with pytest.raises(errors.ValidationError, match="reason"):
        mnb.secure.trust_base_model(sec_project, sha, reason="")


def test_the_fine_tuned_manifest_carries_the_base_hash(sec_project, two_versions):
    base, child = two_versions
    cleared = mnb.secure.require_trusted_base(
        sec_project,
        mnb.secure.trust_base_model(
            sec_project, mnb.secure.model_digest(base), reason="checked"
        )["sha256"],
    )
    lineage = {
        **child.lineage,
        "base_model": {**cleared.lineage(), "name": base.name, "version": base.version},
    }
    with sec_project._store.write() as conn:
        conn.execute(
            "UPDATE model_versions SET lineage = ? WHERE id = ?",
            (json.dumps(lineage), child.id),
        )
    child = sec_project.model("clf", version=2)
    signed = mnb.secure.sign_model(child)
    manifest = mnb.secure.model_manifest(child)
    assert manifest["base_model"]["sha256"] == mnb.secure.model_digest(base)
    assert signed.ok


def test_lenient_mode_accepts_unsigned_project_versions_but_never_a_failed_signature(
    sec_project, two_versions
):
    base, other = two_versions
    cleared = mnb.secure.require_trusted_base(sec_project, base, strict=None)
    assert cleared.basis == "unsigned: lineage only"
    mnb.secure.require_signatures(sec_project, reason="production")
    with pytest.raises(errors.IntegrityError, match="not signed"):
        mnb.secure.require_trusted_base(sec_project, base, strict=None)
    mnb.secure.sign_model(base)
    with sec_project._store.write() as conn:
        conn.execute(
            "UPDATE model_versions SET artifacts = ? WHERE id = ?",
            (json.dumps({"pipeline": other.artifacts["prep"]}), base.id),
        )
    with pytest.raises(errors.IntegrityError, match="signature fails"):
        mnb.secure.require_trusted_base(
            sec_project, sec_project.model("clf", version=1), strict=False
        )
