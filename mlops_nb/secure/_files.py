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

    The file is opened with ``O_NOFOLLOW`` and checked with ``fstat`` on the open
    descriptor, so it cannot be swapped between the check and the read. ``label``
    starts each message (``"what: key file 'x'"``), ``refusal`` ends the one for a
    file that cannot be opened, and ``check`` may refuse the file from its stat.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as err:
        kind = "a symbolic link" if path.is_symlink() else "not readable"
        msg = f"{label} is {kind} ({err.strerror}){refusal}"
        raise error(msg) from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            msg = f"{label} is not a regular file."
            raise error(msg)
        if check is not None:
            check(st)
        chunks = []
        while data := os.read(fd, chunk):
            chunks.append(data)
        return b"".join(chunks)
    finally:
        os.close(fd)
