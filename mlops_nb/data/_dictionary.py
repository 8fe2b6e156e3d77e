"""A data version's dictionary: what coded values mean and what each column is.

``labels`` maps a column's codes to short words (``{"SEX": {1: "male", 2:
"female"}}``); ``descriptions`` says what a column holds (``{"SEX": "Sex of the
person"}``). Both are metadata of a version: they live in the version's stored schema
JSON, outside its content hash, so documenting data never makes "new" data (see
:meth:`DataAsset.with_labels`).

Codes are matched by value, whatever their type: ``1``, ``1.0``, ``"1"`` and
``" 1 "`` are the same code, because a column may hold ``2`` where the dictionary
says ``"2"`` (a CSV read as text, a category of strings, a float column with missing
values). Other strings are matched exactly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, did_you_mean, listing
from mlops_nb.ui._html import Coded

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import pandas as pd

#: ``frame.attrs`` key under which a frame brings its dictionary (the shipped data)
DICTIONARY_ATTR = "mlops_nb.dictionary"


def canonical(code: Any) -> str:
    """Return the text a code is matched by: ``1``, ``1.0`` and ``"1"`` give ``"1"``."""
    if isinstance(code, bool) or type(code).__name__ == "bool_":
        return str(bool(code))
    if isinstance(code, numbers.Integral):
        return str(int(code))
    if isinstance(code, numbers.Real):
        number = float(code)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        return repr(number)
    text = str(code).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return canonical(number) if math.isfinite(number) else text


def _plain(code: Any) -> Any:
    """Return a code as JSON keeps it: numpy scalars become Python numbers."""
    return code.item() if hasattr(code, "item") and not isinstance(code, str) else code


@dataclass(frozen=True)
class Dictionary:
    """Labels of coded values and descriptions of columns, per column.

    Attributes
    ----------
    labels : dict
        ``{column: ((code, label), ...)}`` in the order given.
    descriptions : dict
        ``{column: text}``.
    """

    labels: Mapping[str, tuple[tuple[Any, str], ...]] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.labels or self.descriptions)

    # -- reading -----------------------------------------------------------------------
    def label_map(self, column: str) -> dict[str, str]:
        """``{canonical code: label}`` of one column (empty without labels)."""
        return {canonical(c): lab for c, lab in self.labels.get(column, ())}

    def label(self, column: str, value: Any) -> str | None:
        """Return the label of ``value`` in ``column``, or ``None``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return self.label_map(column).get(canonical(value))

    def coded(self, column: str, value: Any) -> Any:
        """``value`` as its label with ``"column = value"`` on hover, or unchanged."""
        found = self.label(column, value)
        if found is None:
            return value
        return Coded(found, f"{column} = {value}")

    def group(self, key: Any, columns: Sequence[str]) -> Any:
        """Return a group key (``"SEX=2, RAC1P=6"``) as labels, the codes on hover.

        Keys that are not of ``columns`` (``"all rows"``) come back unchanged.
        """
        pairs = split_group(str(key), columns)
        if pairs is None:
            return key
        title = ", ".join(f"{c} = {v}" for c, v in pairs)
        found = [self.label(c, v) for c, v in pairs]
        if all(f is None for f in found):
            return key
        text = ", ".join(
            f if f is not None else f"{c}={v}"
            for (c, v), f in zip(pairs, found, strict=True)
        )
        return Coded(text, title)

    def public_labels(self) -> dict[str, dict[Any, str]]:
        """``{column: {code: label}}`` with the codes as given."""
        return {c: dict(pairs) for c, pairs in self.labels.items()}

    # -- deriving ----------------------------------------------------------------------
    def restrict(self, columns: Iterable[str]) -> Dictionary:
        """Keep the entries of ``columns`` (a derived version may drop columns)."""
        keep = set(columns)
        return Dictionary(
            {c: v for c, v in self.labels.items() if c in keep},
            {c: v for c, v in self.descriptions.items() if c in keep},
        )

    def updated(
        self, given: Dictionary, removed: Iterable[tuple[str, str]] = ()
    ) -> Dictionary:
        """Return this dictionary with ``given``'s columns replacing its own.

        ``removed`` holds ``("labels"|"descriptions", column)`` entries to drop.
        """
        labels = {**self.labels, **given.labels}
        descriptions = {**self.descriptions, **given.descriptions}
        for part, column in removed:
            (labels if part == "labels" else descriptions).pop(column, None)
        return Dictionary(labels, descriptions)

    # -- storing -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-ready: codes keep their type (``[[code, label], ...]`` per column)."""
        out: dict[str, Any] = {}
        if self.labels:
            out["labels"] = {
                c: [[code, lab] for code, lab in pairs]
                for c, pairs in self.labels.items()
            }
        if self.descriptions:
            out["descriptions"] = dict(self.descriptions)
        return out

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> Dictionary:
        """Rebuild a dictionary from :meth:`to_json` (or a stored schema holding it)."""
        stored = stored or {}
        labels = {
            c: tuple((code, lab) for code, lab in pairs)
            for c, pairs in (stored.get("labels") or {}).items()
        }
        return cls(labels, dict(stored.get("descriptions") or {}))

    # -- checking ----------------------------------------------------------------------
    def findings(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """List codes labelled but absent, and values present but unlabelled."""
        out = []
        for column, pairs in self.labels.items():
            if column not in frame.columns:
                continue
            present = {canonical(v): v for v in frame[column].dropna().unique()}
            absent = [code for code, _ in pairs if canonical(code) not in present]
            known = {canonical(code) for code, _ in pairs}
            unlabelled = [v for c, v in present.items() if c not in known]
            if absent:
                out.append(
                    _note(
                        column,
                        f"{len(absent)} labelled code(s) do not occur in {column}: "
                        f"{listing(absent, 8)}.",
                        [_plain(a) for a in absent],
                    )
                )
            if unlabelled:
                shown = sorted(unlabelled, key=_order)
                out.append(
                    _note(
                        column,
                        f"{len(unlabelled)} value(s) of {column} have no label: "
                        f"{listing(shown, 8)}; they show as codes.",
                        [_plain(v) for v in shown[:50]],
                    )
                )
        return out


def _note(column: str, message: str, value: Any) -> dict[str, Any]:
    return {
        "check": "data dictionary",
        "severity": "info",
        "column": column,
        "message": message,
        "value": value,
    }


def _order(value: Any) -> tuple[int, float, str]:
    """Sort key: numbers (and numeric strings) numerically, then other text."""
    text = canonical(value)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def sort_codes(values: Iterable[Any]) -> list[Any]:
    """Codes in reading order: ``2 < 10`` for numbers and numeric strings."""
    return sorted(values, key=_order)


def split_group(key: str, columns: Sequence[str]) -> list[tuple[str, str]] | None:
    """``"SEX=2, RAC1P=6"`` -> ``[("SEX", "2"), ("RAC1P", "6")]`` for ``columns``.

    Returns ``None`` when ``key`` is not a group of those columns.
    """
    pairs = []
    rest = key
    for i, column in enumerate(columns):
        head = f"{column}="
        if not rest.startswith(head):
            return None
        rest = rest[len(head) :]
        if i + 1 < len(columns):
            cut = rest.find(f", {columns[i + 1]}=")
            if cut < 0:
                return None
            pairs.append((column, rest[:cut]))
            rest = rest[cut + 2 :]
        else:
            pairs.append((column, rest))
    return pairs or None


def parse_dictionary(
    labels: Any, descriptions: Any, columns: Sequence[str], *, what: str
) -> tuple[Dictionary, list[tuple[str, str]]]:
    """Validate user-given ``labels=`` and ``descriptions=``.

    Returns the dictionary and the ``(part, column)`` entries given as ``None``
    (to remove). Every problem found is named in one :class:`SchemaError`: a column
    not in the data, a mapping that is not a dict, a code that is missing or given
    twice (``1`` and ``"1"`` are one code), a label that is not text, or one label
    for two codes of a column.
    """
    from collections.abc import Mapping

    problems: list[dict[str, Any]] = []
    messages: list[str] = []

    def problem(param: str, column: Any, text: str, kind: str) -> None:
        problems.append({"parameter": param, "column": column, "problem": kind})
        messages.append(f"{param}: {text}")

    def known(param: str, column: Any) -> bool:
        if str(column) in columns:
            return True
        problem(
            param,
            column,
            f"column {column!r} is not in the data. Columns: {listing(columns)}."
            f"{did_you_mean(str(column), columns)}",
            "unknown column",
        )
        return False

    removed: list[tuple[str, str]] = []
    parsed: dict[str, tuple[tuple[Any, str], ...]] = {}
    if labels is not None and not isinstance(labels, Mapping):
        problem(
            "labels",
            None,
            f"expected a dict {{column: {{code: label}}}}, "
            f"got {type(labels).__name__}.",
            "not a dict",
        )
        labels = None
    for column, mapping in (labels or {}).items():
        param = f"labels[{column!r}]"
        if not known(param, column):
            continue
        if mapping is None:
            removed.append(("labels", column))
            continue
        if not isinstance(mapping, Mapping):
            problem(
                param,
                column,
                f"expected a dict {{code: label}} such as {{1: 'male', 2: 'female'}}, "
                f"got {type(mapping).__name__}.",
                "not a dict",
            )
            continue
        pairs, seen, by_label = [], {}, {}
        for code, lab in mapping.items():
            if code is None or (isinstance(code, float) and math.isnan(code)):
                problem(
                    param,
                    column,
                    "a code is missing (None/NaN); missing values show as "
                    "'(missing)' and take no label.",
                    "missing code",
                )
                continue
            if not isinstance(code, (str, numbers.Number)):
                problem(
                    param,
                    column,
                    f"code {code!r} is a {type(code).__name__}; use numbers or text.",
                    "bad code",
                )
                continue
            if not isinstance(lab, str) or not lab.strip():
                problem(
                    param,
                    column,
                    f"the label of code {code!r} is {lab!r}; labels are "
                    "non-empty text.",
                    "bad label",
                )
                continue
            key = canonical(code)
            if key in seen:
                problem(
                    param,
                    column,
                    f"codes {seen[key]!r} and {code!r} are the same code; "
                    "give it once.",
                    "duplicate code",
                )
                continue
            lab = lab.strip()
            if lab in by_label:
                problem(
                    param,
                    column,
                    f"codes {by_label[lab]!r} and {code!r} both have the label "
                    f"{lab!r}; each code needs its own label, or readers cannot "
                    "tell the groups apart.",
                    "duplicate label",
                )
                continue
            seen[key], by_label[lab] = code, code
            pairs.append((_plain(code), lab))
        parsed[str(column)] = tuple(pairs)
    texts: dict[str, str] = {}
    if descriptions is not None and not isinstance(descriptions, Mapping):
        problem(
            "descriptions",
            None,
            f"expected a dict {{column: text}}, got {type(descriptions).__name__}.",
            "not a dict",
        )
        descriptions = None
    for column, text in (descriptions or {}).items():
        param = f"descriptions[{column!r}]"
        if not known(param, column):
            continue
        if text is None:
            removed.append(("descriptions", column))
        elif not isinstance(text, str) or not text.strip():
            problem(
                param, column, f"expected non-empty text, got {text!r}.", "bad text"
            )
        else:
            texts[str(column)] = text.strip()
    if problems:
        raise SchemaError(f"{what}: " + " ".join(messages), problems)
    return Dictionary(parsed, texts), removed


def training_dictionary(model: Any) -> Dictionary:
    """Return the dictionary of the data versions ``model`` learnt from.

    Found through the model's lineage (the first data version wins on a column);
    empty when the versions have none or are gone.
    """
    from mlops_nb.errors import MlopsNbError

    out = Dictionary()
    for d in reversed(list((getattr(model, "lineage", None) or {}).get("data") or [])):
        try:
            found = model.project.asset(d["name"], int(d["version"])).dictionary
        except (MlopsNbError, KeyError, TypeError, ValueError):
            continue
        out = out.updated(found)
    return out


def group_words(
    dictionary: Dictionary, groups: Mapping[str, Iterable[Any]]
) -> dict[str, dict[str, str]]:
    """Return ``{column: {value: label}}`` for the given values (JSON-ready)."""
    out: dict[str, dict[str, str]] = {}
    for column, values in groups.items():
        words = {
            str(v): found
            for v in values
            if (found := dictionary.label(column, v)) is not None
        }
        if words:
            out[column] = words
    return out
