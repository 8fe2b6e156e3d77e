"""Data to learn and teach with: one real data set and one synthetic generator.

Every ops stage needs data whose problems are known. :func:`employment` returns real
US Census employment records for Massachusetts (shipped inside nannyml, so it works
offline): a 2015 reference year and 2016--2018 analysis years with real temporal
drift, real fairness questions (``SEX``, ``RAC1P``) and the true labels to check
label-free performance estimates against. :func:`scenario` generates seeded tabular
data in which drift, bias against a group, label noise and label poisoning are
planted on request; the :class:`Scenario` it returns records exactly what was
planted, so each detector can be shown, and tested, catching it.
"""

from __future__ import annotations

from mlops_nb.datasets._employment import employment
from mlops_nb.datasets._scenario import Scenario, scenario

__all__ = ["Scenario", "employment", "scenario"]


def __dir__() -> list[str]:
    return list(__all__)
