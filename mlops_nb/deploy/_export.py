"""ONNX export of a model version, with the parity check recorded beside it."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb._lineage import emits
from mlops_nb.deploy._convert import convert_model, io_schema
from mlops_nb.deploy._names import onnx_name
from mlops_nb.deploy._runtime import frame_feeds, make_session, run_session
from mlops_nb.errors import ValidationError
from mlops_nb.ui import Displayable, Flow, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.deploy._serve import Server
    from mlops_nb.deploy._variants import Variants
    from mlops_nb.model import Model
    from mlops_nb.ui._blocks import Tone

ONNX_MEDIA_TYPE = "application/onnx"
DOC_KIND = "onnx"
PARITY_ROWS = 5000
_VERSIONED = ("onnx", "onnxruntime", "skl2onnx", "onnxmltools")


def doc_name(model: Model) -> str:
    """Return the document name of a model version's exports."""
    return f"{model.name}@{model.version}"


def store_onnx(model: Model, onnx: bytes, *, action: str, **detail: Any) -> str:
    """Store ONNX bytes as a content-addressed artifact; return the SHA-256."""
    return store_onnx_files(model, [onnx], action=action, **detail)[0]


def store_onnx_files(
    model: Model, files: list[bytes], *, action: str, **detail: Any
) -> list[str]:
    """Store ONNX files in one transaction and one audit entry; return SHA-256s."""
    store = model.project._store
    digests = [store.put_blob(b, media_type=ONNX_MEDIA_TYPE) for b in files]
    with store.write() as conn:
        for digest, b in zip(digests, files, strict=True):
            store.record_blob(conn, digest, len(b), ONNX_MEDIA_TYPE)
        store.audit(
            conn,
            action,
            f"model:{model.name}@{model.version}",
            onnx=digests[0] if len(digests) == 1 else sorted(set(digests)),
            **detail,
        )
    return digests


def parity(
    model: Model, session: Any, schema: dict[str, Any], frame: pd.DataFrame
) -> dict[str, Any]:
    """Compare the ONNX session with the native model on the same rows."""
    import numpy as np

    X = model._X(frame, "export_onnx")
    native = model._predictor()
    labels, proba = run_session(session, frame_feeds(X, schema), model.task)
    if model.task == "regression":
        ref = np.asarray(native.predict(X), dtype=float)
        diff = np.abs(labels.astype(float) - ref)
        return {
            "rows": len(X),
            "max_abs_diff": float(diff.max(initial=0.0)),
            "mean_abs_diff": float(diff.mean()) if len(diff) else 0.0,
            "label_agreement": None,
        }
    ref = native.proba(X)
    diff = np.abs(np.asarray(proba, dtype=float) - ref)
    ref_labels = np.asarray(model.classes, dtype=object)[ref.argmax(axis=1)]
    agree = np.asarray(labels, dtype=object) == ref_labels
    return {
        "rows": len(X),
        "max_abs_diff": float(diff.max(initial=0.0)),
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "label_agreement": float(agree.mean()) if len(agree) else 1.0,
    }


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pkg in _VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = None
    return out


def _check_frame(
    model: Model, check: DataAsset | None, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from mlops_nb.data import DataAsset

    if check is None:
        d = model.lineage["data"][0]
        check = model.project.asset(d["name"], d["version"])
        frame = check.frame
        if len(frame) > PARITY_ROWS:
            frame = frame.sample(n=PARITY_ROWS, random_state=seed)
        note = f"{len(frame):,} rows of the training data (no check= given)"
    elif isinstance(check, DataAsset):
        frame, note = check.frame, "all rows"
    else:
        msg = (
            f"{model.label}.export_onnx(check=...): expected a DataAsset, got "
            f"{type(check).__name__}. Register the rows first: proj.data('name', "
            "frame)."
        )
        raise ValidationError(msg)
    return frame, {
        "name": check.name,
        "version": check.version,
        "label": check.label,
        "content_hash": check.content_hash,
        "rows_used": note,
    }


@emits("export_onnx")
def export_onnx(
    model: Model,
    *,
    check: DataAsset | None = None,
    tolerance: float = 1e-5,
    seed: int = 0,
) -> OnnxExport:
    """Export a model version to ONNX and record its parity with the native model.

    Parameters
    ----------
    model : Model
        The version to export (preprocessing included).
    check : DataAsset, optional
        Rows to compare ONNX and native predictions on (labels not needed). Default:
        up to 5,000 rows of the model's training data.
    tolerance : float
        The largest acceptable absolute difference in probability (or value); above
        it the export is recorded as failing parity and a warning is issued.
    seed : int
        Seeds the sample of the training data used when ``check`` is None.

    Returns
    -------
    OnnxExport
        The ONNX file (a content-addressed artifact of the project, with lineage to
        the model version) and its parity: maximum absolute probability difference
        and label agreement rate. Conversion is deterministic, so exporting again
        with the same ``check`` data returns the recorded export.

    Raises
    ------
    UnsupportedFormatError
        When the estimator has no ONNX converter (e.g. EBM); the message names
        estimators that export.
    """
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        msg = f"{model.label}.export_onnx(tolerance={tolerance!r}): must be >= 0."
        raise ValidationError(msg)
    from mlops_nb.data import DataAsset

    if isinstance(
        check, DataAsset
    ):  # conversion is deterministic: reuse a recorded export
        versions = _versions()
        for done in reversed(stored_exports(model)):
            p = done.parity
            if (
                p["data"]["content_hash"],
                p["data"]["rows_used"],
                p["tolerance"],
                done.versions,
            ) == (check.content_hash, "all rows", float(tolerance), versions):
                _warn_parity(model, p)
                return done
    data = convert_model(model)
    schema = io_schema(model)
    session = make_session(data, what=f"{model.label} ONNX export")
    frame, check_info = _check_frame(model, check, seed)
    result = {
        **parity(model, session, schema, frame),
        "tolerance": float(tolerance),
        "data": check_info,
    }
    result["ok"] = bool(result["max_abs_diff"] <= tolerance)
    digest = store_onnx(
        model,
        data,
        action="export onnx",
        parity=result["max_abs_diff"],
        data=check_info["label"],
    )
    payload = {
        "model": {
            "name": model.name,
            "version": model.version,
            "id": model.id,
            "artifacts": model.artifacts,
            "estimator": model.recipe["estimator"],
        },
        "onnx": digest,
        "size": len(data),
        "schema": schema,
        "parity": result,
        "versions": _versions(),
    }
    row = model.project._save_document(
        DOC_KIND, doc_name(model), payload, note=f"parity on {check_info['label']}"
    )
    _warn_parity(model, result)
    return OnnxExport._from_row(model, row)


def _warn_parity(model: Model, parity: dict[str, Any]) -> None:
    if not parity["ok"]:
        warnings.warn(
            f"{model.label}: ONNX and native predictions differ by up to "
            f"{parity['max_abs_diff']:.2e} (> tolerance={parity['tolerance']}). Use "
            "the "
            "native model, or pass a larger tolerance= if the difference is "
            "acceptable.",
            UserWarning,
            stacklevel=4,
        )


def stored_exports(model: Model) -> list[OnnxExport]:
    """Every recorded ONNX export of a model version, oldest first."""
    from mlops_nb.store._q_documents import documents_of

    return [
        OnnxExport._from_row(model, {**r, "payload": json.loads(r["payload"])})
        for r in documents_of(model.project._store, DOC_KIND, doc_name(model))
    ]


@dataclass(frozen=True, eq=False, repr=False)
class OnnxExport(Displayable):
    """A model version exported to ONNX, with its recorded parity check.

    Attributes
    ----------
    digest : str
        SHA-256 of the ONNX file, its name in the project's artifact store.
    size : int
        Bytes.
    parity : dict
        ``max_abs_diff`` (largest absolute probability difference to the native
        model), ``label_agreement`` (share of rows with the same predicted label),
        ``rows``, ``tolerance``, ``ok`` and the ``data`` it was measured on.
    schema : dict
        The graph's inputs (column ``name``, graph input ``onnx_name``, kind,
        categories), the training data's id/time/target/sensitive columns
        (``roles``) and outputs.
    """

    model: Model = field(repr=False)
    digest: str
    size: int
    parity: dict[str, Any]
    schema: dict[str, Any]
    versions: dict[str, Any]
    created_at: str
    record_version: int

    @classmethod
    def _from_row(cls, model: Model, row: dict[str, Any]) -> OnnxExport:
        p = row["payload"]
        return cls(
            model,
            p["onnx"],
            p["size"],
            p["parity"],
            p["schema"],
            p["versions"],
            row["created_at"],
            row["version"],
        )

    @property
    def onnx_bytes(self) -> bytes:
        """The ONNX file's bytes, verified against :attr:`digest`."""
        return self.model.project._store.read_blob(self.digest)

    def session(self, level: str = "all") -> Any:
        """Open a new onnxruntime session (checked bytes, one thread)."""
        return make_session(
            self.onnx_bytes, what=f"{self.model.label} ONNX", level=level
        )

    def _run(self, X: pd.DataFrame | DataAsset) -> tuple[np.ndarray, np.ndarray | None]:
        cached = self.__dict__.get("_session")
        if cached is None:
            cached = self.session()
            object.__setattr__(self, "_session", cached)
        frame = self.model._X(X, "onnx")
        return run_session(cached, frame_feeds(frame, self.schema), self.model.task)

    @property
    def input_names(self) -> dict[str, str]:
        """Map each input column to its graph input name (see ``_names``)."""
        return {i["name"]: onnx_name(i) for i in self.schema["inputs"]}

    def predict(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Labels (or values) computed by onnxruntime.

        A binary model's labels are decided at its threshold, as in
        :meth:`Model.predict` (the graph itself answers the most likely class).
        """
        labels, proba = self._run(X)
        info = self.model.threshold_info
        if info is None or proba is None:
            return labels
        from mlops_nb.model._threshold import decide

        return decide(proba, self.model.classes or [], info)

    def predict_proba(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Class probabilities computed by onnxruntime."""
        proba = self._run(X)[1]
        if proba is None:
            msg = f"{self.model.label} is a regression model; use predict()."
            raise ValidationError(msg)
        return proba

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the ONNX file to ``path`` (replaces a file only with ``overwrite``)."""
        from mlops_nb.deploy._bundle import write_file

        return write_file(
            Path(path), self.onnx_bytes, overwrite=overwrite, what="OnnxExport.save"
        )

    def optimize(self, data: DataAsset, **options: Any) -> Variants:
        """Build and measure variants of the model; see :func:`optimize`."""
        from mlops_nb.deploy._optimize import optimize

        return optimize(self.model, data, **options)

    def serve(self, **options: Any) -> Server:
        """Serve this export over authenticated HTTP; see :func:`serve`."""
        from mlops_nb.deploy._serve import serve

        return serve(self.model, **options)

    def _view(self) -> View:
        import pandas as pd

        p = self.parity
        d = p["data"]
        ok = p["ok"]
        facts = KeyValues(
            [
                ("model", self.model.label),
                ("ONNX sha256", self.digest),
                ("size", f"{self.size / 1024:,.1f} KiB"),
                ("parity data", f"{d['label']} ({d['rows_used']})"),
                ("rows compared", f"{p['rows']:,}"),
                ("max |p_onnx - p_native|", f"{p['max_abs_diff']:.2e}"),
                ("tolerance", p["tolerance"]),
                (
                    "label agreement",
                    "—"
                    if p["label_agreement"] is None
                    else f"{p['label_agreement']:.2%}",
                ),
                (
                    "opsets",
                    ", ".join(
                        f"{k or 'ai.onnx'} {v}" for k, v in self.schema["opset"].items()
                    ),
                ),
                ("recorded", self.created_at[:19].replace("T", " ") + " UTC"),
            ]
        )
        inputs = pd.DataFrame(
            [
                {
                    "input": i["name"],
                    "graph name": onnx_name(i),
                    "kind": i["kind"],
                    "ONNX type": i["onnx_type"],
                    "categories": len(i.get("categories") or []) or "—",
                }
                for i in self.schema["inputs"]
            ]
        )
        tone: Tone = "ok" if ok else "error"
        verdict = (
            f"ONNX matches the native model within {p['tolerance']:g}."
            if ok
            else f"ONNX differs from the native model by more than {p['tolerance']:g}."
        )
        tabs = [
            Tab("Parity", [Text(verdict, tone), facts]),
            Tab("Inputs", [Table(inputs, max_rows=50)]),
            Tab(
                "Lineage",
                [Flow([(self.model.label, "export onnx", f"onnx {self.digest[:12]}")])],
            ),
            Tab(
                "Versions",
                [KeyValues([(k, v or "—") for k, v in self.versions.items()])],
            ),
        ]
        summary = (
            f"{self.size / 1024:,.0f} KiB; max |Δp| {p['max_abs_diff']:.1e} on "
            f"{p['rows']:,} rows"
            + (
                ""
                if p["label_agreement"] is None
                else f", labels agree {p['label_agreement']:.2%}"
            )
        )
        badge: tuple[str, Tone] = (
            ("parity ok", "ok") if ok else ("parity failed", "error")
        )
        return View("OnnxExport", self.model.label, summary, [badge], tabs)
