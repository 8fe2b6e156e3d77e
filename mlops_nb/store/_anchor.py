"""The audit log's anchor: its head hash and length, kept outside the database.

A hash chain alone shows an entry edited or removed in the middle, but not the newest
entries removed, nor every hash recomputed after an edit. ``<project>/audit.head``
holds the chain's length, last id and head hash as of the last write, so
:meth:`Registry.audit_chain_problems` finds both. The file is written inside each write
transaction that adds entries, before its ``COMMIT`` (temp file, fsync, rename), with
the new head as ``pending`` next to the old one; after the commit the pending head
becomes the head. A crash between the two leaves the database at either head, and both
are accepted. A database found at neither head when the next write starts is recorded
in the file as an incident, so a later write never makes a tampered log look whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from mlops_nb.store._artifacts import _fsync_dir

try:
    import fcntl
except ImportError:  # Windows: writes are already serialised by the database lock
    fcntl = None  # type: ignore[assignment]

ANCHOR_FILE = "audit.head"
_LOCK_FILE = ".audit.head.lock"
_FORMAT = "mlops_nb/audit-head@1"
_MAX_INCIDENTS = 100
# bound once: the anchor is written while the database's write lock is held, and must
# not re-enter code that a caller wrapped around os.replace for blob writes
_replace = os.replace


def audit_state(conn: sqlite3.Connection) -> dict[str, Any]:
    """Return ``{count, last_id, head}`` of the audit log as ``conn`` sees it."""
    try:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), "
            "(SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) FROM audit_log"
        ).fetchone()
    except sqlite3.OperationalError:  # before the first migration: no table yet
        return {"count": 0, "last_id": 0, "head": None}
    return {"count": int(row[0]), "last_id": int(row[1]), "head": row[2]}


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return (
        a is not None
        and b is not None
        and all(a.get(k) == b.get(k) for k in ("count", "last_id", "head"))
    )


class AuditAnchor:
    """The ``audit.head`` file of one project folder.

    Parameters
    ----------
    folder : Path
        The project folder (where ``registry.sqlite`` is).
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / ANCHOR_FILE
        self._lock_path = Path(folder) / _LOCK_FILE

    # -- reading ---------------------------------------------------------------------
    def read(self) -> dict[str, Any] | None:
        """Return the anchor (``None``: there is none); raise ``ValueError`` if bad."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as err:
            msg = f"{self.path} cannot be read ({err.strerror})"
            raise ValueError(msg) from err
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                msg = f"{self.path} is not a regular file"
                raise ValueError(msg)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(fd)
        try:
            data = json.loads(b"".join(chunks))
        except ValueError as err:
            msg = f"{self.path} is not JSON ({err})"
            raise ValueError(msg) from err
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            msg = f"{self.path} is not an mlops_nb audit head file"
            raise ValueError(msg)
        return data

    def problems(self, state: dict[str, Any], chain: list[dict[str, Any]]) -> list[str]:
        """Sentences naming each way the database's log differs from the anchor.

        Parameters
        ----------
        state : dict
            :func:`audit_state` of the database.
        chain : list of dict
            The log's rows (``id`` and ``hash``), oldest first.
        """
        try:
            anchor = self.read()
        except ValueError as err:
            return [f"the audit anchor is unreadable ({err})"]
        if anchor is None:
            if state["count"] == 0:
                return []
            return [
                f"the audit anchor {self.path.name} is missing although the log has "
                f"{state['count']} entries: removing the newest entries or rewriting "
                "the log cannot be ruled out (restore the project from a backup)"
            ]
        out = [
            f"audit incident recorded at {i.get('at', '?')}: {i.get('problem', '?')}"
            for i in anchor.get("incidents", [])
        ]
        pending = anchor.get("pending")
        if _same(state, anchor) or _same(state, pending):
            return out
        return [*out, describe_mismatch(anchor, state, chain)]

    # -- writing (inside a write transaction) ----------------------------------------
    def prepare(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Before ``COMMIT``: record ``after`` as pending, next to ``before``."""
        from mlops_nb.store._db import now

        with self._locked():
            try:
                anchor = self.read()
            except ValueError as err:
                anchor = {"incidents": [{"at": now(), "problem": str(err)}]}
            incidents = list((anchor or {}).get("incidents", []))
            if anchor is not None and "head" in anchor:
                if _same(before, anchor.get("pending")):
                    anchor = {**anchor, **_state(before)}  # the last commit landed
                elif not _same(before, anchor):
                    incidents.append(
                        {"at": now(), "problem": describe_mismatch(anchor, before, [])}
                    )
            self._write(
                {
                    "format": _FORMAT,
                    **_state(before),
                    "pending": _state(after),
                    "incidents": incidents[-_MAX_INCIDENTS:],
                },
                sync=True,
            )

    def settle(self, after: dict[str, Any], *, committed: bool) -> None:
        """After ``COMMIT`` (or a rollback): make the head what the database holds."""
        with contextlib.suppress(OSError, ValueError), self._locked():
            anchor = self.read()
            if anchor is None or not _same(anchor.get("pending"), after):
                return  # another write has moved on since
            new = dict(anchor)
            if committed:
                new.update(_state(after))
            new["pending"] = None
            self._write_unsynced(new)

    def write_state(self, state: dict[str, Any], incidents: list[Any]) -> None:
        """Write a fresh anchor (a backup's, from its own snapshot)."""
        with self._locked():
            self._write(
                {
                    "format": _FORMAT,
                    **_state(state),
                    "pending": None,
                    "incidents": incidents[-_MAX_INCIDENTS:],
                },
                sync=True,
            )

    def copy_to(self, folder: Path, state: dict[str, Any], anchor: Any) -> None:
        """Anchor a backup's snapshot (``state``) in ``folder``.

        Incidents recorded here, and a snapshot that matches neither head of this
        anchor (``anchor``, read while the snapshot was taken), travel with the backup.
        """
        from mlops_nb.store._db import now

        if isinstance(anchor, ValueError):
            incidents = [{"at": now(), "problem": f"the audit anchor: {anchor}"}]
        elif anchor is None:
            incidents = (
                [
                    {
                        "at": now(),
                        "problem": f"the source project had no {ANCHOR_FILE} for "
                        f"its {state['count']} audit entries",
                    }
                ]
                if state["count"]
                else []
            )
        else:
            incidents = list(anchor.get("incidents", []))
            if not (_same(state, anchor) or _same(state, anchor.get("pending"))):
                incidents.append(
                    {"at": now(), "problem": describe_mismatch(anchor, state, [])}
                )
        AuditAnchor(folder).write_state(state, incidents)

    @contextlib.contextmanager
    def locked(self) -> Any:
        """Hold the anchor: no audited write can commit a new head meanwhile."""
        with self._locked():
            yield

    @contextlib.contextmanager
    def _locked(self) -> Any:
        if fcntl is None:
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_unsynced(self, data: dict[str, Any]) -> None:
        """Best effort after a commit: if this is lost, both heads still pass.

        Written through Python's buffered file and ``os.rename``, and every failure
        is ignored: the commit before it succeeded and must not be reported as failed.
        """
        text = json.dumps(data, sort_keys=True, indent=1).encode()
        tmp = self.path.with_name(f".{ANCHOR_FILE}.settle-{os.getpid()}")
        try:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            with tmp.open("xb") as fh:  # O_EXCL: never through a planted link
                fh.write(text)
            os.rename(tmp, self.path)  # noqa: PTH104 - replaces atomically on POSIX
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _write(self, data: dict[str, Any], *, sync: bool) -> None:
        text = json.dumps(data, sort_keys=True, indent=1).encode()
        tmp = self.path.with_name(f".{ANCHOR_FILE}.tmp-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                0o600,
            )
            try:
                view = memoryview(text)
                while view:  # a short write (full disk) must not leave half a head
                    view = view[os.write(fd, view) :]
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            _replace(tmp, self.path)  # atomic rename after fsync
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if sync:
            _fsync_dir(self.path.parent)


def _state(s: dict[str, Any]) -> dict[str, Any]:
    return {"count": s["count"], "last_id": s["last_id"], "head": s["head"]}


def describe_mismatch(
    anchor: dict[str, Any], state: dict[str, Any], chain: list[dict[str, Any]]
) -> str:
    """One sentence saying how the log differs from its anchor."""
    want_n, have_n = int(anchor.get("count", 0)), int(state["count"])
    by_id = {int(r["id"]): r["hash"] for r in chain}
    anchored_id = int(anchor.get("last_id", 0))
    where = (
        f"the anchor ({ANCHOR_FILE}) records {want_n} entries ending at entry "
        f"{anchored_id} with hash {str(anchor.get('head'))[:16]}, the database holds "
        f"{have_n} ending at entry {state['last_id']} with hash "
        f"{str(state['head'])[:16]}"
    )
    kept = by_id.get(anchored_id) == anchor.get("head")
    if kept and have_n > want_n:
        what = (
            f"{have_n - want_n} audit entries were added after the anchored head "
            "outside mlops_nb"
        )
    elif have_n < want_n and int(state["last_id"]) < anchored_id:
        what = f"{want_n - have_n} of the newest audit entries were removed"
    elif kept:
        what = f"{want_n - have_n} audit entries before the anchored head were removed"
    else:
        what = "the audit log was rewritten (the anchored head hash is gone)"
    return f"{what}: {where}"
