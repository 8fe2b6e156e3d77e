"""What explaining a model needs: typed inputs, a codec, a predict function.

interpret's black-box explainers hand the model plain float arrays, which a pipeline
with categorical columns cannot read (``ufunc 'isnan' not supported``). :class:`Codec`
turns categories into integer codes for them and back into the typed frame the model
reads, so every explainer calls the model through its own preprocessing.

interpret refuses missing numbers (``X cannot contain missing values``). The model
never sees them either: its preprocessing fills each missing number with the median
it learnt when fitting. The codec fills them with the same value (read from the fitted
preprocessing), so an explanation describes exactly the input the model scored, and a
row's prediction is unchanged.

A classifier's explanation is about the probability of one class: the class passed as
``class_``, else the value canvas's positive class when it is a class of the model,
else (multiclass) the most frequent class of the training data, else (binary) the
second class. :attr:`Explainer.why` says which rule chose it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.model import Model


class Codec:
    """Typed frames <-> float matrices: numbers as they are, categories as codes."""

    def __init__(
        self,
        names: list[str],
        categorical: list[str],
        *frames: pd.DataFrame,
        fill: dict[str, float] | None = None,
    ):
        import pandas as pd

        self.names, self.categorical = names, set(categorical)
        self.fill = fill or {}
        both = (
            pd.concat([f[list(categorical)] for f in frames]) if categorical else None
        )
        self.levels = {c: both[c].value_counts().index.tolist() for c in categorical}

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """Return the float matrix of ``X``.

        Unseen categories get the commonest's code; missing numbers the value the
        model's preprocessing fills them with.
        """
        import numpy as np

        cols = []
        for c in self.names:
            if c in self.categorical:
                index = {v: i for i, v in enumerate(self.levels[c])}
                cols.append(np.array([index.get(v, 0) for v in X[c]], dtype=float))
            else:
                x = X[c].to_numpy(dtype=float)
                cols.append(np.where(np.isnan(x), self.fill.get(c, 0.0), x))
        return np.column_stack(cols)

    def decode(self, A: np.ndarray) -> pd.DataFrame:
        """Return the typed frame the model reads."""
        import numpy as np
        import pandas as pd

        A = np.asarray(A, dtype=float).reshape(-1, len(self.names))
        out = {}
        for i, c in enumerate(self.names):
            if c in self.categorical:
                k = np.clip(np.rint(A[:, i]), 0, len(self.levels[c]) - 1).astype(int)
                out[c] = np.asarray(self.levels[c], dtype=object)[k]
            else:
                out[c] = A[:, i]
        return pd.DataFrame(out)


class Explainer:
    """The typed inputs, codec and predict function of one model's explanations."""

    def __init__(self, model: Model, target_class: Any = None, seed: int = 0):
        import numpy as np

        from mlops_nb.model._prep import Features

        self.model, self.seed, self.why = model, seed, ""
        feats = Features.from_dict(model.recipe["features"])
        self.names, self.numeric, self.categorical = (
            feats.names,
            list(feats.numeric),
            list(feats.categorical),
        )
        source = model.lineage["data"][0]
        train = model.project.asset(source["name"], source["version"]).frame
        self.train = model._X(
            train.sample(min(len(train), 2000), random_state=seed), "explain"
        )
        self.fill = self._fill_values()
        self.k, self.target = None, "prediction"
        self.classes: list[Any] = list(model.classes or [])
        if model.task != "regression":
            classes = [str(c) for c in self.classes]
            if target_class is None:
                target_class, self.why = self._default_class(train)
            else:
                self.why = "chosen (class_=)"
            want = str(target_class)
            if want not in classes:
                msg = (
                    f"{model.label}.explain: target_class={target_class!r} is not one "
                    f"of {classes}."
                )
                raise ValidationError(msg)
            self.k = classes.index(want)
            self.target = f"P({model.recipe['target']}={model.classes[self.k]})"
            mit = model.recipe.get("mitigation") or {}
            if mit.get("method") == "threshold_optimizer":  # shifted, not calibrated
                self.target = f"score of {self.target[2:-1]} (0.5: group threshold)"
        self.ebm = self._ebm()
        self.background = self.train.sample(min(len(self.train), 25), random_state=seed)
        self.rng = np.random.default_rng(seed)

    def _default_class(self, train: pd.DataFrame) -> tuple[Any, str]:
        """Return the class explained when none is given, and why (module notes)."""
        from mlops_nb.human._common import selected_class

        model = self.model
        chosen, why = selected_class(model, None, f"{model.label}.explain")
        if model.task == "binary" or why.startswith("the value canvas"):
            return chosen, why
        counts = train[model.recipe["target"]].value_counts()
        by_name = {str(c): c for c in self.classes}
        for value, n in counts.items():
            if str(value) in by_name:
                share = n / counts.sum()
                return by_name[str(value)], (
                    f"the most frequent class of the training data ({share:.0%} of "
                    "its rows; no value canvas names a class)"
                )
        return chosen, why

    def _fill_values(self) -> dict[str, float]:
        """Return the value the model's preprocessing fills each missing number with.

        Read from the fitted imputer (a LightGBM version's ``tree_prep`` medians or the
        pipeline's ``SimpleImputer``); else the median of the training sample, else 0
        (an input that was always missing, which the imputer drops).
        """
        import numpy as np

        fill = {}
        for c in self.numeric:
            col = self.train[c].to_numpy(dtype=float)
            fill[c] = float(np.nanmedian(col)) if np.isfinite(col).any() else 0.0
        # another layout (a custom estimator): the sample's medians
        with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
            fill.update(_fitted_medians(self.model._predictor().objects))
        return {c: v if np.isfinite(v) else 0.0 for c, v in fill.items()}

    def impute(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` with missing numbers filled as the model fills them."""
        out = X.copy()
        for c in self.numeric:
            out[c] = out[c].fillna(self.fill.get(c, 0.0))
        return out

    def _ebm(self) -> Any:
        r, m = self.model.recipe, self.model
        if (
            r["estimator"] != "ebm"
            or r.get("mitigation")
            or m.flavor != "sklearn"
            or m.task == "multiclass"
        ):
            return None
        pipe = m._predictor().objects["pipeline"]
        return (
            pipe
            if type(pipe.named_steps["model"]).__name__.startswith(
                "ExplainableBoosting"
            )
            else None
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the model's input columns of ``frame``, typed."""
        return self.model._X(frame, "explain")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict the explained output (class probability, or the prediction)."""
        if self.k is None:
            return self.model.predict(X)
        return self.model.predict_proba(X)[:, self.k]

    # -- local -------------------------------------------------------------------------
    def explain_row(self, row: pd.DataFrame, permutations: int = 8) -> dict[str, Any]:
        """Prediction and per-input contributions of one typed row."""
        import numpy as np

        pred = float(self.predict(row)[0])
        if self.ebm is not None:
            ebm = self.ebm.named_steps["model"]
            terms = ebm.eval_terms(self.ebm.named_steps["prep"].transform(row))[0]
            sign = 1.0 if self.k in (None, 1) else -1.0
            contrib = dict(zip(ebm.term_names_, (sign * terms).tolist(), strict=True))
            base = float(sign * np.ravel(ebm.intercept_)[0])
            return {
                "prediction": pred,
                "base": base,
                "scale": "log-odds (exact EBM terms)",
                "contributions": contrib,
            }
        codec = Codec(self.names, self.categorical, self.train, row, fill=self.fill)
        x, bg = codec.encode(row)[0], codec.encode(self.background)
        n_feat, half = len(self.names), max(permutations // 2, 1)
        perms = [
            p
            for p in (self.rng.permutation(n_feat) for _ in range(half))
            for p in (p, p[::-1])
        ]
        chains = np.empty((len(perms), len(bg), n_feat + 1, n_feat))
        for m, perm in enumerate(perms):
            cur = bg.copy()
            chains[m, :, 0] = cur
            for j, f in enumerate(perm):
                cur[:, f] = x[f]
                chains[m, :, j + 1] = cur
        out = self.predict(codec.decode(chains.reshape(-1, n_feat))).reshape(
            len(perms), len(bg), n_feat + 1
        )
        steps = out[:, :, 1:] - out[:, :, :-1]
        contrib = np.zeros(n_feat)
        for m, perm in enumerate(perms):
            contrib[perm] += steps[m].mean(axis=0)
        contrib /= len(perms)
        return {
            "prediction": pred,
            "base": float(out[:, :, 0].mean()),
            "scale": f"{self.target}, sampled Shapley values ({len(perms)} "
            f"permutations x {len(bg)} background rows)",
            "contributions": dict(zip(self.names, contrib.tolist(), strict=True)),
        }

    # -- global ------------------------------------------------------------------------
    def explain_global(self, X: pd.DataFrame, top: int) -> dict[str, Any]:
        """Rank every input and draw the shape of the ``top`` ones."""
        import numpy as np

        X = self.impute(X)  # what the model scores (interpret refuses NaN)

        if self.ebm is not None:
            ebm, prep = self.ebm.named_steps["model"], self.ebm.named_steps["prep"]
            imp = sorted(
                zip(ebm.term_names_, ebm.term_importances(), strict=True),
                key=lambda t: -t[1],
            )
            importances = [{"feature": n, "importance": float(v)} for n, v in imp]
            shapes = {}
            for item in importances[:top]:
                f = item["feature"]
                if f not in self.names:
                    continue  # an interaction term
                grid = self._grid(X, f)
                rows = X.iloc[[0] * len(grid)].copy()
                rows[f] = grid
                shapes[f] = {
                    "x": [str(g) if f in self.categorical else float(g) for g in grid],
                    "y": ebm.eval_terms(prep.transform(rows))[
                        :, ebm.term_names_.index(f)
                    ].tolist(),
                }
            return {
                "method": "EBM term importances (interpret glassbox)",
                "scale": "mean |log-odds| contribution",
                "importances": importances,
                "shapes": shapes,
            }
        from interpret.blackbox import MorrisSensitivity, PartialDependence
        from interpret.blackbox._sensitivity import MorrisSampler

        codec = Codec(self.names, self.categorical, self.train, X, fill=self.fill)
        A = codec.encode(X)

        def fn(a: np.ndarray) -> np.ndarray:
            return self.predict(codec.decode(a))

        # seeded trajectories and bootstrap: the same seed ranks the same way in a
        # live kernel and in a report (SALib draws from the global state otherwise)
        ms = MorrisSensitivity(
            fn,
            A,
            feature_names=self.names,
            sampler=MorrisSampler(seed=self.seed),
            seed=self.seed,
        )
        order = np.argsort(-np.asarray(ms.mu_star_))
        importances = [
            {
                "feature": self.names[i],
                "importance": float(ms.mu_star_[i]),
                "mu": float(ms.mu_[i]),
                "sigma": float(ms.sigma_[i]),
                "mu_star_conf": float(ms.mu_star_conf_[i]),
            }
            for i in order
        ]
        idx = [int(i) for i in order[:top]]
        bg = A[: min(len(A), 200)]

        def fn_top(a: np.ndarray) -> np.ndarray:
            full = bg.copy()
            full[:, idx] = a
            return fn(full)

        types = [
            "nominal" if self.names[i] in self.categorical else "continuous"
            for i in idx
        ]
        pdp = PartialDependence(
            fn_top,
            bg[:, idx],
            feature_names=[self.names[i] for i in idx],
            feature_types=types,
        )
        shapes = {}
        for j, i in enumerate(idx):
            d = pdp.pdps_[j]
            name = self.names[i]
            xs = [
                codec.levels[name][round(v)] if name in self.categorical else float(v)
                for v in d["names"]
            ]
            shapes[name] = {"x": xs, "y": np.asarray(d["scores"], dtype=float).tolist()}
        return {
            "method": "Morris sensitivity + partial dependence (interpret blackbox)",
            "scale": f"Morris mu* of {self.target}",
            "importances": importances,
            "shapes": shapes,
        }

    def _grid(self, X: pd.DataFrame, f: str) -> list[Any]:
        import numpy as np

        if f in self.categorical:
            return X[f].value_counts().index[:20].tolist()
        return np.unique(
            np.nanquantile(X[f].to_numpy(dtype=float), np.linspace(0.01, 0.99, 20))
        ).tolist()


def _fitted_medians(objects: Any) -> dict[str, float]:
    """Medians a fitted preprocessing fills missing numbers with, by column."""
    if "tree_prep" in objects:
        tp = objects["tree_prep"]
        return dict(zip(tp.numeric, tp.medians, strict=True))
    prep = (
        objects["pipeline"].named_steps.get("prep")
        if "pipeline" in objects
        else objects.get("prep")
    )
    if prep is None or not hasattr(prep, "named_transformers_"):
        return {}
    num = prep.named_transformers_.get("num")
    imputer = num.named_steps.get("impute") if hasattr(num, "named_steps") else num
    stats = getattr(imputer, "statistics_", None)
    names = getattr(imputer, "feature_names_in_", None)
    if stats is None or names is None:
        return {}
    return {str(n): float(v) for n, v in zip(names, stats, strict=True)}
