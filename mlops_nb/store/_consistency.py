"""What rows point at and how they got there: checks a database writer cannot pass.

:meth:`Store.verify` re-hashes every blob the ``artifacts`` table lists; these checks
add what model and asset rows point at (a valid digest that the ``artifacts`` table
lists, so it is re-hashed there), each model version's stage against its stage history
and the audit log, and each versioned document against the audit entry that saved it.
Each returns ``{object: problem}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError
from mlops_nb.store._artifacts import check_digest

if TYPE_CHECKING:
    from mlops_nb.store._store import Store

_FIRST_STAGE = "candidate"


def pointer_problems(store: Store) -> dict[str, str]:
    """Every model or asset row whose artifact pointer is not a sound stored blob."""
    listed = store.referenced_blobs()
    out: dict[str, str] = {}

    def check(obj: str, what: str, digest: Any) -> None:
        try:
            check_digest(digest)
        except IntegrityError:
            out[obj] = f"{what} points at {str(digest)[:80]!r}, not a SHA-256 digest"
            return
        if digest not in listed:  # (listed blobs are re-hashed by Store.verify)
            problem = store.artifacts.verify(digest) or "present but unlisted (gc)"
            out[obj] = (
                f"{what} points at {digest}, which the artifacts table lacks: {problem}"
            )

    for row in store.query("SELECT name, version, artifacts FROM model_versions"):
        obj = f"model:{row['name']}@{row['version']}"
        try:
            arts = json.loads(row["artifacts"])
        except (ValueError, TypeError):
            arts = None
        if not isinstance(arts, dict) or not arts:
            out[obj] = "its artifacts column is not a JSON object of files"
            continue
        for key, digest in sorted(arts.items()):
            check(obj, f"artifact {key!r}", digest)
    for row in store.query("SELECT name, version, artifact FROM asset_versions"):
        check(f"asset:{row['name']}@{row['version']}", "its data", row["artifact"])
    return out


def _audit_rows(store: Store, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in actions)
    rows = store.query(
        f"SELECT action, object, detail FROM audit_log WHERE action IN ({marks})",
        actions,
    )
    out = []
    for r in rows:
        try:
            detail = json.loads(r["detail"])
        except (ValueError, TypeError):
            detail = {}
        out.append(
            {
                "action": r["action"],
                "object": r["object"],
                "detail": detail if isinstance(detail, dict) else {},
            }
        )
    return out


def stage_of(store: Store, model_id: int) -> str:
    """Return the stage a model version's history ends at (else ``candidate``)."""
    rows = store.query(
        "SELECT to_stage FROM model_stage_history WHERE model_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (model_id,),
    )
    return rows[0]["to_stage"] if rows else _FIRST_STAGE


def stage_problem(store: Store, row: Any, audit: list[dict[str, Any]]) -> str | None:
    """Why a model row's stage is not what its history and audit log say, or None."""
    name, version, stage = row["name"], row["version"], row["stage"]
    label = f"{name} v{version}"
    history = store.query(
        "SELECT from_stage, to_stage, reason FROM model_stage_history "
        "WHERE model_id = ? ORDER BY id",
        (row["id"],),
    )
    prev = _FIRST_STAGE
    for h in history:
        if h["from_stage"] != prev:
            return (
                f"its stage history jumps from {prev!r} to a change from "
                f"{h['from_stage']!r} (a history row was removed or added)"
            )
        prev = h["to_stage"]
    if stage != prev:
        return (
            f"its stage is {stage!r} but its stage history ends at {prev!r}: the stage "
            "was set in the database, not by promote() or rollback()"
        )
    if stage == _FIRST_STAGE:
        return None
    reason = history[-1]["reason"] if history else ""
    for a in audit:
        d = a["detail"]
        if a["action"] == "promote" and a["object"] == f"model:{label}":
            if d.get("to") == stage:
                return None
        elif a["action"] == "rollback" and a["object"] == f"model:{name}":
            if label in (d.get("to"), d.get("frm")):
                return None
        elif (
            a["action"] == "promote"
            and stage == "archived"
            and a["object"].startswith(f"model:{name} v")
            and d.get("to") == "production"
            and reason == f"replaced by v{a['object'].rsplit(' v', 1)[-1]}"
        ):
            return None
    return (
        f"its stage {stage!r} has no promote or rollback entry in the audit log: it "
        "was set in the database"
    )


def stage_problems(store: Store) -> dict[str, str]:
    """Every model version whose stage its history and audit log do not explain."""
    audit = _audit_rows(store, ("promote", "rollback"))
    out = {}
    for row in store.query("SELECT id, name, version, stage FROM model_versions"):
        problem = stage_problem(store, row, audit)
        if problem:
            out[f"model:{row['name']}@{row['version']}"] = problem
    return out


def check_stage(store: Store, row: Any, label: str) -> None:
    """Refuse a model version whose stage is not explained (serving by stage).

    Raises
    ------
    IntegrityError
        Naming the version, the stage and what is missing.
    """
    audit = _audit_rows(store, ("promote", "rollback"))
    problem = stage_problem(store, row, audit)
    if problem:
        msg = (
            f"{label}: {problem}. Refusing to hand it out as {row['stage']!r}; run "
            "proj.verify(), restore the project from a backup, or promote the version "
            "again with model.promote(stage, reason=...)."
        )
        raise IntegrityError(msg)


def document_problems(store: Store) -> dict[str, str]:
    """Documents saved without an audit entry, and audited saves whose row is gone."""
    audited = {
        r["object"]
        for r in store.query(
            "SELECT action, object FROM audit_log WHERE substr(action, 1, 5) = 'save '"
        )
        if r["object"].startswith(r["action"][5:] + ":")
    }
    out = {}
    present = set()
    for r in store.query("SELECT kind, name, version FROM documents"):
        obj = f"{r['kind']}:{r['name']}@{r['version']}"
        present.add(obj)
        if obj not in audited:
            out[f"document:{obj}"] = (
                "no audit entry saved it: it was written into the database directly"
            )
    for obj in sorted(audited - present):
        out[f"document:{obj}"] = (
            "the audit log records saving it, but it is gone from the database"
        )
    return out
