"""A small, safe expression language for ``DataAsset.filter`` strings.

``DataFrame.query`` evaluates Python: ``@`` reaches the caller's locals and attribute
access plus calls reach ``os.system``. A filter string is data (it is recorded in
the lineage and may come from a notebook parameter), so it is parsed with :mod:`ast`,
checked against an allowlist and evaluated here, on the frame, without ``eval``:

- column names, bare (``AGEP``) or backtick-quoted (```hours per week```);
- literals: numbers, strings, ``True``, ``False``, ``None``;
- comparisons ``== != < <= > >=`` (chains allowed), ``in`` / ``not in`` a list of
  literals (``== [..]`` means ``in``, as in pandas);
- ``and``, ``or``, ``not``, ``&``, ``|``, ``~`` (``&``/``|`` bind like ``and``/``or``,
  as in ``DataFrame.query``);
- arithmetic ``+ - * / // % **`` and unary ``-``/``+``;
- ``col.isna()``, ``col.notna()`` (and ``isnull``/``notnull``) on a column.

Anything else (attribute access, other calls, ``@`` locals, subscripts, lambdas,
comprehensions, dunder names, f-strings) is refused with a
:class:`~mlops_nb.errors.ValidationError` naming it. Use ``filter(fn)`` for the rest.
"""

from __future__ import annotations

import ast
import operator
import secrets
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["evaluate_filter", "parse_filter"]

MAX_LENGTH = 10_000
MAX_NODES = 5_000
MAX_DEPTH = 60

_ALLOWED = (
    "column names (bare or `backtick quoted`), literals, comparisons, "
    "and/or/not/&/|/~, `in`/`not in` a list, arithmetic and col.isna()/col.notna()"
)
_HINT = (
    f"A filter string may use {_ALLOWED}; pass a function, "
    "filter(lambda df: ...), for anything else."
)

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY = {
    ast.Not: operator.invert,
    ast.Invert: operator.invert,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_NA_METHODS = {"isna", "notna", "isnull", "notnull"}
_CONSTANT_TYPES = (bool, int, float, str, type(None))

_NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Call: "function calls",
    ast.Subscript: "subscripts ([...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.IfExp: "conditional expressions (x if c else y)",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred expressions",
    ast.Dict: "dict literals",
    ast.Slice: "slices",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def _refuse(text: str, what: str) -> ValidationError:
    return ValidationError(
        f"filter string {_short(text)} uses {what}, which is not allowed. {_HINT}"
    )


def _short(text: str) -> str:
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _prepare(text: str) -> tuple[str, dict[str, str]]:
    """Replace backtick names by placeholders and ``&``/``|`` by ``and``/``or``."""
    stamp = "_mnbcol" + secrets.token_hex(6)
    while stamp in text:  # pragma: no cover - 48 random bits
        stamp = "_mnbcol" + secrets.token_hex(6)
    out: list[str] = []
    names: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                msg = f"filter string {_short(text)}: a string literal is not closed."
                raise ValidationError(msg)
            out.append(text[i : j + len(quote)])
            i = j + len(quote)
        elif ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                msg = (
                    f"filter string {_short(text)}: a `backtick quoted` column name "
                    "is not closed."
                )
                raise ValidationError(msg)
            placeholder = f"{stamp}_{len(names)}"
            names[placeholder] = text[i + 1 : j]
            out.append(placeholder)
            i = j + 1
        elif ch == "@":
            raise _refuse(text, "'@' (local variables)")
        elif ch in "&|":
            out.append(" and " if ch == "&" else " or ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), names


def parse_filter(text: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse and check a filter string; return its tree and backtick name map.

    Parameters
    ----------
    text : str
        The filter string, for example ``"AGEP >= 16 and SEX == 2"``.

    Returns
    -------
    tuple of (ast.Expression, dict)
        The checked tree and the placeholder -> column name map for backtick names.

    Raises
    ------
    ValidationError
        If the string does not parse or uses anything outside the language.
    """
    if not isinstance(text, str) or not text.strip():
        msg = "filter string: give a non-empty expression string."
        raise ValidationError(msg)
    if len(text) > MAX_LENGTH:
        msg = (
            f"filter string of {len(text)} characters is longer than the "
            f"{MAX_LENGTH} allowed; use filter(fn) for long conditions."
        )
        raise ValidationError(msg)
    source, names = _prepare(text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        msg = getattr(err, "msg", None) or type(err).__name__
        msg_0 = f"filter string {_short(text)} does not parse: {msg}. {_HINT}"
        raise ValidationError(msg_0) from None
    _check(tree.body, text, names)
    return tree, names


def _check(root: ast.AST, text: str, names: dict[str, str]) -> None:
    """Walk the tree iteratively (bounded depth and size) against the allowlist."""
    stack: list[tuple[ast.AST, int, ast.AST | None]] = [(root, 0, None)]
    count = 0
    problems: list[tuple[int, str]] = []
    while stack:
        node, depth, parent = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            msg = (
                f"filter string {_short(text)} is too large or nested too deeply "
                f"(at most {MAX_NODES} parts, {MAX_DEPTH} levels); use filter(fn)."
            )
            raise ValidationError(msg)
        try:
            _check_node(node, parent, text, names)
        except _Refused as refused:
            problems.append((getattr(node, "col_offset", 0), refused.what))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
                continue
            if isinstance(child, ast.expr_context):
                continue
            stack.append((child, depth + 1, node))
    if problems:
        whats = list(dict.fromkeys(what for _, what in sorted(problems)))
        raise _refuse(text, ", ".join(whats[:6]) + (", ..." if len(whats) > 6 else ""))


class _Refused(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _check_node(
    node: ast.AST, parent: ast.AST | None, text: str, names: dict[str, str]
) -> None:
    if isinstance(node, ast.BoolOp):
        return
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:  # pragma: no cover - all unary ops listed
            raise _Refused(type(node.op).__name__)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _Refused(
                {ast.MatMult: "'@'", ast.BitXor: "'^'", ast.LShift: "'<<'"}.get(
                    type(node.op), f"the operator {type(node.op).__name__}"
                )
            )
        return
    if isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)) and not _is_list(right):
                msg = "'in' with anything but a [list, of, literals]"
                raise _Refused(msg)
            if isinstance(op, (ast.Is, ast.IsNot)):
                msg = "'is' (use == or col.isna())"
                raise _Refused(msg)
        return
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if not isinstance(parent, ast.Compare) or node is parent.left:
            msg = "a list outside 'in [...]' or '== [...]'"
            raise _Refused(msg)
        if not all(_literal(e) is not _NOT_LITERAL for e in node.elts):
            msg = "a list of anything but literals"
            raise _Refused(msg)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, _CONSTANT_TYPES):
            msg = f"the literal {node.value!r}"
            raise _Refused(msg)
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("__") and node.id not in names:
            msg = f"the dunder name {node.id!r}"
            raise _Refused(msg)
        return
    if isinstance(node, ast.Call):
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _NA_METHODS
            and not node.args
            and not node.keywords
        ):
            return
        if isinstance(func, ast.Attribute):
            what = f"calling .{func.attr}()"
        elif isinstance(func, ast.Name):
            what = f"calling {func.id}()"
        else:
            what = "function calls"
        raise _Refused(what)
    if isinstance(node, ast.Attribute):
        if isinstance(parent, ast.Call) and parent.func is node:
            return  # checked with its call
        msg = f"attribute access (.{node.attr})"
        raise _Refused(msg)
    raise _Refused(_NODE_NAMES.get(type(node), type(node).__name__))


_NOT_LITERAL = object()


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, _CONSTANT_TYPES):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        v = node.operand.value
        return -v if isinstance(node.op, ast.USub) else v
    return _NOT_LITERAL


def _is_list(node: ast.AST) -> bool:
    return isinstance(node, (ast.List, ast.Tuple, ast.Set))


def evaluate_filter(text: str, frame: pd.DataFrame) -> pd.Series:
    """Evaluate a filter string on ``frame`` and return its boolean row mask.

    Parameters
    ----------
    text : str
        The filter string (see the module docstring for the language).
    frame : pandas.DataFrame
        The rows to filter.

    Returns
    -------
    pandas.Series
        One boolean per row of ``frame``.

    Raises
    ------
    ValidationError
        If the string uses anything outside the language, names an unknown column,
        or does not give one boolean per row.
    """
    import pandas as pd

    tree, names = parse_filter(text)
    result = _Evaluator(frame, names, text).eval(tree.body)
    if not isinstance(result, pd.Series) or len(result) != len(frame):
        msg = (
            f"filter string {_short(text)} must give one True/False per row "
            f"(compare a column, e.g. 'x > 0'), got {type(result).__name__}."
        )
        raise ValidationError(msg)
    if isinstance(result.dtype, pd.BooleanDtype) or str(result.dtype).startswith(
        "bool["
    ):
        result = result.fillna(False).astype(bool)
    if result.dtype != bool:
        msg = (
            f"filter string {_short(text)} must give True/False per row, got values "
            f"of dtype {result.dtype}; compare it (e.g. '{text} > 0')."
        )
        raise ValidationError(msg)
    return result


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, names: dict[str, str], text: str):
        self.frame = frame
        self.names = names
        self.text = text

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v) for v in node.values]
            op = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            out = values[0]
            for v in values[1:]:
                out = op(out, v)
            return out
        if isinstance(node, ast.UnaryOp):
            literal = _literal(node)
            if literal is not _NOT_LITERAL:
                return literal
            operand = self.eval(node.operand)
            if isinstance(node.op, ast.Not) and isinstance(operand, bool):
                return not operand
            return _UNARY[type(node.op)](operand)
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._column(node.id)
        if isinstance(node, ast.Call):
            return getattr(self._series(node.func.value), node.func.attr)()
        raise _refuse(self.text, type(node).__name__)  # pragma: no cover - checked

    def _series(self, node: ast.AST) -> Any:
        import pandas as pd

        value = self.eval(node)
        if not isinstance(value, pd.Series):
            raise _refuse(self.text, "isna()/notna() on anything but a column")
        return value

    def _column(self, name: str) -> pd.Series:
        column = self.names.get(name, name)
        if column in self.frame.columns:
            return self.frame[column]
        raise ValidationError(
            f"filter string {_short(self.text)}: no column {column!r}."
            + did_you_mean(column, [str(c) for c in self.frame.columns])
            + " Quote names with spaces or symbols in backticks: `my col`."
        )

    def _compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        out = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if _is_list(right_node):
                values = [_literal(e) for e in right_node.elts]
                if not isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq)):
                    raise _refuse(self.text, "ordering comparisons with a list")
                right: Any = values
                mask = self._isin(left, values)
                if isinstance(op, (ast.NotIn, ast.NotEq)):
                    mask = ~mask
            else:
                right = self.eval(right_node)
                mask = _CMPOPS[type(op)](left, right)
            out = mask if out is None else out & mask
            left = right
        return out

    def _isin(self, left: Any, values: list[Any]) -> Any:
        import pandas as pd

        if isinstance(left, pd.Series):
            return left.isin(values)
        raise _refuse(self.text, "'in [...]' on anything but a column or expression")
