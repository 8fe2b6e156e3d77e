"""mlops_nb: the whole operations life cycle of a machine-learning system in a notebook.

The public nouns are :class:`Project` (a folder holding every version and report),
:class:`DataAsset` (an immutable, content-hashed data version) and :class:`Model` (a
stored model version with lineage, metrics and a registry stage). Heavy dependencies
load when first used, so ``import mlops_nb`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlops_nb import _offline
from mlops_nb._config import config_context, get_config, set_config

# environment opt-outs only: cheap, and before any dependency
_offline.disable_telemetry()

__version__ = "0.1.0"

_LAZY = {
    "Project": ("mlops_nb._project", "Project"),
    "DataAsset": ("mlops_nb.data", "DataAsset"),
    "Model": ("mlops_nb.model", "Model"),
    "Monitor": ("mlops_nb.drift", "Monitor"),
    "datasets": ("mlops_nb.datasets", None),
    "errors": ("mlops_nb.errors", None),
    # every ops stage the README names is reachable as ``mnb.<stage>``, imported lazily
    "business": ("mlops_nb.business", None),
    "data": ("mlops_nb.data", None),
    "model": ("mlops_nb.model", None),
    "deploy": ("mlops_nb.deploy", None),
    "sustain": ("mlops_nb.sustain", None),
    "human": ("mlops_nb.human", None),
    "secure": ("mlops_nb.secure", None),
    "drift": ("mlops_nb.drift", None),
}

__all__ = [
    "DataAsset",
    "Model",
    "Monitor",
    "Project",
    "__version__",
    "business",
    "config_context",
    "data",
    "datasets",
    "deploy",
    "drift",
    "errors",
    "get_config",
    "human",
    "model",
    "secure",
    "set_config",
    "sustain",
]

if TYPE_CHECKING:
    from mlops_nb import (
        business,
        data,
        datasets,
        deploy,
        drift,
        errors,
        human,
        model,
        secure,
        sustain,
    )
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.drift import Monitor
    from mlops_nb.model import Model


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        msg = f"module 'mlops_nb' has no attribute {name!r}"
        raise AttributeError(msg) from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
