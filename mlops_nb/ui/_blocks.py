"""The one description every public object gives of itself.

An object's ``_view()`` returns a :class:`View`: a title, a one-line summary, badges
and tabs made of a few kinds of blocks. The text, static HTML and widget renderers
all read this description, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

Tone = Literal["info", "ok", "warning", "error", "muted"]


@dataclass
class KeyValues:
    """A small two-column table of labelled values."""

    items: list[tuple[str, Any]]


@dataclass
class Table:
    """A table; long ones are cut at ``max_rows`` with a note of how many were left."""

    frame: pd.DataFrame
    caption: str = ""
    max_rows: int = 30
    tone_column: str | None = None  # a column whose values are tones, to colour rows
    plain_columns: tuple[
        str, ...
    ] = ()  # shown as-is (ids, years): no thousands separators
    #: hover text of column headers (e.g. a data dictionary's descriptions)
    titles: dict[str, str] = field(default_factory=dict)


@dataclass
class Figure:
    """A plotly figure."""

    figure: go.Figure
    caption: str = ""


@dataclass
class Text:
    """A short paragraph."""

    text: str
    tone: Tone = "info"


@dataclass
class Flow:
    """A lineage graph: edges ``(parent, operation, child)`` in order."""

    edges: list[tuple[str, str, str]]
    nodes: list[str] = field(default_factory=list)


Block = KeyValues | Table | Figure | Text | Flow


@dataclass
class Tab:
    """One tab of a view."""

    title: str
    blocks: list[Block]


@dataclass
class View:
    """What an object shows: its title, summary, badges and tabs."""

    kind: str
    title: str
    summary: str
    badges: list[tuple[str, Tone]] = field(default_factory=list)
    tabs: list[Tab] = field(default_factory=list)
    #: how sections are reached: a tab bar, or (long documents such as a model card)
    #: a side list of whole section names in the live view and a table of contents
    #: with anchors in static HTML
    navigation: Literal["tabs", "side"] = "tabs"

    def figures(self) -> list[Any]:
        """Every plotly figure in the view, in order."""
        return [b.figure for t in self.tabs for b in t.blocks if isinstance(b, Figure)]
