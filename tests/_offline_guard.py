"""pytest plugin: any test that reaches past loopback fails.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["_offline_guard"]``.

- In the pytest process, the socket functions are wrapped (see
  ``_offline_site/_mnb_offline_patch.py``): connections and name lookups that leave
  the machine raise, and are recorded, from any thread.
- In subprocesses, ``_offline_site/sitecustomize.py`` applies the same wrapping: the
  plugin prepends that directory to ``PYTHONPATH`` and sets ``MLOPS_NB_OFFLINE_LOG`` to
  a JSON-lines file that subprocesses append their blocked attempts to.
- After each phase of each test (setup, call, teardown) the attempts recorded since
  the previous phase are collected; if there are any, that phase is reported as
  failed, listing host, port, process, thread and stack. Attempts after the last
  test fail the session.

Fixtures
--------
offline_guard
    The :class:`OfflineGuard`: ``.attempts`` (blocked attempts of the current test
    phase so far, in-process and subprocess) and ``.clear()`` (forget them, for tests
    that provoke attempts on purpose).
honest_env
    Deletes the CI markers and telemetry opt-outs (``CI``, ``DO_NOT_TRACK``,
    ``NML_DISABLE_USAGE_LOGGING``, ...) from ``os.environ`` for one test, so a test
    sees what a user's machine would do (SECURITY-TESTS T22/T23).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

SITE_DIR = Path(__file__).resolve().parent / "_offline_site"
if str(SITE_DIR) not in sys.path:
    sys.path.append(str(SITE_DIR))

import _mnb_offline_patch as offline_patch  # noqa: E402

ENV_LOG = offline_patch.ENV_LOG

#: Variables that make libraries keep quiet (opt-outs) or believe they run in CI.
MASKING_ENV = (
    "DO_NOT_TRACK",
    "NML_DISABLE_USAGE_LOGGING",
    "NML_DISABLE_USER_ANALYTICS",
    "MLFLOW_DISABLE_TELEMETRY",
    "ORT_DISABLE_TELEMETRY",
    "EVIDENTLY_DISABLE_TELEMETRY",
    "HF_HUB_DISABLE_TELEMETRY",
    "DISABLE_TELEMETRY",
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "CODEBUILD_BUILD_ID",
    "BITBUCKET_BUILD_NUMBER",
    "TEAMCITY_VERSION",
    # onnxruntime's own CI detection (its 1DS telemetry stays off when these are set)
    "APPVEYOR",
    "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
    "ORT_RUNNING_UNIT_TESTS",
)


class OfflineGuard:
    """Collects blocked network attempts of this process and its subprocesses.

    Parameters
    ----------
    log_path : Path
        The JSON-lines file subprocesses append their attempts to.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._memory: list[dict[str, Any]] = []
        self._from_log: list[dict[str, Any]] = []
        self._offset = 0
        self.session_leftovers: list[dict[str, Any]] = []

    def sink(self, record: dict[str, Any]) -> None:
        """Receive one blocked attempt (from any thread, or a forked child)."""
        if os.getpid() != self._pid:  # forked child: its memory is not ours
            offline_patch.append_json_line(self.log_path, record)
            return
        record = {**record, "source": "pytest process"}
        with self._lock:
            self._memory.append(record)

    def _read_log(self) -> None:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # only complete lines
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = {
                    "kind": "unreadable log line",
                    "line": line.decode(errors="replace"),
                }
            record.setdefault("source", "subprocess")
            self._from_log.append(record)
        self._offset += end

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """The blocked attempts recorded since the current test phase began."""
        with self._lock:
            self._read_log()
            return [*self._memory, *self._from_log]

    def clear(self) -> None:
        """Forget the attempts recorded so far (they will not fail the test)."""
        self.drain()

    def drain(self) -> list[dict[str, Any]]:
        """Return and forget the attempts recorded so far."""
        with self._lock:
            self._read_log()
            found = [*self._memory, *self._from_log]
            self._memory.clear()
            self._from_log.clear()
        return found


def format_attempts(attempts: list[dict[str, Any]], where: str) -> str:
    """Describe blocked attempts for a failure message."""
    lines = [
        f"offline guard: {len(attempts)} blocked network attempt(s) during {where}"
        " (only loopback is allowed; see tests/_offline_guard.py):"
    ]
    for a in attempts:
        target = f"{a.get('host')!r}" + (
            f" port {a.get('port')!r}" if a.get("port") is not None else ""
        )
        process = f"pid {a.get('pid')} ({a.get('source', '?')}"
        if a.get("source") == "subprocess" and a.get("argv"):
            process += ": " + " ".join(map(str, a["argv"]))[:120]
        process += ")"
        lines.append(
            f"  - {a.get('kind')} {target} [{process}, thread {a.get('thread')!r}]"
        )
        if a.get("error"):
            lines.append(f"      {a['error']}")
        lines.extend(f"      {frame}" for frame in (a.get("stack") or [])[-12:])
    return "\n".join(lines)


_GUARD: OfflineGuard | None = None
_STATE: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    global _GUARD
    if _GUARD is not None:
        return
    tmpdir = Path(tempfile.mkdtemp(prefix="mlops-nb-offline-"))
    log_path = tmpdir / "blocked.jsonl"
    log_path.touch()
    _STATE["tmpdir"] = tmpdir
    _STATE["env"] = {k: os.environ.get(k) for k in ("PYTHONPATH", ENV_LOG)}
    old_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = (
        str(SITE_DIR) + os.pathsep + old_path if old_path else str(SITE_DIR)
    )
    os.environ[ENV_LOG] = str(log_path)
    _GUARD = OfflineGuard(log_path)
    offline_patch.install(_GUARD.sink)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _GUARD
    if _GUARD is None:
        return
    offline_patch.remove_sink(_GUARD.sink)
    offline_patch.uninstall()
    for key, value in _STATE.pop("env", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(_STATE.pop("tmpdir", ""), ignore_errors=True)
    _GUARD = None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    report = yield
    if _GUARD is None:
        return report
    attempts = _GUARD.drain()
    if attempts:
        message = format_attempts(attempts, f"{item.nodeid} ({call.when})")
        if report.failed:
            report.sections.append(("offline guard", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
            if hasattr(report, "wasxfail"):
                del report.wasxfail
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _GUARD is None:
        return
    leftovers = _GUARD.drain()
    if leftovers:
        _GUARD.session_leftovers.extend(leftovers)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _GUARD is None or not _GUARD.session_leftovers:
        return
    terminalreporter.section("offline guard", sep="=", red=True)
    terminalreporter.write_line(
        format_attempts(_GUARD.session_leftovers, "the session, outside any test")
    )


@pytest.fixture
def offline_guard() -> OfflineGuard:
    """The session's offline guard: ``.attempts`` and ``.clear()``."""
    if _GUARD is None:
        pytest.skip("the offline guard plugin is not configured")
    return _GUARD


@pytest.fixture
def honest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove telemetry opt-outs and CI markers from the environment for one test.

    Whatever the test (or code it calls) sets among them is undone afterwards too.
    """
    for key in MASKING_ENV:
        unset_env(monkeypatch, key)


def unset_env(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Delete ``key`` from ``os.environ`` so that teardown restores its old state.

    ``monkeypatch.delenv`` forgets keys that were absent, so a value set later in the
    test would outlive it; setting first makes monkeypatch remember "absent".
    """
    monkeypatch.setenv(key, "")
    monkeypatch.delenv(key)
