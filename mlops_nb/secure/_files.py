"""Reading a file Sec Ops trusts: a regular file, never through a final symlink."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def read_regular_file(
    path: Path,
    *,
    error: type[Exception],
    label: str,
    refusal: str = ".",
    check: Callable[[os.stat_result], None] | None = None,
    chunk: int = 1 << 20,
) -> bytes:
    """Return the bytes of ``path``, refusing links and anything but a regular file.

    The path is refused first when ``lstat`` shows anything but a regular file (a
    FIFO, socket or device is never opened: opening a FIFO would wait for a writer).
    It is then opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with
    ``fstat`` on the open descriptor, so it cannot be swapped between the check and
    the read, and a FIFO swapped in meanwhile cannot block. ``label`` starts each
    message (``"what: key file 'x'"``), ``refusal`` ends the one for a file that
    cannot be opened, and ``check`` may refuse the file from its stat.
    """
    try:
        before = os.lstat(path)
    except OSError as err:
        msg = f"{label} is not readable ({err.strerror}){refusal}"
        raise error(msg) from err
    if not stat.S_ISREG(before.st_mode):
        _refuse(before, label, error)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        kind = "a symbolic link" if path.is_symlink() else "not readable"
        msg = f"{label} is {kind} ({err.strerror}){refusal}"
        raise error(msg) from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            _refuse(st, label, error)
        if check is not None:
            check(st)
        chunks = []
        while data := os.read(fd, chunk):
            chunks.append(data)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _refuse(st: os.stat_result, label: str, error: type[Exception]) -> None:
    kind = _kind(st.st_mode)
    what = kind if kind == "not a regular file" else f"{kind}, not a regular file"
    msg = (
        f"{label} is {what}; refusing to read it. Replace it with the real file "
        "(restore it from a backup)."
    )
    raise error(msg)
