"""Global settings: ``set_config``, ``get_config`` and ``config_context``.

The display mode decides how objects render in a notebook: ``"widget"`` (a live
ipywidgets view with a static HTML fallback), ``"html"`` (static HTML only, what the
report runner uses) or ``"text"``. The environment variable ``MLOPS_NB_DISPLAY`` sets
the starting mode; ``MLOPS_NB_USER`` names the person recorded in audit logs.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError, listing

if TYPE_CHECKING:
    from collections.abc import Iterator

DisplayMode = Literal["widget", "html", "text"]
_DISPLAY_MODES = ("widget", "html", "text")


def _default_user() -> str:
    user = os.environ.get("MLOPS_NB_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"


def _default_saved_view() -> bool:
    value = os.environ.get("MLOPS_NB_SAVED_VIEW", "").strip().lower()
    if value:
        return value not in ("0", "false", "no", "off")
    # VS Code draws each output on its own, so the CSS that hides the saved view
    # next to a live widget cannot reach it: one output there
    return "VSCODE_PID" not in os.environ


def _defaults() -> dict[str, Any]:
    mode = os.environ.get("MLOPS_NB_DISPLAY", "widget").strip().lower()
    return {
        "display": mode if mode in _DISPLAY_MODES else "widget",
        "user": _default_user(),
        "lock_timeout": 60.0,
        "saved_view": _default_saved_view(),
        "max_data_bytes": _default_max_data_bytes(),
        "lineage": None,
        "lineage_file": None,
    }


def _default_max_data_bytes() -> int:
    # half the machine's memory: a table declaring more would not fit when loaded
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        total = 8 << 30
    return max(total // 2, 256 << 20)


_local = threading.local()


def _state() -> dict[str, Any]:
    if not hasattr(_local, "config"):
        _local.config = _defaults()
    return _local.config


def get_config() -> dict[str, Any]:
    """Return a copy of the current settings.

    Returns
    -------
    dict
        ``display`` (``"widget"``, ``"html"`` or ``"text"``), ``user`` (the name
        recorded in audit logs), ``lock_timeout`` (seconds a writer waits for
        another writer of the same project), ``saved_view`` (whether a live
        widget is preceded by its static view, which a reopened notebook shows)
        ``max_data_bytes`` (the largest table a data file may declare),
        ``lineage`` (``"openlineage"`` or None) and ``lineage_file``.

    Examples
    --------
    >>> import mlops_nb as mnb
    >>> mnb.get_config()["display"] in ("widget", "html", "text")
    True
    """
    return dict(_state())


def set_config(
    *,
    display: DisplayMode | None = None,
    user: str | None = None,
    lock_timeout: float | None = None,
    saved_view: bool | None = None,
    max_data_bytes: int | None = None,
    lineage: str | bool | None = None,
    lineage_file: str | os.PathLike[str] | None = None,
) -> None:
    """Change settings for the rest of the session (this thread).

    Parameters
    ----------
    display : {"widget", "html", "text"}, optional
        How objects render in a notebook.
    user : str, optional
        The name recorded in audit logs.
    lock_timeout : float, optional
        Seconds a writer waits for another writer of the same project.
    saved_view : bool, optional
        In widget mode, also send each object's static view ahead of its live
        widget, so a notebook reopened without its kernel still shows the results
        (JupyterLab hides the static copy while the widget is alive). Default: on,
        except under VS Code; ``MLOPS_NB_SAVED_VIEW=0`` turns it off.
    max_data_bytes : int, optional
        The largest table a Parquet file may declare in its metadata (rows times
        columns times 8 bytes, or its uncompressed size), checked before reading
        it, so a tiny file declaring billions of rows is refused instead of
        exhausting memory. Default: half of the machine's memory.
    lineage : {"openlineage", "off"}, optional
        ``"openlineage"`` makes data registration, training, ONNX export and
        ``Monitor.observe`` emit OpenLineage run events (START, then COMPLETE or
        FAIL, with input and output datasets; see :mod:`mlops_nb._lineage`).
        Needs ``pip install 'mlops-nb[lineage]'``. Default: off.
    lineage_file : str or path, optional
        The JSON-lines file the events are appended to; ``""`` goes back to the
        client's console transport (the ``openlineage.client.transport.console``
        logger), the default.

    Raises
    ------
    ValidationError
        For an unknown display mode, an empty user, a negative timeout, a
        non-positive ``max_data_bytes`` or an unknown ``lineage``.
    MissingDependencyError
        For ``lineage="openlineage"`` without openlineage-python installed.
    """
    state = _state()
    if display is not None:
        if display not in _DISPLAY_MODES:
            msg = (
                f"set_config(display={display!r}): unknown display mode. "
                f"Use one of {listing(_DISPLAY_MODES)}."
            )
            raise ValidationError(msg)
        state["display"] = display
    if user is not None:
        if not str(user).strip():
            msg = "set_config(user=''): the user name recorded in audit logs is empty."
            raise ValidationError(msg)
        state["user"] = str(user)
    if lock_timeout is not None:
        if lock_timeout < 0:
            msg = f"set_config(lock_timeout={lock_timeout!r}): must be >= 0 seconds."
            raise ValidationError(msg)
        state["lock_timeout"] = float(lock_timeout)
    if saved_view is not None:
        state["saved_view"] = bool(saved_view)
    if max_data_bytes is not None:
        if isinstance(max_data_bytes, bool) or int(max_data_bytes) <= 0:
            msg = (
                f"set_config(max_data_bytes={max_data_bytes!r}): must be a positive "
                "number of bytes."
            )
            raise ValidationError(msg)
        state["max_data_bytes"] = int(max_data_bytes)
    if lineage is not None:
        state["lineage"] = _lineage_kind(lineage)
    if lineage_file is not None:
        path = str(lineage_file) and str(Path(lineage_file).expanduser().resolve())
        state["lineage_file"] = path or None


def _lineage_kind(lineage: str | bool) -> str | None:
    if lineage is False or lineage == "off":
        return None
    if lineage != "openlineage":
        msg = (
            f"set_config(lineage={lineage!r}): unknown lineage sink. Use "
            "'openlineage' (run events through openlineage-python) or 'off'."
        )
        raise ValidationError(msg)
    import importlib.util

    if importlib.util.find_spec("openlineage.client") is None:
        from mlops_nb.errors import MissingDependencyError

        msg = (
            "set_config(lineage='openlineage') needs openlineage-python, which is "
            "not installed. Install it with `pip install 'mlops-nb[lineage]'`."
        )
        raise MissingDependencyError(msg)
    return "openlineage"


@contextlib.contextmanager
def config_context(
    *,
    display: DisplayMode | None = None,
    user: str | None = None,
    lock_timeout: float | None = None,
    saved_view: bool | None = None,
    max_data_bytes: int | None = None,
    lineage: str | bool | None = None,
    lineage_file: str | os.PathLike[str] | None = None,
) -> Iterator[None]:
    """Change settings inside a ``with`` block only.

    Examples
    --------
    >>> import mlops_nb as mnb
    >>> with mnb.config_context(display="text"):
    ...     mnb.get_config()["display"]
    'text'
    """
    old = get_config()
    set_config(
        display=display,
        user=user,
        lock_timeout=lock_timeout,
        saved_view=saved_view,
        max_data_bytes=max_data_bytes,
        lineage=lineage,
        lineage_file=lineage_file,
    )
    try:
        yield
    finally:
        _state().update(old)
