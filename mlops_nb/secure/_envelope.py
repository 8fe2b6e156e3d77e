"""Signed envelopes: Ed25519 over canonical JSON, verified with a pinned public key.

The generic layer under model signatures, usable by edge bundles: :func:`sign_manifest`
wraps any JSON-ready manifest with a ``sequence`` (which grows with every newer
manifest of the same subject), the signing time and the key id; :func:`verify_envelope`
checks it against a key the verifier trusts - never the key inside the envelope - and
refuses a sequence older than the last one accepted (rollback).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError
from mlops_nb.secure._keys import as_private_key, as_public_key, key_id, raw_public

if TYPE_CHECKING:
    from collections.abc import Mapping


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, ASCII only."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical(obj)).hexdigest()


def sign_manifest(
    manifest: Mapping[str, Any], *, key: Any, sequence: int, signed_at: str = ""
) -> dict[str, str]:
    """Sign a manifest; return ``{payload, signature, key_id, public_key}``.

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
    payload = {
        "manifest": dict(manifest),
        "sequence": int(sequence),
        "signed_at": signed_at,
        "key_id": key_id(pub),
    }
    text = canonical(payload)
    return {
        "payload": text.decode(),
        "signature": private.sign(text).hex(),
        "key_id": key_id(pub),
        "public_key": raw_public(pub).hex(),
    }


def verify_envelope(
    envelope: Mapping[str, Any],
    *,
    public_key: Any,
    min_sequence: int | None = None,
    what: str = "manifest",
) -> dict[str, Any]:
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
    problems = envelope_problems(
        envelope, public_key=public_key, min_sequence=min_sequence
    )
    if problems:
        raise IntegrityError(f"{what}: " + "; ".join(problems))
    return json.loads(envelope["payload"])


def envelope_problems(
    envelope: Mapping[str, Any], *, public_key: Any, min_sequence: int | None = None
) -> list[str]:
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
        problems.append(
            f"signed with key {envelope.get('key_id')}, but the trusted key is "
            f"{trusted} "
            "(wrong key)"
        )
    if len(signature) != 64:
        problems.append(
            f"the signature is {len(signature)} bytes, an Ed25519 signature is 64 "
            f"(truncated)"
        )
    else:
        try:
            pub.verify(signature, payload_text)
        except InvalidSignature:
            problems.append(
                "the signature does not match the signed payload with the trusted key "
                "(altered payload or signature, or another manifest's signature)"
            )
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return [*problems, "the signed payload is not JSON"]
    if not isinstance(payload, dict):
        return [*problems, "the signed payload is not a JSON object"]
    sequence = payload.get("sequence", -1)
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        return [*problems, f"the signed sequence {sequence!r} is not a whole number"]
    if min_sequence is not None and sequence < int(min_sequence):
        problems.append(
            f"sequence {sequence} is older than the last accepted "
            f"{min_sequence} (rollback)"
        )
    return problems
