"""The one exception hierarchy of mlops_nb.

Every error raised on purpose by mlops_nb derives from :class:`MlopsNbError` and also
from the builtin it resembles, so ``except ValueError`` keeps working for callers who
do not know mlops_nb. A message says what was wrong (naming the parameter and the bad
value), what was expected, and how to fix it.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

__all__ = [
    "DataReadError",
    "EmptyDataError",
    "GateError",
    "IntegrityError",
    "MissingDependencyError",
    "MlopsNbError",
    "NotAProjectError",
    "NotFoundError",
    "RegistryNameError",
    "SchemaError",
    "StoreError",
    "UnsafeFormatError",
    "UnsupportedFormatError",
    "ValidationError",
    "VersionExistsError",
]


class MlopsNbError(Exception):
    """Root of every error mlops_nb raises on purpose."""


class ValidationError(MlopsNbError, ValueError):
    """Input that mlops_nb cannot accept.

    Parameters
    ----------
    message : str
        What was wrong, what was expected and how to fix it.
    failure_cases : list of dict, optional
        One row per problem (for example ``{"column": ..., "problem": ...}``); all
        problems found are collected into one error.
    """

    def __init__(self, message: str, failure_cases: Iterable[dict[str, Any]] = ()):
        super().__init__(message)
        self._failure_cases = list(failure_cases)

    @property
    def failure_cases(self) -> pd.DataFrame:
        """The problems found, one per row, as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self._failure_cases)


class RegistryNameError(ValidationError):
    """A user-given name that cannot be used (path-like, empty, too long, ...)."""


class SchemaError(ValidationError):
    """A column that is missing, duplicated or of the wrong kind."""


class EmptyDataError(ValidationError):
    """A frame or file with no rows or no columns."""


class UnsupportedFormatError(ValidationError):
    """A file type or estimator mlops_nb does not read or write."""


class UnsafeFormatError(UnsupportedFormatError):
    """Bytes in a format that can run code when loaded (pickle and its family)."""


class VersionExistsError(MlopsNbError, ValueError):
    """An attempt to store different bytes under an existing version."""


class NotFoundError(MlopsNbError, LookupError):
    """An asset, version or stored object that does not exist."""


class NotAProjectError(MlopsNbError, FileNotFoundError):
    """A folder that exists but is not an mlops_nb project."""


class DataReadError(MlopsNbError, OSError):
    """A data file that exists but cannot be read or parsed."""


class StoreError(MlopsNbError, OSError):
    """The project store could not complete an action; nothing was changed."""


class IntegrityError(MlopsNbError, RuntimeError):
    """Stored bytes that do not match their recorded SHA-256, or a linked blob."""


class GateError(MlopsNbError, RuntimeError):
    """A promotion refused by one or more gates; ``failure_cases`` lists each one."""

    def __init__(self, message: str, failure_cases: Iterable[dict[str, Any]] = ()):
        super().__init__(message)
        self._failure_cases = list(failure_cases)

    @property
    def failure_cases(self) -> pd.DataFrame:
        """One row per failed gate: gate, message."""
        import pandas as pd

        return pd.DataFrame(self._failure_cases)


class MissingDependencyError(MlopsNbError, ImportError):
    """An optional dependency needed for this action is not installed."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``.

    Parameters
    ----------
    value : str
        What the user gave.
    choices : iterable of str
        What would have been accepted.

    Returns
    -------
    str
        A sentence to append to an error message, possibly empty.
    """
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    if str(value).lower() in lowered:
        return f" Did you mean {lowered[str(value).lower()]!r}?"
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def listing(choices: Iterable[Any], limit: int = 12) -> str:
    """Return ``"'a', 'b', 'c'"`` (shortened past ``limit`` items) for a message."""
    items = [repr(str(c)) for c in choices]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items) - limit} more)"
    return ", ".join(items) if items else "(none)"
