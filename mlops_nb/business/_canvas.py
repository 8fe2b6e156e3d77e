"""The value canvas: why an ML system exists and what each decision outcome is worth.

The canvas is stored as a versioned document of the project (kind ``"canvas"``):
saving the same fields again returns the same version, changing any field makes the
next version. Pricing helpers turn confusion counts into money, find the threshold
that maximizes value, and compare simple decision policies.

A binary decision is priced by ``outcomes`` (tp, fp, fn, tn). A regression model is
priced by ``cost_per_unit_error`` (the money one unit of absolute error costs:
:meth:`ValueCanvas.regression_value`), a multiclass one by ``class_values``, a table
of the money value of a right and of a wrong prediction for a case of each class
(:meth:`ValueCanvas.class_value`). A canvas needs at least one of the three.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

from mlops_nb.business._canvas_html import money_text
from mlops_nb.business._pricing import _check_class_values, _paired
from mlops_nb.errors import NotFoundError, ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.business._editor import CanvasEditor
    from mlops_nb.business._policies import PolicyComparison

log = logging.getLogger("mlops_nb")

ValueLevel = Literal["add_value", "optimize", "new_process", "ecosystem"]
VALUE_LEVELS: dict[str, str] = {
    "add_value": "adds value to an existing process (a new signal or service in it)",
    "optimize": "makes an existing process cheaper, faster or better targeted",
    "new_process": "creates a process that could not exist without the model",
    "ecosystem": "creates value across organisations (partners, platforms, data)",
}
OUTCOMES = ("tp", "fp", "fn", "tn")
_OUTCOME_MEANING = {
    "tp": "act, and the case was positive",
    "fp": "act, but the case was negative",
    "fn": "do not act, but the case was positive",
    "tn": "do not act, and the case was negative",
}
_LIST_FIELDS = ("kpis", "stakeholders", "risks")
_FIELDS = (
    "process",
    "value_level",
    "kpis",
    "outcomes",
    "currency",
    "stakeholders",
    "risks",
    "success",
    "positive_class",
    "cost_per_unit_error",
    "class_values",
)
_REQUIRED = ("process", "value_level")
_PRICES = ("outcomes", "cost_per_unit_error", "class_values")
_LEVEL, _POS = "value_level", "positive_class"
_MAX_TEXT = 500
_MAX_CURRENCY = 12
_KIND = _NAME = "canvas"
_REVERT_KEY = "_revision"  # only in payloads that restore an older version's fields

assert set(get_args(ValueLevel)) == set(VALUE_LEVELS)


# -- validation ------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _validate(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the normalized payload, or raise one error listing every problem."""
    problems: list[tuple[str, Any, str]] = []
    out: dict[str, Any] = {}
    for name in fields:
        if name not in _FIELDS:
            hint = did_you_mean(name, _FIELDS)
            text = f"unknown field.{hint} Fields: {listing(_FIELDS)}."
            problems.append((name, fields[name], text))
    for name in _REQUIRED:
        if fields.get(name) is None:
            problems.append((name, None, "is required."))
    if all(fields.get(k) in (None, {}) for k in _PRICES):
        text = (
            "is required: the money value of each binary decision outcome (tp, fp, "
            "fn, tn); for a regression model give cost_per_unit_error instead, for a "
            "multiclass model class_values."
        )
        problems.append(("outcomes", None, text))
    for name, default in (("process", None), ("success", ""), ("currency", "EUR")):
        value = default if fields.get(name) is None else fields[name]
        if value is not None:
            issue = _text_problem(name, value)
            if issue:
                problems.append((name, value, issue))
            else:
                out[name] = value.strip()
    level = fields.get("value_level")
    if level in VALUE_LEVELS:
        out["value_level"] = level
    elif level is not None:
        hint = did_you_mean(str(level), VALUE_LEVELS)
        text = f"{str(level)!r} is not a value level.{hint} "
        problems.append(
            (_LEVEL, level, text + f"Choose one of {listing(VALUE_LEVELS)}.")
        )
    if fields.get("outcomes") not in (None, {}):
        out["outcomes"] = _check_outcomes(fields["outcomes"], problems)
    cost = fields.get("cost_per_unit_error")
    if cost is not None:
        if not _is_number(cost) or not math.isfinite(float(cost)) or cost < 0:
            text = (
                "must be a finite number >= 0: the money one unit of absolute "
                "prediction error costs (e.g. 2.5 EUR per unit)."
            )
            problems.append(("cost_per_unit_error", cost, text))
        else:
            out["cost_per_unit_error"] = float(cost)
    if fields.get("class_values") is not None:
        out["class_values"] = _check_class_values(fields["class_values"], problems)
    for name in _LIST_FIELDS:
        value = [] if fields.get(name) is None else fields[name]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, Iterable) or isinstance(items, Mapping):
            kind = type(value).__name__
            problems.append((name, value, f"must be a list of text, got {kind}."))
            continue
        out[name] = []
        for item in items:
            issue = _text_problem(name, item)
            if issue:
                problems.append((name, item, "an item " + issue))
            elif item.strip():
                out[name].append(item.strip())
    positive = fields.get("positive_class", 1)
    if hasattr(positive, "item") and not isinstance(positive, str):
        positive = positive.item()  # numpy scalars
    if isinstance(positive, float) and positive.is_integer():
        positive = int(positive)
    if isinstance(positive, int) or (isinstance(positive, str) and positive):
        out["positive_class"] = positive
    else:
        text = "must be the target value that counts as positive (an int, bool or "
        problems.append((_POS, positive, text + "non-empty text), e.g. 1 or 'yes'."))
    if problems:
        rows = [{"field": f, "value": _short(v), "problem": t} for f, v, t in problems]
        lines = "\n".join(f"  - {f}: {t}" for f, _, t in problems)
        n = len(problems)
        msg = f"value canvas: {n} problem{'s' * (n > 1)}; nothing was saved.\n{lines}"
        raise ValidationError(msg, rows)
    return out


def _text_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}."
    if name == "process" and not value.strip():
        return "is empty: name the business process the model serves."
    if name == "currency" and not 0 < len(value.strip()) <= _MAX_CURRENCY:
        return f"must be a short currency name such as 'EUR' (1-{_MAX_CURRENCY} chars)."
    if len(value.strip()) > _MAX_TEXT:
        return f"is longer than {_MAX_TEXT} characters."
    return None


def _check_outcomes(outcomes: Any, problems: list[tuple[str, Any, str]]) -> dict:
    if not isinstance(outcomes, Mapping):
        text = "must be a dict {'tp': ..., 'fp': ..., 'fn': ..., 'tn': ...}, got "
        problems.append(("outcomes", outcomes, text + f"{type(outcomes).__name__}."))
        return {}
    clean: dict[str, float] = {}
    for key in OUTCOMES:
        if key not in outcomes:
            text = f"is missing: the money value when we {_OUTCOME_MEANING[key]}."
            problems.append((f"outcomes[{key!r}]", None, text))
    for key, value in outcomes.items():
        name = f"outcomes[{key!r}]"
        if key not in OUTCOMES:
            hint = did_you_mean(str(key), OUTCOMES)
            text = f"unknown outcome.{hint} Outcomes: {listing(OUTCOMES)}."
            problems.append((name, value, text))
        elif not _is_number(value):
            kind = type(value).__name__
            text = f"must be a number (money per case), got {kind}."
            problems.append((name, value, text))
        elif not math.isfinite(float(value)):
            problems.append((name, value, "must be a finite number."))
        else:
            clean[key] = float(value)
    return {k: clean[k] for k in OUTCOMES if k in clean}


def _short(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the canvas ------------------------------------------------------------------------
class BestThreshold(NamedTuple):
    """The value-maximizing threshold: act when ``score >= threshold``.

    ``threshold`` is ``inf`` when acting on nobody is worth the most.
    """

    threshold: float
    value: float
    confusion: dict[str, int]


@dataclass(frozen=True, repr=False)
class ValueCanvas(Displayable):
    """One version of a project's value canvas.

    Create or update it with ``proj.canvas(...)`` (or :func:`save_canvas`); read it
    with ``proj.canvas()`` (or :func:`current_canvas`). Versions are frozen values.

    Parameters
    ----------
    process : str
        The business process the ML system serves.
    value_level : {"add_value", "optimize", "new_process", "ecosystem"}
        How the system creates value: ``"add_value"`` adds a new signal or service to
        an existing process; ``"optimize"`` makes an existing process cheaper, faster
        or better targeted; ``"new_process"`` creates a process that could not exist
        without the model; ``"ecosystem"`` creates value across organisations
        (partners, platforms, shared data).
    outcomes : dict
        Exactly ``tp``, ``fp``, ``fn``, ``tn``: the money value of one decision with
        that outcome (costs are negative). "Positive" means the decision acts, i.e.
        the model predicts ``positive_class``. Prices binary classifiers; may be
        left out when ``cost_per_unit_error`` or ``class_values`` is given.
    kpis, stakeholders, risks : tuple of str
        Key performance indicators, who is affected, what can go wrong.
    success : str
        The criterion that says the system succeeded.
    positive_class : int, bool or str
        The target value that counts as positive (default 1).
    currency : str
        The currency of ``outcomes`` (default ``"EUR"``).
    cost_per_unit_error : float, optional
        Regression: the money one unit of absolute prediction error costs (>= 0).
    class_values : dict, optional
        Multiclass: ``{class: {"right": value, "wrong": value}}``, the money value
        of a right and of a wrong prediction for a case of each class.
    version, created_at, created_by, note
        Set by the store.

    Examples
    --------
    >>> c = ValueCanvas(process="Loan review", value_level="optimize",
    ...                 outcomes={"tp": 100, "fp": -20, "fn": -50, "tn": 0})
    >>> c.value(tp=10, fp=5, fn=2, tn=83)
    800.0
    >>> c.best_threshold([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]).threshold
    0.7
    """

    process: str
    value_level: ValueLevel
    outcomes: dict[str, float] = field(default_factory=dict)
    kpis: tuple[str, ...] = ()
    stakeholders: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    success: str = ""
    positive_class: int | str = 1
    currency: str = "EUR"
    cost_per_unit_error: float | None = None
    class_values: dict[str, dict[str, float]] | None = None
    version: int | None = None
    created_at: str = ""
    created_by: str = ""
    note: str = ""
    _project: Project | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        payload = _validate({k: getattr(self, k) for k in _FIELDS})
        payload.setdefault("outcomes", {})
        for name, value in payload.items():
            if name in _LIST_FIELDS:
                value = tuple(value)
            object.__setattr__(self, name, value)

    # -- stored form -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the canvas fields (what is versioned), JSON-ready."""
        out = {k: getattr(self, k) for k in _FIELDS}
        for name in _LIST_FIELDS:
            out[name] = list(out[name])
        out["outcomes"] = dict(self.outcomes)
        for name in ("cost_per_unit_error", "class_values"):
            if out[name] is None:
                del out[name]  # a binary canvas's fields stay as they were
        if not out["outcomes"]:
            del out["outcomes"]
        return out

    @classmethod
    def _from_row(cls, project: Project | None, row: Mapping[str, Any]) -> ValueCanvas:
        fields = {k: v for k, v in row["payload"].items() if k in _FIELDS}
        return cls(
            **fields,
            version=row["version"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            note=row["note"],
            _project=project,
        )

    def with_fields(self, **fields: Any) -> ValueCanvas:
        """Return an unsaved copy with some fields changed, for what-if pricing.

        The copy has no version; save it with ``proj.canvas(**fields)``.

        Raises
        ------
        ValidationError
            Listing every invalid field.
        """
        merged = {**self.to_dict(), **fields}
        payload = _validate(merged)
        return ValueCanvas(**payload, _project=self._project)

    @property
    def meaning(self) -> str:
        """What the value level means, in words."""
        return VALUE_LEVELS[self.value_level]

    # -- pricing -----------------------------------------------------------------------
    def value(self, tp: float, fp: float, fn: float, tn: float) -> float:
        """Return the total money value of these decision counts.

        Parameters
        ----------
        tp, fp, fn, tn : float
            How many decisions had each outcome (weighted counts are fine).

        Returns
        -------
        float
            ``tp * outcomes["tp"] + fp * outcomes["fp"] + ...`` in :attr:`currency`.
        """
        counts = _counts(tp=tp, fp=fp, fn=fn, tn=tn)
        o = self._binary("value()")
        return float(
            counts["tp"] * o["tp"]
            + counts["fp"] * o["fp"]
            + counts["fn"] * o["fn"]
            + counts["tn"] * o["tn"]
        )

    def value_per_1000(self, tp: float, fp: float, fn: float, tn: float) -> float:
        """Return the money value per 1,000 decisions, comparable across data sizes."""
        total = sum(_counts(tp=tp, fp=fp, fn=fn, tn=tn).values())
        if total <= 0:
            msg = (
                "value_per_1000(): the counts add up to 0 decisions; nothing to price."
            )
            raise ValidationError(msg)
        return self.value(tp, fp, fn, tn) / total * 1000

    @property
    def break_even(self) -> float | None:
        """The probability of the positive class above which acting pays.

        Acting on a case that is positive with probability ``p`` is worth
        ``p*tp + (1-p)*fp``; not acting ``p*fn + (1-p)*tn``. They are equal at
        ``(tn - fp) / ((tp - fn) + (tn - fp))``. Below 0: always act; above 1: never.
        ``None`` when the outcomes make acting on positives no better than not.
        """
        if not self.outcomes:
            return None
        o = self.outcomes
        gain_pos, gain_neg = o["tp"] - o["fn"], o["tn"] - o["fp"]
        if gain_pos + gain_neg <= 0:
            return None
        return gain_neg / (gain_pos + gain_neg)

    def is_positive(self, y: Any, *, what: str = "y") -> Any:
        """Return a boolean array: which values of ``y`` equal :attr:`positive_class`.

        A boolean ``y`` is read as already marking the positives (True = positive),
        unless :attr:`positive_class` is itself a bool.
        """
        import numpy as np

        arr = np.asarray(y)
        if arr.ndim != 1:
            msg = f"{what}: expected one value per case (1-D), got shape {arr.shape}."
            raise ValidationError(msg)
        if arr.dtype == bool and not isinstance(self.positive_class, bool):
            return arr.copy()
        positive = arr == self.positive_class
        if len(arr) and not positive.any():
            first = arr[0].item() if hasattr(arr[0], "item") else arr[0]
            if isinstance(first, str) != isinstance(self.positive_class, str):
                msg = (
                    f"{what}: no value equals positive_class="
                    f"{self.positive_class!r} and the values look like {first!r}. Set "
                    "the canvas's positive_class to the target value that counts as "
                    "positive."
                )
                raise ValidationError(msg)
        return np.asarray(positive, dtype=bool)

    def confusion(self, y_true: Any, y_pred: Any) -> dict[str, int]:
        """Count tp, fp, fn, tn of decisions ``y_pred`` against labels ``y_true``.

        Each holds labels (compared with :attr:`positive_class`) or booleans (True =
        positive; for ``y_pred``: act).
        """
        actual = self.is_positive(y_true, what="y_true")
        acted = self.is_positive(y_pred, what="y_pred")
        if len(actual) != len(acted):
            msg = f"y_true has {len(actual)} values but y_pred has {len(acted)}."
            raise ValidationError(msg)
        return {
            "tp": int((acted & actual).sum()),
            "fp": int((acted & ~actual).sum()),
            "fn": int((~acted & actual).sum()),
            "tn": int((~acted & ~actual).sum()),
        }

    def best_threshold(self, y_true: Any, scores: Any) -> BestThreshold:
        """Find the threshold on ``scores`` that maximizes money value.

        Decisions act when ``score >= threshold``. Every distinct score is tried (and
        acting on nobody, threshold ``inf``) in O(n log n): sort once, then cumulative
        counts at the end of each run of tied scores. Among equal values the highest
        threshold (fewest actions) wins.

        Parameters
        ----------
        y_true : array-like
            True labels (:attr:`positive_class` marks the positives), or booleans
            with True for the positives.
        scores : array-like of float
            Higher means more likely positive (e.g. the probability of the positive
            class).

        Returns
        -------
        BestThreshold
            ``(threshold, value, confusion)``.
        """
        import numpy as np

        actual = self.is_positive(y_true, what="y_true")
        try:
            s = np.asarray(scores, dtype="float64")
        except (TypeError, ValueError) as err:
            msg = f"best_threshold(): scores must be numbers ({err})."
            raise ValidationError(msg) from err
        if s.ndim != 1 or len(s) != len(actual) or not len(s):
            msg = (
                f"best_threshold(): need one score per label, got {s.shape} scores "
                f"for {len(actual)} labels."
            )
            raise ValidationError(msg)
        if not np.isfinite(s).all():
            bad = int((~np.isfinite(s)).sum())
            msg = f"best_threshold(): {bad} scores are NaN or infinite."
            raise ValidationError(msg)
        order = np.argsort(-s, kind="stable")
        s_sorted, pos_sorted = s[order], actual[order]
        cum_tp = np.cumsum(pos_sorted)
        cum_fp = np.arange(1, len(s) + 1) - cum_tp
        ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
        tp = np.r_[0, cum_tp[ends]]
        fp = np.r_[0, cum_fp[ends]]
        thresholds = np.r_[np.inf, s_sorted[ends]]
        n_pos = int(actual.sum())
        fn, tn = n_pos - tp, (len(s) - n_pos) - fp
        o = self._binary("best_threshold()")
        values = tp * o["tp"] + fp * o["fp"] + fn * o["fn"] + tn * o["tn"]
        i = int(np.argmax(values))
        counts = {
            "tp": int(tp[i]),
            "fp": int(fp[i]),
            "fn": int(fn[i]),
            "tn": int(tn[i]),
        }
        return BestThreshold(float(thresholds[i]), float(values[i]), counts)

    def compare_policies(
        self, y_true: Any, policies: Mapping[str, Any]
    ) -> PolicyComparison:
        """Price decision policies on the same labelled cases.

        Parameters
        ----------
        y_true : array-like
            True labels.
        policies : dict
            Policy name -> its decisions: predicted labels or booleans (True = act).

        Returns
        -------
        PolicyComparison
            Counts, money value and value per 1,000 cases of each policy.
        """
        from mlops_nb.business._policies import PolicyComparison

        if not policies:
            msg = "compare_policies(): give at least one policy: {'name': decisions}."
            raise ValidationError(msg)
        rows = []
        for name, decisions in policies.items():
            c = self.confusion(y_true, decisions)
            total = sum(c.values())
            rows.append(
                {
                    "policy": str(name),
                    "acts on": (c["tp"] + c["fp"]) / total,
                    **c,
                    "value": self.value(**c),
                    "value per 1,000": self.value_per_1000(**c),
                }
            )
        return PolicyComparison(self, tuple(rows))

    def _binary(self, what: str) -> dict[str, float]:
        if not self.outcomes:
            msg = (
                f"value canvas {self._title()}: {what} prices binary decisions, but "
                "the canvas has no outcomes. Add them: proj.canvas(outcomes={'tp': "
                "..., 'fp': ..., 'fn': ..., 'tn': ...})."
            )
            raise ValidationError(msg)
        return self.outcomes

    def regression_value(self, y_true: Any, y_pred: Any) -> float:
        """Return the money value of regression predictions: ``-cost * sum|error|``.

        Parameters
        ----------
        y_true, y_pred : array-like of float
            True and predicted values (rows with a missing true value are skipped).

        Returns
        -------
        float
            Zero or negative, in :attr:`currency`; divide by the cases for a mean.
        """
        import numpy as np

        if self.cost_per_unit_error is None:
            msg = (
                f"value canvas {self._title()}: regression_value() needs "
                "cost_per_unit_error: proj.canvas(cost_per_unit_error=2.5) (money per "
                "unit of absolute error)."
            )
            raise ValidationError(msg)
        t, p = _paired(y_true, y_pred, "regression_value()")
        t, p = t.astype(float), p.astype(float)
        keep = ~np.isnan(t)
        return -self.cost_per_unit_error * float(np.abs(t[keep] - p[keep]).sum())

    def class_value(self, y_true: Any, y_pred: Any) -> float:
        """Return the money value of multiclass predictions from :attr:`class_values`.

        A case of class ``c`` is worth ``class_values[c]["right"]`` when predicted as
        ``c`` and ``class_values[c]["wrong"]`` otherwise. Classes are compared as text.

        Raises
        ------
        ValidationError
            When the canvas has no ``class_values`` or a true class is not in it.
        """
        import numpy as np

        table = self.class_values
        if not table:
            msg = (
                f"value canvas {self._title()}: class_value() needs class_values: "
                "proj.canvas(class_values={'a': {'right': 10, 'wrong': -5}, ...})."
            )
            raise ValidationError(msg)
        t, p = _paired(y_true, y_pred, "class_value()")
        t, p = t.astype(str), p.astype(str)
        missing = sorted(set(np.unique(t)) - set(table))
        if missing:
            msg = (
                f"value canvas {self._title()}: class_values has no row for class(es) "
                f"{listing(missing)}; it prices {listing(table)}. Add them with "
                "proj.canvas(class_values={...})."
            )
            raise ValidationError(msg)
        right = np.array([table[c]["right"] for c in t])
        wrong = np.array([table[c]["wrong"] for c in t])
        return float(np.where(t == p, right, wrong).sum())

    # -- rendering ---------------------------------------------------------------------
    def _title(self) -> str:
        return f"v{self.version}" if self.version is not None else "(not saved)"

    def _view(self) -> View:
        import pandas as pd

        items: list[tuple[str, Any]] = [
            ("process", self.process),
            ("value level", f"{self.value_level}: {self.meaning}"),
            ("KPIs", "; ".join(self.kpis)),
            ("stakeholders", "; ".join(self.stakeholders)),
            ("risks", "; ".join(self.risks)),
            ("success", self.success),
            ("positive class", repr(self.positive_class)),
            ("version", self.version),
        ]
        prices = []
        if self.cost_per_unit_error is not None:
            cost = money_text(-self.cost_per_unit_error)
            items.append(
                ("regression", f"{cost} {self.currency} per unit of absolute error")
            )
            prices.append(f"{cost} {self.currency} per unit of error")
        blocks: list[Any] = [KeyValues(items)]
        if self.class_values:
            table = pd.DataFrame(
                [{"class": c, **v} for c, v in self.class_values.items()]
            )
            blocks.append(
                Table(table, caption=f"Multiclass: value per case ({self.currency})")
            )
            prices.append(f"{len(self.class_values)} class values")
        if not self.outcomes:
            return View(
                "ValueCanvas",
                f"{self._title()} · {self.process}",
                f"{self.value_level}; " + ", ".join(prices),
                [(self.value_level, "info")],
                [Tab("Canvas", blocks)],
            )
        matrix = pd.DataFrame(
            {
                "": ["predicted positive (act)", "predicted negative (do not act)"],
                f"actual positive ({self.positive_class!r})": [
                    self.outcomes["tp"],
                    self.outcomes["fn"],
                ],
                "actual negative": [self.outcomes["fp"], self.outcomes["tn"]],
            }
        )
        o = self.outcomes
        summary = (
            f"{self.value_level}; per case tp {money_text(o['tp'])}, "
            f"fp {money_text(o['fp'])}, "
            f"fn {money_text(o['fn'])}, tn {money_text(o['tn'])} {self.currency}"
        )
        blocks.insert(
            1, Table(matrix, caption=f"Decision outcomes ({self.currency} per case)")
        )
        blocks += [Text(w, "warning") for w in self._warnings()]
        return View(
            "ValueCanvas",
            f"{self._title()} · {self.process}",
            summary,
            [(self.value_level, "info")],
            [Tab("Canvas", blocks)],
        )

    def _warnings(self) -> list[str]:
        o, out = self.outcomes, []
        if o and (o["tp"] < o["fn"] or o["tn"] < o["fp"]):
            out.append(
                "A wrong decision is worth more than the right one for the same case: "
                "check the signs (costs are negative values)."
            )
        return out

    def _html(self, plotly_key: str | None = "html") -> str:
        from mlops_nb.business._canvas_html import canvas_html
        from mlops_nb.ui._html import error_html

        try:
            return canvas_html(self)
        except Exception as err:  # rendering never raises
            log.exception("HTML rendering of ValueCanvas failed")
            return error_html("ValueCanvas", err)

    def editor(self) -> CanvasEditor:
        """Return a form that saves a new version of this canvas (a CanvasEditor)."""
        from mlops_nb.business._editor import CanvasEditor

        return CanvasEditor(self._project, self)

    def widget(self) -> Any:
        """Return the live view: the header line, then tabs "Canvas" and "Edit".

        The returned ``ipywidgets.VBox`` carries the form as its ``editor`` attribute
        (its ``tab`` is the ``Tab`` with the filled canvas and the edit form).
        """
        return self.editor().widget


# -- pricing helpers -------------------------------------------------------------------
def _counts(**counts: Any) -> dict[str, float]:
    problems = []
    for key, value in counts.items():
        if not _is_number(value) or not math.isfinite(float(value)) or value < 0:
            problems.append(
                {
                    "field": key,
                    "value": _short(value),
                    "problem": "must be a count: a finite number >= 0.",
                }
            )
    if problems:
        names = ", ".join(f"{p['field']}={p['value']!r}" for p in problems)
        msg = f"value(): {names}: counts must be finite numbers >= 0."
        raise ValidationError(msg, problems)
    return {k: float(v) for k, v in counts.items()}


# -- persistence -----------------------------------------------------------------------
def save_canvas(project: Project, *, note: str = "", **fields: Any) -> ValueCanvas:
    """Validate ``fields`` and save them as the project's canvas.

    When a canvas exists, fields not given keep their current values, so a partial
    update makes a new version. The same fields as the current version return it
    unchanged.

    Parameters
    ----------
    project : Project
    note : str
        Why this version exists; recorded with it and in the audit log.
    **fields
        ``process``, ``value_level``, ``outcomes``, ``kpis``, ``stakeholders``,
        ``risks``, ``success``, ``positive_class``, ``currency``. The first canvas
        needs ``process``, ``value_level`` and ``outcomes``.

    Raises
    ------
    ValidationError
        Listing every problem (``failure_cases`` has one row each); nothing is saved.
    """
    if not isinstance(note, str):
        msg = f"value canvas: note must be text, got {type(note).__name__}."
        raise ValidationError(msg)
    current = project._document(_KIND, _NAME)
    kept = {
        k: v for k, v in (current["payload"] if current else {}).items() if k in _FIELDS
    }
    payload = _validate({**kept, **fields})
    row = project._save_document(_KIND, _NAME, payload, note=note)
    if current is not None and row["version"] < current["version"]:
        # The fields equal an older version (a revert). The store returns that version
        # for the same content, which would leave a newer one current; a marker makes
        # the content new so the revert becomes the newest version.
        marked = {**payload, _REVERT_KEY: current["version"] + 1}
        row = project._save_document(_KIND, _NAME, marked, note=note)
    return ValueCanvas._from_row(project, row)


def current_canvas(project: Project, version: int | None = None) -> ValueCanvas | None:
    """Return the project's newest canvas (or ``version``); ``None`` if none.

    Raises
    ------
    NotFoundError
        When ``version`` is given and does not exist, naming the versions that do.
    """
    row = project._document(_KIND, _NAME, version)
    if row is None and version is not None:
        from mlops_nb.store._q_documents import document_version_numbers

        versions = document_version_numbers(project._store, _KIND, _NAME)
        msg = (
            f"value canvas version {version!r} does not exist. Versions: "
            f"{listing(versions)}."
        )
        raise NotFoundError(msg)
    return None if row is None else ValueCanvas._from_row(project, row)
