"""Features from a data version's schema, and the preprocessing fit for each estimator.

Features are the columns of kind numeric, categorical or boolean that play no role
(target, time, id and sensitive columns are left out: sensitive attributes are reviewed
for fairness, never used silently). Preprocessing is a scikit-learn ColumnTransformer
with pandas output, so LightGBM and explanations keep feature names, and it exports to
ONNX: medians for missing numbers (scaled for linear models), one-hot encoding for
linear models, ordinal codes for trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, listing

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import Schema

MISSING = "(missing)"


@dataclass(frozen=True)
class Features:
    """The numeric and categorical input columns of a model, in order."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """All input columns."""
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready form."""
        return {"numeric": list(self.numeric), "categorical": list(self.categorical)}

    @classmethod
    def from_dict(cls, d: dict[str, list[str]]) -> Features:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(d["numeric"]), tuple(d["categorical"]))


def features_from_schema(schema: Schema, *, use_sensitive: bool = False) -> Features:
    """Pick the feature columns of a schema."""
    numeric, categorical = [], []
    for c in schema.columns:
        if c.role and not (use_sensitive and c.role == "sensitive"):
            continue
        if c.kind == "numeric":
            numeric.append(c.name)
        elif c.kind in ("categorical", "boolean"):
            categorical.append(c.name)
    if not numeric and not categorical:
        msg = (
            "no feature columns: every column is a target, time, id or sensitive "
            "column, or of kind text/datetime. Register numeric or categorical columns "
            "as features."
        )
        raise SchemaError(msg)
    return Features(tuple(numeric), tuple(categorical))


def prepare_X(frame: pd.DataFrame, features: Features, *, what: str) -> pd.DataFrame:
    """Select and type the model's input columns: floats, and strings for categories.

    Raises
    ------
    SchemaError
        Naming every missing column and every column that is not numeric when it
        should be.
    """
    import numpy as np
    import pandas as pd

    missing = [c for c in features.names if c not in frame.columns]
    if missing:
        msg = (
            f"{what}: missing input column(s) {listing(missing)}. The model needs "
            f"{listing(features.names)}."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    out = {}
    problems = []
    for name in features.numeric:
        col = frame[name]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iuf":
            # the common case: numpy numbers, converted without pandas
            out[name] = col.to_numpy(dtype=np.float64)
            _check_finite(name, out[name], problems)
            continue
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            converted = pd.to_numeric(col, errors="coerce")
            bad = converted.isna() & col.notna()
            if bad.any():
                problems.append(
                    {
                        "column": name,
                        "problem": f"not numeric, e.g. {col[bad].iloc[0]!r}",
                    }
                )
                continue
            col = converted
        out[name] = col.astype("float64").to_numpy()
        _check_finite(name, out[name], problems)
    if problems:
        msg = f"{what}: " + "; ".join(
            f"column {p['column']!r} is {p['problem']}" for p in problems
        )
        raise SchemaError(msg, problems)
    for name in features.categorical:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):  # convert each level once
            levels = pd.Series(col.cat.categories.astype(object), dtype=object)
            text = np.append(levels.astype(str).to_numpy(dtype=object), MISSING)
            out[name] = text[col.cat.codes.to_numpy()]  # code -1 (null) -> MISSING
            continue
        out[name] = (
            col.astype(object)
            .where(col.notna(), MISSING)
            .astype(str)
            .to_numpy(dtype=object)
        )
    return pd.DataFrame(out, index=frame.index)  # all arrays: rows stay in place


def _check_finite(name: str, values: Any, problems: list[dict[str, str]]) -> None:
    """Infinity is no number a model can learn from: name it instead of guessing."""
    import numpy as np

    infinite = np.isinf(values)
    if infinite.any():
        problems.append(
            {
                "column": name,
                "problem": (
                    f"infinite in {int(infinite.sum())} row(s) (e.g. row "
                    f"{int(infinite.argmax())}); replace inf with NaN (missing, filled "
                    "with the median) or a finite number"
                ),
            }
        )


def make_preprocessor(features: Features, family: str) -> Any:
    """Build a ColumnTransformer suited to an estimator family (``linear``/``tree``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    steps = []
    if features.numeric:
        numeric: Any = SimpleImputer(strategy="median")
        if family == "linear":
            numeric = Pipeline([("impute", numeric), ("scale", StandardScaler())])
        steps.append(("num", numeric, list(features.numeric)))
    if features.categorical:
        if family == "linear":
            cat: Any = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        else:
            cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        steps.append(("cat", cat, list(features.categorical)))
    ct = ColumnTransformer(steps, verbose_feature_names_out=False)
    return ct.set_output(transform="pandas")


@dataclass(frozen=True)
class TreePrep:
    """The fitted tree preprocessing as plain numbers: numpy instead of scikit-learn.

    It holds what the fitted ColumnTransformer of the ``tree`` family learnt — the
    median of each numeric column and the sorted categories of each categorical one —
    and applies it with numpy: missing numbers become the median, categories their
    position, unknown categories -1. Its output equals the ColumnTransformer's to the
    bit (a parity test), without loading skops or running scikit-learn's input checks,
    which cost more than LightGBM's prediction on a few rows. It is saved next to the
    skops file of a LightGBM version; the skops file stays the reference (ONNX export,
    explanations load it).
    """

    numeric: tuple[str, ...]
    medians: tuple[float, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]

    FORMAT = "mlops_nb.tree-prep/1"

    @classmethod
    def from_fitted(cls, prep: Any, features: Features) -> TreePrep | None:
        """Read a fitted tree-family preprocessor; None when it is not one we mirror."""
        import math

        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OrdinalEncoder

        medians: tuple[float, ...] = ()
        categories: tuple[tuple[str, ...], ...] = ()
        for name, step, cols in prep.transformers_:
            if name == "num" and isinstance(step, SimpleImputer):
                stats = [float(s) for s in step.statistics_]
                # an all-missing column has no median and scikit-learn drops it
                if step.strategy != "median" or any(math.isnan(s) for s in stats):
                    return None
                medians = tuple(stats)
            elif name == "cat" and isinstance(step, OrdinalEncoder):
                if (
                    step.unknown_value != -1
                    or getattr(step, "_infrequent_enabled", False)
                    or not all(isinstance(v, str) for c in step.categories_ for v in c)
                ):
                    return None
                categories = tuple(tuple(c) for c in step.categories_)
            elif name != "remainder" or step != "drop":
                return None
            if name in ("num", "cat") and list(cols) != list(
                features.numeric if name == "num" else features.categorical
            ):
                return None
        if len(medians) != len(features.numeric):
            return None
        if len(categories) != len(features.categorical):
            return None
        return cls(features.numeric, medians, features.categorical, categories)

    def to_json(self) -> bytes:
        """Return the bytes stored as the version's ``tree_prep`` artifact."""
        import json

        return json.dumps(
            {
                "format": self.FORMAT,
                "numeric": list(self.numeric),
                "medians": list(self.medians),
                "categorical": list(self.categorical),
                "categories": [list(c) for c in self.categories],
            },
            allow_nan=False,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, *, artifact: str) -> TreePrep:
        """Parse :meth:`to_json` bytes, refusing anything else."""
        import json

        from mlops_nb.errors import UnsupportedFormatError

        try:
            d = json.loads(data)
            if d.get("format") != cls.FORMAT:
                msg = f"format {d.get('format')!r}"
                raise ValueError(msg)
            spec = cls(
                tuple(str(c) for c in d["numeric"]),
                tuple(float(m) for m in d["medians"]),
                tuple(str(c) for c in d["categorical"]),
                tuple(tuple(str(v) for v in c) for c in d["categories"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            msg = (
                f"artifact {artifact} is not a readable tree preprocessing file: {err}"
            )
            raise UnsupportedFormatError(msg) from err
        if len(spec.medians) != len(spec.numeric) or len(spec.categories) != len(
            spec.categorical
        ):
            msg = (
                f"artifact {artifact}: numbers and columns of the tree preprocessing "
                "differ"
            )
            raise UnsupportedFormatError(msg)
        return spec

    def transform(self, X: pd.DataFrame) -> Any:
        """Return the model matrix of :func:`prepare_X` output.

        It is float64, numeric columns then categorical ones.
        """
        import numpy as np

        labels = {n: X[n].to_numpy(dtype=object) for n in self.categorical}
        return self._fill(X, labels, np)

    def _fill(self, X: pd.DataFrame, labels: dict[str, Any], np: Any) -> Any:
        out = np.empty((len(X), len(self.numeric) + len(self.categorical)))
        for j, (name, median) in enumerate(
            zip(self.numeric, self.medians, strict=True)
        ):
            col = X[name].to_numpy(dtype=np.float64)
            out[:, j] = np.where(np.isnan(col), median, col)
        codes = self._codes
        for j, name in enumerate(self.categorical, start=len(self.numeric)):
            index = codes[name]
            out[:, j] = [index.get(v, -1) for v in labels[name]]
        return out

    def matrix(self, frame: pd.DataFrame, *, what: str) -> Any:
        """Return the model matrix straight from a user's frame.

        The result equals ``transform(prepare_X(frame))``.

        Numeric columns of a numpy number dtype need no conversion; categorical columns
        holding only strings neither, and integer or boolean ones become their text
        (``1`` -> ``"1"``, as :func:`prepare_X` writes them). Any other frame goes
        through :func:`prepare_X` first, which converts it or raises the error that
        names the bad columns.
        """
        import numpy as np

        # one lookup of the dtypes, not one per column
        dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
        features = Features(self.numeric, self.categorical)
        plain = frame.columns.is_unique and all(
            isinstance(dtypes.get(name), np.dtype) and dtypes[name].kind in "iuf"
            for name in self.numeric
        )
        labels: dict[str, Any] = {}
        for name in self.categorical if plain else ():
            dtype = dtypes.get(name)
            values = frame[name].to_numpy() if dtype is not None else None
            if isinstance(dtype, np.dtype) and dtype.kind in "iub":
                labels[name] = [str(v) for v in values.tolist()]
            elif getattr(dtype, "kind", None) == "O" and all(
                isinstance(v, str) for v in values
            ):
                labels[name] = values
            else:
                plain = False
                break
        if not plain:
            return self.transform(prepare_X(frame, features, what=what))
        out = self._fill(frame, labels, np)
        if np.isinf(out[:, : len(self.numeric)]).any():
            prepare_X(frame, features, what=what)  # raises the error naming the column
        return out

    @property
    def _codes(self) -> dict[str, dict[str, int]]:
        cached = self.__dict__.get("_codes_cache")
        if cached is None:
            cached = {
                name: {v: i for i, v in enumerate(cats)}
                for name, cats in zip(self.categorical, self.categories, strict=True)
            }
            object.__setattr__(self, "_codes_cache", cached)
        return cached
