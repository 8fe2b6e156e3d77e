"""Base-model provenance for transfer learning and warm starts (T34).

Continuing training from a base model inherits whatever the base model learnt,
including a backdoor planted in it (BadNets survive fine-tuning). So a base model is
used only when its provenance is established: it is a version of this project whose
signature verifies, or its manifest hash was trusted explicitly, by someone, for a
recorded reason (:func:`trust_base_model`). The fine-tuned version then records the
base's hash in its lineage, and so in its signed manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.model import Model

TRUST_DOC = "trusted-base-model"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BaseModel:
    """A base model cleared for transfer learning, ready for the child's lineage."""

    name: str | None
    version: int | None
    sha256: str
    basis: str  # "signature" or "trusted: <reason>"

    def lineage(self) -> dict[str, Any]:
        """Return the ``base_model`` entry for the fine-tuned version's lineage."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "basis": self.basis,
        }


def _check_hash(sha256: Any, what: str) -> str:
    if not isinstance(sha256, str) or not _HEX64.match(sha256):
        msg = (
            f"{what}: {sha256!r} is not a SHA-256 (64 lower-case hex digits). Use "
            "mnb.secure.model_digest(model) for a model version, or the sha256 of "
            "the file."
        )
        raise ValidationError(msg)
    return sha256


def trust_base_model(project: Project, sha256: str, *, reason: str) -> dict[str, Any]:
    """Record that a base model (by manifest or file hash) may be fine-tuned from.

    Parameters
    ----------
    project : Project
    sha256 : str
        :func:`model_digest` of a model version, or the SHA-256 of an external file.
    reason : str
        Why it is trusted (who supplied it, how it was checked). Required; recorded
        with who and when in the audit log.

    Returns
    -------
    dict
        The stored record.
    """
    what = "trust_base_model"
    sha256 = _check_hash(sha256, what)
    if not isinstance(reason, str) or len(reason.strip()) < 5:
        msg = (
            f"{what}: give a reason of at least 5 characters (who supplied the "
            f"model, how it was checked)."
        )
        raise ValidationError(msg)
    doc = project._save_document(
        TRUST_DOC,
        sha256,
        {"sha256": sha256, "reason": reason.strip()},
        note=reason.strip(),
    )
    return {
        "sha256": sha256,
        "reason": doc["payload"]["reason"],
        "by": doc["created_by"],
        "at": doc["created_at"],
    }


def trusted_reason(project: Project, sha256: str) -> str | None:
    """Return the recorded reason a hash is trusted, or ``None``."""
    doc = project._document(TRUST_DOC, sha256)
    return doc["payload"]["reason"] if doc else None


def require_trusted_base(
    project: Project,
    base: Model | str,
    *,
    what: str = "fine-tune",
    strict: bool | None = True,
) -> BaseModel:
    """Check a base model's provenance before training continues from it.

    Parameters
    ----------
    project : Project
        The project the fine-tuned version will live in.
    base : Model or str
        A model version (its signature is verified) or the SHA-256 of an external base.
    what : str
        The calling action, for messages.
    strict : bool or None
        Refuse an *unsigned* version of this project unless trusted (``True``), or
        accept it on the strength of its verified lineage (``False``); ``None`` follows
        :func:`require_signatures`. A signature that fails is always refused.

    Returns
    -------
    BaseModel
        Put ``.lineage()`` into the new version's ``lineage["base_model"]``.

    Raises
    ------
    IntegrityError
        When the base is unsigned, its signature fails, or its hash is unknown, and
        no :func:`trust_base_model` record covers its hash.
    """
    from mlops_nb.model import Model
    from mlops_nb.secure._signing import model_digest, signatures_required, verify_model

    if isinstance(base, Model):
        sha = model_digest(base)
        check = verify_model(base)
        if check.status == "verified":
            return BaseModel(base.name, base.version, sha, "signature")
        reason = trusted_reason(project, sha)
        if reason is not None:
            return BaseModel(base.name, base.version, sha, f"trusted: {reason}")
        strict = signatures_required(project) if strict is None else strict
        if check.status == "unsigned" and not strict:
            return BaseModel(base.name, base.version, sha, "unsigned: lineage only")
        problem = (
            "it is not signed"
            if check.status == "unsigned"
            else "its signature fails: "
            + "; ".join(p["problem"] for p in check.problems)
        )
        msg = (
            f"{what}: base model {base.label} (manifest sha256 {sha}) is refused: "
            f"{problem}. "
            "Sign it (mnb.secure.sign_model(base)) or, if you checked it otherwise, "
            "record "
            f"mnb.secure.trust_base_model(proj, {sha!r}, reason='...')."
        )
        raise IntegrityError(msg)
    sha = _check_hash(base, what)
    reason = trusted_reason(project, sha)
    if reason is None:
        msg = (
            f"{what}: base model with sha256 {sha} has no signature or trust record "
            f"in this "
            f"project. If you checked its origin, record "
            f"mnb.secure.trust_base_model(proj, "
            f"{sha!r}, reason='...') first."
        )
        raise IntegrityError(msg)
    return BaseModel(None, None, sha, f"trusted: {reason}")
