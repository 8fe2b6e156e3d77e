"""Validation of user-given names (assets, models, monitors, tags).

Names are metadata only: no on-disk path is ever built from them. They are still
restricted to a small, portable alphabet so they read well in a table, a URL or a
file listing, and so a traversal attempt fails loudly instead of being stored.
"""

from __future__ import annotations

import re

from mlops_nb.errors import RegistryNameError

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}  # fmt: skip

_ALLOWED = (
    "Use 1 to 64 characters: letters A-Z/a-z, digits, '_', '-' and '.', starting "
    "with a letter or digit, e.g. 'acs', 'employment-2015' or 'churn_v2'."
)


def validate_name(value: object, *, what: str = "name") -> str:
    """Return ``value`` if it is an acceptable name, else raise.

    Parameters
    ----------
    value : object
        The name the user gave.
    what : str
        How the caller calls this name in messages, e.g. ``"Project.data(name=...)"``.

    Returns
    -------
    str
        The validated name.

    Raises
    ------
    RegistryNameError
        When the name is empty, too long, contains a path separator, ``..``, a
        control or non-ASCII character, or is a reserved device name.

    Examples
    --------
    >>> validate_name("acs")
    'acs'

    ``validate_name("../etc")`` raises :class:`RegistryNameError` naming the value
    and what is allowed.
    """
    if not isinstance(value, str):
        msg = (
            f"{what}={value!r} must be a string, got {type(value).__name__}. {_ALLOWED}"
        )
        raise RegistryNameError(msg)
    problem = _problem(value)
    if problem:
        msg = f"{what}={value!r} is not allowed: {problem}. {_ALLOWED}"
        raise RegistryNameError(msg, [{"name": value, "problem": problem}])
    return value


def _problem(value: str) -> str | None:
    if not value:
        return "it is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"it is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "it contains a control character (newline, NUL, ...)"
    if "/" in value or "\\" in value:
        return "it contains a path separator"
    if ".." in value:
        return "it contains '..'"
    if not value.isascii():
        return (
            "it contains a non-ASCII character (look-alikes of '/' and '.' are refused)"
        )
    if value.endswith((".", " ")):
        return "it ends with a dot or a space"
    if value.split(".")[0].lower() in _WINDOWS_RESERVED:
        return "it is a reserved device name on Windows"
    if not _NAME_RE.match(value):
        return "it contains a character outside the allowed set"
    return None
