"""Automated feature engineering: propose candidates, keep those that help, record the recipe.

:meth:`DataAsset.features` proposes candidate features (date parts; ratios,
differences and products of numeric pairs; quantile bins; category frequencies; target
means of categories and of category pairs, learnt out of fold) and measures each one
by cross-validated gain, in two stages so a notebook stays within its minute:

1. *Screening.* In each fold, one LightGBM sees the existing features and every
   candidate at once; candidates are ranked by the share of the split gain they take.
   (Fitting a model per candidate would cost a minute; a residual model on a candidate
   alone misses features such as ratios, whose value is to replace the many splits a
   tree needs to approximate them, not to add new information.)
2. *Confirmation.* The best-ranked candidates are added one at a time to the baseline
   model, in the same folds; a candidate is kept when the mean gain over the current
   set exceeds ``min_gain`` and it helps in most folds.

Every step that uses the target is fitted inside the training folds only (target means
by scikit-learn's cross fitting), so a noise column of many categories cannot look
useful. The kept steps form a JSON recipe (:mod:`mlops_nb.data._recipe`) stored with
the new data version, so Model Ops computes the same features at prediction time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.data._learn import encode, feature_columns, lgbm, metric_name
from mlops_nb.data._recipe import (
    FORMAT,
    KINDS,
    apply_recipe,
    candidates,
    check_recipe,
    compute,
    describe,
    fit_step,
    onnx_support,
)
from mlops_nb.errors import SchemaError, ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.data._asset import DataAsset

__all__ = ["FeatureReport", "apply_recipe", "features", "recipe_of"]


def features(
    asset: DataAsset,
    *,
    auto: bool = True,
    target: str | None = None,
    recipe: Any = None,
    kinds: tuple[str, ...] = KINDS,
    cv: int = 3,
    seed: int = 0,
    max_rows: int = 20_000,
    max_features: int = 8,
    max_confirm: int = 10,
    min_gain: float = 0.001,
    name: str | None = None,
) -> FeatureReport | DataAsset:
    """Generate candidate features, keep those that help, and register the result.

    Parameters
    ----------
    asset : DataAsset
        Labelled training data.
    auto : bool
        True: search (returns a :class:`FeatureReport`). False: apply ``recipe`` from
        an earlier search to this version (returns the new DataAsset), e.g. to the
        test split.
    target : str, optional
        The column to predict; default the asset's target.
    recipe : dict or FeatureReport, optional
        With ``auto=False``: the recipe to apply.
    kinds : tuple of str
        Candidate kinds to try, among ``date_part ratio difference product bins
        frequency target_encoding``.
    cv : int
        Folds of the cross-validation that scores candidates.
    seed : int
        Seeds the folds, the row sample and the models.
    max_rows : int
        Rows used by the search (a seeded sample); the recipe is then fitted on all.
    max_features : int
        At most this many features are kept.
    max_confirm : int
        Screened candidates that go on to the full cross-validated test.
    min_gain : float
        Smallest mean cross-validated gain (ROC AUC, accuracy or R²) worth a feature.
    name : str, optional
        Asset name of the result; default a new version of this name.

    Returns
    -------
    FeatureReport or DataAsset
        ``FeatureReport.asset`` holds the kept features; ``.recipe`` the steps.

    Raises
    ------
    SchemaError
        When there is no target, or ``target`` is not a column.
    ValidationError
        For unknown kinds or bad numbers.
    """
    what = f"DataAsset.features on {asset.label}"
    if not auto:
        if recipe is None:
            raise ValidationError(f"{what}: auto=False applies a recipe; pass recipe=report.recipe.")
        return apply_to_asset(asset, check_recipe(recipe, what), name=name)
    target = target or asset.schema.target
    if target is None:
        raise SchemaError(f"{what}: no target; pass target='<column to predict>'.")
    asset._check_column("features", "target", target)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValidationError(f"{what}: unknown kinds {listing(bad)}; use {listing(KINDS)}.{did_you_mean(bad[0], KINDS)}")
    if int(cv) < 2 or int(max_rows) < 50 or int(max_features) < 0:
        raise ValidationError(f"{what}: cv must be >= 2, max_rows >= 50, max_features >= 0 "
                              f"(got cv={cv}, max_rows={max_rows}, max_features={max_features}).")  # fmt: skip
    options = {"target": target, "kinds": list(kinds), "cv": int(cv), "seed": seed, "max_rows": int(max_rows),
               "max_features": int(max_features), "max_confirm": int(max_confirm), "min_gain": float(min_gain),
               "name": name}  # fmt: skip
    kind = "features:" + hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    payload = asset.project._report("asset", asset.id, kind)
    if payload is None:
        payload = _search(asset, options, what)
        asset.project._save_report("asset", asset.id, kind, payload)
    return FeatureReport(asset.project.asset(*payload["asset"]), payload)


def _search(asset: DataAsset, o: dict[str, Any], what: str) -> dict[str, Any]:
    import numpy as np

    from mlops_nb.data._schema import _task
    from mlops_nb.ui._progress import progress

    frame = asset._frame_nocopy()
    target, seed = o["target"], o["seed"]
    s = asset.schema
    task = s.task if target == s.target else _task(frame[target], s.kind(target))
    numeric, categorical = feature_columns(s)
    numeric = [c for c in numeric if c != target]
    categorical = [c for c in categorical if c != target]
    dates = [c.name for c in s.columns if c.kind == "datetime" and not c.role and c.name != target]
    labelled = frame[frame[target].notna()]
    if labelled[target].nunique() < 2:
        raise ValidationError(f"{what}: the target {target!r} has fewer than two values.")
    rng = np.random.default_rng(seed)
    work = labelled.iloc[np.sort(rng.choice(len(labelled), min(o["max_rows"], len(labelled)), replace=False))]
    work = work.reset_index(drop=True)
    y = work[target]
    search = _Search(work, y, task, numeric, categorical, o)
    with progress(3, "feature search") as bar:
        search.baseline()
        bar.step("baseline")
        cands = candidates(work, numeric=search.rank(numeric), categorical=search.rank(categorical), dates=dates,
                           kinds=tuple(o["kinds"]), task=task, taken=set(frame.columns))  # fmt: skip
        rows = search.screen(cands)
        bar.step("screened")
        kept = search.confirm(rows)
        bar.step("confirmed")
    steps = []
    for row in rows:
        row["kept"] = row["output"] in kept
    if kept:
        fit_rows = frame[target].notna().to_numpy()
        new = frame.copy()
        for step in [c for c in cands if c["output"] in kept]:
            fitted, values = fit_step(step, frame[fit_rows], frame.loc[fit_rows, target], task=task, seed=seed)
            column = compute(fitted, frame)
            column[fit_rows] = values  # training rows: their out-of-fold values
            new[step["output"]] = column
            steps.append(fitted)
    recipe = {"format": FORMAT, "target": target, "task": task, "steps": steps,
              "inputs": sorted({c for st in steps for c in st["columns"]}),
              "outputs": [st["output"] for st in steps], "from": asset.label}  # fmt: skip
    base, final = float(np.mean(search.base_scores)), float(np.mean(search.current))
    summary = {"metric": search.metric, "baseline": base, "score": final, "gain": final - base,
               "rows_used": len(work), "cv": o["cv"], "candidates": len(rows), "kept": len(steps),
               "all_candidates_score": search.all_in}  # fmt: skip
    if steps:
        result = _register(asset, new, recipe, summary, o["name"], target)
    else:
        result = asset
    return {**summary, "task": task, "target": target, "options": o, "recipe": recipe,
            "rows": rows, "asset": [result.name, result.version], "source": asset.label}  # fmt: skip


def _register(asset: DataAsset, frame: pd.DataFrame, recipe: dict[str, Any], summary: dict[str, Any],
              name: str | None, target: str) -> DataAsset:  # fmt: skip
    from mlops_nb.data._register import _UNSET, register_frame

    note = (f"{len(recipe['steps'])} generated features kept from {summary['candidates']} candidates: "
            f"{summary['metric']} {summary['baseline']:.4f} -> {summary['score']:.4f} "
            f"({summary['cv']}-fold CV); target encodings of these rows are out of fold")  # fmt: skip
    return register_frame(
        asset.project, name or asset.name, frame, target=target if target != asset.schema.target else _UNSET,
        kinds=dict.fromkeys(recipe["outputs"], "numeric"), parents=[(asset.name, asset.version)],
        operation="features", params={"recipe": recipe, **summary}, note=note,
        source=f"features of {asset.label}", what="DataAsset.features",
    )  # fmt: skip


def apply_to_asset(asset: DataAsset, recipe: dict[str, Any], *, name: str | None = None) -> DataAsset:
    """Add a recipe's features to another version (test split, new data), with lineage."""
    frame = apply_recipe(asset.frame, recipe)
    note = f"features {', '.join(recipe['outputs']) or '(none)'} computed with the recipe from {recipe.get('from')}"
    return asset._derive(frame, name or asset.name, "features", {"recipe": recipe, "applied": True}, note)


def recipe_of(asset: DataAsset) -> dict[str, Any] | None:
    """The feature recipe a version's columns were made with (searching its first parents)."""
    seen = 0
    current: DataAsset | None = asset
    while current is not None and seen < 50:
        recipe = current.params.get("recipe") if current.operation == "features" else None
        if recipe and recipe.get("format") == FORMAT:
            return recipe
        current, seen = current.parent, seen + 1
    return None


class _Search:
    """The folds, the baseline and the two stages of the search (module docstring)."""

    def __init__(self, frame: pd.DataFrame, y: pd.Series, task: str, numeric: list[str],
                 categorical: list[str], o: dict[str, Any]):  # fmt: skip
        from sklearn.model_selection import KFold, StratifiedKFold

        self.frame, self.y, self.task, self.o = frame, y, task, o
        self.X0, _ = encode(frame, numeric, categorical)
        self.metric = metric_name(task)
        split = (KFold if task == "regression" else StratifiedKFold)(o["cv"], shuffle=True, random_state=o["seed"])
        self.folds = list(split.split(self.X0, None if task == "regression" else y))
        self.cache: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def _score(self, y: pd.Series, raw: np.ndarray) -> float:
        import numpy as np
        from sklearn.metrics import r2_score, roc_auc_score

        if self.task == "regression":
            return float(r2_score(y, raw))
        if self.task == "binary":
            return float(roc_auc_score(y, raw))
        return float((np.asarray(self.classes)[raw.argmax(axis=1)] == y.to_numpy()).mean())

    def _fit(self, X: Any, tr: np.ndarray, **params: Any) -> Any:
        return lgbm(self.task, self.o["seed"], **params).fit(X[tr], self.y.iloc[tr])

    def baseline(self) -> None:
        import numpy as np

        X = self.X0.to_numpy()
        self.classes = sorted(self.y.unique().tolist())
        shape = (len(X), len(self.classes)) if self.task == "multiclass" else (len(X),)
        self.margins = np.zeros(shape)
        self.importance = dict.fromkeys(self.X0.columns, 0.0)
        scores = []
        for tr, va in self.folds:
            model = self._fit(X, tr)
            self.margins[va] = model.predict(X[va], raw_score=True)
            scores.append(self._score(self.y.iloc[va], self.margins[va]))
            gains = model.booster_.feature_importance("gain")
            for col, g in zip(self.X0.columns, gains, strict=True):
                self.importance[col] += float(g)
        self.base_scores = np.array(scores)
        self.current = self.base_scores.copy()

    def rank(self, columns: list[str]) -> list[str]:
        return sorted(columns, key=lambda c: -self.importance.get(c, 0.0))

    def _values(self, step: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        if step["output"] not in self.cache:
            out = []
            for tr, va in self.folds:
                fitted, v_tr = fit_step(step, self.frame.iloc[tr], self.y.iloc[tr], task=self.task,
                                        seed=self.o["seed"])  # fmt: skip
                out.append((v_tr, compute(fitted, self.frame.iloc[va])))
            self.cache[step["output"]] = out
        return self.cache[step["output"]]

    def screen(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One model per fold with every candidate at once; rank candidates by split gain."""
        import numpy as np

        X = self.X0.to_numpy()
        share = np.zeros(len(steps))
        scores = []
        for k, (tr, va) in enumerate(self.folds):
            values = [self._values(st)[k] for st in steps]
            X_tr = np.column_stack([X[tr], *[v[0] for v in values]])
            X_va = np.column_stack([X[va], *[v[1] for v in values]])
            model = lgbm(self.task, self.o["seed"]).fit(X_tr, self.y.iloc[tr])
            scores.append(self._score(self.y.iloc[va], model.predict(X_va, raw_score=True)))
            gain = model.booster_.feature_importance("gain")
            share += gain[X.shape[1]:] / max(gain.sum(), 1e-12) / len(self.folds)
        self.all_in = float(np.mean(scores)) if steps else float(np.mean(self.base_scores))
        return [{"feature": st["output"], "step": describe(st), "kind": st["kind"], "columns": st["columns"],
                 "importance": float(v), "cv_gain": None, "output": st["output"], "_step": st}
                for st, v in zip(steps, share, strict=True)]  # fmt: skip

    def _z(self, old: np.ndarray, new: np.ndarray) -> float:
        """How many standard errors the pooled out-of-fold score improved, paired by row.

        ROC AUC: DeLong's test for two correlated ROC curves. Accuracy and R²: a paired
        test on per-row correctness or squared error.
        """
        import numpy as np

        y = self.y.to_numpy()
        if self.task == "binary":
            return _delong_z(y == self.classes[1], old, new)
        if self.task == "regression":
            diff = (y - old) ** 2 - (y - new) ** 2
        else:
            labels = np.asarray(self.classes)
            diff = (labels[new.argmax(axis=1)] == y).astype(float) - (labels[old.argmax(axis=1)] == y)
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        return float(diff.mean() / se) if se > 0 else 0.0

    def confirm(self, rows: list[dict[str, Any]]) -> list[str]:
        """Greedy forward selection of the best screened candidates, in the same folds.

        A candidate is kept when the mean fold gain in the metric exceeds ``min_gain``
        and the pooled out-of-fold score improves by more than two standard errors
        (a paired test over every row, far less noisy than three fold scores).
        """
        import numpy as np

        o = self.o
        order = sorted((r for r in rows if r["importance"] > 0), key=lambda r: -r["importance"])
        kept: list[str] = []
        X = self.X0.to_numpy()
        best = self.margins
        for row in order[: o["max_confirm"]]:
            if len(kept) >= o["max_features"]:
                break
            scores, raw = [], np.zeros_like(self.margins)
            for k, (tr, va) in enumerate(self.folds):
                extra = [self._values(self._step(rows, f))[k] for f in [*kept, row["output"]]]
                X_tr = np.column_stack([X[tr], *[e[0] for e in extra]])
                X_va = np.column_stack([X[va], *[e[1] for e in extra]])
                model = lgbm(self.task, o["seed"]).fit(X_tr, self.y.iloc[tr])
                raw[va] = model.predict(X_va, raw_score=True)
                scores.append(self._score(self.y.iloc[va], raw[va]))
            gain = np.array(scores) - self.current
            z = self._z(best, raw)
            row["cv_gain"], row["z"] = float(gain.mean()), z
            if gain.mean() > o["min_gain"] and z > 2.0:
                kept.append(row["output"])
                self.current, best = np.array(scores), raw
        for r in rows:
            r.pop("_step", None)
        return kept

    @staticmethod
    def _step(rows: list[dict[str, Any]], output: str) -> dict[str, Any]:
        return next(r["_step"] for r in rows if r["output"] == output)


def _delong_z(positive: np.ndarray, old: np.ndarray, new: np.ndarray) -> float:
    """DeLong's z for ROC AUC(new) - AUC(old) on the same rows (fast midrank version)."""
    import numpy as np
    from scipy.stats import rankdata

    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return 0.0
    parts = []
    for s in (old, new):
        ranks = rankdata(s)
        v10 = (ranks[positive] - rankdata(s[positive])) / n  # per positive: share of negatives below
        v01 = 1 - (ranks[~positive] - rankdata(s[~positive])) / m  # per negative: share of positives above
        parts.append((v10.mean(), v10, v01))
    (a_old, p_old, q_old), (a_new, p_new, q_new) = parts
    var = np.var(p_new - p_old, ddof=1) / m + np.var(q_new - q_old, ddof=1) / n
    return float((a_new - a_old) / np.sqrt(var)) if var > 0 else 0.0


@dataclass(frozen=True, repr=False)
class FeatureReport(Displayable):
    """The result of an automated feature search.

    Attributes
    ----------
    asset : DataAsset
        The data with the kept features (the input version itself when none helped).
    payload : dict
        Scores, every candidate with its gains, and the recipe (stored with the input).
    """

    asset: DataAsset
    payload: dict[str, Any]

    @property
    def recipe(self) -> dict[str, Any]:
        """The kept steps as a JSON-ready recipe (see :func:`apply_recipe`)."""
        return self.payload["recipe"]

    @property
    def kept(self) -> list[str]:
        """Names of the kept feature columns."""
        return list(self.recipe["outputs"])

    @property
    def gain(self) -> float:
        """Cross-validated gain of the kept features over the baseline (same folds)."""
        return float(self.payload["gain"])

    def to_frame(self) -> pd.DataFrame:
        """Every candidate: what it is, its screening share, its confirmed gain, kept or not."""
        import pandas as pd

        cols = ["feature", "step", "kind", "importance", "cv_gain", "kept"]
        frame = pd.DataFrame(self.payload["rows"], columns=[*cols, "columns"])[cols]
        return frame.sort_values(["kept", "importance"], ascending=False).reset_index(drop=True)

    def apply(self, data: DataAsset | pd.DataFrame, *, name: str | None = None) -> DataAsset | pd.DataFrame:
        """Add the kept features to another version (with lineage) or to a frame."""
        from mlops_nb.data._asset import DataAsset

        if isinstance(data, DataAsset):
            return apply_to_asset(data, self.recipe, name=name)
        return apply_recipe(data, self.recipe)

    def plot(self) -> go.Figure:
        """Share of split gain each candidate took in the all-candidates model; kept in green."""
        import plotly.graph_objects as go

        frame = self.to_frame().sort_values("importance", ascending=False).head(20).iloc[::-1]
        colors = ["#1e6b34" if k else "#9bb7d4" for k in frame["kept"]]
        fig = go.Figure(go.Bar(x=frame["importance"], y=frame["step"], orientation="h", marker_color=colors))
        fig.update_layout(height=140 + 22 * len(frame), template="plotly_white",
                          title="Screening: share of the model's split gain (green: kept after full CV)",
                          margin={"l": 10, "r": 10, "t": 40, "b": 30})  # fmt: skip
        return fig

    def _view(self) -> View:
        import pandas as pd

        p = self.payload
        overview = KeyValues([
            ("data", p["source"]), ("target", f"{p['target']} ({p['task']})"),
            ("candidates", f"{p['candidates']} proposed, {p['kept']} kept"),
            ("kept", ", ".join(self.kept) or "none"),
            (f"CV {p['metric']}", f"{p['baseline']:.4f} -> {p['score']:.4f} (gain {p['gain']:+.4f}, "
                                 f"{p['cv']}-fold on {p['rows_used']:,} rows)"),
            ("result", self.asset.label),
        ])  # fmt: skip
        blocks: list[Any] = [overview]
        if not self.kept:
            blocks.append(Text("No candidate helped enough: the data is returned unchanged.", "info"))
        blocks.append(Figure(self.plot()))
        table = self.to_frame()
        recipe_rows = pd.DataFrame(onnx_support(self.recipe)) if self.kept else pd.DataFrame()
        tabs = [Tab("Overview", blocks), Tab("Candidates", [Table(table, max_rows=40)])]
        recipe_blocks: list[Any] = [Text("Model Ops applies these steps at training and prediction "
                                         "(apply_recipe). Target encodings were learnt out of fold.", "muted")]  # fmt: skip
        if len(recipe_rows):
            recipe_blocks.append(Table(recipe_rows, caption="steps and ONNX"))
        tabs.append(Tab("Recipe", recipe_blocks))
        badge = (f"{p['gain']:+.4f} {p['metric']}", "ok" if p["kept"] else "muted")
        summary = f"{p['kept']} of {p['candidates']} candidate features kept; CV {p['metric']} gain {p['gain']:+.4f}"
        return View("FeatureReport", self.asset.label, summary, [badge], tabs)  # type: ignore[list-item]
