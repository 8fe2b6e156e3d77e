"""Fairness mitigation: a new model version, and what it costs.

``threshold_optimizer`` (fairlearn's post-processing; about half a second) keeps the
original model and decides each sensitive group with its own threshold on the
original's score. fairlearn's optimizer returns a *randomized* rule per group (two
thresholds mixed with some probabilities); mlops_nb stores one deterministic
threshold per group that selects, on the fitting data, the share of the group the
randomized rule selects in expectation. The same person then always gets the same
decision, the version is a small JSON table over the original's stored files (no new
file types to trust), and on the employment data it keeps most of the reduction.
The version reads the sensitive columns at prediction time.

``exponentiated_gradient`` (fairlearn's reduction; slow: tens of fits) trains new
models under the constraint. Defaults are sized for a notebook on 2 cores: logistic
regression on 2,000 sampled rows, at most 10 iterations, ``eps=0.02`` (about 10-20 s
on the employment data). The randomized mixture is stored as a soft-voting ensemble
of the scikit-learn pipelines that carry weight, a plain scikit-learn model that needs
no sensitive column at prediction time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import MlopsNbError, UnsupportedFormatError, ValidationError, did_you_mean, listing
from mlops_nb.human._common import (
    MIN_GROUP_SIZE,
    OTHER,
    group_keys,
    jsonable,
    labelled_frame,
    require_asset,
    require_binary,
    selected_class,
    sensitive_columns,
)
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

METHODS = ("threshold_optimizer", "exponentiated_gradient")
CONSTRAINTS = {"demographic_parity": "DemographicParity", "equalized_odds": "EqualizedOdds",
               "true_positive_rate_parity": "TruePositiveRateParity",
               "false_positive_rate_parity": "FalsePositiveRateParity"}  # fmt: skip
#: the disparity each constraint narrows (the x axis of the trade-off)
TARGET = {"demographic_parity": "demographic_parity_difference"}
_EPS = 1e-9
_PROGRESS: dict[str, Any] = {}


class GroupThresholds:
    """Predictions of a ``threshold_optimizer`` version: the original's score, then its group's threshold.

    ``proba`` returns the selected class's score shifted per group on the log-odds
    scale, ``sigmoid(logit(p) - logit(t_group))``, so 0.5 is each group's threshold
    and ``predict`` (the most likely class) is the mitigated decision. The shifted
    scores rank people within a group as the original did; they are not calibrated
    probabilities. Groups not seen when fitting get the pooled threshold of small
    groups, else the original's decision (0.5).
    """

    def __init__(self, base: Any, recipe: dict[str, Any]):
        m = recipe["mitigation"]
        self.base, self.task, self.classes = base, base.task, base.classes
        self.flavor, self.objects = base.flavor, base.objects
        self.features, self.sensitive = list(m["base_features"]), list(m["sensitive"])
        self.thresholds = dict(m["thresholds"])
        self.default = self.thresholds.get(OTHER, 0.5)
        self.k = [str(c) for c in self.classes].index(str(m["pos_label"]))

    def proba(self, X: pd.DataFrame) -> np.ndarray:
        """Shifted scores, columns in the order of ``classes``."""
        import numpy as np

        p = self.base.proba(X[self.features])
        t = np.array([self.thresholds.get(k, self.default) for k in group_keys(X, self.sensitive)])
        s, t = np.clip(p[:, self.k], _EPS, 1 - _EPS), np.clip(t, _EPS, 1 - _EPS)
        z = 1 / (1 + np.exp(-(np.log(s / (1 - s)) - np.log(t / (1 - t)))))
        out = np.empty_like(p)
        out[:, self.k], out[:, 1 - self.k] = z, 1 - z
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The mitigated decisions (labels)."""
        import numpy as np

        return np.asarray(self.classes)[self.proba(X).argmax(axis=1)]


def _scores_estimator(scores: np.ndarray) -> Any:
    """A prefit 'estimator' that hands fairlearn precomputed scores by row number."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Scores(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> Any:
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            s = scores[np.asarray(X)[:, 0].astype(int)]
            return np.column_stack([1 - s, s])

        def __sklearn_is_fitted__(self) -> bool:
            return True

    return Scores()


def _threshold_optimizer(scores: np.ndarray, y: np.ndarray, groups: np.ndarray, *, constraint: str,
                         objective: str, min_size: int) -> dict[str, Any]:  # fmt: skip
    import numpy as np
    import pandas as pd
    from fairlearn.postprocessing import ThresholdOptimizer

    uniq, counts = np.unique(groups, return_counts=True)
    degenerate = {g for g in uniq if len(set(y[groups == g].tolist())) < 2}
    pooled = [str(g) for g, c in zip(uniq, counts, strict=True) if c < min_size or g in degenerate]
    fit_groups = np.where(np.isin(groups, pooled), OTHER, groups).astype(str)
    keep = np.ones(len(y), dtype=bool)
    if pooled and len(set(y[fit_groups == OTHER].tolist())) < 2:
        keep = fit_groups != OTHER  # still one label: these rows keep the original decision
    X = pd.DataFrame({"row": np.flatnonzero(keep)})
    to = ThresholdOptimizer(estimator=_scores_estimator(scores), constraints=constraint, objective=objective,
                            prefit=True, predict_method="predict_proba")  # fmt: skip
    to.fit(X, y[keep].astype(int), sensitive_features=fit_groups[keep])
    pmf = to._pmf_predict(X, sensitive_features=fit_groups[keep])[:, 1]
    thresholds, rules = {}, {}
    for g, rule in to.interpolated_thresholder_.interpolation_dict.items():
        s = np.sort(scores[keep][fit_groups[keep] == g])[::-1]
        k = int(round(pmf[fit_groups[keep] == g].mean() * len(s)))
        thresholds[str(g)] = 1.0 if k <= 0 else 0.0 if k >= len(s) else float((s[k - 1] + s[k]) / 2)
        rules[str(g)] = {"p0": rule.p0, "operation0": repr(rule.operation0), "p1": rule.p1,
                         "operation1": repr(rule.operation1), "expected selection": pmf[fit_groups[keep] == g].mean()}  # fmt: skip
    return {"thresholds": thresholds, "fairlearn_rules": rules, "pooled": pooled}


def _weighted_pipeline(pipe: Any, token: str) -> Any:
    """An estimator fairlearn can fit with sample weights; reports each fit as progress."""
    from sklearn.base import BaseEstimator, ClassifierMixin, clone

    class Weighted(ClassifierMixin, BaseEstimator):
        def __init__(self, pipe: Any = None, token: str = ""):
            self.pipe, self.token = pipe, token

        def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
            self.pipeline_ = clone(self.pipe).fit(X, y, model__sample_weight=sample_weight)
            self.classes_ = self.pipeline_.classes_
            bar = _PROGRESS.get(self.token)
            if bar is not None:
                bar.step("fit")
            return self

        def predict(self, X: Any) -> Any:
            return self.pipeline_.predict(X)

        def predict_proba(self, X: Any) -> Any:
            return self.pipeline_.predict_proba(X)

    return Weighted(pipe, token)


def _exponentiated_gradient(model: Model, frame: pd.DataFrame, y01: np.ndarray, groups: np.ndarray, *,
                            constraint: str, estimator: Any, sample_rows: int, max_iter: int, eps: float,
                            seed: int) -> tuple[Any, str, str, dict[str, Any], np.ndarray]:  # fmt: skip
    import uuid

    import fairlearn.reductions as red
    import numpy as np
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder

    from mlops_nb.model._estimators import make_estimator
    from mlops_nb.model._prep import Features, make_preprocessor, prepare_X
    from mlops_nb.ui._progress import progress

    features = Features.from_dict(model.recipe["features"])
    est, est_name, family = make_estimator(estimator, "binary", None, seed)
    if family == "lightgbm":
        msg = (f"{model.label}.mitigate(method='exponentiated_gradient', estimator={estimator!r}): "
               "its members are stored as scikit-learn pipelines; use 'logistic' (default) or "
               "'hist_gradient_boosting'.")  # fmt: skip
        raise UnsupportedFormatError(msg)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(frame), size=min(sample_rows, len(frame)), replace=False))
    X = prepare_X(frame.iloc[idx], features, what=f"{model.label}.mitigate")
    token = uuid.uuid4().hex
    with progress(2 * max_iter + 2, "exponentiated gradient") as bar:
        _PROGRESS[token] = bar
        try:
            pipe = Pipeline([("prep", make_preprocessor(features, family)), ("model", est)])
            eg = red.ExponentiatedGradient(_weighted_pipeline(pipe, token), getattr(red, CONSTRAINTS[constraint])(),
                                           eps=eps, max_iter=max_iter)  # fmt: skip
            eg.fit(X, y01[idx], sensitive_features=groups[idx])
        finally:
            _PROGRESS.pop(token, None)
    weights = np.asarray(eg.weights_, dtype=float)
    members = [(w, p.pipeline_) for w, p in zip(weights, eg.predictors_, strict=True) if w > 1e-6]
    total = sum(w for w, _ in members)
    vc = VotingClassifier([(f"m{i}", p) for i, (_, p) in enumerate(members)], voting="soft",
                          weights=[w / total for w, _ in members])  # fmt: skip
    vc.estimators_ = [p for _, p in members]  # fitted by the reduction: no refit
    vc.le_ = LabelEncoder().fit([0, 1])
    vc.classes_ = vc.le_.classes_
    info = {"estimator": est_name, "eps": eps, "max_iter": max_iter, "rows": len(idx),
            "fits": int(eg.n_oracle_calls_), "members": len(members),
            "weights": [round(w / total, 6) for w, _ in members]}  # fmt: skip
    return Pipeline([("model", vc)]), est_name, family, info, idx


class _Stored:
    """What ``_store_version`` reads from a LightGBM pipeline: its booster and parameters."""

    def __init__(self, booster: Any, params: dict[str, Any]):
        self.booster_, self._params = booster, params

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return dict(self._params)


def _check_hook(model: Model, what: str) -> None:
    """Refuse to store a threshold version that Model.predict would not apply."""
    import dataclasses

    probe = dataclasses.replace(model, recipe={**model.recipe, "mitigation": {
        "method": "threshold_optimizer", "base_features": model.features, "sensitive": [],
        "thresholds": {}, "pos_label": (model.classes or [None])[-1]}})  # fmt: skip
    if not isinstance(probe._predictor(), GroupThresholds):
        msg = (f"{what}: this installation's Model does not apply stored group thresholds "
               "(mlops_nb.model._model.Model._predictor lacks the mitigation hook), so a "
               "threshold_optimizer version would predict like the original. Nothing was stored; "
               "use method='exponentiated_gradient' or update mlops_nb.")  # fmt: skip
        raise MlopsNbError(msg)


def mitigate(model: Model, data: DataAsset, *, method: str = "threshold_optimizer",
             constraint: str = "demographic_parity", sensitive: str | list[str] | None = None,
             test: DataAsset | None = None, pos_label: Any = None, objective: str = "accuracy_score",
             min_group_size: int = MIN_GROUP_SIZE, estimator: Any = "logistic", sample_rows: int = 2000,
             max_iter: int = 10, eps: float = 0.02, seed: int = 0, note: str = "") -> Mitigation:  # fmt: skip
    """Make a fairness-mitigated new version of ``model`` and measure what it costs.

    Parameters
    ----------
    model : Model
        A binary classifier (not itself a mitigated version).
    data : DataAsset
        Labelled data to fit the mitigation on. For ``threshold_optimizer`` prefer data
        the model did not learn from (a validation split): in-sample scores are sharper.
    method : {"threshold_optimizer", "exponentiated_gradient"}
    constraint : {"demographic_parity", "equalized_odds", "true_positive_rate_parity", "false_positive_rate_parity"}
    sensitive : str or list of str, optional
        Groups to equalize (default: the asset's sensitive columns, combined).
    test : DataAsset, optional
        Where to measure the trade-off (default: the data of the model's newest
        evaluation, else ``data``).
    pos_label : optional
        The class whose prediction is the decision (default as in :func:`fairness`).
    objective : str
        What ``threshold_optimizer`` maximizes under the constraint (fairlearn's names).
    min_group_size : int
        Smaller groups (and groups with a single label) share one pooled threshold.
    estimator, sample_rows, max_iter, eps : optional
        ``exponentiated_gradient`` only: the learner (a scikit-learn estimator name),
        rows sampled for fitting, iterations and the constraint's allowed slack.
    seed : int
    note : str
        Recorded with the new version.

    Returns
    -------
    Mitigation
        ``.model`` is the new version (stage candidate, lineage to the original);
        the view compares accuracy, money value and disparity of both.
    """
    import numpy as np

    from mlops_nb.model._metrics import classification_metrics
    from mlops_nb.model._prep import Features
    from mlops_nb.model._train import _store_version

    what = f"{model.label}.mitigate"
    require_binary(model, what)
    target = model.recipe["target"]
    require_asset(data, what, labelled=target)
    if method not in METHODS or constraint not in CONSTRAINTS:
        bad, choices = (method, METHODS) if method not in METHODS else (constraint, tuple(CONSTRAINTS))
        msg = f"{what}: unknown {bad!r}; use one of {listing(choices)}.{did_you_mean(str(bad), choices)}"
        raise ValidationError(msg)
    if model.recipe.get("mitigation"):
        pn, pv = model.lineage["parent_model"]
        raise ValidationError(f"{what}: {model.label} is already mitigated; mitigate the original {pn} v{pv}.")
    if method == "threshold_optimizer":
        _check_hook(model, what)
    cols = sensitive_columns(data, sensitive, what)
    pos, _ = selected_class(model, pos_label, what)
    frame = labelled_frame(data, target)
    groups = group_keys(frame, cols)
    classes = model.classes or []
    start = time.perf_counter()
    recipe = model.recipe
    mitigation: dict[str, Any] = {"method": method, "constraint": constraint, "sensitive": cols,
                                  "pos_label": pos, "fitted_on": data.label, "fitted_on_hash": data.content_hash,
                                  "base": [model.name, model.version]}  # fmt: skip
    if method == "threshold_optimizer":
        k = [str(c) for c in classes].index(str(pos))
        scores = model.predict_proba(frame)[:, k]
        y = (frame[target].astype(object) == pos).to_numpy()
        mitigation.update(_threshold_optimizer(scores, y, groups, constraint=constraint, objective=objective,
                                               min_size=min_group_size))  # fmt: skip
        base = Features.from_dict(recipe["features"])
        mitigation.update(objective=objective, base_features=base.names, serving=(
            f"Decisions apply a threshold per {' x '.join(cols)} group to the original's score, so this version "
            f"reads {', '.join(cols)} at prediction time. mlops_nb applies the thresholds in predict and "
            "predict_proba; an ONNX export of the original model alone would not reproduce these decisions, "
            "so export and serving need the threshold table (export refuses it until they do)."))  # fmt: skip
        features = Features(base.numeric, base.categorical + tuple(c for c in cols if c not in base.names))
        objs = model._predictor().objects
        family, flavor_pipe = recipe["family"], objs.get("pipeline")
        if model.flavor == "lightgbm":
            flavor_pipe = type("Pipe", (), {"named_steps": {"prep": objs["prep"], "model": _Stored(
                objs["booster"], recipe.get("params", {}))}})()  # fmt: skip
        est_name, n_rows = f"{recipe['estimator']} + threshold_optimizer", len(frame)
        fitted = GroupThresholds(model._predictor(), {"mitigation": mitigation})
        X_all = frame.assign(**{c: frame[c] for c in cols})
        from mlops_nb.model._prep import prepare_X

        proba = fitted.proba(prepare_X(X_all, features, what=what))
        validation = {"scheme": f"measured on {data.label}, the data the thresholds were fitted on",
                      "rows_fitted": len(frame), "rows": len(frame),
                      "metrics": classification_metrics(frame[target], proba, classes)}  # fmt: skip
        use_sensitive = True
    else:
        swap = {"true_positive_rate_parity": "false_positive_rate_parity",
                "false_positive_rate_parity": "true_positive_rate_parity"}  # fmt: skip
        fit_constraint = swap.get(constraint, constraint) if str(pos) == str(classes[0]) else constraint
        y01 = (frame[target].astype(object) == classes[1]).to_numpy().astype(int)
        flavor_pipe, est_name, family, info, idx = _exponentiated_gradient(
            model, frame, y01, groups, constraint=fit_constraint, estimator=estimator,
            sample_rows=sample_rows, max_iter=max_iter, eps=eps, seed=seed)  # fmt: skip
        features, n_rows = Features.from_dict(recipe["features"]), len(idx)
        rest = np.setdiff1d(np.arange(len(frame)), idx)
        held = frame.iloc[rest] if len(rest) else frame.iloc[idx]
        from mlops_nb.model._prep import prepare_X

        proba = flavor_pipe.predict_proba(prepare_X(held, features, what=what))
        validation = {"scheme": f"{len(held):,} rows of {data.label} not sampled for fitting" if len(rest)
                      else f"the {len(idx):,} fitting rows of {data.label} (none left out)",
                      "rows_fitted": len(idx), "rows": len(held),
                      "metrics": classification_metrics(held[target], proba, classes)}  # fmt: skip
        est_name = f"exponentiated_gradient({est_name})"
        mitigation.update(info, serving=(
            f"A soft-voting ensemble of {info['members']} scikit-learn pipelines (weights from exponentiated "
            "gradient); it reads no sensitive column at prediction time and is stored like any scikit-learn "
            "model. ONNX export depends on the converter supporting VotingClassifier over these pipelines."))  # fmt: skip
        use_sensitive = recipe.get("use_sensitive", False)
    duration = time.perf_counter() - start
    new = _store_version(model.project, model.name, data, flavor_pipe, est_name, family, features, "binary",
                         classes, validation, duration, seed=seed, cv=None, holdout=None,
                         use_sensitive=use_sensitive, params=recipe.get("user_params"),
                         note=note or f"{method} for {constraint} by {', '.join(cols)}", parent=model,
                         n_rows=n_rows, mitigation=jsonable(mitigation))  # fmt: skip
    return _tradeoff(model, new, data, test, cols, pos, round(duration, 3))


def _tradeoff(original: Model, new: Model, data: DataAsset, test: DataAsset | None, cols: list[str],
              pos: Any, seconds: float) -> Mitigation:  # fmt: skip
    from mlops_nb.human._fairness import fairness
    from mlops_nb.model._registry import _evaluation_data

    test = test if test is not None else (_evaluation_data(original, None) or data)
    grouping = cols[0] if len(cols) == 1 else " x ".join(cols)
    rows = []
    for m in (original, new):
        ev = m.evaluate(test)
        rep = fairness(m, test, sensitive=cols, pos_label=pos).payload
        disp = next(d for d in rep["disparities"] if d["grouping"] == grouping)
        o = rep["overall"]
        rows.append({"version": m.label, "method": (m.recipe.get("mitigation") or {}).get("method", "original"),
                     "accuracy": o["accuracy"], "roc_auc": ev.metrics.get("roc_auc"),
                     "selection rate": o["selection rate"],
                     f"value per 1,000 ({rep['currency']})" if rep["currency"] else "value per 1,000": o.get("value per 1,000"),
                     "demographic_parity_difference": disp["demographic_parity_difference"],
                     "equalized_odds_difference": disp["equalized_odds_difference"]})  # fmt: skip
    mit = new.recipe["mitigation"]
    payload = jsonable({"original": original.label, "mitigated": new.label, "mitigated_version": new.version,
                        "method": mit["method"], "constraint": mit["constraint"], "grouping": grouping,
                        "fitted_on": data.label, "test": test.label, "seconds": seconds, "rows": rows,
                        "in_sample": any(d["name"] == data.name and d["version"] == data.version
                                         for d in original.lineage["data"])})  # fmt: skip
    new.project._save_report("model", new.id, f"mitigation:{test.name}@{test.version}", payload)
    return Mitigation(new.project, payload)


@dataclass(frozen=True, repr=False)
class Mitigation(Displayable):
    """A mitigated version and its trade-off against the original, on the same test data."""

    project: Project = field(repr=False)
    payload: dict[str, Any]

    @property
    def model(self) -> Model:
        """The new, mitigated model version."""
        return self.project.model(self.payload["original"].rsplit(" v", 1)[0], version=self.payload["mitigated_version"])

    def to_frame(self) -> pd.DataFrame:
        """Original and mitigated: accuracy, ROC AUC, selection rate, money value, disparities."""
        import pandas as pd

        return pd.DataFrame(self.payload["rows"])

    def reduction(self, metric: str | None = None) -> float:
        """How much the targeted disparity fell (original minus mitigated)."""
        metric = metric or TARGET.get(self.payload["constraint"], "equalized_odds_difference")
        a, b = (r[metric] for r in self.payload["rows"])
        return float(a - b)

    def plot(self) -> Any:
        """Accuracy and money value against the targeted disparity, original -> mitigated."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        frame = self.to_frame()
        metric = TARGET.get(self.payload["constraint"], "equalized_odds_difference")
        value_col = next((c for c in frame.columns if c.startswith("value per 1,000")), None)
        panels = ["accuracy"] + ([value_col] if value_col and frame[value_col].notna().all() else [])
        fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
        for i, col in enumerate(panels, start=1):
            fig.add_trace(go.Scatter(x=frame[metric], y=frame[col], mode="lines+markers+text",
                                     text=[f"{v} ({m})" for v, m in zip(frame["version"], frame["method"], strict=True)],
                                     textposition="top center", marker={"size": 11, "color": ["#999", "#4c78a8"]},
                                     line={"dash": "dot", "color": "#bbb"}, showlegend=False), row=1, col=i)  # fmt: skip
            fig.update_xaxes(title_text=metric.replace("_", " ") + f" by {self.payload['grouping']}", row=1, col=i)
        fig.update_layout(title=f"Trade-off on {self.payload['test']}", template="plotly_white", height=340,
                          margin={"l": 50, "r": 20, "t": 60, "b": 50})  # fmt: skip
        return fig

    def _view(self) -> View:
        import pandas as pd

        p, mit = self.payload, self.model.recipe["mitigation"]
        metric = TARGET.get(p["constraint"], "equalized_odds_difference")
        a, b = p["rows"]
        head = KeyValues([("new version", f"{p['mitigated']} (candidate, derived from {p['original']})"),
                          ("method", f"{p['method']} for {p['constraint']} by {p['grouping']}"),
                          ("fitted on", p["fitted_on"]), ("measured on", p["test"]),
                          (f"{metric.replace('_', ' ')}", f"{a[metric]:.3f} -> {b[metric]:.3f}"),
                          ("accuracy", f"{a['accuracy']:.4f} -> {b['accuracy']:.4f}"),
                          ("time", f"{p['seconds']:.1f} s")])  # fmt: skip
        value_col = next((c for c in a if c.startswith("value per 1,000")), None)
        if value_col and a[value_col] is not None:
            head.items.append((value_col, f"{a[value_col]:,.1f} -> {b[value_col]:,.1f}"))
        blocks: list[Any] = [head, Table(self.to_frame().round(4)), Figure(self.plot())]
        if p["in_sample"]:
            blocks.append(Text(f"Fitted on {p['fitted_on']}, data the original learnt from: its in-sample scores are "
                               "sharper than on new data. Prefer a validation split.", "warning"))  # fmt: skip
        tabs = [Tab("Trade-off", blocks)]
        if mit["method"] == "threshold_optimizer":
            rules = pd.DataFrame([{"group": g, "threshold": t, **mit["fairlearn_rules"].get(g, {})}
                                  for g, t in mit["thresholds"].items()])  # fmt: skip
            notes = [Text("Each group is selected when the original's score of "
                          f"{mit['pos_label']!r} exceeds its threshold; fairlearn's randomized rule is shown beside it.", "muted")]  # fmt: skip
            if mit["pooled"]:
                notes.append(Text(f"Pooled into {OTHER!r} (small or single-label groups): {', '.join(mit['pooled'])}", "muted"))
            tabs.append(Tab("Thresholds", [Table(rules.round(4)), *notes]))
        else:
            tabs.append(Tab("Ensemble", [KeyValues([("learner", mit["estimator"]), ("rows sampled", mit["rows"]),
                                                    ("fits", mit["fits"]), ("members with weight", mit["members"]),
                                                    ("weights", ", ".join(f"{w:.3f}" for w in mit["weights"])),
                                                    ("eps / max_iter", f"{mit['eps']} / {mit['max_iter']}")])]))  # fmt: skip
        tabs.append(Tab("Export and serving", [Text(mit["serving"], "warning" if mit["method"] == "threshold_optimizer" else "info")]))
        summary = (f"{p['mitigated']}: {metric.replace('_', ' ')} {a[metric]:.3f} -> {b[metric]:.3f}, "
                   f"accuracy {a['accuracy']:.4f} -> {b['accuracy']:.4f} on {p['test']}")  # fmt: skip
        return View("Mitigation", f"{p['original']} -> {p['mitigated']}", summary, [(p["method"], "info")], tabs)
