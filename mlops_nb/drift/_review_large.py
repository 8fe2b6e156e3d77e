"""The drift review of a monitor that observed large data versions.

Built from the per-chunk summaries stored with each batch
(:mod:`mlops_nb.drift._observe_large`), in the payload shape of
:func:`mlops_nb.drift._analysis.analyze`, so
:class:`~mlops_nb.drift._review.DriftReview` and its views render it unchanged.
Sections the large path does not compute yet (score and target drift,
performance, multivariate drift, fairness, value) are empty and named in the
review's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.drift._review import DriftReview

KEY = "drift-review:large"


def _performance(keys: list[str], consecutive: int, task: str) -> dict[str, Any]:
    from mlops_nb.drift._performance import concept_verdict

    k = len(keys)
    none: list[Any] = [None] * k
    return {
        "method": "not computed on large data yet (needs model scores on the workers)",
        "metric": "rmse" if task == "regression" else "roc_auc",
        "estimated": none,
        "lower_band": none,
        "upper_band": none,
        "lower_threshold": none,
        "upper_threshold": none,
        "sampling_error": none,
        "alert": [False] * k,
        "estimated_alert": [False] * k,
        "realized": none,
        "realized_alert": [False] * k,
        "realized_all": {},
        "concept": concept_verdict(none, none, none, keys, consecutive=consecutive),
        "confusion": None,
        "notes": [],
        "reference_value": None,
    }


def large_review(mon: Monitor) -> DriftReview:
    """Compute (or load) the review of a monitor holding large batches."""
    from mlops_nb.drift._chunking import ChunkSpec
    from mlops_nb.drift._observe_large import (
        NOT_YET,
        _chunk_summaries,
        _spec,
        univariate_payload,
    )
    from mlops_nb.drift._observe_large import _stream as stream_of
    from mlops_nb.drift._review import DriftReview
    from mlops_nb.drift._verdict import judge
    from mlops_nb.errors import ValidationError

    doc = mon._doc()
    stored = mon.project._report("document", doc["id"], KEY)
    if stored is not None:
        return DriftReview(stored)
    s = doc["payload"]
    if not s["batches"]:
        msg = f"Monitor {mon.name}: no data observed yet; call mon.observe(...) first."
        raise ValidationError(msg)
    reference = mon.reference.frame
    spec = _spec(mon, reference)
    cs = ChunkSpec.from_dict(s["options"]["chunk"])
    merged, _ = _chunk_summaries(mon, stream_of(mon), spec, cs)
    part = univariate_payload(mon, reference, spec, cs, merged)
    keys = part["chunks"]["keys"]
    task = mon.model.task
    notes = [NOT_YET, "Statistics: " + part["univariate"]["large"]["text"]]
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
        "performance": _performance(keys, int(s["options"]["consecutive"]), task),
        "fairness": {},
        "value": None,
        "decision": None,
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
    mon.project._save_report("document", doc["id"], KEY, payload)
    return DriftReview(mon.project._report("document", doc["id"], KEY) or payload)
