"""The project's Ed25519 signing key: generated, stored and loaded safely.

The private key lives in ``<project>/keys/ed25519.pem`` (folder 0700, file 0600,
written with ``O_EXCL | O_NOFOLLOW``); a key file that is a link or readable by
others is refused, as ssh does. :meth:`Project.backup` copies only the database and
artifacts, so backups never carry the private key. The public key and its id are
recorded as a document (``signing-key``) for display only: verification never trusts
a key read from the database, only pinned keys and the key material in ``keys/``
(:mod:`mlops_nb.secure._trust`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, StoreError, ValidationError
from mlops_nb.secure._files import read_regular_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from mlops_nb._project import Project

KEY_DIR = "keys"
KEY_FILE = "ed25519.pem"
KEY_DOC = "signing-key"


def key_path(project: Project) -> Path:
    """Where the project's private key is (or would be) stored."""
    return project.path / KEY_DIR / KEY_FILE


def raw_public(public: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of a public key."""
    from cryptography.hazmat.primitives import serialization as ser

    return public.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """Return a short, stable id of a public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def as_private_key(key: Any, *, what: str) -> Ed25519PrivateKey:
    """Accept an Ed25519 private key: object, PEM bytes/text, 32 raw bytes or a path."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if isinstance(key, Ed25519PrivateKey):
        return key
    data: Any = key
    if isinstance(key, Path) or (isinstance(key, str) and "-----BEGIN" not in key):
        data = _read_key_file(Path(key), what=what)
    if isinstance(data, str):
        data = data.encode()
    if isinstance(data, (bytes, bytearray)):
        try:
            if len(data) == 32:
                return Ed25519PrivateKey.from_private_bytes(bytes(data))
            loaded = ser.load_pem_private_key(bytes(data), password=None)
        except (ValueError, TypeError) as err:
            msg = (
                f"{what}: the key is not a readable unencrypted Ed25519 PEM key "
                f"({err})."
            )
            raise ValidationError(msg) from err
        if isinstance(loaded, Ed25519PrivateKey):
            return loaded
    msg = (
        f"{what}: key must be an Ed25519 private key (object, PEM, 32 raw bytes or a "
        f"PEM file path), got {type(key).__name__}. Make one with "
        "mnb.secure.generate_key(proj)."
    )
    raise ValidationError(msg)


def as_public_key(key: Any, *, what: str) -> Ed25519PublicKey:
    """Accept a public key object, a private key, PEM, 32 raw bytes or 64 hex digits."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    try:
        if isinstance(key, str) and len(key) == 64:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
        if isinstance(key, (bytes, bytearray)) and len(key) == 32:
            return Ed25519PublicKey.from_public_bytes(bytes(key))
        if isinstance(key, (str, bytes)):
            data = key.encode() if isinstance(key, str) else key
            loaded = ser.load_pem_public_key(data)
            if isinstance(loaded, Ed25519PublicKey):
                return loaded
    except ValueError as err:
        msg = f"{what}: not an Ed25519 public key ({err})."
        raise ValidationError(msg) from err
    msg = (
        f"{what}: public_key must be an Ed25519 public key (object, PEM, 32 raw bytes "
        f"or 64 hex digits), got {type(key).__name__}."
    )
    raise ValidationError(msg)


def _read_key_file(path: Path, *, what: str) -> bytes:
    path = path.expanduser()

    def private_to_owner(st: os.stat_result) -> None:
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            msg = (
                f"{what}: key file {str(path)!r} is accessible to other users (mode "
                f"{stat.filemode(st.st_mode)}); anyone could sign as this project. Fix "
                f"with: chmod 600 {path}"
            )
            raise IntegrityError(msg)

    return read_regular_file(
        path,
        error=IntegrityError,
        label=f"{what}: key file {str(path)!r}",
        refusal="; refusing it.",
        check=private_to_owner,
        chunk=1 << 16,
    )


def load_project_key(project: Project) -> Ed25519PrivateKey | None:
    """Return the project's private key, or ``None`` when it has none.

    In a project opened read-only by another user, a key file this user cannot read
    is not theirs to sign with: ``None``, and signatures verify with the trust file.
    """
    path = key_path(project)
    try:
        if not path.exists() and not path.is_symlink():
            return None
    except PermissionError:  # keys/ is not searchable by this user
        pass
    if getattr(project._store, "read_only", "") and not os.access(path, os.R_OK):
        return None
    return as_private_key(path, what=f"project {project.name!r}")


def generate_key(project: Project, *, key: Any = None, overwrite: bool = False) -> str:
    """Create (or install) the project's Ed25519 signing key; return its key id.

    Parameters
    ----------
    project : Project
        Where to store the key (``keys/ed25519.pem`` in the project folder, mode 0600).
    key : optional
        Install this private key instead of generating one (object, PEM, 32 raw bytes
        or a PEM file path), e.g. a team key kept in a secrets manager.
    overwrite : bool
        Replace an existing key. Versions signed with the old key then fail
        verification unless it is passed explicitly as ``public_key=``.

    Returns
    -------
    str
        The key id (first 16 hex digits of the public key's SHA-256).

    Raises
    ------
    ValidationError
        When the project already has a key and ``overwrite`` is False.
    """
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    what = "generate_key"
    path = key_path(project)
    if getattr(project._store, "read_only", ""):
        project._store.db._refuse_write()
    if (path.exists() or path.is_symlink()) and not overwrite:
        msg = (
            f"{what}: project {project.name!r} already has a signing key "
            f"({load_project_key(project) and 'id ' + public_key_id(project)}); pass "
            "overwrite=True to replace it."
        )
        raise ValidationError(msg)
    private = (
        as_private_key(key, what=what)
        if key is not None
        else Ed25519PrivateKey.generate()
    )
    from mlops_nb.secure._trust import check_new_key, write_trust_file

    check_new_key(project, private.public_key(), overwrite=overwrite, what=what)
    pem = private.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    tmp = path.with_name(f".{KEY_FILE}.tmp-{os.getpid()}")
    had_key = path.exists() or path.is_symlink()
    try:
        # a team project's folder on this machine is made with its first key
        path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if path.parent.is_symlink():
            msg_0 = (
                f"{what}: {path.parent} is a symbolic link; refusing to write a "
                f"key through it."
            )
            raise StoreError(msg_0)
        path.parent.chmod(0o700)
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
            0o600,
        )
        try:
            view = memoryview(pem)
            while view:  # os.write may write less than asked (a nearly full disk)
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except OSError as err:
        if isinstance(err, StoreError):
            raise
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # never leave a half-written key behind
        msg_0 = (
            f"{what}: could not write the key to {path} ({err}); no key was "
            "installed. Free disk space or fix the folder's permissions, then call "
            "generate_key again."
        )
        raise StoreError(msg_0) from err
    try:
        write_trust_file(project, private)  # public key + policy, beside the key
    except StoreError:
        if not had_key:  # a key without its trust file is half installed: undo
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    public = private.public_key()
    kid = key_id(public)
    try:
        project._save_document(
            KEY_DOC,
            "project",
            {
                "public_key": raw_public(public).hex(),
                "key_id": kid,
                "algorithm": "Ed25519",
            },
            note="signing key",
        )
    except StoreError as err:
        if had_key:
            raise
        from mlops_nb.secure._trust import trust_path

        for done in (path, trust_path(project)):  # undo: not recorded, not installed
            with contextlib.suppress(OSError):
                done.unlink()
        msg_0 = (
            f"{what}: could not record the new key in the project database ({err}); "
            "no key was installed. Free disk space, then call generate_key again."
        )
        raise StoreError(msg_0) from err
    return kid


def trusted_public_key(project: Project) -> Ed25519PublicKey | None:
    """Return the key a project verifies with: pinned, else its key material's.

    Never the ``signing-key`` row of the database (any writer of it could put their
    own key there); see :mod:`mlops_nb.secure._trust`.
    """
    from mlops_nb.secure._trust import trusted_keys

    keys = trusted_keys(project)
    return keys[0] if keys else None


def public_key(project: Project) -> str:
    """Return the project's public key as 64 hex digits (to pin on devices and in CI).

    Raises
    ------
    ValidationError
        When the project has no signing key yet.
    """
    pub = trusted_public_key(project)
    if pub is None:
        msg = (
            f"project {project.name!r} has no signing key yet: call "
            f"mnb.secure.generate_key(proj)."
        )
        raise ValidationError(msg)
    return raw_public(pub).hex()


def public_key_id(project: Project) -> str:
    """Return the id of the project's public key."""
    return hashlib.sha256(bytes.fromhex(public_key(project))).hexdigest()[:16]
