"""No SQL outside ``mlops_nb/store/``: every statement is a function of the store.

The next step puts the same store functions on PostgreSQL; a SQL string written
anywhere else would be missed there. This walks every module of the package with
``ast`` and fails on a string literal (plain, f-string or implicitly concatenated)
that starts like a SQL statement outside the store package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PACKAGE = Path(__file__).resolve().parents[2] / "mlops_nb"
STORE = PACKAGE / "store"
_KEYWORDS = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "WITH",
    "PRAGMA",
    "BEGIN",
)
_SQL = re.compile(rf"^\s*(?:{'|'.join(_KEYWORDS)})\b", re.IGNORECASE)
# what must follow the keyword, so prose ("Update the model ...") is not taken for SQL
_SQL_SHAPE = re.compile(
    r"^\s*(?:SELECT\b.*\bFROM\b|SELECT\s+[\d*]|INSERT\b.*\bINTO\b"
    r"|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(?:\w+\s+)?(?:TABLE|INDEX|TRIGGER|VIEW)\b|WITH\b.*\bAS\s*\("
    r"|PRAGMA\s+\w+|BEGIN(?:\s+(?:IMMEDIATE|DEFERRED|EXCLUSIVE|TRANSACTION)\b|\s*;?\s*$))",
    re.IGNORECASE | re.DOTALL,
)


def _literal_text(node: ast.AST) -> str | None:
    """The text of a string literal; an f-string's text with ``{}`` for its fields."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) else "{}" for v in node.values
        )
    return None


def looks_like_sql(text: str) -> bool:
    """True when ``text`` starts the way a SQL statement does."""
    return bool(_SQL.match(text)) and bool(_SQL_SHAPE.match(text))


def sql_literals(source: str) -> list[tuple[int, str]]:
    """(line, first 60 characters) of each SQL-looking string literal in ``source``."""
    tree = ast.parse(source)
    inside_fstring = {
        id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
    }
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            body = node.body
            if body and isinstance(body[0], ast.Expr):
                docstrings.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if id(node) in inside_fstring or id(node) in docstrings:
            continue
        text = _literal_text(node)
        if text is not None and looks_like_sql(text):
            found.append((node.lineno, " ".join(text.split())[:60]))
    return found


def offending_modules(package: Path = PACKAGE) -> dict[str, list[tuple[int, str]]]:
    """Every module outside ``store/`` holding SQL-looking string literals."""
    out = {}
    store = package / "store"
    for path in sorted(package.rglob("*.py")):
        if store in path.parents:
            continue
        found = sql_literals(path.read_text(encoding="utf-8"))
        if found:
            out[str(path.relative_to(package.parent))] = found
    return out


def test_no_sql_strings_outside_the_store():
    offending = offending_modules()
    assert not offending, (
        "SQL outside mlops_nb/store/ (move it to a named function in the store's "
        f"_q_*.py modules): {offending}"
    )


def test_the_store_itself_holds_sql():
    """The walk finds SQL where it is allowed: the check is not blind."""
    found = {p.name for p in STORE.glob("*.py") if sql_literals(p.read_text())}
    assert {"_db.py", "_q_assets.py", "_q_models.py"} <= found


_statement = st.builds(
    lambda kw, pad, case: pad + (kw.lower() if case else kw),
    st.sampled_from(
        [
            "SELECT id, name FROM asset_versions WHERE name = ?",
            "SELECT * FROM reports",
            "SELECT COUNT(*) FROM audit_log",
            "SELECT MAX(version) FROM model_versions",
            "SELECT DISTINCT name FROM asset_versions",
            "INSERT INTO model_thresholds(model_id) VALUES (?)",
            "INSERT OR IGNORE INTO artifacts(digest) VALUES (?)",
            "UPDATE model_versions SET stage = ? WHERE id = ?",
            "DELETE FROM reports WHERE id = ?",
            "CREATE TABLE t (x INTEGER)",
            "WITH last AS (SELECT 1) SELECT * FROM last",
            "PRAGMA integrity_check",
            "BEGIN IMMEDIATE",
        ]
    ),
    st.sampled_from(["", " ", "\n    ", "\t"]),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(
    statement=_statement,
    form=st.sampled_from(["plain", "fstring", "concat", "assigned"]),
    where=st.sampled_from(["human/_x.py", "deploy/sub/_y.py", "_top.py"]),
)
def test_planted_sql_is_found_outside_the_store_and_allowed_inside(
    tmp_path_factory, statement, form, where
):
    """A SQL literal in any form, anywhere outside store/, is reported; inside, not."""
    root = tmp_path_factory.mktemp("pkg") / "mlops_nb"
    text = repr(statement)
    code = {
        "plain": f"conn.execute({text}, (1,))\n",
        "fstring": f"conn.execute(f{text} + f' LIMIT {{n}}')\n",
        "concat": f"rows = q(\n    {text}\n    ' ORDER BY id'\n)\n",
        "assigned": f"def f():\n    '''Select the rows.'''\n    sql = {text}\n",
    }[form]
    for rel in (where, "store/_q_planted.py"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    found = offending_modules(root)
    assert list(found) == [f"mlops_nb/{where}"]


@pytest.mark.parametrize(
    "prose",
    [
        "Select a model version to promote.",
        "update the canvas, then run it again",
        "Delete it by hand and run again.",
        "Create a project first: mnb.Project.open(path)",
        "with the champion's threshold",
        "Begin with a registered data version.",
        "SELECT",
        "selected columns",
    ],
)
def test_prose_and_docstrings_are_not_sql(tmp_path, prose):
    root = tmp_path / "mlops_nb"
    root.mkdir()
    (root / "_m.py").write_text(
        f"def f():\n    {prose!r}\n    raise ValueError({prose!r})\n"
    )
    assert offending_modules(root) == {}
