"""Monitor.observe on a large data version: drift from per-partition summaries.

Each partition is summarised per chunk on the Dask workers
(:mod:`mlops_nb.drift._large_chunks`), on the reference's bins
(:func:`mlops_nb.drift._binned.drift_spec`); the merged summaries of each chunk give
the binned statistics (:func:`mlops_nb.drift._binned.binned_drift`):

- Jensen-Shannon, PSI, Hellinger, chi-squared and L-infinity are exact: the same
  formulas on the same counts as the in-memory path;
- Kolmogorov-Smirnov D and Wasserstein come from 10,000 fine bins, each with its
  bound (``univariate["bounds"]``); no KS p-value (at these sizes it means
  nothing): alerts are on D.

Thresholds come from the (in-memory) reference cut into chunks, each compared with
the rest of the reference on the same summaries, as the in-memory path does. The
per-chunk summaries of each batch are stored with its data version (a report), the
batch is appended to the monitor as an in-memory batch is, and the review is built
from them. What the large path does not compute yet is named in the review's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.drift import _univariate as uni
from mlops_nb.drift._chunking import ChunkSpec, reference_split
from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.data._summaries import Summary, SummarySpec
    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.drift._records import Observation

#: the stored per-chunk counts' format (:mod:`mlops_nb.drift._chunk_counts`)
COUNTS_FORMAT = "drift-counts-2"
EXACT = ("jensen_shannon", "psi", "hellinger", "chi2", "l_infinity")
BOUNDED = ("kolmogorov_smirnov", "wasserstein")
NOT_YET = (
    "Computed from per-partition summaries (large data): the features' and the "
    "model score's univariate drift, and (binary classifiers) the label-free CBPE "
    "estimate. Not computed on this path yet: target drift, realized performance "
    "and the concept-drift verdict (labels of large data), DLE for regression, "
    "CBPE for multiclass models, multivariate drift (PCA reconstruction, domain "
    "classifier), fairness over time and value at risk."
)


def uses_large(mon: Monitor, data: Any = None) -> bool:
    """Whether ``data`` or any stored batch is a large version."""
    from mlops_nb.data import DataAsset

    if isinstance(data, DataAsset) and data.is_large:
        return True
    return any(b.is_large for b in mon.batches)


def _kinds(mon: Monitor) -> dict[str, str]:
    feats = mon.model.recipe["features"]
    return dict.fromkeys(feats["numeric"], "continuous") | dict.fromkeys(
        feats["categorical"], "categorical"
    )


def _spec(mon: Monitor, reference: pd.DataFrame) -> SummarySpec:
    from mlops_nb.drift._binned import drift_spec

    return drift_spec(reference, _kinds(mon))


def setup(mon: Monitor, reference: pd.DataFrame, cs: ChunkSpec) -> dict[str, Any]:
    """Score the reference (ONNX, here), fit CBPE on it; the spec with the score.

    Returns
    -------
    dict
        ``reference`` (with the ``model score`` column), ``kinds``, ``spec``,
        ``plan`` and ``data`` (the workers' scoring plan and ONNX bytes) and
        ``notes``.
    """
    import json

    from mlops_nb.drift._analysis import SCORE
    from mlops_nb.drift._binned import drift_spec
    from mlops_nb.drift._cbpe_large import scoring_plan
    from mlops_nb.drift._monitor import _canvas, decision_of

    # kept on the monitor object: review() right after observe() does not score the
    # reference and fit CBPE again (a new threshold, canvas or option does)
    options = mon.options
    key = json.dumps(
        [mon.state["reference"], options, cs.to_dict(),
         decision_of(mon.model, options, _canvas(mon))],
        sort_keys=True, default=str,
    )  # fmt: skip
    kept = getattr(mon, "_large_setup", None)
    if kept is not None and kept[0] == key:
        return kept[1]
    ref_chunks, _ = reference_split(reference, cs)
    plan, data, score, notes = scoring_plan(mon, reference, ref_chunks.codes)
    reference = reference.assign(**{SCORE: score})
    kinds = _kinds(mon) | {SCORE: "continuous"}
    spec = drift_spec(reference, kinds)
    prep = {"reference": reference, "kinds": kinds, "spec": spec, "plan": plan,
            "data": data, "notes": notes}  # fmt: skip
    mon._large_setup = (key, prep)
    return prep


def _report_kind(
    spec: SummarySpec,
    cs: ChunkSpec,
    offset: int,
    total: int,
    plan: dict[str, Any] | None = None,
) -> str:
    import hashlib
    import json

    what = [COUNTS_FORMAT, spec.to_dict(), cs.to_dict(), offset, total]
    if plan is not None:  # the model, its threshold and the reference's calibrator
        what.append(json.loads(json.dumps(plan, sort_keys=True, default=str)))
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
    return f"drift-chunk-summaries:{digest[:32]}"


def _stream(mon: Monitor, extra: DataAsset | None = None) -> list[tuple[Any, int]]:
    """Each batch (stored ones, then ``extra``) with the rows before it."""
    batches = [*mon.batches, *([extra] if extra is not None else [])]
    out, offset = [], 0
    for b in batches:
        out.append((b, offset))
        offset += b.n_rows
    return out


def _chunk_summaries(
    mon: Monitor,
    stream: list[tuple[Any, int]],
    spec: SummarySpec,
    cs: ChunkSpec,
    *,
    client: Any = None,
    store: bool = True,
    plan: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Per-chunk counts of the whole stream (stored per batch), and who is where."""
    from mlops_nb.drift._chunk_counts import decode, encode
    from mlops_nb.drift._large_chunks import batch_chunks, merge_chunks

    total = sum(b.n_rows for b, _ in stream)
    parts, where = [], {}
    for b, offset in stream:
        kind = _report_kind(spec, cs, offset, total, plan)
        stored = mon.project._report("asset", b.id, kind) if b.is_large else None
        if stored is not None:
            got = decode(stored)
        else:
            got = batch_chunks(
                b, offset, total, spec, cs, client=client, plan=plan, data=data
            )
            if b.is_large and store:
                mon.project._save_report("asset", b.id, kind, encode(got))
        parts.append(got)
        where[b.label] = list(got)
    return merge_chunks(spec.category_cap, *parts), where


def observe_large(
    mon: Monitor, data: Any, *, client: Any = None, note: str = ""
) -> Observation:
    """Observe a batch when it (or a stored batch) is a large version.

    The batch's partitions are summarised per chunk on the workers (re-hashed as
    they are read: a changed partition raises ``IntegrityError`` and nothing is
    stored), then the batch is appended to the monitor as an in-memory batch is.
    """
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.drift._data import check_batch
    from mlops_nb.drift._records import Observation

    what = f"Monitor {mon.name}.observe"
    ref = mon.reference
    try:
        if ref.is_large:
            msg = (
                f"{what}: the reference {ref.label} is a large version; thresholds "
                "and bins come from a reference in memory. Anchor the monitor to a "
                "sample: ref.sample(200_000, seed=0)."
            )
            raise ValidationError(msg)
        if isinstance(data, DataAsset):
            from mlops_nb.data._large import preview

            shown = preview(data) if data.is_large else data.frame  # seeded sample
            check_batch(shown, ref, mon.model, mon.options, what=what)
            asset = data
        else:
            frame = mon._checked_batch(data, ref, what=what)
            asset = None
        entry_seen = (
            asset is not None and [asset.name, asset.version] in mon.state["batches"]
        )
        cs = ChunkSpec.from_dict(mon.options["chunk"])
        prep = setup(mon, ref.frame, cs)
        reference, spec = prep["reference"], prep["spec"]
        if asset is None:  # a DataFrame: register it first, as observe does
            roles = {
                r: v
                for r, v in ref.schema.roles().items()
                if r != "target"
                and v
                and all(c in frame.columns for c in (v if isinstance(v, list) else [v]))
            }
            asset = mon.project.data(
                mon._asset_name("analysis"),
                frame,
                **roles,
                note=note or f"production data observed by monitor {mon.name}",
            )
            entry_seen = [asset.name, asset.version] in mon.state["batches"]
        stream = _stream(mon, None if entry_seen else asset)
        merged, where = _chunk_summaries(
            mon, stream, spec, cs, client=client, plan=prep["plan"], data=prep["data"]
        )
    except Exception as err:
        mon._refused(err, what=what)
        raise
    if not entry_seen:
        entry = [asset.name, asset.version]
        mon._update(
            lambda p: p["batches"].append(entry), note=f"observe {asset.label} (large)"
        )
    payload = univariate_payload(mon, reference, spec, cs, merged, prep["kinds"])
    keys = payload["chunks"]["keys"]
    u = payload["univariate"]
    rows = []
    for key in where[asset.label]:
        c = keys.index(key)
        drifted = [col for i, col in enumerate(u["columns"]) if u["alerts"][i][c]]
        rows.append(
            {
                "chunk": key,
                "from": payload["chunks"]["starts"][c],
                "to": payload["chunks"]["ends"][c],
                "rows": int(payload["chunks"]["sizes"][c]),
                "alerts": len(drifted),
                "drifted features": ", ".join(drifted) or "—",
            }
        )
    rows.sort(key=lambda r: keys.index(r["chunk"]))
    table = pd.DataFrame(
        rows, columns=["chunk", "from", "to", "rows", "alerts", "drifted features"]
    )
    return Observation(mon.name, asset.label, asset.n_rows, not entry_seen, table)


def _stats(
    ref: Summary, chunk: Summary, kinds: dict[str, str]
) -> dict[str, dict[str, Any]]:
    from mlops_nb.drift._binned import binned_drift

    return {col: binned_drift(ref, chunk, col) for col in kinds}


def univariate_payload(
    mon: Monitor,
    reference: pd.DataFrame,
    spec: SummarySpec,
    cs: ChunkSpec,
    merged: dict[str, Any],
    kinds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return the review's chunk and univariate sections from merged chunk summaries."""
    import numpy as np

    from mlops_nb.data._summaries import merge_all
    from mlops_nb.data._summarize import summarize_frame
    from mlops_nb.drift._chunk_counts import to_summary

    options = mon.options
    kinds = kinds or _kinds(mon)
    cols = list(kinds)
    order = sorted(merged, key=lambda k: (merged[k]["sort"], k))
    k = len(order)
    ana = [to_summary(spec, merged[k]["rows"], merged[k]["counts"]) for k in order]
    ref_chunks, ref_note = reference_split(reference, cs)
    ref_parts = [
        summarize_frame(reference[ref_chunks.codes == c], spec)
        for c in range(ref_chunks.n)
    ]
    whole = merge_all(ref_parts, spec)
    rest = [
        merge_all([p for j, p in enumerate(ref_parts) if j != c], spec)
        for c in range(ref_chunks.n)
    ]
    ana_stats = [_stats(whole, s, kinds) for s in ana]
    ref_stats = [_stats(r, p, kinds) for r, p in zip(rest, ref_parts, strict=True)]
    wanted = {k: options[k] for k in ("continuous", "categorical")}
    stats_all = list(dict.fromkeys([*wanted["continuous"], *wanted["categorical"]]))
    settings = options.get("thresholds") or {}
    std = float(options["std"])
    alert_on = tuple(options["alert_on"])

    def matrix(rows: list[dict[str, dict[str, Any]]], stat: str) -> np.ndarray:
        out = np.full((len(cols), len(rows)), np.nan)
        for i, col in enumerate(cols):
            if stat not in wanted[kinds[col]]:
                continue
            for c, r in enumerate(rows):
                v = r[col].get(stat)
                out[i, c] = np.nan if v is None else float(v)
        return out

    alerts = np.zeros((len(cols), k), dtype=bool)
    out_stats = {}
    for s in stats_all:
        values, ref_values = matrix(ana_stats, s), matrix(ref_stats, s)
        lower, upper, flags = [], [], np.zeros((len(cols), k), dtype=bool)
        for i in range(len(cols)):
            applies = not np.isnan(ref_values[i]).all()
            lo, hi = (
                uni.thresholds(ref_values[i], s, settings.get(s), std)
                if applies
                else (None, None)
            )
            lower.append(lo)
            upper.append(hi)
            with np.errstate(invalid="ignore"):
                above = values[i] > (hi if hi is not None else np.inf)
                below = values[i] < (lo if lo is not None else -np.inf)
                flags[i] = ((hi is not None) & above) | ((lo is not None) & below)
        if s in alert_on:
            alerts |= flags
        out_stats[s] = {
            "values": uni._listify(values),
            "reference": uni._listify(ref_values),
            "lower": lower,
            "upper": upper,
            "alert": flags.tolist(),
        }
    bounds = {}
    for s in (b for b in BOUNDED if b in stats_all):
        rows = [{c: {s: r[c].get(f"{s}_bound")} for c in cols} for r in ana_stats]
        bounds[s] = uni._listify(matrix(rows, s))
    univariate = {
        "columns": cols,
        "kinds": [kinds[c] for c in cols],
        "statistics": out_stats,
        "chi2_p_value": uni._listify(matrix(ana_stats, "chi2_p_value")),
        "alert_on": list(alert_on),
        "alerts": alerts.tolist(),
        "histograms": _histograms(whole, ana, kinds),
        "exact": False,
        "std": std,
        "constant_thresholds": dict(settings),
        "in_sample": False,
        "large": {
            "exact": [s for s in stats_all if s in EXACT],
            "bounded": [s for s in stats_all if s in BOUNDED],
            "text": (
                "exact (equal to the in-memory path on the same bins): "
                + ", ".join(s for s in stats_all if s in EXACT)
                + "; from 10,000 fine bins, each value with its bound (the exact "
                "value lies within it): "
                + (", ".join(s for s in stats_all if s in BOUNDED) or "none")
                + ". No Kolmogorov-Smirnov p-value: alerts are on D."
            ),
        },
        "bounds": bounds,
    }
    return {
        "univariate": univariate,
        "reference_chunks": {
            "n": ref_chunks.n,
            "note": ref_note,
            "sizes": ref_chunks.sizes.tolist(),
        },
        "chunks": {
            "keys": order,
            "starts": [merged[key]["from"] for key in order],
            "ends": [merged[key]["to"] for key in order],
            "sizes": [int(merged[key]["rows"]) for key in order],
            "labelled": [0] * k,
        },
    }


def _histograms(
    whole: Summary, ana: list[Summary], kinds: dict[str, str]
) -> dict[str, Any]:
    """Return the distribution views' data, as the in-memory path shapes it."""
    import numpy as np

    out: dict[str, Any] = {}
    for col, kind in kinds.items():
        cs, rc = whole.spec.columns[col], whole.columns[col]
        if kind == "continuous":
            if not cs.edges or rc.n == 0:
                out[col] = {"kind": "continuous", "edges": [], "reference": [],
                            "chunks": []}  # fmt: skip
                continue
            rh = rc.hists["bins"].counts  # type: ignore[union-attr]
            ref_share = rh[1:-1] / rh.sum()
            chunks = []
            for s in ana:
                ch = s.columns[col].hists["bins"].counts  # type: ignore[union-attr]
                n = ch.sum()
                inside = ch[1:-1] / n if n else np.full(len(ch) - 2, np.nan)
                _, p = uni._with_leftover(ref_share, inside[None, :])
                chunks.append(p[0].tolist())
            out[col] = {"kind": "continuous", "edges": list(cs.edges),
                        "reference": ref_share.tolist(), "chunks": chunks}  # fmt: skip
            continue
        cats = list(cs.categories or ())
        counts = rc.ref[:-1].astype(float)  # type: ignore[union-attr]
        share = counts / counts.sum() if counts.sum() else counts
        top = np.argsort(-share, kind="stable")[: uni.MAX_CATEGORIES_SHOWN]
        chunks = []
        for s in ana:
            c = s.columns[col].ref.astype(float)  # type: ignore[union-attr]
            n = c.sum()
            chunks.append((c[:-1][top] / n if n else c[:-1][top] * np.nan).tolist())
        out[col] = {
            "kind": "categorical",
            "categories": [cats[i] for i in top],
            "reference": share[top].tolist(),
            "chunks": chunks,
        }
    return out
