"""Apache DataSketches, behind a few functions: create, fill, merge, (de)serialise.

Every merge returns a new sketch and leaves its inputs unchanged (the library's
``merge`` changes the sketch it is called on). Missing ``datasketches`` is a
:class:`~mlops_nb.errors.MissingDependencyError` naming the ``scale`` extra.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import MissingDependencyError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np


def ds() -> Any:
    """Return the ``datasketches`` module, or say how to install it."""
    try:
        import datasketches
    except ImportError as err:
        msg = (
            "Summaries of large data need the 'datasketches' package: "
            "pip install 'mlops-nb[scale]'."
        )
        raise MissingDependencyError(msg) from err
    return datasketches


def new_kll(k: int) -> Any:
    """Return an empty KLL sketch of doubles."""
    return ds().kll_doubles_sketch(int(k))


def kll_of(values: np.ndarray, k: int) -> Any:
    """Return a KLL sketch of float values (no NaN)."""
    import numpy as np

    sk = new_kll(k)
    if len(values):  # the binding takes contiguous, writable float64 arrays only
        sk.update(np.require(values, dtype=np.float64, requirements=["C", "W"]))
    return sk


def merge_kll(a: Any, b: Any) -> Any:
    """Return a new KLL sketch of both."""
    out = new_kll(a.k)
    out.merge(a)
    out.merge(b)
    return out


def new_hll(lg_k: int) -> Any:
    """Return an empty HLL sketch."""
    return ds().hll_sketch(int(lg_k))


def hll_of(values: Iterable[Any], lg_k: int) -> Any:
    """Return an HLL sketch of values (floats or strings; duplicates are free)."""
    sk = new_hll(lg_k)
    deque(map(sk.update, values), maxlen=0)
    return sk


def merge_hll(a: Any, b: Any, lg_k: int) -> Any:
    """Return a new HLL sketch of both (None when neither is kept)."""
    if a is None or b is None:
        return None
    union = ds().hll_union(int(lg_k))
    union.update(a)
    union.update(b)
    return union.get_result()


def new_fi(lg_max_k: int) -> Any:
    """Return an empty frequent-strings sketch."""
    return ds().frequent_strings_sketch(int(lg_max_k))


def fi_from_counts(counts: dict[str, int], lg_max_k: int) -> Any:
    """Return a frequent-strings sketch of exact counts (weighted updates)."""
    sk = new_fi(lg_max_k)
    for key, weight in counts.items():
        sk.update(key, int(weight))
    return sk


def merge_fi(a: Any, b: Any) -> Any:
    """Return a new frequent-strings sketch of both."""
    out = new_fi(_fi_lg(a))
    out.merge(a)
    out.merge(b)
    return out


def _fi_lg(sk: Any) -> int:
    # the sketch does not expose lg_max_k; it is read back from its epsilon
    for lg in range(3, 27):
        if abs(sk.get_epsilon_for_lg_size(lg) - sk.epsilon) < 1e-15:
            return lg
    msg = "frequent-items sketch of an unknown size"  # pragma: no cover
    raise ValidationError(msg)  # pragma: no cover


def dump(sk: Any) -> bytes:
    """Return a sketch's own serialised bytes."""
    if hasattr(sk, "serialize_compact"):
        return bytes(sk.serialize_compact())
    return bytes(sk.serialize())


def load(kind: str, raw: bytes) -> Any:
    """Rebuild a sketch of ``kind`` (``kll``, ``hll``, ``fi``) from its bytes."""
    cls = {
        "kll": ds().kll_doubles_sketch,
        "hll": ds().hll_sketch,
        "fi": ds().frequent_strings_sketch,
    }[kind]
    try:
        return cls.deserialize(raw)
    except (RuntimeError, ValueError) as err:
        msg = (
            f"Summary.from_dict: the {kind} sketch's bytes do not deserialise ({err})."
        )
        raise ValidationError(msg) from err
