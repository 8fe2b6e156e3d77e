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
