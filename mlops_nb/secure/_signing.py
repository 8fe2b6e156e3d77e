"""Signed model manifests: Ed25519 over a canonical JSON payload, verified on load (T16).

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

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError
from mlops_nb.secure._keys import (
    as_private_key,
    as_public_key,
    generate_key,
    key_id,
    load_project_key,
    raw_public,
    trusted_public_key,
)
from mlops_nb.secure._manifest import Scan, diff_manifest
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.model import Model

MANIFEST_FORMAT = "mlops_nb/model-manifest@1"
SIGNATURE_DOC = "model-signature"
POLICY_DOC = "secure-policy"


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical(obj)).hexdigest()


# -- manifests --------------------------------------------------------------------------
def model_manifest(model: Model) -> dict[str, Any]:
    """The canonical manifest of a model version, rebuilt from the registry."""
    return {
        "format": MANIFEST_FORMAT,
        "model": model.name,
        "version": int(model.version),
        "flavor": model.flavor,
        "artifacts": dict(sorted(model.artifacts.items())),
        "data": [{"name": d["name"], "version": int(d["version"]), "content_hash": d["content_hash"]}
                 for d in model.lineage.get("data", [])],  # fmt: skip
        "base_model": base_model_of(model),
        "recipe_sha256": digest(model.recipe),
        "created_at": model.created_at,
    }


def model_digest(model: Model) -> str:
    """The SHA-256 of a model version's canonical manifest: its identity for lineage."""
    return digest(model_manifest(model))


def base_model_of(model: Model) -> dict[str, Any] | None:
    """The base model recorded in lineage, with its manifest hash (``None`` if none)."""
    lineage = model.lineage
    base = lineage.get("base_model")
    if isinstance(base, Mapping) and base.get("sha256"):
        return {"name": base.get("name"), "version": base.get("version"), "sha256": base["sha256"]}
    parent = lineage.get("parent_model")
    if not parent:
        return None
    name, version = parent
    try:
        sha = model_digest(model.project.model(name, version=int(version)))
    except Exception:  # the recorded parent is gone: the hash cannot be recomputed
        sha = None
    return {"name": name, "version": int(version), "sha256": sha}


# -- generic signed envelopes (also for edge bundles) ------------------------------------
def sign_manifest(manifest: Mapping[str, Any], *, key: Any, sequence: int, signed_at: str = "") -> dict[str, str]:
    """Sign a manifest; return the envelope ``{payload, signature, key_id, public_key}``.

    Parameters
    ----------
    manifest : mapping
        JSON-ready content (file hashes, version, lineage ...).
    key : Ed25519 private key, PEM, raw bytes or path
        The signing key.
    sequence : int
        A number that grows with every newer manifest of the same subject; a verifier
        that remembers the last one it accepted refuses anything older.
    signed_at : str
        Timestamp to record (optional).
    """
    private = as_private_key(key, what="sign_manifest")
    pub = private.public_key()
    payload = {"manifest": dict(manifest), "sequence": int(sequence), "signed_at": signed_at,
               "key_id": key_id(pub)}  # fmt: skip
    text = canonical(payload)
    return {"payload": text.decode(), "signature": private.sign(text).hex(),
            "key_id": key_id(pub), "public_key": raw_public(pub).hex()}  # fmt: skip


def verify_envelope(envelope: Mapping[str, Any], *, public_key: Any, min_sequence: int | None = None,
                    what: str = "manifest") -> dict[str, Any]:  # fmt: skip
    """Check an envelope's signature with a pinned public key; return its payload.

    Parameters
    ----------
    envelope : mapping
        As returned by :func:`sign_manifest`.
    public_key : Ed25519 public key, hex, raw bytes or PEM
        The key to trust. The key stored in the envelope is never trusted.
    min_sequence : int, optional
        The last sequence accepted before: a smaller one is a rollback and refused.

    Raises
    ------
    IntegrityError
        Wrong key, truncated or altered signature, altered payload, or rollback.
    """
    problems = envelope_problems(envelope, public_key=public_key, min_sequence=min_sequence)
    if problems:
        raise IntegrityError(f"{what}: " + "; ".join(problems))
    return json.loads(envelope["payload"])


def envelope_problems(envelope: Mapping[str, Any], *, public_key: Any,
                      min_sequence: int | None = None) -> list[str]:  # fmt: skip
    """Every reason an envelope does not verify (empty when it does)."""
    from cryptography.exceptions import InvalidSignature

    pub = as_public_key(public_key, what="verify")
    problems = []
    try:
        payload_text = str(envelope["payload"]).encode()
        signature = bytes.fromhex(str(envelope["signature"]))
    except (KeyError, ValueError, TypeError) as err:
        return [f"malformed signature envelope ({type(err).__name__}: {err})"]
    trusted = key_id(pub)
    if envelope.get("key_id") not in (None, trusted):
        problems.append(f"signed with key {envelope.get('key_id')}, but the trusted key is {trusted} "
                        "(wrong key)")  # fmt: skip
    if len(signature) != 64:
        problems.append(f"the signature is {len(signature)} bytes, an Ed25519 signature is 64 (truncated)")
    else:
        try:
            pub.verify(signature, payload_text)
        except InvalidSignature:
            problems.append("the signature does not match the signed payload with the trusted key "
                            "(altered payload or signature, or another manifest's signature)")  # fmt: skip
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return [*problems, "the signed payload is not JSON"]
    if min_sequence is not None and int(payload.get("sequence", -1)) < int(min_sequence):
        problems.append(f"sequence {payload.get('sequence')} is older than the last accepted "
                        f"{min_sequence} (rollback)")  # fmt: skip
    return problems


# -- model versions ---------------------------------------------------------------------
def _doc_name(model: Model) -> str:
    return f"{model.name}@{model.version}"


def _signatures(project: Project, name: str) -> list[dict[str, Any]]:
    rows = project._store.query(
        "SELECT name, version, payload FROM documents WHERE kind = ? AND name LIKE ? ESCAPE '\\' "
        "ORDER BY id", (SIGNATURE_DOC, name.replace("_", "\\_").replace("%", "\\%") + "@%"),
    )  # fmt: skip
    return [json.loads(r["payload"]) for r in rows]


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
            raise IntegrityError(f"sign_model({model.label}): artifact {art!r} ({blob}) {problem}; not signed.")
    if key is None:
        if load_project_key(project) is None:
            generate_key(project)
        private = load_project_key(project)
    else:
        private = as_private_key(key, what=f"sign_model({model.label})")
    sequence = 1 + max((int(json.loads(s["payload"])["sequence"]) for s in _signatures(project, model.name)),
                       default=0)  # fmt: skip
    envelope = sign_manifest(model_manifest(model), key=private, sequence=sequence, signed_at=now())
    project._save_document(SIGNATURE_DOC, _doc_name(model), envelope, note=f"sequence {sequence}")
    return verify_model(model, public_key=private.public_key())


def require_signatures(project: Project, required: bool = True, *, reason: str = "") -> None:
    """Make unsigned model versions refuse to load in this project (or allow them again)."""
    policy = dict((project._document(POLICY_DOC, "signing") or {"payload": {}})["payload"])
    policy["require_signatures"] = bool(required)
    project._save_document(POLICY_DOC, "signing", policy, note=reason)


def signatures_required(project: Project) -> bool:
    """Whether the project requires every loaded model version to be signed."""
    doc = project._document(POLICY_DOC, "signing")
    return bool(doc and doc["payload"].get("require_signatures"))


def _blob_scan(model: Model, rehash: bool) -> Scan:
    """The model's files as they are now: artifact name -> SHA-256 of the blob."""
    from mlops_nb.secure._manifest import hash_file

    store = model.project._store.artifacts
    files, links, special = {}, {}, {}
    for art, blob in model.artifacts.items():
        try:
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


def verify_model(model: Model, *, public_key: Any = None, rehash: bool = True) -> SignatureCheck:
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
        problems = [{"check": "signature", "problem": "this version is not signed and the project "
                     "requires signatures"}] if required else []  # fmt: skip
        return SignatureCheck(model.label, "failed" if required else "unsigned", problems)
    envelope = doc["payload"]
    pub = as_public_key(public_key, what="verify_model") if public_key is not None else trusted_public_key(project)
    if pub is None:
        return SignatureCheck(model.label, "failed", [{"check": "key", "problem": "the project has no key "
                              "to verify with; pass public_key="}])  # fmt: skip
    problems = [{"check": "signature", "problem": p} for p in envelope_problems(envelope, public_key=pub)]
    try:
        payload = json.loads(envelope["payload"])
        signed = payload["manifest"]
    except (KeyError, ValueError, TypeError):
        return SignatureCheck(model.label, "failed", problems or [{"check": "payload", "problem": "unreadable"}])
    current = model_manifest(model)
    if signed.get("model") != model.name:
        problems.append({"check": "identity", "problem": f"signed manifest is for model {signed.get('model')!r}"})
    if signed.get("version") != model.version:
        kind = "rollback: an older signed version presented as newer" if (
            isinstance(signed.get("version"), int) and signed["version"] < model.version) else "version mismatch"
        problems.append({"check": "version", "problem": f"signed manifest is for version {signed.get('version')}, "
                         f"presented as version {model.version} ({kind})"})  # fmt: skip
    diff = diff_manifest(signed.get("artifacts", {}), _blob_scan(model, rehash), subject=model.label)
    problems += [{"check": "artifact", "problem": f"{c.path}: {c.change} ({c.detail})"} for c in diff.changes]
    for key, label in (("data", "training data lineage"), ("recipe_sha256", "recipe"),
                       ("flavor", "flavor"), ("created_at", "creation time")):  # fmt: skip
        if signed.get(key) != current[key]:
            problems.append({"check": key, "problem": f"{label} differs from the signed manifest"})
    if signed.get("base_model") != current["base_model"]:
        s, c = signed.get("base_model") or {}, current["base_model"] or {}
        problems.append({"check": "base_model", "problem": f"base model sha256 {str(s.get('sha256'))[:16]} in "
                         f"the signed manifest differs from the recorded lineage ({str(c.get('sha256'))[:16]})"})  # fmt: skip
    return SignatureCheck(model.label, "failed" if problems else "verified", problems,
                          key_id=payload.get("key_id", ""), sequence=payload.get("sequence"),
                          signed_at=payload.get("signed_at", ""), manifest_sha256=digest(signed))  # fmt: skip


def check_on_load(model: Model) -> None:
    """Refuse to load a version whose signature fails (or that is unsigned when required).

    The hook :meth:`Model._predictor` calls before reading any file; the store then
    verifies every file's bytes against the signed SHA-256 as it reads them.
    """
    project = model.project
    if project._document(SIGNATURE_DOC, _doc_name(model)) is None and not signatures_required(project):
        return
    check = verify_model(model, rehash=False)
    if check.status != "verified":
        check.raise_if_failed()


def signature_problems(project: Project) -> dict[str, str]:
    """``"model:name@version"`` -> problem, for every version whose signature fails."""
    from mlops_nb.model._model import model_from_row

    required = signatures_required(project)
    signed = {r["name"] for r in project._store.query("SELECT DISTINCT name FROM documents WHERE kind = ?",
                                                      (SIGNATURE_DOC,))}  # fmt: skip
    out = {}
    for row in project._store.query("SELECT * FROM model_versions ORDER BY name, version"):
        if not required and f"{row['name']}@{row['version']}" not in signed:
            continue
        check = verify_model(model_from_row(project, row))
        if check.status == "failed":
            out[f"model:{row['name']}@{row['version']}"] = "; ".join(p["problem"] for p in check.problems)
    return out


@dataclass(frozen=True, repr=False)
class SignatureCheck(Displayable):
    """The result of verifying one model version's signature."""

    subject: str
    status: str
    problems: list[dict[str, str]] = field(default_factory=list)
    key_id: str = ""
    sequence: int | None = None
    signed_at: str = ""
    manifest_sha256: str = ""

    @property
    def ok(self) -> bool:
        """True when verified, or unsigned in a project that does not require signatures."""
        return self.status != "failed"

    def raise_if_failed(self) -> None:
        """Raise :class:`IntegrityError` listing every problem, when verification failed."""
        if self.status == "failed":
            items = "; ".join(f"{p['check']}: {p['problem']}" for p in self.problems)
            msg = (f"{self.subject}: signature verification failed: {items}. Do not use this version; "
                   "restore the project from a backup or re-train, then sign again.")  # fmt: skip
            raise IntegrityError(msg)

    def _view(self) -> View:
        import pandas as pd

        blocks: list[Any] = [KeyValues([("status", self.status), ("key id", self.key_id or "—"),
                                        ("sequence", self.sequence), ("signed at", self.signed_at or "—"),
                                        ("manifest sha256", self.manifest_sha256[:16] + "…"
                                         if self.manifest_sha256 else "—")])]  # fmt: skip
        if self.problems:
            blocks.append(Table(pd.DataFrame(self.problems, columns=["check", "problem"])))
        elif self.status == "unsigned":
            blocks.append(Text("Not signed: mnb.secure.sign_model(model) signs it.", "muted"))
        else:
            blocks.append(Text("Signature valid; every file, the data lineage, base model and recipe "
                               "match the signed manifest.", "ok"))  # fmt: skip
        tone = {"verified": "ok", "unsigned": "muted"}.get(self.status, "error")
        summary = self.status if not self.problems else f"failed: {len(self.problems)} problems"
        return View("SignatureCheck", self.subject, summary, [(self.status, tone)], [Tab("Signature", blocks)])
