"""Content-addressed artifact files.

Every blob lives at ``artifacts/<aa>/<sha256>`` where the path is derived only from
its SHA-256. A blob is written to a temporary file inside the store, fsynced and then
renamed into place, so a reader never sees a half-written file under its final name.
Reading re-hashes the bytes and refuses symlinks and hard-linked files before any
parser sees them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_nb.errors import IntegrityError, NotFoundError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # Windows: a file being written cannot be deleted there anyway
    fcntl = None  # type: ignore[assignment]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20
# errors meaning "this filesystem cannot fsync a folder", not "the data was lost"
_NO_DIR_FSYNC = {errno.EINVAL, errno.EBADF, getattr(errno, "ENOTSUP", errno.EINVAL)}


def sha256_bytes(data: bytes | memoryview) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a 64-character lower-case hex SHA-256, else raise."""
    if not isinstance(digest, str) or not _HEX64.match(digest):
        msg = (
            f"artifact id {digest!r} is not a SHA-256 hex digest "
            "(64 characters 0-9a-f)."
        )
        raise IntegrityError(msg)
    return digest


def is_contained(path: Path, base: Path) -> bool:
    """Whether ``path`` resolves inside ``base`` (compared on resolved paths).

    An empty base (``""``, or ``Path("")`` which is ``Path(".")``) is refused rather
    than treated as the working directory.
    """
    if base is None or not str(base) or Path(base) == Path():
        msg = f"containment check with an empty base directory ({base!r})"
        raise StoreError(msg)
    base_r = Path(base).resolve()
    try:
        Path(path).resolve().relative_to(base_r)
    except ValueError:
        return False
    return True


class ArtifactStore:
    """Files named by their SHA-256 under one folder.

    Parameters
    ----------
    root : Path
        The ``artifacts/`` folder of a project.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        """Return the on-disk path of a blob; only a hex digest is accepted."""
        check_digest(digest)
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored (not verified)."""
        return self.path_for(digest).exists()

    def put(self, data: bytes | memoryview) -> str:
        """Store ``data`` and return its SHA-256.

        Storing the same bytes twice is a no-op.
        """
        digest = sha256_bytes(data)
        final = self.path_for(digest)
        try:  # create the folders, and never write through a link placed in the store
            for folder in (self.root, final.parent):
                folder.mkdir(mode=0o700, exist_ok=True)
                _check_dir(folder, StoreError)
        except OSError as err:
            if isinstance(err, StoreError):
                raise
            msg = f"could not create {final.parent}: {err}"
            raise StoreError(msg) from err
        if final.exists():
            try:
                self._check_file(final, digest)
                return digest
            except IntegrityError:
                pass  # a damaged copy: replace it with the good bytes below
        tmp = final.parent / f"{_TMP_PREFIX}{secrets.token_hex(8)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if fcntl is not None:  # "being written" until renamed: gc() skips it
                    fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view[: 64 * _CHUNK])
                    view = view[written:]
                os.fsync(fd)
                if fcntl is None:  # Windows cannot rename a file that is open
                    os.close(fd)
                    fd = -1
                os.replace(tmp, final)  # noqa: PTH105 - atomic rename after fsync
            finally:
                if fd >= 0:
                    os.close(fd)
            _fsync_dir(final.parent)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            msg = f"could not write artifact {digest[:12]} to {self.root}: {err}"
            raise StoreError(msg) from err
        return digest

    def read(self, digest: str) -> bytes:
        """Return the bytes of a blob after checking links and the SHA-256.

        Raises
        ------
        NotFoundError
            When no blob has this digest.
        IntegrityError
            When the file is a symlink, has other hard links, or its bytes do not
            hash to ``digest``; the message names the blob and both hashes.
        """
        path = self.path_for(digest)
        self._check_dirs(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError as err:
            msg = f"artifact {digest} is missing from {self.root}."
            raise NotFoundError(msg) from err
        except OSError as err:
            if err.errno == errno.ELOOP:
                msg = f"artifact {digest} is a symbolic link; refusing to follow it."
                raise IntegrityError(msg) from err
            msg = f"could not open artifact {digest}: {err}"
            raise StoreError(msg) from err
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            _check_stat(st, digest)
            data = fh.read()
        actual = sha256_bytes(data)
        if actual != digest:
            msg = (
                f"artifact {digest} is corrupted: its bytes hash to {actual}. "
                "It was changed after it was stored; restore it from a backup."
            )
            raise IntegrityError(msg)
        return data

    def verify(self, digest: str) -> str | None:
        """Return a sentence describing what is wrong with a blob, or ``None``."""
        try:
            self._check_file(self.path_for(digest), digest)
        except (IntegrityError, NotFoundError) as err:
            return str(err)
        return None

    def _check_dirs(self, path: Path) -> None:
        """Refuse a blob whose ``artifacts/`` or shard folder is a link (or missing)."""
        for folder in (self.root, path.parent):
            try:
                _check_dir(folder, IntegrityError)
            except FileNotFoundError as err:
                msg = f"artifact {path.name} is missing from {self.root}."
                raise NotFoundError(msg) from err

    def _check_file(self, path: Path, digest: str) -> None:
        self._check_dirs(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError as err:
            msg = f"artifact {digest} is missing from {self.root}."
            raise NotFoundError(msg) from err
        _check_stat(st, digest)
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        if h.hexdigest() != digest:
            msg = f"artifact {digest} is corrupted: its bytes hash to {h.hexdigest()}."
            raise IntegrityError(msg)

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every blob file present (temporary files excluded)."""
        if not self.root.exists():
            return
        _check_dir(self.root, StoreError)
        for sub in sorted(self.root.iterdir()):
            if not sub.is_dir() or sub.is_symlink():
                continue
            for f in sorted(sub.iterdir()):
                if _HEX64.match(f.name):
                    yield f.name

    def remove_temp_files(self) -> list[Path]:
        """Delete leftovers of interrupted writes and return their paths.

        A temporary file that a live writer (this or another process) still holds
        is left alone.
        """
        removed = []
        if not self.root.exists():
            return removed
        _check_dir(self.root, StoreError)
        for sub in self.root.iterdir():
            if sub.is_dir() and not sub.is_symlink():
                for f in sub.iterdir():
                    if f.name.startswith(_TMP_PREFIX) and not _being_written(f):
                        with contextlib.suppress(FileNotFoundError, PermissionError):
                            f.unlink()
                            removed.append(f)
        return removed

    def delete(self, digest: str) -> None:
        """Remove a blob (callers check that nothing refers to it)."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(digest).unlink()


def _check_stat(st: os.stat_result, digest: str) -> None:
    if stat.S_ISLNK(st.st_mode):
        msg = f"artifact {digest} is a symbolic link; refusing to follow it."
        raise IntegrityError(msg)
    if not stat.S_ISREG(st.st_mode):
        msg = f"artifact {digest} is not a regular file."
        raise IntegrityError(msg)
    if st.st_nlink > 1:
        msg = (
            f"artifact {digest} has {st.st_nlink} hard links; a stored blob must have "
            "exactly one (another path could change its bytes)."
        )
        raise IntegrityError(msg)


def _being_written(path: Path) -> bool:
    """Whether a live writer holds the lock ``put`` takes on its temporary file."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _check_dir(path: Path, error: type[Exception]) -> None:
    """Raise ``error`` unless ``path`` is a real folder (not a link to one)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
        msg = (
            f"{path} is {kind}; blobs are only read and written inside the "
            "project's own artifacts folder. Replace it with a real folder (or "
            "restore from a backup)."
        )
        raise error(msg)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable; a failure (EIO, ENOSPC) is raised."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # folders cannot be opened on some platforms (Windows)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)
