"""The rendering contract: one description, three renderings.

:class:`Displayable` gives every public object ``_repr_mimebundle_`` (text, static
HTML and, in widget mode with a live kernel, the widget view), ``_repr_html_``,
``widget()``, ``to_html()`` and ``save_html()``, all built from its ``_view()``.
Rendering never raises: a failure shows a small error box and logs the traceback.

A reopened notebook must still show its results. JupyterLab draws a saved
``widget-view`` output with the widget renderer even when the widget's model is gone
(new kernel, no saved widget state) and shows "Error displaying widget: model not
found", ignoring the ``text/html`` in the same bundle. So in a live kernel an object
is shown as two outputs: first its static view (the *saved view*), then the live
widget. A CSS rule shipped with the saved view hides it while the widget next to it
is alive, and hides the widget output while it has no live view (loading, or its
model gone after a reopen). Front ends without these CSS selectors (VS Code draws
each output apart) would show both; there ``set_config(saved_view=False)`` (or
``MLOPS_NB_SAVED_VIEW=0``) keeps one output, and it is off by default when the kernel
runs under VS Code.

One display builds the object's description once: ``_view()`` runs inside a
*render scope* that remembers its result for the text, the widget and the saved
view alike (a drift review's view takes about as long as its charts), and the
saved view is the only static copy: the widget's own output carries no second
``text/html`` (IPython would otherwise ask ``_repr_html_`` for one and render the
whole view again into an output no front end shows).
"""

from __future__ import annotations

import abc
import functools
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config
from mlops_nb.ui._html import error_html, page_html, view_html

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mlops_nb.ui._blocks import View

log = logging.getLogger("mlops_nb")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: Shipped inside every saved view. The first rule hides the saved view while the
#: output after it holds a live widget view; the second hides that widget output
#: while it holds none ("Loading widget...", or "model not found" after a reopen).
SAVED_VIEW_CSS = (
    "<style>"
    ".jp-OutputArea-child:has(.mnb-saved-view)"
    ":has(+ .jp-OutputArea-child .mlops-nb-widget){display:none}"
    ".jp-OutputArea-child:has(.mnb-saved-view) + .jp-OutputArea-child"
    ":not(:has(.mlops-nb-widget)){display:none}"
    "</style>"
)


def in_live_kernel() -> bool:
    """Whether we run inside an IPython kernel that can show widgets."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


_scope = threading.local()


@contextmanager
def render_scope() -> Iterator[None]:
    """Within this block, each object's ``_view()`` is built once and remembered.

    Scopes nest; the outermost one forgets the views when it ends, so an object
    changed later (a new review, a promoted model) is described afresh.
    """
    if getattr(_scope, "views", None) is not None:
        yield
        return
    _scope.views = {}
    try:
        yield
    finally:
        _scope.views = None


def _scoped_view(build: Callable[[Any], View]) -> Callable[[Any], View]:
    """Wrap a class's ``_view`` so a render scope builds it once per object."""

    @functools.wraps(build)
    def view(self: Any) -> View:
        views = getattr(_scope, "views", None)
        if views is None:
            return build(self)
        key = (id(self), build)
        hit = views.get(key)
        if hit is None or hit[0] is not self:
            hit = views[key] = (self, build(self))
        return hit[1]

    view._mnb_scoped = True  # type: ignore[attr-defined]
    return view


class Displayable(abc.ABC):
    """Mixin: an object that describes itself with ``_view()`` and renders from it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("_view")
        if callable(build) and not getattr(build, "_mnb_scoped", False):
            cls._view = _scoped_view(build)  # type: ignore[method-assign]

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
    def _live_view(self) -> dict[str, Any] | None:
        """Return a fresh live widget's widget-view entry (None if it failed)."""
        try:
            view = self.widget()
            # the class the saved view's CSS looks for, also on custom widgets
            if hasattr(view, "add_class"):
                view.add_class("mlops-nb-widget")
            data = view._repr_mimebundle_()
            if isinstance(data, tuple):  # some versions return (data, metadata)
                data = data[0]
            return data.get(WIDGET_MIME)
        except Exception:  # fall back to static HTML
            log.exception("widget rendering of %s failed", type(self).__name__)
            return None

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any]:
        with render_scope():
            return self._bundle(include, exclude)

    def _bundle(self, include: Any, exclude: Any) -> dict[str, Any]:
        mode = get_config()["display"]
        bundle: dict[str, Any] = {"text/plain": self._text()}
        wanted = (not include or WIDGET_MIME in include) and (
            not exclude or WIDGET_MIME not in exclude
        )
        live = None
        if mode == "widget" and wanted and in_live_kernel():
            live = self._live_view()
        saved = live is not None and get_config()["saved_view"]
        if live is not None:
            bundle[WIDGET_MIME] = live
        if saved:
            # the static view goes out first, as its own output, so a reopened
            # notebook shows it where the widget's model is gone
            _publish_saved_view(self._html(plotly_key=mode))
            # IPython asks _repr_html_ next for the mime type missing here
            _scope.skip_html = (id(self), _execution_count())
        elif mode != "text":
            bundle["text/html"] = self._html(plotly_key=mode)
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def _repr_html_(self) -> str | None:
        if get_config()["display"] == "text":
            return None
        skip = getattr(_scope, "skip_html", None)
        if skip is not None:
            _scope.skip_html = None
            if skip == (id(self), _execution_count()):
                return None  # its saved view went out just before: no second copy
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


def _execution_count() -> int | None:
    """Return the running cell's execution count (None outside IPython)."""
    import sys

    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return None if shell is None else getattr(shell, "execution_count", None)


def _publish_saved_view(static_html: str) -> None:
    """Send the static view as its own output, ahead of the live widget."""
    from IPython.display import publish_display_data

    html = f'<div class="mnb-saved-view">{SAVED_VIEW_CSS}{static_html}</div>'
    publish_display_data({"text/html": html})
