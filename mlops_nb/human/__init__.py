"""Human Centered Ops: fairness, explanations, the model card and the release checklist.

A model that decides about people is reviewed by people before it decides. This stage
gives them the evidence, from the project's records:

- :func:`fairness` measures a binary classifier's decisions for each sensitive group and
  intersection (fairlearn's ``MetricFrame``, bootstrap intervals, small groups flagged)
  and summarizes the disparities;
- :func:`mitigate` makes a new model version that narrows a disparity (fairlearn's
  threshold optimizer or exponentiated gradient) and measures what it costs in
  accuracy and money value;
- :func:`explain` shows which inputs drive the model (interpret) and why one prediction
  came out as it did, with a what-if view;
- :func:`model_card` assembles the model card from recorded facts and lists the gaps;
- :func:`checklist` is the release checklist. Importing this package registers it as a
  promotion gate for production: fairness within limits (or a named waiver), an
  explanation, a complete card, passing security checks, a monitoring plan and a named
  sign-off. Sign-offs, waivers and the checklist's configuration land in the audit log.

Each is also a method of :class:`~mlops_nb.model.Model` (``model.fairness(test)``, ...).
"""

from __future__ import annotations

from mlops_nb.human._card import ModelCard, model_card
from mlops_nb.human._checklist import (
    DEFAULT_ITEMS,
    GATE_NAME,
    ITEMS,
    Checklist,
    checklist,
    configure_checklist,
    release_gate,
)
from mlops_nb.human._explain import GlobalExplanation, LocalExplanation, explain
from mlops_nb.human._fairness import DEFAULT_LIMITS, FairnessReport, fairness
from mlops_nb.human._mitigate import mitigate
from mlops_nb.human._tradeoff import Mitigation
from mlops_nb.human._whatif import WhatIf
from mlops_nb.model import register_gate

__all__ = [
    "DEFAULT_ITEMS",
    "DEFAULT_LIMITS",
    "GATE_NAME",
    "ITEMS",
    "Checklist",
    "FairnessReport",
    "GlobalExplanation",
    "LocalExplanation",
    "Mitigation",
    "ModelCard",
    "WhatIf",
    "checklist",
    "configure_checklist",
    "explain",
    "fairness",
    "mitigate",
    "model_card",
    "release_gate",
]

register_gate(GATE_NAME, release_gate, stages=("production",))


def __dir__() -> list[str]:
    return list(__all__)
