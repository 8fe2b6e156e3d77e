"""The benchmark registry: a dict from name to :class:`Benchmark`, and result rows."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Config:
    """Settings shared by every benchmark of one run.

    Attributes
    ----------
    quick : bool
        Smoke-run sizes: fewer rows and fewer repetitions.
    """

    quick: bool = False

    def pick(self, full: Any, quick: Any) -> Any:
        """Return ``quick`` in a quick run, ``full`` otherwise."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    Attributes
    ----------
    benchmark : str
        The row's label, e.g. ``"import"`` or ``"register_1m: profile"``.
    ours : float or None
        mlops_nb's measurement, in ``unit``.
    peer : float or None
        The peer's (or baseline's) measurement, in ``unit``; None when there is none.
    unit : {"s", "MB"}
        Seconds or megabytes; lower is better for both.
    peer_name : str
        What the peer column measured, e.g. ``"nannyml"`` or ``"pandas baseline"``.
    notes : str
        Anything a reader needs to interpret the row.
    extra : dict
        Raw samples and details, written to the JSON results only.
    """

    benchmark: str
    ours: float | None
    peer: float | None = None
    unit: Literal["s", "MB"] = "s"
    peer_name: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """``peer / ours``: above 1 means mlops_nb is faster (or leaner)."""
        if self.ours is None or self.peer is None or self.ours <= 0:
            return None
        return self.peer / self.ours

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON-ready data, ratio included."""
        out = asdict(self)
        ratio = self.ratio
        out["ratio"] = None if ratio is None or not math.isfinite(ratio) else ratio
        return out


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: a name, a one-line description and its function."""

    name: str
    description: str
    run: Callable[[Config], list[Row]]


BENCHMARKS: dict[str, Benchmark] = {}


def register(
    name: str, description: str
) -> Callable[[Callable[[Config], list[Row]]], Callable[[Config], list[Row]]]:
    """Register a benchmark function under ``name``.

    Parameters
    ----------
    name : str
        What ``--only`` selects; unique across the package.
    description : str
        One line saying what is compared with what.

    Returns
    -------
    callable
        A decorator that records the function and returns it unchanged.

    Raises
    ------
    ValueError
        When ``name`` is already registered by another function.
    """

    def decorator(fn: Callable[[Config], list[Row]]) -> Callable[[Config], list[Row]]:
        known = BENCHMARKS.get(name)
        if known is not None and known.run is not fn:
            msg = f"benchmark {name!r} is registered twice ({known.run!r} and {fn!r})"
            raise ValueError(msg)
        BENCHMARKS[name] = Benchmark(name, description, fn)
        return fn

    return decorator


#: MLflow's side of the save and load + predict comparisons (``registry``, ``team``):
#: child code run after ``bench_registry.FIT_CODE``. It defines ``save(pins)`` (one
#: run: params, metrics, lineage tags, ``sklearn.log_model``; registered as
#: ``REGISTERED_NAME`` when the child sets it to a name), ``load_predict(uri)`` and
#: ``timed_saves()``; the child sets the tracking URI and the experiment, then calls
#: them.
MLFLOW_SAVES = """\
import hashlib
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import skops.io

X_row = X.head(1)
REGISTERED_NAME = globals().get("REGISTERED_NAME")
# MLflow 3 saves scikit-learn models with skops by default and refuses types outside
# skops' default trust unless they are listed: list exactly those of this pipeline.
TRUSTED = skops.io.get_untrusted_types(data=skops.io.dumps(pipe))
TAGS = {  # the lineage mlops_nb records: data name, version, content hash
    "data.name": "d", "data.version": "1",
    "data.content_hash": hashlib.sha256(
        pd.util.hash_pandas_object(frame).values.tobytes()
    ).hexdigest(),
}

def save(pins):
    t = time.perf_counter()
    with mlflow.start_run():
        mlflow.log_params(PARAMS)
        mlflow.log_metrics(METRICS)
        mlflow.set_tags(TAGS)
        info = mlflow.sklearn.log_model(
            pipe, name="model", pip_requirements=pins, skops_trusted_types=TRUSTED,
            pyfunc_predict_fn="predict_proba", registered_model_name=REGISTERED_NAME,
        )
    return time.perf_counter() - t, info

def load_predict(uri):
    t = time.perf_counter()
    proba = mlflow.pyfunc.load_model(uri).predict(X_row)
    return time.perf_counter() - t, float(np.asarray(proba)[0, 1])

def timed_saves():
    # the first default and pinned saves (cold), then REPEATS of each, alternating
    # so background load hits both variants alike; pins = what the default inferred
    default_cold, info = save(None)
    pins = [
        line.strip() for line in Path(
            mlflow.pyfunc.get_model_dependencies(info.model_uri, format="pip")
        ).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pinned_cold, _ = save(pins)
    default, pinned = [], []
    for _ in range(REPEATS):
        default.append(save(None)[0])
        pinned.append(save(pins)[0])
    return info, pins, default_cold, pinned_cold, default, pinned
"""
