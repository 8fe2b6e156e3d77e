"""Sustainable Ops: a carbon and energy ledger, and greener alternatives measured.

Every action that burns noticeable energy -- training, evaluation, optimization and
serving benchmarks -- runs inside CodeCarbon's offline tracker through
:func:`measure`, which records the energy (kWh), emissions (kg CO2e), duration and
*how* the figures were obtained with the object the action belongs to. Nothing
reaches the network: the grid's carbon intensity comes from CodeCarbon's offline
table for the country set on the project (``proj.sustainability(country="FRA")``).
On machines without power counters CodeCarbon estimates power from the CPU's TDP
and memory size; the ledger says so instead of calling estimates measurements.

:meth:`Project.sustainability` shows the ledger by model version, by ops stage,
cumulatively and per 1,000 predictions for deployable variants. Greener
alternatives are measured, not asserted: :meth:`Model.retrain_warm` continues
LightGBM boosting from the current model on new data and compares it with a full
retrain on the same data -- energy saved against the change in accuracy and money
value, on the same test split.

Other stages put their own work in the same ledger: an optimization or serving
benchmark wraps each variant's timed loop in
``measure(project, "benchmark", model, variant="onnx-int8", predictions=n)``, and the
ledger shows energy and emissions per 1,000 predictions for every variant of a
version. Measure whole loops or batches (a measurement costs milliseconds), never
one prediction, and measure from one thread at a time (CodeCarbon attributes this
process's CPU time, whichever thread spent it).
"""

from mlops_nb.sustain._ledger import SustainabilityReport, sustainability
from mlops_nb.sustain._settings import DEFAULT_COUNTRY
from mlops_nb.sustain._tracker import STAGES, Measurement, measure
from mlops_nb.sustain._warm import WarmStartReport, retrain_warm

__all__ = [
    "DEFAULT_COUNTRY",
    "STAGES",
    "Measurement",
    "SustainabilityReport",
    "WarmStartReport",
    "measure",
    "retrain_warm",
    "sustainability",
]
