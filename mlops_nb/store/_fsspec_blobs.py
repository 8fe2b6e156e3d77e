"""Content-addressed blobs on any fsspec file system (S3 through s3fs, local, ...).

The same layout as the embedded :class:`~mlops_nb.store._artifacts.ArtifactStore`:
``<root>/<aa>/<sha256>``, the key derived only from the bytes' SHA-256. On an object
store a blob is one PUT to its final key with a checksum the server verifies (a PUT
appears whole or not at all); on a disk it is written to a temporary file
(``<root>/.tmp/<random>-<sha256>``), its size checked, and renamed to its final name.
Every read re-hashes the bytes.

With ``cache=`` (a team project passes this machine's
:func:`~mlops_nb.store._blob_cache.default_cache_dir`), blobs read from an object
store are kept in a local content-addressed
:class:`~mlops_nb.store._blob_cache.BlobCache` and served from it, re-hashed, on
later reads; :meth:`FsspecBlobStore.verify` and
:meth:`FsspecBlobStore.stored_hash` always read the object store itself.

Credentials come from the file system's own chain (for S3: ``AWS_*`` environment
variables, ``~/.aws``, an instance role); they are refused as arguments, so they are
never held by this object, stored in a project or shown in a repr or message.
``storage_options`` carry only what is not secret (``client_kwargs.endpoint_url``,
``region_name``, ...).

A project's metadata rows point at blobs: callers put the blob first and write the row
after, so a crash between the two leaves an orphan blob (removed by a gc that lists
:meth:`FsspecBlobStore.iter_digests`), never a row without its blob.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    IntegrityError,
    MlopsNbError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from mlops_nb.store._artifacts import _HEX64, check_digest, sha256_bytes
from mlops_nb.store._blob_cache import BlobCache
from mlops_nb.store._urls import mask_url, scrub

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

#: Keys of ``storage_options`` that hold secrets: refused (use the standard chain).
SECRET_OPTIONS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "connection_string",
        "client_secret",
    }
)
_TMP = ".tmp"
_NOTHING = " Nothing was recorded (a temporary key left behind goes with gc())."


def _secret_keys(options: Any, where: str = "") -> list[str]:
    found = []
    if isinstance(options, dict):
        for name, value in options.items():
            path = f"{where}{name}"
            if str(name).lower() in SECRET_OPTIONS:
                found.append(path)
            found += _secret_keys(value, f"{path}.")
    return found


class FsspecBlobStore:
    """Blobs named by their SHA-256 under one fsspec URL.

    Parameters
    ----------
    url : str
        Where the blobs live, e.g. ``s3://ml-artifacts/credit`` or
        ``file:///srv/ml/credit``.
    storage_options : dict, optional
        Passed to the file system (for example
        ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}``). Secrets
        are refused: credentials come from the file system's standard chain.
    cache : str or Path, optional
        A local folder for a read cache of an object store's blobs (see
        :class:`~mlops_nb.store._blob_cache.BlobCache`); ignored for a local file
        system. Default: no cache.

    Attributes
    ----------
    fetches : int
        Blob bodies fetched from the file system (GETs), cache hits excluded.
    cache : BlobCache or None
        The read cache in use.

    Raises
    ------
    ValidationError
        When ``storage_options`` hold a credential.
    MissingDependencyError
        When the protocol's fsspec implementation is not installed (``s3fs``).
    """

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        cache: str | os.PathLike[str] | None = None,
    ):
        import fsspec

        from mlops_nb.errors import MissingDependencyError

        self.url = str(url).rstrip("/")
        self._shown = mask_url(self.url)
        secrets_given = _secret_keys(storage_options or {})
        if secrets_given:
            msg = (
                f"storage_options for {self._shown} hold credentials "
                f"({', '.join(secrets_given)}); they are never stored or passed "
                "around by mlops_nb. Remove them and use the standard chain (for S3: "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, or an instance role)."
            )
            raise ValidationError(msg)
        options = dict(storage_options or {})
        if fsspec.utils.get_protocol(self.url) in ("file", "local"):
            options.setdefault("auto_mkdir", True)  # object stores need no folders
        # Other machines add blobs at any moment: a cached listing would hide them
        # (s3fs sizes a read from its listing cache, then says "missing").
        options.setdefault("use_listings_cache", False)
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as err:
            msg = (
                f"{self._shown} needs an fsspec implementation that is not installed "
                f"({err}); for s3:// install s3fs (pip install 'mlops-nb[team]')."
            )
            raise MissingDependencyError(msg) from None
        except Exception as err:  # a bad URL or option; the text may quote the URL
            detail = scrub(str(err), url)
            msg = f"could not open the artifact store {self._shown}: {detail}"
            raise StoreError(msg) from None
        self.root = self.root.rstrip("/")
        self._local = fsspec.utils.get_protocol(self.url) in ("file", "local")
        self.fetches = 0
        self.cache = None if cache is None or self._local else BlobCache(cache)

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self._shown!r})"

    # -- keys ----------------------------------------------------------------------
    def key_for(self, digest: str) -> str:
        """Return the key of a blob; only a 64-character hex digest is accepted."""
        check_digest(digest)
        return f"{self.root}/{digest[:2]}/{digest}"

    @contextlib.contextmanager
    def _io(self, action: str, *, changed: str = "") -> Iterator[None]:
        """Turn a file-system failure into a StoreError naming the store (masked).

        The message ends with what to do; ``changed`` says what the failed call left
        (for a write: nothing recorded).
        """
        try:
            yield
        except MlopsNbError:
            raise
        except Exception as err:  # s3fs/botocore raise many kinds; all mean "failed"
            detail = scrub(str(err), self.url).strip().rstrip(".") or type(err).__name__
            msg = (
                f"could not {action} in {self._shown}: {detail}.{changed} Check that "
                "the object store is reachable (and the credentials of its standard "
                "chain are valid), then run the call again."
            )
            raise StoreError(msg) from None

    # -- blobs ---------------------------------------------------------------------
    def exists(self, digest: str, *, writing: bool = False) -> bool:
        """Whether a blob with this digest is stored (not verified).

        ``writing``: the check is part of a write, so a failure says that nothing was
        recorded.
        """
        key = self.key_for(digest)
        with self._io(f"look for artifact {digest}", changed=_NOTHING * writing):
            self.fs.invalidate_cache(key)
            return bool(self.fs.exists(key))

    def put(self, data: bytes | memoryview) -> str:
        """Store ``data`` and return its SHA-256.

        On an object store one PUT to the final key, with a checksum the server checks
        (S3: ``Content-MD5``), so the key appears whole or not at all; on a disk a
        temporary file, its size checked, renamed to the final name. A blob already
        stored is not written again.

        Raises
        ------
        StoreError
            When a write fails (the final key then holds nothing new).
        """
        data = bytes(data)
        digest = sha256_bytes(data)
        key = self.key_for(digest)
        if self.exists(digest, writing=True):
            return digest
        with self._io(f"write artifact {digest}", changed=_NOTHING):
            if self._local:
                self._put_by_rename(key, digest, data)
            else:  # an object store's PUT lands whole or not at all
                self.fs.pipe_file(key, data, **self._checksum(data))
        return digest

    def _put_by_rename(self, key: str, digest: str, data: bytes) -> None:
        """Write to a temporary file, then rename it to ``key`` (atomic on a disk)."""
        tmp = f"{self.root}/{_TMP}/{secrets.token_hex(8)}-{digest}"
        try:
            self.fs.pipe_file(tmp, data)
            size = self.fs.info(tmp)["size"]
            if size != len(data):
                msg = (
                    f"artifact {digest} landed with {size} bytes, not "
                    f"{len(data)}; it was not recorded."
                )
                raise StoreError(msg)
            self.fs.mv(tmp, key)
        finally:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)

    def _checksum(self, data: bytes) -> dict[str, str]:
        """Return the checksum an object store verifies before a PUT succeeds (S3)."""
        if "s3" not in self.fs.protocol and "s3a" not in self.fs.protocol:
            return {}
        import base64
        import hashlib

        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        return {"ContentMD5": base64.b64encode(md5).decode()}

    def read(self, digest: str) -> bytes:
        """Return a blob's bytes after checking that they hash to ``digest``.

        From the read cache when it holds a good copy (re-hashed), else from the
        file system (re-hashed, then cached).

        Raises
        ------
        NotFoundError
            When no blob has this digest.
        IntegrityError
            When the stored bytes hash to something else.
        """
        key = self.key_for(digest)
        if self.cache is not None:
            cached = self.cache.get(digest)
            if cached is not None:
                return cached
        data = self._fetch(key, digest)
        if self.cache is not None:
            self.cache.put(digest, data)
        return data

    def read_uncached(self, digest: str) -> bytes:
        """Return a blob's bytes from the file system itself, re-hashed, not cached.

        For a large data version's partitions: read once per pass, on workers whose
        disks should not fill with copies of the data.
        """
        return self._fetch(self.key_for(digest), digest)

    def _fetch(self, key: str, digest: str) -> bytes:
        """GET one blob from the file system itself and re-hash it."""
        with self._io(f"read artifact {digest}"):
            try:
                self.fetches += 1
                data = self.fs.cat_file(key)
            except FileNotFoundError:
                msg = f"artifact {digest} is missing from {self._shown}."
                raise NotFoundError(msg) from None
        self._check(digest, data)
        return data

    def _check(self, digest: str, data: bytes) -> None:
        actual = sha256_bytes(data)
        if actual != digest:
            msg = (
                f"artifact {digest} in {self._shown} is corrupted: its bytes hash to "
                f"{actual}. It was changed after it was stored; restore it from a "
                "backup."
            )
            raise IntegrityError(msg)

    def read_many(self, digests: list[str]) -> dict[str, bytes]:
        """Return several blobs, fetched at once (concurrently on S3), each re-hashed.

        Raises
        ------
        NotFoundError
            When a blob is missing.
        IntegrityError
            When a blob's bytes hash to something else.
        """
        keys = {self.key_for(d): d for d in dict.fromkeys(digests)}
        out: dict[str, bytes] = {}
        if self.cache is not None:
            for key, digest in list(keys.items()):
                cached = self.cache.get(digest)
                if cached is not None:
                    out[digest] = cached
                    del keys[key]
        if len(keys) < 2:
            return {**out, **{d: self.read(d) for d in keys.values()}}
        with self._io(f"read {len(keys)} artifacts"):
            self.fetches += len(keys)
            fetched = self.fs.cat(list(keys), on_error="return")
        got = []
        for key, digest in keys.items():
            data = fetched.get(key)
            if not isinstance(data, bytes):  # an error or another key form: one read
                out[digest] = self.read(digest)
                continue
            self._check(digest, data)
            out[digest] = data
            got.append(digest)
        if self.cache is not None:
            for digest in got:
                self.cache.put(digest, out[digest])
        return out

    def stored_hash(self, digest: str, *, rehash: bool = True) -> str | None:
        """Return the SHA-256 of the bytes stored under ``digest`` (``None``: missing).

        With ``rehash=False`` the key's presence is checked and ``digest`` returned.
        Model signing compares this with the signed manifest, so a changed blob is
        named by artifact instead of raising.
        """
        if not rehash:
            return digest if self.exists(digest) else None
        key = self.key_for(digest)
        with self._io(f"read artifact {digest}"):
            try:
                self.fetches += 1
                data = self.fs.cat_file(key)
            except FileNotFoundError:
                return None
        return sha256_bytes(data)

    def verify(self, digest: str) -> str | None:
        """Return a sentence describing what is wrong with a blob, or ``None``.

        Always reads the file system itself, never the read cache: a blob changed or
        deleted in the object store is reported even when this machine still holds
        a good copy.
        """
        try:
            self._fetch(self.key_for(digest), digest)
        except (IntegrityError, NotFoundError) as err:
            return str(err)
        return None

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every blob stored (temporary keys excluded)."""
        with self._io("list the artifacts"):
            self.fs.invalidate_cache(self.root)
            try:
                keys = self.fs.find(self.root)
            except FileNotFoundError:
                keys = []
        prefix = self.root + "/"
        for key in sorted(keys):
            rel = key[len(prefix) :] if key.startswith(prefix) else ""
            shard, _, name = rel.partition("/")
            if _HEX64.match(name) and shard == name[:2]:
                yield name

    def delete(self, digest: str) -> None:
        """Remove a blob (callers check that nothing refers to it)."""
        key = self.key_for(digest)
        with (
            self._io(f"delete artifact {digest}"),
            contextlib.suppress(FileNotFoundError),
        ):
            self.fs.rm_file(key)

    def remove_temp_files(self, older_than: float = 3600.0) -> list[str]:
        """Delete temporary keys older than ``older_than`` seconds; return them.

        Writers on other machines cannot be asked whether they still write, so only
        keys older than any write could take are removed.
        """
        tmp_root = f"{self.root}/{_TMP}"
        now = dt.datetime.now(dt.timezone.utc)
        removed = []
        with self._io("clean temporary artifacts"):
            self.fs.invalidate_cache(tmp_root)
            try:
                entries = self.fs.find(tmp_root, detail=True)
            except FileNotFoundError:
                entries = {}
            for key, info in entries.items():
                modified = _modified(info)
                if modified is None or (now - modified).total_seconds() < older_than:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(key)
                    removed.append(key)
        return removed


def _modified(info: dict[str, Any]) -> dt.datetime | None:
    """Return a listing entry's last-modified time (S3 ``LastModified``, mtime)."""
    value = info.get("LastModified", info.get("mtime", info.get("created")))
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    return None
