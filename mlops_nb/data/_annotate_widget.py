"""The labelling widget of an :class:`AnnotationSession`, and its static view.

The widget shows the current row's values (and a model's prediction and confidence),
one button per choice plus skip and undo, a progress bar, and a key box: with the
cursor in it, typing a choice's key labels the row, ``s`` skips and ``u`` undoes, so
labelling needs no mouse. Every control calls the session's Python API, which saves the
action before the view changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.ui import KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb.data._annotate import AnnotationSession

_RECENT = 12


def keys_for(choices: list[Any]) -> dict[str, Any]:
    """Keyboard key -> choice: the choice itself if one character, else 1, 2, ..."""
    texts = [str(c) for c in choices]
    single = all(len(t) == 1 for t in texts) and not {"s", "u"} & set(texts)
    if single:
        return dict(zip(texts, choices, strict=True))
    return {str(i + 1): c for i, c in enumerate(choices[:9])}


def _progress_text(s: AnnotationSession) -> str:
    n, done, skipped = s.n_rows, len(s.labels), len(s.skipped)
    text = f"{done} of {n} labelled"
    if skipped:
        text += f", {skipped} skipped"
    return text + ("; finished" if s.done else f", {n - done - skipped} to go")


def _row_items(s: AnnotationSession, position: int) -> list[tuple[str, Any]]:
    row = s.row(position)
    items: list[tuple[str, Any]] = [("row", f"{position + 1} of {s.n_rows}")]
    pred = s.prediction(position)
    if pred is not None:
        label, p = pred
        items.append(("model says",
                      f"{label} with probability {p:.2f}"
                      f"{' (uncertain)' if p < 0.65 else ''}"
                      f" · {s.model.label}"))  # fmt: skip
    if position in s.labels:
        items.append(("labelled", repr(s.labels[position])))
    plain = {s.asset.schema.id, s.asset.schema.time}  # ids and years: no separators
    items.extend((c, str(row[c]) if c in plain else row[c]) for c in s.show)
    return items


def _recent_table(s: AnnotationSession) -> Any:
    import pandas as pd

    frame = s.asset._frame_nocopy()
    id_col = s.asset.schema.id
    rows = []
    for position, value in list(s.labels.items())[-_RECENT:]:
        entry: dict[str, Any] = {"row": position + 1}
        if id_col:
            entry[id_col] = str(frame[id_col].iloc[position])
        entry[s.column] = value
        pred = s.prediction(position)
        if pred is not None:
            entry["model"], entry["probability"] = pred[0], round(pred[1], 3)
        rows.append(entry)
    return pd.DataFrame(rows)


def session_view(s: AnnotationSession) -> View:
    """Describe a session: progress, the current row, the labels so far."""
    position = s.current
    facts = KeyValues([
        ("data", s.asset.label), ("column", s.column), ("annotator", s.annotator),
        ("choices", ", ".join(map(repr, s.choices))), ("progress", _progress_text(s)),
        ("saved", f"every action is saved as it is given ({s._seen} so far, document "
                  f"'{s.document}'); a kernel restart loses none"),
    ])  # fmt: skip
    blocks: list[Any] = [facts]
    if s.resumed:
        blocks.append(Text(f"Resumed: {s.resumed} saved actions replayed.", "info"))
    if position is None:
        blocks.append(
            Text(
                "Every row is labelled or skipped: "
                "commit() makes the labelled version.",
                "ok",
            )
        )
    else:
        blocks.append(Text("Next row to label:", "muted"))
        blocks.append(KeyValues(_row_items(s, position)))
    tabs = [Tab("Label", blocks)]
    recent = _recent_table(s)
    tabs.append(Tab("Labels", [
        Table(recent, caption=f"last {len(recent)} labels",
              plain_columns=tuple(c for c in (s.asset.schema.id,) if c)),
    ] if len(recent) else [Text("No labels yet.", "muted")]))  # fmt: skip
    tone = "ok" if s.done else "info"
    badges = [(f"{len(s.labels)}/{s.n_rows} labelled", tone), (s.annotator, "muted")]
    summary = (
        f"{s.annotator} labelling {s.column!r} of {s.asset.label}: {_progress_text(s)}"
    )
    title = f"{s.asset.label} · {s.column}"
    return View("Annotation", title, summary, badges, tabs)  # type: ignore[arg-type]


class AnnotationWidget:
    """The ipywidgets controls of one session (see the module docstring)."""

    def __init__(self, session: AnnotationSession):
        import ipywidgets as w

        from mlops_nb.ui._html import header_html

        self.session = s = session
        self.keys = keys_for(s.choices)
        key_of = {str(v): k for k, v in self.keys.items()}
        self.buttons = {}
        for c in s.choices:
            b = w.Button(description=str(c),
                         tooltip=f"label {c!r} (key {key_of.get(str(c), '-')})",
                         button_style="primary",
                         layout=w.Layout(width="auto", min_width="64px"))  # fmt: skip
            b.on_click(lambda _b, c=c: self._do(lambda: s.label(c)))
            self.buttons[c] = b
        self.skip_button = w.Button(
            description="Skip (s)", icon="forward", layout=w.Layout(width="auto")
        )
        self.skip_button.on_click(lambda _b: self._do(s.skip))
        self.undo_button = w.Button(
            description="Undo (u)", icon="undo", layout=w.Layout(width="auto")
        )
        self.undo_button.on_click(lambda _b: self._do(s.undo))
        hint = " / ".join(self.keys) + " label · s skip · u undo"
        self.key_box = w.Text(placeholder=f"keyboard: click here, then type {hint}",
                              continuous_update=True,
                              layout=w.Layout(width="360px"))  # fmt: skip
        self.key_box.observe(self._on_key, names="value")
        self.progress = w.IntProgress(
            min=0, max=max(s.n_rows, 1), layout=w.Layout(width="260px")
        )
        self.progress_text = w.Label()
        self.status = w.Label("")
        self.row_html = w.HTML()
        self.recent_html = w.HTML()
        title = header_html(View(
            "Annotation", f"{s.asset.label} · {s.column}",
            f"annotator {s.annotator}; choices {', '.join(map(repr, s.choices))}",
        ))  # fmt: skip
        label_page = w.VBox([
            w.HBox([self.progress, self.progress_text]), self.row_html,
            w.HBox([*self.buttons.values(), self.skip_button, self.undo_button]),
            self.key_box, self.status,
        ])  # fmt: skip
        tabs = w.Tab(children=[label_page, self.recent_html])
        tabs.set_title(0, "Label")
        tabs.set_title(1, "Labels")
        self.box = w.VBox([w.HTML(title), tabs])
        self.box.add_class("mlops-nb-widget")
        self.box.session = s
        if s.resumed:
            self.status.value = f"resumed: {s.resumed} saved actions replayed"
        self.refresh()

    def _do(self, action: Any) -> None:
        from mlops_nb.errors import MlopsNbError

        s = self.session
        before = s._seen
        try:
            action()
        except (
            MlopsNbError
        ) as err:  # shown, not raised: a click must not print a traceback
            self.status.value = f"not saved: {err}"
            return
        if s._seen == before:
            self.status.value = "nothing to do"
        else:
            self.status.value = f"saved (action {s._seen}); {_progress_text(s)}"

    def _on_key(self, change: Any) -> None:
        text = change["new"]
        if not text:
            return
        key = text[-1]
        self.key_box.value = ""
        s = self.session
        if key in self.keys:
            self._do(lambda: s.label(self.keys[key]))
        elif key.lower() == "s":
            self._do(s.skip)
        elif key.lower() == "u":
            self._do(s.undo)
        else:
            self.status.value = (
                f"key {key!r} does nothing here: {', '.join(self.keys)}, s or u"
            )

    def refresh(self) -> None:
        """Redraw after the session changed."""
        from mlops_nb.ui._html import keyvalues_html, table_html, text_html

        s = self.session
        self.progress.value = len(s.labels)
        self.progress_text.value = _progress_text(s)
        position = s.current
        if position is None:
            self.row_html.value = text_html(
                Text("Every row is labelled or skipped: call commit().", "ok")
            )
        else:
            self.row_html.value = keyvalues_html(KeyValues(_row_items(s, position)))
        for b in [*self.buttons.values(), self.skip_button]:
            b.disabled = position is None
        self.undo_button.disabled = not s._stack
        recent = _recent_table(s)
        self.recent_html.value = (
            table_html(Table(recent)) if len(recent) else "<i>No labels yet.</i>"
        )
