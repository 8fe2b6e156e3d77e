"""Lineage: the graph of versions a data version was derived from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
        rows = project._store.query(
            "SELECT parents, operation, note FROM asset_versions "
            "WHERE name = ? AND version = ?",
            key,
        )
        if not rows:
            continue
        child = f"{key[0]} v{key[1]}"
        notes[child] = rows[0]["note"]
        for parent_name, parent_version in json.loads(rows[0]["parents"]):
            edges.append(
                (f"{parent_name} v{parent_version}", rows[0]["operation"], child)
            )
            frontier.append((parent_name, int(parent_version)))
    edges.reverse()
    return Lineage(f"{name} v{version}", edges, notes)
