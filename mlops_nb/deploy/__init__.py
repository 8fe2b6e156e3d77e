"""IT Model Ops: ONNX export, eXtreme Model Optimization, edge bundles and serving.

A model version leaves the notebook as an ONNX file that holds its preprocessing too
(:func:`export_onnx`); the export records its *parity* with the native model (the
largest probability difference and the label agreement on a data version) and is a
content-addressed artifact of the project with lineage to the version.

:func:`optimize` builds smaller, faster or cheaper *variants* (pruned and shallower
tree ensembles, a distilled student, float16 and int8 forms, onnxruntime graph
optimization levels) and measures each one on the same data: accuracy and money value
(with the value canvas), file size, single-row latency, batch throughput, peak memory
and energy per 1,000 predictions. :meth:`Variants.choose` picks one by the 4 P's —
Purpose, Performance, Power, Price — using only measured or user-given numbers.

A chosen variant becomes an *edge bundle* (:meth:`Variant.bundle`): a folder and a
zip that run with numpy and onnxruntime alone and refuse to run if one byte changed.
:func:`serve` runs a model as an authenticated HTTP service in the background of the
notebook; served batches are recorded as data versions for Drift Ops.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> private module; loaded on first use, so `mlops-nb` and
# `import mlops_nb.deploy` stay fast
_LAZY = {
    "ALLOWED_DOMAINS": "_runtime",
    "BatchScores": "_batch",
    "Choice": "_choose",
    "EdgeBundle": "_bundle",
    "OnnxExport": "_export",
    "Server": "_serve",
    "Variant": "_variants",
    "Variants": "_variants",
    "check_onnx": "_runtime",
    "choose": "_choose",
    "export_onnx": "_export",
    "optimize": "_optimize",
    "serve": "_serve",
}

__all__ = [
    "ALLOWED_DOMAINS",
    "BatchScores",
    "Choice",
    "EdgeBundle",
    "OnnxExport",
    "Server",
    "Variant",
    "Variants",
    "check_onnx",
    "choose",
    "export_onnx",
    "optimize",
    "serve",
]

if TYPE_CHECKING:
    from mlops_nb.deploy._batch import BatchScores
    from mlops_nb.deploy._bundle import EdgeBundle
    from mlops_nb.deploy._choose import Choice, choose
    from mlops_nb.deploy._export import OnnxExport, export_onnx
    from mlops_nb.deploy._optimize import optimize
    from mlops_nb.deploy._runtime import ALLOWED_DOMAINS, check_onnx
    from mlops_nb.deploy._serve import Server, serve
    from mlops_nb.deploy._variants import Variant, Variants


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        msg = f"module 'mlops_nb.deploy' has no attribute {name!r}"
        raise AttributeError(msg) from None
    value = getattr(importlib.import_module(f"mlops_nb.deploy.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
