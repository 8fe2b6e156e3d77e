"""The checklist's items, each evaluated against the project's records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_nb.model import Model

WAIVABLE = ("fairness within limits", "monitoring plan")
_SIGNOFF, _WAIVER = "release-signoff", "release-waiver"


@dataclass(frozen=True)
class Item:
    """One checklist item's state."""

    name: str
    passed: bool
    detail: str


def _fairness_item(
    model: Model, limits: dict[str, float], waivers: dict[str, Any]
) -> Item:
    from mlops_nb.human._fairness import stored_fairness

    name = "fairness within limits"
    reports = stored_fairness(model)
    if not reports:
        return Item(
            name, False, "no fairness review recorded: run model.fairness(test)"
        )
    findings = [
        f"{f} on {r.payload['data']}" for r in reports for f in r.findings(limits)
    ]
    if not findings:
        return Item(
            name,
            True,
            f"{len(reports)} review(s) within limits, newest on "
            f"{reports[-1].payload['data']}",
        )
    if name in waivers:
        w = waivers[name]
        return Item(
            name,
            True,
            f"waived by {w['by']} ({w['at'][:10]}): {w['reason']} — {findings[0]}",
        )
    return Item(
        name,
        False,
        f"{findings[0]}"
        + (f" (+{len(findings) - 1} more)" if len(findings) > 1 else "")
        + "; mitigate (model.mitigate) or record a named waiver "
        "(checklist.waive('fairness within limits', by=..., reason=...))",
    )


def evaluate_items(model: Model, config: dict[str, Any]) -> list[Item]:
    from mlops_nb.human._common import stored_reports

    waivers = _waivers(model)
    out = []
    for name in config["items"]:
        if name == "fairness within limits":
            out.append(_fairness_item(model, config["limits"], waivers))
        elif name == "explanation reviewed":
            exps = stored_reports(model, "explanation:")
            out.append(
                Item(
                    name,
                    bool(exps),
                    f"global explanation on {exps[-1]['payload']['data']} "
                    f"({exps[-1]['payload']['method']}); the sign-off attests its "
                    "review"
                    if exps
                    else "no global explanation recorded: run model.explain(test)",
                )
            )
        elif name == "card complete":
            from mlops_nb.human._card import model_card

            missing = model_card(model).missing_required()
            out.append(
                Item(
                    name,
                    not missing,
                    "intended use, limitations, metrics with intervals and "
                    "data sources with hashes are recorded"
                    if not missing
                    else "the card lacks: " + "; ".join(missing),
                )
            )
        elif name == "security checks passed":
            out.append(_security_item(model))
        elif name == "monitoring plan":
            plan = model.project._document("monitor", f"{model.name}@v{model.version}")
            ok = plan is not None or name in waivers
            ref = plan["payload"]["reference"] if plan else {}
            out.append(
                Item(
                    name,
                    ok,
                    f"drift monitor anchored to {ref['name']} v{ref['version']}"
                    if plan
                    else f"waived by {waivers[name]['by']}: {waivers[name]['reason']}"
                    if ok
                    else "no monitoring plan recorded: model.monitor(reference)",
                )
            )
        elif name == "signed off":
            s = latest_signoff(model)
            out.append(
                Item(
                    name,
                    s is not None,
                    f"signed off by {s['by']} on {s['at'][:19].replace('T', ' ')} UTC"
                    + (f": {s['note']}" if s["note"] else "")
                    if s
                    else "no sign-off: model.checklist().sign('Name', note='...')",
                )
            )
    return out


def _security_item(model: Model) -> Item:
    name = "security checks passed"
    project = model.project
    try:
        result = project.verify()
        with project._store.write():
            pass  # the audit log takes writes
    except Exception as err:  # a broken store fails the item, closed
        return Item(
            name, False, f"the checks could not run: {type(err).__name__}: {err}"
        )
    if not result.ok:
        problems = "; ".join(f"{k}: {v}" for k, v in list(result.problems.items())[:3])
        return Item(
            name, False, f"verify() found problems: {problems or result.result.audit}"
        )
    return Item(
        name,
        True,
        f"{result.result.checked} artifacts intact, audit chain intact, audit log "
        "writable",
    )


def latest_signoff(model: Model) -> dict[str, Any] | None:
    """Return the newest sign-off of ``model``, or None."""
    doc = model.project._document(_SIGNOFF, f"{model.name}@{model.version}")
    return doc["payload"] if doc else None


def _waivers(model: Model) -> dict[str, Any]:
    out = {}
    for item in WAIVABLE:
        doc = model.project._document(_WAIVER, f"{model.name}@{model.version}:{item}")
        if doc is not None and doc["payload"].get("active", True):
            out[item] = doc["payload"]
    return out
