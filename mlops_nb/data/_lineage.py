"""Lineage: the graph of versions a data version was derived from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.store._q_assets import all_asset_parents, asset_parents
from mlops_nb.ui import Displayable, Flow, Tab, Table, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project


@dataclass(frozen=True, repr=False)
class Lineage(Displayable):
    """Ancestors of one version: edges ``(parent, operation, child)``, oldest first."""

    of: str
    edges: list[tuple[str, str, str]]
    notes: dict[str, str]

    def __str__(self) -> str:
        if not self.edges:
            return f"{self.of} (registered, no parents)"
        return "\n".join(f"{p} -> {op} -> {c}" for p, op, c in self.edges)

    @property
    def ancestors(self) -> list[str]:
        """Labels of every ancestor version, oldest first."""
        seen: list[str] = []
        for parent, _, _ in self.edges:
            if parent not in seen:
                seen.append(parent)
        return seen

    def to_frame(self) -> pd.DataFrame:
        """One row per edge: parent, operation, child and the child's note."""
        import pandas as pd

        rows = [
            {"parent": p, "operation": op, "child": c, "note": self.notes.get(c, "")}
            for p, op, c in self.edges
        ]
        return pd.DataFrame(rows, columns=["parent", "operation", "child", "note"])

    def _view(self) -> View:
        summary = " -> ".join(
            [*self.ancestors[:1], *(f"{op} -> {c}" for _, op, c in self.edges)]
        )
        return View(
            "Lineage",
            self.of,
            summary or "registered directly, no parents",
            tabs=[Tab("Graph", [Flow(self.edges, [self.of]), Table(self.to_frame())])],
        )


def lineage_of(project: Project, name: str, version: int) -> Lineage:
    """Walk the parents of ``name`` v``version`` back to versions without parents."""
    edges: list[tuple[str, str, str]] = []
    notes: dict[str, str] = {}
    seen: set[tuple[str, int]] = set()
    frontier = [(name, version)]
    while frontier:
        key = frontier.pop()
        if key in seen:
            continue
        seen.add(key)
        row = asset_parents(project._store, *key)
        if row is None:
            continue
        child = f"{key[0]} v{key[1]}"
        notes[child] = row["note"]
        for parent_name, parent_version in json.loads(row["parents"]):
            edges.append((f"{parent_name} v{parent_version}", row["operation"], child))
            frontier.append((parent_name, int(parent_version)))
    edges.reverse()
    return Lineage(f"{name} v{version}", edges, notes)


def plural(n: int, word: str, words: str | None = None) -> str:
    """Return ``"1 model"``, ``"2 models"``, ``"0 models"`` (``words`` if irregular)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def project_lineage(project: Project) -> list[tuple[str, str, str]]:
    """Every edge of a project, as ``(parent, operation, child)`` labels.

    Data versions derived from data versions (split, filter, ...), models trained
    from data versions (and models derived from models), ONNX exports and measured
    variants of a model, edge bundles written from it, and monitors watching it
    against their reference data. Labels name the kind: ``data tiny v1``,
    ``model clf v2``, ``ONNX export clf v2``, ``monitor clf v2``.
    """
    from mlops_nb.store._q_documents import (
        document_names_in_order,
        newest_monitor_documents,
    )
    from mlops_nb.store._q_models import model_lineages
    from mlops_nb.store._q_reports import bundle_entries

    edges: list[tuple[str, str, str]] = []
    store = project._store
    for r in all_asset_parents(store):
        for pn, pv in json.loads(r["parents"]):
            edges.append((f"data {pn} v{pv}", r["operation"], _data(r)))
    for r in model_lineages(store):
        lineage = json.loads(r["lineage"] or "{}")
        model = f"model {r['name']} v{r['version']}"
        source = lineage.get("source")  # imported: trained elsewhere, measured here
        if source:
            edges.append((source["uri"], "imported", model))
        for d in lineage.get("data", []):
            edges.append((_data(d), "measured" if source else "trained", model))
        if lineage.get("parent_model"):
            pn, pv = lineage["parent_model"]
            edges.append((f"model {pn} v{pv}", "derived", model))
    documents = [
        ("onnx", "exported to ONNX", "ONNX export"),
        ("xmo", "optimized", "optimized variants"),
    ]
    for kind, operation, what in documents:
        for doc in document_names_in_order(store, kind):
            name, _, version = str(doc).rpartition("@")
            if name and version.isdigit():
                edges.append(
                    (f"model {name} v{version}", operation, f"{what} {name} v{version}")
                )
    seen: set[tuple[str, str, str]] = set()
    for r in bundle_entries(store):
        model = _model_object(r["object"])
        detail = json.loads(r["detail"] or "{}")
        folder = str(detail.get("folder", "")).replace("\\", "/").rstrip("/")
        variant = detail.get("variant")
        edge = (
            model,
            f"bundled ({variant})" if variant else "bundled",
            f"edge bundle {folder.rsplit('/', 1)[-1] or '?'}",
        )
        if model and edge not in seen:
            seen.add(edge)
            edges.append(edge)
    for r in newest_monitor_documents(store):
        payload = json.loads(r["payload"])
        monitor = f"monitor {str(r['name']).replace('@v', ' v')}"
        m = payload.get("model") or {}
        if m.get("name"):
            edges.append((f"model {m['name']} v{m['version']}", "monitored", monitor))
        if payload.get("reference"):
            edges.append((_data(payload["reference"]), "reference", monitor))
    return edges


def _data(row: Any) -> str:
    return f"data {row['name']} v{row['version']}"


def _model_object(obj: str) -> str:
    """``model:clf@2`` or ``model:clf v2`` -> ``model clf v2`` ("" for others)."""
    kind, _, rest = str(obj).partition(":")
    if kind != "model" or not rest:
        return ""
    name, sep, version = rest.rpartition("@")
    return f"model {name} v{version}" if sep else f"model {rest}"
