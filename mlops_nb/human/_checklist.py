"""The release checklist: what must be true, and who signed, before production.

Items are checked against what the project recorded, never against what someone says:

- ``fairness within limits``: every fairness review stored for the version keeps each
  disparity within the project's limits, or a named person recorded a waiver;
- ``explanation reviewed``: a global explanation of the version is stored (the sign-off
  attests that it was read);
- ``card complete``: the model card has intended use, limitations, metrics with
  intervals and data sources with hashes;
- ``security checks passed``: :meth:`Project.verify` finds every artifact, the database
  and the audit chain intact, and the audit log takes writes;
- ``monitoring plan``: the version has a drift monitor (:meth:`Model.monitor`), whose
  document records the reference's hash, the statistics it alerts on and thresholds;
- ``signed off``: a named person signed this version, with time and comment.

The checklist is a gate for promotion to production (registered when
:mod:`mlops_nb.human` is imported). A project chooses its items and limits with
:func:`configure_checklist`; that choice, every sign-off and every waiver is a versioned
document and an audit-log entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError, did_you_mean, listing
from mlops_nb.human._items import (
    _SIGNOFF,
    _WAIVER,
    WAIVABLE,
    Item,
    evaluate_items,
    latest_signoff,
)
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.model import Model

ITEMS = (
    "fairness within limits",
    "explanation reviewed",
    "card complete",
    "security checks passed",
    "monitoring plan",
    "signed off",
)
DEFAULT_ITEMS = ITEMS
GATE_NAME = "release checklist"
_CONFIG = "release-checklist"


def _person(value: Any, param: str, what: str) -> str:
    text = " ".join(str(value or "").split())
    if not text or len(text) > 100 or not re.search(r"[^\W\d_]", text):
        msg = (
            f"{what}: {param}={value!r} must name a person (letters, at most 100 "
            "characters), e.g. 'A. Reviewer'; the name is recorded in the audit log."
        )
        raise ValidationError(msg)
    return text


def checklist_config(project: Project) -> dict[str, Any]:
    """Return the project's checklist items and disparity limits (or the defaults)."""
    from mlops_nb.human._fairness import DEFAULT_LIMITS

    doc = project._document(_CONFIG, "project")
    config = {
        "items": list(DEFAULT_ITEMS),
        "limits": dict(DEFAULT_LIMITS),
        "version": 0,
        "by": None,
        "note": "mlops_nb defaults",
    }
    if doc is not None:
        config.update(doc["payload"])
        config["version"] = doc["version"]
    return config


def configure_checklist(
    project: Project,
    *,
    by: str,
    items: list[str] | None = None,
    limits: dict[str, float] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Choose the project's checklist items and disparity limits (a recorded decision).

    Parameters
    ----------
    project : Project
    by : str
        The person deciding; recorded with the configuration and in the audit log.
    items : list of str, optional
        Items of :data:`ITEMS` to require (default: keep the current ones). An empty
        list turns the gate off for this project, on the record.
    limits : dict, optional
        Upper limits of ``demographic_parity_difference`` and
        ``equalized_odds_difference``, lower limit of ``demographic_parity_ratio``.
    note : str
        Why.

    Returns
    -------
    dict
        The configuration now in force, with its version.
    """
    from mlops_nb.human._fairness import DISPARITIES

    what = "configure_checklist"
    by = _person(by, "by", what)
    current = checklist_config(project)
    items = list(current["items"] if items is None else items)
    bad = [i for i in items if i not in ITEMS]
    if bad:
        msg = (
            f"{what}: unknown item(s) {listing(bad)}; items: {listing(ITEMS)}."
            f"{did_you_mean(bad[0], ITEMS)}"
        )
        raise ValidationError(msg)
    limits = {**current["limits"], **(limits or {})}
    wrong = {
        k: v
        for k, v in limits.items()
        if k not in DISPARITIES or not 0 <= float(v) <= 1
    }
    if wrong:
        msg = (
            f"{what}: limits {wrong!r}: use {listing(DISPARITIES)} "
            "with values in [0, 1]."
        )
        raise ValidationError(msg)
    payload = {
        "items": [i for i in ITEMS if i in items],
        "by": by,
        "note": note,
        "limits": {k: float(v) for k, v in limits.items()},
    }
    project._save_document(_CONFIG, "project", payload, note=f"by {by}: {note}")
    return checklist_config(project)


@dataclass(frozen=True, repr=False)
class Checklist(Displayable):
    """The release checklist of one model version, evaluated now."""

    model: Model = field(repr=False)
    items: tuple[Item, ...]
    config: dict[str, Any]

    @property
    def passed(self) -> bool:
        """True when every configured item passes."""
        return all(i.passed for i in self.items)

    @property
    def open_items(self) -> list[Item]:
        """The items that do not pass."""
        return [i for i in self.items if not i.passed]

    def to_frame(self) -> Any:
        """One row per item: name, passed, detail."""
        import pandas as pd

        return pd.DataFrame(
            [i.__dict__ for i in self.items], columns=["name", "passed", "detail"]
        )

    def refresh(self) -> Checklist:
        """Evaluate the checklist again."""
        return checklist(self.model)

    def sign(self, by: str, *, note: str = "") -> Checklist:
        """Record a named sign-off of this version (time, comment, the items' state).

        Raises
        ------
        ValidationError
            When ``by`` names no one, or any other item does not pass (nothing is
            recorded): fix the item or record a waiver first.
        """
        from mlops_nb.store._db import now

        what = f"{self.model.label}.checklist().sign"
        by = _person(by, "by", what)
        current = self.refresh()
        blocking = [i for i in current.open_items if i.name != "signed off"]
        if blocking:
            msg = (
                f"{what}: cannot sign while {len(blocking)} item(s) fail — "
                + "; ".join(f"{i.name}: {i.detail}" for i in blocking)
                + ". Nothing was recorded."
            )
            raise ValidationError(msg, [i.__dict__ for i in blocking])
        payload = {
            "by": by,
            "note": str(note),
            "at": now(),
            "model": self.model.label,
            "items": [i.__dict__ for i in current.items if i.name != "signed off"],
        }
        self.model.project._save_document(
            _SIGNOFF,
            f"{self.model.name}@{self.model.version}",
            payload,
            note=f"release sign-off by {by}: {note}",
        )
        return self.refresh()

    def waive(self, item: str, *, by: str, reason: str) -> Checklist:
        """Record a named waiver of an item in :data:`WAIVABLE`."""
        from mlops_nb.store._db import now

        what = f"{self.model.label}.checklist().waive"
        if item not in WAIVABLE:
            msg = (
                f"{what}: item {item!r} cannot be waived; waivable: "
                f"{listing(WAIVABLE)}."
                f"{did_you_mean(item, WAIVABLE)}"
            )
            raise ValidationError(msg)
        by = _person(by, "by", what)
        if not str(reason).strip():
            msg = f"{what}: a waiver needs a reason (reason='...')."
            raise ValidationError(msg)
        payload = {
            "item": item,
            "by": by,
            "reason": str(reason),
            "at": now(),
            "active": True,
        }
        self.model.project._save_document(
            _WAIVER,
            f"{self.model.name}@{self.model.version}:{item}",
            payload,
            note=f"waiver by {by}: {reason}",
        )
        return self.refresh()

    def _view(self) -> View:
        import pandas as pd

        frame = self.to_frame()
        frame["status"] = frame["passed"].map({True: "pass", False: "open"})
        frame["tone"] = frame["passed"].map({True: "ok", False: "error"})
        c = self.config
        blocks: list[Any] = [
            Table(frame[["name", "status", "detail", "tone"]], tone_column="tone")
        ]
        if not self.items:
            blocks = [
                Text(
                    f"No items: the release checklist is off for this project "
                    f"(configured by {c['by']}: {c['note']}).",
                    "warning",
                )
            ]
        blocks.append(
            KeyValues(
                [
                    (
                        "limits",
                        ", ".join(
                            f"{k.replace('_', ' ')} {v}" for k, v in c["limits"].items()
                        ),
                    ),
                    (
                        "configuration",
                        f"v{c['version']} by {c['by']}: {c['note']}"
                        if c["version"]
                        else "mlops_nb defaults (configure_checklist to change)",
                    ),
                ]
            )
        )
        s = latest_signoff(self.model)
        tabs = [Tab("Items", blocks)]
        if s:
            tabs.append(
                Tab(
                    "Sign-off",
                    [
                        KeyValues(
                            [
                                ("signed off by", s["by"]),
                                ("at", s["at"][:19].replace("T", " ") + " UTC"),
                                ("comment", s["note"] or "—"),
                            ]
                        ),
                        Table(pd.DataFrame(s["items"]), caption="items when signed"),
                    ],
                )
            )
        n_ok = sum(i.passed for i in self.items)
        summary = f"{n_ok}/{len(self.items)} items pass; " + (
            "ready for production"
            if self.passed
            else "promotion to production is blocked"
        )
        badge = ("ready", "ok") if self.passed else ("blocked", "error")
        return View("Release checklist", self.model.label, summary, [badge], tabs)

    def widget(self) -> Any:
        """Return the live view with a sign-off form.

        The form's parts are attributes of the returned box: ``signer``, ``note``,
        ``sign_button`` and ``status``.
        """
        import ipywidgets as w

        from mlops_nb.ui._widget import view_widget

        box = view_widget(self._view())
        signer = w.Text(placeholder="your name", description="signed by")
        note = w.Textarea(placeholder="what you reviewed", description="comment")
        button = w.Button(description="Sign off", icon="check", button_style="primary")
        status = w.Label("")

        def on_click(_: Any) -> None:
            try:
                self.sign(signer.value, note=note.value)
                status.value = f"signed off by {signer.value}"
            except ValidationError as err:
                status.value = "not signed: " + " ".join(str(err).split())

        button.on_click(on_click)
        box.children = (*box.children, w.VBox([signer, note, w.HBox([button, status])]))
        box.signer, box.note, box.sign_button, box.status = signer, note, button, status
        return box


def checklist(model: Model) -> Checklist:
    """Evaluate the release checklist of ``model`` against what the project recorded."""
    config = checklist_config(model.project)
    return Checklist(model, tuple(evaluate_items(model, config)), config)


def release_gate(model: Model, stage: str, context: dict[str, Any]) -> tuple[bool, str]:
    """Pass a promotion only when every configured checklist item passes.

    The gate is on in projects that require a release checklist — those where someone
    recorded one with :func:`configure_checklist` — so scheduled retraining and first
    experiments are not blocked by a sign-off nobody asked for.
    """
    if model.project._document(_CONFIG, "project") is None:
        return True, (
            "no release checklist required in this project "
            "(configure_checklist(proj, by=...) turns this gate on)"
        )
    cl = checklist(model)
    if cl.passed:
        s = latest_signoff(model)
        who = f"; signed off by {s['by']}" if s else ""
        waived = [
            f"{i.name} {i.detail.split(':')[0]}"
            for i in cl.items
            if i.detail.startswith("waived by")
        ]
        notes = f" ({'; '.join(waived)})" if waived else ""
        return True, f"all {len(cl.items)} items pass{notes}{who}"
    return False, "; ".join(f"{i.name}: {i.detail}" for i in cl.open_items)
