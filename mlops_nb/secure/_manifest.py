"""Multi-file manifests: the SHA-256 of every file, and what changed since (T15).

A manifest maps relative paths (``"model.onnx"``, ``"prep"``) to SHA-256 digests.
:func:`scan_folder` reads a folder without following links; :func:`diff_manifest`
compares a recorded manifest with what is there now and names every difference by
its relative path: added, deleted, renamed, modified, swapped, symlink, special
(device, fifo, socket). Paths in a recorded manifest are only compared as strings,
never opened, so a hostile manifest cannot make us read outside the folder.

Ignore rules are explicit: a pattern list (``fnmatch`` on the relative POSIX path)
given by the caller, e.g. ``ignore=["manifest.json"]`` for the manifest file itself.
Nothing is ignored by default.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, ValidationError
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pandas as pd

    from mlops_nb.ui._blocks import Tone

CHANGES = ("added", "deleted", "renamed", "modified", "swapped", "symlink", "special")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Scan:
    """What a folder (or a model's blobs) holds now.

    Attributes
    ----------
    files : dict of str to str
        Relative path -> SHA-256 of each regular file.
    links : dict of str to str
        Relative path -> link target of each symbolic link (never followed).
    special : dict of str to str
        Relative path -> what it is, for devices, fifos, sockets and hard-linked
        files (whose bytes another path can change).
    """

    files: dict[str, str]
    links: dict[str, str] = field(default_factory=dict)
    special: dict[str, str] = field(default_factory=dict)


def hash_file(path: str | Path) -> str:
    """SHA-256 of a regular file, read without following a final symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    h = hashlib.sha256()
    fd = os.open(path, flags)
    try:
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def _ignored(path: str, ignore: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in ignore)


def scan_folder(folder: str | Path, *, ignore: Iterable[str] = ()) -> Scan:
    """Hash every regular file under ``folder``; list links and special files.

    Parameters
    ----------
    folder : str or Path
        The folder to scan. It must not itself be a symbolic link.
    ignore : iterable of str
        ``fnmatch`` patterns of relative POSIX paths to leave out.

    Raises
    ------
    ValidationError
        When ``folder`` is missing, not a folder, or a symbolic link.
    """
    root = Path(folder).expanduser().absolute()
    if root.is_symlink() or not root.is_dir():
        msg = (
            f"scan_folder({str(folder)!r}): not a folder (or a symbolic link to one); "
            "give the real folder."
        )
        raise ValidationError(msg)
    ignore = list(ignore)
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    special: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            full = base / name
            rel = full.relative_to(root).as_posix()
            if _ignored(rel, ignore):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                links[rel] = str(full.readlink())
                if name in dirnames:
                    dirnames.remove(name)
            elif stat.S_ISREG(mode):
                files[rel] = hash_file(full)
                if full.lstat().st_nlink > 1:
                    special[rel] = "a file with other hard links"
            elif not stat.S_ISDIR(mode):
                special[rel] = "a device, fifo or socket"
    return Scan(files, links, special)


def folder_manifest(
    folder: str | Path, *, ignore: Iterable[str] = ()
) -> dict[str, str]:
    """Return the manifest of a folder: relative path -> SHA-256 of every file.

    Raises
    ------
    IntegrityError
        When the folder holds a symbolic link or a special file (they are not
        allowed in a manifest, so their targets can never be swapped later).
    """
    scan = scan_folder(folder, ignore=ignore)
    odd = sorted(scan.links) + sorted(scan.special)
    if odd:
        msg = (
            f"folder_manifest({str(folder)!r}): {', '.join(map(repr, odd))} "
            "is a symbolic link or special file; manifests hold regular files only. "
            "Copy the real file in instead."
        )
        raise IntegrityError(msg)
    return dict(sorted(scan.files.items()))


@dataclass(frozen=True)
class Change:
    """One difference between a manifest and what is there now."""

    path: str
    change: str
    detail: str


@dataclass(frozen=True, repr=False)
class ManifestDiff(Displayable):
    """Every difference between a recorded manifest and the files now present.

    Attributes
    ----------
    subject : str
        What was compared (a folder, a model version).
    changes : tuple of Change
        One per difference, sorted by path; empty when everything matches.
    checked : int
        Number of paths in the recorded manifest.
    """

    subject: str
    changes: tuple[Change, ...]
    checked: int

    @property
    def ok(self) -> bool:
        """True when nothing was added, removed, changed or linked."""
        return not self.changes

    def by_path(self) -> dict[str, str]:
        """Relative path -> kind of change."""
        return {c.path: c.change for c in self.changes}

    def to_frame(self) -> pd.DataFrame:
        """One row per change: path, change, detail."""
        import pandas as pd

        return pd.DataFrame(
            [c.__dict__ for c in self.changes], columns=["path", "change", "detail"]
        )

    def message(self) -> str:
        """Return a sentence listing every change, for an error."""
        items = "; ".join(f"{c.path}: {c.change} ({c.detail})" for c in self.changes)
        return f"{self.subject} differs from its manifest: {items}"

    def raise_if_changed(self) -> None:
        """Raise :class:`IntegrityError` listing every change, if there is any."""
        if self.changes:
            raise IntegrityError(self.message())

    def _view(self) -> View:
        overview = KeyValues(
            [
                ("compared", self.subject),
                ("paths in manifest", self.checked),
                ("differences", len(self.changes)),
            ]
        )
        blocks: list[Any] = [overview]
        if self.changes:
            blocks.append(Table(self.to_frame(), max_rows=100))
        else:
            blocks.append(Text("Every file matches its recorded SHA-256.", "ok"))
        badge: tuple[str, Tone] = (
            ("matches", "ok") if self.ok else (f"{len(self.changes)} changes", "error")
        )
        listed = ", ".join(f"{c.path} {c.change}" for c in self.changes)
        summary = "matches its manifest" if self.ok else f"changed: {listed}"
        return View(
            "ManifestDiff", self.subject, summary, [badge], [Tab("Changes", blocks)]
        )


def diff_manifest(
    expected: Mapping[str, str],
    actual: str | Path | Mapping[str, str] | Scan,
    *,
    ignore: Iterable[str] = (),
    subject: str | None = None,
) -> ManifestDiff:
    """Compare a recorded manifest with the files present now.

    Parameters
    ----------
    expected : mapping of str to str
        The recorded manifest: relative path -> SHA-256.
    actual : folder path, mapping or Scan
        A folder to scan, or what is there already hashed.
    ignore : iterable of str
        ``fnmatch`` patterns of relative paths left out on both sides.
    subject : str, optional
        How to name what was compared in messages.

    Returns
    -------
    ManifestDiff
        ``ok`` when nothing differs; otherwise one :class:`Change` per path.

    Examples
    --------
    >>> recorded = {"a": "1" * 64, "b": "2" * 64}
    >>> diff_manifest(recorded, {"a": "2" * 64, "b": "1" * 64}).by_path()
    {'a': 'swapped', 'b': 'swapped'}
    """
    ignore = list(ignore)
    if isinstance(actual, (str, Path)):
        subject = subject or str(actual)
        actual = scan_folder(actual, ignore=ignore)
    elif not isinstance(actual, Scan):
        actual = Scan(dict(actual))
    exp = {p: d for p, d in expected.items() if not _ignored(p, ignore)}
    files = {p: d for p, d in actual.files.items() if not _ignored(p, ignore)}
    changes: list[Change] = []
    for path, target in actual.links.items():
        if not _ignored(path, ignore):
            was = "replaces a recorded file" if path in exp else "not in the manifest"
            changes.append(
                Change(path, "symlink", f"symbolic link to {target!r}; {was}")
            )
    for path, what in actual.special.items():
        if not _ignored(path, ignore):
            changes.append(Change(path, "special", what))
    linked = set(actual.links) | {p for p in actual.special if p not in files}
    deleted = sorted(p for p in exp if p not in files and p not in linked)
    added = sorted(p for p in files if p not in exp)
    for old in list(deleted):  # a deleted path whose bytes reappear elsewhere: renamed
        new = next((a for a in added if files[a] == exp[old]), None)
        if new is not None:
            changes.append(Change(new, "renamed", f"was {old!r}, same bytes"))
            deleted.remove(old)
            added.remove(new)
    changes += [Change(p, "deleted", "in the manifest, missing now") for p in deleted]
    changes += [
        Change(p, "added", f"not in the manifest (sha256 {files[p][:12]}…)")
        for p in added
    ]
    modified = sorted(p for p in exp if p in files and files[p] != exp[p])
    swapped: set[str] = set()
    for a in modified:
        for b in modified:
            if a < b and files[a] == exp[b] and files[b] == exp[a]:
                swapped |= {a, b}
                changes.append(
                    Change(a, "swapped", f"holds the recorded bytes of {b!r}")
                )
                changes.append(
                    Change(b, "swapped", f"holds the recorded bytes of {a!r}")
                )
    by_digest = {d: p for p, d in exp.items()}
    for p in modified:
        if p in swapped:
            continue
        other = by_digest.get(files[p])
        detail = f"sha256 {files[p][:12]}…, recorded {exp[p][:12]}…"
        if other is not None:
            detail += f"; now holds the recorded bytes of {other!r}"
        changes.append(Change(p, "modified", detail))
    changes.sort(key=lambda c: (c.path, c.change))
    return ManifestDiff(subject or "files", tuple(changes), len(exp))
