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

from mlops_nb.human._card_sections import (
    NOTES,
    Section,
    annotations,
    data_section,
    details_section,
    evaluation_section,
    explanations_section,
    fairness_section,
    intended_use_section,
    limitations_section,
    operations_sections,
    procedure_section,
    release_section,
)
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from pathlib import Path

    from mlops_nb.model import Model
    from mlops_nb.ui._blocks import Tone

#: what the release checklist's "card complete" needs (T40)
REQUIRED = (
    "intended use",
    "limitations",
    "metrics with intervals",
    "data sources with hashes",
)


def model_card(model: Model) -> ModelCard:
    """Assemble the model card of ``model`` from what its project recorded.

    Returns
    -------
    ModelCard
        Sections in the Hugging Face layout; ``gaps`` lists what is not recorded.
    """
    from mlops_nb.human._fairness import stored_fairness

    notes = annotations(model)
    fair = stored_fairness(model)
    data, assets = data_section(model)
    out_of_scope = Section(
        "Out-of-scope use",
        "Uses / Out-of-Scope Use",
        notes=[
            f"{t} (recorded by {notes['by']})" for t in notes.get("out_of_scope", [])
        ],
    )
    if not out_of_scope.notes:
        out_of_scope.gap = (
            "no out-of-scope use recorded: card.annotate(by=..., out_of_scope=[...])"
        )
    sections = [
        details_section(model),
        intended_use_section(model),
        out_of_scope,
        limitations_section(model, notes, assets, fair),
        data,
        procedure_section(model),
        evaluation_section(model, fair),
        fairness_section(fair),
        explanations_section(model),
        *operations_sections(model),
        release_section(model),
    ]
    return ModelCard(model, tuple(sections))


@dataclass(frozen=True, repr=False)
class ModelCard(Displayable):
    """A model card assembled from records; see :func:`model_card`."""

    model: Model = field(repr=False)
    sections: tuple[Section, ...]

    def section(self, title: str) -> Section:
        """Return the section titled ``title``."""
        return next(s for s in self.sections if s.title == title)

    @property
    def gaps(self) -> list[dict[str, str]]:
        """What is not recorded: one row per section without records."""
        return [{"section": s.title, "missing": s.gap} for s in self.sections if s.gap]

    def missing_required(self) -> list[str]:
        """List the required parts (:data:`REQUIRED`) the records do not cover."""
        missing = []
        if self.section("Intended use").gap:
            missing.append("intended use (" + self.section("Intended use").gap + ")")
        if self.section("Limitations").gap:
            missing.append("limitations (" + self.section("Limitations").gap + ")")
        if not any("interval" in cap for cap, _ in self.section("Evaluation").tables):
            missing.append(
                "metrics with intervals (run model.fairness(test): its overall row "
                "has bootstrap intervals)"
            )
        if not self.section("Training data").tables[0][1]:
            missing.append("data sources with hashes")
        return missing

    def annotate(
        self,
        *,
        by: str,
        limitations: list[str] | None = None,
        out_of_scope: list[str] | None = None,
        note: str = "",
    ) -> ModelCard:
        """Record named statements for the card (limitations, out-of-scope uses).

        They are stored as a versioned document and an audit entry, then shown with
        the name of the person who wrote them.
        """
        from mlops_nb.human._checklist import _person

        by = _person(by, "by", f"{self.model.label}.card().annotate")
        current = annotations(self.model)
        payload = {
            "by": by,
            "limitations": list(
                limitations
                if limitations is not None
                else current.get("limitations", [])
            ),
            "out_of_scope": list(
                out_of_scope
                if out_of_scope is not None
                else current.get("out_of_scope", [])
            ),
        }
        self.model.project._save_document(
            NOTES,
            f"{self.model.name}@{self.model.version}",
            payload,
            note=f"by {by}: {note}",
        )
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
        tabs.append(
            Tab(
                "Gaps",
                [Table(pd.DataFrame(gaps))]
                if gaps
                else [Text("No gaps: every section has records.", "ok")],
            )
        )
        missing = self.missing_required()
        summary = (
            f"{len(self.sections) - len(gaps)}/{len(self.sections)} sections recorded; "
            + (
                "required parts complete"
                if not missing
                else f"missing: {', '.join(m.split(' (')[0] for m in missing)}"
            )
        )
        recorded, total = len(self.sections) - len(gaps), len(self.sections)
        badges: list[tuple[str, Tone]] = (
            [("complete", "ok")]
            if not gaps and not missing
            else [(f"{recorded}/{total} sections", "warning")]
        )
        if missing:
            badges.append((f"{len(missing)} required missing", "error"))
        # 14 sections: a tab bar would cut their names; a side list shows them whole
        return View(
            "Model card", self.model.label, summary, badges, tabs, navigation="side"
        )

    def to_markdown(self, path: str | Path | None = None) -> str:
        """Return the card as Markdown with YAML metadata (Hugging Face layout).

        Written to ``path`` too when given.
        """
        from pathlib import Path

        text = _markdown(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_huggingface(self, *, license: str | None = None) -> Any:
        """Return the card as a ``huggingface_hub.ModelCard`` (offline).

        The YAML metadata is built with ``ModelCardData`` (validated): model name,
        library, tags, data versions (and their content hashes, under ``mlops_nb``),
        the recorded metrics as ``model-index`` results; the body is
        :meth:`to_markdown`'s sections. Needs ``pip install 'mlops-nb[hub]'``.

        Parameters
        ----------
        license : str, optional
            A licence identifier for the metadata; omitted when None.
        """
        from mlops_nb.human._hf_card import to_huggingface

        return to_huggingface(self, license=license)

    def push_to_hub_format(
        self, folder: str | Path, *, license: str | None = None
    ) -> Path:
        """Write :meth:`to_huggingface` as ``folder/README.md``; return its path.

        The folder is what ``huggingface_hub.upload_folder`` pushes; nothing here
        reaches the Hub.
        """
        from mlops_nb.human._hf_card import push_to_hub_format

        return push_to_hub_format(self, folder, license=license)


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(card: ModelCard) -> str:
    m = card.model
    evals = m.evaluations()
    task = "tabular-regression" if m.task == "regression" else "tabular-classification"
    front = [
        "---",
        "library_name: mlops_nb",
        f"tags: {json.dumps([task, m.recipe['estimator'], 'mlops_nb'])}",
        f"datasets: {json.dumps(sorted({d['name'] for d in m.lineage['data']}))}",
        f"metrics: {json.dumps(evals[-1].headline() if evals else [])}",
        "model-index:",
        f"- name: {json.dumps(m.label)}",
        "  results:",
    ]
    for e in evals:
        front += [
            "  - task:",
            f"      type: {task}",
            "    dataset:",
            f"      name: {json.dumps(e.data_label)}",
            f"      type: {json.dumps(e.data_label.rsplit(' v', 1)[0])}",
            "    metrics:",
        ]
        front += [
            f"    - {{type: {k}, value: {round(e.metrics[k], 4)}}}"
            for k in e.headline()
        ]
    if not evals:
        front[-1] = "  results: []"
    front.append("---")
    lines = [
        *front,
        "",
        f"# Model Card for {m.label}",
        "",
        "Assembled by mlops_nb from the project's records; sections without records "
        "are listed as gaps.",
        "",
    ]
    for s in card.sections:
        lines += [f"## {s.hf}", ""]
        lines += [f"- **{_md(k)}:** {_md(v)}" for k, v in s.facts]
        for caption, rows in s.tables:
            if not rows:
                continue
            cols = list(rows[0])
            lines += [
                "",
                f"*{caption}*",
                "",
                "| " + " | ".join(map(_md, cols)) + " |",
                "|" + "---|" * len(cols),
            ]
            lines += [
                "| " + " | ".join(_md(r.get(c, "")) for c in cols) + " |" for r in rows
            ]
        lines += [f"- {_md(n)}" for n in s.notes]
        if s.gap:
            lines.append(f"> **Gap:** {_md(s.gap)}")
        lines.append("")
    lines += ["## Gaps", ""]
    lines += [f"- **{g['section']}:** {_md(g['missing'])}" for g in card.gaps] or [
        "None."
    ]
    return "\n".join(lines) + "\n"
