"""Rendering: one description of an object, three renderings.

Every public object describes itself once (:class:`View`: title, summary, badges and
tabs of tables, values, notes, lineage and plotly figures). From that description come
the plain-text repr, a self-contained static HTML view (for papermill reports,
nbconvert exports and GitHub) and a live ipywidgets view for JupyterLab.
"""

from mlops_nb.ui._blocks import Figure, Flow, KeyValues, Tab, Table, Text, View
from mlops_nb.ui._display import Displayable

__all__ = ["Displayable", "Figure", "Flow", "KeyValues", "Tab", "Table", "Text", "View"]
