"""ML/Model Ops: training, evaluation, safe persistence and the model registry.

A :class:`Model` is one stored version of a named model: trained from a data version
(its lineage), with its recipe (estimator, parameters, features, seed), validation
metrics, environment, and files saved without pickle (skops with an explicit allowlist,
LightGBM's text format). Versions move through the stages candidate, staging,
production and archived only when every promotion gate passes.
"""

from mlops_nb.model._evaluate import Evaluation
from mlops_nb.model._model import Model
from mlops_nb.model._persist import TRUSTED_TYPES
from mlops_nb.model._registry import (
    STAGES,
    Comparison,
    GateResult,
    PromotionReport,
    register_gate,
    unregister_gate,
)

__all__ = [
    "STAGES",
    "TRUSTED_TYPES",
    "Comparison",
    "Evaluation",
    "GateResult",
    "Model",
    "PromotionReport",
    "register_gate",
    "unregister_gate",
]
