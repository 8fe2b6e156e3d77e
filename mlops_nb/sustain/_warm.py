"""Warm start: continue LightGBM boosting on new data, and measure what it saves.

:func:`retrain_warm` adds ``extra_trees`` boosting rounds to the model's booster,
fitted on the new data (LightGBM ``init_model``), and stores the result as a new
version with lineage to the model it continued. It keeps that model's fitted
preprocessing (categories unseen before are coded as unknown), so its inputs mean
what they meant. For comparison it retrains from scratch with the production
recipe on the same rows, measures both with CodeCarbon, and evaluates the model as
it was, the warm start and the full retrain on the same test split: energy saved
against the change in accuracy and money value.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import NotFoundError, SchemaError, ValidationError
from mlops_nb.ui import Displayable

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model
    from mlops_nb.ui import View


def _check(
    model: Model, data: Any, test: Any, extra_trees: Any, learning_rate: Any
) -> None:
    from mlops_nb.data import DataAsset

    what = f"{model.label}.retrain_warm"
    if model.flavor != "lightgbm":
        msg = (
            f"{what}: warm start continues LightGBM boosting, but {model.label} is a "
            f"{model.recipe['estimator']} model. Train a LightGBM version "
            "(estimator='lightgbm') or retrain from scratch with proj.train(...)."
        )
        raise ValidationError(msg)
    if not isinstance(data, DataAsset):
        msg = (
            f"{what}: data must be a DataAsset, got {type(data).__name__}. Register "
            "the new data first: new = proj.data('name', frame)."
        )
        raise ValidationError(msg)
    if model.recipe["target"] not in data.schema.names:
        target = model.recipe["target"]
        msg = f"{what}: {data.label} has no {target!r} column; warm start needs labels."
        raise SchemaError(msg)
    if (
        isinstance(extra_trees, bool)
        or not isinstance(extra_trees, numbers.Integral)
        or extra_trees < 1
    ):
        msg = f"{what}: extra_trees={extra_trees!r} must be a whole number >= 1."
        raise ValidationError(msg)
    if learning_rate is not None and (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, numbers.Real)
        or not 0 < learning_rate <= 1
    ):
        msg = f"{what}: learning_rate={learning_rate!r} must be in (0, 1]."
        raise ValidationError(msg)
    if not isinstance(test, DataAsset) and (
        isinstance(test, bool) or not isinstance(test, numbers.Real) or not 0 < test < 1
    ):
        msg = (
            f"{what}: test={test!r} must be a share in (0, 1) or a labelled DataAsset."
        )
        raise ValidationError(msg)


def _rounds(model: Model) -> int | None:
    """Boosting rounds fitted to make this version (all folds); None if not boosted."""
    r = model.recipe
    if "warm_start" in r:
        return int(r["warm_start"]["extra_rounds"])
    n = (
        r.get("params", {}).get("n_estimators")
        if r.get("family") == "lightgbm"
        else None
    )
    if not isinstance(n, int):
        return None
    return n * ((r.get("cv") or 0) + 1)


def _row(role: str, model: Model, ev: Any, m: Any | None) -> dict[str, Any]:
    value = ev.value or {}
    return {
        "option": role,
        "model": model.label,
        "boosting rounds trained": _rounds(model) if m is not None else 0,
        "training s": model.metrics.get("duration_s") if m is not None else 0.0,
        "energy_kwh": (m.energy_kwh if m is not None else 0.0),
        "emissions_kg": (m.emissions_kg if m is not None else 0.0),
        "action s": (m.duration_s if m is not None else 0.0),
        "cpu s": (m.cpu_s if m is not None else 0.0),
        "cpu_energy_kwh": (
            (m.entry or {}).get("cpu_energy_kwh") if m is not None else 0.0
        ),
        "metrics": ev.metrics,
        "value_per_1000": value.get("best_per_1000"),
        "currency": value.get("currency"),
    }


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def retrain_warm(
    model: Model,
    data: DataAsset,
    *,
    extra_trees: int = 50,
    learning_rate: float | None = None,
    test: float | DataAsset = 0.2,
    compare: bool = True,
    note: str = "",
) -> WarmStartReport:
    """Continue training ``model`` on new data and compare with a full retrain.

    See :meth:`Model.retrain_warm`.

    Parameters
    ----------
    model : Model
        A LightGBM model version to continue from.
    data : DataAsset
        New labelled data.
    extra_trees : int
        Boosting rounds added on the new data.
    learning_rate : float, optional
        Learning rate of the added rounds (default: the recipe's).
    test : float or DataAsset
        Share of ``data`` held out (split with the recipe's seed, stratified), or
        a labelled test version; every option is evaluated on it.
    compare : bool
        Also retrain from scratch with the production recipe (the model's own
        recipe when no version is in production) on the same rows, and measure it.
    note : str
        Recorded with the new version(s).

    Returns
    -------
    WarmStartReport
        Stored with the warm-started version.

    Raises
    ------
    ValidationError, SchemaError
        For a non-LightGBM model, unlabelled data or invalid options.
    """
    from mlops_nb.data import DataAsset
    from mlops_nb.model._metrics import PRIMARY
    from mlops_nb.model._train import train_model
    from mlops_nb.sustain._boost import fit_warm
    from mlops_nb.sustain._settings import settings
    from mlops_nb.sustain._tracker import measure

    _check(model, data, test, extra_trees, learning_rate)
    from mlops_nb.secure import require_trusted_base

    # the base's provenance is checked (signature, or an explicit trust record) and its
    # hash goes into the warm-started version's lineage (SECURITY-TESTS T34)
    base = require_trusted_base(
        model.project, model, what=f"{model.label}.retrain_warm", strict=None
    )
    project, recipe = model.project, model.recipe
    if isinstance(test, DataAsset):
        train_part, test_part = data, test
    else:
        stratify = recipe["target"] if recipe["task"] != "regression" else None
        train_part, test_part = data.split(
            test=float(test), seed=recipe.get("seed", 0), stratify=stratify
        )
    generated = recipe.get("feature_recipe")
    if generated and any(
        c not in train_part.schema.names for c in generated["outputs"]
    ):
        from mlops_nb.data._features import apply_to_asset

        # the model's generated features, with the same frozen steps (as in retrain)
        train_part = apply_to_asset(train_part, generated)
    why = note or f"warm start from {model.label} on {train_part.label}"
    train_part._frame_nocopy()  # read once, outside both measurements
    with measure(
        project,
        "train",
        f"model:{model.name}",
        note=f"warm start: +{extra_trees} rounds",
    ) as warm_m:
        warm = fit_warm(
            model,
            train_part,
            extra_trees=int(extra_trees),
            learning_rate=learning_rate,
            note=why,
            base_model=base.lineage(),
        )
        warm_m.attach(warm)
    rows = [
        _row("before: no retraining", model, model.evaluate(test_part), None),
        _row("warm start", warm, warm.evaluate(test_part), warm_m),
    ]
    full = None
    if compare:
        try:
            prod = project.model(model.name, stage="production")
        except NotFoundError:
            prod = model
        r = prod.recipe
        with measure(
            project,
            "train",
            f"model:{model.name}",
            note=f"full retrain with the recipe of {prod.label} (comparison)",
        ) as full_m:
            full = train_model(
                project,
                model.name,
                train_part,
                estimator=r["estimator"],
                params=r.get("user_params") or None,
                cv=r.get("cv"),
                holdout=r.get("holdout", 0.2),
                seed=r.get("seed", 0),
                use_sensitive=r.get("use_sensitive", False),
                parent=prod,
                note=note
                or f"full retrain on {train_part.label}, compared with warm start",
            )
            full_m.attach(full)
        rows.append(
            _row(
                f"full retrain ({prod.label} recipe)",
                full,
                full.evaluate(test_part),
                full_m,
            )
        )
    key = PRIMARY[model.task][0]
    s = settings(project)
    payload: dict[str, Any] = {
        "model": model.name,
        "parent": model.label,
        "warm": warm.label,
        "full": full.label if full else None,
        "data": data.label,
        "train": train_part.label,
        "test": test_part.label,
        "primary": key,
        "rows": rows,
        "extra_trees": int(extra_trees),
        "method": warm_m.method.get("summary", ""),
        "estimated": bool(warm_m.method.get("estimated")),
        "grid": s["country"] + (f"/{s['region']}" if s["region"] else ""),
    }
    if full is not None:
        w, f = rows[1], rows[2]
        payload.update(
            {
                "energy_saved_kwh": _diff(f["energy_kwh"], w["energy_kwh"]),
                "energy_saved_share": (1 - w["energy_kwh"] / f["energy_kwh"])
                if w["energy_kwh"] is not None and f["energy_kwh"]
                else None,
                "emissions_saved_kg": _diff(f["emissions_kg"], w["emissions_kg"]),
                "time_saved_s": _diff(f["action s"], w["action s"]),
                "cpu_saved_s": _diff(f["cpu s"], w["cpu s"]),
                "cpu_saved_share": (1 - w["cpu s"] / f["cpu s"])
                if f["cpu s"]
                else None,
                "metric_change": _diff(w["metrics"].get(key), f["metrics"].get(key)),
                "accuracy_change": _diff(
                    w["metrics"].get("accuracy"), f["metrics"].get("accuracy")
                ),
                "value_change_per_1000": _diff(
                    w["value_per_1000"], f["value_per_1000"]
                ),
            }
        )
    project._save_report(
        "model", warm.id, f"warm_start:{test_part.name}@{test_part.version}", payload
    )
    return WarmStartReport(payload, project)


@dataclass(frozen=True, repr=False)
class WarmStartReport(Displayable):
    """Warm start against full retraining: energy, time, accuracy and money."""

    payload: dict[str, Any]
    project: Project | None = field(default=None, repr=False)

    def _model(self, key: str) -> Model | None:
        label = self.payload.get(key)
        if label is None or self.project is None:
            return None
        name, version = label.rsplit(" v", 1)
        return self.project.model(name, int(version))

    @property
    def warm(self) -> Model | None:
        """The warm-started model version."""
        return self._model("warm")

    @property
    def full(self) -> Model | None:
        """The fully retrained model version (None when ``compare=False``)."""
        return self._model("full")

    @property
    def energy_saved_kwh(self) -> float | None:
        """Energy of the full retrain minus that of the warm start (kWh)."""
        return self.payload.get("energy_saved_kwh")

    @property
    def energy_saved_share(self) -> float | None:
        """Share of the full retrain's energy the warm start saved (0.8 = 80 % less)."""
        return self.payload.get("energy_saved_share")

    @property
    def metric_change(self) -> float | None:
        """Warm start minus full retrain on the primary metric (e.g. ROC AUC)."""
        return self.payload.get("metric_change")

    @property
    def value_change_per_1000(self) -> float | None:
        """Warm start minus full retrain in money per 1,000 cases (needs a canvas)."""
        return self.payload.get("value_change_per_1000")

    def to_frame(self) -> pd.DataFrame:
        """One row per option: rounds, seconds, Wh, g CO2e, metrics, value per 1,000."""
        import pandas as pd

        key = self.payload["primary"]
        out = []
        for r in self.payload["rows"]:
            out.append(
                {
                    "option": r["option"],
                    "model": r["model"],
                    "boosting rounds trained": r["boosting rounds trained"],
                    "training s": r["training s"],
                    "CPU s": r.get("cpu s"),
                    "Wh": None if r["energy_kwh"] is None else r["energy_kwh"] * 1000,
                    "g CO2e": None
                    if r["emissions_kg"] is None
                    else r["emissions_kg"] * 1000,
                    key: r["metrics"].get(key),
                    "accuracy": r["metrics"].get("accuracy"),
                    f"value per 1,000 ({r['currency'] or 'no canvas'})": r[
                        "value_per_1000"
                    ],
                }
            )
        return pd.DataFrame(out)

    def plot(self) -> go.Figure:
        """Draw energy (Wh) and the primary metric of each option, side by side."""
        from mlops_nb.sustain._views import warm_figure

        return warm_figure(self)

    def _view(self) -> View:
        from mlops_nb.sustain._views import warm_view

        return warm_view(self)
