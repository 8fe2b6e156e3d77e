"""Feature recipes: JSON specs of generated features and a pure function applying them.

A recipe is what :meth:`DataAsset.features` keeps: a list of steps, each naming its
input columns, its output column and the numbers it learnt (bin edges, category
frequencies, target means). :func:`apply_recipe` adds the outputs to any frame with
the inputs, so training, evaluation and prediction compute the same features.

Step kinds: ``date_part`` (year, month, day of week, hour of a datetime), ``ratio``,
``difference`` and ``product`` of two numbers, ``bins`` (quantile bin number),
``frequency`` (share of rows with the same category) and ``target_encoding`` (the
target mean of the category, or of a pair of categories for an interaction). Target
means are learnt out of fold (:func:`fit_step`), so a row's own label never leaks into
its encoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.data._learn import as_text
from mlops_nb.errors import SchemaError, ValidationError, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FORMAT = "mlops_nb.features/1"
KINDS = (
    "date_part",
    "ratio",
    "difference",
    "product",
    "bins",
    "frequency",
    "target_encoding",
)
DATE_PARTS = ("year", "month", "dayofweek", "hour")
_SEP = "|"


def _number(frame: pd.DataFrame, col: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    return pd.to_numeric(frame[col], errors="coerce").to_numpy(
        "float64", na_value=np.nan
    )


def _key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Category text of one column, or ``a|b`` of two (interactions)."""
    key = as_text(frame[columns[0]])
    for c in columns[1:]:
        key = key + _SEP + as_text(frame[c])
    return key


def compute(step: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Compute one fitted step for every row of ``frame`` (floats)."""
    import numpy as np
    import pandas as pd

    kind, cols = step["kind"], step["columns"]
    if kind == "date_part":
        when = pd.to_datetime(frame[cols[0]], errors="coerce")
        return getattr(when.dt, step["part"]).to_numpy("float64", na_value=np.nan)
    if kind in ("ratio", "difference", "product"):
        a, b = _number(frame, cols[0]), _number(frame, cols[1])
        if kind == "difference":
            return a - b
        if kind == "product":
            return a * b
        out = np.full(a.shape, np.nan)
        np.divide(a, b, out=out, where=(b != 0) & ~np.isnan(b))
        return out
    if kind == "bins":
        x = _number(frame, cols[0])
        out = np.searchsorted(np.asarray(step["edges"]), x, side="right").astype(float)
        out[np.isnan(x)] = np.nan
        return out
    if kind in ("frequency", "target_encoding"):
        mapped = _key(frame, cols).map(step["mapping"])
        return mapped.astype("float64").fillna(step["default"]).to_numpy()
    msg = f"feature recipe: unknown step kind {kind!r}; known: {listing(KINDS)}."
    raise ValidationError(msg)


def apply_recipe(frame: pd.DataFrame, recipe: dict[str, Any]) -> pd.DataFrame:
    """Return a copy of ``frame`` with every output column of ``recipe`` added.

    Pure: the same frame and recipe always give the same result; nothing is learnt.
    Outputs already present are recomputed (so a frame passes through twice safely).

    Raises
    ------
    SchemaError
        Naming every input column the frame lacks.
    """
    if recipe.get("format") != FORMAT:
        msg = (
            f"apply_recipe: not a feature recipe (format {recipe.get('format')!r}, "
            f"expected {FORMAT!r})."
        )
        raise ValidationError(msg)
    missing = [c for c in recipe["inputs"] if c not in frame.columns]
    if missing:
        msg = (f"apply_recipe: the frame lacks input column(s) {listing(missing)} "
               "that the generated features "
               f"{listing(s['output'] for s in recipe['steps'])} "
               "are made from.")  # fmt: skip
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    out = frame.copy()
    for step in recipe["steps"]:
        out[step["output"]] = compute(step, frame)
    return out


# -- learning a step -------------------------------------------------------------------
def fit_step(step: dict[str, Any], frame: pd.DataFrame, y: pd.Series | None, *,
             task: str, seed: int,
             cv: int = 5) -> tuple[dict[str, Any], np.ndarray]:  # fmt: skip
    """Learn a step's numbers from ``frame`` and return ``(fitted step, values)``.

    ``values`` are the step's outputs for the rows of ``frame`` itself. For target
    encoding they are computed out of fold (each row encoded by a model fitted on the
    other folds, scikit-learn's ``TargetEncoder`` cross fitting), so a row's label
    never enters its own feature; the returned mapping, learnt from every row, is for
    new rows.
    """
    import numpy as np

    kind, cols = step["kind"], step["columns"]
    fitted = dict(step)
    if kind == "bins":
        x = _number(frame, cols[0])
        edges = np.unique(
            np.nanquantile(x, np.linspace(0, 1, step.get("n_bins", 10) + 1)[1:-1])
        )
        fitted["edges"] = [float(e) for e in edges]
    elif kind == "frequency":
        shares = _key(frame, cols).value_counts(normalize=True)
        fitted["mapping"] = {str(k): float(v) for k, v in shares.items()}
        fitted["default"] = 0.0
    elif kind == "target_encoding":
        from sklearn.model_selection import KFold, StratifiedKFold
        from sklearn.preprocessing import TargetEncoder

        if y is None:
            msg = "target encoding needs the target values."
            raise ValidationError(msg)
        key = _key(frame, cols).to_numpy(dtype=object)[:, None]
        folds = (StratifiedKFold if task == "binary" else KFold)(
            cv, shuffle=True, random_state=seed
        )
        enc = TargetEncoder(
            target_type="binary" if task == "binary" else "continuous", cv=folds
        )
        values = enc.fit_transform(key, np.asarray(y)).ravel()
        fitted["mapping"] = {
            str(k): float(v)
            for k, v in zip(enc.categories_[0], enc.encodings_[0], strict=True)
        }
        fitted["default"] = float(np.ravel(enc.target_mean_)[0])
        return fitted, values
    return fitted, compute(fitted, frame)


# -- candidates ------------------------------------------------------------------------
def candidates(frame: pd.DataFrame, *, numeric: list[str], categorical: list[str],
               dates: list[str], kinds: tuple[str, ...], task: str, taken: set[str],
               max_pairs: int = 8) -> list[dict[str, Any]]:  # fmt: skip
    """Every candidate step for these columns.

    Numbers and categories come ranked first to last.

    Pairs use at most the ``max_pairs`` first numeric and the 6 first categorical
    columns (the caller ranks them by importance), so the search stays small.
    """
    out: list[dict[str, Any]] = []
    names = set(taken)

    def add(kind: str, cols: list[str], output: str, **extra: Any) -> None:
        name, i = output, 2
        while name in names:
            name, i = f"{output}_{i}", i + 1
        names.add(name)
        out.append({"kind": kind, "columns": cols, "output": name, **extra})

    if "date_part" in kinds:
        for c in dates:
            when = _dates(frame[c])
            for part in DATE_PARTS:
                if getattr(when.dt, part).nunique() > 1:
                    add("date_part", [c], f"{c}_{part}", part=part)
    top = numeric[:max_pairs]
    for i, a in enumerate(top):
        for b in top[i + 1 :]:
            if "ratio" in kinds:
                add("ratio", [a, b], f"{a}_per_{b}")
            if "difference" in kinds:
                add("difference", [a, b], f"{a}_minus_{b}")
            if "product" in kinds:
                add("product", [a, b], f"{a}_times_{b}")
    if "bins" in kinds:
        for c in numeric:
            if frame[c].nunique() > 20:
                add("bins", [c], f"{c}_bin", n_bins=10)
    for c in categorical:
        if "frequency" in kinds and frame[c].nunique() > 2:
            add("frequency", [c], f"{c}_freq")
        if (
            "target_encoding" in kinds
            and task != "multiclass"
            and frame[c].nunique() > 2
        ):
            add("target_encoding", [c], f"{c}_te")
    if "target_encoding" in kinds and task != "multiclass":
        cats = categorical[:6]
        for i, a in enumerate(cats):
            for b in cats[i + 1 :]:
                add("target_encoding", [a, b], f"{a}_x_{b}_te")
    return out


def _dates(series: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_datetime(series, errors="coerce")


def describe(step: dict[str, Any]) -> str:
    """Describe a step in a short phrase, e.g. ``"ratio income / debt"``."""
    kind, c = step["kind"], step["columns"]
    return {
        "date_part": lambda: f"{step.get('part')} of {c[0]}",
        "ratio": lambda: f"ratio {c[0]} / {c[1]}",
        "difference": lambda: f"difference {c[0]} - {c[1]}",
        "product": lambda: f"product {c[0]} * {c[1]}",
        "bins": lambda: f"quantile bins of {c[0]}",
        "frequency": lambda: f"frequency of {c[0]}",
        "target_encoding": lambda: (
            f"target mean of {c[0]} and {c[1]} (out of fold)"
            if len(c) > 1
            else f"target mean of {c[0]} (out of fold)"
        ),
    }[kind]()


def onnx_support(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """Whether each step could run inside an ONNX graph, and why not when it cannot.

    Arithmetic, bins and category lookups map to ONNX operators (``Div``, ``Sub``,
    ``Mul``, comparisons, ``ai.onnx.ml.LabelEncoder``); date parts do not (ONNX has no
    date parsing), nor do interactions of two categories (string concatenation).
    """
    out = []
    for s in recipe["steps"]:
        if s["kind"] == "date_part":
            ok, why = (
                False,
                "ONNX has no date parsing: pass the date part as an input column",
            )
        elif s["kind"] == "target_encoding" and len(s["columns"]) > 1:
            ok, why = False, "joining two category strings has no onnxruntime operator"
        else:
            default = "ai.onnx.ml.LabelEncoder (string -> float)"
            ops = {"ratio": "Div", "difference": "Sub", "product": "Mul",
                   "bins": "comparisons with the bin edges"}  # fmt: skip
            ok, why = True, ops.get(s["kind"], default)
        out.append(
            {
                "feature": s["output"],
                "step": describe(s),
                "onnx": ok,
                "how / why not": why,
            }
        )
    return out


def check_recipe(recipe: Any, what: str) -> dict[str, Any]:
    """Accept a recipe dict or anything with a ``recipe`` attribute (FeatureReport)."""
    recipe = getattr(recipe, "recipe", recipe)
    if not isinstance(recipe, dict) or recipe.get("format") != FORMAT:
        msg = (f"{what}: recipe must be a feature recipe "
               "(from DataAsset.features(auto=True)), "
               f"got {type(recipe).__name__}.")  # fmt: skip
        raise ValidationError(msg)
    return recipe
