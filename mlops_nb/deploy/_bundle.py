"""Edge bundles: a folder (and a zip) that runs with numpy and onnxruntime alone.

A bundle holds ``model.onnx``, ``schema.json`` (inputs, categories, classes),
``predict.py`` (a standalone script: no mlops_nb, no pandas), ``README.md`` and
``manifest.json`` with the SHA-256 of every other file and a checksum of itself.
``predict.py`` verifies the manifest before it loads anything; one changed byte in any
file makes it refuse. The manifest's own SHA-256 is recorded in the project's audit
log, so a copy on a device can be checked against the project.

Bundle paths are user paths: the folder must be new or empty (``overwrite=True``
replaces only a previous bundle's own files), it must not be a link, and nothing is
written outside it except ``<folder>.zip`` beside it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy import _standalone
from mlops_nb.deploy._runtime import LEVELS, check_onnx
from mlops_nb.errors import ValidationError
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb.model import Model

FILES = ("model.onnx", "schema.json", "predict.py", "README.md")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def write_file(path: Path, data: bytes, *, overwrite: bool, what: str) -> Path:
    """Write bytes to a user path: no links, no folders replaced; temp file, rename."""
    path = Path(path).expanduser().absolute()
    if path.is_symlink():
        msg = f"{what}: {path} is a symbolic link; refusing to write through it."
        raise ValidationError(msg)
    if path.exists() and (path.is_dir() or not overwrite):
        msg = f"{what}: {path} exists; choose another path or pass overwrite=True."
        raise ValidationError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _prepare_folder(
    path: Any, *, overwrite: bool, project_dir: Path | None
) -> tuple[Path, Path]:
    what = f"bundle(path={str(path)!r})"
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        msg = f"{what}: give a folder path, e.g. 'edge/employment'."
        raise ValidationError(msg)
    folder = Path(path).expanduser().absolute()
    if folder.name in ("", ".", ".."):
        msg = f"{what}: the path must end in a folder name, e.g. 'edge/employment'."
        raise ValidationError(msg)
    zip_path = folder.with_name(folder.name + ".zip")
    for p in (folder, zip_path):
        if p.is_symlink():
            msg = f"{what}: {p} is a symbolic link; refusing to write through it."
            raise ValidationError(msg)
    if project_dir is not None and (
        folder.resolve() == project_dir.resolve()
        or project_dir.resolve() in folder.resolve().parents
    ):
        msg = (
            f"{what}: {folder} is inside the project folder {project_dir}; "
            "write bundles elsewhere (e.g. 'edge/<name>')."
        )
        raise ValidationError(msg)
    if folder.exists() and not folder.is_dir():
        msg = f"{what}: {folder} is a file; choose a folder path."
        raise ValidationError(msg)
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            msg = (
                f"{what}: {folder} is not empty; choose a new folder or pass "
                "overwrite=True "
                "to replace a previous bundle there."
            )
            raise ValidationError(msg)
        _clear_previous_bundle(folder, what)
    if zip_path.exists() and not overwrite:
        msg = f"{what}: {zip_path} already exists; pass overwrite=True to replace it."
        raise ValidationError(msg)
    if zip_path.exists() and zip_path.is_dir():
        msg = f"{what}: {zip_path} is a folder; move it away first."
        raise ValidationError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, zip_path


def _clear_previous_bundle(folder: Path, what: str) -> None:
    entries = {p.name for p in folder.iterdir()}
    ours = {*FILES, _standalone.MANIFEST}
    manifest = folder / _standalone.MANIFEST
    is_bundle = False
    if manifest.is_file() and not manifest.is_symlink():
        try:
            is_bundle = (
                json.loads(manifest.read_text("utf-8")).get("format")
                == _standalone.FORMAT
            )
        except (ValueError, OSError, AttributeError):
            is_bundle = False
    if not is_bundle or not entries <= ours:
        msg = (
            f"{what}: overwrite=True replaces only a previous mlops_nb bundle, but "
            f"{folder} holds "
            f"other files ({', '.join(sorted(entries - ours)) or 'no manifest.json'}); "
            "choose a new folder."
        )
        raise ValidationError(msg)
    for name in entries:
        p = folder / name
        if p.is_dir() and not p.is_symlink():
            msg = f"{what}: {p} is a folder; choose a new folder."
            raise ValidationError(msg)
        p.unlink()


def _readme(schema: dict[str, Any], variant: dict[str, Any]) -> str:
    m = schema["model"]

    def cell(name: str) -> str:  # any column name, inside a markdown table cell
        return "`` " + name.replace("|", "\\|").replace("\n", " ") + " ``"

    rows = "\n".join(
        f"| {cell(i['name'])} | {i['kind']} | "
        + (
            f"{len(i.get('categories') or [])} known values"
            if i["kind"] == "categorical"
            else "number (null = missing)"
        )
        + " |"
        for i in schema["inputs"]
    )
    measured = variant.get("measured") or {}
    facts = "\n".join(f"- {k}: {v}" for k, v in measured.items() if v is not None)
    classes = (
        ""
        if m["task"] == "regression"
        else f" Classes, in probability order: {m['classes']}."
    )
    rule = m.get("threshold")
    if rule:
        pos = m["classes"][rule["positive_index"]]
        classes += (
            f" Predicts `{pos}` when its probability is at least {rule['value']:.4g}"
            f" (the model's decision threshold, {rule['source']})."
        )
    roles = _standalone.role_columns(schema)
    also = (
        "Rows may also carry "
        + ", ".join(f"{cell(c)} ({r})" for c, r in roles.items())
        + ": the id is echoed with each prediction, the target is ignored. "
        if roles
        else ""
    )
    return f"""# {m["label"]} — edge bundle ({variant.get("name", "model")})

Predicts `{m["target"]}` ({m["task"]}).{classes} Made by mlops_nb; runs with
**numpy and onnxruntime (>= 1.13) only**: `pip install numpy onnxruntime`.

```bash
python -I predict.py rows.csv               # or rows.json: [{{"column": value, ...}}]
python -I predict.py rows.csv --format csv  # one line per row: prediction, probas
python -I predict.py --verify --manifest-sha256 <the SHA-256 you were given>
```

Run it with `python -I` (isolated mode: this folder, `PYTHON*` variables and the user
site are left out of the import path; on Python 3.11+ use `python -E -P` if numpy and
onnxruntime are installed with `pip install --user`). `predict.py` also drops its own
folder from the import path before it imports anything, so a `hashlib.py` or
`onnxruntime.py` slipped in here is never imported. Pin the bundle with
`--manifest-sha256` (the value printed when it was made): a copy whose manifest was
rewritten is refused.

`predict.py` hashes every file before loading anything and refuses to run (exit 3) if
one byte changed, or if this folder holds any file, folder or link `manifest.json`
does not list (remove it). A file of rows that cannot be read gives exit 2.

Input rows must have these columns (exit 2 lists problems). {also}A
category never seen in training is scored as unknown and flagged in
`unseen_categories` (`--strict` refuses it). Any other column is refused.

| column | kind | values |
|---|---|---|
{rows}

Measured when the bundle was made (on the machine that made it):
{facts or "- (not measured)"}

Files: `model.onnx` (the model and its preprocessing), `schema.json` (inputs, outputs,
categories), `predict.py`, this README and `manifest.json` (SHA-256 of each file).
"""


def with_threshold(model: Model, schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with the model's decision threshold in ``schema["model"]``.

    Only for a binary classifier; the threshold is read now (the one in force when
    the bundle is written or the server starts). ``predict.py`` and the service
    decide with it (:func:`_standalone.format_outputs`).
    """
    from mlops_nb.model._threshold import class_index

    info = model.threshold_info
    m = schema.get("model") or {}
    classes = list(m.get("classes") or [])
    if info is None or len(classes) != 2:
        return schema
    k = class_index(classes, info["positive_class"])
    rule = {
        "value": float(info["value"]),
        "positive_index": k if k >= 0 else 1,
        "source": info["source"],
        "reason": info.get("reason", ""),
    }
    return {**schema, "model": {**m, "threshold": rule}}


def write_bundle(
    model: Model,
    data: bytes,
    schema: dict[str, Any],
    path: Any,
    *,
    variant: dict[str, Any],
    level: str = "all",
    overwrite: bool = False,
) -> EdgeBundle:
    """Write a verified edge bundle for ONNX bytes; see :meth:`Variant.bundle`."""
    import datetime as dt
    import hashlib

    check_onnx(data, what=f"{model.label} bundle")
    folder, zip_path = _prepare_folder(
        path, overwrite=overwrite, project_dir=model.project.path
    )
    schema = {
        **with_threshold(model, schema),
        "runtime": {"graph_optimization_level": LEVELS[level]},
        "variant": variant.get("name", "reference"),
    }
    contents = {
        "model.onnx": bytes(data),
        "schema.json": (
            json.dumps(schema, indent=2, sort_keys=True, allow_nan=False) + "\n"
        ).encode(),
        "predict.py": Path(_standalone.__file__).read_bytes(),
        "README.md": _readme(schema, variant).encode(),
    }
    manifest: dict[str, Any] = {
        "format": _standalone.FORMAT,
        "model": schema["model"]["label"],
        "variant": schema["variant"],
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": {name: hashlib.sha256(b).hexdigest() for name, b in contents.items()},
    }
    manifest["manifest_sha256"] = _standalone.manifest_digest(manifest)
    contents[_standalone.MANIFEST] = _standalone.canonical(manifest)
    for name, b in contents.items():
        fd = os.open(
            folder / name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
            0o644,
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(b)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(contents):
            info = zipfile.ZipInfo(f"{folder.name}/{name}", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, contents[name])
    write_file(zip_path, buf.getvalue(), overwrite=True, what="bundle zip")
    manifest_sha = hashlib.sha256(contents[_standalone.MANIFEST]).hexdigest()
    store = model.project._store
    with store.write() as conn:
        store.audit(
            conn,
            "bundle",
            f"model:{model.name}@{model.version}",
            folder=str(folder),
            variant=schema["variant"],
            manifest_sha256=manifest_sha,
        )
    files = {
        name: (len(b), hashlib.sha256(b).hexdigest()) for name, b in contents.items()
    }
    return EdgeBundle(
        model.label, schema["variant"], folder, zip_path, manifest_sha, files
    )


@dataclass(frozen=True, repr=False)
class EdgeBundle(Displayable):
    """A written edge bundle: its folder, zip and the SHA-256 of each file."""

    model_label: str
    variant: str
    folder: Path
    zip_path: Path
    manifest_sha256: str
    files: dict[str, tuple[int, str]]

    def _view(self) -> View:
        import pandas as pd

        table = pd.DataFrame(
            [
                {"file": n, "bytes": s, "sha256": d}
                for n, (s, d) in sorted(self.files.items())
            ]
        )
        how = (
            f"cd {self.folder.name} && python -I predict.py rows.csv  # needs numpy + "
            "onnxruntime only; "
            f"pin this bundle with --manifest-sha256 {self.manifest_sha256}"
        )
        tabs = [
            Tab(
                "Files",
                [
                    KeyValues(
                        [
                            ("folder", str(self.folder)),
                            ("zip", str(self.zip_path)),
                            ("manifest sha256", self.manifest_sha256),
                        ]
                    ),
                    Table(table),
                ],
            ),
            Tab("Run it", [Text(how, "info")]),
        ]
        size = sum(s for s, _ in self.files.values())
        summary = (
            f"{self.variant}: {len(self.files)} files, {size / 1024:,.0f} KiB "
            f"in {self.folder}"
        )
        return View(
            "EdgeBundle", self.model_label, summary, [("verified manifest", "ok")], tabs
        )
