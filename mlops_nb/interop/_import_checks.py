"""Checks an MLflow model folder passes before any of its files is parsed.

An imported folder is untrusted input, whoever wrote it:

- :func:`folder_hashes` walks the folder without following links: a symlink whose
  target resolves outside the folder, a device or a FIFO is refused (never read), and
  every file is hashed in 1 MiB chunks, so a huge file costs time, not memory;
- :func:`hashed_folder` keeps those hashes while the import runs, and every file the
  import then reads goes through :func:`read_hashed`: opened without following a
  link and without blocking, refused unless still a regular file, and its bytes must
  hash as they did when the folder was hashed (the folder is read in place, so a
  file swapped in between would otherwise be used under the recorded hash);
- :func:`read_mlmodel` reads ``MLmodel`` (at most :data:`MAX_MLMODEL_BYTES`) with a
  YAML safe loader that also refuses aliases (a "billion laughs" document expands
  when its metadata is written back as JSON), and checks its shape;
- :func:`check_lightgbm_skops` reads a skops file's ``schema.json`` before skops does
  and lets LightGBM objects in only as plain objects: a ``Booster`` rebuilt through a
  constructor call would open any ``model_file`` path, and the model text a Booster
  carries is read by :func:`mlops_nb.model._lgb_text.check_model_text` before
  LightGBM's C++ parser (which crashes on malformed text) sees it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    IntegrityError,
    UnsafeFormatError,
    UnsupportedFormatError,
    listing,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The largest MLmodel file read (mlops_nb's own, with its metadata, is a few KiB).
MAX_MLMODEL_BYTES = 4 * 1024 * 1024
#: The most files an imported folder may hold.
MAX_FILES = 10_000
#: The largest ``schema.json`` inside a skops file read for the LightGBM check.
MAX_SCHEMA_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
#: The folder being imported (resolved) and its files' SHA-256, while it is read.
_HASHED: contextvars.ContextVar[tuple[Path, dict[str, str]] | None] = (
    contextvars.ContextVar("mlops_nb_import_hashes", default=None)
)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def folder_hashes(folder: Path, uri: str) -> dict[str, str]:
    """Return ``{relative path: sha256}`` of every file; refuse links out, odd files.

    Raises
    ------
    UnsafeFormatError
        For a symlink resolving outside the folder (or dangling), a device, FIFO
        or socket, or more than :data:`MAX_FILES` files; nothing is read then.
    """
    root = folder.resolve()
    found: list[Path] = []
    problems: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = path.resolve()
                if not target.exists() or not _inside(target, root):
                    problems.append(
                        {"file": rel, "problem": f"symlink to {str(path.readlink())!r}"}
                    )
                    continue
                mode = target.stat().st_mode
            if name in filenames:
                if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                    problems.append({"file": rel, "problem": "not a regular file"})
                elif stat.S_ISREG(mode):
                    found.append(path)
        if len(found) > MAX_FILES:
            msg = (
                f"from_mlflow({uri!r}): the folder holds more than {MAX_FILES:,} "
                "files; an MLflow model holds a few. Nothing imported."
            )
            raise UnsafeFormatError(msg)
    if problems:
        lines = "; ".join(f"{p['file']}: {p['problem']}" for p in problems[:10])
        msg = (
            f"from_mlflow({uri!r}): the folder reaches outside itself ({lines}); "
            "an MLflow model folder holds only its own regular files. Copy the real "
            "files in (nothing was read or imported)."
        )
        raise UnsafeFormatError(msg, problems)
    out = {}
    for path in sorted(found):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        out[path.relative_to(root).as_posix()] = digest.hexdigest()
    return out


@contextlib.contextmanager
def hashed_folder(folder: Path, uri: str) -> Iterator[dict[str, str]]:
    """Hash the folder (:func:`folder_hashes`); reads inside it are checked against it.

    Yields
    ------
    dict
        ``{relative path: sha256}`` of every file.
    """
    files = folder_hashes(folder, uri)
    token = _HASHED.set((folder.resolve(), files))
    try:
        yield files
    finally:
        _HASHED.reset(token)


def read_hashed(path: Path, uri: str, limit: int | None = None) -> bytes:
    """Read a file of the folder being imported, as it was when hashed.

    ``path`` is resolved (inside the folder). It is opened without following a link
    and without blocking; at most ``limit + 1`` bytes are read when ``limit`` is set.

    Raises
    ------
    UnsafeFormatError
        When the file is no longer a regular file (a FIFO, device or link put there
        after the folder was hashed).
    IntegrityError
        When its bytes do not hash as they did when the folder was hashed, or it was
        not there then.
    """
    hashed = _HASHED.get()
    if hashed is None or not path.is_relative_to(hashed[0]):
        msg = (
            f"from_mlflow({uri!r}): {path.name} is not in the folder being imported; "
            "nothing imported."
        )
        raise UnsafeFormatError(msg, [{"file": path.name, "problem": "outside"}])
    rel = path.relative_to(hashed[0]).as_posix()
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        msg = (
            f"from_mlflow({uri!r}): {rel} could not be opened as a plain file "
            f"({err.strerror}); nothing imported."
        )
        problem = [{"file": rel, "problem": "not a plain file"}]
        raise UnsafeFormatError(msg, problem) from err
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            msg = (
                f"from_mlflow({uri!r}): {rel} is no longer a regular file (it changed "
                "after the folder was checked); nothing was read or imported."
            )
            raise UnsafeFormatError(msg, [{"file": rel, "problem": "not regular"}])
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        return data  # the caller refuses it
    want = hashed[1].get(rel)
    got = hashlib.sha256(data).hexdigest()
    if want != got:
        was = f"SHA-256 {want[:12]}…" if want else "not there"
        msg = (
            f"from_mlflow({uri!r}): {rel} changed while it was being imported ({was} "
            f"when the folder was hashed, {got[:12]}… when read); nothing imported. "
            "Import again once nothing is writing to the folder."
        )
        raise IntegrityError(msg)
    return data


def checked_copy(dest: Path, uri: str) -> Path:
    """Copy the folder being imported into ``dest`` from bytes checked by their hashes.

    For a loader that reads files itself (MLflow's, for a trusted pickle): it then
    reads these copies, written by this process from the checked bytes, never the
    folder a writer may still change. Returns ``dest``.
    """
    hashed = _HASHED.get()
    if hashed is None:  # pragma: no cover - only called inside hashed_folder
        msg = f"from_mlflow({uri!r}): no folder is being imported."
        raise UnsafeFormatError(msg)
    root, files = hashed
    for rel in files:
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(read_hashed((root / rel).resolve(), uri))
    return dest


def _no_alias_loader() -> type:
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                msg = f"alias *{event.anchor} at {event.start_mark}"
                raise yaml.YAMLError(msg)
            return super().compose_node(parent, index)

    return NoAliasLoader


def read_mlmodel(folder: Path, uri: str) -> Any:
    """Return the folder's ``MLmodel`` as an ``mlflow.models.Model``, checked.

    Raises
    ------
    UnsupportedFormatError
        When the file is missing, larger than :data:`MAX_MLMODEL_BYTES`, not YAML
        plain data (python tags, aliases), or not shaped like an MLmodel.
    """
    import yaml
    from mlflow.models import Model as MlflowModel

    path = folder / "MLmodel"
    if path.is_symlink() or not path.is_file():
        msg = f"from_mlflow({uri!r}): no MLmodel file there; is it an MLflow model?"
        raise UnsupportedFormatError(msg)
    raw = read_hashed(path.resolve(), uri, limit=MAX_MLMODEL_BYTES)
    if len(raw) > MAX_MLMODEL_BYTES:
        msg = (
            f"from_mlflow({uri!r}): MLmodel is larger than "
            f"{MAX_MLMODEL_BYTES // 1024 // 1024} MiB; an MLmodel file is a few KiB. "
            "Nothing imported."
        )
        raise UnsupportedFormatError(msg)
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_no_alias_loader())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        msg = (
            f"from_mlflow({uri!r}): MLmodel is not plain YAML data ({err}); "
            "mlops_nb reads no YAML tags or aliases. Nothing imported."
        )
        raise UnsupportedFormatError(msg) from err
    flavors = doc.get("flavors") if isinstance(doc, dict) else None
    bad = (
        ["flavors"]
        if not isinstance(flavors, dict)
        else [k for k, v in flavors.items() if not isinstance(v, dict)]
    )
    if bad:
        msg = (
            f"from_mlflow({uri!r}): MLmodel is not shaped like an MLflow model "
            f"({listing([str(b) for b in bad])} must be a mapping). Nothing imported."
        )
        raise UnsupportedFormatError(msg)
    try:
        return MlflowModel.from_dict(doc)
    except Exception as err:
        msg = f"from_mlflow({uri!r}): MLflow cannot read this MLmodel: {err}"
        raise UnsupportedFormatError(msg) from err


def _nodes(node: Any) -> Any:
    """Yield every skops schema node (dicts carrying ``__loader__``)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_lightgbm_skops(data: bytes, *, artifact: str) -> None:
    """Refuse a skops file whose LightGBM objects could read files or crash.

    Raises
    ------
    UnsafeFormatError
        When a ``lightgbm.*`` object is rebuilt other than as a plain object, or a
        Booster's model text is not well formed (checked before LightGBM parses
        it); the message names the artifact and the problem.
    """
    from mlops_nb.model._lgb_text import check_model_text

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            info = z.getinfo("schema.json")
            if info.file_size > MAX_SCHEMA_BYTES:
                msg = f"artifact {artifact}: its skops schema is too large."
                raise UnsafeFormatError(msg)
            with z.open(info) as f:
                raw = f.read(MAX_SCHEMA_BYTES + 1)
        if len(raw) > MAX_SCHEMA_BYTES:
            msg = f"artifact {artifact}: its skops schema is too large."
            raise UnsafeFormatError(msg)
        schema = json.loads(raw)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RecursionError) as err:
        msg = f"artifact {artifact} is not a readable skops file: {err}"
        raise UnsafeFormatError(msg) from err
    for node in _nodes(schema):
        module = str(node.get("__module__", ""))
        if module != "lightgbm" and not module.startswith("lightgbm."):
            continue
        kind = f"{module}.{node.get('__class__')}"
        if node.get("__loader__") != "ObjectNode":
            msg = (
                f"artifact {artifact}: {kind} is rebuilt by {node.get('__loader__')} "
                "(a constructor call, which can open files by path); skops writes "
                "LightGBM objects as plain objects. Refused before loading."
            )
            raise UnsafeFormatError(msg, [{"artifact": artifact, "type": kind}])
        if kind != "lightgbm.basic.Booster" or node.get("content") is None:
            continue
        state = node["content"]
        plain_dict = isinstance(state, dict) and state.get("__loader__") == "DictNode"
        entries = state.get("content") if plain_dict else None
        if not isinstance(entries, dict):
            msg = f"artifact {artifact}: the Booster's state is not a plain dict."
            raise UnsafeFormatError(msg, [{"artifact": artifact, "type": kind}])
        for key in ("_handle", "handle"):
            if key not in entries:
                continue
            text = entries[key]
            try:
                plain = text.get("__loader__") == "JsonNode"
                value = json.loads(text["content"]) if plain else ...
            except (AttributeError, KeyError, TypeError, ValueError):
                value = ...
            if value is None:
                continue  # LightGBM starts no parser without a model string
            if not isinstance(value, str):
                msg = (
                    f"artifact {artifact}: the Booster's model text ({key}) is not "
                    "stored as plain text. Refused before loading."
                )
                raise UnsafeFormatError(msg, [{"artifact": artifact, "type": kind}])
            check_model_text(value.encode("utf-8"), artifact=f"{artifact} (Booster)")


def _owners(obj: Any) -> Any:
    """Yield ``(object, owner)`` for every object reachable from a fitted estimator."""
    import numpy as np

    seen: set[int] = set()
    stack: list[tuple[Any, Any]] = [(obj, None)]
    while stack:
        item, owner = stack.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, type)):
            continue
        seen.add(id(item))
        yield item, owner
        if isinstance(item, dict):
            stack.extend((v, owner) for v in item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend((v, owner) for v in item)
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend((v, owner) for v in item.ravel())
        elif hasattr(item, "__dict__"):
            stack.extend((v, item) for v in vars(item).values())


def _tree_problem(left: Any, right: Any, feature: Any, leaf: Any, n_feat: int) -> str:
    """Why these node arrays would make scikit-learn read out of bounds, or ""."""
    import numpy as np

    n = len(left)
    idx = np.arange(n)
    if n == 0:
        return "no nodes"
    inner = ~leaf
    if not ((left[inner] > idx[inner]) & (right[inner] > idx[inner])).all():
        return "a child index that is not after its parent"
    if not ((left[inner] < n) & (right[inner] < n)).all():
        return f"a child index past the {n} nodes"
    children = np.concatenate([left[inner], right[inner]]).astype(np.int64)
    if n > 1 and not (np.bincount(children, minlength=n)[1:] == 1).all():
        return "a node with no parent or two parents"
    if n == 1 and len(children):
        return "a single node with children"
    feats = feature[inner]
    if len(feats) and not ((feats >= 0) & (feats < n_feat)).all():
        return f"a split on a feature past the model's {n_feat} inputs"
    return ""


def check_trees(obj: Any, *, artifact: str) -> None:
    """Refuse scikit-learn trees whose node arrays point out of bounds.

    scikit-learn's tree code indexes children and features without bounds checks
    (skops trusts ``sklearn.tree._tree.Tree`` only by name), so a crafted file would
    read memory or loop when it predicts. Checked: children after their parent and
    inside the tree, one parent per node, split features below the input count;
    for histogram gradient boosting also the categorical bitset indices.

    Raises
    ------
    UnsafeFormatError
        Naming the artifact, the tree and the problem.
    """
    import numpy as np
    from sklearn.tree._tree import Tree

    for item, owner in _owners(obj):
        n_in = getattr(owner, "n_features_in_", None)
        if isinstance(item, Tree):
            n_feat = min(int(item.n_features), int(n_in or item.n_features))
            left = np.asarray(item.children_left)
            problem = _tree_problem(
                left,
                np.asarray(item.children_right),
                np.asarray(item.feature),
                (left == -1) & (np.asarray(item.children_right) == -1),
                n_feat,
            )
            if not problem and not ((left == -1) == (item.children_right == -1)).all():
                problem = "a node with one child"
        elif type(item).__name__ == "TreePredictor" and hasattr(item, "nodes"):
            nodes = item.nodes
            leaf = nodes["is_leaf"].astype(bool)
            problem = _tree_problem(
                nodes["left"],
                nodes["right"],
                nodes["feature_idx"],
                leaf,
                int(n_in or 0) or int(nodes["feature_idx"].max(initial=0)) + 1,
            )
            cat = nodes["is_categorical"].astype(bool) & ~leaf
            bitsets = getattr(item, "raw_left_cat_bitsets", np.empty((0,)))
            if (
                not problem
                and cat.any()
                and (nodes["bitset_idx"][cat] >= len(bitsets)).any()
            ):
                problem = "a categorical split past its bitsets"
        else:
            continue
        if problem:
            msg = (
                f"artifact {artifact}: a tree of {type(owner).__name__} holds "
                f"{problem}; scikit-learn would read out of bounds predicting with "
                "it. The file was crafted or damaged; nothing imported."
            )
            raise UnsafeFormatError(msg, [{"artifact": artifact, "problem": problem}])
