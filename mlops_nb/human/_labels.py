"""Where a view finds the words for codes: the data dictionary of a data version.

A review stores the label of the data it ran on (``"employment-test v1"``); a model
finds its dictionary through its training data's lineage. Views then show a group
such as ``"SEX=2"`` as ``female`` with ``SEX = 2`` on hover (:class:`Coded`), and a
feature's description on hover of its name. Nothing stored changes: reports keep
their codes, so a dictionary set later shows in reports made earlier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.data._dictionary import Dictionary
from mlops_nb.ui._html import Coded

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.model import Model


def of_data(project: Project, label: str | None) -> Dictionary:
    """Return the dictionary of the version labelled ``"name vN"`` (empty if none)."""
    if not label or " v" not in str(label):
        return Dictionary()
    name, _, version = str(label).rpartition(" v")
    if not version.isdigit():
        return Dictionary()
    from mlops_nb.errors import MlopsNbError

    try:
        return project.asset(name, int(version)).dictionary
    except MlopsNbError:  # the version was removed, or never was in this project
        return Dictionary()


def of_model(model: Model) -> Dictionary:
    """Return the dictionary of the data ``model`` learnt from (merged, first wins)."""
    from mlops_nb.data._dictionary import training_dictionary

    return training_dictionary(model)


def of_report(
    project: Project, data_label: str | None, model: Any = None
) -> Dictionary:
    """Return the reviewed data's dictionary, completed by the model's training data."""
    found = of_data(project, data_label)
    if model is None:
        return found
    return of_model(model).updated(found)


def grouping_columns(grouping: str) -> list[str]:
    """``"SEX x RAC1P"`` -> ``["SEX", "RAC1P"]`` (how fairness names intersections)."""
    return str(grouping).split(" x ")


def groups(dictionary: Dictionary, keys: Iterable[Any], grouping: str) -> pd.Series:
    """Return group keys of one grouping as labels (code on hover), as objects."""
    import pandas as pd

    cols = grouping_columns(grouping)
    index = keys.index if isinstance(keys, pd.Series) else None
    return pd.Series(
        [dictionary.group(k, cols) for k in keys],
        dtype=object,
        name="group",
        index=index,
    )


def group_text(dictionary: Dictionary, key: Any, grouping: str) -> str:
    """Return a group key as words with its codes: ``female (SEX = 2)``."""
    shown = dictionary.group(key, grouping_columns(grouping))
    return f"{shown} ({shown.title})" if isinstance(shown, Coded) else str(key)


def column(dictionary: Dictionary, name: str) -> Any:
    """Return a column name with its description on hover (as is without one)."""
    text = dictionary.descriptions.get(name)
    return Coded(name, f"{name}: {text}") if text else name


def values(dictionary: Dictionary, name: str, items: Iterable[Any]) -> pd.Series:
    """Return values of column ``name`` as labels (code on hover), as objects."""
    import pandas as pd

    index = items.index if isinstance(items, pd.Series) else None
    return pd.Series(
        [dictionary.coded(name, v) for v in items], dtype=object, index=index
    )


def of_model_or_empty(model: Any) -> Dictionary:
    """Return :func:`of_model` for a model, an empty dictionary for ``None``."""
    return of_model(model) if model is not None else Dictionary()


def contributions(dictionary: Dictionary, table: pd.DataFrame) -> pd.DataFrame:
    """Return an explanation table as shown: descriptions and labels on hover.

    ``input`` carries its description on hover and ``value`` shows as its label
    with the code on hover; other columns are unchanged.
    """
    import pandas as pd

    out = table.copy()
    if not dictionary or "input" not in out:
        return out
    names = list(out["input"])
    if "value" in out:
        out["value"] = pd.Series(
            [dictionary.coded(n, v) for n, v in zip(names, out["value"], strict=True)],
            dtype=object,
            index=out.index,
        )
    out["input"] = pd.Series(
        [column(dictionary, n) for n in names], dtype=object, index=out.index
    )
    return out


def features(dictionary: Dictionary, table: pd.DataFrame) -> pd.DataFrame:
    """Return an importance table as shown: ``feature`` with its description."""
    import pandas as pd

    out = table.copy()
    if dictionary.descriptions and "feature" in out:
        out["feature"] = pd.Series(
            [column(dictionary, n) for n in out["feature"]],
            dtype=object,
            index=out.index,
        )
    return out


def in_text(dictionary: Dictionary, text: str, groups: Iterable[dict]) -> str:
    """Return ``text`` with each group key in it as words: ``female (SEX = 2)``.

    ``groups`` are a fairness report's group rows (``grouping``, ``group``); longer
    keys (intersections) are replaced first.
    """
    if not dictionary.labels:
        return text
    keys = {str(g["group"]): g["grouping"] for g in groups}
    for key in sorted(keys, key=len, reverse=True):
        if key in text:
            text = text.replace(key, group_text(dictionary, key, keys[key]))
    return text
