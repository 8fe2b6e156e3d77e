"""Audit-log objects as people read them.

The audit log names what an action touched as ``kind:name@version``: a model or data
version (``model:clf@2``), or a version of a stored document, whose name often names
the model version it belongs to (``onnx:clf@1@1``: the ONNX export of model clf v1,
first revision; ``monitor:clf@v1@1``). :func:`readable_object` turns each into words:
``model clf v2``, ``ONNX export of model clf v1``, ``monitor of model clf v1``.
"""

from __future__ import annotations

import re

#: What each kind of stored document is, in words.
DOCUMENT_WORDS = {
    "onnx": "ONNX export",
    "xmo": "optimized variants",
    "monitor": "monitor",
    "model-signature": "signature",
    "release-signoff": "release sign-off",
    "release-waiver": "release waiver",
    "release-checklist": "release checklist",
    "model-card-notes": "model card notes",
    "canvas": "value canvas",
    "settings": "settings",
    "secure-policy": "security policy",
    "signing-key": "signing key",
    "provenance": "provenance",
    "trusted-base-model": "trusted base model",
    "dataset-pin": "dataset pin",
    "annotation": "annotation",
}
_ENTRY = re.compile(r"(?P<kind>[\w-]+):(?P<name>.+?)(?:@(?P<rev>\d+))?")
_OF_MODEL = re.compile(r"(?P<model>[^@:/]+)@v?(?P<version>\d+)(?::(?P<item>.+))?")
_OF_ASSET = re.compile(r"(?P<asset>[^@:/]+)@(?P<version>\d+)/(?P<rest>.+)")


def readable_object(entry: object) -> str:
    """Return an audit entry's object in words.

    Parameters
    ----------
    entry : str
        The ``object`` of an audit row, e.g. ``"onnx:clf@1@1"``.

    Returns
    -------
    str
        E.g. ``"ONNX export of model clf v1"``; a later revision of a document says
        so (``"..., revision 2"``); anything not in these forms is returned as is.
    """
    text = str(entry)
    m = _ENTRY.fullmatch(text)
    if m is None:
        return text
    kind, name, rev = m["kind"], m["name"], m["rev"]
    if kind in ("model", "asset"):  # a version: model:clf@2, or model:clf v2
        return f"{kind} {name}" + (f" v{rev}" if rev else "")
    words = DOCUMENT_WORDS.get(kind, kind.replace("-", " "))
    revision = f", revision {rev}" if rev and int(rev) > 1 else ""
    of = _OF_MODEL.fullmatch(name)
    if of is not None:
        item = f" ({of['item']})" if of["item"] else ""
        return f"{words}{item} of model {of['model']} v{of['version']}{revision}"
    of = _OF_ASSET.fullmatch(name)
    if of is not None:
        return f"{words} {of['rest']} of asset {of['asset']} v{of['version']}{revision}"
    if name in (kind, "project"):  # one document per project: its versions
        return f"{words} v{rev}" if rev else words
    return f"{words} {name}" + (f" v{rev}" if rev else "")
