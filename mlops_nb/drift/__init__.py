"""Drift Ops: watch a model in production, chunk by chunk, against a fixed reference.

A :class:`Monitor` belongs to one model version (``model.monitor(reference=test)``).
Its *reference* is labelled data the model is known to do well on; it is anchored and
changes only through :meth:`Monitor.approve_rebaseline`, which is audited — a
reference that followed the data would let a slow drift (or slow poisoning) pass
unnoticed. Production data arrives with :meth:`Monitor.observe`, is stored as data
versions with lineage, and is cut into *chunks* (by a time column or period, by rows,
or into a number of chunks).

:meth:`Monitor.review` compares every chunk with the reference: univariate drift per
feature (our vectorised statistics, equal to nannyml's on the same bins), drift of the
model's score and of the target, multivariate drift (nannyml), performance estimated
without labels (nannyml CBPE or DLE) with its confidence band, group rates over time,
money value per chunk from the value canvas, and a recommendation: retrain,
investigate or no action. A label-free estimate cannot see concept drift (a change
of P(y | x)), so chunks without labels are "unverified"; when labels arrive through
:meth:`Monitor.add_targets`, realized performance that leaves the estimate's band is
the concept-drift verdict. :meth:`Monitor.retrain` hands the labelled data to Model
Ops' retraining, closing the loop.
"""

from mlops_nb.drift._monitor import (
    Monitor,
    create_monitor,
    list_monitors,
    open_monitor,
)
from mlops_nb.drift._records import Observation, Rebaseline, TargetsReport
from mlops_nb.drift._review import DriftReview
from mlops_nb.drift._table import DriftTable, univariate_drift
from mlops_nb.drift._univariate import CATEGORICAL, CONTINUOUS

__all__ = [
    "CATEGORICAL",
    "CONTINUOUS",
    "DriftReview",
    "DriftTable",
    "Monitor",
    "Observation",
    "Rebaseline",
    "TargetsReport",
    "create_monitor",
    "list_monitors",
    "open_monitor",
    "univariate_drift",
]
