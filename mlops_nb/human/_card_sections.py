"""The sections of a model card, each built from one kind of record (or left a gap)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.ui._html import header_label

if TYPE_CHECKING:
    from mlops_nb.model import Model

NOTES = "model-card-notes"


@dataclass
class Section:
    """One card section: facts, small tables, notes, or a gap."""

    title: str
    hf: str  # the heading in the Hugging Face layout
    facts: list[tuple[str, Any]] = field(default_factory=list)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gap: str | None = None


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def _disparity_rows(
    fair: list[Any],
) -> list[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """Return (review, disparity, findings) per data and grouping; newest wins."""
    latest: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any], list[str]]] = {}
    for rep in fair:
        findings = rep.findings()
        for d in rep.payload["disparities"]:
            bad = [f for f in findings if f" by {d['grouping']} is" in f]
            latest[(rep.payload["data"], d["grouping"])] = (rep.payload, d, bad)
    return list(latest.values())


def _interval(row: dict[str, Any], m: str) -> str:
    return f"[{row[f'{m} low']:.4f}, {row[f'{m} high']:.4f}]"


def _when(at: str | None) -> str:
    return (at or "")[:19].replace("T", " ") + " UTC" if at else "—"


def details_section(model: Model) -> Section:
    r, s = model.recipe, Section("Model details", "Model Details")
    s.facts = [
        ("model", model.label),
        ("stage", model.stage),
        ("task", f"{r['task']} on {r['target']!r}"),
        ("classes", ", ".join(map(str, model.classes or [])) or "—"),
        ("estimator", r["estimator"]),
        ("inputs", ", ".join(model.features)),
        ("developed by", model.created_by),
        ("created", _when(model.created_at)),
    ]
    if model.lineage.get("parent_model"):
        s.facts.append(
            ("derived from", "{} v{}".format(*model.lineage["parent_model"]))
        )
    mit = r.get("mitigation")
    if mit:
        s.facts.append(
            (
                "fairness mitigation",
                f"{mit['method']} for {mit['constraint']} by "
                f"{', '.join(mit['sensitive'])}, fitted on {mit['fitted_on']}",
            )
        )
    return s


def intended_use_section(model: Model) -> Section:
    from mlops_nb.business._canvas import VALUE_LEVELS, current_canvas

    s = Section("Intended use", "Uses / Direct Use")
    canvas = current_canvas(model.project)
    if canvas is None:
        s.gap = (
            "no value canvas recorded: "
            "proj.canvas(process=..., value_level=..., outcomes=...)"
        )
        return s
    s.facts = [
        ("business process", canvas.process),
        (
            "value level",
            f"{canvas.value_level}: {VALUE_LEVELS.get(canvas.value_level, '')}",
        ),
        ("decision", f"act when the model predicts {canvas.positive_class!r}"),
        (
            "value of outcomes",
            ", ".join(
                f"{k} {v:+g} {canvas.currency}" for k, v in canvas.outcomes.items()
            ),
        ),
        ("KPIs", "; ".join(canvas.kpis) or "—"),
        ("stakeholders", "; ".join(canvas.stakeholders) or "—"),
        ("success", canvas.success or "—"),
        ("canvas", f"v{canvas.version}"),
    ]
    return s


def annotations(model: Model) -> dict[str, Any]:
    doc = model.project._document(NOTES, f"{model.name}@{model.version}")
    return doc["payload"] if doc else {}


def limitations_section(
    model: Model, notes: dict[str, Any], data: list[Any], fair: list[Any]
) -> Section:
    from mlops_nb.business._canvas import current_canvas

    s = Section("Limitations", "Bias, Risks, and Limitations")
    for text in notes.get("limitations", []):
        s.notes.append(f"{text} (recorded by {notes['by']})")
    for d in data:
        if d.schema.time and d.schema.time in d.schema.names:
            col = d.frame[d.schema.time]
            span = (
                f"in {col.min()}"
                if col.min() == col.max()
                else f"from {col.min()} to {col.max()}"
            )
            s.notes.append(
                f"Learnt from {d.label}: {d.n_rows:,} rows with {d.schema.time} "
                f"{span}; other periods are outside what it saw."
            )
    for p, disp, bad in _disparity_rows(fair):
        s.notes += [f"Fairness on {p['data']}: {f}." for f in bad]
        if disp["small groups"]:
            s.notes.append(
                f"Not assessed (fewer than {p['min_group_size']} rows in {p['data']}): "
                f"{'; '.join(disp['small groups'][:6])}"
                + (" ..." if len(disp["small groups"]) > 6 else "")
            )
    mit = model.recipe.get("mitigation")
    if mit and mit["method"] == "threshold_optimizer":
        s.notes.append(
            f"Decisions use {', '.join(mit['sensitive'])} at prediction time "
            "(per-group "
            "thresholds): check that this is lawful for the intended use."
        )
    canvas = current_canvas(model.project)
    if canvas is not None and canvas.risks:
        s.notes += [f"Risk named in the value canvas: {r}" for r in canvas.risks]
    s.notes = list(dict.fromkeys(s.notes))
    if not notes.get("limitations") and not fair:
        s.gap = (
            "no fairness review and no recorded limitations: run model.fairness(test) "
            "or "
            "card.annotate(by=..., limitations=[...])"
        )
    return s


def data_section(model: Model) -> tuple[Section, list[Any]]:
    s = Section("Training data", "Training Details / Training Data")
    assets, rows = [], []
    chain = [model]
    if model.lineage.get("parent_model"):
        name, version = model.lineage["parent_model"]
        chain.append(model.project.model(name, version=version))
    for m in chain:
        for d in m.lineage["data"]:
            asset = model.project.asset(d["name"], d["version"])
            findings = asset.check().findings
            worst = [f for f in findings if f["severity"] in ("error", "warning")]
            assets.append(asset)
            rows.append(
                {
                    "used by": m.label,
                    "data": asset.label,
                    "sha256": asset.content_hash,
                    "rows": asset.n_rows,
                    "made by": asset.operation,
                    "sensitive": ", ".join(asset.sensitive) or "—",
                    "checks": f"{sum(f['severity'] == 'error' for f in findings)} "
                    "errors, "
                    f"{sum(f['severity'] == 'warning' for f in findings)} warnings",
                    "top finding": worst[0]["message"] if worst else "—",
                }
            )
    imported = model.recipe.get("imported")
    if imported:  # trained elsewhere: what we hold is the data it was measured on
        s.notes.append(
            f"Trained outside mlops_nb and imported from {imported['uri']} "
            f"(flavor {imported['flavor']}); its training data is not recorded "
            "here. The data versions below measured it at import."
        )
    s.tables.append(("data versions (content SHA-256)", rows))
    return s, assets


def procedure_section(model: Model) -> Section:
    r, v = model.recipe, model.metrics["validation"]
    s = Section("Training procedure", "Training Details / Training Procedure")
    s.facts = [
        ("estimator", r["estimator"]),
        ("parameters", json.dumps(r.get("user_params") or {}) + " over defaults"),
        ("seed", r.get("seed")),
        ("validation", v["scheme"]),
        *[
            (f"validation {header_label(k)}", round(x, 4))
            for k, x in v["metrics"].items()
        ],
        (
            "import time" if r.get("imported") else "training time",
            f"{model.metrics.get('duration_s', 0):.2f} s",
        ),
        (
            "software",
            ", ".join(
                f"{k} {x}" for k, x in model.environment["packages"].items() if x
            ),
        ),
    ]
    return s


def evaluation_section(model: Model, fair: list[Any]) -> Section:
    s = Section("Evaluation", "Evaluation / Results")
    evals = model.evaluations()
    for e in evals:
        row = {
            "data": e.data_label,
            **{k: round(e.metrics[k], 4) for k in e.headline()},
        }
        if e.value and "best_per_1000" in e.value:
            row[f"value per 1,000 ({e.value['currency']})"] = round(
                e.value["best_per_1000"], 2
            )
            row["at threshold"] = round(e.value["best_threshold"], 3)
        s.tables.append((f"evaluation on {e.data_label}", [row]))
    ci_rows = []
    newest = {
        rep.payload["data"]: rep for rep in fair
    }  # the newest review per data version
    for rep in newest.values():
        o, p = rep.payload["overall"], rep.payload
        if p["n_boot"]:
            ci_rows += [
                {
                    "data": p["data"],
                    "metric": m,
                    "value": round(o[m], 4),
                    f"{p['ci']:.0%} interval": _interval(o, m),
                }
                for m in ("accuracy", "selection rate", "TPR", "FPR", "precision")
                if o.get(m) is not None and o.get(f"{m} low") is not None
            ]
    if ci_rows:
        s.tables.append(
            ("metrics with bootstrap intervals (decisions as served)", ci_rows)
        )
    if not evals and not ci_rows:
        s.gap = (
            "no evaluation recorded: run model.evaluate(test) and model.fairness(test)"
        )
    return s


def fairness_section(fair: list[Any]) -> Section:
    s = Section("Fairness", "Bias, Risks, and Limitations / Fairness")
    rows = [
        {
            "data": p["data"],
            "by": d["grouping"],
            "groups": d["groups compared"],
            "DP difference": _round(d["demographic_parity_difference"]),
            "EO difference": _round(d["equalized_odds_difference"]),
            "within limits": not bad,
        }
        for p, d, bad in _disparity_rows(fair)
    ]
    if rows:
        s.tables.append(("disparities (groups of enough rows)", rows))
    else:
        s.gap = "no fairness review recorded: run model.fairness(test)"
    return s


def explanations_section(model: Model) -> Section:
    from mlops_nb.human._common import stored_reports

    s = Section("Explanations", "Model Examination")
    for r in stored_reports(model, "explanation:"):
        p = r["payload"]
        top = ", ".join(i["feature"] for i in p["importances"][:5])
        s.facts.append(
            (
                f"global, on {p['data']}",
                f"{p['method']}; most important: {top} ({p['seconds']:.1f} s)",
            )
        )
    local = stored_reports(model, "local-explanation:")
    if local:
        s.facts.append(("local explanations recorded", len(local)))
    if not s.facts:
        s.gap = "no explanation recorded: run model.explain(test)"
    return s


def _records(model: Model, kind: str) -> list[dict[str, Any]]:
    from mlops_nb.store._q_documents import records_named

    names = (f"{model.name}@{model.version}", f"{model.name}@v{model.version}")
    rows = records_named(model.project._store, kind, names)
    return [{**json.loads(r["payload"]), "_at": r["created_at"]} for r in rows]


def operations_sections(model: Model) -> list[Section]:
    from mlops_nb.human._common import stored_reports

    carbon = Section("Environmental impact", "Environmental Impact")
    for r in stored_reports(model, "carbon"):
        carbon.facts += [
            (f"{r['kind']}: {k}", v)
            for k, v in r["payload"].items()
            if isinstance(v, (int, float, str))
        ][:8]
    if not carbon.facts:
        carbon.gap = (
            "no carbon or energy measurement recorded for this version "
            "(Sustainable Ops ledger)"
        )
    export = Section(
        "Export and serving", "Technical Specifications / Export and Serving"
    )
    for e in _records(model, "onnx"):
        par = e.get("parity", {})
        export.facts.append(
            (
                f"ONNX export ({_when(e['_at'])})",
                f"{e.get('size', 0):,} bytes, sha256 {e.get('onnx', '')[:12]}…, "
                f"max |Δp| {par.get('max_abs_diff', float('nan')):.2e} on "
                f"{par.get('data', {}).get('label', '?')}",
            )
        )
    mit = model.recipe.get("mitigation")
    if mit:
        export.notes.append(mit["serving"])
    if not export.facts:
        export.gap = "no export or serving recorded: model.export_onnx(check=test)"
    monitor = Section("Monitoring plan", "Monitoring")
    for m in _records(model, "monitor")[-1:]:
        ref, opts = m["reference"], m.get("options", {})
        monitor.facts = [
            (
                "reference",
                f"{ref['name']} v{ref['version']} (sha256 {ref['content_hash'][:12]}…)",
            ),
            ("alerts on", ", ".join(opts.get("alert_on", [])) or "—"),
            (
                "thresholds",
                json.dumps(opts.get("thresholds") or {})
                + f", else mean ± {opts.get('std')} sd",
            ),
            ("fairness over time by", ", ".join(opts.get("sensitive", [])) or "—"),
        ]
    if not monitor.facts:
        monitor.gap = "no monitoring plan recorded: model.monitor(reference)"
    return [carbon, export, monitor]


def release_section(model: Model) -> Section:
    from mlops_nb.human._checklist import latest_signoff
    from mlops_nb.model._registry import stage_history

    s = Section("Release", "More Information / Release")
    hist = stage_history(model.project, model.name)
    hist = hist[hist["version"] == model.version]
    if len(hist):
        s.tables.append(
            ("stage changes", hist.drop(columns=["version"]).to_dict("records"))
        )
    sign = latest_signoff(model)
    s.facts.append(
        (
            "sign-off",
            f"{sign['by']}, {_when(sign['at'])}: {sign['note'] or '—'}"
            if sign
            else "none yet",
        )
    )
    from mlops_nb.store._q_documents import waiver_payloads

    for payload in waiver_payloads(
        model.project._store, f"{model.name}@{model.version}:%"
    ):
        w = json.loads(payload)
        s.facts.append(
            (f"waiver: {w['item']}", f"{w['by']}, {_when(w['at'])}: {w['reason']}")
        )
    return s
