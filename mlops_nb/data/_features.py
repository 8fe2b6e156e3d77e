"""Automated feature engineering: propose candidates, keep those that help.

The kept features are recorded as a recipe.

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

from mlops_nb.data._feature_search import Search
from mlops_nb.data._learn import feature_columns
from mlops_nb.data._recipe import (
    FORMAT,
    KINDS,
    apply_recipe,
    candidates,
    check_recipe,
    compute,
    fit_step,
    onnx_support,
)
from mlops_nb.errors import SchemaError, ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
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
    max_confirm: int = 6,
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
            msg = f"{what}: auto=False applies a recipe; pass recipe=report.recipe."
            raise ValidationError(msg)
        return apply_to_asset(asset, check_recipe(recipe, what), name=name)
    target = target or asset.schema.target
    if target is None:
        msg = f"{what}: no target; pass target='<column to predict>'."
        raise SchemaError(msg)
    asset._check_column("features", "target", target)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        msg = (
            f"{what}: unknown kinds {listing(bad)}; use {listing(KINDS)}."
            f"{did_you_mean(bad[0], KINDS)}"
        )
        raise ValidationError(msg)
    if int(cv) < 2 or int(max_rows) < 50 or int(max_features) < 0:
        msg = (f"{what}: cv must be >= 2, max_rows >= 50, max_features >= 0 "
               f"(got cv={cv}, max_rows={max_rows}, "
               f"max_features={max_features}).")  # fmt: skip
        raise ValidationError(msg)
    options = {"target": target, "kinds": list(kinds), "cv": int(cv), "seed": seed,
               "max_rows": int(max_rows), "max_features": int(max_features),
               "max_confirm": int(max_confirm), "min_gain": float(min_gain),
               "name": name}  # fmt: skip
    kind = (
        "features:"
        + hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    )
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
    task = (s.task if target == s.target else None) or _task(
        frame[target], s.kind(target)
    )
    numeric, categorical = feature_columns(s)
    numeric = [c for c in numeric if c != target]
    categorical = [c for c in categorical if c != target]
    dates = [
        c.name
        for c in s.columns
        if c.kind == "datetime" and not c.role and c.name != target
    ]
    labelled = frame[frame[target].notna()]
    if labelled[target].nunique() < 2:
        msg = f"{what}: the target {target!r} has fewer than two values."
        raise ValidationError(msg)
    rng = np.random.default_rng(seed)
    work = labelled.iloc[
        np.sort(
            rng.choice(len(labelled), min(o["max_rows"], len(labelled)), replace=False)
        )
    ]
    work = work.reset_index(drop=True)
    y = work[target]
    search = Search(work, y, task, numeric, categorical, o)
    with progress(3, "feature search") as bar:
        search.baseline()
        bar.step("baseline")
        cands = candidates(work, numeric=search.rank(numeric),
                           categorical=search.rank(categorical), dates=dates,
                           kinds=tuple(o["kinds"]), task=task,
                           taken=set(frame.columns))  # fmt: skip
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
            fitted, values = fit_step(
                step, frame[fit_rows], frame.loc[fit_rows, target], task=task, seed=seed
            )
            column = np.array(compute(fitted, frame), dtype=float)
            column[fit_rows] = values  # training rows: their out-of-fold values
            new[step["output"]] = column
            steps.append(fitted)
    recipe = {"format": FORMAT, "target": target, "task": task, "steps": steps,
              "inputs": sorted({c for st in steps for c in st["columns"]}),
              "outputs": [st["output"] for st in steps],
              "from": asset.label}  # fmt: skip
    base, final = float(np.mean(search.base_scores)), float(np.mean(search.current))
    summary = {"metric": search.metric, "baseline": base, "score": final,
               "gain": final - base, "rows_used": len(work), "cv": o["cv"],
               "candidates": len(rows), "kept": len(steps),
               "all_candidates_score": search.all_in,
               "z_needed": getattr(search, "z_needed", None)}  # fmt: skip
    if steps:
        result = _register(asset, new, recipe, summary, o["name"], target)
    else:
        result = asset
    return {**summary, "task": task, "target": target, "options": o, "recipe": recipe,
            "rows": rows, "asset": [result.name, result.version],
            "source": asset.label}  # fmt: skip


def _register(asset: DataAsset, frame: pd.DataFrame, recipe: dict[str, Any],
              summary: dict[str, Any], name: str | None,
              target: str) -> DataAsset:  # fmt: skip
    from mlops_nb.data._register import _UNSET, register_frame

    note = (f"{len(recipe['steps'])} generated features kept from "
            f"{summary['candidates']} candidates: "
            f"{summary['metric']} {summary['baseline']:.4f} -> {summary['score']:.4f} "
            f"({summary['cv']}-fold CV); "
            "target encodings of these rows are out of fold")  # fmt: skip
    return register_frame(
        asset.project, name or asset.name, frame,
        target=target if target != asset.schema.target else _UNSET,
        kinds=dict.fromkeys(recipe["outputs"], "numeric"),
        parents=[(asset.name, asset.version)],
        operation="features", params={"recipe": recipe, **summary}, note=note,
        source=f"features of {asset.label}", what="DataAsset.features",
    )  # fmt: skip


def apply_to_asset(
    asset: DataAsset, recipe: dict[str, Any], *, name: str | None = None
) -> DataAsset:
    """Add a recipe's features to another version, with lineage.

    The other version is typically a test split or new data.
    """
    frame = apply_recipe(asset.frame, recipe)
    note = (
        f"features {', '.join(recipe['outputs']) or '(none)'} "
        f"computed with the recipe from {recipe.get('from')}"
    )
    return asset._derive(
        frame, name or asset.name, "features", {"recipe": recipe, "applied": True}, note
    )


def recipe_of(asset: DataAsset) -> dict[str, Any] | None:
    """Return the feature recipe of a version, searching its first parents (or None)."""
    seen = 0
    current: DataAsset | None = asset
    while current is not None and seen < 50:
        recipe = (
            current.params.get("recipe") if current.operation == "features" else None
        )
        if recipe and recipe.get("format") == FORMAT:
            return recipe
        current, seen = current.parent, seen + 1
    return None


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
        """Every candidate: what it is, its screening share, its confirmed gain and z.

        The ``kept`` column says whether it was kept.
        """
        import pandas as pd

        cols = ["feature", "step", "kind", "importance", "cv_gain", "z", "kept"]
        frame = pd.DataFrame(self.payload["rows"], columns=[*cols, "columns"])[cols]
        return frame.sort_values(["kept", "importance"], ascending=False).reset_index(
            drop=True
        )

    def apply(
        self, data: DataAsset | pd.DataFrame, *, name: str | None = None
    ) -> DataAsset | pd.DataFrame:
        """Add the kept features to another version (with lineage) or to a frame."""
        from mlops_nb.data._asset import DataAsset

        if isinstance(data, DataAsset):
            return apply_to_asset(data, self.recipe, name=name)
        return apply_recipe(data, self.recipe)

    def plot(self) -> go.Figure:
        """Plot the share of split gain each candidate took in the all-candidates model.

        Kept candidates are in green.
        """
        import plotly.graph_objects as go

        frame = (
            self.to_frame()
            .sort_values("importance", ascending=False)
            .head(20)
            .iloc[::-1]
        )
        colors = ["#1e6b34" if k else "#9bb7d4" for k in frame["kept"]]
        fig = go.Figure(
            go.Bar(
                x=frame["importance"],
                y=frame["step"],
                orientation="h",
                marker_color=colors,
            )
        )
        fig.update_layout(height=140 + 22 * len(frame), template="plotly_white",
                          title="Screening: share of the model's split gain "
                                "(green: kept after full CV)",
                          margin={"l": 10, "r": 10, "t": 40, "b": 30})  # fmt: skip
        return fig

    def _view(self) -> View:
        import pandas as pd

        p = self.payload
        overview = KeyValues([
            ("data", p["source"]), ("target", f"{p['target']} ({p['task']})"),
            ("candidates", f"{p['candidates']} proposed, {p['kept']} kept"),
            ("kept", ", ".join(self.kept) or "none"),
            (f"CV {p['metric']}",
             f"{p['baseline']:.4f} -> {p['score']:.4f} (gain {p['gain']:+.4f}, "
             f"{p['cv']}-fold on {p['rows_used']:,} rows)"),
            ("result", self.asset.label),
        ])  # fmt: skip
        blocks: list[Any] = [overview]
        if not self.kept:
            blocks.append(
                Text(
                    "No candidate helped enough: the data is returned unchanged.",
                    "info",
                )
            )
        blocks.append(Figure(self.plot()))
        table = self.to_frame()
        recipe_rows = (
            pd.DataFrame(onnx_support(self.recipe)) if self.kept else pd.DataFrame()
        )
        tabs = [Tab("Overview", blocks), Tab("Candidates", [Table(table, max_rows=40)])]
        recipe_blocks: list[Any] = [
            Text("Model Ops applies these steps at training and prediction "
                 "(apply_recipe). Target encodings were learnt out of fold.",
                 "muted"),
        ]  # fmt: skip
        if len(recipe_rows):
            recipe_blocks.append(Table(recipe_rows, caption="steps and ONNX"))
        tabs.append(Tab("Recipe", recipe_blocks))
        badge = (f"{p['gain']:+.4f} {p['metric']}", "ok" if p["kept"] else "muted")
        summary = (
            f"{p['kept']} of {p['candidates']} candidate features kept; "
            f"CV {p['metric']} gain {p['gain']:+.4f}"
        )
        return View("FeatureReport", self.asset.label, summary, [badge], tabs)  # type: ignore[list-item]
