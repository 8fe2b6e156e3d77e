"""Fixtures for real-browser tests: a JupyterLab server and headless Debian Chromium.

Follows ``/work/shared/recipes/jupyter-testing.md`` section 1.

- ``jupyterlab`` (session): an isolated JupyterLab on a free loopback port with a
  random token. Config, data, runtime, settings, workspaces and IPython dirs live in
  a temporary "jupyter home", so nothing of the user's setup (trust database, saved
  layouts, startup files) leaks in; the news toast is switched off by settings.
  ``MLOPS_NB_DISPLAY`` is removed from the server (and so kernel) environment: the
  kernels start in the default display mode ``"widget"``.
- ``browser`` (session): ``/usr/bin/chromium`` driven by Playwright, with the flags
  that keep it from calling home (``MLOPS_NB_CHROMIUM`` names another binary). Never
  ``playwright install``. Without Chromium the tests are skipped, or fail when
  ``CI == "true"``.
- ``lab_page`` (function): a fresh 1280x900 context; it records console errors, page
  errors and any request to a non-loopback address (which is aborted). Afterwards
  every kernel session is deleted, so each test gets a fresh kernel.
- A failing test leaves ``FAILED-<test>.png``. Screenshots go to a temporary folder
  and are copied to ``$MLOPS_NB_SHOTS_DIR`` (default ``/tmp/mlops_nb_shots``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

CHROMIUM = Path(os.environ.get("MLOPS_NB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # required as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",  # loopback only; never route 127.0.0.1 through a proxy
]
SERVER_START_LIMIT = 60.0
SHOTS_COPY_DIR = Path(os.environ.get("MLOPS_NB_SHOTS_DIR", "/tmp/mlops_nb_shots"))

# urllib without any proxy from the environment: the server is on loopback
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- the server ------------------------------------------------------------------------
@dataclass
class JupyterLab:
    """A running JupyterLab server."""

    base: str
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        """``path`` (below ``/lab/tree/``) as a URL with ``?reset`` and the token."""
        return f"{self.base}/lab/tree/{path}?reset&token={self.token}"

    def api(self, method: str, path: str) -> Any:
        """Call the REST API; return the decoded JSON (or ``None``)."""
        req = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with _OPENER.open(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server log."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """Start an isolated JupyterLab; stop it at the end of the session."""
    home = tmp_path_factory.mktemp("jupyter-home")
    root = tmp_path_factory.mktemp("lab-root")
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True)
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"]
    # without this file a "get Jupyter news?" toast covers the lower-right corner
    _write_json(
        settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false"},
    )
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    env.update({k: str(v) for k, v in dirs.items()})
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    env.pop("PLOTLY_RENDERER", None)
    env["PYTHONUNBUFFERED"] = "1"

    port = _free_port()
    token = secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.port_retries=0",
    ]  # fmt: skip
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")
    log = home / "server.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, log, proc)
    try:
        _wait_until_ready(lab)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_until_ready(lab: JupyterLab) -> None:
    deadline = time.monotonic() + SERVER_START_LIMIT
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with code {lab.proc.returncode} before it was "
                f"ready. Server log:\n{lab.log_tail()}"
            )
        try:
            with _OPENER.open(
                f"{lab.base}/api/status?token={lab.token}", timeout=2
            ) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"JupyterLab did not answer /api/status within {SERVER_START_LIMIT:.0f} s. "
        f"Server log:\n{lab.log_tail()}"
    )


# -- the browser -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; skip without it (fail in CI, where it must be installed)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = (
        f"{CHROMIUM} is missing: install Debian's chromium "
        "(apt-get install -y chromium fonts-dejavu-core); never `playwright install`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need Chromium in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    """A headless Chromium driven by Playwright."""
    from playwright import sync_api  # a dev dependency: `make test` installs it

    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


# -- one page per test -----------------------------------------------------------------
@dataclass
class PageLog:
    """What the page reported: console errors, page errors, blocked requests."""

    console: list[str] = field(default_factory=list)  # every console message
    errors: list[str] = field(default_factory=list)  # console errors + page errors
    blocked: list[str] = field(default_factory=list)  # non-loopback requests


def is_loopback_url(url: str) -> bool:
    """Whether an http(s)/ws(s) URL points at this machine."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_remote(url: str) -> bool:
    return url.lower().startswith(("http:", "https:")) and not is_loopback_url(url)


@pytest.fixture
def shots(tmp_path: Path) -> Any:
    """``save(page_or_locator, name)``: a PNG in ``tmp_path``, copied for people."""

    def save(target: Any, name: str) -> Path:
        path = tmp_path / "screenshots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(path))
        _copy_shot(path)
        return path

    return save


def _copy_shot(path: Path) -> None:
    try:
        SHOTS_COPY_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, SHOTS_COPY_DIR / path.name)
    except OSError:
        pass


@pytest.fixture
def lab_page(
    browser: Any, jupyterlab: JupyterLab, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh browser page; kernel sessions are deleted when the test ends."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    log = PageLog()

    def on_remote(route: Any) -> None:
        log.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(_is_remote, on_remote)
    page = context.new_page()

    def on_console(msg: Any) -> None:
        text = f"console.{msg.type}: {msg.text}"
        loc = msg.location or {}
        if loc.get("url"):
            text += f" ({loc['url']}:{loc.get('lineNumber')})"
        log.console.append(text)
        if msg.type == "error":
            log.errors.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: log.errors.append(f"pageerror: {err}"))
    page.mnb_log = log  # the test reads page.mnb_log
    request.node.stash[_PAGE_KEY] = page
    try:
        yield page
    finally:
        request.node.stash[_PAGE_KEY] = None
        context.close()
        _delete_sessions(jupyterlab)


def _delete_sessions(lab: JupyterLab) -> None:
    try:
        sessions = lab.api("GET", "/api/sessions") or []
        for s in sessions:
            lab.api("DELETE", f"/api/sessions/{s['id']}")
        deadline = time.monotonic() + 10
        while lab.api("GET", "/api/kernels") and time.monotonic() < deadline:
            time.sleep(0.2)
    except (urllib.error.URLError, OSError) as err:
        print(f"could not delete kernel sessions: {err}", file=sys.stderr)


_PAGE_KEY = pytest.StashKey[Any]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Save ``FAILED-<test>.png`` while the failing test's page is still open."""
    report = yield
    if report.when == "call" and report.failed:
        page = item.stash.get(_PAGE_KEY, None)
        if page is not None:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
            path = Path(str(item.funcargs.get("tmp_path", "."))) / f"FAILED-{name}.png"
            try:
                page.screenshot(path=str(path))
                _copy_shot(path)
                report.sections.append(
                    ("screenshot", f"{path} (copy in {SHOTS_COPY_DIR})")
                )
                log = getattr(page, "mnb_log", None)
                if log is not None and log.console:
                    report.sections.append(
                        ("browser console", "\n".join(log.console[-60:]))
                    )
            except Exception as err:  # the page may be gone
                report.sections.append(("screenshot", f"not taken: {err}"))
    return report
