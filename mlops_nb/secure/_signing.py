"""Signed model manifests: Ed25519 over canonical JSON, verified on load (T16).

A model version's manifest names everything that decides what the model does: its
files (key -> SHA-256), the data versions it learnt from (with content hashes), the
base model it continues (with that model's own manifest hash), a hash of its recipe,
its name, version and creation time. The signed payload adds a per-model ``sequence``
(1, 2, ... in signing order), the signing time and the key id, so an older signed
version can never pass as a newer one. Signatures are stored as ``model-signature``
documents; verification recomputes the manifest from the registry and the blobs and
lists every difference by artifact name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError
from mlops_nb.secure._envelope import (
    digest,
    envelope_problems,
    sign_manifest,
)
from mlops_nb.secure._keys import (
    as_private_key,
    as_public_key,
    generate_key,
    key_id,
    load_project_key,
)
from mlops_nb.secure._manifest import Scan, diff_manifest
from mlops_nb.secure._signature_check import SignatureCheck
from mlops_nb.secure._trust import (
    fingerprint,
    is_team,
    policy_required,
    trust_problems,
    trusted_keys,
    write_trust_file,
)

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.model import Model

MANIFEST_FORMAT = "mlops_nb/model-manifest@1"
SIGNATURE_DOC = "model-signature"
POLICY_DOC = "secure-policy"


# -- manifests -----------------------------------------------------------------------
def model_manifest(model: Model) -> dict[str, Any]:
    """Rebuild the canonical manifest of a model version from the registry."""
    return {
        "format": MANIFEST_FORMAT,
        "model": model.name,
        "version": int(model.version),
        "flavor": model.flavor,
        "artifacts": dict(sorted(model.artifacts.items())),
        "data": [
            {
                "name": d["name"],
                "version": int(d["version"]),
                "content_hash": d["content_hash"],
            }
            for d in model.lineage.get("data", [])
        ],
        "base_model": base_model_of(model),
        "recipe_sha256": digest(model.recipe),
        "created_at": model.created_at,
    }


def model_digest(model: Model) -> str:
    """Return the SHA-256 of a model version's manifest: its identity in lineage."""
    return digest(model_manifest(model))


def base_model_of(model: Model) -> dict[str, Any] | None:
    """Return the base model in lineage with its manifest hash (``None``: none)."""
    lineage = model.lineage
    base = lineage.get("base_model")
    if isinstance(base, Mapping) and base.get("sha256"):
        return {
            "name": base.get("name"),
            "version": base.get("version"),
            "sha256": base["sha256"],
        }
    parent = lineage.get("parent_model")
    if not parent:
        return None
    name, version = parent
    try:
        sha = model_digest(model.project.model(name, version=int(version)))
    except Exception:  # the recorded parent is gone: the hash cannot be recomputed
        sha = None
    return {"name": name, "version": int(version), "sha256": sha}


# -- generic signed envelopes (also for edge bundles) --------------------------------
# -- model versions ------------------------------------------------------------------
def _doc_name(model: Model) -> str:
    return f"{model.name}@{model.version}"


def _signatures(project: Project, name: str) -> list[dict[str, Any]]:
    from mlops_nb.store._q_documents import payloads_with_name_prefix

    return [
        json.loads(p)
        for p in payloads_with_name_prefix(project._store, SIGNATURE_DOC, f"{name}@")
    ]


def sign_model(model: Model, *, key: Any = None) -> SignatureCheck:
    """Sign a model version's manifest with the project key (or ``key``).

    Parameters
    ----------
    model : Model
        The version to sign. Its files are verified against their SHA-256 first.
    key : optional
        A private key to sign with instead of the project's; without either, a project
        key is generated (``keys/ed25519.pem`` in the project folder, mode 0600).

    Returns
    -------
    SignatureCheck
        The verification of the fresh signature.

    Raises
    ------
    IntegrityError
        When a file of the version no longer matches its hash: it is never signed.
    """
    from mlops_nb.store._db import now

    project = model.project
    for art, blob in sorted(model.artifacts.items()):
        problem = project._store.artifacts.verify(blob)
        if problem:
            msg = (
                f"sign_model({model.label}): artifact {art!r} ({blob}) {problem}; "
                f"not signed."
            )
            raise IntegrityError(msg)
    if key is None:
        if load_project_key(project) is None:
            generate_key(project)
        private = load_project_key(project)
    else:
        private = as_private_key(key, what=f"sign_model({model.label})")
    sequence = 1 + max(
        (
            int(json.loads(s["payload"])["sequence"])
            for s in _signatures(project, model.name)
        ),
        default=0,
    )
    envelope = sign_manifest(
        model_manifest(model), key=private, sequence=sequence, signed_at=now()
    )
    project._save_document(
        SIGNATURE_DOC, _doc_name(model), envelope, note=f"sequence {sequence}"
    )
    return verify_model(model, public_key=envelope["public_key"])


def require_signatures(
    project: Project, required: bool = True, *, reason: str = ""
) -> None:
    """Make unsigned model versions refuse to load here (or allow them again).

    The policy is kept in ``keys/trust.json``, signed by the project's private key (one
    is generated when there is none), and recorded in the database for the audit log.
    A writer of the database cannot switch it off: that needs the private key.
    ``MLOPS_NB_REQUIRE_SIGNATURES=1`` or a pinned key (``MLOPS_NB_TRUST``,
    ``Project.open(trust=)``) keep it on whatever this says.

    Raises
    ------
    ValidationError
        When switching it off without the project's private key.
    """
    private = load_project_key(project)
    if private is None:
        if not required:
            msg = (
                f"require_signatures(False): project {project.name!r} has no private "
                f"key in keys/; switching the policy off needs the key that signed "
                "keys/trust.json (restore it, or install it with "
                "mnb.secure.generate_key(proj, key=...))."
            )
            raise ValidationError(msg)
        generate_key(project)
        private = load_project_key(project)
    write_trust_file(project, private, required=required)
    policy = dict(
        (project._document(POLICY_DOC, "signing") or {"payload": {}})["payload"]
    )
    policy["require_signatures"] = bool(required)
    project._save_document(POLICY_DOC, "signing", policy, note=reason)


def signatures_required(project: Project) -> bool:
    """Whether the project requires every loaded model version to be signed.

    True when a pin, ``MLOPS_NB_REQUIRE_SIGNATURES``, the signed ``keys/trust.json``
    or the database's policy row says so: the database can add the requirement,
    never take it away.
    """
    doc = project._document(POLICY_DOC, "signing")
    return policy_required(
        project, db_says=bool(doc and doc["payload"].get("require_signatures"))
    )


def _was_signed(project: Project, model: Model) -> bool:
    """Whether the audit log records a signature of this version."""
    name = f"{SIGNATURE_DOC}:{_doc_name(model)}@"
    from mlops_nb.store._q_reports import audit_has_object_prefix

    return audit_has_object_prefix(project._store, f"save {SIGNATURE_DOC}", name)


def _blob_scan(model: Model, rehash: bool) -> Scan:
    """Scan the model's files as they are now: artifact name -> blob SHA-256."""
    from mlops_nb.secure._manifest import hash_file

    store = model.project._store.artifacts
    files, links, special = {}, {}, {}
    for art, blob in model.artifacts.items():
        try:
            if not hasattr(store, "path_for"):  # a team project's object store
                found = store.stored_hash(blob, rehash=rehash)
                if found is not None:
                    files[art] = found
                continue
            path = store.path_for(blob)
        except IntegrityError:  # not even a digest: it cannot match the signed one
            files[art] = str(blob)
            continue
        if path.is_symlink():
            links[art] = str(path.readlink())
        elif not path.exists():
            continue
        elif not rehash:
            files[art] = blob
        else:
            try:
                files[art] = hash_file(path)
                if path.lstat().st_nlink > 1:
                    special[art] = "a blob with other hard links"
            except OSError as err:
                special[art] = f"unreadable ({err.strerror})"
    return Scan(files, links, special)


def verify_model(
    model: Model, *, public_key: Any = None, rehash: bool = True
) -> SignatureCheck:
    """Verify a model version's newest signature against its current manifest.

    Parameters
    ----------
    model : Model
    public_key : optional
        The key to trust (pin it outside the project folder on devices and in CI);
        default: the project's key.
    rehash : bool
        Re-hash the files on disk (``False`` when the store verifies them on read).

    Returns
    -------
    SignatureCheck
        ``status`` is ``verified``, ``unsigned`` or ``failed``, with every problem.
    """
    project = model.project
    doc = project._document(SIGNATURE_DOC, _doc_name(model))
    required = signatures_required(project)
    if doc is None:
        problems = []
        if required:
            problems.append(
                {
                    "check": "signature",
                    "problem": "this version is not signed and the project "
                    "requires signatures",
                }
            )
        if _was_signed(project, model):
            problems.append(
                {
                    "check": "signature",
                    "problem": "the audit log records a signature of this version, "
                    "but it is gone from the database (deleted)",
                }
            )
        return SignatureCheck(
            model.label, "failed" if problems else "unsigned", problems
        )
    envelope = doc["payload"]
    if public_key is not None:
        pub = as_public_key(public_key, what="verify_model")
    else:
        keys = trusted_keys(
            project,
            candidates=[envelope.get("public_key")]
            if isinstance(envelope, Mapping) and envelope.get("public_key")
            else [],
        )
        wanted = envelope.get("key_id") if isinstance(envelope, Mapping) else None
        pub = next((k for k in keys if key_id(k) == wanted), keys[0] if keys else None)
        if pub is not None and wanted and key_id(pub) != wanted and is_team(project):
            pub = None  # a colleague's key this machine does not trust (yet)
    if pub is None:
        return SignatureCheck(
            model.label,
            "failed",
            [{"check": "key", "problem": untrusted_key_problem(project, envelope)}],
        )
    problems = [
        {"check": "signature", "problem": p}
        for p in envelope_problems(envelope, public_key=pub)
    ]
    try:
        payload = json.loads(envelope["payload"])
        signed = payload["manifest"]
    except (KeyError, ValueError, TypeError):
        return SignatureCheck(
            model.label,
            "failed",
            problems or [{"check": "payload", "problem": "unreadable"}],
        )
    current = model_manifest(model)
    if signed.get("model") != model.name:
        problems.append(
            {
                "check": "identity",
                "problem": f"signed manifest is for model {signed.get('model')!r}",
            }
        )
    if signed.get("version") != model.version:
        kind = (
            "rollback: an older signed version presented as newer"
            if (
                isinstance(signed.get("version"), int)
                and signed["version"] < model.version
            )
            else "version mismatch"
        )
        problems.append(
            {
                "check": "version",
                "problem": f"signed manifest is for version {signed.get('version')}, "
                f"presented as version {model.version} ({kind})",
            }
        )
    diff = diff_manifest(
        signed.get("artifacts", {}), _blob_scan(model, rehash), subject=model.label
    )
    problems += [
        {"check": "artifact", "problem": f"{c.path}: {c.change} ({c.detail})"}
        for c in diff.changes
    ]
    for key, label in (
        ("data", "training data lineage"),
        ("recipe_sha256", "recipe"),
        ("flavor", "flavor"),
        ("created_at", "creation time"),
    ):
        if signed.get(key) != current[key]:
            problems.append(
                {"check": key, "problem": f"{label} differs from the signed manifest"}
            )
    if signed.get("base_model") != current["base_model"]:
        s, c = signed.get("base_model") or {}, current["base_model"] or {}
        problems.append(
            {
                "check": "base_model",
                "problem": f"base model sha256 {str(s.get('sha256'))[:16]} in "
                f"the signed manifest differs from the recorded lineage "
                f"({str(c.get('sha256'))[:16]})",
            }
        )
    return SignatureCheck(
        model.label,
        "failed" if problems else "verified",
        problems,
        key_id=payload.get("key_id", ""),
        sequence=payload.get("sequence"),
        signed_at=payload.get("signed_at", ""),
        manifest_sha256=digest(signed),
    )


def untrusted_key_problem(project: Project, envelope: Any) -> str:
    """Say that no trusted key verifies ``envelope``, and how to trust the signer's.

    The signer's fingerprint is read from the signature (the database), so it is
    shown to be checked with the signer, never trusted from here.
    """
    head = "no trusted key to verify with (keys are never read from the database)"
    try:
        fp = fingerprint(envelope["public_key"])
        kid = str(envelope.get("key_id", ""))
    except (KeyError, TypeError, ValueError, ValidationError):
        fp = ""
    if not fp:
        return (
            f"{head}: restore keys/ with the project, pin the key with MLOPS_NB_TRUST "
            "or Project.open(path, trust=...), or pass public_key="
        )
    where = "a team member" if is_team(project) else "the project's owner"
    return (
        f"{head}: it was signed with key {kid or '?'} ({fp}), which this machine "
        f"does not trust. Ask {where} who signed it to confirm the key "
        "(mnb.secure.public_key(proj) on their machine prints it), then trust it: "
        f"Project.open(..., trust={fp!r}) or MLOPS_NB_TRUST={fp}"
    )


def check_on_load(model: Model) -> None:
    """Refuse to load a version whose signature fails (or is unsigned when required).

    The hook :meth:`Model._predictor` calls before reading any file; the store then
    verifies every file's bytes against the signed SHA-256 as it reads them.
    """
    project = model.project
    if (
        project._document(SIGNATURE_DOC, _doc_name(model)) is None
        and not signatures_required(project)
        and not _was_signed(project, model)
    ):
        return
    check = verify_model(model, rehash=False)
    if check.status != "verified":
        check.raise_if_failed()


def signature_problems(project: Project) -> dict[str, str]:
    """``"model:name@version"`` -> problem, for every version whose signature fails."""
    from mlops_nb.model._model import model_from_row
    from mlops_nb.store._q_documents import document_names
    from mlops_nb.store._q_models import all_model_versions
    from mlops_nb.store._q_reports import audited_objects

    store = project._store
    required = signatures_required(project)
    signed = set(document_names(store, SIGNATURE_DOC)) | {
        # versions the audit log says were signed, whatever the documents say
        obj.split(":", 1)[1].rsplit("@", 1)[0]
        for obj in audited_objects(store, f"save {SIGNATURE_DOC}")
        if ":" in obj and "@" in obj
    }
    out = dict(trust_problems(project))
    for row in all_model_versions(store):
        if not required and f"{row['name']}@{row['version']}" not in signed:
            continue
        check = verify_model(model_from_row(project, row))
        if check.status == "failed":
            out[f"model:{row['name']}@{row['version']}"] = "; ".join(
                p["problem"] for p in check.problems
            )
    return out
