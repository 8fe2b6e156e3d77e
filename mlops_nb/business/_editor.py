"""The canvas edit form: an ipywidgets form that saves a new canvas version."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from mlops_nb.business._canvas import (
    _LIST_FIELDS,
    _OUTCOME_MEANING,
    OUTCOMES,
    VALUE_LEVELS,
    save_canvas,
)
from mlops_nb.business._canvas_html import canvas_html, header_line
from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.business._canvas import ValueCanvas


class CanvasEditor:
    """An ipywidgets form that saves a new version of a project's canvas.

    Every input is in :attr:`fields` (keyed by canvas field, plus ``tp`` ``fp`` ``fn``
    ``tn`` and ``note``); :attr:`save_button` validates and saves; :attr:`status`
    says ``"saved as version N"`` or why nothing was saved, wrapped over as many
    lines as it needs. :attr:`widget` is the whole view: the header line every object
    shows, then :attr:`tab`, a ``Tab`` with "Canvas" (the rendering) and "Edit" (the
    form).

    Parameters
    ----------
    project : Project or None
        Where to save; without one the form is read-only.
    canvas : ValueCanvas, optional
        The version to start from (a blank form when None).

    Examples
    --------
    >>> editor = proj.canvas().editor()                       # doctest: +SKIP
    >>> editor.fields["outcomes.fp"].value = -20              # doctest: +SKIP
    >>> editor.save_button.click(); editor.status.value       # doctest: +SKIP
    'saved as version 2'
    """

    def __init__(self, project: Project | None, canvas: ValueCanvas | None = None):
        import ipywidgets as w

        self.project = project
        self.canvas = canvas
        c = canvas
        wide, short = w.Layout(width="95%"), w.Layout(width="260px")
        style = {"description_width": "110px"}
        levels = [(f"{k}: {v}", k) for k, v in VALUE_LEVELS.items()]
        f: dict[str, Any] = {
            "process": w.Text(c.process if c else "", layout=wide),
            "value_level": w.Dropdown(
                options=levels, value=c.value_level if c else "optimize", layout=wide
            ),
            "currency": w.Text(c.currency if c else "EUR", layout=short),
            "positive_class": w.Text(str(c.positive_class) if c else "1", layout=short),
            "success": w.Text(c.success if c else "", layout=wide),
            "note": w.Text("", placeholder="why this change", layout=wide),
        }
        for name in _LIST_FIELDS:
            f[name] = w.Textarea(
                "\n".join(getattr(c, name)) if c else "",
                placeholder="one per line",
                layout=w.Layout(width="95%", height="72px"),
            )
        for key in OUTCOMES:
            f[f"outcomes.{key}"] = w.FloatText(
                c.outcomes.get(key, 0.0) if c else 0.0,
                tooltip=_OUTCOME_MEANING[key],
                layout=short,
            )
        for name, widget in f.items():
            widget.description = name.removeprefix("outcomes.").replace("_", " ")
            widget.style = style
        self.fields = f
        # as wide as its words (ipywidgets' default 148px cuts "Save new versi…")
        self.save_button = w.Button(
            description="Save new version",
            icon="save",
            layout=w.Layout(width="auto", min_width="max-content", flex="0 0 auto"),
        )
        self.save_button.button_style = "primary"
        self.save_button.on_click(lambda _button: self.save())
        # an HTML widget wraps a long message; a Label would cut it at one line
        self.status = w.HTML("", layout=w.Layout(width="auto", flex="1 1 auto"))
        self.status.add_class(STATUS_CLASS)
        head = STATUS_CSS + "<b>Decision outcomes</b>: the money value of one "
        head += "decision (costs are negative). Left: predicted positive (act); "
        head += "right: predicted negative."
        outcomes_text = w.HTML(head)
        outcomes_text.add_class(TEXT_CLASS)
        form = w.VBox([
            f["process"], f["value_level"], f["kpis"], outcomes_text,
            w.HBox([w.VBox([f["outcomes.tp"], f["outcomes.fp"]]),
                    w.VBox([f["outcomes.fn"], f["outcomes.tn"]])]),
            w.HBox([f["currency"], f["positive_class"]]),
            f["stakeholders"], f["risks"], f["success"], f["note"],
            w.HBox([self.save_button, self.status]),
        ])  # fmt: skip
        self.view = w.HTML(
            canvas_html(canvas, header=False) if canvas else "<div>No canvas yet.</div>"
        )
        self.tab = w.Tab(children=[self.view, form])
        self.tab.set_title(0, "Canvas")
        self.tab.set_title(1, "Edit")
        self.header = w.HTML(_header(canvas))
        self.widget = w.VBox([self.header, self.tab])
        self.widget.add_class("mlops-nb-widget")
        self.widget.editor = self
        if project is None:
            for widget in [*self.fields.values(), self.save_button]:
                widget.disabled = True
            self.status.value = "read-only: this canvas is not attached to a project."

    def values(self) -> dict[str, Any]:
        """Return the form's content as canvas fields (lists split on lines)."""
        f = self.fields
        out: dict[str, Any] = {
            "process": f["process"].value,
            "value_level": f["value_level"].value,
            "success": f["success"].value,
            "currency": f["currency"].value,
            "outcomes": {k: f[f"outcomes.{k}"].value for k in OUTCOMES},
        }
        binary = self.canvas is None or self.canvas.outcomes
        if not binary and not any(out["outcomes"].values()):
            del out["outcomes"]  # a regression/multiclass canvas: no binary outcomes
        for name in _LIST_FIELDS:
            out[name] = [line for line in f[name].value.splitlines() if line.strip()]
        text = f["positive_class"].value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            out["positive_class"] = int(text)
        elif text in ("True", "False") and isinstance(
            self.canvas and self.canvas.positive_class, bool
        ):
            out["positive_class"] = text == "True"
        else:
            out["positive_class"] = text
        return out

    def save(self) -> ValueCanvas | None:
        """Validate the form and save it; returns the saved version or None."""
        if self.project is None:
            self.status.value = "read-only: this canvas is not attached to a project."
            return None
        before = self.canvas.version if self.canvas else None
        try:
            canvas = save_canvas(
                self.project, note=self.fields["note"].value, **self.values()
            )
        except ValidationError as err:
            text = "not saved: " + " ".join(str(err).split())
            self.status.value = html.escape(text, quote=False)  # the form's own text
            return None
        self.canvas = canvas
        self.view.value = canvas_html(canvas, header=False)
        self.header.value = _header(canvas)
        if canvas.version == before:
            self.status.value = f"no change: still version {canvas.version}"
        else:
            self.status.value = f"saved as version {canvas.version}"
        return canvas


#: The status line's class. ipywidgets' HTML widget sets a 28px line height, which
#: spreads a wrapped message over far-apart lines; the form's rule sets a normal one.
STATUS_CLASS = "mnb-canvas-status"
TEXT_CLASS = "mnb-canvas-text"  # the form's other wrapped text
STATUS_CSS = (
    f"<style>.{STATUS_CLASS} .widget-html-content,.{TEXT_CLASS} .widget-html-content"
    "{line-height:1.35;padding:4px 0;align-self:center}</style>"
)


def _header(canvas: ValueCanvas | None) -> str:
    """Return the header line above the live view (kind, version, level, prices)."""
    if canvas is None:
        from mlops_nb.ui._html import MUTED

        kind = f'<span style="color:{MUTED}">ValueCanvas</span>'
        return f"<div>{kind} <b>no canvas yet</b></div>"
    return header_line(canvas)
