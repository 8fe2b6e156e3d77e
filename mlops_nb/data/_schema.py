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
#: a name token that alone says "identifier"
_ID_TOKENS = frozenset(
    (
        *("id", "ids", "key", "uuid", "guid", "index", "idx", "pk", "rowid"),
        *("rownum", "unnamed"),  # pandas names a saved index "Unnamed: 0"
    )
)
#: words that make an identifier when ``id`` or ``key`` is glued to them (``userid``)
_ID_ENTITIES = frozenset(
    (
        *("user", "customer", "cust", "client", "order", "row", "record", "rec"),
        *("item", "product", "prod", "account", "acct", "session", "transaction"),
        *("trans", "txn", "patient", "person", "member", "employee", "emp", "device"),
        *("event", "sample", "subject", "case", "visit", "ticket", "invoice", "loan"),
        *("policy", "claim", "applicant", "student", "house", "listing", "store"),
        *("part", "supp", "supplier", "nation", "line", "object", "entity", "doc"),
        *("document", "file", "msg", "message", "request", "req", "job", "task"),
    )
)
#: id tokens that may be glued to an entity word
_GLUED = ("id", "key", "uuid", "guid", "idx", "index", "pk")
#: single letters that make an identifier with ``id`` glued on (``rid``, ``cid``);
#: the others make common words (aid, bid, did, hid, kid, lid, mid)
_ID_LETTERS = frozenset("cefgijnopqrstuvwxyz")
_TOKEN_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def looks_like_id(name: str) -> bool:
    """Whether a column name says it holds identifiers.

    The name is split into tokens at non-alphanumerics and camelCase boundaries
    (``customerId`` -> ``customer``, ``Id``; ``RID`` stays one token) and lower-cased.
    It looks like an id when a token is one of ``id, ids, key, uuid, guid, index,
    idx, pk, rowid, rownum, unnamed`` (pandas calls a saved index ``Unnamed: 0``);
    or is ``id, key, uuid, guid, idx, index`` or ``pk`` glued to an entity word
    (``userid``, ``custkey``, ``rowindex``; the words are in ``_ID_ENTITIES``); or is
    ``id`` glued to one letter (``rid``, ``cid``, ``uid``; not ``aid``, ``bid``,
    ``did``, ``hid``, ``kid``, ``lid``, ``mid``). So ``paid``, ``valid``, ``fluid``
    and ``monkey`` are not ids.
    """
    for token in (t.lower() for t in _TOKEN_RE.findall(str(name))):
        if token in _ID_TOKENS:
            return True
        for suffix in _GLUED:
            stem = token[: -len(suffix)]
            if token.endswith(suffix) and stem:
                if stem in _ID_ENTITIES:
                    return True
                if suffix == "id" and len(stem) == 1 and stem in _ID_LETTERS:
                    return True
    return False


def unique_per_row(series: pd.Series) -> bool:
    """Whether an integer or string column holds a different value on every row.

    Floats are left out: measured quantities are often all different.
    """
    import pandas as pd

    dtype = series.dtype
    types = pd.api.types
    integer = types.is_integer_dtype(dtype) and not types.is_bool_dtype(dtype)
    text = types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    if not (integer or text):
        return False
    return bool(series.notna().all() and series.is_unique)


def _is_row_number(series: pd.Series) -> bool:
    """Tell whether unique integers are row numbers: 0..n-1 or 1..n, in any order."""
    n = len(series)
    if n < 20 or not unique_per_row(series):
        return False
    low = int(series.min())
    return low in (0, 1) and int(series.max()) - low + 1 == n


def parse_datetime(series: pd.Series) -> pd.Series | None:
    """Parse a column of date strings, or return ``None`` when any value fails.

    Tried in order: ISO 8601; ISO 8601 converted to UTC (mixed offsets); the format
    of the first value, month first; the same, day first. Missing values stay
    missing; a value that does not parse makes the whole column fail, so a column
    called ``datetime`` always holds datetimes.
    """
    import warnings

    import pandas as pd

    nonnull = series.notna()
    if not nonnull.any():
        return None
    values = series.where(nonnull, None)
    if not all(isinstance(v, str) for v in values[nonnull]):
        return None
    values = values.str.strip()
    attempts: tuple[dict[str, Any], ...] = (
        {"format": "ISO8601"},
        {"format": "ISO8601", "utc": True},
        {},
        {"dayfirst": True},
    )
    for kwargs in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(values, **kwargs)
        except (ValueError, TypeError, OverflowError):
            continue
        if not parsed[nonnull].isna().any():
            return parsed
    return None


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
        """Columns that play no role (target, time, id, sensitive) and are not ids.

        Models use those of kind numeric, categorical and boolean.
        """
        return [c.name for c in self.columns if not c.role and c.kind != "id"]

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


def infer_kind(series: pd.Series, name: str = "", *, allow_id: bool = True) -> str:
    """Guess the kind of one column.

    ``id`` when the column holds a different integer or string on every row and
    either its name looks like an id (:func:`looks_like_id`), or it is a string
    column of at least 20 rows, or row numbers (``0..n-1`` or ``1..n`` in any order)
    over at least 20 rows. ``datetime`` for datetime dtypes and for strings
    that look like dates *and* all parse (:func:`parse_datetime`); strings that
    look like dates but do not all parse are ``text``. ``allow_id=False`` (columns
    with a role) never returns ``id``.
    """
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    nonnull = series.dropna()
    unique = allow_id and unique_per_row(series)
    if pd.api.types.is_numeric_dtype(dtype):
        if unique and (looks_like_id(name) or _is_row_number(series)):
            return "id"
        return "numeric"
    sample = nonnull.head(5000).astype(str)
    if sample.empty:
        return "categorical"
    if sample.str.match(_DATE_RE).mean() >= 0.95:
        return "datetime" if parse_datetime(nonnull.head(5000)) is not None else "text"
    if unique and looks_like_id(name):
        return "id"
    lengths = sample.str.len()
    words = sample.str.count(" ") + 1
    if lengths.mean() > 40 or words.mean() >= 5:
        return "text"
    if unique and len(nonnull) >= 20:
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
            "id"
            if name == id_col
            else infer_kind(series, str(name), allow_id=name not in roles)
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
