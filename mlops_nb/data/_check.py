"""Data-quality checks of a data version.

Each finding has a check name, a severity (``error``, ``warning``, ``info``), the
column it concerns and one plain sentence. Checks: missing values, out-of-range
values and unseen categories against the previous version, duplicate rows, constant
and near-constant columns, high-cardinality categoricals, single-feature target
leakage, infinite values, features unique on every row (ids used as features),
whitespace stripped from a CSV, and the schema diff against the previous version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data._schema import Schema
    from mlops_nb.ui._blocks import Tone

#: thresholds of the checks; documented in the README
MISSING_WARN = 0.05
MISSING_ERROR = 0.5
NEAR_CONSTANT = 0.99
HIGH_CARDINALITY = 50
LEAK_ERROR = 0.97
LEAK_WARN = 0.90
#: rows needed before a column unique on every row is flagged as id-like
ID_MIN_ROWS = 20
#: rows screened for the leakage score and the constant/cardinality checks
#: (seeded sample)
SAMPLE_ROWS = 200_000
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _show(value: Any) -> str:
    from mlops_nb.ui._html import format_value

    return repr(format_value(value)) if isinstance(value, str) else format_value(value)


def _finding(
    check: str, severity: str, column: str, message: str, value: Any = None
) -> dict:
    if value is not None and hasattr(value, "item"):
        value = value.item()  # numpy scalars -> JSON-ready Python numbers
    return {
        "check": check,
        "severity": severity,
        "column": column,
        "message": message,
        "value": value,
    }


def single_feature_score(
    x: pd.Series, y: pd.Series, kind: str, task: str
) -> float | None:
    """How well one feature alone predicts the target (1.0 = perfectly).

    Binary targets: ROC AUC of the feature (categoricals: of their per-level target
    rate), folded so 0.5 means useless. Multiclass: accuracy of the majority class per
    feature bin. Regression: absolute Pearson (numeric) or correlation ratio
    (categorical).
    """
    import numpy as np
    import pandas as pd

    mask = x.notna() & y.notna()
    x, y = x[mask], y[mask]
    if len(x) < 10 or y.nunique() < 2:
        return None
    if kind == "numeric":
        xs = x.astype("float64")
    elif kind in ("categorical", "boolean"):
        if x.nunique() > 0.5 * len(x):
            return None
        xs = x.astype(str)
    else:
        return None
    if task == "binary":
        positive = (y == y.max()).astype("float64")
        score = xs if kind == "numeric" else positive.groupby(xs).transform("mean")
        ranks = pd.Series(score).rank().to_numpy()
        pos = positive.to_numpy() == 1
        n_pos, n_neg = pos.sum(), (~pos).sum()
        auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        return float(max(auc, 1 - auc))
    if task == "multiclass":
        bins = pd.qcut(xs, 50, duplicates="drop") if kind == "numeric" else xs
        counts = pd.crosstab(bins, y.astype(str))
        return float(counts.max(axis=1).sum() / counts.to_numpy().sum())
    yv = y.astype("float64")
    if kind == "numeric":
        r = np.corrcoef(xs.to_numpy(), yv.to_numpy())[0, 1]
        return None if np.isnan(r) else float(abs(r))
    means = yv.groupby(xs).transform("mean")
    total = ((yv - yv.mean()) ** 2).sum()
    return float(np.sqrt(((means - yv.mean()) ** 2).sum() / total)) if total else None


def run_checks(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    previous: tuple[str, Schema, dict[str, Any]] | None = None,
    leakage: bool = True,
    reading: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return every finding for ``frame``.

    Parameters
    ----------
    previous : (label, schema, profile payload), optional
        The version to compare against for ranges, categories and schema changes.
    leakage : bool
        Run the single-feature leakage check (needs a target).
    reading : dict, optional
        How the file was read (``params["read"]`` of a version registered from a
        CSV): headers and columns whose padding was stripped become notes.
    """
    findings: list[dict[str, Any]] = []
    n = len(frame)
    findings.extend(_reading_notes(reading or {}))
    findings.extend(_infinite(frame))
    findings.extend(_unique_features(frame, schema))
    # missing values
    for name, count in frame.isna().sum().items():
        if not count:
            continue
        share = count / n
        severity = (
            "error"
            if share >= MISSING_ERROR
            else "warning"
            if share >= MISSING_WARN
            else "info"
        )
        if name == schema.target:
            severity = "error" if share >= MISSING_WARN else "warning"
        findings.append(
            _finding(
                "missing values",
                severity,
                name,
                f"{count:,} of {n:,} values are missing ({share:.1%}).",
                share,
            )
        )
    # duplicate rows (ignoring the id column, which makes every row unique)
    subset = [c for c in frame.columns if c != schema.id]
    dupes = int(frame.duplicated(subset=subset).sum()) if subset else 0
    if dupes:
        severity = "warning" if dupes / n >= 0.01 else "info"
        findings.append(
            _finding(
                "duplicate rows",
                severity,
                "",
                f"{dupes:,} rows ({dupes / n:.1%}) repeat an earlier row"
                f"{' apart from the id' if schema.id else ''}.",
                dupes,
            )
        )
    if schema.id is not None and not frame[schema.id].is_unique:
        count = int(frame[schema.id].duplicated().sum())
        findings.append(
            _finding(
                "duplicate ids",
                "error",
                schema.id,
                f"{count:,} id values repeat; an id must identify one row.",
                count,
            )
        )
    # constant, near-constant, high-cardinality: screened on a sample, counted exactly
    sample = frame.sample(n=SAMPLE_ROWS, random_state=0) if n > SAMPLE_ROWS else frame
    for spec in schema.columns:
        screen = sample[spec.name].value_counts(dropna=False)
        if screen.iloc[0] / len(sample) < NEAR_CONSTANT - 0.01 and (
            spec.kind != "categorical" or len(screen) <= HIGH_CARDINALITY
        ):
            continue  # cannot be constant, near-constant or high-cardinality
        counts = frame[spec.name].value_counts(dropna=False)
        if len(counts) == 1:
            severity = "info" if spec.role in ("time", "sensitive") else "warning"
            findings.append(
                _finding(
                    "constant column",
                    severity,
                    spec.name,
                    f"every row holds the same value ({_show(counts.index[0])}); "
                    "it carries no information.",
                    1,
                )
            )
        elif counts.iloc[0] / n >= NEAR_CONSTANT and spec.role != "target":
            share = counts.iloc[0] / n
            findings.append(
                _finding(
                    "near-constant column",
                    "info",
                    spec.name,
                    f"{share:.2%} of rows hold {_show(counts.index[0])}.",
                    share,
                )
            )
        if spec.kind == "categorical" and len(counts) > HIGH_CARDINALITY:
            findings.append(
                _finding(
                    "high cardinality",
                    "warning",
                    spec.name,
                    f"{len(counts):,} distinct values; one-hot encoding would make "
                    f"{len(counts):,} features. Group rare values or mark it as "
                    "'text' or 'id'.",
                    len(counts),
                )
            )
    # single-feature leakage
    if leakage and schema.target is not None and schema.task:
        y = sample[
            schema.target
        ]  # a seeded sample of SAMPLE_ROWS rows estimates the score
        for spec in schema.columns:
            if spec.role or spec.kind not in ("numeric", "categorical", "boolean"):
                continue
            score = single_feature_score(sample[spec.name], y, spec.kind, schema.task)
            if score is None or score < LEAK_WARN:
                continue
            severity = "error" if score >= LEAK_ERROR else "warning"
            findings.append(
                _finding(
                    "target leakage",
                    severity,
                    spec.name,
                    f"this column alone predicts {schema.target!r} with a score of "
                    f"{score:.3f} (1 = perfectly); check it is known before the "
                    "outcome, or drop it.",
                    score,
                )
            )
    if previous is not None:
        findings.extend(_compare(frame, schema, *previous))
    findings.sort(
        key=lambda f: (_SEVERITY_ORDER[f["severity"]], f["check"], f["column"])
    )
    return findings


def _reading_notes(reading: dict[str, Any]) -> list[dict[str, Any]]:
    findings = []
    for raw, name in reading.get("stripped_headers", []):
        findings.append(
            _finding(
                "whitespace stripped",
                "info",
                name,
                f"the header {raw!r} was padded with whitespace; the column is "
                f"named {name!r}.",
            )
        )
    for name in reading.get("stripped_columns", []):
        findings.append(
            _finding(
                "whitespace stripped",
                "info",
                name,
                "whitespace padding this column's values was removed when the CSV "
                "was read, before its type was inferred.",
            )
        )
    return findings


def _infinite(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Numeric columns holding +inf or -inf, which training refuses."""
    import numpy as np
    import pandas as pd

    findings = []
    n = len(frame)
    for name in frame.columns:
        col = frame[name]
        if not pd.api.types.is_float_dtype(col.dtype):
            continue
        values = col.to_numpy(dtype="float64", na_value=np.nan)
        count = int(np.isinf(values).sum())
        if count:
            findings.append(
                _finding(
                    "infinite values",
                    "error",
                    name,
                    f"{count:,} of {n:,} values are infinite (+inf or -inf); "
                    "training refuses them. Replace them (e.g. with NaN, "
                    "frame[col].replace([np.inf, -np.inf], np.nan)) or fix the "
                    "division that made them.",
                    count,
                )
            )
    return findings


def _unique_features(frame: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """Feature columns that hold a different integer or string on every row."""
    from mlops_nb.data._schema import unique_per_row

    findings = []
    if len(frame) < ID_MIN_ROWS:
        return findings
    for spec in schema.columns:
        if spec.role or spec.kind not in ("numeric", "categorical", "boolean"):
            continue
        if unique_per_row(frame[spec.name]):
            findings.append(
                _finding(
                    "unique per row",
                    "warning",
                    spec.name,
                    f"every row holds a different value, like an id, and the column "
                    f"is a {spec.kind} feature: a model would learn row identities. "
                    f"Declare it with id={spec.name!r} or kinds={{{spec.name!r}: "
                    "'id'}, or drop it.",
                )
            )
    return findings


def _compare(
    frame: pd.DataFrame,
    schema: Schema,
    label: str,
    prev_schema: Schema,
    prev_profile: dict[str, Any],
) -> list[dict[str, Any]]:
    findings = []
    diff = schema.diff(prev_schema)
    for name in diff["added"]:
        findings.append(
            _finding("schema change", "warning", name, f"column added since {label}.")
        )
    for name in diff["removed"]:
        findings.append(
            _finding("schema change", "warning", name, f"column removed since {label}.")
        )
    for name, old, new in diff["retyped"]:
        findings.append(
            _finding(
                "schema change",
                "warning",
                name,
                f"kind/dtype changed since {label}: {old} -> {new}.",
            )
        )
    prev_stats = {c["column"]: c for c in prev_profile["columns"]}
    prev_hists = prev_profile["histograms"]
    rekinded = {
        name
        for name, old, new in diff["retyped"]
        if old.split("/")[0] != new.split("/")[0]
    }
    for spec in schema.columns:
        old = prev_stats.get(spec.name)
        if old is None or spec.name in rekinded:
            continue
        col = frame[spec.name]
        if (
            spec.kind == "numeric"
            and "min" in old
            and isinstance(old["min"], (int, float))
        ):
            values = col.dropna().astype("float64")
            out = int(((values < old["min"]) | (values > old["max"])).sum())
            if out:
                findings.append(
                    _finding(
                        "out of range",
                        "warning",
                        spec.name,
                        f"{out:,} values fall outside {label}'s range "
                        f"[{old['min']:.4g}, {old['max']:.4g}].",
                        out,
                    )
                )
        elif spec.kind in ("categorical", "boolean") and spec.name in prev_hists:
            known = set(prev_hists[spec.name]["labels"])
            if "(other)" in known or old["unique"] > len(known):
                continue  # the previous version's categories were not all recorded
            unseen = sorted(set(col.dropna().astype(str).unique()) - known)
            if unseen:
                count = int(col.astype(str).isin(unseen).sum())
                findings.append(
                    _finding(
                        "unseen categories",
                        "warning",
                        spec.name,
                        f"{count:,} rows hold values not seen in {label}: "
                        f"{', '.join(map(repr, unseen[:5]))}"
                        f"{' ...' if len(unseen) > 5 else ''}.",
                        count,
                    )
                )
    return findings


@dataclass(frozen=True, repr=False)
class CheckReport(Displayable):
    """The data-quality findings of one data version."""

    asset: str
    findings: tuple[dict[str, Any], ...]
    compared_with: str | None = None

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error``."""
        return not any(f["severity"] == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Count the findings by severity."""
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f["severity"]] += 1
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: check, severity, column, message, value."""
        import pandas as pd

        cols = ["check", "severity", "column", "message", "value"]
        return pd.DataFrame(list(self.findings), columns=cols)

    def by_check(self, check: str) -> list[dict[str, Any]]:
        """Return the findings of one check, e.g. ``"target leakage"``."""
        return [f for f in self.findings if f["check"] == check]

    def _badge(self) -> tuple[str, Tone]:
        """Return the verdict badge: failed on errors, the warning count on warnings."""
        c = self.counts()
        if c["error"]:
            return "failed", "error"
        if c["warning"]:
            n = c["warning"]
            return f"{n} warning{'s' if n != 1 else ''}", "warning"
        return "passed", "ok"

    def _view(self) -> View:
        c = self.counts()
        summary = f"{c['error']} errors, {c['warning']} warnings, {c['info']} notes"
        if self.compared_with:
            summary += f" (compared with {self.compared_with})"
        badges = [self._badge()]
        frame = self.to_frame()[["severity", "check", "column", "message"]]
        frame["tone"] = frame["severity"].map(
            {"error": "error", "warning": "warning", "info": "muted"}
        )
        blocks: list[Any] = [KeyValues(list(c.items()))]
        if len(frame):
            blocks.append(Table(frame, max_rows=80, tone_column="tone"))
        else:
            blocks.append(Text("No findings: the data passed every check.", "ok"))
        return View("Checks", self.asset, summary, badges, [Tab("Findings", blocks)])
