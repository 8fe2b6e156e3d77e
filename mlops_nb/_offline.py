"""Nothing phones home: dependency telemetry off, no ``.env`` leakage.

mlops_nb runs in classrooms, on Binder and behind firewalls, and must never send usage
data or reach for the network on its own. :func:`disable_telemetry` sets the opt-out
environment variables of the dependencies that have telemetry (it only touches the
environment, so ``import mlops_nb`` calls it at no cost). :func:`import_nannyml` is the
one way mlops_nb modules get nannyml: it keeps nannyml's import-time ``load_dotenv()``
from copying a ``.env`` file of the working directory into ``os.environ`` and silences
nannyml's usage logger (Segment analytics). :func:`import_onnxruntime` does the same
for onnxruntime's platform telemetry.

Notes
-----
What each dependency does, and how it is switched off (checked on nannyml 0.13.1,
codecarbon 3.3, onnxruntime 1.32, jupyterlab 4.6):

- nannyml sends a Segment event for every fit, calculate and plot, unless
  ``NML_DISABLE_USAGE_LOGGING`` is in the environment (any value); its older
  ``nannyml.analytics`` module checks ``NML_DISABLE_USER_ANALYTICS``. On Kubernetes
  (Binder) the event also probes the cloud metadata address 169.254.169.254.
  Both variables are set, and :func:`import_nannyml` also turns Segment's ``send`` off
  and drops events in nannyml's default usage logger.
- MLflow (benchmarks only) honours ``MLFLOW_DISABLE_TELEMETRY`` and ``DO_NOT_TRACK``;
  ``DO_NOT_TRACK`` is the cross-tool convention (huggingface_hub, used by skops' hub
  helpers, honours it too).
- onnxruntime (since 1.29 on Linux and macOS, through Microsoft's 1DS SDK) writes a
  device identifier under ``~/.cache/Microsoft/DeveloperTools`` and, about 10 s after
  the first ``InferenceSession``, resolves ``mobile.events.data.microsoft.com`` and
  opens TLS to it from native code (Python's socket module never sees it).
  ``disable_telemetry_events()`` does not stop that upload; only
  ``ORT_DISABLE_TELEMETRY=1`` in the environment *before onnxruntime is imported*
  does (the decision is latched for the life of the process; onnxruntime's CI
  detection, ``GITHUB_ACTIONS`` and friends, also silences it, which hides the
  problem in CI). :data:`OPT_OUT_ENV` sets it, and :func:`import_onnxruntime` warns
  when onnxruntime was imported before mlops_nb could. ``disable_telemetry_events()``
  is still called for the Windows (ETW) events.
- codecarbon's ``OfflineEmissionsTracker`` needs no network unless a config file
  (``./.codecarbon.config``, ``~/.codecarbon.config``) or ``CODECARBON_*`` variable
  asks for API, Prometheus, Logfire or HTTP output or an Electricity Maps token;
  code that builds a tracker passes those settings explicitly.
- JupyterLab's server fetches news and checks PyPI for updates only when the user
  opts in from the UI, and its extension manager queries PyPI when enabled; our
  launchers pass ``--LabApp.news_url=None``,
  ``--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate`` and may pass
  ``--LabApp.extension_manager=readonly``.
- plotly, fairlearn, lightgbm, scikit-learn, interpret, skl2onnx, skops, papermill
  and nbconvert send nothing; their HTML output can point at CDNs, which the
  rendering code avoids by embedding its JavaScript.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import ModuleType

__all__ = ["OPT_OUT_ENV", "disable_telemetry", "import_nannyml", "import_onnxruntime"]

#: The opt-out variables :func:`disable_telemetry` sets when they are not set yet.
OPT_OUT_ENV: Mapping[str, str] = MappingProxyType(
    {
        "NML_DISABLE_USAGE_LOGGING": "1",
        "NML_DISABLE_USER_ANALYTICS": "1",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "ORT_DISABLE_TELEMETRY": "1",
    }
)

#: Set by the first :func:`disable_telemetry` call (at ``import mlops_nb``) when
#: onnxruntime was already imported without the opt-out; cleared once warned about.
_ORT_TELEMETRY_LATCHED_ON: list[bool] = []
_ORT_CHECKED: list[bool] = []

# One import at a time: the dotenv patch below is process-wide.
_IMPORT_LOCK = threading.RLock()


def disable_telemetry() -> None:
    """Switch off the telemetry of mlops_nb's dependencies, before they are imported.

    Sets each variable of :data:`OPT_OUT_ENV` in ``os.environ`` unless the user has
    already set it: an explicit setting, even ``DO_NOT_TRACK=0``, is never
    overwritten. Only the environment is touched, so this is cheap enough to run at
    ``import mlops_nb``. Calling it again does nothing more.

    If nannyml was imported before mlops_nb, its usage logger is silenced too.

    See Also
    --------
    import_nannyml : The way mlops_nb modules import nannyml.

    Examples
    --------
    >>> import os
    >>> from mlops_nb._offline import disable_telemetry
    >>> disable_telemetry()
    >>> "NML_DISABLE_USAGE_LOGGING" in os.environ
    True
    """
    if not _ORT_CHECKED:
        _ORT_CHECKED.append(True)
        if "onnxruntime" in sys.modules and "ORT_DISABLE_TELEMETRY" not in os.environ:
            # onnxruntime read its opt-out at import, and latched it: too late now
            _ORT_TELEMETRY_LATCHED_ON.append(True)
    for key, value in OPT_OUT_ENV.items():
        os.environ.setdefault(key, value)
    if "nannyml.usage_logging" in sys.modules:
        _silence_nannyml_usage_logger()


def import_nannyml() -> ModuleType:
    """Import nannyml without telemetry and without reading a ``.env`` file.

    nannyml calls ``dotenv.load_dotenv()`` when it is imported (in
    ``nannyml/__init__.py`` and ``nannyml/usage_logging.py``), which copies every
    variable of a ``.env`` file found from the working directory (in a notebook) or
    from nannyml's install directory upwards into ``os.environ``. This function:

    1. calls :func:`disable_telemetry`;
    2. imports nannyml with ``dotenv.load_dotenv`` replaced by a function that reads
       nothing, and afterwards removes any variable the import still took from such a
       ``.env`` file (other variables that libraries set at import, such as
       scikit-learn's ``KMP_*`` settings, are kept);
    3. turns off Segment analytics (``segment.analytics.send = False``) and makes
       nannyml's default usage logger drop its events, so no usage data leaves even
       if ``NML_DISABLE_USAGE_LOGGING`` is later removed.

    Every mlops_nb module gets nannyml through this function.

    Returns
    -------
    module
        The ``nannyml`` module.

    Raises
    ------
    mlops_nb.errors.MissingDependencyError
        If nannyml is not installed.

    See Also
    --------
    disable_telemetry : The environment opt-outs.

    Notes
    -----
    If nannyml was already imported by other code, it is returned as it is (a ``.env``
    it read then cannot be told apart from the user's own environment), with its usage
    logger silenced.
    """
    disable_telemetry()
    with _IMPORT_LOCK:
        if "nannyml" in sys.modules:
            module = importlib.import_module("nannyml")
        else:
            try:
                with _without_dotenv(_nannyml_dir()):
                    module = importlib.import_module("nannyml")
            except ModuleNotFoundError as err:
                if err.name != "nannyml":
                    raise
                from mlops_nb.errors import MissingDependencyError

                msg = (
                    "mlops_nb needs nannyml for drift monitoring, but it is not "
                    "installed. Install it with `pip install nannyml` (or reinstall "
                    "mlops_nb, which depends on it)."
                )
                raise MissingDependencyError(msg) from err
        _silence_nannyml_usage_logger()
    return module


def import_onnxruntime() -> ModuleType:
    """Import onnxruntime with its telemetry switched off.

    onnxruntime's Linux and macOS wheels upload usage events to Microsoft from native
    code unless ``ORT_DISABLE_TELEMETRY=1`` was in the environment when onnxruntime
    was imported; :func:`disable_telemetry` (run by ``import mlops_nb``) sets it.
    Official Windows builds emit ETW events instead, which
    ``onnxruntime.disable_telemetry_events()`` turns off.

    Returns
    -------
    module
        The ``onnxruntime`` module.

    Raises
    ------
    mlops_nb.errors.MissingDependencyError
        If onnxruntime is not installed.

    Warns
    -----
    UserWarning
        If onnxruntime was imported before mlops_nb without ``ORT_DISABLE_TELEMETRY``
        set: its telemetry is on for the rest of the process.
    """
    disable_telemetry()
    if _ORT_TELEMETRY_LATCHED_ON:
        _ORT_TELEMETRY_LATCHED_ON.clear()  # say it once
        warnings.warn(
            "onnxruntime was imported before mlops_nb, without ORT_DISABLE_TELEMETRY "
            "set, so it will send usage telemetry to Microsoft for the rest of this "
            "process. Import mlops_nb first, or set ORT_DISABLE_TELEMETRY=1 in the "
            "environment before starting Python (or the kernel).",
            UserWarning,
            stacklevel=2,
        )
    try:
        module = importlib.import_module("onnxruntime")
    except ModuleNotFoundError as err:
        if err.name != "onnxruntime":
            raise
        from mlops_nb.errors import MissingDependencyError

        msg = (
            "mlops_nb needs onnxruntime to run ONNX models, but it is not installed. "
            "Install it with `pip install onnxruntime`."
        )
        raise MissingDependencyError(msg) from err
    disable_events = getattr(module, "disable_telemetry_events", None)
    if callable(disable_events):
        disable_events()
    return module


def _silence_nannyml_usage_logger() -> None:
    """Stop Segment analytics and nannyml's default usage logger from sending."""
    segment: Any = sys.modules.get("segment.analytics")
    if segment is not None:
        segment.send = False
        client = getattr(segment, "default_client", None)
        if client is not None:
            client.send = False
    usage_logging = sys.modules.get("nannyml.usage_logging")
    logger = getattr(usage_logging, "DEFAULT_USAGE_LOGGER", None)
    if logger is not None and hasattr(logger, "_log"):
        # The log_usage decorators hold this instance; an instance attribute
        # shadows SegmentUsageTracker._log (which would send, and on Kubernetes
        # probe the cloud metadata address first).
        logger._log = _drop_usage_event


def _drop_usage_event(*args: Any, **kwargs: Any) -> None:
    """Replace nannyml's ``SegmentUsageTracker._log``: send nothing."""


def _nannyml_dir() -> Path | None:
    """Return nannyml's install directory without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("nannyml")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


@contextlib.contextmanager
def _without_dotenv(package_dir: Path | None) -> Iterator[None]:
    """Make ``dotenv.load_dotenv`` read nothing, and undo any ``.env`` leak.

    Parameters
    ----------
    package_dir : Path or None
        The directory of the package being imported; ``load_dotenv()`` called from
        a module file searches upwards from there, and from the working directory
        when called in a notebook or REPL.
    """
    before = dict(os.environ)
    try:
        import dotenv
        import dotenv.main
    except ImportError:  # nannyml will fail to import; let it say so
        yield
        return
    originals = (dotenv.load_dotenv, dotenv.main.load_dotenv)
    dotenv.load_dotenv = dotenv.main.load_dotenv = _load_nothing
    try:
        yield
    finally:
        dotenv.load_dotenv, dotenv.main.load_dotenv = originals
        _revert_dotenv_leak(before, [Path.cwd(), package_dir])


def _load_nothing(*args: Any, **kwargs: Any) -> bool:
    """Stand in for ``dotenv.load_dotenv`` while nannyml is imported."""
    return False


def _revert_dotenv_leak(before: dict[str, str], starts: list[Path | None]) -> None:
    """Restore variables changed since ``before`` to values found in a ``.env``.

    Only variables whose new value is what a ``.env`` file on dotenv's search path
    holds are restored; anything else a library set at import time stays.
    """
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    if not changed:
        return
    from_dotenv = _dotenv_items(starts)
    for key, value in changed.items():
        if (key, value) not in from_dotenv:
            continue
        if key in before:
            os.environ[key] = before[key]
        else:
            del os.environ[key]


def _dotenv_items(starts: list[Path | None]) -> set[tuple[str, str]]:
    """Return the (name, value) pairs of the first ``.env`` above each start."""
    try:
        from dotenv import dotenv_values
    except ImportError:
        return set()
    items: set[tuple[str, str]] = set()
    for start in starts:
        if start is None:
            continue
        for directory in (start, *start.parents):
            candidate = directory / ".env"
            if candidate.is_file():
                with contextlib.suppress(OSError, ValueError):
                    found = dotenv_values(candidate)
                    items.update((k, v) for k, v in found.items() if v is not None)
                break
    return items
