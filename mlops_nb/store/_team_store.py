"""The team store behind a project: PostgreSQL metadata and fsspec artifacts.

:class:`TeamStore` has the methods a :class:`~mlops_nb.Project` and the rest of
mlops_nb call on the embedded :class:`~mlops_nb.store._store.Store` (``put_blob``,
``record_blob``, ``read_blob``, ``write``, ``query``, ``audit``,
``referenced_blobs``, ``verify``, ``payload_problems``, ``gc``, ``backup``,
``read_only``), so every feature runs unchanged on a shared database and object store:

- metadata: :class:`~mlops_nb.store._sa_registry.SARegistry` on
  ``postgresql://user@host/db?schema=name``, which a kernel never migrates (an
  un-upgraded database is refused with the ``mlops-nb db upgrade`` command to run);
- blobs: :class:`~mlops_nb.store._fsspec_blobs.FsspecBlobStore` under
  ``s3://bucket/prefix`` (or a local folder URL), content-addressed, the blob
  written before the row that points at it, re-hashed on every read; blobs read
  from an object store are kept in this machine's read cache
  (:mod:`mlops_nb.store._blob_cache`, ``MLOPS_NB_CACHE``), re-hashed whenever they
  are served from it; ``verify()`` reads the object store itself.

``gc()`` on one machine and a writer on another never leave a row without its blob:
a writer records a blob under a shared advisory lock and checks that it is there (or
writes it again); ``gc()`` takes the same lock exclusively before it lists what is
referenced, so it waits for writers to commit and they wait for it to finish.

Only the masked URL is kept for messages and reprs; the password stays inside the
engine's URL object.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import StoreError, ValidationError
from mlops_nb.store._store import VerifyResult, record_artifact
from mlops_nb.store._urls import mask_url

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable

    from mlops_nb.store._sa_rows import Row, TxConn

#: Schemes of a metadata URL that make ``Project.open`` build a team store.
TEAM_SCHEMES = ("postgresql://", "postgresql+psycopg://")
#: Where this machine keeps its own files of a team project (signing keys only).
HOME_ENV = "MLOPS_NB_TEAM_HOME"
_BLOB_LOCK = "artifacts"


def is_team_url(path: object) -> bool:
    """Whether ``path`` is a metadata URL of a team store (not a folder path)."""
    return isinstance(path, str) and path.strip().lower().startswith(TEAM_SCHEMES)


def _blob_lock(conn: Any, *, shared: bool) -> None:
    """Take the artifacts advisory lock (shared: writers; exclusive: gc)."""
    import sqlalchemy as sa

    from mlops_nb.store._pg_audit import LOCK_CLASS
    from mlops_nb.store._sa_rows import sa_conn

    c = sa_conn(conn)
    if c.dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    c.execute(
        sa.text(f"SELECT {fn}(:cls, hashtext(current_schema() || :key))"),
        {"cls": LOCK_CLASS, "key": "\x1f" + _BLOB_LOCK},
    )


class TeamStore:
    """A project's store on a shared database and object store.

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/db[?schema=name]``, upgraded once
        with ``mlops-nb db upgrade URL``.
    artifacts : str
        Where the blobs live: ``s3://bucket/prefix`` (credentials from the standard
        AWS chain) or a local folder URL (``file:///srv/ml/credit``).
    storage_options : dict, optional
        Non-secret options of the file system (``client_kwargs.endpoint_url``, ...).
    read_only : bool, default False
        Open for reading only.

    Raises
    ------
    ValidationError
        When ``artifacts`` is missing.
    StoreError
        When the database cannot be reached or is not upgraded (the message names
        ``mlops-nb db upgrade <masked url>``), or the artifact store cannot be opened.
    """

    def __init__(
        self,
        url: str,
        artifacts: str | os.PathLike[str] | None,
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
    ):
        from mlops_nb.store._blob_cache import default_cache_dir
        from mlops_nb.store._fsspec_blobs import FsspecBlobStore
        from mlops_nb.store._sa_registry import SARegistry

        shown = mask_url(url)
        if artifacts is None or not str(artifacts).strip():
            msg = (
                f"Project.open({shown!r}) needs artifacts=: where the project's files "
                "live, e.g. artifacts='s3://bucket/prefix' or "
                "artifacts='file:///srv/ml/project' (or the environment variable "
                "MLOPS_NB_ARTIFACTS, for notebooks whose project_dir is a URL)."
            )
            raise ValidationError(msg)
        # a project is opened to be used: the schema check's connection is kept
        self.db = SARegistry(url, read_only=read_only, hold=True)
        try:
            self.artifacts = FsspecBlobStore(
                str(artifacts), storage_options, cache=default_cache_dir()
            )
        except BaseException:
            self.db.close()
            raise
        self.location = self.db.team.text
        self.artifacts_location = mask_url(self.artifacts.url)
        self.name = self.db.team.schema or "mlops_nb"
        self.root = _machine_folder(self.location, self.artifacts_location, self.name)

    def __repr__(self) -> str:
        return f"TeamStore({self.location!r}, artifacts={self.artifacts_location!r})"

    @property
    def read_only(self) -> str:
        """Why this process cannot write to the project ("" when it can)."""
        return self.db.read_only

    def close(self) -> None:
        """Close the database connections (reopened when used again)."""
        self.db.close()

    # -- the interface ---------------------------------------------------------------
    def put_blob(self, data: bytes | memoryview, *, media_type: str) -> str:
        """Write bytes to the object store (before any row refers to them)."""
        self._refuse_if_read_only()
        return self.artifacts.put(data)

    def record_blob(
        self,
        conn: TxConn,
        digest: str,
        size: int,
        media_type: str,
        *,
        data: bytes | memoryview | None = None,
    ) -> None:
        """Inside a write transaction: note that a row now refers to ``digest``.

        Raises
        ------
        StoreError
            When the blob is missing (``gc()`` elsewhere removed it) and ``data`` was
            not given; nothing is recorded.
        """
        _blob_lock(conn, shared=True)  # gc() waits for this transaction to end
        record_artifact(
            conn,
            self.artifacts,
            digest,
            size,
            media_type,
            data,
            present=self.artifacts.exists(digest, writing=True),
            where=self.artifacts_location,
        )

    def read_blob(self, digest: str) -> bytes:
        """Return a blob's bytes, re-hashed (``IntegrityError`` when they changed)."""
        return self.artifacts.read(digest)

    def read_blobs(self, digests: list[str]) -> dict[str, bytes]:
        """Return several blobs by digest, fetched concurrently, each re-hashed."""
        return self.artifacts.read_many(digests)

    def write(self) -> contextlib.AbstractContextManager[TxConn]:
        """Open a write transaction on the database."""
        return self.db.write()

    def query(self, sql: Any, params: Any = ()) -> list[Row]:
        """Run a read-only query."""
        return self.db.query(sql, params)

    def audit(self, conn: TxConn, action: str, obj: str, **detail: Any) -> None:
        """Append an audit entry inside a write transaction."""
        self.db.audit(conn, action, obj, **detail)

    def _refuse_if_read_only(self) -> None:
        if self.read_only:
            msg = (
                f"the project {self.location} is open read-only ({self.read_only}): "
                "this action would change it, and nothing was changed."
            )
            raise StoreError(msg)

    # -- maintenance -----------------------------------------------------------------
    def referenced_blobs(self) -> set[str]:
        """Every digest a row of the registry refers to."""
        return {r["digest"] for r in self.query("SELECT digest FROM artifacts")}

    def verify(self) -> VerifyResult:
        """Re-hash every referenced blob and check the audit chain."""
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
            database="ok",
            audit=self.db.audit_chain_problems(),
            unreferenced=sorted(present - set(referenced)),
        )

    def payload_problems(self) -> dict[str, str]:
        """Every row whose JSON columns are not what mlops_nb wrote there."""
        import sqlalchemy as sa

        from mlops_nb.store._payloads import COLUMNS, problem

        out: dict[str, str] = {}
        with self.db._translated("read"), self.db.engine.connect() as conn:
            for table, columns in COLUMNS.items():
                cols = ", ".join(f'"{c}"' for c in columns)
                for row in conn.execute(sa.text(f"SELECT id, {cols} FROM {table}")):
                    for i, column in enumerate(columns, start=1):
                        why = problem(row[i], table, column)
                        if why is not None:
                            key = f"{table} row {row[0]}"
                            text = f"{column} {why}"
                            out[key] = f"{out[key]}; {text}" if key in out else text
        return out

    def gc(self) -> dict[str, int]:
        """Remove old temporary keys and blobs no row refers to, under the prefix."""
        self._refuse_if_read_only()
        temp = self.artifacts.remove_temp_files()
        with self.write() as conn:
            _blob_lock(conn, shared=False)  # writers recording a blob finish first
            referenced = {r[0] for r in conn.execute("SELECT digest FROM artifacts")}
            orphans = [d for d in self.artifacts.iter_digests() if d not in referenced]
            for digest in orphans:
                self.artifacts.delete(digest)
        return {"temp_files": len(temp), "unreferenced_blobs": len(orphans)}

    def backup(self, dest: Path, *, then: Callable[[Path], Any] | None = None) -> Path:
        """Copy the project into an embedded project folder at ``dest``.

        See :func:`mlops_nb.store._team_backup.backup_team`.
        """
        from mlops_nb.store._team_backup import backup_team

        return backup_team(self, Path(dest), then=then)


def _machine_folder(location: str, artifacts: str, name: str) -> Path:
    """Return this machine's folder for a team project's local files.

    Nothing is written there unless the user makes a signing key; the folder is
    ``$MLOPS_NB_TEAM_HOME`` (default ``~/.mlops_nb/team``) / a digest of the two
    masked URLs / the schema name.
    """
    home = Path(os.environ.get(HOME_ENV) or "~/.mlops_nb/team").expanduser()
    digest = hashlib.sha256(f"{location}\n{artifacts}".encode()).hexdigest()[:16]
    return home.absolute() / digest / name
