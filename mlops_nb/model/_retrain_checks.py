"""What retraining checks before it stores anything, and which rows it compares on.

New data is checked against the data the champion learnt from *before* a version is
stored: the target, the id, time and sensitive columns and the champion's input
columns must be there, each with a compatible type, and the target must hold labels.
A refusal is written to the audit log and raised; nothing else changes.

The champion and the challenger are compared only on rows neither of them trained on:
rows are matched by the id column, or by a hash of their values when there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset, Schema
    from mlops_nb.model import Model

_PAD_HINT = (
    " Column names in the file carry spaces around them (e.g. {bad!r} for "
    "{good!r}): strip them (pd.read_csv(..., skipinitialspace=True) and "
    "df.columns = df.columns.str.strip())."
)


def _family(kind: str, dtype: Any) -> str:
    """Coarse type of a column: ``number``, ``time`` or ``label``."""
    import pandas as pd

    if kind == "datetime":
        return "time"
    if isinstance(dtype, str):
        try:
            dtype = pd.api.types.pandas_dtype(dtype)
        except TypeError:
            return "label"
    if pd.api.types.is_bool_dtype(dtype):
        return "label"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "label"


def _near(name: str, columns: list[str]) -> str:
    """Hint at a padded, differently cased or similar name for a missing column."""
    for col in columns:
        if col != name and col.strip().casefold() == name.strip().casefold():
            if col.strip() == name.strip():
                return _PAD_HINT.format(bad=col, good=name)
            return f" Did you mean {col!r}?"
    return did_you_mean(name, columns)


def needed_columns(champion: Model, source: DataAsset) -> dict[str, str]:
    """Column -> why retraining needs it (its role, or "feature")."""
    generated = set((champion.recipe.get("feature_recipe") or {}).get("outputs", []))
    schema = source.schema
    need: dict[str, str] = {}
    target = champion.recipe["target"]
    need[target] = "target"
    for role in ("id", "time"):
        col = getattr(schema, role)
        if col:
            need.setdefault(col, role)
    for col in schema.sensitive:
        need.setdefault(col, "sensitive")
    for col in champion.features:
        if col not in generated and col in schema.names:
            need.setdefault(col, "feature")
    return need


def check_new_data(
    frame: pd.DataFrame, champion: Model, source: DataAsset, *, what: str
) -> pd.DataFrame:
    """Refuse new data that the champion's recipe and comparison cannot use.

    Returns
    -------
    DataFrame
        ``frame`` with ISO 8601 text parsed where the champion's data holds dates.

    Raises
    ------
    SchemaError
        Naming every missing or retyped column and unusable labels at once, with
        ``failure_cases``; the caller has stored nothing yet.
    """
    from mlops_nb.data._schema import infer_kind

    columns = [str(c) for c in frame.columns]
    frame, problems = parse_times(frame, source.schema)
    lines = [f"column {p['column']!r} {p['problem']}." for p in problems]
    for col, role in needed_columns(champion, source).items():
        spec = source.schema[col]
        if col not in frame.columns:
            problems.append({"column": col, "role": role, "problem": "missing"})
            lines.append(f"{role} column {col!r} is missing.{_near(col, columns)}")
            continue
        if any(p["column"] == col for p in problems):  # not dates: said above
            continue
        series = frame[col]
        want = _family(spec.kind, spec.dtype)
        got = _family(infer_kind(series, col), series.dtype)
        if want != got:
            example = series.dropna().head(1).tolist()
            problems.append(
                {
                    "column": col,
                    "role": role,
                    "problem": f"retyped: {got} ({series.dtype})",
                    "expected": f"{want} ({spec.dtype})",
                }
            )
            lines.append(
                f"{role} column {col!r} holds {got} values ({series.dtype}"
                f"{', e.g. ' + repr(example[0]) if example else ''}) where "
                f"{source.label} holds {want} values ({spec.dtype})."
            )
        if role == "target":
            missing = int(series.isna().sum())
            if missing:
                problems.append(
                    {"column": col, "role": role, "problem": f"{missing} missing"}
                )
                lines.append(
                    f"target {col!r} is missing in {missing:,} of {len(frame):,} "
                    "rows; retraining needs a label on every row (drop or label them)."
                )
            elif champion.recipe["task"] != "regression" and series.nunique() < 2:
                problems.append({"column": col, "role": role, "problem": "one class"})
                lines.append(
                    f"target {col!r} holds a single class; a classifier needs two."
                )
        if role == "id" and not series.is_unique:
            n = int(series.duplicated().sum())
            problems.append({"column": col, "role": role, "problem": f"{n} repeated"})
            lines.append(f"id column {col!r} repeats {n:,} value(s).")
    if problems:
        msg = (
            f"{what}: the new data does not fit {source.label}, the data "
            f"{champion.label} learnt from: {' '.join(lines)} Nothing was stored; "
            "fix the data and run the retraining again."
        )
        raise SchemaError(msg, problems)
    return frame


def parse_times(
    frame: pd.DataFrame, schema: Schema
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Parse ISO 8601 text in the columns ``schema`` holds as dates.

    Returns
    -------
    (DataFrame, list of dict)
        The frame with those columns as datetimes (a copy when one changed), and
        one problem per column whose values are not ISO 8601 dates or times.
    """
    import pandas as pd

    problems: list[dict[str, Any]] = []
    out = frame
    for spec in schema.columns:
        col = spec.name
        if spec.kind != "datetime" or col not in frame.columns:
            continue
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            continue
        bad: list[Any] = values.dropna().head(1).tolist()
        if not pd.api.types.is_numeric_dtype(values.dtype):
            text = values.dropna().astype(str)
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
            if parsed.notna().all():
                if parsed.dt.tz is not None and ", " not in spec.dtype:
                    parsed = parsed.dt.tz_convert(None)  # the reference is naive
                if out is frame:
                    out = frame.copy()
                out[col] = parsed.reindex(values.index)
                continue
            bad = text[parsed.isna()].head(1).tolist()
        problems.append(
            {
                "column": col,
                "problem": f"holds {values.dtype} values that are not dates"
                + (f", e.g. {bad[0]!r}" if bad else ""),
                "expected": f"datetime ({spec.dtype})",
            }
        )
    return out, problems


def row_keys(frame: pd.DataFrame, key: dict[str, Any]) -> np.ndarray:
    """Identify rows: the id's values as text, or a hash of the key columns."""
    import pandas as pd

    if key["id"] is not None:
        return frame[key["id"]].astype(str).to_numpy()
    parts = {}
    for col in key["columns"]:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(
            s.dtype
        ):
            s = s.astype("float64")
        parts[col] = s.astype(str)
    text = pd.DataFrame(parts, index=frame.index)
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def _isin(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Return which of ``values`` occur in ``among``, as a boolean mask.

    Integer keys (row hashes) go to ``np.isin``. Text ids go to a Python set: numpy
    sorts object arrays in Python (40 s for the capstone's 100k x 30k ids), and
    pandas 3 turns them into Arrow strings first (0.75 s for 200k x 70k ids; the
    set: 25 ms).
    """
    import numpy as np

    values, among = np.asarray(values), np.asarray(among)
    if values.dtype.kind in "iu" and among.dtype.kind in "iu":
        return np.isin(values, among)
    known = set(among.tolist())
    return np.fromiter(
        (v in known for v in values.tolist()), dtype=bool, count=len(values)
    )


def row_key(
    champion_rows: pd.DataFrame, new: pd.DataFrame, source: DataAsset
) -> dict[str, Any]:
    """How rows are matched: the id column when both frames have it, else a hash."""
    id_col = source.schema.id
    if id_col and id_col in champion_rows.columns and id_col in new.columns:
        return {"id": id_col, "columns": [id_col], "by": f"id column {id_col!r}"}
    cols = [c for c in champion_rows.columns if c in new.columns]
    return {
        "id": None,
        "columns": cols,
        "by": f"a hash of each row's values ({len(cols)} columns)",
    }


def audit_refusal(
    project: Project, obj: str, action: str, err: Exception, *, what: str
) -> None:
    """Record a refused action in the audit log (the only write a refusal makes).

    The message of an mlops_nb error is completed with "Nothing was stored." when
    it does not say so already, so the user knows the project is unchanged.
    """
    from mlops_nb.errors import MlopsNbError

    text = str(err)
    if isinstance(err, MlopsNbError) and "nothing was stored" not in text.lower():
        prefix = "" if text.startswith(what) else f"{what}: "
        text = f"{prefix}{text} Nothing was stored."
        err.args = (text, *err.args[1:])
    store = project._store
    with store.write() as conn:
        store.audit(
            conn,
            action,
            obj,
            error=type(err).__name__,
            message=text,
            failures=getattr(err, "_failure_cases", []),
        )


def comparison_note(overlap: dict[str, Any]) -> str:
    """One sentence on the rows compared and the rows left out."""
    return (
        f"compared on {overlap['compared']:,} of {overlap['test_rows']:,} test rows; "
        f"{overlap['excluded']:,} excluded because a model trained on them "
        f"({overlap['seen_by_champion']:,} by the champion, "
        f"{overlap['seen_by_challenger']:,} by the challenger; rows matched by "
        f"{overlap['matched_by']})"
    )
