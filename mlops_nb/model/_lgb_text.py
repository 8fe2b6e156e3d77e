"""A strict reader for LightGBM's text model, run before LightGBM's own parser sees it.

LightGBM's C++ parser trusts its input: a child index past the tree, a split on a
feature the model does not have, ``num_tree_per_iteration=0`` or ``tree_sizes`` that
point past the text crash the process (SIGSEGV, SIGFPE, SIGABRT) instead of raising.
A model version's text is verified against its SHA-256 before it is read, but whoever
can write the project's database can record new bytes with a matching hash. So the text
must also be *well formed* before ``lightgbm.Booster(model_str=...)`` runs:
:func:`check_model_text` accepts exactly the layout LightGBM 4 writes (header keys,
one block per tree with its keys in order, the feature importances, the parameters) and
checks every count, index and number against the header; anything else raises
:class:`~mlops_nb.errors.UnsafeFormatError` naming the artifact and the problem.

:func:`check_same_model` then compares the stored tree table (which answers small
batches without LightGBM) with the trees read here, node by node, so small and large
batches can never answer from different models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, UnsafeFormatError

if TYPE_CHECKING:
    import numpy as np

    from mlops_nb.model._trees import TreeTable

__all__ = ["ModelText", "check_model_text", "check_same_model"]

MAX_FEATURES = 1_000_000
MAX_CLASSES = 10_000
MAX_LEAVES = 131_072  # LightGBM's own upper bound for num_leaves
MAX_TREES = 1_000_000
_VERSIONS = {"v2", "v3", "v4"}
_HEADER_KEYS = {
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "feature_infos",
    "monotone_constraints",
    "tree_sizes",
}
#: objectives whose text form is the bare name
_PLAIN_OBJECTIVES = {
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "quantile",
    "mape",
    "poisson",
    "gamma",
    "tweedie",
    "cross_entropy",
    "cross_entropy_lambda",
}
_INT = r"-?\d{1,10}"
_FLOAT = r"[-+]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][-+]?\d{1,4})?"
_INTS = re.compile(rf"(?:{_INT}(?: {_INT})*)?")
_ARRAY_KEYS = (
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
)
_TREE = re.compile(
    r"Tree=(?P<index>\d{1,7})\n"
    r"num_leaves=(?P<num_leaves>\d{1,7})\n"
    r"num_cat=(?P<num_cat>\d{1,7})\n"
    + "".join(rf"{k}=(?P<{k}>[^\n]*)\n" for k in _ARRAY_KEYS)
    + r"(?:cat_boundaries=(?P<cat_boundaries>[^\n]*)\n"
    r"cat_threshold=(?P<cat_threshold>[^\n]*)\n)?"
    r"is_linear=(?P<is_linear>[^\n]*)\n"
    r"shrinkage=(?P<shrinkage>[^\n]*)\n\n\n"
)
_TAIL = re.compile(
    r"end of trees\n\nfeature_importances:\n(?:[^\n]+=\d{1,12}\n)*\n"
    r"parameters:\n(?:\[[a-z0-9_]{1,64}: [^\n]*\]\n)*\nend of parameters\n\n"
    r"pandas_categorical:(?P<pandas>[^\n]*)\n"
)


@dataclass(frozen=True)
class ModelText:
    """What :func:`check_model_text` read: the header and every tree's arrays."""

    text: str
    n_features: int
    n_outputs: int
    objective: str  # the objective's name
    objective_text: str  # the header's objective line, options included
    average_output: bool
    leaves: np.ndarray  # num_leaves per tree
    arrays: dict[str, np.ndarray]  # each key's values, every tree concatenated
    categorical: bool
    linear: bool


class _Bad(Exception):
    pass


def check_model_text(data: bytes, *, artifact: str) -> ModelText:
    """Check LightGBM text bytes strictly; return what they hold.

    Parameters
    ----------
    data : bytes
        The stored model text (its hash already verified).
    artifact : str
        The artifact's digest, for messages.

    Returns
    -------
    ModelText
        The header fields and the trees' arrays.

    Raises
    ------
    UnsafeFormatError
        If the text is not exactly a LightGBM 4 model as mlops_nb saves them.
    """
    try:
        return _read(data)
    except _Bad as bad:
        msg = (
            f"artifact {artifact} is not a well-formed LightGBM text model ({bad}); "
            "it was not handed to LightGBM's parser. The file was replaced or damaged: "
            "restore the project from a backup or re-train."
        )
        raise UnsafeFormatError(msg) from None


def _read(data: bytes) -> ModelText:
    import numpy as np

    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text at byte {err.start}"
        raise _Bad(msg) from None
    if "\r" in text or "\x00" in text:
        msg = "carriage returns or NUL bytes"
        raise _Bad(msg)
    head, sep, _rest = text.partition("\n\nTree=0\n")
    if not sep:
        msg = "no 'Tree=0' block after the header"
        raise _Bad(msg)
    header = _header(head)
    n_features = header["max_feature_idx"] + 1
    n_classes, n_outputs = header["num_class"], header["num_tree_per_iteration"]
    objective = _objective(header.get("objective"), n_classes)

    sizes = _ints(header["tree_sizes"], "tree_sizes")
    if not 1 <= len(sizes) <= MAX_TREES or len(sizes) % n_outputs:
        msg = f"{len(sizes)} trees for {n_outputs} tree(s) per iteration (tree_sizes)"
        raise _Bad(msg)
    pos = len(head) + 2
    matches = []
    for i, size in enumerate(sizes.tolist()):
        m = _TREE.match(text, pos)
        if m is None or m["index"] != str(i):
            msg = f"tree {i} is not a complete tree block in LightGBM's layout"
            raise _Bad(msg)
        if m.end() - pos != size:
            msg = (
                f"tree_sizes says {size} characters for tree {i}, it has "
                f"{m.end() - pos}"
            )
            raise _Bad(msg)  # fmt: skip
        matches.append(m)
        pos = m.end()
    tail = _TAIL.fullmatch(text, pos)
    if tail is None:
        msg = "unexpected text after the trees (more trees than tree_sizes?)"
        raise _Bad(msg)
    _pandas_categorical(tail["pandas"])

    leaves = np.array([int(m["num_leaves"]) for m in matches], dtype=np.int64)
    n_cat = np.array([int(m["num_cat"]) for m in matches], dtype=np.int64)
    if (leaves < 1).any() or (leaves > MAX_LEAVES).any():
        msg = f"num_leaves outside 1..{MAX_LEAVES}"
        raise _Bad(msg)
    if (n_cat > np.maximum(leaves - 1, 0)).any():
        msg = "num_cat larger than the number of splits"
        raise _Bad(msg)
    linear = any(m["is_linear"] != "0" for m in matches)
    if linear:
        msg = "linear trees (is_linear) are not loaded by mlops_nb"
        raise _Bad(msg)
    arrays = _arrays(matches, leaves, n_features)
    _check_shape(leaves, arrays)
    categorical = _check_categorical(matches, n_cat, arrays)
    return ModelText(
        text,
        n_features,
        n_outputs,
        objective,
        header["objective"],
        "average_output" in header,
        leaves,
        arrays,
        categorical,
        linear,
    )


def _header(head: str) -> dict[str, Any]:
    lines = head.split("\n")
    if lines[0] != "tree":
        msg = "the first line is not 'tree'"
        raise _Bad(msg)
    header: dict[str, Any] = {}
    for line in lines[1:]:
        if line == "average_output":
            header[line] = True
            continue
        key, eq, value = line.partition("=")
        if not eq or key not in _HEADER_KEYS:
            msg = f"unknown header line {line[:60]!r}"
            raise _Bad(msg)
        if key in header:
            msg = f"header key {key!r} given twice"
            raise _Bad(msg)
        if "=" in value and key != "feature_names":
            msg = f"header line {key!r} holds '='"
            raise _Bad(msg)
        header[key] = value
    missing = {"version", "num_class", "num_tree_per_iteration", "label_index",
               "max_feature_idx", "objective", "feature_names", "feature_infos",
               "tree_sizes"} - set(header)  # fmt: skip
    if missing:
        msg = f"header lacks {sorted(missing)}"
        raise _Bad(msg)
    if header["version"] not in _VERSIONS:
        msg = f"version {header['version'][:20]!r}"
        raise _Bad(msg)
    bounds = {
        "num_class": (1, MAX_CLASSES),
        "num_tree_per_iteration": (1, MAX_CLASSES),
        "label_index": (0, MAX_FEATURES),
        "max_feature_idx": (0, MAX_FEATURES - 1),
    }
    for key, (low, high) in bounds.items():
        value = header[key]
        if not re.fullmatch(_INT, value) or not low <= int(value) <= high:
            msg = f"{key}={value[:20]!r} is not a whole number in {low}..{high}"
            raise _Bad(msg)
        header[key] = int(value)
    if header["num_tree_per_iteration"] != header["num_class"]:
        msg = "num_tree_per_iteration differs from num_class"
        raise _Bad(msg)
    n_features = header["max_feature_idx"] + 1
    for key in ("feature_names", "feature_infos", "monotone_constraints"):
        if key in header and len(header[key].split(" ")) != n_features:
            msg = f"{key} does not list {n_features} features"
            raise _Bad(msg)
    if "monotone_constraints" in header and not set(
        header["monotone_constraints"].split(" ")
    ) <= {"-1", "0", "1"}:
        msg = "monotone_constraints other than -1, 0, 1"
        raise _Bad(msg)
    return header


def _objective(text: str, n_classes: int) -> str:
    name, *options = text.split(" ")
    opts = dict(o.partition(":")[::2] for o in options)
    if len(opts) != len(options) or any(not v for v in opts.values()):
        msg = f"objective {text[:60]!r}"
        raise _Bad(msg)
    ok = False
    if name in _PLAIN_OBJECTIVES:
        ok = n_classes == 1 and set(opts) <= {"sqrt"}
        ok = ok and options in ([], ["sqrt"])
    elif name == "binary":
        ok = n_classes == 1 and set(opts) == {"sigmoid"} and _positive(opts["sigmoid"])
    elif name in ("multiclass", "multiclassova"):
        wanted = {"num_class"} | ({"sigmoid"} if name == "multiclassova" else set())
        ok = (
            set(opts) == wanted
            and opts["num_class"] == str(n_classes)
            and n_classes >= 2
            and ("sigmoid" not in opts or _positive(opts["sigmoid"]))
        )
    if not ok:
        msg = f"objective {text[:60]!r} with num_class={n_classes}"
        raise _Bad(msg)
    return name


def _positive(value: str) -> bool:
    if not re.fullmatch(_FLOAT, value):
        return False
    return 0 < float(value) < float("inf")


def _ints(value: str, what: str) -> np.ndarray:
    import numpy as np

    if not _INTS.fullmatch(value):
        msg = f"{what} holds something other than whole numbers"
        raise _Bad(msg)
    return np.array(value.split(), dtype=np.int64)


_INT_KEYS = {"split_feature", "decision_type", "left_child", "right_child",
             "leaf_count", "internal_count"}  # fmt: skip
#: what LightGBM's parser reads to walk the trees, and the tree table compares
_CONVERTED = {"split_feature", "decision_type", "left_child", "right_child",
              "threshold", "leaf_value"}  # fmt: skip
_NOT_INT = re.compile(r"[^0-9 -]")
_NOT_FLOAT = re.compile(r"[^0-9 .eE+-]")


def _arrays(matches: list[Any], leaves: np.ndarray, n_features: int) -> dict[str, Any]:
    """Each array key of every tree, concatenated, with per-tree counts checked.

    Every value is checked to be a plain number (no ``nan``, ``inf`` or other words);
    the keys that decide where a row goes (features, decisions, children,
    thresholds) and the leaf values are converted and range-checked.
    """
    import numpy as np

    out = {}
    internal = leaves - 1
    for key in _ARRAY_KEYS:
        values = [m[key] for m in matches]
        counts = np.array([v.count(" ") + 1 if v else 0 for v in values])
        expected = leaves if key.startswith("leaf_") else internal
        # a one-leaf tree may leave its leaf weight (and every split key) empty
        wrong = (counts != expected) & ~((leaves == 1) & (counts == 0))
        if key == "leaf_value":
            wrong = counts != expected
        if wrong.any():
            t = int(np.flatnonzero(wrong)[0])
            msg = (
                f"tree {t} lists {counts[t]} {key} value(s), "
                f"num_leaves={leaves[t]} needs {expected[t]}"
            )
            raise _Bad(msg)
        joined = " ".join(v for v in values if v)
        integer = key in _INT_KEYS
        if (_NOT_INT if integer else _NOT_FLOAT).search(joined) or "  " in joined:
            msg = f"{key} holds something other than plain numbers"
            raise _Bad(msg)
        if key not in _CONVERTED:
            continue
        try:
            out[key] = np.array(
                joined.split(), dtype=np.int64 if integer else np.float64
            )
        except (ValueError, OverflowError):
            msg = f"{key} holds something other than plain numbers"
            raise _Bad(msg) from None
        if not np.isfinite(out[key]).all():
            msg = f"{key} holds a number out of range"
            raise _Bad(msg)
    feature = out["split_feature"]
    if feature.size and (feature.min() < 0 or feature.max() >= n_features):
        msg = f"split_feature outside 0..{n_features - 1} (max_feature_idx)"
        raise _Bad(msg)
    decision = out["decision_type"]
    if decision.size and (
        decision.min() < 0 or decision.max() > 11 or ((decision >> 2) & 3 == 3).any()
    ):
        msg = "decision_type outside LightGBM's flags"
        raise _Bad(msg)
    return out


def _check_shape(leaves: np.ndarray, arrays: dict[str, Any]) -> None:
    """Every tree is a tree: children in range, each node reached once from the root."""
    import numpy as np

    internal = leaves - 1
    left, right = arrays["left_child"], arrays["right_child"]
    tree = np.repeat(np.arange(len(leaves)), internal)
    own_internal, own_leaves = internal[tree], leaves[tree]
    for child in (left, right):
        if ((child >= own_internal) | (child < -own_leaves)).any():
            t = int(tree[np.flatnonzero((child >= own_internal)
                                        | (child < -own_leaves))[0]])  # fmt: skip
            msg = f"tree {t} has a child index outside the tree"
            raise _Bad(msg)
    if not left.size:
        return
    # global node ids: every tree's internal nodes, then every tree's leaves
    int_off = np.concatenate([[0], np.cumsum(internal)[:-1]])
    leaf_off = int(internal.sum()) + np.concatenate([[0], np.cumsum(leaves)[:-1]])
    children = np.concatenate([left, right])
    owner = np.concatenate([tree, tree])
    ids = np.where(
        children >= 0, int_off[owner] + children, leaf_off[owner] + ~children
    )
    n_nodes = int(internal.sum() + leaves.sum())
    parents = np.bincount(ids, minlength=n_nodes)
    roots = np.where(internal > 0, int_off, leaf_off)
    expected = np.ones(n_nodes, dtype=np.int64)
    expected[roots] = 0
    if not np.array_equal(parents, expected):
        msg = "a node is reached twice or never: not a tree"
        raise _Bad(msg)
    # each node but the roots has one parent; walking down from the roots reaches
    # all of them unless some form a cycle of their own
    kids_left = np.full(n_nodes, -1)
    kids_right = np.full(n_nodes, -1)
    kids_left[: len(left)] = ids[: len(left)]  # internal node i is split i
    kids_right[: len(left)] = ids[len(left) :]
    seen, level = len(roots), roots[internal > 0]
    while level.size:
        level = np.concatenate([kids_left[level], kids_right[level]])
        seen += level.size
        level = level[kids_left[level] >= 0]
    if seen != n_nodes:
        msg = "a tree's nodes form a cycle: not a tree"
        raise _Bad(msg)


def _check_categorical(
    matches: list[Any], n_cat: np.ndarray, arrays: dict[str, Any]
) -> bool:
    import numpy as np

    decision = arrays["decision_type"]
    leaves = np.array([int(m["num_leaves"]) for m in matches])
    tree = np.repeat(np.arange(len(matches)), leaves - 1)
    is_cat = (decision & 1) == 1
    cats_per_tree = np.bincount(tree[is_cat], minlength=len(matches))
    if not np.array_equal(cats_per_tree, n_cat):
        msg = "num_cat differs from the categorical splits"
        raise _Bad(msg)
    threshold = arrays["threshold"]
    for t, m in enumerate(matches):
        has = m["cat_boundaries"] is not None
        if has != bool(n_cat[t]):
            msg = f"tree {t}: cat_boundaries present without num_cat (or not)"
            raise _Bad(msg)
        if not has:
            continue
        bounds = _ints(m["cat_boundaries"], "cat_boundaries")
        cats = _ints(m["cat_threshold"], "cat_threshold")
        if (
            len(bounds) != n_cat[t] + 1
            or bounds[0] != 0
            or (np.diff(bounds) < 0).any()
            or bounds[-1] != len(cats)
            or (cats < 0).any()
            or (cats >= 2**32).any()
        ):
            msg = f"tree {t}: cat_boundaries / cat_threshold disagree"
            raise _Bad(msg)
        own = threshold[tree == t][is_cat[tree == t]]
        if ((own != np.floor(own)) | (own < 0) | (own >= n_cat[t])).any():
            msg = f"tree {t}: a categorical split points past cat_boundaries"
            raise _Bad(msg)
    return bool(is_cat.any())


def _pandas_categorical(value: str) -> None:
    """Accept ``null`` or a list of lists of labels, nested no deeper.

    LightGBM's Python side ``json.loads`` this line: a deep nesting would raise
    RecursionError there.
    """
    if value == "null":
        return
    depth = top = 0
    in_str = escaped = False
    for ch in value:
        if in_str:
            escaped, in_str = (
                (not escaped and ch == "\\"),
                in_str and (escaped or ch != '"'),
            )
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            top = max(top, depth)
        elif ch in "]}":
            depth -= 1
    if top > 2:
        msg = "pandas_categorical nested too deeply"
        raise _Bad(msg)
    try:
        parsed = json.loads(value)
    except ValueError:
        msg = "pandas_categorical is not JSON"
        raise _Bad(msg) from None
    if not isinstance(parsed, list) or not all(
        isinstance(c, list)
        and all(isinstance(v, (str, int, float, bool)) or v is None for v in c)
        for c in parsed
    ):
        msg = "pandas_categorical is not a list of category lists"
        raise _Bad(msg)


def check_same_model(model: ModelText, table: TreeTable, *, artifact: str) -> None:
    """Refuse a tree table that does not hold exactly the trees of ``model``.

    Raises
    ------
    IntegrityError
        If the stored table and the LightGBM text describe different models.
    """
    from mlops_nb.model._trees import TreeTable

    rebuilt = TreeTable.from_checked(model)
    same = rebuilt is not None and (
        (rebuilt.n_features, rebuilt.n_outputs, rebuilt.objective, rebuilt.depth)
        == (table.n_features, table.n_outputs, table.objective, table.depth)
        and rebuilt.sigmoid == table.sigmoid
        and all(
            rebuilt.arrays[k].shape == table.arrays[k].shape
            and (rebuilt.arrays[k] == table.arrays[k]).all()
            for k in rebuilt.arrays
        )
    )
    if not same:
        msg = (
            f"the tree table and the LightGBM text {artifact} of this model version "
            "describe different models (one of them was replaced): small and large "
            "batches would disagree. Nothing was predicted; restore the project from "
            "a backup or re-train."
        )
        raise IntegrityError(msg)
