"""The rendering contract: one description, three renderings.

:class:`Displayable` gives every public object ``_repr_mimebundle_`` (text, static
HTML and, in widget mode with a live kernel, the widget view), ``_repr_html_``,
``widget()``, ``to_html()`` and ``save_html()``, all built from its ``_view()``.
Rendering never raises: a failure shows a small error box and logs the traceback.
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config
from mlops_nb.ui._html import error_html, page_html, view_html

if TYPE_CHECKING:
    from mlops_nb.ui._blocks import View

log = logging.getLogger("mlops_nb")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def in_live_kernel() -> bool:
    """Whether we run inside an IPython kernel that can show widgets."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Displayable(abc.ABC):
    """Mixin: an object that describes itself with ``_view()`` and renders from it."""

    @abc.abstractmethod
    def _view(self) -> View:
        """Describe this object once; every rendering is built from it."""

    # -- the three renderings --------------------------------------------------------
    def _text(self) -> str:
        try:
            view = self._view()
            return f"{view.kind} {view.title}: {view.summary}"
        except Exception as err:  # rendering never raises
            log.exception("text rendering of %s failed", type(self).__name__)
            return (
                f"<{type(self).__name__}: could not render "
                f"({type(err).__name__}: {err})>"
            )

    def _html(self, plotly_key: str | None = "html") -> str:
        try:
            return view_html(self._view(), plotly_key=plotly_key)
        except Exception as err:  # rendering never raises
            log.exception("HTML rendering of %s failed", type(self).__name__)
            return error_html(type(self).__name__, err)

    def widget(self) -> Any:
        """Return the live ipywidgets view of this object.

        Returns
        -------
        ipywidgets.Widget
            A header and a tab per section; figures are interactive plotly charts.
        """
        from mlops_nb.ui._widget import view_widget

        return view_widget(self._view())

    # -- IPython hooks ---------------------------------------------------------------
    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any]:
        mode = get_config()["display"]
        bundle: dict[str, Any] = {"text/plain": self._text()}
        if mode == "widget" and in_live_kernel():
            try:
                w = self.widget()
                data = w._repr_mimebundle_()
                if isinstance(data, tuple):  # some versions return (data, metadata)
                    data = data[0]
                if WIDGET_MIME in data:
                    bundle[WIDGET_MIME] = data[WIDGET_MIME]
            except Exception:  # fall back to static HTML
                log.exception("widget rendering of %s failed", type(self).__name__)
        if mode != "text":
            bundle["text/html"] = self._html(plotly_key=mode)
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def _repr_html_(self) -> str | None:
        if get_config()["display"] == "text":
            return None
        return self._html()

    def __repr__(self) -> str:
        return self._text()

    # -- files -----------------------------------------------------------------------
    def to_html(self) -> str:
        """Return a complete, self-contained HTML page (plotly.js embedded)."""
        view_title = self._text()
        return page_html(view_title, self._html(plotly_key=None))

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`to_html` to ``path`` and return the path."""
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path
