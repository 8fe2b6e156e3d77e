"""The model card: what the project recorded about a model version, and what it did not.

Every line of the card comes from a record: the model version (recipe, lineage,
metrics, environment, stage history), the value canvas (intended use and value), the
data versions it learnt from (hashes, checks), stored evaluations, fairness reviews and
explanations, ONNX exports (``onnx`` documents), the drift monitor (``monitor``
documents: the monitoring plan), carbon measurements (model reports whose kind starts
with ``carbon``), named annotations (:meth:`ModelCard.annotate`) and release sign-offs.
A section without records is a *gap*, listed with how to record it, never filled with
prose. :meth:`ModelCard.to_markdown` writes the Hugging Face model-card layout with
YAML metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from pathlib import Path

    from mlops_nb.model import Model

#: what the release checklist's "card complete" needs (T40)
REQUIRED = ("intended use", "limitations", "metrics with intervals", "data sources with hashes")
_NOTES = "model-card-notes"


@dataclass
class Section:
    """One card section: facts, small tables, notes, or a gap."""

    title: str
    hf: str  # the heading in the Hugging Face layout
    facts: list[tuple[str, Any]] = field(default_factory=list)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gap: str | None = None


def _when(at: str | None) -> str:
    return (at or "")[:19].replace("T", " ") + " UTC" if at else "—"


def _details(model: Model) -> Section:
    r, s = model.recipe, Section("Model details", "Model Details")
    s.facts = [("model", model.label), ("stage", model.stage), ("task", f"{r['task']} on {r['target']!r}"),
               ("classes", ", ".join(map(str, model.classes or [])) or "—"), ("estimator", r["estimator"]),
               ("inputs", ", ".join(model.features)), ("developed by", model.created_by),
               ("created", _when(model.created_at))]  # fmt: skip
    if model.lineage.get("parent_model"):
        s.facts.append(("derived from", "{} v{}".format(*model.lineage["parent_model"])))
    mit = r.get("mitigation")
    if mit:
        s.facts.append(("fairness mitigation", f"{mit['method']} for {mit['constraint']} by "
                        f"{', '.join(mit['sensitive'])}, fitted on {mit['fitted_on']}"))  # fmt: skip
    return s


def _intended_use(model: Model) -> Section:
    from mlops_nb.business._canvas import VALUE_LEVELS, current_canvas

    s = Section("Intended use", "Uses / Direct Use")
    canvas = current_canvas(model.project)
    if canvas is None:
        s.gap = "no value canvas recorded: proj.canvas(process=..., value_level=..., outcomes=...)"
        return s
    s.facts = [("business process", canvas.process),
               ("value level", f"{canvas.value_level}: {VALUE_LEVELS.get(canvas.value_level, '')}"),
               ("decision", f"act when the model predicts {canvas.positive_class!r}"),
               ("value of outcomes", ", ".join(f"{k} {v:+g} {canvas.currency}" for k, v in canvas.outcomes.items())),
               ("KPIs", "; ".join(canvas.kpis) or "—"), ("stakeholders", "; ".join(canvas.stakeholders) or "—"),
               ("success", canvas.success or "—"), ("canvas", f"v{canvas.version}")]  # fmt: skip
    return s


def _annotations(model: Model) -> dict[str, Any]:
    doc = model.project._document(_NOTES, f"{model.name}@{model.version}")
    return doc["payload"] if doc else {}


def _limitations(model: Model, notes: dict[str, Any], data: list[Any], fair: list[Any]) -> Section:
    from mlops_nb.business._canvas import current_canvas

    s = Section("Limitations", "Bias, Risks, and Limitations")
    for text in notes.get("limitations", []):
        s.notes.append(f"{text} (recorded by {notes['by']})")
    for d in data:
        if d.schema.time and d.schema.time in d.schema.names:
            col = d.frame[d.schema.time]
            s.notes.append(f"Learnt from {d.label}: {d.n_rows:,} rows with {d.schema.time} from "
                           f"{col.min()} to {col.max()}; other periods are outside what it saw.")  # fmt: skip
    for rep in fair:
        p = rep.payload
        s.notes += [f"Fairness on {p['data']}: {f}." for f in rep.findings()]
        for disp in p["disparities"]:
            if disp["small groups"]:
                s.notes.append(f"Not assessed (fewer than {p['min_group_size']} rows in {p['data']}): "
                               f"{', '.join(disp['small groups'][:6])}" + (" ..." if len(disp["small groups"]) > 6 else ""))  # fmt: skip
    mit = model.recipe.get("mitigation")
    if mit and mit["method"] == "threshold_optimizer":
        s.notes.append(f"Decisions use {', '.join(mit['sensitive'])} at prediction time (per-group "
                       "thresholds): check that this is lawful for the intended use.")  # fmt: skip
    canvas = current_canvas(model.project)
    if canvas is not None and canvas.risks:
        s.notes += [f"Risk named in the value canvas: {r}" for r in canvas.risks]
    if not notes.get("limitations") and not fair:
        s.gap = ("no fairness review and no recorded limitations: run model.fairness(test) or "
                 "card.annotate(by=..., limitations=[...])")  # fmt: skip
    return s


def _data(model: Model) -> tuple[Section, list[Any]]:
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
            rows.append({"used by": m.label, "data": asset.label, "sha256": asset.content_hash,
                         "rows": asset.n_rows, "made by": asset.operation,
                         "sensitive": ", ".join(asset.sensitive) or "—",
                         "checks": f"{sum(f['severity'] == 'error' for f in findings)} errors, "
                                   f"{sum(f['severity'] == 'warning' for f in findings)} warnings",
                         "top finding": worst[0]["message"] if worst else "—"})  # fmt: skip
    s.tables.append(("data versions (content SHA-256)", rows))
    return s, assets


def _procedure(model: Model) -> Section:
    r, v = model.recipe, model.metrics["validation"]
    s = Section("Training procedure", "Training Details / Training Procedure")
    s.facts = [("estimator", r["estimator"]), ("parameters", json.dumps(r.get("user_params") or {}) + " over defaults"),
               ("seed", r.get("seed")), ("validation", v["scheme"]),
               *[(f"validation {k}", round(x, 4)) for k, x in v["metrics"].items()],
               ("training time", f"{model.metrics.get('duration_s', 0):.2f} s"),
               ("software", ", ".join(f"{k} {x}" for k, x in model.environment["packages"].items() if x))]  # fmt: skip
    return s


def _evaluation(model: Model, fair: list[Any]) -> Section:
    s = Section("Evaluation", "Evaluation / Results")
    evals = model.evaluations()
    for e in evals:
        row = {"data": e.data_label, **{k: round(e.metrics[k], 4) for k in e.headline()}}
        if e.value and "best_per_1000" in e.value:
            row[f"value per 1,000 ({e.value['currency']})"] = round(e.value["best_per_1000"], 2)
            row["at threshold"] = e.value["best_threshold"]
        s.tables.append((f"evaluation on {e.data_label}", [row]))
    ci_rows = []
    for rep in fair:
        o, p = rep.payload["overall"], rep.payload
        if p["n_boot"]:
            ci_rows += [{"data": p["data"], "metric": m, "value": round(o[m], 4),
                         f"{p['ci']:.0%} interval": f"{o[f'{m} low']:.4f}–{o[f'{m} high']:.4f}"}
                        for m in ("accuracy", "selection rate", "TPR", "FPR", "precision")
                        if o.get(m) is not None and o.get(f"{m} low") is not None]  # fmt: skip
    if ci_rows:
        s.tables.append(("metrics with bootstrap intervals (decisions as served)", ci_rows))
    if not evals and not ci_rows:
        s.gap = "no evaluation recorded: run model.evaluate(test) and model.fairness(test)"
    return s


def _fairness(fair: list[Any]) -> Section:
    s = Section("Fairness", "Bias, Risks, and Limitations / Fairness")
    rows = []
    for rep in fair:
        findings = rep.findings()
        for d in rep.payload["disparities"]:
            rows.append({"data": rep.payload["data"], "by": d["grouping"], "groups": d["groups compared"],
                         "DP difference": d["demographic_parity_difference"],
                         "EO difference": d["equalized_odds_difference"],
                         "within limits": not any(f" by {d['grouping']} is" in f for f in findings)})  # fmt: skip
    if rows:
        s.tables.append(("disparities (groups of enough rows)", rows))
    else:
        s.gap = "no fairness review recorded: run model.fairness(test)"
    return s


def _explanations(model: Model) -> Section:
    from mlops_nb.human._common import stored_reports

    s = Section("Explanations", "Model Examination")
    for r in stored_reports(model, "explanation:"):
        p = r["payload"]
        top = ", ".join(i["feature"] for i in p["importances"][:5])
        s.facts.append((f"global, on {p['data']}", f"{p['method']}; most important: {top} ({p['seconds']:.1f} s)"))
    local = stored_reports(model, "local-explanation:")
    if local:
        s.facts.append(("local explanations recorded", len(local)))
    if not s.facts:
        s.gap = "no explanation recorded: run model.explain(test)"
    return s


def _records(model: Model, kind: str) -> list[dict[str, Any]]:
    rows = model.project._store.query(
        "SELECT payload, created_at FROM documents WHERE kind = ? AND name IN (?, ?) ORDER BY id",
        (kind, f"{model.name}@{model.version}", f"{model.name}@v{model.version}"))
    return [{**json.loads(r["payload"]), "_at": r["created_at"]} for r in rows]


def _operations(model: Model) -> list[Section]:
    from mlops_nb.human._common import stored_reports

    carbon = Section("Environmental impact", "Environmental Impact")
    for r in stored_reports(model, "carbon"):
        carbon.facts += [(f"{r['kind']}: {k}", v) for k, v in r["payload"].items() if isinstance(v, (int, float, str))][:8]
    if not carbon.facts:
        carbon.gap = "no carbon or energy measurement recorded for this version (Sustainable Ops ledger)"
    export = Section("Export and serving", "Technical Specifications / Export and Serving")
    for e in _records(model, "onnx"):
        par = e.get("parity", {})
        export.facts.append((f"ONNX export ({_when(e['_at'])})", f"{e.get('size', 0):,} bytes, sha256 {e.get('onnx', '')[:12]}…, "
                             f"max |Δp| {par.get('max_abs_diff', float('nan')):.2e} on {par.get('data', {}).get('label', '?')}"))  # fmt: skip
    mit = model.recipe.get("mitigation")
    if mit:
        export.notes.append(mit["serving"])
    if not export.facts:
        export.gap = "no export or serving recorded: model.export_onnx(check=test)"
    monitor = Section("Monitoring plan", "Monitoring")
    for m in _records(model, "monitor")[-1:]:
        ref, opts = m["reference"], m.get("options", {})
        monitor.facts = [("reference", f"{ref['name']} v{ref['version']} (sha256 {ref['content_hash'][:12]}…)"),
                         ("alerts on", ", ".join(opts.get("alert_on", [])) or "—"),
                         ("thresholds", json.dumps(opts.get("thresholds") or {}) + f", else mean ± {opts.get('std')} sd"),
                         ("fairness over time by", ", ".join(opts.get("sensitive", [])) or "—")]  # fmt: skip
    if not monitor.facts:
        monitor.gap = "no monitoring plan recorded: model.monitor(reference)"
    return [carbon, export, monitor]


def _release(model: Model) -> Section:
    from mlops_nb.human._checklist import latest_signoff
    from mlops_nb.model._registry import stage_history

    s = Section("Release", "More Information / Release")
    hist = stage_history(model.project, model.name)
    hist = hist[hist["version"] == model.version]
    if len(hist):
        s.tables.append(("stage changes", hist.drop(columns=["version"]).to_dict("records")))
    sign = latest_signoff(model)
    s.facts.append(("sign-off", f"{sign['by']}, {_when(sign['at'])}: {sign['note'] or '—'}" if sign else "none yet"))
    rows = model.project._store.query(
        "SELECT payload FROM documents WHERE kind = 'release-waiver' AND name LIKE ? ORDER BY id",
        (f"{model.name}@{model.version}:%",))
    for r in rows:
        w = json.loads(r["payload"])
        s.facts.append((f"waiver: {w['item']}", f"{w['by']}, {_when(w['at'])}: {w['reason']}"))
    return s


def model_card(model: Model) -> ModelCard:
    """Assemble the model card of ``model`` from what its project recorded.

    Returns
    -------
    ModelCard
        Sections in the Hugging Face layout; ``gaps`` lists what is not recorded.
    """
    from mlops_nb.human._fairness import stored_fairness

    notes = _annotations(model)
    fair = stored_fairness(model)
    data_section, assets = _data(model)
    out_of_scope = Section("Out-of-scope use", "Uses / Out-of-Scope Use",
                           notes=[f"{t} (recorded by {notes['by']})" for t in notes.get("out_of_scope", [])])  # fmt: skip
    if not out_of_scope.notes:
        out_of_scope.gap = "no out-of-scope use recorded: card.annotate(by=..., out_of_scope=[...])"
    sections = [_details(model), _intended_use(model), out_of_scope,
                _limitations(model, notes, assets, fair), data_section, _procedure(model),
                _evaluation(model, fair), _fairness(fair), _explanations(model),
                *_operations(model), _release(model)]  # fmt: skip
    return ModelCard(model, tuple(sections))


@dataclass(frozen=True, repr=False)
class ModelCard(Displayable):
    """A model card assembled from records; see :func:`model_card`."""

    model: Model = field(repr=False)
    sections: tuple[Section, ...]

    def section(self, title: str) -> Section:
        """The section titled ``title``."""
        return next(s for s in self.sections if s.title == title)

    @property
    def gaps(self) -> list[dict[str, str]]:
        """What is not recorded: one row per section without records."""
        return [{"section": s.title, "missing": s.gap} for s in self.sections if s.gap]

    def missing_required(self) -> list[str]:
        """The required parts (:data:`REQUIRED`) the records do not cover."""
        missing = []
        if self.section("Intended use").gap:
            missing.append("intended use (" + self.section("Intended use").gap + ")")
        if self.section("Limitations").gap:
            missing.append("limitations (" + self.section("Limitations").gap + ")")
        if not any("interval" in cap for cap, _ in self.section("Evaluation").tables):
            missing.append("metrics with intervals (run model.fairness(test): its overall row has bootstrap intervals)")
        if not self.section("Training data").tables[0][1]:
            missing.append("data sources with hashes")
        return missing

    def annotate(self, *, by: str, limitations: list[str] | None = None,
                 out_of_scope: list[str] | None = None, note: str = "") -> ModelCard:  # fmt: skip
        """Record named statements for the card (limitations, out-of-scope uses).

        They are stored as a versioned document and an audit entry, then shown with
        the name of the person who wrote them.
        """
        from mlops_nb.human._checklist import _person

        by = _person(by, "by", f"{self.model.label}.card().annotate")
        current = _annotations(self.model)
        payload = {"by": by, "limitations": list(limitations if limitations is not None else current.get("limitations", [])),
                   "out_of_scope": list(out_of_scope if out_of_scope is not None else current.get("out_of_scope", []))}  # fmt: skip
        self.model.project._save_document(_NOTES, f"{self.model.name}@{self.model.version}", payload,
                                          note=f"by {by}: {note}")  # fmt: skip
        return model_card(self.model)

    # -- renderings ------------------------------------------------------------------
    def _view(self) -> View:
        import pandas as pd

        tabs = []
        for s in self.sections:
            blocks: list[Any] = []
            if s.facts:
                blocks.append(KeyValues(list(s.facts)))
            for caption, rows in s.tables:
                blocks.append(Table(pd.DataFrame(rows), caption=caption))
            blocks += [Text(n, "info") for n in s.notes]
            if s.gap:
                blocks.append(Text(f"Gap: {s.gap}", "warning"))
            tabs.append(Tab(s.title, blocks))
        gaps = self.gaps
        tabs.append(Tab("Gaps", [Table(pd.DataFrame(gaps))] if gaps else [Text("No gaps: every section has records.", "ok")]))
        missing = self.missing_required()
        summary = f"{len(self.sections) - len(gaps)}/{len(self.sections)} sections recorded; " + (
            "required parts complete" if not missing else f"missing: {', '.join(m.split(' (')[0] for m in missing)}")
        badge = ("complete", "ok") if not missing else (f"{len(gaps)} gaps", "warning")
        return View("Model card", self.model.label, summary, [badge], tabs)

    def to_markdown(self, path: str | Path | None = None) -> str:
        """The card as Markdown with YAML metadata (Hugging Face layout); written to ``path`` if given."""
        from pathlib import Path

        text = _markdown(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(card: ModelCard) -> str:
    m = card.model
    evals = m.evaluations()
    front = ["---", "library_name: mlops_nb", f"tags: {json.dumps(['tabular-classification' if m.task != 'regression' else 'tabular-regression', m.recipe['estimator'], 'mlops_nb'])}",
             f"datasets: {json.dumps(sorted({d['name'] for d in m.lineage['data']}))}",
             f"metrics: {json.dumps(evals[-1].headline() if evals else [])}", "model-index:",
             f"- name: {json.dumps(m.label)}", "  results:"]  # fmt: skip
    for e in evals:
        front += ["  - task:", f"      type: {'tabular-classification' if m.task != 'regression' else 'tabular-regression'}",
                  "    dataset:", f"      name: {json.dumps(e.data_label)}", f"      type: {json.dumps(e.data_label.rsplit(' v', 1)[0])}",
                  "    metrics:"]  # fmt: skip
        front += [f"    - {{type: {k}, value: {round(e.metrics[k], 4)}}}" for k in e.headline()]
    if not evals:
        front[-1] = "  results: []"
    front.append("---")
    lines = [*front, "", f"# Model Card for {m.label}", "",
             "Assembled by mlops_nb from the project's records; sections without records are listed as gaps.", ""]  # fmt: skip
    for s in card.sections:
        lines += [f"## {s.hf}", ""]
        lines += [f"- **{_md(k)}:** {_md(v)}" for k, v in s.facts]
        for caption, rows in s.tables:
            if not rows:
                continue
            cols = list(rows[0])
            lines += ["", f"*{caption}*", "", "| " + " | ".join(map(_md, cols)) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(_md(r.get(c, "")) for c in cols) + " |" for r in rows]
        lines += [f"- {_md(n)}" for n in s.notes]
        if s.gap:
            lines.append(f"> **Gap:** {_md(s.gap)}")
        lines.append("")
    lines += ["## Gaps", ""]
    lines += [f"- **{g['section']}:** {_md(g['missing'])}" for g in card.gaps] or ["None."]
    return "\n".join(lines) + "\n"
