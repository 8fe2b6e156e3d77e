"""``mlops-nb db upgrade URL`` and ``mlops-nb db current URL``.

A shared database is upgraded explicitly, once, from a shell (CI, an admin), never by
a kernel opening it. Every line printed shows the URL with its password masked.
Exit codes: 0 done (``current``: the schema is this mlops_nb's), 1 ``current`` found
a schema that is empty, behind or ahead, 2 an error (printed by ``mlops-nb``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

_URL_HELP = (
    "postgresql://user@host/db?schema=name (password from ~/.pgpass or PGPASSWORD "
    "is better than one in the URL) or sqlite:///path/registry.sqlite"
)


def add_db_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``db`` subcommand (``upgrade``, ``current``) to ``mlops-nb``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``db`` parser.
    """
    db = subparsers.add_parser(
        "db", help="create or upgrade a team project's database schema (explicitly)"
    )
    actions = db.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser(
        "upgrade",
        help="create or upgrade the schema to this mlops_nb's (one transaction, "
        "safe to run from several machines at once)",
    )
    up.add_argument("url", help=_URL_HELP)
    up.set_defaults(func=_cmd_upgrade)
    cur = actions.add_parser(
        "current", help="show the schema revision and whether it needs an upgrade"
    )
    cur.add_argument("url", help=_URL_HELP)
    cur.set_defaults(func=_cmd_current)
    return db


def _cmd_upgrade(args: argparse.Namespace) -> int:
    from mlops_nb.store._migrate import upgrade

    result = upgrade(args.url)
    if result["before"] == result["after"]:
        print(f"{result['url']}: already at revision {result['after']}; nothing to do")
    else:
        before = result["before"] or "empty"
        print(f"{result['url']}: upgraded from {before} to revision {result['after']}")
    return 0


def _cmd_current(args: argparse.Namespace) -> int:
    from mlops_nb.store._migrate import current

    state = current(args.url)
    url, revision, head = state["url"], state["revision"], state["head"]
    lines = {
        "current": f"{url}: revision {revision} (current)",
        "behind": f"{url}: revision {revision}, this mlops_nb needs {head}: "
        f"run mlops-nb db upgrade",
        "empty": f"{url}: no mlops_nb schema yet: run mlops-nb db upgrade",
        "ahead": f"{url}: revision {revision}, from a newer mlops_nb (this one "
        f"knows up to {head}): upgrade mlops_nb",
    }
    print(lines[state["state"]])
    return 0 if state["state"] == "current" else 1
