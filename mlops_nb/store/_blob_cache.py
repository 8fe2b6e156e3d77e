"""A machine-local, content-addressed read cache of a team project's blobs.

Loading a model from an object store is a handful of GETs; on a notebook server that
reloads the same versions again and again, they are most of the time a load takes.
:class:`BlobCache` keeps a copy of each blob read from the object store under
``<cache>/<aa>/<sha256>`` (default ``~/.cache/mlops_nb/blobs``, or
``$XDG_CACHE_HOME/mlops_nb/blobs``; ``MLOPS_NB_CACHE=/some/folder`` moves it,
``MLOPS_NB_CACHE=off`` turns it off).

Nothing in it is trusted:

- every read from the cache is re-hashed; an entry whose bytes do not hash to its name
  (a torn write, a disk error, someone's edit) is removed and the blob fetched from
  the object store again (and re-hashed there);
- entries are written to a temporary file in the same folder (``O_EXCL``, mode 0600)
  and renamed into place, so a reader sees a whole entry or none, and any number of
  processes may share one cache folder;
- the cache is only an optimisation: a cache folder that cannot be written (a full
  disk, a read-only home) never fails a load, the blob is just fetched;
- it holds model-sized blobs only (at most :data:`MAX_ENTRY_BYTES` each; a large
  data version's partitions are read past it), and at most ``MLOPS_NB_CACHE_MAX``
  bytes in all (default :data:`DEFAULT_MAX_BYTES`): after a write past the cap, the
  entries used longest ago are removed (a read marks an entry used). Another process
  reading an entry as it is removed still reads it whole; one that finds it gone
  fetches the blob again.

Keys are content addresses, so a good cached copy of a digest *is* that digest's
content, whichever project or object store it came from. A load therefore serves it
even when the object store's copy has since been changed or deleted; ``verify()``
reads the object store itself and reports such a blob (see
:meth:`~mlops_nb.store._fsspec_blobs.FsspecBlobStore.verify`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from mlops_nb.store._artifacts import check_digest, sha256_bytes

#: The environment variable that moves (a folder) or disables (``off``) the cache.
CACHE_ENV = "MLOPS_NB_CACHE"
_OFF = frozenset({"0", "off", "false", "no", "none", "disable", "disabled"})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Larger blobs are never kept (a model's files are far smaller); a large data
#: version's partitions are read without the cache.
MAX_ENTRY_BYTES = 64 * 2**20
#: The environment variable capping the cache's size: bytes, or with a unit
#: (``500M``, ``2G``; binary units).
MAX_ENV = "MLOPS_NB_CACHE_MAX"
#: The cap when ``MLOPS_NB_CACHE_MAX`` is not set.
DEFAULT_MAX_BYTES = 2**30
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def cache_max_bytes() -> int:
    """Return the cache's size cap from ``MLOPS_NB_CACHE_MAX`` (default 1 GiB).

    Raises
    ------
    ValidationError
        When the variable is not a size (``1073741824``, ``500M``, ``2G``).
    """
    import re

    raw = os.environ.get(MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", raw.upper())
    if found is None:
        from mlops_nb.errors import ValidationError

        msg = (
            f"{MAX_ENV}={raw!r} is not a size: give bytes or a number with a unit, "
            f"e.g. {MAX_ENV}=500M or {MAX_ENV}=2G (unset it for the default, 1 GiB)."
        )
        raise ValidationError(msg)
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def default_cache_dir() -> Path | None:
    """Return this machine's blob cache folder, or ``None`` when it is turned off.

    ``MLOPS_NB_CACHE``: a folder, or ``off`` (also ``0``, ``false``, ``none``);
    default ``$XDG_CACHE_HOME/mlops_nb/blobs`` (``~/.cache/mlops_nb/blobs``).
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
    return Path(base).expanduser().absolute() / "mlops_nb" / "blobs"


class BlobCache:
    """Blobs named by their SHA-256 in a local folder, re-hashed on every read.

    Parameters
    ----------
    root : str or Path
        The cache folder (created, mode 0700, on the first write).
    max_bytes : int, optional
        The most bytes its entries may hold in all; default
        :func:`cache_max_bytes` (``MLOPS_NB_CACHE_MAX``, else 1 GiB).

    Attributes
    ----------
    hits, misses, discarded, writes, evicted : int
        Reads served from the cache, reads that were not, entries removed because
        their bytes did not match their name, entries written, and entries removed
        to keep the cache under ``max_bytes``.
    """

    def __init__(self, root: str | os.PathLike[str], max_bytes: int | None = None):
        self.root = Path(root)
        self.max_bytes = cache_max_bytes() if max_bytes is None else int(max_bytes)
        self.hits = self.misses = self.discarded = self.writes = self.evicted = 0

    def __repr__(self) -> str:
        return f"BlobCache({str(self.root)!r})"

    def path_for(self, digest: str) -> Path:
        """Return the entry's path; only a 64-character hex digest is accepted."""
        check_digest(digest)
        return self.root / digest[:2] / digest

    def get(self, digest: str) -> bytes | None:
        """Return the cached bytes of ``digest`` (re-hashed), or ``None``.

        An entry that is not a regular file, or whose bytes hash to something else,
        is removed and ``None`` returned, so the caller fetches the blob again.
        """
        path = self.path_for(digest)
        try:
            # non-blocking: a FIFO planted in a shared folder cannot hang the read
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # missing, a symbolic link, unreadable
            self.misses += 1
            return None
        try:
            info = os.fstat(fd)
            data = None
            if stat.S_ISREG(info.st_mode):
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = fh.read()
        except OSError:
            info, data = None, None
        finally:
            os.close(fd)
        if data is not None and sha256_bytes(data) == digest:
            self.hits += 1
            with contextlib.suppress(OSError):
                os.utime(path, follow_symlinks=False)  # used now: evicted last
            return data
        self._discard(path, info)
        self.misses += 1
        return None

    def _discard(self, path: Path, info: os.stat_result | None) -> None:
        """Remove a bad entry, unless another process has just replaced it."""
        self.discarded += 1
        with contextlib.suppress(OSError):
            now = os.lstat(path)
            if info is None or (now.st_ino, now.st_dev) == (info.st_ino, info.st_dev):
                path.unlink()

    def put(self, digest: str, data: bytes) -> None:
        """Keep ``data`` (already checked to hash to ``digest``) under its digest.

        A temporary file in the entry's folder, renamed into place; any failure is
        ignored (the next read fetches the blob again). Blobs over
        :data:`MAX_ENTRY_BYTES` are not kept (a model's files are small; data
        partitions are read uncached, see :meth:`FsspecBlobStore.read_uncached`).
        """
        if len(data) > MAX_ENTRY_BYTES:
            return
        path = self.path_for(digest)
        tmp = path.parent / f".tmp-{secrets.token_hex(8)}"
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            tmp.replace(path)
            self.writes += 1
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return
        self._trim()

    def _trim(self) -> None:
        """Remove the entries used longest ago until the cache fits ``max_bytes``."""
        entries, total = [], 0
        with contextlib.suppress(OSError):
            for sub in os.scandir(self.root):
                if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
                    continue
                for entry in os.scandir(sub.path):
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(info.st_mode) and len(entry.name) == 64:
                            entries.append((info.st_mtime_ns, info.st_size, entry.path))
                            total += info.st_size
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(entries):
            with contextlib.suppress(OSError):
                Path(path).unlink()
                self.evicted += 1
            total -= size
            if total <= self.max_bytes:
                return
