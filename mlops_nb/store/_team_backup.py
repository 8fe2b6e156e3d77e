"""Back up a team project as an embedded project folder.

The copy is an ordinary project (``registry.sqlite`` plus ``artifacts/``), opened with
``Project.open(folder)``: every row of the shared database is copied with its id (one
``REPEATABLE READ`` snapshot, so rows and the audit log agree), then every blob a row
refers to is read from the object store, re-hashed, and written to the folder. The
audit log keeps its hashes (both back ends hash entries the same way), so the copy's
chain verifies, and its anchor (``audit.head``) names the copied head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlops_nb.store._team_store import TeamStore

#: Tables copied, parents before children; ``schema_migrations`` is the copy's own.
_ORDER = (
    "artifacts",
    "asset_versions",
    "documents",
    "model_versions",
    "model_stage_history",
    "model_thresholds",
    "reports",
    "audit_log",
)


def _snapshot(store: TeamStore) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Read every copied table in one consistent snapshot."""
    import sqlalchemy as sa

    from mlops_nb.store import _tables

    out = {}
    with (
        store.db._translated("read"),
        store.db.engine.connect().execution_options(
            isolation_level="REPEATABLE READ"
        ) as conn,
        conn.begin(),
    ):
        for name in _ORDER:
            table = getattr(_tables, name)
            result = conn.execute(sa.select(table).order_by(*table.primary_key))
            out[name] = (list(result.keys()), [tuple(r) for r in result])
    return out


def backup_team(
    store: TeamStore, dest: Path, *, then: Callable[[Path], Any] | None = None
) -> Path:
    """Write an embedded-format copy of ``store`` to the new or empty folder ``dest``.

    Parameters
    ----------
    store : TeamStore
    dest : Path
        A new or empty folder.
    then : callable, optional
        Called with ``dest`` to add more (the trust file).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    StoreError
        When ``dest`` is not empty, or a step failed: the partial copy is removed and
        the team project is unchanged.
    """
    from mlops_nb.store._store import Store, _remove_partial

    dest = Path(dest).expanduser().absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        msg = f"backup destination {dest} is not an empty folder; choose a new one."
        raise StoreError(msg)
    made = [p for p in (dest, *dest.parents) if not p.exists()]
    rows = _snapshot(store)  # before anything is written: a failed read leaves nothing
    try:
        copy = Store(dest, create=True)
        try:
            with copy.write() as conn:
                for name in _ORDER:
                    columns, values = rows[name]
                    cols = ", ".join(f'"{c}"' for c in columns)
                    marks = ", ".join("?" for _ in columns)
                    conn.executemany(
                        f"INSERT INTO {name} ({cols}) VALUES ({marks})", values
                    )
            for digest in (r[0] for r in rows["artifacts"][1]):
                copy.artifacts.put(store.read_blob(digest))  # re-hashed on the read
        finally:
            copy.db.close()
        if then is not None:
            then(dest)
    except BaseException as err:
        _remove_partial(dest, made)
        if not isinstance(err, (OSError, StoreError)):
            raise
        msg = (
            f"backup of {store.location} to {dest} failed: {err}. The partial copy "
            "was removed and the team project is unchanged."
        )
        raise StoreError(msg) from None
    return dest
