"""``mlops-nb copy SRC DEST``: an embedded project to a team project, and back.

Embedded -> team (``mlops-nb copy employment-demo postgresql://... --artifacts s3://...``):

1. the target database must be upgraded (``mlops-nb db upgrade``) and hold no rows:
   a copy never merges into an existing project;
2. the source's rows are read in one SQLite read transaction (a consistent snapshot)
   and its audit chain is checked against its anchor (``audit.head``);
3. every blob a row refers to is read (re-hashed: a changed byte is an
   ``IntegrityError`` and nothing is written to the database) and written to the
   target's object store;
4. every row is inserted with its id, in id order, in ONE transaction (the tables
   locked, emptiness checked again), the PostgreSQL sequences are moved past the
   copied ids, and one audit entry ``copied from <src> (<n> rows, head <hash>)`` is
   appended: a team store has no ``audit.head`` file, so this entry names the head the
   copy continues from. A failure rolls the rows back and removes the blobs the copy
   wrote: the target stays empty;
5. the target is checked: row counts per table, the set of blob digests, and a clean
   ``verify()``.

Team -> embedded (``mlops-nb copy postgresql://... <folder> --artifacts s3://...``) is
the team store's backup (:mod:`mlops_nb.store._team_backup`), checked the same way.
Every line printed shows URLs with their passwords masked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, StoreError, ValidationError
from mlops_nb.store._urls import mask_url

if TYPE_CHECKING:
    import argparse

    from mlops_nb.store._store import Store
    from mlops_nb.store._team_store import TeamStore

#: Tables copied, parents before children (``schema_migrations`` belongs to each side).
ORDER = (
    "artifacts",
    "asset_versions",
    "documents",
    "model_versions",
    "model_stage_history",
    "model_thresholds",
    "reports",
    "audit_log",
)
_TEAM = ("postgresql://", "postgresql+psycopg://")


@dataclass(frozen=True)
class CopyReport:
    """What a copy did and checked (URLs masked)."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    head: str = ""

    def lines(self) -> list[str]:
        """Return the report as ``mlops-nb copy`` prints it (URLs masked)."""
        total = sum(self.rows.values())
        out = [f"copied {self.source} -> {self.target}"]
        out += [f"  {name:<20} {n:>8} rows" for name, n in self.rows.items()]
        out.append(
            f"  {len(self.rows)} tables, {total} rows, {self.blobs} blobs "
            f"({self.bytes} bytes) re-hashed, in {self.seconds:.1f} s"
        )
        out.append(
            f"  checked: row counts and blob digests match, verify() is clean, "
            f"audit head {self.head}"
        )
        return [mask_url(line) for line in out]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def is_team(location: object) -> bool:
    """Whether ``location`` is a team database URL (not a folder)."""
    return isinstance(location, str) and location.strip().lower().startswith(_TEAM)


def copy_project(
    src: str | Path,
    dest: str | Path,
    *,
    artifacts: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> CopyReport:
    """Copy a project between an embedded folder and a team database, checked.

    Parameters
    ----------
    src, dest : str or Path
        A project folder and a ``postgresql://...`` URL, either way round.
    artifacts : str
        The team project's file store (``s3://bucket/prefix`` or ``file:///...``).
    storage_options : dict, optional
        Non-secret fsspec options of ``artifacts``.

    Returns
    -------
    CopyReport

    Raises
    ------
    ValidationError
        Two folders (use ``proj.backup``), two databases, or no ``artifacts``.
    StoreError
        The target is not empty or not upgraded, or a step failed (the target is
        left empty; the source is never changed).
    IntegrityError
        A source blob or the source's audit chain does not match its hashes.
    """
    if is_team(src) == is_team(dest):
        if is_team(src):
            msg = (
                "mlops-nb copy: both are team databases; copy one to a folder first "
                "(mlops-nb copy URL FOLDER), then the folder to the other database."
            )
        else:
            msg = (
                f"mlops-nb copy: {src} and {dest} are both project folders; copy a "
                "folder with proj.backup('<new folder>') (or mlops-nb copy FOLDER "
                "postgresql://... --artifacts ... to make a team project)."
            )
        raise ValidationError(msg)
    if artifacts is None or not str(artifacts).strip():
        msg = (
            "mlops-nb copy: --artifacts is needed: where the team project's files live "
            "(s3://bucket/prefix or file:///srv/ml/project)."
        )
        raise ValidationError(msg)
    from mlops_nb.store._team_store import TeamStore

    start = time.perf_counter()
    if is_team(dest):
        from mlops_nb.store._store import Store

        source = Store(Path(src), create=False)
        try:
            target = TeamStore(str(dest), artifacts, storage_options=storage_options)
            try:
                report = _to_team(source, target)
            finally:
                target.close()
        finally:
            source.db.close()
    else:
        team = TeamStore(
            str(src), artifacts, storage_options=storage_options, read_only=True
        )
        try:
            report = _to_folder(team, Path(dest))
        finally:
            team.close()
    return CopyReport(**{**report.__dict__, "seconds": time.perf_counter() - start})


# -- embedded -> team --------------------------------------------------------------
def _read_embedded(source: Store) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every copied table of ``source`` in one read transaction, in id order."""
    import sqlite3

    from mlops_nb.store import _tables

    conn = source.db._conn()
    out = {}
    try:
        conn.execute("BEGIN")  # deferred: one snapshot for every SELECT below
        try:
            for name in ORDER:
                table = getattr(_tables, name)
                cols = [c.name for c in table.columns]
                keys = ", ".join(f'"{c.name}"' for c in table.primary_key)
                listed = ", ".join(f'"{c}"' for c in cols)
                rows = conn.execute(f"SELECT {listed} FROM {name} ORDER BY {keys}")
                out[name] = (cols, [tuple(r) for r in rows])
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as err:
        msg = f"could not read the project {source.root}: {err}; nothing was copied."
        raise StoreError(msg) from err
    return out


def _counts(conn: Any) -> dict[str, int]:
    import sqlalchemy as sa

    from mlops_nb.store import _tables

    return {
        name: int(
            conn.execute(
                sa.select(sa.func.count()).select_from(getattr(_tables, name))
            ).scalar()
        )
        for name in ORDER
    }


def _refuse_non_empty(target: TeamStore, counts: dict[str, int]) -> None:
    held = {k: v for k, v in counts.items() if v}
    if held:
        listed = ", ".join(f"{k}: {v}" for k, v in held.items())
        msg = (
            f"mlops-nb copy: the target {target.location} already holds a project "
            f"({listed} rows); a copy never merges into one, and nothing was changed. "
            "Copy into a new schema (?schema=<new name>, then mlops-nb db upgrade)."
        )
        raise StoreError(msg)


def _to_team(source: Store, target: TeamStore) -> CopyReport:
    from mlops_nb.store._sa_rows import sa_conn

    problems = source.db.audit_chain_problems()
    if problems:
        msg = (
            f"the audit log of {source.root} does not verify ({problems[0]}); "
            "nothing was copied. Run proj.verify() on it and restore from a backup."
        )
        raise IntegrityError(msg)
    rows = _read_embedded(source)
    with target.db._translated("read"), target.db.engine.connect() as conn:
        _refuse_non_empty(target, _counts(conn))
    digests = [r[0] for r in rows["artifacts"][1]]
    audit = rows["audit_log"][1]
    head = audit[-1][-1] if audit else ""
    n_rows = sum(len(v[1]) for v in rows.values())
    written: list[str] = []
    size = 0
    try:
        for digest in digests:
            data = source.read_blob(digest)  # re-hashed: IntegrityError if changed
            size += len(data)
            existed = target.artifacts.exists(digest)
            if target.artifacts.put(data) != digest:  # pragma: no cover - re-hashed
                msg = f"artifact {digest} hashed differently on the target."
                raise IntegrityError(msg)
            if not existed:
                written.append(digest)
        with target.write() as tx:
            conn = sa_conn(tx)
            _lock_tables(conn)
            _refuse_non_empty(target, _counts(conn))
            _insert(conn, rows)
            target.audit(
                tx,
                "copy",
                f"copied from {source.root} ({n_rows} rows, head {head or 'none'})",
                source=str(source.root),
                rows=n_rows,
                head=head,
            )
    except BaseException:
        for digest in written:  # nothing refers to them: the target stays empty
            try:
                target.artifacts.delete(digest)
            except Exception:  # best effort: gc() removes what is left
                continue
        raise
    _copy_trust(source, target)
    counts = {k: len(v[1]) for k, v in rows.items()}
    _check_team(target, counts, set(digests), head)
    return CopyReport(
        source=str(source.root),
        target=f"{target.location} (artifacts {target.artifacts_location})",
        rows=counts,
        blobs=len(digests),
        bytes=size,
        head=head,
    )


def _lock_tables(conn: Any) -> None:
    """Keep every other writer out until the copy commits (PostgreSQL)."""
    from mlops_nb.store._pg_audit import lock

    if conn.dialect.name != "postgresql":
        return
    # audit_log: its appends queue on the advisory lock (LOCK TABLE on it would
    # need UPDATE rights, which the append-only app role does not have)
    lock(conn, "audit_log")
    listed = ", ".join(n for n in ORDER if n != "audit_log")
    conn.exec_driver_sql(f"LOCK TABLE {listed} IN EXCLUSIVE MODE")


def _insert(
    conn: Any, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
) -> None:
    """Insert every row with its id, then move each id sequence past the copy."""
    import sqlalchemy as sa

    from mlops_nb.store import _tables

    for name in ORDER:
        columns, values = rows[name]
        if values:
            table = getattr(_tables, name)
            conn.execute(
                table.insert(), [dict(zip(columns, v, strict=True)) for v in values]
            )
        if conn.dialect.name == "postgresql" and name != "artifacts":
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"
                )
            )


def _copy_trust(source: Store, target: TeamStore) -> None:
    """Carry the source's public trust file to this machine's folder of the target."""
    from mlops_nb.secure._keys import KEY_DIR
    from mlops_nb.secure._trust import TRUST_FILE, copy_trust_file

    src = source.root / KEY_DIR / TRUST_FILE
    if not src.exists() or (target.root / KEY_DIR / TRUST_FILE).exists():
        return
    from mlops_nb._project import Project

    target.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy_trust_file(Project(source), target.root)


def _check_team(
    target: TeamStore, counts: dict[str, int], digests: set[str], head: str
) -> None:
    """Row counts, blob digests, the chain through ``head`` and a clean verify()."""
    from mlops_nb._project import Project

    with target.db._translated("read"), target.db.engine.connect() as conn:
        found = _counts(conn)
    expected = {**counts, "audit_log": counts["audit_log"] + 1}  # + the copy entry
    problems = [
        f"{k}: {found[k]} rows, the source has {v}"
        for k, v in expected.items()
        if found[k] != v
    ]
    if target.referenced_blobs() != digests:
        problems.append("the blob digests differ from the source's")
    if head and not target.query("SELECT id FROM audit_log WHERE hash = ?", (head,)):
        problems.append(f"the source's audit head {head} is not in the copy")
    checked = Project(target).verify()
    problems += [f"{k}: {v}" for k, v in checked.problems.items()]
    if not checked.ok and not checked.problems:
        problems.append(str(checked))
    if problems:
        msg = (
            f"the copy in {target.location} was written but does not match its source: "
            + "; ".join(problems)
            + ". Check the source with proj.verify(); drop the schema (or choose a new "
            "one) before copying again."
        )
        raise IntegrityError(msg)


# -- team -> embedded --------------------------------------------------------------
def _to_folder(team: TeamStore, dest: Path) -> CopyReport:
    from mlops_nb._project import Project
    from mlops_nb.store._store import Store

    copy = Project(team).backup(dest)  # blobs re-hashed on the read
    folder = Store(copy, create=False)
    try:
        rows = {name: len(folder.query(f"SELECT 1 FROM {name}")) for name in ORDER}
        digests = sorted(folder.referenced_blobs())
        size = sum(len(folder.read_blob(d)) for d in digests)
        listed = folder.query("SELECT id, hash FROM audit_log ORDER BY id")
        chain = [(r["id"], r["hash"]) for r in listed]
        checked = Project(folder).verify()
    finally:
        folder.db.close()
    problems = [f"{k}: {v}" for k, v in checked.problems.items()]
    if not checked.ok and not problems:
        problems.append(str(checked))
    theirs = {r["id"]: r["hash"] for r in team.query("SELECT id, hash FROM audit_log")}
    if any(theirs.get(i) != h for i, h in chain):
        problems.append("its audit log differs from the team project's")
    if not set(digests) <= team.referenced_blobs():
        problems.append("it holds blobs the team project does not")
    if problems:
        msg = f"the copy in {copy} does not match: " + "; ".join(problems)
        raise IntegrityError(msg)
    return CopyReport(
        source=f"{team.location} (artifacts {team.artifacts_location})",
        target=str(copy),
        rows=rows,
        blobs=len(digests),
        bytes=size,
        head=chain[-1][1] if chain else "",
    )


# -- the command -------------------------------------------------------------------
def add_copy_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mlops-nb copy SRC DEST [--artifacts URL]`` to ``mlops-nb``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
    """
    cmd = subparsers.add_parser(
        "copy",
        help="copy a project folder to a new team project (PostgreSQL + object store) "
        "or a team project to a new folder, every hash checked",
    )
    cmd.add_argument("src", help="a project folder or postgresql://... URL")
    cmd.add_argument(
        "dest",
        help="a postgresql://user@host/db?schema=name URL (upgraded, empty) or a new "
        "folder",
    )
    cmd.add_argument(
        "--artifacts",
        help="the team project's file store: s3://bucket/prefix or file:///path",
    )
    cmd.set_defaults(func=_cmd_copy)
    return cmd


def _cmd_copy(args: argparse.Namespace) -> int:
    report = copy_project(args.src, args.dest, artifacts=args.artifacts)
    print("\n".join(report.lines()))
    return 0
