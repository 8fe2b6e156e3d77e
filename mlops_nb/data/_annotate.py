"""Annotation: choose the rows worth labelling, label them in a widget, keep all labels.

:meth:`DataAsset.sample` picks rows (at random, stratified by a column, or those a
model is least sure about) as a new version with lineage. :meth:`DataAsset.annotate`
opens an :class:`AnnotationSession` on a version: one person (the *annotator*) labels
one column, row by row, in a widget or through its Python API.

Every action (label, skip, undo) is saved the moment it is given, as the next version
of one project document per (data version, column, annotator); the session is the
replay of that log. So a kernel restart, a closed browser tab or a crash loses no label:
opening the session again resumes at the first row still to label, and undo still
reaches labels given before the restart. :meth:`AnnotationSession.commit` merges the
labels into a new data version whose lineage and audit entry name the annotator. Two
annotators of the same rows are compared with Cohen's kappa
(:meth:`AnnotationSession.agreement`).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from mlops_nb.data._sample import STRATEGIES, sample
from mlops_nb.errors import NotFoundError, ValidationError, did_you_mean
from mlops_nb.ui import Displayable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._agreement import Agreement
    from mlops_nb.data._asset import DataAsset
    from mlops_nb.ui import View

__all__ = ["STRATEGIES", "AnnotationSession", "annotate", "sample"]

KIND = "annotation"
_ANNOTATOR_RE = re.compile(r"^[^/\x00-\x1f]{1,64}$")


# -- sessions -------------------------------------------------------------------------
def annotate(
    asset: DataAsset,
    *,
    choices: list[Any] | None = None,
    column: str | None = None,
    annotator: str | None = None,
    model: Any = None,
    show: list[str] | None = None,
) -> AnnotationSession:
    """Open (or resume) the labelling session of one annotator on ``asset``.

    Parameters
    ----------
    asset : DataAsset
        The rows to label (often made by :meth:`DataAsset.sample`).
    choices : list, optional
        The allowed labels, e.g. ``[0, 1]``; default: the values already in
        ``column`` when it has at most 12.
    column : str, optional
        The column the labels go to; default the target, else ``"label"``.
    annotator : str, optional
        Who labels; default the project user (``mnb.set_config(user=...)``).
    model : Model, optional
        Shows its prediction and confidence with each row; default the model
        recorded by ``sample(strategy="uncertain")``.
    show : list of str, optional
        Columns to show for each row (default all but the label column).

    Returns
    -------
    AnnotationSession
        Displays as the labelling widget; resumes saved labels.
    """
    from mlops_nb._config import get_config

    what = f"DataAsset.annotate on {asset.label}"
    column = column or asset.schema.target or "label"
    annotator = get_config()["user"] if annotator is None else annotator
    if (
        not isinstance(annotator, str)
        or not _ANNOTATOR_RE.match(annotator)
        or not annotator.strip()
    ):
        msg = (f"{what}: annotator={annotator!r} must be a name of 1 to 64 "
               "characters without '/' or control characters, "
               "e.g. annotator='ana'.")  # fmt: skip
        raise ValidationError(msg)
    frame = asset._frame_nocopy()
    if choices is None:
        existing = (
            frame[column].dropna().unique().tolist() if column in frame.columns else []
        )
        if not existing or len(existing) > 12:
            msg = (f"{what}: say which labels are allowed, e.g. choices=[0, 1] "
                   f"(column {column!r} has no values to take them from).")  # fmt: skip
            raise ValidationError(msg)
        choices = sorted(existing, key=str)
    choices = list(choices)
    if not choices or len({str(c) for c in choices}) != len(choices):
        msg = f"{what}: choices={choices!r} must be distinct labels, at least one."
        raise ValidationError(msg)
    if show is not None:
        for c in show:
            asset._check_column("annotate", "show", c)
    if model is None and "model" in asset.params:
        try:
            model = asset.project.model(*asset.params["model"])
        except NotFoundError:
            model = None
    return AnnotationSession(asset, column, annotator, choices, model, show)


class AnnotationSession(Displayable):
    """One annotator labelling one column of one data version; every action is saved.

    Drive it from Python (:meth:`label`, :meth:`skip`, :meth:`undo`, :meth:`goto`) or
    through its widget: :attr:`buttons` (one per choice), :attr:`skip_button`,
    :attr:`undo_button` and :attr:`key_box` (type ``0``/``1``... to label, ``s`` to
    skip, ``u`` to undo) are ipywidgets that a test or a notebook can ``click()``.

    Attributes
    ----------
    asset : DataAsset
        The rows being labelled.
    column, annotator : str
        Where labels go, and who gives them.
    choices : list
        The allowed labels.
    """

    def __init__(self, asset: DataAsset, column: str, annotator: str,
                 choices: list[Any], model: Any = None,
                 show: list[str] | None = None):  # fmt: skip
        self.asset, self.column, self.annotator = asset, column, annotator
        self.choices, self.model = choices, model
        self.show = show or [c for c in asset.schema.names if c != column]
        self.document = f"{asset.name}@{asset.version}/{column}/{annotator}"
        self._labels: dict[int, Any] = {}
        self._skipped: set[int] = set()
        self._stack: list[tuple[int, Any, bool]] = []
        self._events, self._seen, self._last_row = 0, 0, -1
        self._pinned: int | None = None
        self._proba: np.ndarray | None = None
        self._ui: Any = None
        self.resumed = self._sync()

    # -- state -------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Rows in the batch."""
        return self.asset.n_rows

    @property
    def labels(self) -> dict[int, Any]:
        """Row position -> label, for every labelled row."""
        return dict(sorted(self._labels.items()))

    @property
    def skipped(self) -> list[int]:
        """Rows skipped and not labelled since."""
        return sorted(self._skipped - set(self._labels))

    @property
    def done(self) -> bool:
        """True when every row is labelled or skipped."""
        return self.current is None

    @property
    def current(self) -> int | None:
        """The row to label next (None when every row is labelled or skipped)."""
        if self._pinned is not None:
            return self._pinned
        open_rows = [
            r
            for r in range(self.n_rows)
            if r not in self._labels and r not in self._skipped
        ]
        if not open_rows:
            return None
        return next((r for r in open_rows if r > self._last_row), open_rows[0])

    def row(self, position: int | None = None) -> pd.Series:
        """Return the values of a row (the current one by default)."""
        position = self.current if position is None else position
        if position is None:
            msg = f"{self._what}: every row is labelled or skipped; use goto(row)."
            raise ValidationError(msg)
        return self.asset._frame_nocopy().iloc[self._check_row(position)]

    def prediction(self, position: int) -> tuple[Any, float] | None:
        """Return the model's label and its probability for a row.

        ``None`` without a model.
        """
        import numpy as np

        if self.model is None:
            return None
        if self._proba is None:
            self._proba = np.asarray(
                self.model.predict_proba(self.asset._frame_nocopy())
            )
        p = self._proba[position]
        classes = list(getattr(self.model, "classes", None) or range(len(p)))
        return classes[int(p.argmax())], float(p.max())

    # -- actions (each saved before it takes effect) -----------------------------------
    def label(self, value: Any, row: int | None = None) -> AnnotationSession:
        """Give ``value`` to ``row`` (the current row by default) and move on."""
        value = self._check_choice(value)
        position = self.current if row is None else self._check_row(row)
        if position is None:
            msg = (
                f"{self._what}: every row is labelled or skipped; "
                "pass row=... to relabel."
            )
            raise ValidationError(msg)
        return self._act({"op": "label", "row": int(position), "value": value})

    def skip(self, row: int | None = None) -> AnnotationSession:
        """Leave a row (the current one) unlabelled for now and move on."""
        position = self.current if row is None else self._check_row(row)
        if position is None:
            return self
        return self._act({"op": "skip", "row": int(position)})

    def undo(self) -> AnnotationSession:
        """Take back the last label or skip (also one given before a kernel restart)."""
        if not self._stack:
            return self
        return self._act({"op": "undo"})

    def goto(self, row: int) -> AnnotationSession:
        """Make ``row`` the current row (to relabel it or label a skipped one)."""
        self._pinned = self._check_row(row)
        self._refresh_ui()
        return self

    def reload(self) -> AnnotationSession:
        """Read actions saved since (by another kernel with the same annotator)."""
        self._sync()
        self._refresh_ui()
        return self

    def _act(self, event: dict[str, Any]) -> AnnotationSession:
        from mlops_nb.store._db import now

        row = event.get("row")
        if row is not None:
            event["row_id"] = self._row_id(row)
        payload = {**event, "annotator": self.annotator, "column": self.column,
                   "asset": [self.asset.name, self.asset.version], "at": now(),
                   "event": uuid.uuid4().hex}  # fmt: skip
        note = f"{self.annotator}: {event['op']}" + (
            f" row {row}" if row is not None else ""
        )
        if event["op"] == "label":
            note += f" = {event['value']!r}"
        self.asset.project._save_document(KIND, self.document, payload, note=note)
        self._sync()
        self._refresh_ui()
        return self

    def _sync(self) -> int:
        """Replay saved actions newer than those seen; return how many were read."""
        import json

        from mlops_nb.store._q_documents import document_payloads_after

        rows = document_payloads_after(
            self.asset.project._store, KIND, self.document, self._seen
        )
        for r in rows:
            self._apply(json.loads(r["payload"]))
            self._seen = r["version"]
        self._events += len(rows)
        return len(rows)

    def _apply(self, e: dict[str, Any]) -> None:
        if e["op"] == "undo":
            if self._stack:
                row, value, was_skipped = self._stack.pop()
                if value is _NONE:
                    self._labels.pop(row, None)
                else:
                    self._labels[row] = value
                (self._skipped.add if was_skipped else self._skipped.discard)(row)
                self._pinned, self._last_row = row, row - 1
            return
        row = int(e["row"])
        self._stack.append((row, self._labels.get(row, _NONE), row in self._skipped))
        if e["op"] == "label":
            self._labels[row] = e["value"]
            self._skipped.discard(row)
        else:
            self._skipped.add(row)
        self._pinned, self._last_row = None, row

    # -- results -----------------------------------------------------------------------
    def to_frame(self, *, labelled_only: bool = False) -> pd.DataFrame:
        """Return the batch with the labels given so far in :attr:`column`.

        Rows not labelled yet have a missing value there.
        """
        frame = self.asset.frame
        values = [self._labels.get(i, None) for i in range(len(frame))]
        frame[self.column] = _label_array(values, self.choices, frame.get(self.column))
        if labelled_only:
            frame = frame.iloc[sorted(self._labels)].reset_index(drop=True)
        return frame

    def commit(
        self, *, name: str | None = None, labelled_only: bool = False, note: str = ""
    ) -> DataAsset:
        """Merge the labels into a new version of the batch, with lineage.

        Parameters
        ----------
        name : str, optional
            Asset name of the labelled version; default the batch's name (its next
            version).
        labelled_only : bool
            Keep only labelled rows (default: every row, unlabelled ones missing).
        note : str
            Added to the recorded note, which names the annotator.

        Returns
        -------
        DataAsset
            Lineage ``annotate`` from the batch; its audit entry names the annotator.
        """
        from mlops_nb.data._register import _UNSET, register_frame

        if not self._labels:
            msg = f"{self._what}: nothing to commit yet; label a row first."
            raise ValidationError(msg)
        s = self.asset.schema
        target = self.column if s.target is None else _UNSET
        params = {"annotator": self.annotator, "column": self.column,
                  "labels": len(self._labels), "skipped": len(self.skipped),
                  "document": self.document, "events": self._seen,
                  "choices": self.choices}  # fmt: skip
        text = (f"labels by {self.annotator}: {len(self._labels)} of {self.n_rows} "
                f"rows of {self.asset.label}, column {self.column!r}"
                + (f"; {note}" if note else ""))  # fmt: skip
        return register_frame(
            self.asset.project, name or self.asset.name,
            self.to_frame(labelled_only=labelled_only),
            target=target, parents=[(self.asset.name, self.asset.version)],
            operation="annotate", params=params, note=text,
            source=f"annotation of {self.asset.label} by {self.annotator}",
            what="AnnotationSession.commit",
        )  # fmt: skip

    def agreement(self, other: str | AnnotationSession) -> Agreement:
        """Cohen's kappa between this annotator and ``other`` on rows both labelled."""
        from mlops_nb.data._agreement import agreement

        if isinstance(other, str):
            other = AnnotationSession(self.asset, self.column, other, self.choices)
        return agreement(self, other)

    def annotators(self) -> list[str]:
        """Everyone who saved an action on this column of this version."""
        prefix = f"{self.asset.name}@{self.asset.version}/{self.column}/"
        from mlops_nb.store._q_documents import document_names_with_prefix

        names = document_names_with_prefix(self.asset.project._store, KIND, prefix)
        return [n[len(prefix) :] for n in names]

    # -- helpers -----------------------------------------------------------------------
    @property
    def _what(self) -> str:
        return f"annotation of {self.asset.label} by {self.annotator}"

    def _check_row(self, row: Any) -> int:
        if (
            isinstance(row, bool)
            or not isinstance(row, int)
            or not 0 <= row < self.n_rows
        ):
            msg = (
                f"{self._what}: row={row!r} must be a position "
                f"from 0 to {self.n_rows - 1}."
            )
            raise ValidationError(msg)
        return row

    def _check_choice(self, value: Any) -> Any:
        for c in self.choices:
            same_kind = isinstance(value, bool) == isinstance(c, bool)  # 1 is not True
            if (same_kind and value == c) or str(value) == str(c):
                return c.item() if hasattr(c, "item") else c
        msg = f"{self._what}: {value!r} is not one of the choices {self.choices!r}."
        raise ValidationError(msg + did_you_mean(str(value), map(str, self.choices)))

    def _row_id(self, row: int) -> Any:
        id_col = self.asset.schema.id
        if id_col is None:
            return None
        value = self.asset._frame_nocopy()[id_col].iloc[row]
        return value.item() if hasattr(value, "item") else value

    def _refresh_ui(self) -> None:
        if self._ui is not None:
            self._ui.refresh()

    # -- widget and rendering ----------------------------------------------------------
    def _controls(self) -> Any:
        if self._ui is None:
            from mlops_nb.data._annotate_widget import AnnotationWidget

            self._ui = AnnotationWidget(self)
        return self._ui

    def widget(self) -> Any:
        """Return the labelling widget (the same one on every call)."""
        return self._controls().box

    @property
    def buttons(self) -> dict[Any, Any]:
        """Choice -> its ``ipywidgets.Button``."""
        return self._controls().buttons

    @property
    def skip_button(self) -> Any:
        """The skip ``Button``."""
        return self._controls().skip_button

    @property
    def undo_button(self) -> Any:
        """The undo ``Button``."""
        return self._controls().undo_button

    @property
    def key_box(self) -> Any:
        """A ``Text`` box: each key typed labels, skips (``s``) or undoes (``u``)."""
        return self._controls().key_box

    @property
    def status(self) -> Any:
        """A ``Label`` saying what the last action saved."""
        return self._controls().status

    def _view(self) -> View:
        from mlops_nb.data._annotate_widget import session_view

        return session_view(self)


class _Missing:
    def __repr__(self) -> str:
        return "<no label>"


_NONE = _Missing()


def _label_array(
    values: list[Any], choices: list[Any], existing: pd.Series | None
) -> Any:
    """Labels as a column: nullable integers/booleans, floats or strings as fitting."""
    import pandas as pd

    if all(isinstance(c, bool) for c in choices):
        return pd.array(values, dtype="boolean")
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        arr = pd.array(values, dtype="Int64")
        if (
            existing is not None
            and not arr.isna().any()
            and pd.api.types.is_integer_dtype(existing.dtype)
        ):
            return arr.astype(existing.dtype)
        return arr
    if all(isinstance(c, (int, float)) for c in choices):
        return pd.array(values, dtype="Float64")
    return pd.array([None if v is None else str(v) for v in values], dtype="string")
