"""Schema inference: a kind for every column and the roles columns play.

Kinds are ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``text`` and
``id``; roles are ``target``, ``sensitive``, ``time`` and ``id``. Inference is a
heuristic a user can override column by column with ``kinds={...}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import SchemaError, did_you_mean, listing

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import pandas as pd

Kind = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]
KINDS: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "text", "id")
_DATE_RE = re.compile(
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})([ T]\d{1,2}:\d{2}.*)?$"
)
_ID_NAME_RE = re.compile(r"(^id$|_id$|^id_|^uuid$|_uuid$)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, kind, pandas dtype and role (``""`` for a feature)."""

    name: str
    kind: str
    dtype: str
    role: str = ""


@dataclass(frozen=True)
class Schema:
    """The columns of a data version, with the roles they play.

    Attributes
    ----------
    columns : tuple of ColumnSpec
        In frame order.
    target, time, id : str or None
        The column with that role.
    sensitive : tuple of str
        Sensitive attributes (used for fairness, never silently as features).
    """

    columns: tuple[ColumnSpec, ...]
    target: str | None = None
    sensitive: tuple[str, ...] = ()
    time: str | None = None
    id: str | None = None
    task: str | None = field(default=None)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def kind(self, name: str) -> str:
        """Return the kind of a column."""
        return self[name].kind

    def __getitem__(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def features(self) -> list[str]:
        """Columns that are neither target, time, id nor sensitive."""
        return [c.name for c in self.columns if not c.role]

    def roles(self) -> dict[str, Any]:
        """Return the roles as keyword arguments for :meth:`Project.data`."""
        return {
            "target": self.target,
            "sensitive": list(self.sensitive),
            "time": self.time,
            "id": self.id,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "columns": [c.__dict__ for c in self.columns],
            "target": self.target,
            "sensitive": list(self.sensitive),
            "time": self.time,
            "id": self.id,
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schema:
        """Rebuild a schema stored with :meth:`to_dict`."""
        return cls(
            columns=tuple(ColumnSpec(**c) for c in d["columns"]),
            target=d.get("target"),
            sensitive=tuple(d.get("sensitive") or ()),
            time=d.get("time"),
            id=d.get("id"),
            task=d.get("task"),
        )

    def diff(self, previous: Schema) -> dict[str, list[Any]]:
        """Columns added, removed and retyped relative to ``previous``."""
        old = {c.name: c for c in previous.columns}
        new = {c.name: c for c in self.columns}
        retyped = [
            (n, f"{old[n].kind}/{old[n].dtype}", f"{new[n].kind}/{new[n].dtype}")
            for n in new
            if n in old and (old[n].kind, old[n].dtype) != (new[n].kind, new[n].dtype)
        ]
        return {
            "added": [n for n in new if n not in old],
            "removed": [n for n in old if n not in new],
            "retyped": retyped,
        }


def _check_column(frame: pd.DataFrame, param: str, column: Any) -> str:
    if column not in frame.columns:
        msg = (
            f"{param}={column!r}: column not found. Available columns: "
            f"{listing(frame.columns)}."
            f"{did_you_mean(str(column), map(str, frame.columns))}"
        )
        raise SchemaError(
            msg, [{"parameter": param, "column": column, "problem": "not found"}]
        )
    return str(column)


def infer_kind(series: pd.Series, name: str = "") -> str:
    """Guess the kind of one column (see the module docstring)."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    nonnull = series.dropna()
    if pd.api.types.is_numeric_dtype(dtype):
        if (
            pd.api.types.is_integer_dtype(dtype)
            and _ID_NAME_RE.search(name)
            and nonnull.is_unique
        ):
            return "id"
        return "numeric"
    sample = nonnull.head(5000).astype(str)
    if sample.empty:
        return "categorical"
    if sample.str.match(_DATE_RE).mean() >= 0.95:
        return "datetime"
    lengths = sample.str.len()
    words = sample.str.count(" ") + 1
    if lengths.mean() > 40 or words.mean() >= 5:
        return "text"
    if len(nonnull) >= 20 and nonnull.is_unique:
        return "id"
    return "categorical"


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    sensitive: str | Sequence[str] | None = None,
    time: str | None = None,
    id: str | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Schema:
    """Infer a :class:`Schema` for ``frame`` and apply roles and kind overrides.

    Parameters
    ----------
    frame : DataFrame
        The data.
    target, time, id : str, optional
        Columns playing those roles.
    sensitive : str or list of str, optional
        Sensitive attribute columns.
    kinds : dict, optional
        Kind overrides, e.g. ``{"zip": "categorical"}``.

    Returns
    -------
    Schema

    Raises
    ------
    SchemaError
        Naming every unknown column, unknown kind or conflicting role at once.
    """
    problems: list[dict[str, Any]] = []
    messages: list[str] = []

    def check(param: str, column: Any) -> str | None:
        try:
            return _check_column(frame, param, column)
        except SchemaError as err:
            problems.extend(err._failure_cases)
            messages.append(str(err))
            return None

    target = check("target", target) if target is not None else None
    time = check("time", time) if time is not None else None
    id_col = check("id", id) if id is not None else None
    sens_list: Iterable[Any] = (
        [sensitive] if isinstance(sensitive, str) else (sensitive or [])
    )
    sens = tuple(s for s in (check("sensitive", c) for c in sens_list) if s is not None)
    overrides = dict(kinds or {})
    for col, kind in overrides.items():
        check(f"kinds[{col!r}]", col)
        if kind not in KINDS:
            problems.append(
                {
                    "parameter": f"kinds[{col!r}]",
                    "column": col,
                    "problem": "unknown kind",
                }
            )
            messages.append(
                f"kinds[{col!r}]={kind!r}: unknown kind; use one of {listing(KINDS)}."
            )
    roles: dict[str, str] = {}
    for role, col in (("target", target), ("time", time), ("id", id_col)):
        if col is None:
            continue
        if col in roles:
            problems.append({"parameter": role, "column": col, "problem": "two roles"})
            messages.append(
                f"{role}={col!r}: column already has the role {roles[col]!r}."
            )
        roles[col] = role
    for col in sens:
        if col in roles:
            problems.append(
                {"parameter": "sensitive", "column": col, "problem": "two roles"}
            )
            messages.append(
                f"sensitive={col!r}: column already has the role {roles[col]!r}; a "
                "sensitive attribute cannot also be the target, time or id."
            )
        roles.setdefault(col, "sensitive")
    if problems:
        raise SchemaError(" ".join(messages), problems)

    columns = []
    for name in frame.columns:
        series = frame[name]
        kind = overrides.get(name) or (
            "id" if name == id_col else infer_kind(series, str(name))
        )
        columns.append(
            ColumnSpec(str(name), kind, str(series.dtype), roles.get(name, ""))
        )
    task = (
        _task(frame[target], {c.name: c.kind for c in columns}[target])
        if target
        else None
    )
    return Schema(tuple(columns), target, sens, time, id_col, task)


def _task(y: pd.Series, kind: str) -> str:
    n_unique = y.nunique(dropna=True)
    if kind == "numeric" and n_unique > 20:
        return "regression"
    return "binary" if n_unique <= 2 else "multiclass"
