"""The model registry: stages, promotion gates, rollback and comparison.

Stages run candidate -> staging -> production -> archived, with one production
version per model name. A promotion runs every gate that applies to the target stage
and either passes them all or raises :class:`GateError` listing each failure, changing
nothing. Other stages add gates (fairness, export parity, release checklist) through
:func:`register_gate`. Every decision, pass or fail, lands in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    GateError,
    NotFoundError,
    StoreError,
    ValidationError,
    did_you_mean,
    listing,
)
from mlops_nb.model._metrics import HIGHER_IS_BETTER
from mlops_nb.store import _q_models as q
from mlops_nb.store._db import now
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model._model import Model

STAGES = ("candidate", "staging", "production", "archived")


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict."""

    gate: str
    passed: bool
    message: str


GateCheck = Callable[["Model", str, dict[str, Any]], "GateResult | tuple[bool, str]"]
_GATES: dict[str, tuple[GateCheck, tuple[str, ...]]] = {}
#: stages whose import registers promotion gates; imported before any promotion so their
#: gates apply even in a kernel that never imported them (the release checklist, T40)
GATE_PROVIDERS = ("mlops_nb.human",)


def _load_gate_providers() -> None:
    import importlib

    for module in GATE_PROVIDERS:
        importlib.import_module(module)


def register_gate(
    name: str, check: GateCheck, *, stages: Sequence[str] = ("production",)
) -> None:
    """Add a promotion gate (registering the same name again replaces it).

    Parameters
    ----------
    name : str
        Shown in gate reports and errors.
    check : callable
        ``check(model, stage, context) -> (passed, message)`` or a :class:`GateResult`;
        ``context`` holds ``data`` (the evaluation DataAsset, or None) and ``reason``.
    stages : sequence of str
        The target stages the gate applies to.
    """
    bad = [s for s in stages if s not in STAGES]
    if bad:
        msg = (
            f"register_gate(stages={list(stages)!r}): unknown stage(s) {listing(bad)}."
        )
        raise ValidationError(msg)
    _GATES[name] = (check, tuple(stages))


def unregister_gate(name: str) -> None:
    """Remove a gate added with :func:`register_gate` (no error when absent)."""
    _GATES.pop(name, None)


#: how often a promotion to production re-runs its gates when another kernel changed
#: the production version between the gates and the write (then: a clear StoreError)
PROMOTE_ATTEMPTS = 8


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        msg = (
            f"unknown stage {stage!r}; use one of {listing(STAGES)}."
            f"{did_you_mean(stage, STAGES)}"
        )
        raise ValidationError(msg)


def _evaluation_data(model: Model, data: DataAsset | None) -> DataAsset | None:
    if data is not None:
        return data
    evals = model.evaluations()
    if not evals:
        return None
    name, version = evals[-1].data_label.rsplit(" v", 1)
    return model.project.asset(name, int(version))


def _run_gates(
    model: Model,
    stage: str,
    data: DataAsset | None,
    tolerance: float,
    min_metrics: dict[str, float] | None,
    reason: str,
    compared: list[dict[str, Any]] | None = None,
    seen: int | str | None = "read",
) -> list[GateResult]:
    """Run every gate; metric comparisons are appended to ``compared`` when given.

    ``seen`` is the production version to compare with (``"read"``: read it now).
    """
    results: list[GateResult] = []
    compared = [] if compared is None else compared
    if seen == "read":
        champion = current_stage_model(model.project, model.name, "production")
    else:
        champion = None if seen is None else model.project.model(model.name, seen)  # type: ignore[arg-type]
    if champion == model:
        champion = None
    needs_eval = stage in ("staging", "production") and (
        min_metrics or (stage == "production" and champion)
    )
    ev = None
    if needs_eval:
        if data is None:
            results.append(
                GateResult(
                    "evaluation data",
                    False,
                    "no labelled data to compare on: evaluate the model first "
                    "(model.evaluate(test)) or pass data=...",
                )
            )
        else:
            ev = model.evaluate(data)
    if ev is not None and min_metrics:
        for metric, threshold in min_metrics.items():
            if metric not in ev.metrics:
                results.append(
                    GateResult(
                        f"minimum {metric}",
                        False,
                        f"unknown metric {metric!r}; available: {listing(ev.metrics)}",
                    )
                )
                continue
            value = ev.metrics[metric]
            compared.append(
                {
                    "gate": f"minimum {metric}",
                    "data": ev.data_label,
                    "metric": metric,
                    "this version": value,
                    "compared with": f"threshold {threshold}",
                    "value": threshold,
                }
            )
            ok = (
                value >= threshold
                if HIGHER_IS_BETTER.get(metric, True)
                else value <= threshold
            )
            results.append(
                GateResult(
                    f"minimum {metric}",
                    ok,
                    f"{metric} {value:.4f} {'meets' if ok else 'misses'} the threshold "
                    f"{threshold} on {ev.data_label}",
                )
            )
    if ev is not None and stage == "production" and champion is not None:
        key, ours = ev.primary()
        theirs = champion.evaluate(data).metrics.get(key)  # type: ignore[arg-type]
        if theirs is None:
            results.append(
                GateResult("champion", True, f"champion {champion.label} has no {key}")
            )
        else:
            compared.append(
                {
                    "gate": "not worse than champion",
                    "data": ev.data_label,
                    "metric": key,
                    "this version": ours,
                    "compared with": f"champion {champion.label}",
                    "value": theirs,
                }
            )
            higher = HIGHER_IS_BETTER.get(key, True)
            gap = (ours - theirs) if higher else (theirs - ours)
            ok = gap >= -tolerance
            results.append(
                GateResult(
                    "not worse than champion",
                    ok,
                    f"{key} {ours:.4f} vs champion {champion.label} {theirs:.4f} on "
                    f"{ev.data_label} (tolerance {tolerance})",
                )
            )
    context = {"data": data, "reason": reason}
    _load_gate_providers()
    for name, (check, stages) in list(_GATES.items()):
        if stage not in stages:
            continue
        try:
            verdict = check(model, stage, context)
        except Exception as err:  # a broken gate fails closed
            verdict = (False, f"the gate raised {type(err).__name__}: {err}")
        if isinstance(verdict, GateResult):
            results.append(verdict)
        else:
            results.append(GateResult(name, bool(verdict[0]), str(verdict[1])))
    return results


def promote(
    model: Model,
    stage: str,
    *,
    reason: str = "",
    data: DataAsset | None = None,
    tolerance: float = 0.01,
    min_metrics: dict[str, float] | None = None,
) -> PromotionReport:
    """Run the gates and move ``model`` to ``stage`` (see :meth:`Model.promote`).

    The stages are read inside the write transaction, after every version of the
    name is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock),
    so two kernels promoting at once queue and each records the version it really
    replaced. When another kernel changed the production version after this one's
    gates compared with it, the gates run again against the new champion (up to
    :data:`PROMOTE_ATTEMPTS` times; then :class:`StoreError`, nothing changed).
    """
    import random
    import time

    _check_stage(stage)
    project = model.project
    store = project._store
    data = _evaluation_data(model, data)
    for attempt in range(PROMOTE_ATTEMPTS):
        seen = q.newest_version_at_stage(store, model.name, "production")
        compared: list[dict[str, Any]] = []
        results = (
            _run_gates(
                model, stage, data, tolerance, min_metrics, reason, compared, seen
            )
            if stage != "archived"
            else []
        )
        failures = [r for r in results if not r.passed]
        if failures:
            with store.write() as conn:
                store.audit(
                    conn,
                    "promotion refused",
                    f"model:{model.label}",
                    to=stage,
                    reason=reason,
                    failed=[r.__dict__ for r in failures],
                )
            rows = refusal_rows(failures, compared, data)
            raise GateError(refusal_message(model, stage, results, rows), rows)
        done = _promote_locked(model, stage, reason, results, seen)
        if done is not None:
            current, replaced = done
            object.__setattr__(model, "stage", stage)
            return PromotionReport(
                model.label,
                current,
                stage,
                tuple(results),
                reason,
                tuple(compared),
                replaced,
            )
        time.sleep(random.uniform(0.0, 0.05 * (attempt + 1)))
    msg = (
        f"model {model.label}: other kernels changed the production version of "
        f"{model.name!r} {PROMOTE_ATTEMPTS} times while this promotion compared with "
        "it; nothing was changed. Promote again when the others are done."
    )
    raise StoreError(msg)


def _promote_locked(
    model: Model, stage: str, reason: str, results: list[GateResult], seen: int | None
) -> tuple[str, int | None] | None:
    """Write the promotion under the name's lock; None when the gates are stale.

    ``seen`` is the production version the gates compared with. Returns the stage
    the model really was at and the production version it replaced (or None).
    """
    project = model.project
    store = project._store
    with store.write() as conn:
        q.lock_model_versions(conn, model.name)  # PostgreSQL; SQLite holds its lock
        row = q.find_model(store, model.name, version=model.version)
        if row is None:
            msg = f"model {model.label} was removed by another kernel; nothing changed."
            raise NotFoundError(msg)
        current = row["stage"]
        others = q.other_production_versions(conn, model.name, model.id)
        champion = max((r["version"] for r in others), default=None)
        if stage == "production" and champion != (
            None if seen == model.version else seen
        ):
            return None  # the champion changed since the gates ran: run them again
        replaced = champion if stage == "production" else None
        if stage == "production":
            for other in others:
                _set_stage(
                    conn,
                    other["id"],
                    "production",
                    "archived",
                    f"replaced by v{model.version}",
                    project,
                )
        if current != stage:
            _set_stage(conn, model.id, current, stage, reason, project)
        store.audit(
            conn,
            "promote",
            f"model:{model.label}",
            frm=current,
            to=stage,
            reason=reason,
            replaced=None if replaced is None else f"v{replaced}",
            gates=[r.__dict__ for r in results],
        )
    return current, replaced


def _how_to_proceed(gate: str, message: str = "") -> str:
    """Return what to do about a refusing gate, in one clause."""
    if message.startswith("unknown metric"):
        return "name one of the metrics listed in min_metrics="
    if gate.startswith("minimum "):
        metric = gate.removeprefix("minimum ")
        return (
            f"improve the model, or lower min_metrics[{metric!r}] if that threshold "
            "was too strict"
        )
    if gate == "not worse than champion":
        return (
            "train a better version, or keep this one in 'staging'; tolerance= "
            "accepts a small loss on purpose"
        )
    if gate == "evaluation data":
        return "pass data=<labelled test data> or run model.evaluate(test) first"
    if gate == "release checklist":
        return "see model.checklist(): fix or waive each open item, then sign off"
    return "fix what the gate reports, then promote again"


def refusal_rows(
    failures: list[GateResult],
    compared: list[dict[str, Any]],
    data: DataAsset | None,
) -> list[dict[str, Any]]:
    """One readable row per refusing gate: which data, which values, what to do.

    Columns: gate, data, this version, compared with, message, how to proceed (no
    dicts, no raw flags: the rows are shown to people as they are).
    """
    from mlops_nb.ui._html import header_label

    by_gate = {c["gate"]: c for c in compared}
    rows = []
    for r in failures:
        c = by_gate.get(r.gate)
        threshold = c is not None and str(c["compared with"]).startswith("threshold")
        rows.append(
            {
                "gate": r.gate,
                "data": c["data"] if c else (data.label if data is not None else "—"),
                "this version": (
                    f"{header_label(c['metric'])} {c['this version']:.4f}" if c else "—"
                ),
                "compared with": (
                    "—"
                    if c is None
                    else str(c["compared with"])
                    if threshold
                    else f"{c['compared with']}: {c['value']:.4f}"
                ),
                "message": r.message,
                "how to proceed": _how_to_proceed(r.gate, r.message),
            }
        )
    return rows


def refusal_message(
    model: Model, stage: str, results: list[GateResult], rows: list[dict[str, Any]]
) -> str:
    """Say in sentences which gates refused ``model`` on which data, and what next."""
    n = len(rows)
    data = [d for d in dict.fromkeys(r["data"] for r in rows) if d != "—"]
    on = f" on {', '.join(data)}" if data else ""
    lines = "\n".join(f"  - {r['gate']}: {r['message']}" for r in rows)
    steps = "\n".join(
        f"  - {step}" for step in dict.fromkeys(r["how to proceed"] for r in rows)
    )
    m = len(results)
    refused = f"{n} of {m} gates refused it" if m > 1 else "its one gate refused it"
    return (
        f"model {model.label} cannot move to {stage}: {refused}{on}. Nothing "
        f"changed.\n{lines}\nTo proceed:\n{steps}"
    )


def _set_stage(
    conn: Any, model_id: int, frm: str, to: str, reason: str, project: Project
) -> None:
    q.set_stage(conn, model_id, frm, to, reason, now(), project._user())


def current_stage_model(project: Project, name: str, stage: str) -> Model | None:
    """Return the newest version of ``name`` at ``stage``, or None."""
    version = q.newest_version_at_stage(project._store, name, stage)
    return None if version is None else project.model(name, version=version)


def rollback(project: Project, name: str, *, reason: str = "") -> PromotionReport:
    """Put back the production version that the current one replaced.

    The versions are read under the name's lock, inside the write (as
    :func:`promote` does), so a promotion on another machine cannot slip between.
    """
    store = project._store
    with store.write() as conn:
        q.lock_model_versions(conn, name)  # PostgreSQL; SQLite holds its write lock
        current = current_stage_model(project, name, "production")
        if current is None:
            msg = f"model {name!r} has no production version to roll back."
            raise NotFoundError(msg)
        replaced = q.replaced_production_version(store, name, current.id)
        if replaced is None:
            msg = f"model {name!r}: no earlier production version to roll back to."
            raise NotFoundError(msg)
        previous = project.model(name, version=replaced)
        _set_stage(
            conn, current.id, "production", "archived", f"rollback: {reason}", project
        )
        _set_stage(
            conn,
            previous.id,
            previous.stage,
            "production",
            f"rollback: {reason}",
            project,
        )
        store.audit(
            conn,
            "rollback",
            f"model:{name}",
            frm=current.label,
            to=previous.label,
            reason=reason,
        )
    return PromotionReport(
        previous.label,
        previous.stage,
        "production",
        (),
        f"rollback from {current.label}: {reason}",
        replaced=current.version,
    )


def stage_history(project: Project, name: str) -> pd.DataFrame:
    """Every stage change of a model's versions, oldest first."""
    import pandas as pd

    return pd.DataFrame(
        q.stage_changes(project._store, name),
        columns=["version", "from_stage", "to_stage", "reason", "at", "by"],
    )


@dataclass(frozen=True, repr=False)
class PromotionReport(Displayable):
    """What a promotion did and which gates it passed."""

    model: str
    from_stage: str
    to_stage: str
    gates: tuple[GateResult, ...]
    reason: str
    #: the metric comparisons the gates made: gate, data, metric, this version,
    #: compared with, value
    compared: tuple[dict[str, Any], ...] = ()
    #: the production version this promotion archived (None: it replaced none)
    replaced: int | None = None

    def _decided(self) -> str:
        """Say which gates decided on which data, with the metrics they compared."""
        if not self.gates:
            return "no gate applied"
        names = ", ".join(g.gate for g in self.gates)
        if not self.compared:
            return f"decided by {names}; no metric was compared"
        data = ", ".join(dict.fromkeys(c["data"] for c in self.compared))
        parts = [
            f"{c['metric']} {c['this version']:.4f} vs {c['compared with']}"
            + (
                ""
                if c["compared with"].startswith("threshold")
                else f" {c['value']:.4f}"
            )
            for c in self.compared
        ]
        return f"decided by {names} on {data}: {'; '.join(parts)}"

    def _view(self) -> View:
        import pandas as pd

        blocks: list[Any] = [
            KeyValues(
                [
                    ("model", self.model),
                    ("from", self.from_stage),
                    ("to", self.to_stage),
                    (
                        "replaced",
                        "—" if self.replaced is None else f"v{self.replaced}",
                    ),
                    ("reason", self.reason or "—"),
                    ("decided", self._decided()),
                ]
            )
        ]
        if self.compared:
            data = ", ".join(dict.fromkeys(c["data"] for c in self.compared))
            blocks.append(
                Table(pd.DataFrame(list(self.compared)), caption=f"Compared on {data}")
            )
            blocks.append(
                Text(
                    f"The gates compared the metrics on {data} only; metrics on other "
                    "data (such as the validation split in proj.compare) did not "
                    "decide this promotion.",
                    "info",
                )
            )
        if self.gates:
            frame = pd.DataFrame(
                [
                    {"gate": g.gate, "passed": g.passed, "message": g.message}
                    for g in self.gates
                ]
            )
            frame["tone"] = frame["passed"].map({True: "ok", False: "error"})
            blocks.append(Table(frame, tone_column="tone"))
        else:
            blocks.append(Text("No gate applies to this stage change.", "muted"))
        passed = (
            f"{len(self.gates)} gate{'s' * (len(self.gates) != 1)} passed"
            if self.gates
            else "no gate applied"
        )
        if self.compared:
            data = ", ".join(dict.fromkeys(c["data"] for c in self.compared))
            passed += f" on {data}"
        summary = f"{self.from_stage} -> {self.to_stage}; {passed}"
        return View(
            "Promotion",
            self.model,
            summary,
            [(self.to_stage, "ok")],
            [Tab("Gates", blocks)],
        )


@dataclass(frozen=True, repr=False)
class Comparison(Displayable):
    """Champion and challengers of one model name, side by side."""

    name: str
    table: Any  # DataFrame
    data_label: str | None

    def to_frame(self) -> pd.DataFrame:
        """One row per version."""
        return self.table.copy()

    def _view(self) -> View:
        import plotly.graph_objects as go

        from mlops_nb.ui._html import header_label

        t = self.table
        metric_cols = [c for c in t.columns if c.startswith(("validation ", "test "))]
        blocks: list[Any] = [Table(t)]
        if metric_cols:
            col = next(
                (c for c in metric_cols if c.startswith("test ")), metric_cols[0]
            )
            colors = ["#54a24b" if s == "production" else "#4c78a8" for s in t["stage"]]
            # dots, not bars: metrics of versions differ in the third decimal, and a
            # bar cut off above zero would make one version look three times another
            fig = go.Figure(
                go.Scatter(
                    x=[f"v{v}" for v in t["version"]],
                    y=t[col],
                    mode="markers+text",
                    marker={"color": colors, "size": 14},
                    text=[f"{x:.4f}" for x in t[col]],
                    textposition="top center",
                )
            )
            lo, hi = float(t[col].min()), float(t[col].max())
            pad = max((hi - lo) * 0.5, 0.01)
            fig.update_layout(
                title=f"{header_label(col)} (production in green)",
                template="plotly_white",
                height=300,
                margin={"t": 40, "b": 30},
                yaxis_range=[lo - pad, hi + pad],
            )
            blocks.append(Figure(fig))
        summary = f"{len(t)} versions" + (
            f", evaluated on {self.data_label}" if self.data_label else ""
        )
        return View("Comparison", self.name, summary, [], [Tab("Versions", blocks)])


def compare(project: Project, name: str, data: DataAsset | None = None) -> Comparison:
    """Every version of ``name`` with its stage and metrics.

    The versions are evaluated on ``data`` if given.
    """
    import pandas as pd

    versions = q.model_version_numbers(project._store, name)
    if not versions:
        msg = f"no model named {name!r} in this project."
        raise NotFoundError(msg)
    out = []
    for v in versions:
        m = project.model(name, version=v)
        val = m.metrics["validation"]["metrics"]
        row: dict[str, Any] = {
            "version": m.version,
            "stage": m.stage,
            "estimator": m.recipe["estimator"],
            "trained on": (
                ", ".join(m.data)
                if not m.recipe.get("imported")
                else f"imported ({m.recipe['imported']['flavor']}), "
                f"measured on {', '.join(m.data)}"
            ),
        }
        from mlops_nb.model._metrics import PRIMARY

        key = PRIMARY[m.task][0]
        row[f"validation {key}"] = val.get(key)
        if data is not None:
            ev = m.evaluate(data)
            for k in ev.headline()[:3]:
                row[f"test {k}"] = ev.metrics[k]
            if ev.value and "best_per_1000" in ev.value:
                row[f"value per 1,000 ({ev.value['currency']})"] = round(
                    ev.value["best_per_1000"], 2
                )
        out.append(row)
    return Comparison(name, pd.DataFrame(out), data.label if data is not None else None)
