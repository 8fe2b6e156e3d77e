"""A seeded generator of tabular data with planted, recorded problems.

Each effect (drift, bias, label noise, poisoning) draws its randomness from its own
stream of one :class:`numpy.random.SeedSequence`, and categorical features and labels
are coupled to fixed uniform draws. So switching one effect on changes only what that
effect touches: ``scenario(seed=s)`` and ``scenario(seed=s, label_noise=0.1)`` have the
same features and differ in the label exactly on the rows listed in ``flipped``.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError, did_you_mean, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Scenario", "scenario"]

# --- the generative story, as constants (documented in `scenario`) -----------------

_LEVELS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "group": (("A", "B"), (0.7, 0.3)),
    "region": (("north", "south", "east", "west"), (0.4, 0.3, 0.2, 0.1)),
}
_AGE_MEAN, _AGE_SD, _AGE_MIN, _AGE_MAX = 42.0, 12.0, 18, 80
_X5_LOG_MEAN, _X5_LOG_SD = 10.5, 0.5
_INTERCEPT = -0.5
# Coefficients of the *standardized* numeric features in the label's logit.
_COEF = {"x1": 1.0, "x2": -0.8, "x3": 0.5, "x4": 0.0, "x5": 0.6, "age": 0.4}
_REGION_EFFECT = (0.0, -0.3, 0.3, -0.5)
_NUMERIC = ("age", "x1", "x2", "x3", "x4", "x5")
_FEATURES = ("region", "age", "x1", "x2", "x3", "x4", "x5")
_DRIFTABLE = ("group", *_FEATURES)
_OUTLIER_SD = (6.0, 10.0)

_DRIFT_DEFAULTS: dict[str, Any] = {
    "features": ("x1", "region"),
    "start": 0.5,
    "shift": 1.0,
    "kind": "covariate",
}
_BIAS_DEFAULTS: dict[str, Any] = {"group": "B", "strength": 1.0}
_POISON_DEFAULTS: dict[str, Any] = {"rate": 0.05, "target_class": 1, "outliers": 0}
_STREAMS = ("features", "labels", "label_noise", "poison")


@dataclass(frozen=True, eq=False, repr=False)
class Scenario:
    """Synthetic data made by :func:`scenario`, with the truth about what was planted.

    Attributes
    ----------
    frame : pandas.DataFrame
        The data, one row per event. Row ``i`` has ``id == i``.
    target, time, id : str
        Column names of the label (``"y"``), the timestamp (``"timestamp"``) and the
        row identifier (``"id"``), to pass on as column roles.
    sensitive : tuple of str
        Sensitive columns (``("group",)``).
    features : tuple of str
        The model inputs: every column except id, timestamp, group and y.
    drifted_features : tuple of str
        Columns whose distribution (``kind="covariate"``) or whose effect on the
        label (``kind="concept"``) changes from ``drift_start`` on; empty without
        drift.
    drift_start : int or None
        First row (and id) affected by drift; None without drift.
    flipped : numpy.ndarray
        Sorted ids of rows whose label was flipped by ``label_noise``.
    poisoned : numpy.ndarray
        Sorted ids of poisoned rows: targeted label flips and injected outliers.
    disadvantaged_group : tuple of (str, str) or None
        ``(column, value)`` of the group whose labels were biased; None without bias.
    y_clean : numpy.ndarray
        The labels before label noise and poisoning (after bias and drift, which
        are part of how the world generates labels). ``frame[target] != y_clean``
        exactly on ``flipped`` and on the label-changing part of ``poisoned``.
    details : dict
        Exactly what each effect did (shares, coefficients, row ids), see
        :attr:`truth`.
    params : dict
        The resolved arguments, enough to call :func:`scenario` again.
    """

    frame: pd.DataFrame
    drifted_features: tuple[str, ...]
    drift_start: int | None
    flipped: np.ndarray
    poisoned: np.ndarray
    disadvantaged_group: tuple[str, str] | None
    y_clean: np.ndarray
    details: dict[str, Any]
    params: dict[str, Any]
    target: str = "y"
    sensitive: tuple[str, ...] = ("group",)
    time: str = "timestamp"
    id: str = "id"
    features: tuple[str, ...] = field(default=_FEATURES)

    @property
    def truth(self) -> dict[str, Any]:
        """All planted effects as one dict (a copy), for checking detectors."""
        return {
            "drifted_features": list(self.drifted_features),
            "drift_start": self.drift_start,
            "flipped": self.flipped.copy(),
            "poisoned": self.poisoned.copy(),
            "disadvantaged_group": self.disadvantaged_group,
            **{k: _copy(v) for k, v in self.details.items()},
        }

    def split(self, at: int | float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the frame in time into reference and analysis parts.

        Parameters
        ----------
        at : int or float, optional
            First row of the analysis part, as a row number (int) or a share of
            the rows (float in (0, 1)). Defaults to ``drift_start`` when drift was
            planted, else half the rows.

        Returns
        -------
        (pandas.DataFrame, pandas.DataFrame)
            Reference rows ``[0, at)`` and analysis rows ``[at, n)``, each a copy.

        Raises
        ------
        ValidationError
            If `at` leaves either part empty.
        """
        n = len(self.frame)
        if at is None:
            row = self.drift_start if self.drift_start else n // 2
        elif isinstance(at, float):
            row = int(at * n)
        else:
            row = int(at)
        if not 0 < row < n:
            msg = (
                f"Scenario.split(at={at!r}): the split row {row} leaves a part empty. "
                f"Give a row number in 1..{n - 1} or a share in (0, 1)."
            )
            raise ValidationError(msg)
        return self.frame.iloc[:row].copy(), self.frame.iloc[row:].copy()

    def _summary(self) -> list[tuple[str, str]]:
        d = self.details
        rows = [("rows", f"{len(self.frame):,} (seed {self.params['seed']})")]
        if d["drift"]:
            rows.append(
                (
                    "drift",
                    f"{d['drift']['kind']} on {', '.join(self.drifted_features)} "
                    f"from row {self.drift_start:,} (shift {d['drift']['shift']:g})",
                )
            )
        if d["bias"]:
            col, val = self.disadvantaged_group  # type: ignore[misc]
            rows.append(
                ("bias", f"{col}={val!r}: intercept {d['bias']['intercept_shift']:+g}")
            )
        if len(self.flipped):
            rows.append(("label noise", f"{len(self.flipped):,} labels flipped"))
        if d["poison"]:
            p = d["poison"]
            rows.append(
                (
                    "poison",
                    f"{len(p['flipped']):,} class-{p['target_class']} labels flipped, "
                    f"{len(p['outliers']):,} outliers",
                )
            )
        if len(rows) == 1:
            rows.append(("effects", "none (clean)"))
        return rows

    def __repr__(self) -> str:
        """Return a one-line text summary."""
        return "Scenario(" + "; ".join(f"{k}: {v}" for k, v in self._summary()) + ")"

    def _repr_html_(self) -> str:
        """Return a small self-contained HTML table of the planted effects."""
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in self._summary()
        )
        return f"<div><b>Scenario</b><table>{cells}</table></div>"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if hasattr(value, "copy"):
        return value.copy()
    return value


# --- validation --------------------------------------------------------------------


class _Problems:
    """Collects every input problem, then raises them as one ValidationError."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, parameter: str, value: Any, problem: str) -> None:
        self.items.append({"parameter": parameter, "value": value, "problem": problem})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [f"{p['parameter']}={p['value']!r}: {p['problem']}" for p in self.items]
        head = "scenario(): invalid input" + ("s" if len(lines) > 1 else "")
        msg = head + ":\n- " + "\n- ".join(lines)
        raise ValidationError(msg, self.items)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _rate(problems: _Problems, parameter: str, value: Any) -> None:
    if not _is_real(value) or not 0 <= value < 1:
        problems.add(
            parameter, value, "expected a share in [0, 1), e.g. 0.05 for 5% of rows"
        )


def _resolve(
    problems: _Problems, name: str, given: Mapping[str, Any] | None, defaults: dict
) -> dict[str, Any] | None:
    """Merge `given` over `defaults`, reporting unknown keys."""
    if given is None:
        return None
    if not isinstance(given, Mapping):
        problems.add(
            name,
            given,
            f"expected a dict with keys {listing(defaults)} (or None for no {name})",
        )
        return None
    for key in given:
        if key not in defaults:
            problems.add(
                f"{name}[{key!r}]",
                given[key],
                f"unknown key {key!r}. Accepted keys: {listing(defaults)}."
                + did_you_mean(str(key), defaults),
            )
    return {**defaults, **{k: v for k, v in given.items() if k in defaults}}


def _check_drift(problems: _Problems, drift: dict[str, Any]) -> None:
    features = drift["features"]
    if isinstance(features, str):
        features = drift["features"] = (features,)
    if not isinstance(features, Sequence) or not features:
        problems.add(
            "drift['features']",
            features,
            f"expected a non-empty list of column names from {listing(_DRIFTABLE)}",
        )
    else:
        unknown = [name for name in features if name not in _DRIFTABLE]
        for name in unknown:
            problems.add(
                "drift['features']",
                name,
                f"unknown feature {name!r}. Driftable columns: "
                f"{listing(_DRIFTABLE)}." + did_you_mean(str(name), _DRIFTABLE),
            )
        if not unknown:
            drift["features"] = tuple(dict.fromkeys(features))
    _rate(problems, "drift['start']", drift["start"])
    if not _is_real(drift["shift"]) or drift["shift"] == 0:
        problems.add(
            "drift['shift']",
            drift["shift"],
            "expected a non-zero finite number of standard deviations "
            "(use drift=None for no drift)",
        )
    if drift["kind"] not in ("covariate", "concept"):
        problems.add(
            "drift['kind']",
            drift["kind"],
            "expected 'covariate' (the features' distribution changes) or "
            "'concept' (the features' effect on the label changes)"
            + did_you_mean(str(drift["kind"]), ("covariate", "concept")),
        )
    elif drift["kind"] == "concept" and isinstance(drift["features"], tuple):
        for name in drift["features"]:
            if name in ("group", "region"):
                problems.add(
                    "drift['features']",
                    name,
                    "concept drift applies to numeric features only: "
                    f"{listing(_NUMERIC)}",
                )
            elif _COEF[name] == 0:
                problems.add(
                    "drift['features']",
                    name,
                    f"{name!r} has no effect on the label, so concept drift would "
                    "change nothing; pick another numeric feature",
                )


def _check_bias(problems: _Problems, bias: dict[str, Any]) -> None:
    levels = _LEVELS["group"][0]
    if bias["group"] not in levels:
        problems.add(
            "bias['group']",
            bias["group"],
            f"expected a level of column 'group': {listing(levels)}",
        )
    if not _is_real(bias["strength"]) or bias["strength"] < 0:
        problems.add(
            "bias['strength']",
            bias["strength"],
            "expected a number >= 0: how much lower the group's logit intercept is",
        )


def _check_poison(problems: _Problems, poison: dict[str, Any], n: int) -> None:
    _rate(problems, "poison['rate']", poison["rate"])
    if poison["target_class"] not in (0, 1) or isinstance(poison["target_class"], bool):
        problems.add(
            "poison['target_class']",
            poison["target_class"],
            "expected the class (0 or 1) whose labels the attacker flips",
        )
    outliers = poison["outliers"]
    if not _is_int(outliers) or not 0 <= outliers <= n // 2:
        problems.add(
            "poison['outliers']",
            outliers,
            f"expected a number of outlier rows between 0 and n // 2 = {n // 2}",
        )


# --- generation --------------------------------------------------------------------


def _categorical(u: np.ndarray, probs: Sequence[float] | np.ndarray) -> np.ndarray:
    """Map uniform draws to level codes by inverse CDF (a fixed coupling)."""
    import numpy as np

    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def scenario(
    n: int = 10_000,
    seed: int = 0,
    *,
    drift: Mapping[str, Any] | None = None,
    bias: Mapping[str, Any] | None = None,
    label_noise: float = 0.0,
    poison: Mapping[str, Any] | None = None,
    start_time: str = "2024-01-01",
    freq: str = "1min",
) -> Scenario:
    """Generate tabular binary-classification data with known, planted problems.

    Every detector in mlops_nb (drift, fairness, label poisoning, outliers) can be
    shown catching what was planted here, and checked against the recorded truth.

    Parameters
    ----------
    n : int, default 10_000
        Number of rows.
    seed : int, default 0
        Seed (>= 0). The same arguments always give the same data.
    drift : dict, optional
        Plant drift from a row on. Keys (all optional, ``{}`` takes the defaults):

        - ``"features"`` (list of str, default ``["x1", "region"]``): columns to
          drift, any of ``group``, ``region``, ``age``, ``x1`` ... ``x5``;
        - ``"start"`` (float in [0, 1), default 0.5): drift applies to rows
          ``int(start * n)`` and after;
        - ``"shift"`` (non-zero float, default 1.0): size of the change, in
          standard deviations;
        - ``"kind"`` (``"covariate"`` or ``"concept"``, default ``"covariate"``):
          change the features' distribution, or (numeric features only) their
          effect on the label while their distribution stays the same.
    bias : dict, optional
        Make the labels of one group less often positive. Keys: ``"group"``
        (``"A"`` or ``"B"``, default ``"B"``) and ``"strength"`` (float >= 0,
        default 1.0): how much lower that group's logit intercept is.
    label_noise : float, default 0.0
        Share of rows, in [0, 1), whose label is flipped, chosen uniformly at
        random (exactly ``round(label_noise * n)`` rows).
    poison : dict, optional
        Plant a label-flipping attack. Keys: ``"rate"`` (float in [0, 1), default
        0.05): share of the rows labelled ``target_class`` (among rows not already
        flipped by noise) whose label is flipped to the other class;
        ``"target_class"`` (0 or 1, default 1); ``"outliers"`` (int, default 0):
        number of further rows whose numeric features ``x1`` ... ``x5`` are
        replaced by extreme values (6 to 10 standard deviations out) and whose
        label is set to ``1 - target_class``.
    start_time : str, default "2024-01-01"
        Timestamp of the first row.
    freq : str, default "1min"
        Time between consecutive rows, as a pandas offset (``"1min"``, ``"h"``,
        ``"D"``).

    Returns
    -------
    Scenario
        ``.frame`` has the columns ``id`` (int, equal to the row number),
        ``timestamp`` (datetime, increasing by `freq`), ``group`` (categorical,
        sensitive), ``region`` (categorical), ``age`` (int), ``x1`` ... ``x5``
        (float) and ``y`` (int 0/1, the target); the other attributes hold the
        column roles and the truth about each planted effect.

    Raises
    ------
    ValidationError
        If any argument is out of range, a dict has an unknown key, or a drift
        feature is not a column. All problems are reported in one error, with a
        ``failure_cases`` table.

    See Also
    --------
    employment : real census data with real temporal drift.

    Notes
    -----
    The generative story. Without effects, every row is drawn independently from
    one distribution (the data are clean and stationary):

    1. ``group`` is ``"B"`` with probability 0.3, else ``"A"``, independent of
       everything else; ``region`` is north/south/east/west with probabilities
       0.4/0.3/0.2/0.1.
    2. ``age`` is round(N(42, 12²)) clipped to [18, 80]; ``x1``, ``x2``, ``x4`` are
       N(0, 1); ``x3 = 0.5·x1 + √0.75·N(0, 1)`` (correlated with ``x1``);
       ``x5`` is log-normal, ``exp(N(10.5, 0.5²))``, income-like (median ≈ 36,000).
    3. ``y`` is Bernoulli(sigmoid(η)) with
       ``η = -0.5 + 1.0·x1 - 0.8·x2 + 0.5·x3 + 0.6·z5 + 0.4·zage + r``, where
       ``z5 = (ln x5 - 10.5)/0.5``, ``zage = (age - 42)/12``, ``r`` is 0, -0.3,
       +0.3, -0.5 for north, south, east, west; ``x4`` and ``group`` have no
       effect. About 40% of labels are positive; the Bayes AUC is about 0.84.

    The effects, applied in this order, each recorded in the result:

    - covariate drift: from ``drift_start`` on, a numeric feature gains
      ``shift`` standard deviations (for ``x5``, on the log scale; ``age`` is
      rounded); a categorical feature's rarest level (``"west"``, ``"B"``) gains
      weight ``w = |shift| / (1 + |shift|)``: probabilities become
      ``(1 - w)·p + w·[level]``. Labels follow the new features through the same
      model (the concept does not change). Concept drift instead multiplies each
      listed feature's coefficient by ``1 - shift`` (``shift=1`` removes its
      effect, ``shift=2`` reverses it) while the features keep their distribution.
    - bias: the chosen group's intercept is lowered by ``strength``.
    - label noise, then poisoning, flip labels of distinct rows.

    Each step draws from its own random stream, labels use fixed uniform draws
    ``u`` (``y = u < p``) and categories fixed inverse-CDF draws, so turning an
    effect on changes nothing else: with the same seed, labels differ from the
    effect-free ones exactly where the effect acted.

    Examples
    --------
    >>> from mlops_nb.datasets import scenario
    >>> s = scenario(1_000, seed=1, drift={"features": ["x1"]}, label_noise=0.1)
    >>> s.frame.shape
    (1000, 11)
    >>> s.drifted_features, s.drift_start, len(s.flipped)
    (('x1',), 500, 100)
    >>> bool((s.frame["y"] != s.y_clean).sum() == 100)
    True
    """
    import numpy as np
    import pandas as pd
    from pandas.tseries.frequencies import to_offset

    problems = _Problems()
    if not _is_int(n) or n < 1:
        problems.add("n", n, "expected a whole number of rows >= 1")
    if not _is_int(seed) or seed < 0:
        problems.add("seed", seed, "expected a whole number >= 0")
    _rate(problems, "label_noise", label_noise)
    drift_ = _resolve(problems, "drift", drift, _DRIFT_DEFAULTS)
    bias_ = _resolve(problems, "bias", bias, _BIAS_DEFAULTS)
    poison_ = _resolve(problems, "poison", poison, _POISON_DEFAULTS)
    if drift_ is not None:
        _check_drift(problems, drift_)
    if bias_ is not None:
        _check_bias(problems, bias_)
    if poison_ is not None and _is_int(n):
        _check_poison(problems, poison_, int(n))
    try:
        step = pd.Timedelta(to_offset(freq))
        t0 = pd.Timestamp(start_time)
    except (TypeError, ValueError) as err:
        problems.add("freq/start_time", (freq, start_time), f"not a time: {err}")
    else:
        if step <= pd.Timedelta(0):
            problems.add("freq", freq, "expected a positive fixed step like '1min'")
    problems.raise_if_any()

    n, seed = int(n), int(seed)
    rng = dict(
        zip(
            _STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)),
            strict=True,
        )
    )

    # 1-2. Features, always drawn in the same order from the same stream.
    g = rng["features"]
    u_group, u_region = g.random(n), g.random(n)
    z_age = g.standard_normal(n)
    x1, x2, e3, x4, z5 = g.standard_normal((5, n))
    x3 = 0.5 * x1 + math.sqrt(0.75) * e3
    age = np.clip(np.round(_AGE_MEAN + _AGE_SD * z_age), _AGE_MIN, _AGE_MAX)
    num = {"age": age, "x1": x1, "x2": x2, "x3": x3, "x4": x4, "z5": z5}
    probs = {col: np.array(p) for col, (_, p) in _LEVELS.items()}
    codes = {
        "group": _categorical(u_group, probs["group"]),
        "region": _categorical(u_region, probs["region"]),
    }
    coef = {name: np.full(n, c) for name, c in _COEF.items()}

    drift_details = None
    if drift_ is not None:
        row0 = int(drift_["start"] * n)
        after = slice(row0, n)
        shift = float(drift_["shift"])
        changes: dict[str, Any] = {}
        for name in drift_["features"]:
            if drift_["kind"] == "concept":
                coef[name][after] = _COEF[name] * (1.0 - shift)
                changes[name] = {
                    "coefficient_before": _COEF[name],
                    "coefficient_after": _COEF[name] * (1.0 - shift),
                }
            elif name in _LEVELS:
                levels, p = _LEVELS[name]
                w = abs(shift) / (1.0 + abs(shift))
                rare = int(np.argmin(p))
                p_after = (1.0 - w) * np.array(p)
                p_after[rare] += w
                u = u_group if name == "group" else u_region
                codes[name][after] = _categorical(u[after], p_after)
                changes[name] = {
                    "level": levels[rare],
                    "share_before": dict(zip(levels, p, strict=True)),
                    "share_after": {
                        lv: round(float(v), 6)
                        for lv, v in zip(levels, p_after, strict=True)
                    },
                }
            elif name == "age":
                delta = round(shift * _AGE_SD)
                age[after] = np.clip(age[after] + delta, _AGE_MIN, 99)
                changes[name] = {"mean_shift": float(delta), "sd": _AGE_SD}
            elif name == "x5":
                num["z5"][after] += shift
                changes[name] = {"log_mean_shift": shift * _X5_LOG_SD}
            else:
                num[name][after] += shift
                changes[name] = {"mean_shift": shift, "sd": 1.0}
        drift_details = {
            "kind": drift_["kind"],
            "features": list(drift_["features"]),
            "start": row0,
            "shift": shift,
            "changes": changes,
        }

    # 3. Labels from fixed uniform draws, so effects change only what they touch.
    eta = (
        _INTERCEPT
        + coef["x1"] * num["x1"]
        + coef["x2"] * num["x2"]
        + coef["x3"] * num["x3"]
        + coef["x4"] * num["x4"]
        + coef["x5"] * num["z5"]
        + coef["age"] * (age - _AGE_MEAN) / _AGE_SD
        + np.array(_REGION_EFFECT)[codes["region"]]
    )
    bias_details = None
    if bias_ is not None:
        level = _LEVELS["group"][0].index(bias_["group"])
        strength = float(bias_["strength"])
        eta = eta - strength * (codes["group"] == level)
        bias_details = {
            "column": "group",
            "value": bias_["group"],
            "intercept_shift": -strength,
        }
    u_label = rng["labels"].random(n)
    y_clean = (u_label < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    y = y_clean.copy()

    k = round(float(label_noise) * n)
    flipped = np.sort(rng["label_noise"].choice(n, size=k, replace=False))
    flipped = flipped.astype(np.int64)
    y[flipped] = 1 - y[flipped]

    x5 = np.exp(_X5_LOG_MEAN + _X5_LOG_SD * num["z5"])
    poison_details = None
    poisoned = np.empty(0, dtype=np.int64)
    label_rows = out_rows = poisoned
    if poison_ is not None:
        prng = rng["poison"]
        target = int(poison_["target_class"])
        taken = np.zeros(n, dtype=bool)
        taken[flipped] = True
        candidates = np.flatnonzero((y == target) & ~taken)
        m = round(float(poison_["rate"]) * len(candidates))
        label_rows = np.sort(prng.choice(candidates, size=m, replace=False))
        y[label_rows] = 1 - target
        taken[label_rows] = True
        free = np.flatnonzero(~taken)
        n_out = int(poison_["outliers"])
        if n_out > len(free):
            msg = (
                f"scenario(poison={{'outliers': {n_out}}}): only {len(free)} rows "
                "are left after label noise and label flips. Lower 'outliers', "
                "'rate' or label_noise."
            )
            raise ValidationError(msg)
        out_rows = np.sort(prng.choice(free, size=n_out, replace=False))
        for col in ("x1", "x2", "x3", "x4", "z5"):
            size = prng.uniform(*_OUTLIER_SD, n_out) * prng.choice([-1.0, 1.0], n_out)
            num[col][out_rows] = size if col != "z5" else np.abs(size)
        x5[out_rows] = np.exp(_X5_LOG_MEAN + _X5_LOG_SD * num["z5"][out_rows])
        y[out_rows] = 1 - target
        poisoned = np.union1d(label_rows, out_rows).astype(np.int64)
        poison_details = {
            "target_class": target,
            "rate": float(poison_["rate"]),
            "flipped": label_rows,
            "outliers": out_rows,
        }

    frame = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "timestamp": pd.date_range(t0, periods=n, freq=step),
            **{
                col: pd.Categorical.from_codes(codes[col], categories=list(levels))
                for col, (levels, _) in _LEVELS.items()
            },
            "age": age.astype(np.int64),
            "x1": num["x1"],
            "x2": num["x2"],
            "x3": num["x3"],
            "x4": num["x4"],
            "x5": x5,
            "y": y,
        }
    )
    for arr in (flipped, poisoned, y_clean, label_rows, out_rows):
        arr.setflags(write=False)
    params = {
        "n": n,
        "seed": seed,
        "drift": drift_,
        "bias": bias_,
        "label_noise": float(label_noise),
        "poison": poison_,
        "start_time": str(start_time),
        "freq": str(freq),
    }
    return Scenario(
        frame=frame,
        drifted_features=tuple(drift_["features"]) if drift_ else (),
        drift_start=drift_details["start"] if drift_details else None,
        flipped=flipped,
        poisoned=poisoned,
        disadvantaged_group=("group", bias_["group"]) if bias_ else None,
        y_clean=y_clean,
        details={
            "drift": drift_details,
            "bias": bias_details,
            "label_noise": {"rate": float(label_noise), "flipped": flipped},
            "poison": poison_details,
        },
        params=params,
    )
