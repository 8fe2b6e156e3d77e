"""Synthetic data: a new, marked version of a table and its fidelity and privacy report.

:meth:`DataAsset.synthesize` fits a generator on most of the real rows, draws ``n``
synthetic rows and registers them as a version whose lineage says ``synthesize`` and
whose note starts with ``SYNTHETIC``. The rows held out from fitting measure how
faithful and how private the result is (see :mod:`mlops_nb.data._synth_eval`).

Methods
-------
- ``"copula"`` (default): a Gaussian copula with empirical marginals, implemented here
  with numpy and scipy (:mod:`mlops_nb.data._copula`); it keeps each column's
  distribution and the rank associations between columns, numbers and categories
  alike. No synthetic-data library is needed (SDV and synthcity pull in torch and pins
  that do not install with this stack).
- ``"independent"``: each column drawn from its own distribution, ignoring the others;
  the baseline that shows what the copula adds.

Id columns get fresh values (``syn-0``, ``syn-1``, ...) so no synthetic row carries a
real person's id; free-text columns are left out (they would be copied verbatim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.data._asset import DataAsset

METHODS = ("copula", "independent")
_MIN_STRATUM = 30
_REPORT = "synthesis"


def synthesize(
    asset: DataAsset,
    n: int,
    *,
    seed: int = 0,
    method: Literal["copula", "independent"] = "copula",
    by: str | bool = True,
    holdout: float = 0.2,
    name: str | None = None,
) -> SynthesisReport:
    """Draw ``n`` synthetic rows like ``asset`` and measure fidelity and privacy.

    Parameters
    ----------
    asset : DataAsset
        The real data.
    n : int
        Number of synthetic rows.
    seed : int
        Seeds the holdout split and the generator: the same seed gives the same
        version (and the stored report is reused).
    method : {"copula", "independent"}
        ``"copula"`` keeps the joint structure; ``"independent"`` is the per-column
        baseline.
    by : str or bool
        Fit one generator per value of this column, so every column's relation to
        it is kept exactly. True (default): the target when it has classes; False:
        one generator for all rows.
    holdout : float
        Share of real rows kept out of fitting, to measure privacy and
        train-on-synthetic/test-on-real accuracy.
    name : str, optional
        Asset name of the synthetic version; default ``"<name>-synthetic"``.

    Returns
    -------
    SynthesisReport
        ``.asset`` is the synthetic DataAsset (lineage ``synthesize``); the report is
        stored with it.

    Raises
    ------
    ValidationError
        For an unknown method, a non-positive ``n``, a bad ``holdout`` or too few rows.
    """
    import numpy as np

    from mlops_nb.ui._progress import progress

    what = f"DataAsset.synthesize on {asset.label}"
    if method not in METHODS:
        msg = (f"{what}: method={method!r} is not known; use one of {listing(METHODS)}."
               f"{did_you_mean(str(method), METHODS)}")  # fmt: skip
        raise ValidationError(msg)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        msg = f"{what}: n={n!r} must be a positive whole number of rows, e.g. 10_000."
        raise ValidationError(msg)
    if not 0 < float(holdout) < 0.9:
        msg = (
            f"{what}: holdout={holdout!r} must be a share between 0 and 0.9, e.g. 0.2."
        )
        raise ValidationError(msg)
    real = asset._frame_nocopy()
    if len(real) < 20:
        msg = f"{what}: {len(real)} rows are too few to learn from; use at least 20."
        raise ValidationError(msg)
    schema = asset.schema
    dropped = [c.name for c in schema.columns if c.kind == "text"]
    id_cols = [c.name for c in schema.columns if c.kind == "id" or c.name == schema.id]
    modelled = [c for c in real.columns if c not in dropped and c not in id_cols]
    if not modelled:
        msg = f"{what}: no column to synthesize (only ids and free text)."
        raise ValidationError(msg)
    rng = np.random.default_rng(seed)
    is_hold = np.zeros(len(real), bool)
    is_hold[rng.permutation(len(real))[: max(1, round(len(real) * holdout))]] = True
    train, hold = real[~is_hold], real[is_hold]
    strata = _strata_column(asset, by, modelled, what) if method == "copula" else None
    with progress(2, "synthesizing") as bar:
        synth = _generate(train[modelled], int(n), strata, method, rng)
        bar.step("generated")
        result, payload = _store(asset, synth, real, train, hold, modelled, id_cols,
                                 dropped, strata, method, seed, holdout,
                                 name)  # fmt: skip
        bar.step("measured")
    return SynthesisReport(result, payload)


def _store(asset: DataAsset, synth: pd.DataFrame, real: pd.DataFrame,
           train: pd.DataFrame, hold: pd.DataFrame, modelled: list[str],
           id_cols: list[str], dropped: list[str], strata: str | None, method: str,
           seed: int, holdout: float,
           name: str | None) -> tuple[DataAsset, dict[str, Any]]:  # fmt: skip
    """Register the synthetic rows (marked in lineage) and measure them once."""
    from mlops_nb.data._register import register_frame

    n = len(synth)
    for c in id_cols:
        synth[c] = [f"syn-{i}" for i in range(n)]
    synth = synth[[c for c in real.columns if c in synth.columns]]
    params = {"synthetic": True, "method": method, "n": n, "seed": seed, "by": strata,
              "holdout": holdout, "fitted_rows": len(train),
              "dropped": dropped}  # fmt: skip
    note = (f"SYNTHETIC: {n:,} rows by "
            f"{'Gaussian copula' if method == 'copula' else 'independent columns'} "
            f"fitted on {len(train):,} rows of {asset.label} "
            f"(seed {seed})")  # fmt: skip
    result = register_frame(
        asset.project, name or f"{asset.name}-synthetic", synth,
        kinds=dict.fromkeys(id_cols, "id"), parents=[(asset.name, asset.version)],
        operation="synthesize", params=params, note=note,
        source=f"synthesize ({method}) of {asset.label}", what="DataAsset.synthesize",
    )  # fmt: skip
    payload = asset.project._report("asset", result.id, _REPORT)
    if payload is None:
        payload = _measure(asset, train, hold, synth, modelled, params, seed)
        asset.project._save_report("asset", result.id, _REPORT, payload)
    return result, payload


def _strata_column(
    asset: DataAsset, by: str | bool, modelled: list[str], what: str
) -> str | None:
    schema = asset.schema
    if by is True:
        target = schema.target
        ok = target in modelled and schema.task in ("binary", "multiclass")
        return target if ok else None
    if by is False or by is None:
        return None
    if by not in modelled:
        msg = (f"{what}: by={by!r} is not a column that is synthesized. Columns: "
               f"{listing(modelled)}.{did_you_mean(str(by), modelled)}")  # fmt: skip
        raise ValidationError(msg)
    return str(by)


def _generate(train: pd.DataFrame, n: int, by: str | None, method: str,
              rng: np.random.Generator) -> pd.DataFrame:  # fmt: skip
    """One copula for all rows, or one per value of ``by`` (small groups pooled)."""
    import numpy as np
    import pandas as pd

    from mlops_nb.data._copula import GaussianCopula

    independent = method == "independent"
    if by is None:
        return GaussianCopula(independent=independent).fit(train, rng).sample(n, rng)
    from mlops_nb.data._synth_eval import as_text

    keys = as_text(train[by]).to_numpy()
    values, counts = np.unique(keys, return_counts=True)
    sizes = rng.multinomial(n, counts / counts.sum())
    small = counts < _MIN_STRATUM
    parts = []
    for value, size, is_small in zip(values, sizes, small, strict=True):
        if size and not is_small:
            gen = GaussianCopula(independent=independent).fit(train[keys == value], rng)
            parts.append(gen.sample(int(size), rng))
    pooled = int(sizes[small].sum())
    if pooled:  # rare values: drawn from their own rows pooled together
        rows = train[np.isin(keys, values[small])]
        parts.append(
            GaussianCopula(independent=independent).fit(rows, rng).sample(pooled, rng)
        )
    out = pd.concat(parts, ignore_index=True)
    for (
        c
    ) in train.columns:  # concat of categoricals with unequal categories gives object
        if (
            isinstance(train[c].dtype, pd.CategoricalDtype)
            and out[c].dtype != train[c].dtype
        ):
            out[c] = pd.Categorical(out[c], dtype=train[c].dtype)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def _measure(asset: DataAsset, train: pd.DataFrame, hold: pd.DataFrame,
             synth: pd.DataFrame, modelled: list[str], params: dict[str, Any],
             seed: int) -> dict[str, Any]:  # fmt: skip
    import numpy as np

    from mlops_nb.data import _synth_eval as ev

    rows = []
    for c in modelled:
        measure, dist = ev.column_distance(train[c], synth[c])
        _, floor = ev.column_distance(train[c], hold[c])
        rows.append(
            {"column": c, "measure": measure, "synthetic": dist, "real holdout": floor}
        )
    rng = np.random.default_rng(seed)
    k = min(len(train), len(synth), ev._ASSOC_ROWS)
    a_real = ev.associations(
        train.iloc[rng.choice(len(train), k, replace=False)], modelled
    )
    a_syn = ev.associations(
        synth.iloc[rng.choice(len(synth), k, replace=False)], modelled
    )
    diff = np.abs(a_real - a_syn)[np.triu_indices(len(modelled), 1)]
    i, j = np.unravel_index(np.argmax(np.abs(a_real - a_syn)), a_real.shape)
    return {
        "source": asset.label, **params, "holdout_rows": len(hold), "columns": rows,
        "association": {"columns": modelled, "real": a_real.round(4).tolist(),
                        "synthetic": a_syn.round(4).tolist(),
                        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
                        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                        "max_pair": [modelled[i], modelled[j]]},
        "tstr": ev.train_on_synthetic(train, synth, hold, asset.schema, seed),
        "privacy": ev.privacy(train, synth, hold, modelled, seed),
    }  # fmt: skip


def synthesis_report(asset: DataAsset) -> SynthesisReport | None:
    """Return the stored report of a synthetic version (None for other versions)."""
    payload = asset.project._report("asset", asset.id, _REPORT)
    return None if payload is None else SynthesisReport(asset, payload)


@dataclass(frozen=True, repr=False)
class SynthesisReport(Displayable):
    """A synthetic data version with its fidelity and privacy measures.

    Attributes
    ----------
    asset : DataAsset
        The synthetic version (lineage ``synthesize``, note starting ``SYNTHETIC``).
    payload : dict
        Every measure, JSON-ready (stored with the version).
    """

    asset: DataAsset
    payload: dict[str, Any]

    @property
    def frame(self) -> pd.DataFrame:
        """The synthetic rows."""
        return self.asset.frame

    @property
    def fidelity(self) -> dict[str, Any]:
        """Headline fidelity: mean column distance, association gap, TSTR.

        The real holdout's mean column distance is given too, for scale.
        """
        cols = self.payload["columns"]
        out = {
            "mean_column_distance": _mean([c["synthetic"] for c in cols]),
            "holdout_column_distance": _mean([c["real holdout"] for c in cols]),
            "association_mean_abs_diff": self.payload["association"]["mean_abs_diff"],
            "association_max_abs_diff": self.payload["association"]["max_abs_diff"],
        }
        t = self.payload.get("tstr")
        if t:
            for key in ("accuracy", "roc_auc", "r2"):
                if key in t["real"] and key in t["synthetic"]:
                    out[f"{key}_train_real"] = t["real"][key]
                    out[f"{key}_train_synthetic"] = t["synthetic"][key]
        return out

    @property
    def privacy(self) -> dict[str, Any]:
        """Headline privacy: exact copies and distances to the closest real record."""
        return {k: v for k, v in self.payload["privacy"].items() if k != "dcr_hist"}

    def to_frame(self) -> pd.DataFrame:
        """Per column: the measure and the distance of synthetic and holdout rows."""
        import pandas as pd

        return pd.DataFrame(self.payload["columns"]).set_index("column")

    # -- charts ------------------------------------------------------------------------
    def plot(self) -> go.Figure:
        """Per-column distance of synthetic rows, with the real holdout's for scale."""
        import plotly.graph_objects as go

        frame = self.to_frame().reset_index()
        fig = go.Figure([
            go.Bar(name="synthetic vs real", x=frame["column"], y=frame["synthetic"],
                   marker_color="#1f4e79"),
            go.Bar(name="real holdout vs real (noise floor)", x=frame["column"],
                   y=frame["real holdout"], marker_color="#9bb7d4"),
        ])  # fmt: skip
        fig.update_layout(
            barmode="group", height=320, template="plotly_white",
            title="Per-column distance (KS for numbers, TVD for categories; "
                  "lower is closer)",
            margin={"l": 40, "r": 10, "t": 40, "b": 60},
            legend={"orientation": "h", "y": 1.12},
        )  # fmt: skip
        return fig

    def plot_associations(self) -> go.Figure:
        """Heatmap of the change in pairwise association (synthetic minus real)."""
        import numpy as np
        import plotly.graph_objects as go

        a = self.payload["association"]
        diff = np.array(a["synthetic"]) - np.array(a["real"])
        fig = go.Figure(go.Heatmap(z=diff.round(3), x=a["columns"], y=a["columns"],
                                   zmin=-0.5, zmax=0.5,
                                   colorscale="RdBu", reversescale=True))  # fmt: skip
        fig.update_layout(
            height=420, template="plotly_white", yaxis={"autorange": "reversed"},
            title="Association difference, synthetic minus real (0 = kept)",
            margin={"l": 60, "r": 10, "t": 40, "b": 60},
        )  # fmt: skip
        return fig

    def plot_privacy(self) -> go.Figure:
        """Distance to the closest training record: synthetic and real holdout rows."""
        import plotly.graph_objects as go

        h = self.payload["privacy"]["dcr_hist"]
        mids = [
            (a + b) / 2 for a, b in zip(h["edges"][:-1], h["edges"][1:], strict=True)
        ]
        fig = go.Figure([
            go.Scatter(x=mids, y=h["synthetic"], name="synthetic rows", mode="lines",
                       line={"color": "#1f4e79"}),
            go.Scatter(x=mids, y=h["holdout"], name="real holdout rows", mode="lines",
                       line={"color": "#e07b00", "dash": "dash"}),
        ])  # fmt: skip
        fig.update_layout(
            height=300, template="plotly_white",
            xaxis_title="distance to closest training row", yaxis_title="rows",
            title="Distance to the closest real (training) record",
            margin={"l": 50, "r": 10, "t": 40, "b": 40},
        )  # fmt: skip
        return fig

    # -- rendering ---------------------------------------------------------------------
    def _verdicts(self) -> list[tuple[str, str]]:
        p, f = self.payload["privacy"], self.fidelity
        out = []
        ratio = p["dcr_synthetic_median"] / (p["dcr_holdout_median"] or 1e-12)
        if p["closer_than_holdout_p5"] > 0.10 or ratio < 0.8:
            out.append(("synthetic rows sit closer to training rows than new real "
                        "people do: possible memorisation", "error"))  # fmt: skip
        else:
            out.append((f"no sign of memorisation: synthetic rows are no closer to "
                        "the training rows than new real people are "
                        f"(median distance {p['dcr_synthetic_median']:.3g}, "
                        f"real holdout {p['dcr_holdout_median']:.3g})",
                        "ok"))  # fmt: skip
        if ratio > 2:
            out.append(("synthetic rows are further from any real row than new real "
                        "people are: private, but some combinations of values are "
                        "less realistic than real ones", "info"))  # fmt: skip
        if p["exact_copy_share"] > max(2 * p["holdout_exact_share"], 0.001):
            out.append((f"{p['exact_copies']:,} synthetic rows equal a training row "
                        f"({p['exact_copy_share']:.1%}; "
                        f"real holdout rows: {p['holdout_exact_share']:.1%})",
                        "warning"))  # fmt: skip
        else:
            out.append((f"exact copies: {p['exact_copies']:,} "
                        f"({p['exact_copy_share']:.1%}), no more than "
                        f"real holdout rows that equal a training row "
                        f"({p['holdout_exact_share']:.1%})", "ok"))  # fmt: skip
        key = next(
            (k for k in ("roc_auc", "accuracy", "r2") if f"{k}_train_real" in f), None
        )
        if key:
            out.append((f"train on synthetic, test on real: {key} "
                        f"{f[f'{key}_train_synthetic']:.3f} vs "
                        f"{f[f'{key}_train_real']:.3f} trained on real rows",
                        "info"))  # fmt: skip
        return out

    def _view(self) -> View:
        import pandas as pd

        p, f, a = self.payload, self.fidelity, self.payload["association"]
        method = (
            "Gaussian copula"
            if p["method"] == "copula"
            else "independent columns (baseline)"
        )
        if p.get("by"):
            method += f", one per value of {p['by']!r}"
        overview = KeyValues([
            ("synthetic version", self.asset.label), ("made from", p["source"]),
            ("method", method),
            ("rows", f"{p['n']:,} synthetic; fitted on {p['fitted_rows']:,} real rows, "
                     f"{p['holdout_rows']:,} held out"),
            ("mean column distance", f"{f['mean_column_distance']:.3f} (real holdout: "
                                     f"{f['holdout_column_distance']:.3f})"),
            ("association difference",
             f"mean {a['mean_abs_diff']:.3f}, max {a['max_abs_diff']:.3f} "
             f"({' and '.join(a['max_pair'])})"),
            ("left out", ", ".join(p["dropped"]) or "none"),
        ])  # fmt: skip
        blocks: list[Any] = [overview, *[Text(t, tone) for t, tone in self._verdicts()]]  # type: ignore[arg-type]
        tstr = p.get("tstr")
        fidelity: list[Any] = [
            Figure(self.plot()),
            Table(self.to_frame().reset_index(), max_rows=60),
        ]
        if tstr:
            rows = [{"trained on": f"{k} rows ({tstr['rows_each']:,})",
                     **dict(tstr[k].items())}
                    for k in ("real", "synthetic")]  # fmt: skip
            fidelity.insert(
                0,
                Table(
                    pd.DataFrame(rows),
                    caption="train on synthetic, test on real holdout",
                ),
            )
        fidelity.append(Figure(self.plot_associations()))
        pr = self.privacy
        privacy_kv = KeyValues([
            ("synthetic rows equal to a training row",
             f"{pr['exact_copies']:,} ({pr['exact_copy_share']:.2%})"),
            ("real holdout rows equal to a training row",
             f"{pr['holdout_exact_share']:.2%}"),
            ("median distance to closest record",
             f"synthetic {pr['dcr_synthetic_median']:.3g}, "
             f"holdout {pr['dcr_holdout_median']:.3g}"),
        ])  # fmt: skip
        if (
            pr["dcr_holdout_p5"] > 0
        ):  # with many exact twins among real people this says nothing
            privacy_kv.items += [
                ("5th percentile of the distance",
                 f"synthetic {pr['dcr_synthetic_p5']:.3g}, "
                 f"holdout {pr['dcr_holdout_p5']:.3g}"),
                ("synthetic rows closer than 95 % of holdout rows",
                 f"{pr['closer_than_holdout_p5']:.1%} (about 5 % expected)"),
            ]  # fmt: skip
        tabs = [Tab("Overview", blocks), Tab("Fidelity", fidelity),
                Tab("Privacy", [privacy_kv, Figure(self.plot_privacy())]),
                Tab("Sample", [Table(self.asset._frame_nocopy().head(8),
                                     caption="first synthetic rows")])]  # fmt: skip
        bad = any(t == "error" for _, t in self._verdicts())
        badges = [
            ("synthetic", "warning"),
            ("privacy risk", "error") if bad else ("privacy ok", "ok"),
        ]
        summary = (f"{p['n']:,} synthetic rows of {p['source']} by {method}; "
                   f"mean column distance {f['mean_column_distance']:.3f}; "
                   f"{pr['exact_copies']:,} exact copies")  # fmt: skip
        return View("SynthesisReport", self.asset.label, summary, badges, tabs)  # type: ignore[arg-type]


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0
