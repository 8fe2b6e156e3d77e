"""Helpers of the Drift Ops tests (import with ``from _drift_helpers import ...``)."""

from __future__ import annotations

import mlops_nb as mnb

N_REFERENCE = 6000


def scenario_frames(seed: int = 3, n: int = 18000, **effects):
    """Reference rows (first N_REFERENCE) and analysis rows of one scenario."""
    s = mnb.datasets.scenario(n, seed=seed, **effects)
    return s, s.frame.iloc[:N_REFERENCE].copy(), s.frame.iloc[N_REFERENCE:].copy()
