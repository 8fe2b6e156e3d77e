"""What explaining a model needs: typed inputs, a codec, a predict function.

interpret's black-box explainers hand the model plain float arrays, which a pipeline
with categorical columns cannot read (``ufunc 'isnan' not supported``). :class:`Codec`
turns categories into integer codes for them and back into the typed frame the model
reads, so every explainer calls the model through its own preprocessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.model import Model


class Codec:
    """Typed frames <-> float matrices: numbers as they are, categories as codes."""

    def __init__(self, names: list[str], categorical: list[str], *frames: pd.DataFrame):
        import pandas as pd

        self.names, self.categorical = names, set(categorical)
        both = (
            pd.concat([f[list(categorical)] for f in frames]) if categorical else None
        )
        self.levels = {c: both[c].value_counts().index.tolist() for c in categorical}

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """Return the float matrix of ``X`` (unseen categories: commonest's code)."""
        import numpy as np

        cols = []
        for c in self.names:
            if c in self.categorical:
                index = {v: i for i, v in enumerate(self.levels[c])}
                cols.append(np.array([index.get(v, 0) for v in X[c]], dtype=float))
            else:
                cols.append(X[c].to_numpy(dtype=float))
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

        self.model, self.seed = model, seed
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
        self.k, self.target = None, "prediction"
        if model.task != "regression":
            from mlops_nb.human._common import selected_class

            classes = [str(c) for c in model.classes or []]
            if target_class is None:  # the decision's class (the canvas's), by default
                target_class = selected_class(model, None, f"{model.label}.explain")[0]
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
        codec = Codec(self.names, self.categorical, self.train, row)
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

        codec = Codec(self.names, self.categorical, self.train, X)
        A = codec.encode(X)

        def fn(a: np.ndarray) -> np.ndarray:
            return self.predict(codec.decode(a))

        ms = MorrisSensitivity(fn, A, feature_names=self.names)
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
