"""Block and record every non-loopback network attempt of this Python process.

Shared by the pytest plugin ``tests/_offline_guard.py`` (in the pytest process) and by
``sitecustomize.py`` next to this file (in every Python subprocess the suite starts,
because the plugin puts this directory on ``PYTHONPATH``).

What is wrapped: ``socket.socket.connect``, ``connect_ex``, ``sendto`` and ``sendmsg``
(IPv4/IPv6 sockets only; AF_UNIX and other local families pass), and the resolver
functions ``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``,
``getnameinfo`` and ``create_connection``. Allowed targets: 127.0.0.0/8, ::1 (also as
``::ffff:127.x.y.z``), the unspecified address (which Linux connects to the local
host), ``localhost`` and names under ``.localhost``. A blocked call raises
:class:`BlockedNetworkError` (an ``OSError``) or :class:`BlockedLookupError` (a
``socket.gaierror``); ``connect_ex`` returns ``ENETUNREACH`` as it would for a real
failure. Every blocked attempt is handed to the registered sinks as a JSON-able dict.

Limits: sockets opened by C code that bypasses Python's ``socket`` module (libzmq,
gRPC core, libcurl) are not seen; ZMQ kernels talk over loopback anyway. Processes
started with ``python -I`` or ``-E`` ignore ``PYTHONPATH`` and are not guarded.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

ENV_LOG = "MLOPS_NB_OFFLINE_LOG"

_LOOPBACK_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
_IP_FAMILIES = frozenset(
    f
    for f in (getattr(socket, "AF_INET", None), getattr(socket, "AF_INET6", None))
    if f
)
_THIS_FILE = Path(__file__).resolve()

Sink = Callable[[dict[str, Any]], None]

_sinks: list[Sink] = []
_originals: dict[tuple[Any, str], Any] = {}
_state_lock = threading.Lock()
_local = threading.local()


class BlockedNetworkError(OSError):
    """A connection to a non-loopback address, refused by the offline guard."""


class BlockedLookupError(socket.gaierror):
    """A name lookup of a non-loopback host, refused by the offline guard."""


# -- deciding --------------------------------------------------------------------


def is_loopback_host(host: Any) -> bool:
    """Return whether ``host`` (a name or address literal) stays on this machine."""
    if host is None:
        return True  # passive lookup (bind)
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in {"", "<broadcast>"}:
        return name == ""  # "" is INADDR_ANY; "<broadcast>" leaves the host
    name = name.rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False  # any other name needs a resolver
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _address_host_port(address: Any) -> tuple[Any, Any]:
    if isinstance(address, tuple) and address:
        return address[0], address[1] if len(address) > 1 else None
    return address, None


def _family_name(family: Any) -> str:
    try:
        return socket.AddressFamily(family).name
    except (ValueError, TypeError):
        return str(family)


# -- recording -------------------------------------------------------------------


def _stack_summary(limit: int = 25) -> list[str]:
    frames = [
        frame
        for frame in traceback.extract_stack()
        if Path(frame.filename).resolve() != _THIS_FILE
    ]
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-limit:]]


def _record(kind: str, host: Any, port: Any, family: Any = None) -> None:
    if getattr(_local, "recording", False):
        return
    _local.recording = True
    try:
        record = {
            "kind": kind,
            "host": host
            if isinstance(host, (str, int, float, type(None)))
            else repr(host),
            "port": port if isinstance(port, (str, int, type(None))) else repr(port),
            "family": None if family is None else _family_name(family),
            "pid": os.getpid(),
            "argv": [str(a) for a in getattr(sys, "argv", [])[:4]],
            "thread": threading.current_thread().name,
            "time": time.time(),
            "stack": _stack_summary(),
        }
        for sink in list(_sinks):
            with contextlib.suppress(Exception):  # a sink must never break the caller
                sink(record)
    finally:
        _local.recording = False


def append_json_line(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (one ``write``, O_APPEND)."""
    data = (json.dumps(record, default=repr) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def file_sink(path: str | os.PathLike[str]) -> Sink:
    """Return a sink that appends each record to the JSON-lines file ``path``."""

    def sink(record: dict[str, Any]) -> None:
        append_json_line(path, record)

    return sink


# -- wrappers --------------------------------------------------------------------


def _block_connection(kind: str, host: Any, port: Any, family: Any) -> NoReturn:
    _record(kind, host, port, family)
    message = (
        f"mlops_nb offline guard: {kind} to {host!r} port {port!r} is not allowed "
        "(only loopback)"
    )
    raise BlockedNetworkError(errno.ENETUNREACH, message)


def _block_lookup(kind: str, host: Any, port: Any = None) -> NoReturn:
    _record(kind, host, port)
    message = (
        f"mlops_nb offline guard: {kind} of {host!r} is not allowed (only loopback)"
    )
    raise BlockedLookupError(socket.EAI_NONAME, message)


def _is_ip_socket(sock: socket.socket) -> bool:
    try:
        return sock.family in _IP_FAMILIES
    except OSError:
        return False


def _make_wrappers(orig: dict[str, Any]) -> dict[tuple[Any, str], Any]:
    def connect(self: socket.socket, address: Any) -> None:
        if _is_ip_socket(self):
            host, port = _address_host_port(address)
            if not is_loopback_host(host):
                _block_connection("connect", host, port, self.family)
        return orig["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if _is_ip_socket(self):
            host, port = _address_host_port(address)
            if not is_loopback_host(host):
                with contextlib.suppress(BlockedNetworkError):
                    _block_connection("connect_ex", host, port, self.family)
                return errno.ENETUNREACH
        return orig["connect_ex"](self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if _is_ip_socket(self) and args:
            host, port = _address_host_port(args[-1])
            if not is_loopback_host(host):
                _block_connection("sendto", host, port, self.family)
        return orig["sendto"](self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        if _is_ip_socket(self) and len(args) >= 3 and args[2] is not None:
            host, port = _address_host_port(args[2])
            if not is_loopback_host(host):
                _block_connection("sendmsg", host, port, self.family)
        return orig["sendmsg"](self, buffers, *args)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback_host(host):
            _block_lookup("getaddrinfo", host, port)
        return orig["getaddrinfo"](host, port, *args, **kwargs)

    def gethostbyname(host: Any) -> str:
        if not is_loopback_host(host):
            _block_lookup("gethostbyname", host)
        return orig["gethostbyname"](host)

    def gethostbyname_ex(host: Any) -> Any:
        if not is_loopback_host(host):
            _block_lookup("gethostbyname_ex", host)
        return orig["gethostbyname_ex"](host)

    def gethostbyaddr(host: Any) -> Any:
        if not is_loopback_host(host):
            _block_lookup("gethostbyaddr", host)
        return orig["gethostbyaddr"](host)

    def getnameinfo(sockaddr: Any, flags: int) -> Any:
        host, port = _address_host_port(sockaddr)
        if not is_loopback_host(host):
            _block_lookup("getnameinfo", host, port)
        return orig["getnameinfo"](sockaddr, flags)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host, port = _address_host_port(address)
        if not is_loopback_host(host):
            _block_connection("create_connection", host, port, None)
        return orig["create_connection"](address, *args, **kwargs)

    sock_cls = socket.socket
    return {
        (sock_cls, "connect"): connect,
        (sock_cls, "connect_ex"): connect_ex,
        (sock_cls, "sendto"): sendto,
        (sock_cls, "sendmsg"): sendmsg,
        (socket, "getaddrinfo"): getaddrinfo,
        (socket, "gethostbyname"): gethostbyname,
        (socket, "gethostbyname_ex"): gethostbyname_ex,
        (socket, "gethostbyaddr"): gethostbyaddr,
        (socket, "getnameinfo"): getnameinfo,
        (socket, "create_connection"): create_connection,
    }


# -- installing ------------------------------------------------------------------


def is_installed() -> bool:
    """Return whether the socket functions are currently wrapped."""
    return bool(_originals)


def install(sink: Sink | None = None) -> None:
    """Wrap the socket functions (once) and add ``sink`` to the record sinks."""
    with _state_lock:
        if sink is not None and sink not in _sinks:
            _sinks.append(sink)
        if _originals:
            return
        targets = [
            (socket.socket, "connect"),
            (socket.socket, "connect_ex"),
            (socket.socket, "sendto"),
            (socket.socket, "sendmsg"),
            (socket, "getaddrinfo"),
            (socket, "gethostbyname"),
            (socket, "gethostbyname_ex"),
            (socket, "gethostbyaddr"),
            (socket, "getnameinfo"),
            (socket, "create_connection"),
        ]
        present = [(owner, name) for owner, name in targets if hasattr(owner, name)]
        orig = {name: getattr(owner, name) for owner, name in present}
        wrappers = _make_wrappers(orig)
        for owner, name in present:
            _originals[(owner, name)] = owner.__dict__.get(name, _MISSING)
            setattr(owner, name, wrappers[(owner, name)])


def remove_sink(sink: Sink) -> None:
    """Stop handing records to ``sink``."""
    with _state_lock:
        if sink in _sinks:
            _sinks.remove(sink)


def uninstall() -> None:
    """Put the original socket functions back and drop all sinks."""
    with _state_lock:
        for (owner, name), original in _originals.items():
            if original is _MISSING:
                delattr(owner, name)  # inherited from _socket.socket
            else:
                setattr(owner, name, original)
        _originals.clear()
        _sinks.clear()


def install_from_env() -> bool:
    """Install with a file sink if ``MLOPS_NB_OFFLINE_LOG`` names a file."""
    path = os.environ.get(ENV_LOG)
    if not path:
        return False
    install(file_sink(path))
    return True


_MISSING = object()
