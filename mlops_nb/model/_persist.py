"""Safe persistence of model versions: skops with an allowlist, LightGBM text.

Nothing is ever unpickled. scikit-learn pipelines are saved with skops; on load, the
bytes (already verified against their SHA-256 by the store) must be a skops zip, and
every type skops does not trust by default must be on :data:`TRUSTED_TYPES` — our own,
reviewed list. LightGBM boosters are saved in LightGBM's text format and only parsed
after the hash check. Next to them, a LightGBM version keeps its fitted preprocessing
as plain JSON numbers (:class:`mlops_nb.model._prep.TreePrep`) and its trees as flat
arrays (:class:`mlops_nb.model._trees.TreeTable`), so predicting a few rows parses
neither skops nor LightGBM text.
"""

from __future__ import annotations

from typing import Any

from mlops_nb.errors import UnsafeFormatError, UnsupportedFormatError, listing

#: Types outside skops' default trust that mlops_nb itself writes and may load back.
TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "interpret.glassbox._ebm._ebm.ExplainableBoostingClassifier",
    "interpret.glassbox._ebm._ebm.ExplainableBoostingRegressor",
)
#: The only types an import may add to the list (``load_skops(also_trust=...)``):
#: LightGBM's scikit-learn classes, whose model text is checked first
#: (:func:`mlops_nb.interop._import_checks.check_lightgbm_skops`).
IMPORT_TRUSTABLE: tuple[str, ...] = (
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
)
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_GZIP_MAGIC = b"\x1f\x8b"
_LGB_MAGIC = b"tree\n"
_TREE_PREP_MAGIC = b'{"format'
_TREES_MAGIC = b"MNBTREES"
_ONNX_MAGIC = b"\x08"  # ModelProto's first field, ir_version (an imported model)


def dump_skops(obj: Any, *, what: str) -> bytes:
    """Serialise with skops, refusing objects whose types we could not load back."""
    import skops.io as sio

    data = sio.dumps(obj)
    extra = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if extra:
        msg = (
            f"{what}: cannot save this model safely: it holds type(s) {listing(extra)} "
            "that mlops_nb does not load (only scikit-learn, numpy, LightGBM and "
            "interpret types are trusted). Use a built-in estimator or a scikit-learn "
            "one."
        )
        raise UnsupportedFormatError(msg)
    return data


def sniff(data: bytes, *, artifact: str) -> str:
    """Name the format of stored bytes from their magic bytes.

    The pickle family is refused.
    """
    head = bytes(data[:8])
    if head.startswith(_PICKLE_MAGIC) or head.startswith(_GZIP_MAGIC):
        msg = (
            f"artifact {artifact} is a pickle (or compressed) file; mlops_nb never "
            "loads pickles because they can run code. Re-train or re-export the model."
        )
        raise UnsafeFormatError(msg)
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_LGB_MAGIC):
        return "lightgbm"
    if head.startswith(_TREE_PREP_MAGIC):
        return "tree-prep"
    if head.startswith(_TREES_MAGIC):
        return "trees"
    if head.startswith(_ONNX_MAGIC):
        return "onnx"
    msg = (
        f"artifact {artifact} is in no format mlops_nb loads (skops, LightGBM text, "
        "tree preprocessing JSON, tree table or ONNX)."
    )
    raise UnsupportedFormatError(msg)


def load_skops(data: bytes, *, artifact: str, also_trust: tuple[str, ...] = ()) -> Any:
    """Load skops bytes, refusing unknown types.

    Any type outside skops' defaults, :data:`TRUSTED_TYPES` and the named
    ``also_trust`` (an import's explicit list, e.g. LightGBM's scikit-learn
    classes) is refused. skops audits the whole file against the trusted list before
    it constructs (or imports) anything, so one pass both checks and loads.
    """
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    extra = sorted(set(also_trust) - set(IMPORT_TRUSTABLE))
    if extra:
        msg = (
            f"load_skops(also_trust=...): {listing(extra)} may not be trusted; only "
            f"{listing(list(IMPORT_TRUSTABLE))} can be added to the list."
        )
        raise UnsafeFormatError(msg)
    if sniff(data, artifact=artifact) != "skops":
        msg = f"artifact {artifact} is not a skops file."
        raise UnsupportedFormatError(msg)
    trusted = [*TRUSTED_TYPES, *also_trust]
    try:
        return sio.loads(data, trusted=trusted)
    except UntrustedTypesFoundException as err:
        try:
            refused = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        except Exception:  # the file is unreadable beyond the audit
            refused = [str(err)]
        msg = (
            f"artifact {artifact} contains type(s) {listing(refused)} that are not on "
            "mlops_nb's trusted list; refusing to load it (it could run code)."
        )
        raise UnsafeFormatError(
            msg, [{"artifact": artifact, "type": t} for t in refused]
        ) from err
    except Exception as err:
        msg = f"artifact {artifact} is not a readable skops file: {err}"
        raise UnsafeFormatError(msg) from err


def dump_booster(booster: Any) -> bytes:
    """Serialise a LightGBM booster in LightGBM's own text format."""
    return booster.model_to_string().encode("utf-8")


def load_booster(data: bytes, *, artifact: str, checked: Any = None) -> Any:
    """Parse a LightGBM text model (the caller has verified its hash).

    LightGBM's C++ parser crashes the process on malformed input, so the text is
    first read by :func:`mlops_nb.model._lgb_text.check_model_text`, a strict Python
    reader that raises :class:`UnsafeFormatError` instead; ``checked`` is its result
    when the caller has already run it on these very bytes.
    """
    import lightgbm as lgb

    from mlops_nb.model._lgb_text import check_model_text

    if sniff(data, artifact=artifact) != "lightgbm":
        msg = f"artifact {artifact} is not a LightGBM text model."
        raise UnsupportedFormatError(msg)
    if checked is None or checked.text.encode("utf-8") != bytes(data):
        checked = check_model_text(data, artifact=artifact)
    return lgb.Booster(model_str=checked.text)


def load_onnx(data: bytes, *, artifact: str) -> Any:
    """Return an imported ONNX model as a one-step pipeline (hash verified).

    See :mod:`mlops_nb.interop._onnx_model`: the graph is checked by
    :func:`mlops_nb.deploy._runtime.check_onnx`; its session opens on first use.
    """
    from mlops_nb.interop._onnx_model import load_onnx_model

    if sniff(data, artifact=artifact) != "onnx":
        msg = f"artifact {artifact} is not an ONNX model."
        raise UnsupportedFormatError(msg)
    return load_onnx_model(data, artifact=artifact)


def load_tree_prep(data: bytes, *, artifact: str) -> Any:
    """Parse the JSON numbers of a LightGBM version's preprocessing (hash verified)."""
    from mlops_nb.model._prep import TreePrep

    if sniff(data, artifact=artifact) != "tree-prep":
        msg = f"artifact {artifact} is not a tree preprocessing file."
        raise UnsupportedFormatError(msg)
    return TreePrep.from_json(data, artifact=artifact)


def load_trees(data: bytes, *, artifact: str) -> Any:
    """Return views on a LightGBM version's tree table.

    The hash is verified; sizes and indices are checked.
    """
    from mlops_nb.model._trees import TreeTable

    if sniff(data, artifact=artifact) != "trees":
        msg = f"artifact {artifact} is not a tree table."
        raise UnsupportedFormatError(msg)
    return TreeTable.from_bytes(data, artifact=artifact)
