"""The options of a monitor: checked once, stored with it, described in words.

====================  ==================================================================
option                meaning (default)
====================  ==================================================================
``chunk``             a column (``"year"``), a period of the time column (``"M"``,
                      ``"30D"``) or rows per chunk (``5000``); see ``_chunking``
``n_chunks``          or this many equal chunks (default 10 when ``chunk`` is not given)
``statistics``        shorthand for both lists below (each keeps the names that apply)
``continuous``        statistics of numeric columns (JS, KS, Wasserstein, PSI,
                      Hellinger)
``categorical``       statistics of categorical columns (chi2, JS, L-infinity, PSI)
``alert_on``          the statistics whose threshold crossings are alerts
                      (``("jensen_shannon",)``, as nannyml)
``thresholds``        constant thresholds, ``{"psi": 0.2, "hellinger": (None, 0.1)}``;
                      the others are mean + ``std`` standard deviations of the reference
                      chunks' values
``std``               that multiplier (3.0)
``exact``             KS and Wasserstein on raw values; default: when the reference has
                      fewer than 10,000 rows (nannyml's rule), else on 10,000 bins
``multivariate``      ``("pca",)``; add ``"domain_classifier"`` (slower)
``consecutive``       chunks in a row outside the estimate's band that make concept
                      drift (2)
``decision_threshold``  act when P(positive class) >= this (0.5)
``sensitive``         columns for fairness over time (the reference's sensitive columns)
====================  ==================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.drift._chunking import ChunkSpec
from mlops_nb.drift._multivariate import METHODS
from mlops_nb.drift._univariate import (
    CATEGORICAL,
    CONTINUOUS,
    DEFAULT_CATEGORICAL,
    LABELS,
)
from mlops_nb.errors import ValidationError, did_you_mean, listing

if TYPE_CHECKING:
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

KEYS = (
    "chunk",
    "n_chunks",
    "statistics",
    "continuous",
    "categorical",
    "alert_on",
    "thresholds",
    "std",
    "exact",
    "multivariate",
    "consecutive",
    "decision_threshold",
    "sensitive",
)
DEFAULT_ALERT_ON = ("jensen_shannon",)


def resolve(
    given: dict[str, Any],
    *,
    reference: DataAsset,
    model: Model,
    base: dict[str, Any] | None,
    what: str,
) -> dict[str, Any]:
    """Merge ``given`` over ``base`` (or the defaults) and check everything at once.

    Raises
    ------
    ValidationError
        Listing every unknown or invalid option in one message.
    """
    problems: list[tuple[str, Any, str]] = []
    for key in given:
        if key not in KEYS:
            problems.append(
                (
                    key,
                    given[key],
                    f"unknown option.{did_you_mean(key, KEYS)} Options: "
                    f"{listing(KEYS)}.",
                )
            )
    out: dict[str, Any] = (
        dict(base)
        if base
        else {
            "continuous": list(CONTINUOUS),
            "categorical": list(DEFAULT_CATEGORICAL),
            "alert_on": list(DEFAULT_ALERT_ON),
            "thresholds": {},
            "std": 3.0,
            "exact": None,
            "multivariate": ["pca"],
            "consecutive": 2,
            "decision_threshold": None,
            "sensitive": list(reference.schema.sensitive),
        }
    )
    if base is None or "chunk" in given or "n_chunks" in given:
        try:
            spec = ChunkSpec.parse(
                given.get("chunk"),
                given.get("n_chunks"),
                time_column=reference.schema.time,
                columns=reference.schema.names,
                what=what,
            )
            out["chunk"] = spec.to_dict()
            _warn_small_reference_chunks(reference, spec, what)
        except ValidationError as err:
            problems.append(
                ("chunk", given.get("chunk", given.get("n_chunks")), str(err))
            )
    if "statistics" in given:
        stats = _names(
            given["statistics"], "statistics", (*CONTINUOUS, *CATEGORICAL), problems
        )
        out["continuous"] = [s for s in stats if s in CONTINUOUS]
        out["categorical"] = [s for s in stats if s in CATEGORICAL]
    for key, allowed in (("continuous", CONTINUOUS), ("categorical", CATEGORICAL)):
        if key in given:
            out[key] = _names(given[key], key, allowed, problems)
    if "alert_on" in given:
        out["alert_on"] = _names(given["alert_on"], "alert_on", tuple(LABELS), problems)
    computed = {*out["continuous"], *out["categorical"]}
    lost = [s for s in out["alert_on"] if s not in computed]
    if lost:
        problems.append(
            (
                "alert_on",
                lost,
                f"{listing(lost)} not computed; add them to the statistics.",
            )
        )
    if "thresholds" in given:
        out["thresholds"] = _thresholds(given["thresholds"], problems)
    if "std" in given:
        if (
            isinstance(given["std"], bool)
            or not isinstance(given["std"], (int, float))
            or not given["std"] > 0
        ):
            problems.append(
                (
                    "std",
                    given["std"],
                    "expected a positive number of standard deviations, e.g. 3.",
                )
            )
        else:
            out["std"] = float(given["std"])
    if "exact" in given:
        if given["exact"] not in (None, True, False):
            problems.append(
                ("exact", given["exact"], "expected True, False or None (automatic).")
            )
        out["exact"] = given["exact"]
    if "multivariate" in given:
        out["multivariate"] = _names(
            given["multivariate"] or [], "multivariate", METHODS, problems
        )
    if "consecutive" in given:
        c = given["consecutive"]
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            problems.append(
                ("consecutive", c, "expected a whole number of chunks >= 1, e.g. 2.")
            )
        else:
            out["consecutive"] = c
    if "decision_threshold" in given:
        t = given["decision_threshold"]
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1
        ):
            problems.append(
                (
                    "decision_threshold",
                    t,
                    "expected a probability strictly between 0 and 1, or None.",
                )
            )
        else:
            out["decision_threshold"] = t
    if "sensitive" in given:
        cols = (
            [given["sensitive"]]
            if isinstance(given["sensitive"], str)
            else list(given["sensitive"] or [])
        )
        bad = [c for c in cols if c not in reference.schema.names]
        if bad:
            problems.append(
                ("sensitive", bad, f"not columns of {reference.label}: {listing(bad)}.")
            )
        out["sensitive"] = cols
    if problems:
        lines = "\n".join(f"  - {k}={_short(v)}: {t}" for k, v, t in problems)
        msg = f"{what}: {len(problems)} invalid option(s); nothing was saved.\n{lines}"
        raise ValidationError(
            msg,
            [{"option": k, "value": _short(v), "problem": t} for k, v, t in problems],
        )
    return out


def _warn_small_reference_chunks(
    reference: DataAsset, spec: ChunkSpec, what: str
) -> None:
    """Warn (UserWarning) when reference chunks are too small to set thresholds."""
    import warnings

    from mlops_nb.drift._chunking import reference_split, small_chunks_warning

    frame = reference.frame
    chunks, _ = reference_split(frame, spec)
    text = small_chunks_warning(frame, spec, chunks)
    if text:
        # resolve <- create_monitor <- Model.monitor <- the user's cell
        warnings.warn(f"{what}: {text}", UserWarning, stacklevel=5)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(
    value: Any, key: str, allowed: tuple[str, ...], problems: list[tuple[str, Any, str]]
) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if item not in allowed:
            problems.append(
                (
                    key,
                    item,
                    f"unknown name.{did_you_mean(str(item), allowed)} Choose from "
                    f"{listing(allowed)}.",
                )
            )
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def _thresholds(value: Any, problems: list[tuple[str, Any, str]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(
            (
                "thresholds",
                value,
                "expected a dict such as {'psi': 0.2, 'jensen_shannon': 0.1}.",
            )
        )
        return {}
    out: dict[str, Any] = {}
    for stat, setting in value.items():
        if stat not in LABELS:
            problems.append(
                (
                    f"thresholds[{stat!r}]",
                    setting,
                    f"unknown statistic.{did_you_mean(str(stat), LABELS)}",
                )
            )
            continue
        pair = setting if isinstance(setting, (tuple, list)) else (None, setting)
        ok = (
            len(pair) == 2
            and all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                for v in pair
            )
            and any(v is not None for v in pair)
        )
        if not ok:
            problems.append(
                (
                    f"thresholds[{stat!r}]",
                    setting,
                    "expected an upper threshold or a (lower, upper) pair.",
                )
            )
            continue
        out[stat] = [None if v is None else float(v) for v in pair]
    return out


def describe_chunk(options: dict[str, Any]) -> str:
    """Describe the chunking in words."""
    return ChunkSpec.from_dict(options["chunk"]).describe()


def describe_thresholds(options: dict[str, Any]) -> str:
    """Describe in words how alert thresholds are set."""
    parts = []
    for stat in options["alert_on"]:
        const = options["thresholds"].get(stat)
        if const:
            lo, hi = const
            parts.append(
                f"{stat}: constant"
                + (f" > {hi:g}" if hi is not None else "")
                + (f" < {lo:g}" if lo is not None else "")
            )
        else:
            parts.append(f"{stat}: reference chunks' mean + {options['std']:g} std")
    return "; ".join(parts)
