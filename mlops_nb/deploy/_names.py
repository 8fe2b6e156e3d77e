"""Graph input names: any column name, mapped to a valid, unique ONNX name.

Column names are whatever pandas accepts: hyphens, spaces, dots, brackets, quotes,
unicode, leading digits, 200 characters. ONNX graph names should be C identifiers
(converters rewrite the others on their own, which is how a feed keyed by
``"hours-per-week"`` once met a graph that wanted ``"hours_per_week"``). An export
therefore fixes the graph's input names itself, with :func:`graph_input_names`, and
stores the mapping in its schema (``inputs[i]["onnx_name"]``); every consumer —
:class:`~mlops_nb.deploy.OnnxExport`, variants, edge bundles and the server — feeds
the graph through that mapping and speaks the original column names to the user.

The mapping is

- **valid**: every graph name matches ``[A-Za-z_][A-Za-z0-9_]*`` and has at most
  :data:`MAX_LEN` characters;
- **unique**: two columns never share a graph name, even when they look alike once
  rewritten (``a-b`` and ``a_b``);
- **stable**: a name that already is a valid identifier keeps itself, and another
  name becomes a readable ASCII stem plus 8 hex digits of its SHA-256, so the graph
  name of a column does not depend on the other columns;
- **invertible**: :func:`column_names` gives the column of each graph name back.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The longest graph input name.
MAX_LEN = 64
#: Output names of mlops_nb graphs: an input may not take them.
RESERVED = frozenset({"label", "probabilities", "variable"})
_VALID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_STEM = MAX_LEN - 9 - 3  # room for "_" + 8 hex digits, and a collision counter


def is_valid(name: str) -> bool:
    """Whether ``name`` is usable as it is as a graph input name."""
    return (
        isinstance(name, str)
        and len(name) <= MAX_LEN
        and bool(_VALID.match(name))
        and name not in RESERVED
    )


def _stem(column: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode("ascii")
    )
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_text).strip("_")[:_STEM] or "col"
    return f"c_{stem}" if stem[0].isdigit() else stem


def graph_input_names(columns: Sequence[Any]) -> dict[str, str]:
    """Map each column name to its graph input name.

    Parameters
    ----------
    columns : sequence of str
        The model's input columns, in order; each a non-empty string, no repeats.

    Returns
    -------
    dict
        ``{column: graph name}`` in the order of ``columns``.

    Raises
    ------
    SchemaError
        For a column name that is not a non-empty string, or a repeated one.
    """
    problems = [
        {"column": repr(c), "problem": "not a non-empty string"}
        for c in columns
        if not isinstance(c, str) or not c
    ]
    seen: set[str] = set()
    for c in columns:
        if isinstance(c, str) and c in seen:
            problems.append({"column": c, "problem": "repeated"})
        seen.add(c)
    if problems:
        shown = "; ".join(f"{p['column']}: {p['problem']}" for p in problems[:5])
        msg = (
            f"ONNX input names: {shown}. Give every input column a distinct, "
            "non-empty text name (frame.columns = [...]) and register the data again."
        )
        raise SchemaError(msg, problems)
    taken = {c for c in columns if is_valid(c)}
    out: dict[str, str] = {}
    for c in columns:
        if c in taken:
            out[c] = c
            continue
        stem = _stem(c)
        digest = hashlib.sha256(c.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name, n = f"{stem}_{digest}", 1
        while name in taken:  # a 32-bit clash: extremely rare, still settled
            name, n = f"{stem}_{digest}_{n}", n + 1
        taken.add(name)
        out[c] = name
    return out


def column_names(schema: dict[str, Any]) -> dict[str, str]:
    """Map each graph input name of an export's schema back to its column name."""
    return {onnx_name(spec): spec["name"] for spec in schema["inputs"]}


def onnx_name(spec: dict[str, Any]) -> str:
    """Return the graph input name of one schema input (older exports: its name)."""
    return spec.get("onnx_name") or spec["name"]
