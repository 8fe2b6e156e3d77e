"""Mergeable column summaries: summarize -> merge -> finalize.

A :class:`Summary` describes some rows of a table, one entry per column of a
:class:`SummarySpec`. Summaries of disjoint sets of rows merge into the summary of
their union, in any order and grouping, so the same code profiles a frame in memory,
a parquet file batch by batch, or a Dask DataFrame partition by partition
(:mod:`mlops_nb.data._summarize`).

What is exact, and what is sketched:

- exact (integers bit for bit; floats within rounding, about 1e-15 relative):
  row, value and null counts, minimum, maximum, mean, variance and third central
  moment (two-pass per batch, Chan et al.'s parallel formulas to merge), histograms on
  edges given by the spec (an outer bin below the first edge and one above the
  last, numpy's ``histogram`` semantics inside, with the sum of the values in each
  outer bin), category counts while a column has at most ``category_cap``
  categories, and counts of the spec's reference categories always;
- sketched, each figure with its bound: quantiles (KLL, ``kll_doubles_sketch``,
  normalised rank error), distinct counts (HLL, ``hll_sketch``, bounds at 3
  standard deviations) and, past the cap, category frequencies
  (``frequent_strings_sketch``, a lower and upper bound per category).

A summary serialises to JSON (:meth:`Summary.to_dict`), the sketches as their own
``serialize()`` bytes in base64: nothing is pickled. ``NaN`` and ``None`` are
nulls; infinite values count as values (and in the min/max, histogram and
quantiles) but stay out of the moments, which cover finite values only.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

FORMAT = "mlops_nb.summary"
VERSION = 1
#: HLL bounds are given at this many standard deviations (about 99.7%)
HLL_STD_DEVS = 3


@dataclass(frozen=True)
class ColumnSpec:
    """What to record for one column.

    Parameters
    ----------
    kind : {"numeric", "categorical"}
        Numeric columns get moments, histograms and quantiles; categorical ones
        category counts.
    edges : tuple of float, optional
        Inner edges of a histogram (at least two, increasing), usually taken from a
        reference; two outer bins catch values below and above them.
    fine : (float, float, int), optional
        A second histogram of ``int`` equal bins between two values (for KS and
        Wasserstein), stored as a triple so the spec stays small.
    categories : tuple of str, optional
        Reference categories, always counted exactly (plus one count of the rest).
    """

    kind: Literal["numeric", "categorical"]
    edges: tuple[float, ...] | None = None
    fine: tuple[float, float, int] | None = None
    categories: tuple[str, ...] | None = None

    def edge_arrays(self) -> dict[str, np.ndarray]:
        """Return the histograms' edges by name (``"bins"``, ``"fine"``)."""
        import numpy as np

        out = {}
        if self.edges is not None:
            out["bins"] = np.asarray(self.edges, dtype="float64")
        if self.fine is not None:
            lo, hi, n = self.fine
            out["fine"] = np.linspace(lo, hi, int(n) + 1)
        return out


@dataclass(frozen=True)
class SummarySpec:
    """The columns to summarise and the sketches' sizes.

    Parameters
    ----------
    columns : dict
        Column name -> :class:`ColumnSpec`.
    category_cap : int
        Exact category counts up to this many categories, then a frequent-items
        sketch.
    kll_k : int
        KLL sketch size (200: about 1.3% rank error).
    hll_lg_k : int
        log2 of the HLL sketch's registers (12: about 1.6% relative error at 1 sd).
    fi_lg_max_k : int
        log2 of the frequent-items sketch's largest map.
    distinct : bool
        Keep an HLL sketch of numeric columns (it costs one Python call per value).
    """

    columns: dict[str, ColumnSpec]
    category_cap: int = 1000
    kll_k: int = 200
    hll_lg_k: int = 12
    fi_lg_max_k: int = 10
    distinct: bool = True

    def __post_init__(self) -> None:
        problems = []
        for name, col in self.columns.items():
            if col.kind not in ("numeric", "categorical"):
                problems.append({"column": name, "problem": f"kind {col.kind!r}"})
            if col.edges is not None and (
                len(col.edges) < 2
                or any(not math.isfinite(e) for e in col.edges)
                or any(b <= a for a, b in zip(col.edges, col.edges[1:], strict=False))
            ):
                problems.append(
                    {"column": name, "problem": "edges not finite and increasing"}
                )
        if self.category_cap < 1:
            problems.append({"column": "", "problem": "category_cap < 1"})
        if problems:
            msg = (
                "SummarySpec: "
                + "; ".join(f"{p['column']!r}: {p['problem']}" for p in problems)
                + ". Give kind 'numeric' or 'categorical', at least two finite "
                "increasing edges, and a category_cap of 1 or more."
            )
            raise ValidationError(msg, problems)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data."""
        cols = {}
        for name, c in self.columns.items():
            cols[name] = {
                "kind": c.kind,
                "edges": None if c.edges is None else list(c.edges),
                "fine": None if c.fine is None else list(c.fine),
                "categories": None if c.categories is None else list(c.categories),
            }
        return {
            "columns": cols,
            "category_cap": self.category_cap,
            "kll_k": self.kll_k,
            "hll_lg_k": self.hll_lg_k,
            "fi_lg_max_k": self.fi_lg_max_k,
            "distinct": self.distinct,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SummarySpec:
        """Rebuild a spec from :meth:`to_dict`'s data."""
        cols = {}
        for name, c in data["columns"].items():
            fine = c.get("fine")
            cols[name] = ColumnSpec(
                kind=c["kind"],
                edges=None if c.get("edges") is None else tuple(map(float, c["edges"])),
                fine=None
                if fine is None
                else (float(fine[0]), float(fine[1]), int(fine[2])),
                categories=None
                if c.get("categories") is None
                else tuple(map(str, c["categories"])),
            )
        rest = {
            k: data[k]
            for k in ("category_cap", "kll_k", "hll_lg_k", "fi_lg_max_k", "distinct")
            if k in data
        }
        return cls(columns=cols, **rest)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as err:
        msg = f"Summary.from_dict: {what} is not base64 text; the summary is damaged."
        raise ValidationError(msg) from err


@dataclass
class Histogram:
    """Counts on fixed edges: ``counts[0]`` below, ``counts[-1]`` above them."""

    counts: np.ndarray
    below_sum: float = 0.0
    above_sum: float = 0.0

    def merge(self, other: Histogram) -> Histogram:
        """Return the histogram of both sets of values."""
        return Histogram(
            self.counts + other.counts,
            self.below_sum + other.below_sum,
            self.above_sum + other.above_sum,
        )


@dataclass
class NumericSummary:
    """Moments, extremes, histograms and sketches of one numeric column."""

    n: int = 0  # values (not null), infinite ones included
    nulls: int = 0
    n_inf: int = 0
    mean: float = 0.0  # of the finite values
    m2: float = 0.0
    m3: float = 0.0
    min: float | None = None
    max: float | None = None
    hists: dict[str, Histogram] = field(default_factory=dict)
    kll: Any = None
    hll: Any = None

    def merge(self, o: NumericSummary, spec: SummarySpec) -> NumericSummary:
        """Return the summary of both sets of rows (Chan et al.'s formulas)."""
        from mlops_nb.data import _sketches as sk

        na, nb = self.n - self.n_inf, o.n - o.n_inf
        n = na + nb
        if na == 0 or nb == 0:
            mean, m2, m3 = (
                (o.mean, o.m2, o.m3) if na == 0 else (self.mean, self.m2, self.m3)
            )
        else:
            d = o.mean - self.mean
            mean = self.mean + d * nb / n
            m2 = self.m2 + o.m2 + d * d * na * nb / n
            m3 = (
                self.m3
                + o.m3
                + d**3 * na * nb * (na - nb) / (n * n)
                + 3.0 * d * (na * o.m2 - nb * self.m2) / n
            )
        lo = [v for v in (self.min, o.min) if v is not None]
        hi = [v for v in (self.max, o.max) if v is not None]
        return NumericSummary(
            n=self.n + o.n,
            nulls=self.nulls + o.nulls,
            n_inf=self.n_inf + o.n_inf,
            mean=mean,
            m2=m2,
            m3=m3,
            min=min(lo) if lo else None,
            max=max(hi) if hi else None,
            hists={k: h.merge(o.hists[k]) for k, h in self.hists.items()},
            kll=sk.merge_kll(self.kll, o.kll),
            hll=sk.merge_hll(self.hll, o.hll, spec.hll_lg_k),
        )


@dataclass
class CategoricalSummary:
    """Category counts (exact up to a cap, then sketched) of one column."""

    n: int = 0
    nulls: int = 0
    counts: dict[str, int] | None = field(default_factory=dict)  # None past the cap
    fi: Any = None  # frequent_strings_sketch past the cap
    ref: np.ndarray | None = None  # spec categories, then one count of the rest
    hll: Any = None

    def merge(self, o: CategoricalSummary, spec: SummarySpec) -> CategoricalSummary:
        """Return the summary of both sets of rows."""
        from mlops_nb.data import _sketches as sk

        counts: dict[str, int] | None = None
        fi = None
        if self.counts is not None and o.counts is not None:
            counts = dict(self.counts)
            for k, v in o.counts.items():
                counts[k] = counts.get(k, 0) + v
            if len(counts) > spec.category_cap:
                fi, counts = sk.fi_from_counts(counts, spec.fi_lg_max_k), None
        else:
            fi = sk.merge_fi(
                self.fi or sk.fi_from_counts(self.counts or {}, spec.fi_lg_max_k),
                o.fi or sk.fi_from_counts(o.counts or {}, spec.fi_lg_max_k),
            )
        ref = None
        if self.ref is not None and o.ref is not None:
            ref = self.ref + o.ref
        return CategoricalSummary(
            n=self.n + o.n,
            nulls=self.nulls + o.nulls,
            counts=counts,
            fi=fi,
            ref=ref,
            hll=sk.merge_hll(self.hll, o.hll, spec.hll_lg_k),
        )


ColumnSummary = NumericSummary | CategoricalSummary


@dataclass
class Summary:
    """A mergeable summary of some rows: one column summary per spec column."""

    spec: SummarySpec
    rows: int = 0
    columns: dict[str, ColumnSummary] = field(default_factory=dict)

    def merge(self, other: Summary) -> Summary:
        """Return the summary of the rows of both (of the same spec).

        Raises
        ------
        ValidationError
            When the two summaries were made with different specs.
        """
        if other.spec != self.spec:
            msg = (
                "Summary.merge: the two summaries were made with different specs "
                "(columns, edges or sketch sizes); summarise both with one spec."
            )
            raise ValidationError(msg)
        cols = {
            name: col.merge(other.columns[name], self.spec)  # type: ignore[arg-type]
            for name, col in self.columns.items()
        }
        return Summary(self.spec, self.rows + other.rows, cols)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: numbers, lists and base64 sketch bytes."""
        from mlops_nb.data import _summary_json

        return _summary_json.to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Rebuild a summary from :meth:`to_dict`'s data (no pickle involved).

        Raises
        ------
        ValidationError
            When the data is not a summary of this format.
        """
        from mlops_nb.data import _summary_json

        return _summary_json.from_dict(data)

    def finalize(self) -> dict[str, dict[str, Any]]:
        """Return the figures of each column, each sketched one with its bound.

        Returns
        -------
        dict
            Column -> figures: ``count``, ``nulls``, ``mean``, ``var`` (ddof=1),
            ``std``, ``skewness``, ``min``, ``max``, ``histograms``,
            ``quantiles`` (with ``rank_error``), ``distinct`` (``estimate``,
            ``lower``, ``upper``, ``exact``) and, for categories, ``top``.
        """
        from mlops_nb.data import _summary_json

        return _summary_json.finalize(self)


def empty(spec: SummarySpec) -> Summary:
    """Return the summary of no rows: the identity of :meth:`Summary.merge`."""
    import numpy as np

    from mlops_nb.data import _sketches as sk

    cols: dict[str, ColumnSummary] = {}
    for name, c in spec.columns.items():
        if c.kind == "numeric":
            hists = {
                k: Histogram(np.zeros(len(e) + 1, dtype=np.int64))
                for k, e in c.edge_arrays().items()
            }
            cols[name] = NumericSummary(
                hists=hists,
                kll=sk.new_kll(spec.kll_k),
                hll=sk.new_hll(spec.hll_lg_k) if spec.distinct else None,
            )
        else:
            ref = None
            if c.categories is not None:
                ref = np.zeros(len(c.categories) + 1, dtype=np.int64)
            cols[name] = CategoricalSummary(ref=ref, hll=sk.new_hll(spec.hll_lg_k))
    return Summary(spec, 0, cols)


def merge_all(summaries: list[Summary], spec: SummarySpec | None = None) -> Summary:
    """Merge summaries pairwise as a balanced tree (the empty summary when none).

    Parameters
    ----------
    summaries : list of Summary
        Summaries of disjoint rows, made with one spec.
    spec : SummarySpec, optional
        Needed only when ``summaries`` is empty.
    """
    if not summaries:
        if spec is None:
            msg = "merge_all: no summaries and no spec; pass spec= for an empty result."
            raise ValidationError(msg)
        return empty(spec)
    level = list(summaries)
    while len(level) > 1:
        nxt = [a.merge(b) for a, b in zip(level[::2], level[1::2], strict=False)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
