"""The two-stage search behind :meth:`DataAsset.features`.

See :mod:`mlops_nb.data._features`. Screening ranks every candidate by the share of
split gain it takes in one model that sees them all; confirmation adds the best ones
to the baseline one at a time, in the same folds, and keeps a candidate only when a
paired test over every row (DeLong's test for ROC AUC) says it helps beyond chance,
Bonferroni-corrected for the candidates tested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.data._learn import encode, lgbm, metric_name
from mlops_nb.data._recipe import compute, describe, fit_step

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_PATIENCE = 3


class Search:
    """The folds, the baseline and the two stages of the search (module docstring)."""

    def __init__(self, frame: pd.DataFrame, y: pd.Series, task: str, numeric: list[str],
                 categorical: list[str], o: dict[str, Any]):  # fmt: skip
        from sklearn.model_selection import KFold, StratifiedKFold

        self.frame, self.y, self.task, self.o = frame, y, task, o
        self.X0, _ = encode(frame, numeric, categorical)
        self.metric = metric_name(task)
        split = (KFold if task == "regression" else StratifiedKFold)(
            o["cv"], shuffle=True, random_state=o["seed"]
        )
        self.folds = list(split.split(self.X0, None if task == "regression" else y))
        self.cache: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def _score(self, y: pd.Series, raw: np.ndarray) -> float:
        import numpy as np
        from sklearn.metrics import r2_score, roc_auc_score

        if self.task == "regression":
            return float(r2_score(y, raw))
        if self.task == "binary":
            return float(roc_auc_score(y, raw))
        return float(
            (np.asarray(self.classes)[raw.argmax(axis=1)] == y.to_numpy()).mean()
        )

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
                fitted, v_tr = fit_step(step, self.frame.iloc[tr], self.y.iloc[tr],
                                        task=self.task,
                                        seed=self.o["seed"])  # fmt: skip
                out.append((v_tr, compute(fitted, self.frame.iloc[va])))
            self.cache[step["output"]] = out
        return self.cache[step["output"]]

    def screen(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fit one model per fold with all candidates; rank candidates by split gain."""
        import numpy as np

        X = self.X0.to_numpy()
        share = np.zeros(len(steps))
        scores = []
        for k, (tr, va) in enumerate(self.folds):
            values = [self._values(st)[k] for st in steps]
            X_tr = np.column_stack([X[tr], *[v[0] for v in values]])
            X_va = np.column_stack([X[va], *[v[1] for v in values]])
            model = lgbm(self.task, self.o["seed"]).fit(X_tr, self.y.iloc[tr])
            scores.append(
                self._score(self.y.iloc[va], model.predict(X_va, raw_score=True))
            )
            gain = model.booster_.feature_importance("gain")
            share += gain[X.shape[1] :] / max(gain.sum(), 1e-12) / len(self.folds)
        self.all_in = (
            float(np.mean(scores)) if steps else float(np.mean(self.base_scores))
        )
        return [{"feature": st["output"], "step": describe(st), "kind": st["kind"],
                 "columns": st["columns"], "importance": float(v), "cv_gain": None,
                 "output": st["output"], "_step": st}
                for st, v in zip(steps, share, strict=True)]  # fmt: skip

    def _z(self, old: np.ndarray, new: np.ndarray) -> float:
        """How many standard errors the pooled out-of-fold score gained, paired by row.

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
            diff = (labels[new.argmax(axis=1)] == y).astype(float) - (
                labels[old.argmax(axis=1)] == y
            )
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        return float(diff.mean() / se) if se > 0 else 0.0

    def confirm(self, rows: list[dict[str, Any]]) -> list[str]:
        """Greedy forward selection of the best screened candidates, in the same folds.

        A candidate is kept when the mean fold gain in the metric exceeds ``min_gain``
        and the pooled out-of-fold score improves significantly: a paired test over
        every row (far less noisy than three fold scores), one-sided at 5 % with a
        Bonferroni correction for the number of candidates tested. The search stops
        after three candidates in a row are rejected.
        """
        import numpy as np
        from scipy.stats import norm

        o = self.o
        order = sorted(
            (r for r in rows if r["importance"] > 0), key=lambda r: -r["importance"]
        )
        order = order[: o["max_confirm"]]
        # one-sided 5 % test, Bonferroni-corrected for the candidates that may be tested
        self.z_needed = float(norm.ppf(1 - 0.05 / max(len(order), 1)))
        kept: list[str] = []
        misses = 0
        X = self.X0.to_numpy()
        best = self.margins
        for row in order:
            if len(kept) >= o["max_features"] or misses >= _PATIENCE:
                break
            scores, raw = [], np.zeros_like(self.margins)
            for k, (tr, va) in enumerate(self.folds):
                extra = [
                    self._values(self._step(rows, f))[k] for f in [*kept, row["output"]]
                ]
                X_tr = np.column_stack([X[tr], *[e[0] for e in extra]])
                X_va = np.column_stack([X[va], *[e[1] for e in extra]])
                model = lgbm(self.task, o["seed"]).fit(X_tr, self.y.iloc[tr])
                raw[va] = model.predict(X_va, raw_score=True)
                scores.append(self._score(self.y.iloc[va], raw[va]))
            gain = np.array(scores) - self.current
            z = self._z(best, raw)
            row["cv_gain"], row["z"] = float(gain.mean()), z
            if gain.mean() > o["min_gain"] and z > self.z_needed:
                kept.append(row["output"])
                self.current, best, misses = np.array(scores), raw, 0
            else:
                misses += 1
        for r in rows:
            r.pop("_step", None)
        return kept

    @staticmethod
    def _step(rows: list[dict[str, Any]], output: str) -> dict[str, Any]:
        return next(r["_step"] for r in rows if r["output"] == output)


def _delong_z(positive: np.ndarray, old: np.ndarray, new: np.ndarray) -> float:
    """DeLong's z for ROC AUC(new) - AUC(old) on the same rows (fast midrank form)."""
    import numpy as np
    from scipy.stats import rankdata

    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return 0.0
    parts = []
    for s in (old, new):
        ranks = rankdata(s)
        v10 = (
            ranks[positive] - rankdata(s[positive])
        ) / n  # per positive: share of negatives below
        v01 = (
            1 - (ranks[~positive] - rankdata(s[~positive])) / m
        )  # per negative: share of positives above
        parts.append((v10.mean(), v10, v01))
    (a_old, p_old, q_old), (a_new, p_new, q_new) = parts
    var = np.var(p_new - p_old, ddof=1) / m + np.var(q_new - q_old, ddof=1) / n
    return float((a_new - a_old) / np.sqrt(var)) if var > 0 else 0.0
