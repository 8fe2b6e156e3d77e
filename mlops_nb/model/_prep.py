"""Features from a data version's schema, and the preprocessing that fits each estimator.

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
            "no feature columns: every column is a target, time, id or sensitive column, or "
            "of kind text/datetime. Register numeric or categorical columns as features."
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
        out[name] = col.astype("float64")
    if problems:
        msg = f"{what}: " + "; ".join(
            f"column {p['column']!r} is {p['problem']}" for p in problems
        )
        raise SchemaError(msg, problems)
    for name in features.categorical:
        col = frame[name]
        out[name] = (
            col.astype(object).where(col.notna(), MISSING).astype(str).astype(object)
        )
    return pd.DataFrame(out, index=frame.index)


def make_preprocessor(features: Features, family: str) -> Any:
    """A ColumnTransformer suited to an estimator family (``linear`` or ``tree``)."""
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
