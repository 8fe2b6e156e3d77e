"""The drift review of a monitor that observed large data versions.

Built from the per-chunk summaries stored with each batch
(:mod:`mlops_nb.drift._observe_large`), in the payload shape of
:func:`mlops_nb.drift._analysis.analyze`, so
:class:`~mlops_nb.drift._review.DriftReview` and its views render it unchanged.
The model score's drift and the CBPE estimate come from scores computed on the
workers (:mod:`mlops_nb.drift._cbpe_large`). Sections the large path does not
compute yet (target drift, realized performance, multivariate drift, fairness,
value) are empty and named in the review's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.drift._review import DriftReview

KEY = "drift-review:large"


def large_review(mon: Monitor) -> DriftReview:
    """Compute (or load) the review of a monitor holding large batches."""
    from mlops_nb.drift._analysis import _jsonable
    from mlops_nb.drift._cbpe_large import performance
    from mlops_nb.drift._chunking import ChunkSpec
    from mlops_nb.drift._monitor import _canvas, decision_of
    from mlops_nb.drift._observe_large import (
        NOT_YET,
        _chunk_summaries,
        setup,
        univariate_payload,
    )
    from mlops_nb.drift._observe_large import _stream as stream_of
    from mlops_nb.drift._review import DriftReview
    from mlops_nb.drift._verdict import judge
    from mlops_nb.errors import ValidationError

    doc = mon._doc()
    decision = decision_of(mon.model, doc["payload"]["options"], _canvas(mon))
    key = KEY if decision is None else f"{KEY}:threshold={decision['threshold']!r}"
    stored = mon.project._report("document", doc["id"], key)
    if stored is not None:
        return DriftReview(stored)
    s = doc["payload"]
    if not s["batches"]:
        msg = f"Monitor {mon.name}: no data observed yet; call mon.observe(...) first."
        raise ValidationError(msg)
    cs = ChunkSpec.from_dict(s["options"]["chunk"])
    prep = setup(mon, mon.reference.frame, cs)
    reference, spec = prep["reference"], prep["spec"]
    merged, _ = _chunk_summaries(
        mon, stream_of(mon), spec, cs, plan=prep["plan"], data=prep["data"]
    )
    part = univariate_payload(mon, reference, spec, cs, merged, prep["kinds"])
    keys = part["chunks"]["keys"]
    task = mon.model.task
    perf = performance(
        [merged[k].get("cbpe") for k in keys],
        prep["plan"],
        keys,
        consecutive=int(s["options"]["consecutive"]),
        notes=prep["notes"],
    )
    notes = [NOT_YET, "Statistics: " + part["univariate"]["large"]["text"]]
    if perf.get("large"):
        notes.append("Estimated performance (CBPE): " + perf["large"] + ".")
    notes += perf["notes"]
    if cs.kind in ("size", "count"):
        notes.append(
            "Chunks of a number of rows follow the partitions' order (row order "
            "within each): keep the partitions in time order."
        )
    if s["targets"]:
        notes.append(
            "Labels were added, but realized performance is not computed from large "
            "data yet."
        )
    payload: dict[str, Any] = {
        "model": mon.model.label,
        "task": task,
        "target": mon.model.recipe["target"],
        "chunking": cs.describe(),
        **part,
        "notes": notes,
        "multivariate": None,
        "performance": perf,
        "fairness": {},
        "value": None,
        "decision": None
        if decision is None
        else {
            "positive_class": _jsonable(decision["positive_class"]),
            "threshold": decision["threshold"],
            "source": decision["source"],
            "text": decision["text"],
        },
        "rows": {
            "reference": len(reference),
            "analysis": int(sum(part["chunks"]["sizes"])),
            "labelled": 0,
        },
        "large": True,
    }
    payload.update(judge(payload))
    payload["monitor"] = {
        "name": mon.name,
        "version": doc["version"],
        "reference": f"{s['reference']['name']} v{s['reference']['version']}",
        "batches": [f"{n} v{v}" for n, v in s["batches"]],
        "targets": [f"{t['name']} v{t['version']}" for t in s["targets"]],
    }
    payload["labels"] = {}
    mon.project._save_report("document", doc["id"], key, payload)
    return DriftReview(mon.project._report("document", doc["id"], key) or payload)
