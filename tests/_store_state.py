"""What a refused action may change: the audit log and nothing else.

``stored_state(root)`` is :func:`_helpers.tree_snapshot` without the audit log (its
rows in the registry and the ``audit.head`` anchor beside it), so a test can show that
a refusal left the registry, artifacts, stages and roles as they were while its audit
entry was written.
"""

from __future__ import annotations

import json

from _helpers import tree_snapshot

AUDIT_FILES = ("audit.head", ".audit.head.lock")


def stored_state(root) -> dict[str, object]:
    """Every file and registry row under ``root``, the audit log left out."""
    snap = tree_snapshot(root)
    for name in AUDIT_FILES:
        snap.pop(name, None)
    rows = snap.get("registry.sqlite")
    if isinstance(rows, list):
        snap["registry.sqlite"] = [
            r
            for r in rows
            if not r.startswith('INSERT INTO "audit_log"')
            and not r.startswith("INSERT INTO \"sqlite_sequence\" VALUES('audit_log'")
        ]
    return snap


def changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Names of files (or registry rows) that differ, for a readable assertion."""
    keys = sorted(set(before) | set(after))
    out = [k for k in keys if before.get(k) != after.get(k) and k != "registry.sqlite"]
    if before.get("registry.sqlite") != after.get("registry.sqlite"):
        b, a = set(before["registry.sqlite"]), set(after["registry.sqlite"])
        out += [f"row added: {r[:120]}" for r in sorted(a - b)]
        out += [f"row removed: {r[:120]}" for r in sorted(b - a)]
    return out


def last_audit(project, action: str) -> dict[str, object]:
    """The newest audit entry of ``action``, its detail decoded (or raise)."""
    log = project.audit_log()
    rows = log[log["action"] == action]
    newest = log["action"].head().tolist()
    assert len(rows), f"no audit entry {action!r}; newest: {newest}"
    entry = rows.iloc[0].to_dict()
    entry["detail"] = json.loads(entry["detail"])
    return entry


def audit_count(project, action: str) -> int:
    log = project.audit_log()
    return int((log["action"] == action).sum())
