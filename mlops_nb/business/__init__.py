"""Business Ops: the value canvas, the seed of an ML system.

Before any data is touched, a team writes down *why* the system exists: which business
process it serves, at what value level (adding value to a process, optimizing it,
creating a new one, or an ecosystem play), which KPIs will tell, who is affected, what
can go wrong, and -- the part every later stage uses -- what each decision outcome is
worth in money. A binary decision has four outcomes: acting on a real positive (tp),
acting on a negative (fp), missing a positive (fn) and rightly leaving a negative
alone (tn).

A :class:`ValueCanvas` is a versioned document of the project: saving changed fields
makes a new version, saving the same fields again changes nothing. Later stages price
their results with the current canvas: evaluation reports money at the value-maximizing
threshold (:meth:`ValueCanvas.best_threshold`), monitoring prices alerts, and baseline
policies are compared with :meth:`ValueCanvas.compare_policies`. A project without a
canvas says so instead of inventing values.
"""

from mlops_nb.business._canvas import (
    OUTCOMES,
    VALUE_LEVELS,
    BestThreshold,
    ValueCanvas,
    current_canvas,
    save_canvas,
)
from mlops_nb.business._editor import CanvasEditor
from mlops_nb.business._policies import PolicyComparison

__all__ = [
    "OUTCOMES",
    "VALUE_LEVELS",
    "BestThreshold",
    "CanvasEditor",
    "PolicyComparison",
    "ValueCanvas",
    "current_canvas",
    "save_canvas",
]
