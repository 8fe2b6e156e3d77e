"""The embedded store behind a project: one folder, one database, one blob folder.

This is the one small interface the rest of mlops_nb talks to (``put_blob``,
``read_blob``, ``write``, ``query``, ``verify``, ``gc``, ``backup``), so a team can
later put a shared database and object store behind the same calls.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_nb.errors import NotAProjectError, StoreError
from mlops_nb.store._artifacts import ArtifactStore
from mlops_nb.store._db import Registry, now

DB_NAME = "registry.sqlite"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class VerifyResult:
    """What :meth:`Store.verify` found: problems by blob, and counts."""

    checked: int
    problems: dict[str, str] = field(default_factory=dict)
    database: str = "ok"
    audit: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every blob, the database and the audit chain are intact."""
        return not self.problems and self.database == "ok" and not self.audit


class Store:
    """A project folder: ``registry.sqlite`` plus content-addressed ``artifacts/``.

    Parameters
    ----------
    root : Path
        The project folder.
    create : bool
        Create the folder (and initialise it) when it does not exist or is empty.
    """

    def __init__(self, root: Path, *, create: bool = True):
        self.root = Path(root).expanduser().absolute()
        db = self.root / DB_NAME
        if self.root.exists() and not self.root.is_dir():
            msg = f"{self.root} is a file, not a project folder. Choose another path."
            raise NotAProjectError(msg)
        if not db.exists():
            occupied = self.root.exists() and any(self.root.iterdir())
            # re-check: another process creating the project makes the database first
            if occupied and not db.exists():
                msg = (
                    f"{self.root} exists but is not an mlops_nb project (it has no "
                    f"{DB_NAME}); nothing was changed. Open the project's own folder, "
                    "or choose a new or empty folder to create one."
                )
                raise NotAProjectError(msg)
            if not occupied and not create:
                msg = (
                    f"no mlops_nb project at {self.root}; pass create=True to make one."
                )
                raise NotAProjectError(msg)
            if not occupied:
                self._initialise()
        self._check_permissions(db)
        self.artifacts = ArtifactStore(self.root / ARTIFACTS_DIR)
        try:
            self.db = Registry(db)
        except StoreError as err:
            msg = f"{self.root} is not a usable project: {err}"
            raise NotAProjectError(msg) from err
        if self.db.read_only:
            warnings.warn(
                f"opened the project {self.root} read-only ({self.db.read_only}): "
                "reading, predicting and verify() work; anything that would change "
                "it raises StoreError.",
                UserWarning,
                stacklevel=3,
            )

    @property
    def read_only(self) -> str:
        """Why this process cannot write to the project ("" when it can)."""
        return self.db.read_only

    def _initialise(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)  # noqa: PTH101 - exact mode despite the umask
            # the database first: another process opening the folder at the same
            # moment then sees either an empty folder or a project, never a folder
            # holding only artifacts/ (which it would refuse as "not a project")
            db = self.root / DB_NAME
            with contextlib.suppress(FileExistsError):
                os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.chmod(db, 0o600)  # noqa: PTH101 - exact mode despite the umask
            (self.root / ARTIFACTS_DIR).mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.root / ARTIFACTS_DIR, 0o700)  # noqa: PTH101 - see above
        except OSError as err:
            msg = f"could not create a project at {self.root}: {err}"
            raise StoreError(msg) from err

    def _check_permissions(self, db: Path) -> None:
        if db.is_symlink():
            msg = f"{db} is a symbolic link; open the project through its real folder."
            raise NotAProjectError(msg)
        st = db.stat()
        if st.st_nlink > 1:
            msg = f"{db} has other hard links; SQLite locking is unsafe through them."
            raise NotAProjectError(msg)
        for path in (self.root, db):
            mode = path.stat().st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                msg = (
                    f"{path} is writable by other users (mode {stat.filemode(mode)}); "
                    f"anyone could change the project. Fix with: chmod go-w {path}"
                )
                raise StoreError(msg)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            warnings.warn(
                f"{db} belongs to another user (uid {st.st_uid}).",
                UserWarning,
                stacklevel=3,
            )

    # -- the interface ---------------------------------------------------------------
    def put_blob(self, data: bytes | memoryview, *, media_type: str) -> str:
        """Write bytes (before any row refers to them) and return their SHA-256."""
        if self.db.read_only:
            self.db._refuse_write()
        return self.artifacts.put(data)

    def record_blob(
        self,
        conn: sqlite3.Connection,
        digest: str,
        size: int,
        media_type: str,
        *,
        data: bytes | memoryview | None = None,
    ) -> None:
        """Inside a write transaction: note that a row now refers to ``digest``.

        ``gc()`` in another kernel may have removed the blob between ``put_blob`` and
        this transaction (it was unreferenced until now): pass ``data`` to write it
        again here, under the write lock.

        Raises
        ------
        StoreError
            When the blob is missing and ``data`` was not given; nothing is recorded.
        """
        record_artifact(
            conn,
            self.artifacts,
            digest,
            size,
            media_type,
            data,
            present=self.artifacts.exists(digest),
            where=str(self.artifacts.root),
        )

    def read_blob(self, digest: str) -> bytes:
        """Return verified bytes of a blob."""
        return self.artifacts.read(digest)

    def read_blobs(self, digests: list[str]) -> dict[str, bytes]:
        """Return verified bytes of several blobs, by digest."""
        return {d: self.artifacts.read(d) for d in dict.fromkeys(digests)}

    def write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """Open a ``BEGIN IMMEDIATE`` write transaction."""
        return self.db.write()

    def query(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        """Run a read-only query."""
        return self.db.query(sql, params)

    def audit(
        self, conn: sqlite3.Connection, action: str, obj: str, **detail: Any
    ) -> None:
        """Append an audit entry inside a write transaction."""
        self.db.audit(conn, action, obj, **detail)

    # -- maintenance -----------------------------------------------------------------
    def referenced_blobs(self) -> set[str]:
        """Every digest a row of the registry refers to."""
        return {r["digest"] for r in self.query("SELECT digest FROM artifacts")}

    def verify(self) -> VerifyResult:
        """Check the database, every referenced blob and the audit chain."""
        check = self.query("PRAGMA integrity_check")
        database = (
            "ok" if check and check[0][0] == "ok" else "; ".join(r[0] for r in check)
        )
        referenced = sorted(self.referenced_blobs())
        problems = {}
        for digest in referenced:
            problem = self.artifacts.verify(digest)
            if problem:
                problems[digest] = problem
        present = set(self.artifacts.iter_digests())
        return VerifyResult(
            checked=len(referenced),
            problems=problems,
            database=database,
            audit=self.db.audit_chain_problems(),
            unreferenced=sorted(present - set(referenced)),
        )

    def payload_problems(self) -> dict[str, str]:
        """Every row whose JSON columns are not what mlops_nb wrote there.

        Returns
        -------
        dict
            ``"<table> row <id>"`` -> what is wrong with which column.
        """
        from mlops_nb.store._payloads import scan

        try:
            return scan(self.db._conn())
        except sqlite3.DatabaseError as err:
            msg = f"could not read {self.db.path}: {err}"
            raise StoreError(msg) from err

    def gc(self) -> dict[str, int]:
        """Remove temporary files of interrupted writes and unreferenced blobs."""
        if self.db.read_only:
            self.db._refuse_write()
        temp = self.artifacts.remove_temp_files()
        with self.write():  # hold the write lock so no row appears meanwhile
            referenced = self.referenced_blobs()
            orphans = [d for d in self.artifacts.iter_digests() if d not in referenced]
            for digest in orphans:
                self.artifacts.delete(digest)
        return {"temp_files": len(temp), "unreferenced_blobs": len(orphans)}

    def backup(self, dest: Path, *, then: Any = None) -> Path:
        """Copy the project to ``dest`` consistently while others may write.

        The database is copied with SQLite's backup API, blobs are copied after it
        (they are immutable, and each row's blob lands before the row). ``then``,
        if given, is called with ``dest`` to add more (the trust file). When any
        step fails (a full disk), everything written to ``dest`` is removed and a
        ``StoreError`` says what failed; the project itself is never changed.
        """
        dest = Path(dest).expanduser().absolute()
        if dest.exists() and any(dest.iterdir()):
            msg = f"backup destination {dest} is not empty; choose a new folder."
            raise StoreError(msg)
        made = [p for p in (dest, *dest.parents) if not p.exists()]
        try:
            dest.mkdir(mode=0o700, parents=True, exist_ok=True)
            target = sqlite3.connect(dest / DB_NAME)
            try:
                self.db.backup_to(target, dest)  # with the snapshot's audit anchor
            finally:
                target.close()
            os.chmod(dest / DB_NAME, 0o600)  # noqa: PTH101 - exact mode, not umask
            copy = ArtifactStore(dest / ARTIFACTS_DIR)
            (dest / ARTIFACTS_DIR).mkdir(mode=0o700, exist_ok=True)
            conn = sqlite3.connect(dest / DB_NAME)
            try:
                digests = [r[0] for r in conn.execute("SELECT digest FROM artifacts")]
            finally:
                conn.close()
            for digest in digests:
                copy.put(self.artifacts.read(digest))
            if then is not None:
                then(dest)
        except BaseException as err:
            _remove_partial(dest, made)
            if not isinstance(err, (OSError, sqlite3.Error)):
                raise
            msg = (
                f"backup to {dest} failed: {err}. The partial copy was removed and "
                f"{self.root} is unchanged. Free space on the destination's disk (or "
                "choose another destination), then run backup again."
            )
            raise StoreError(msg) from err
        return dest


def record_artifact(
    conn: Any,
    artifacts: Any,
    digest: str,
    size: int,
    media_type: str,
    data: bytes | memoryview | None,
    *,
    present: bool,
    where: str,
) -> None:
    """Record the row of a blob a row now refers to; write it again if it is gone.

    Shared by the embedded and the team store: ``present`` says whether the blob is
    in its store (``where``, for the message); a missing one is written from ``data``
    (checked against ``digest``) or refused, recording nothing.
    """
    if not present:
        if data is None:
            msg = (
                f"artifact {digest} is not in {where} (removed by gc() elsewhere?); "
                "nothing was recorded. Run the action again."
            )
            raise StoreError(msg)
        if artifacts.put(data) != digest:
            msg = f"the bytes given for artifact {digest} hash differently."
            raise StoreError(msg)
    conn.execute(
        "INSERT INTO artifacts(digest, size, media_type, created_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (digest, size, media_type, now()),
    )


def _remove_partial(dest: Path, made: list[Path]) -> None:
    """Remove what a failed backup wrote: ``dest``'s content, and folders it made."""
    import shutil

    if dest.is_dir() and not dest.is_symlink():
        for child in dest.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()
    for folder in made:  # innermost first
        with contextlib.suppress(OSError):
            folder.rmdir()
