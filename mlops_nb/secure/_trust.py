"""Where signature trust comes from: never from the database.

A writer of ``registry.sqlite`` can add, change or delete any row, so neither the key
that verifies signatures nor the "require signatures" policy may be read from it. They
come, strongest first, from:

1. pins the user holds: ``Project.open(path, trust=...)`` and the environment variable
   ``MLOPS_NB_TRUST`` (comma-separated; each a 64-hex-digit public key as
   :func:`mnb.secure.public_key` prints it, or ``sha256:<64 hex>``, the fingerprint).
   With a pin, only pinned keys verify, and every version must be signed. On a team
   project the folder is this machine's, holding this member's own key: pins add the
   keys of colleagues whose signatures this machine accepts;
2. the key material in the project folder: the private key ``keys/ed25519.pem`` and the
   trust file ``keys/trust.json`` beside it (the public key, its fingerprint and the
   policy, signed by the private key). Backups carry the trust file, never the private
   key, so a backup keeps verifying with the same key and keeps the policy.

The policy is on when any source says so (``MLOPS_NB_REQUIRE_SIGNATURES=1``, a pin, the
signed trust file, or a policy row in the database — a database writer can turn it on,
never off). Turning it off rewrites the trust file, which needs the private key.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError
from mlops_nb.secure._files import read_regular_file
from mlops_nb.secure._keys import (
    KEY_DIR,
    as_public_key,
    key_id,
    load_project_key,
    raw_public,
)

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from mlops_nb._project import Project

TRUST_ENV = "MLOPS_NB_TRUST"
REQUIRE_ENV = "MLOPS_NB_REQUIRE_SIGNATURES"
TRUST_FILE = "trust.json"
_FORMAT = "mlops_nb/trust@1"


def fingerprint(public: Any) -> str:
    """Return ``sha256:<64 hex>``: the SHA-256 of a public key's 32 raw bytes."""
    pub = as_public_key(public, what="fingerprint")
    return "sha256:" + hashlib.sha256(raw_public(pub)).hexdigest()


def trust_path(project: Project) -> Path:
    """Return the trust file's path: ``keys/trust.json`` in the project folder."""
    return project.path / KEY_DIR / TRUST_FILE


def parse_pins(values: Any, *, what: str) -> tuple[str, ...]:
    """Normalise pins to ``sha256:<hex>`` fingerprints (public keys are hashed)."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split() if v]
    out = []
    for value in values:
        text = str(value).strip().lower()
        if text.startswith("sha256:") and len(text) == 71:
            try:
                bytes.fromhex(text[7:])
            except ValueError:
                pass
            else:
                out.append(text)
                continue
        try:
            out.append(fingerprint(value))
        except ValidationError as err:
            msg = (
                f"{what}: {value!r} is neither an Ed25519 public key (64 hex digits, "
                "from mnb.secure.public_key(proj)) nor a fingerprint 'sha256:<64 hex>'."
            )
            raise ValidationError(msg) from err
    return tuple(out)


def is_team(project: Project) -> bool:
    """Whether ``project.path`` is this machine's folder of a team project.

    Its key material is then this member's own (each member signs with their own
    key), so a pin adds a colleague's key to it instead of replacing it.
    """
    return getattr(project._store, "location", None) is not None


def pins(project: Project) -> tuple[str, ...]:
    """Return the pinned fingerprints: ``Project.open(trust=)``, then the env."""
    return tuple(getattr(project, "_trust", ())) + parse_pins(
        os.environ.get(TRUST_ENV), what=TRUST_ENV
    )


def read_trust_file(project: Project) -> dict[str, Any] | None:
    """Return the verified trust file, ``None`` when absent.

    Raises
    ------
    IntegrityError
        When it is not a regular file, not readable, or its signature does not verify
        with the key it names (edited without the private key).
    """
    from cryptography.exceptions import InvalidSignature

    path = trust_path(project)
    if not path.exists() and not path.is_symlink():
        return None
    label = f"trust file {str(path)!r}"
    raw = read_regular_file(path, error=IntegrityError, label=label, refusal=".")
    try:
        doc = json.loads(raw)
        body, signature = doc["body"], bytes.fromhex(doc["signature"])
        pub = as_public_key(body["public_key"], what=label)
        pub.verify(signature, _canonical(body))
    except (ValueError, KeyError, TypeError, InvalidSignature, ValidationError) as err:
        msg = (
            f"{label} does not verify ({type(err).__name__}): it was changed without "
            "the private key. Restore keys/ from a backup, or pin the key with "
            f"{TRUST_ENV}."
        )
        raise IntegrityError(msg) from err
    if body.get("format") != _FORMAT or body.get("fingerprint") != fingerprint(pub):
        msg = f"{label} is not an mlops_nb trust file."
        raise IntegrityError(msg)
    return body


def write_trust_file(
    project: Project, private: Ed25519PrivateKey, *, required: bool | None = None
) -> dict[str, Any]:
    """Write ``keys/trust.json`` signed by ``private`` (keeping the policy if None)."""
    from mlops_nb.errors import StoreError

    if required is None:
        try:
            old = read_trust_file(project)
        except IntegrityError:
            old = None
        required = bool(old and old.get("require_signatures"))
    pub = private.public_key()
    body = {
        "format": _FORMAT,
        "public_key": raw_public(pub).hex(),
        "key_id": key_id(pub),
        "fingerprint": fingerprint(pub),
        "require_signatures": bool(required),
    }
    doc = {"body": body, "signature": private.sign(_canonical(body)).hex()}
    path = trust_path(project)
    tmp = path.with_name(f".{TRUST_FILE}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if path.parent.is_symlink():
            msg = f"{path.parent} is a symbolic link; refusing to write through it."
            raise StoreError(msg)
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
            0o600,
        )
        try:
            os.write(fd, json.dumps(doc, indent=1, sort_keys=True).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, StoreError):
            raise
        msg = f"could not write the trust file {path}: {err}"
        raise StoreError(msg) from err
    return body


def folder_keys(project: Project) -> list[Ed25519PublicKey]:
    """Public keys the project folder's key material names (private key, trust file)."""
    out = []
    private = load_project_key(project)
    if private is not None:
        out.append(private.public_key())
    try:
        body = read_trust_file(project)
    except IntegrityError:
        body = None
    if body is not None:
        pub = as_public_key(body["public_key"], what="trust file")
        if not out or raw_public(pub) != raw_public(out[0]):
            out.append(pub)
    return out


def trusted_keys(project: Project, candidates: Any = ()) -> list[Ed25519PublicKey]:
    """Return the keys a signature may verify with; never a key from the database.

    Parameters
    ----------
    project : Project
    candidates : iterable
        Public keys seen elsewhere (an envelope's ``public_key``): used only when their
        fingerprint is pinned.
    """
    pinned = pins(project)
    folder = folder_keys(project)
    if not pinned:
        return folder
    own = {fingerprint(k) for k in folder} if is_team(project) else set()
    out, seen = [], set()
    for key in [*folder, *candidates]:
        try:
            pub = as_public_key(key, what="candidate key")
        except ValidationError:
            continue
        fp = fingerprint(pub)
        if (fp in pinned or fp in own) and fp not in seen:
            out.append(pub)
            seen.add(fp)
    return out


def policy_required(project: Project, *, db_says: bool) -> bool:
    """Whether every version must be signed (the database can only turn this on)."""
    if db_says or pins(project):
        return True
    if os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        body = read_trust_file(project)
    except IntegrityError:
        return True  # a trust file that does not verify fails closed
    return bool(body and body.get("require_signatures"))


def trust_problems(project: Project) -> dict[str, str]:
    """``"trust:..."`` -> problem, for :meth:`Project.verify`."""
    out = {}
    try:
        body = read_trust_file(project)
    except IntegrityError as err:
        out["trust:keys/trust.json"] = str(err)
        body = None
    try:
        private = load_project_key(project)
    except (IntegrityError, ValidationError) as err:
        out["trust:keys/ed25519.pem"] = str(err)
        private = None
    if body is not None and private is not None:
        mine = fingerprint(private.public_key())
        if body["fingerprint"] != mine:
            out["trust:keys/trust.json"] = (
                f"the trust file names key {body['fingerprint']} but the private key "
                f"is {mine}"
            )
    pinned = pins(project)
    if pinned and not is_team(project):  # a member's own key needs no pin
        for pub in folder_keys(project):
            if fingerprint(pub) not in pinned:
                out["trust:pinned key"] = (
                    f"the project folder's key {fingerprint(pub)} is not pinned "
                    f"({', '.join(pinned)}); versions it signed do not verify"
                )
    return out


def check_new_key(
    project: Project, public: Ed25519PublicKey, *, overwrite: bool, what: str
) -> None:
    """Refuse to install a key other than the one the trust file names (restores)."""
    try:
        body = read_trust_file(project)
    except IntegrityError:
        body = None
    if body is None or overwrite or body["fingerprint"] == fingerprint(public):
        return
    msg = (
        f"{what}: project {project.name!r} trusts key {body['fingerprint']} (its "
        "keys/trust.json, e.g. from the backup it was restored from); installing "
        "another key would make every version signed with it unverifiable. Install "
        "the original key with key=..., or pass overwrite=True to replace it."
    )
    raise ValidationError(msg)


def check_open(project: Project) -> None:
    """``Project.open(trust=...)``: refuse a folder whose key is another one."""
    pinned = tuple(getattr(project, "_trust", ()))
    if not pinned or is_team(project):  # a team member's folder holds their own key
        return
    other = [fingerprint(k) for k in folder_keys(project)]
    other = [fp for fp in other if fp not in pinned]
    if other:
        msg = (
            f"project {project.name!r}: its key material names key {other[0]}, not the "
            f"pinned {', '.join(pinned)}; a restored or copied project with another "
            "key is refused. If the key was changed on purpose, pass the new "
            "fingerprint as trust=."
        )
        raise IntegrityError(msg)


def copy_trust_file(project: Project, dest: Path) -> None:
    """Copy the trust file (public, signed) into a backup at ``dest``."""
    src = trust_path(project)
    if not src.exists():
        return
    data = read_regular_file(src, error=IntegrityError, label=f"trust file {src}")
    folder = dest / KEY_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(
        folder / TRUST_FILE,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
        0o600,
    )
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _canonical(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()
