"""Choosing a variant by the 4 P's: Purpose, Performance, Power and Price.

- **Purpose**: what the model must still achieve — ``min_value``, the least share of
  the original model's money value per 1,000 cases (of its accuracy when the project
  has no value canvas) — and a sentence saying what it is for.
- **Performance**: single-row latency budgets (``latency_ms`` on the median,
  ``p99_ms`` on the 99th percentile).
- **Power**: file size, peak memory and energy per 1,000 predictions.
- **Price**: a price per 1,000 predictions, derived from the measured energy and the
  ``price_per_kwh`` you give.

Only numbers measured by :func:`optimize` or given by you are used; a budget on a
number that was not measured fails rather than being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from mlops_nb.deploy._bundle import EdgeBundle
    from mlops_nb.deploy._serve import Server
    from mlops_nb.deploy._variants import Variant, Variants
    from mlops_nb.ui._blocks import Tone

# budget parameter -> (measured key, unit scale, "max"/"min", label)
BUDGETS: dict[str, tuple[str, float, str, str]] = {
    "latency_ms": ("latency_p50_ms", 1.0, "max", "p50 latency (ms)"),
    "p99_ms": ("latency_p99_ms", 1.0, "max", "p99 latency (ms)"),
    "size_mb": ("size_bytes", 1e-6, "max", "size (MB)"),
    "memory_mb": ("peak_memory_mb", 1.0, "max", "peak memory (MB)"),
    "energy_wh_per_1000": ("energy_wh_per_1000", 1.0, "max", "energy (Wh / 1,000)"),
    "max_price_per_1000": ("price_per_1000", 1.0, "max", "price / 1,000"),
    "min_value": ("value_ratio", 1.0, "min", "value share"),
}
PREFER = {
    "value": ("value_ratio", "max"),
    "latency": ("latency_p50_ms", "min"),
    "size": ("size_bytes", "min"),
    "energy": ("energy_wh_per_1000", "min"),
    "memory": ("peak_memory_mb", "min"),
}


def choose(
    variants: Variants,
    *,
    purpose: str = "",
    latency_ms: float | None = None,
    p99_ms: float | None = None,
    size_mb: float | None = None,
    memory_mb: float | None = None,
    energy_wh_per_1000: float | None = None,
    price_per_kwh: float | None = None,
    max_price_per_1000: float | None = None,
    min_value: float | None = None,
    prefer: str = "value",
) -> Choice:
    """Pick the best measured variant that meets every budget, and say why.

    Parameters
    ----------
    variants : Variants
        What :func:`optimize` measured.
    purpose : str
        What the model is for (recorded with the choice).
    latency_ms, p99_ms : float, optional
        Largest median / 99th-percentile single-row latency, in milliseconds.
    size_mb, memory_mb : float, optional
        Largest ONNX file size and peak memory, in MB.
    energy_wh_per_1000 : float, optional
        Largest energy per 1,000 single-row predictions, in Wh.
    price_per_kwh : float, optional
        Your electricity price; gives each variant a price per 1,000 predictions.
    max_price_per_1000 : float, optional
        Largest price per 1,000 predictions (needs ``price_per_kwh``).
    min_value : float, optional
        Least share of the original model's money value (or accuracy), e.g. 0.98.
    prefer : {"value", "latency", "size", "energy", "memory"}
        What "best" means among the variants within budget. Values equal to four
        significant digits tie; ties go to the smaller file, then the faster one.

    Returns
    -------
    Choice
        ``.variant`` is the pick, or None with ``.explanation`` naming the budgets
        no variant meets.
    """
    given = {
        "latency_ms": latency_ms,
        "p99_ms": p99_ms,
        "size_mb": size_mb,
        "memory_mb": memory_mb,
        "energy_wh_per_1000": energy_wh_per_1000,
        "max_price_per_1000": max_price_per_1000,
        "min_value": min_value,
    }
    problems = [
        f"{k}={v!r} must be a number >= 0"
        for k, v in {**given, "price_per_kwh": price_per_kwh}.items()
        if v is not None
        and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0)
    ]
    if max_price_per_1000 is not None and price_per_kwh is None:
        problems.append(
            "max_price_per_1000 needs price_per_kwh (the price of one kWh) to price "
            "predictions"
        )
    if prefer not in PREFER:
        problems.append(f"prefer={prefer!r} must be one of {', '.join(PREFER)}")
    if problems:
        raise ValidationError("choose(): " + "; ".join(problems) + ".")
    budgets = {k: float(v) for k, v in given.items() if v is not None}
    rows = []
    for r in variants.rows:
        if not (r["status"] == "measured" and r.get("digest")):
            continue
        r = dict(r)
        energy = r.get("energy_wh_per_1000")
        r["price_per_1000"] = (
            energy / 1000 * price_per_kwh
            if price_per_kwh is not None and energy is not None
            else None
        )
        checks = {}
        for name, limit in budgets.items():
            key, scale, sense, _ = BUDGETS[name]
            value = r.get(key)
            if value is None:
                checks[name] = (False, "not measured")
                continue
            value *= scale
            ok = value <= limit if sense == "max" else value >= limit
            checks[name] = (
                ok,
                f"{value:.4g} {'≤' if sense == 'max' else '≥'} {limit:g}"
                if ok
                else f"{value:.4g} {'>' if sense == 'max' else '<'} {limit:g}",
            )
        r["checks"] = checks
        rows.append(r)
    key, sense = PREFER[prefer]
    feasible = [
        r
        for r in rows
        if all(ok for ok, _ in r["checks"].values()) and r.get(key) is not None
    ]
    sign = -1 if sense == "max" else 1
    # ties (4 significant digits; latency to 2, below its noise) go to the smaller,
    # then the faster file
    feasible.sort(
        key=lambda r: (
            sign * float(f"{r[key]:.4g}"),
            r.get("size_bytes") or 0,
            float(f"{r.get('latency_p50_ms') or 0:.2g}"),
        )
    )
    pick = feasible[0] if feasible else None
    unmet = [name for name in budgets if not any(r["checks"][name][0] for r in rows)]
    explanation = _explain(pick, rows, feasible, budgets, unmet, prefer)
    chosen = variants[pick["name"]] if pick else None
    return Choice(
        variants,
        chosen,
        explanation,
        rows,
        budgets,
        unmet,
        purpose,
        price_per_kwh,
        prefer,
    )


def _explain(
    pick: dict[str, Any] | None,
    rows: list[dict[str, Any]],
    feasible: list[dict[str, Any]],
    budgets: dict[str, float],
    unmet: list[str],
    prefer: str,
) -> str:
    if not rows:
        return (
            "No measured ONNX variant to choose from: run model.optimize(data) with "
            "variants that load."
        )
    if pick is not None:
        met = (
            "; ".join(f"{BUDGETS[n][3]} {pick['checks'][n][1]}" for n in budgets)
            or "no budgets given"
        )
        return (
            f"Chose {pick['name']!r}: it meets every budget ({met}) and has the best "
            f"{prefer} of the "
            f"{len(feasible)} of {len(rows)} variants that do."
        )
    if unmet:
        parts = []
        for name in unmet:
            key, scale, sense, label = BUDGETS[name]
            values = [r[key] * scale for r in rows if r.get(key) is not None]
            best = (min(values) if sense == "max" else max(values)) if values else None
            parts.append(
                f"{name}={budgets[name]:g} (best measured {label}: "
                f"{'not measured' if best is None else f'{best:.4g}'})"
            )
        return (
            "No variant meets every budget. Budgets no variant meets: "
            + "; ".join(parts)
            + "."
        )
    closest = min(rows, key=lambda r: sum(not ok for ok, _ in r["checks"].values()))
    failing = "; ".join(
        f"{n} ({why})" for n, (ok, why) in closest["checks"].items() if not ok
    )
    return (
        "No variant meets every budget, though each budget alone is met by some "
        "variant. Closest: "
        f"{closest['name']!r}, which misses {failing}."
    )


@dataclass(frozen=True, eq=False, repr=False)
class Choice(Displayable):
    """The outcome of :func:`choose`: the pick (or None) and why."""

    variants: Variants = field(repr=False)
    variant: Variant | None
    explanation: str
    candidates: list[dict[str, Any]] = field(repr=False)
    budgets: dict[str, float]
    unmet: list[str]
    purpose: str = ""
    price_per_kwh: float | None = None
    prefer: str = "value"

    @property
    def ok(self) -> bool:
        """Whether a variant met every budget."""
        return self.variant is not None

    def _require(self, action: str) -> Variant:
        if self.variant is None:
            msg = (
                f"cannot {action}: {self.explanation} Relax a budget and choose again."
            )
            raise ValidationError(msg)
        return self.variant

    def bundle(self, path: str | Path, *, overwrite: bool = False) -> EdgeBundle:
        """Bundle the chosen variant; see :meth:`Variant.bundle`."""
        return self._require("bundle").bundle(path, overwrite=overwrite)

    def serve(self, **options: Any) -> Server:
        """Serve the chosen variant; see :meth:`Variant.serve`."""
        return self._require("serve").serve(**options)

    def to_frame(self) -> pd.DataFrame:
        """Each candidate with the outcome of each budget."""
        import pandas as pd

        out = []
        for r in self.candidates:
            row = {
                "variant": r["name"],
                "meets all": all(ok for ok, _ in r["checks"].values()),
            }
            for name, (ok, why) in r["checks"].items():
                row[name] = ("✓ " if ok else "✗ ") + why
            if self.price_per_kwh is not None:
                row["price / 1,000"] = r.get("price_per_1000")
            out.append(row)
        return pd.DataFrame(out)

    def _view(self) -> View:
        b = self.budgets
        cur = self.variants.payload.get("currency") or ""

        def fmt(*names: str) -> str:
            return ", ".join(f"{n} ≤ {b[n]:g}" for n in names if n in b) or "no budget"

        four = KeyValues(
            [
                (
                    "Purpose",
                    (self.purpose or "—")
                    + (
                        f"; at least {b['min_value']:.0%} of the model's value"
                        if "min_value" in b
                        else ""
                    ),
                ),
                ("Performance", fmt("latency_ms", "p99_ms")),
                ("Power", fmt("size_mb", "memory_mb", "energy_wh_per_1000")),
                (
                    "Price",
                    (
                        f"{self.price_per_kwh:g} {cur} per kWh"
                        if self.price_per_kwh is not None
                        else "no price given"
                    )
                    + (
                        f"; at most {b['max_price_per_1000']:g} per 1,000 predictions"
                        if "max_price_per_1000" in b
                        else ""
                    ),
                ),
                ("preferred", self.prefer),
            ]
        )
        tone: Tone = "ok" if self.ok else "error"
        tabs = [
            Tab("Choice", [Text(self.explanation, tone), four]),
            Tab("Candidates", [Table(self.to_frame(), max_rows=40)]),
        ]
        title = self.variants.payload["model"]
        summary = self.variant.name if self.variant else "no variant meets every budget"
        badge: tuple[str, Tone] = (
            ("chosen", "ok") if self.ok else ("nothing fits", "error")
        )
        return View("Choice", title, summary, [badge], tabs)
