"""LightGBM's trees as flat numpy arrays, for fast predictions in a fresh process.

A fresh process answers a few rows without parsing LightGBM's text model.

Parsing LightGBM's text model takes most of a cold "load, then predict one row" (0.8 ms
of about 2 ms for 100 trees). :class:`TreeTable` stores the same trees — split feature,
threshold, missing-value rule, children, leaf values, read from the very text LightGBM
saved — as raw arrays behind a small JSON header, so loading is a hash check and a few
``numpy.frombuffer`` views. It walks every tree at once, level by level, and follows
LightGBM's own rules (``Tree::NumericalDecision``; trees summed in LightGBM's order;
``std::exp`` for the sigmoid and softmax), so its output equals ``Booster.predict`` to
the bit: a parity test plants missing values, zeros, multiclass and regression models.

It covers what mlops_nb trains: numerical splits, the binary, multiclass (softmax) and
regression objectives whose output is the raw score. Anything else (categorical splits,
linear trees, random-forest averaging, other link functions) builds no table and stays
with LightGBM. The predictor uses the table only for a small batch in a process that has
not parsed the LightGBM text yet; otherwise LightGBM's C++ is faster.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import UnsupportedFormatError

if TYPE_CHECKING:
    import numpy as np

    from mlops_nb.model._lgb_text import ModelText

MAGIC = b"MNBTREES"
FORMAT = "mlops_nb.trees/1"
#: Batches up to this many rows are walked with numpy while LightGBM's text is not
#: parsed yet: 64 rows x 100 trees take 0.6 ms here, parsing + LightGBM's predict
#: 0.9 ms; once parsed, LightGBM is faster at any size.
SMALL_BATCH = 64
#: LightGBM's ``kZeroThreshold`` (a float literal 1e-35f, compared as a double).
_ZERO = struct.unpack("f", struct.pack("f", 1e-35))[0]
#: Objectives whose prediction is the raw score itself.
_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}
#: name -> dtype of the stored arrays, in file order.
_ARRAYS = {
    "feature": "<i4",
    "threshold": "<f8",
    "left": "<i4",
    "right": "<i4",
    "default_left": "|b1",
    "missing": "|i1",
    "value": "<f8",
    "roots": "<i4",
}


@dataclass(frozen=True, eq=False)
class TreeTable:
    """Every tree of a LightGBM model as one table of nodes.

    Node ``i`` of the table is an internal node (``feature``, ``threshold``,
    ``missing``: 0 none / 1 zero / 2 NaN, ``default_left``, children ``left`` and
    ``right``) or a leaf (``value``; its children point at itself, so walking
    ``depth`` steps from every root ends on a leaf whatever the tree's depth).
    """

    arrays: dict[str, np.ndarray]
    n_features: int
    n_outputs: int  # trees per iteration: classes of a multiclass model, else 1
    objective: str  # "binary", "multiclass" or "identity"
    sigmoid: float
    depth: int

    # -- building ------------------------------------------------------------------
    @classmethod
    def from_model_text(cls, text: str) -> TreeTable | None:
        """Read LightGBM's text model.

        None when it holds anything the table does not cover. Never raises: a model
        the table cannot read is saved and predicted by LightGBM alone.
        """
        try:
            return cls._from_model_text(text)
        except (KeyError, ValueError, IndexError):
            return None

    @classmethod
    def from_checked(cls, model: ModelText) -> TreeTable | None:
        """Build the table from text :func:`check_model_text` has read, or None.

        None when the model holds anything the table does not cover, as
        :meth:`from_model_text`, whose result this equals.
        """
        objective, sigmoid = _objective(model.objective_text)
        if objective is None or model.average_output or model.categorical:
            return None
        if len(model.leaves) % model.n_outputs:
            return None
        a = model.arrays
        built = _table_of(
            model.leaves,
            a["leaf_value"],
            a["split_feature"].astype("int32"),
            a["decision_type"].astype("int32"),
            a["left_child"],
            a["right_child"],
            a["threshold"],
        )
        if built is None:
            return None
        arrays, depth = built
        if arrays["feature"].size and arrays["feature"].max() >= model.n_features:
            return None
        return cls(arrays, model.n_features, model.n_outputs, objective, sigmoid, depth)

    @classmethod
    def _from_model_text(cls, text: str) -> TreeTable | None:
        head, sep, rest = text.partition("\nTree=")
        if not sep or "\nend of trees" not in rest:
            return None
        header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
        if "average_output" in head.splitlines():
            return None  # random-forest mode averages instead of summing
        objective, sigmoid = _objective(header.get("objective", ""))
        if objective is None:
            return None
        n_outputs = int(header["num_tree_per_iteration"])
        n_features = int(header["max_feature_idx"]) + 1
        blocks = ("Tree=" + rest.split("\nend of trees", 1)[0]).split("\nTree=")
        trees = [
            dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            for block in blocks
        ]
        if len(trees) % n_outputs or any(
            t.get("num_cat", "0") != "0" or t.get("is_linear", "0") != "0"
            for t in trees
        ):
            return None  # categorical splits or linear trees
        built = _table(trees)
        if built is None:
            return None
        arrays, depth = built
        if arrays["feature"].size and arrays["feature"].max() >= n_features:
            return None
        return cls(arrays, n_features, n_outputs, objective, sigmoid, depth)

    # -- storing -------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """``MAGIC``, a 4-byte header length, the JSON header, then the raw arrays."""
        header = json.dumps(
            {
                "format": FORMAT,
                "n_features": self.n_features,
                "n_outputs": self.n_outputs,
                "objective": self.objective,
                "sigmoid": self.sigmoid,
                "depth": self.depth,
                "sizes": {name: int(self.arrays[name].size) for name in _ARRAYS},
            }
        ).encode("utf-8")
        import numpy as np

        body = b"".join(
            np.asarray(self.arrays[name], dtype=dt).tobytes()
            for name, dt in _ARRAYS.items()
        )
        return MAGIC + struct.pack("<I", len(header)) + header + body

    @classmethod
    def from_bytes(cls, data: bytes, *, artifact: str) -> TreeTable:
        """Return views on stored bytes, after checking every size and child index."""
        import numpy as np

        def refuse(why: str) -> UnsupportedFormatError:
            return UnsupportedFormatError(
                f"artifact {artifact} is not a readable tree table: {why}"
            )

        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
            msg = "it does not start with the tree table's magic bytes"
            raise refuse(msg)
        (length,) = struct.unpack_from("<I", data, len(MAGIC))
        start = len(MAGIC) + 4 + length
        try:
            header = json.loads(data[len(MAGIC) + 4 : start])
            if header.get("format") != FORMAT:
                msg = f"format {header.get('format')!r}"
                raise ValueError(msg)
            sizes = {name: int(header["sizes"][name]) for name in _ARRAYS}
            n_features, n_outputs = int(header["n_features"]), int(header["n_outputs"])
            objective, sigmoid = str(header["objective"]), float(header["sigmoid"])
            depth = int(header["depth"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            msg = f"bad header ({err})"
            raise refuse(msg) from err
        arrays, offset = {}, start
        for name, dt in _ARRAYS.items():
            dtype = np.dtype(dt)
            end = offset + sizes[name] * dtype.itemsize
            if sizes[name] < 0 or end > len(data):
                msg = f"array {name!r} runs past the end of the file"
                raise refuse(msg)
            arrays[name] = np.frombuffer(
                data, dtype=dtype, count=sizes[name], offset=offset
            )
            offset = end
        n = sizes["value"]
        if offset != len(data) or any(sizes[k] != n for k in _ARRAYS if k != "roots"):
            msg = "array sizes disagree"
            raise refuse(msg)
        for name in ("left", "right", "roots"):
            a = arrays[name]
            if a.size and (a.min() < 0 or a.max() >= n):
                msg = f"{name!r} points outside the table"
                raise refuse(msg)
        f = arrays["feature"]
        if f.size and (f.min() < 0 or f.max() >= n_features):
            msg = "a split names a feature the model does not have"
            raise refuse(msg)
        if objective not in ("binary", "multiclass", "identity") or n_outputs < 1:
            msg = f"objective {objective!r} with {n_outputs} output(s)"
            raise refuse(msg)
        if not sizes["roots"] or sizes["roots"] % n_outputs or not 0 <= depth <= n:
            msg = "tree count or depth out of range"
            raise refuse(msg)
        return cls(arrays, n_features, n_outputs, objective, sigmoid, depth)

    # -- predicting ----------------------------------------------------------------
    def raw(self, X: np.ndarray) -> np.ndarray:
        """Raw scores, ``(rows, n_outputs)``: LightGBM's ``predict(raw_score=True)``."""
        import numpy as np

        a = self.arrays
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            msg = f"the tree table reads {self.n_features} columns, got shape {X.shape}"
            raise ValueError(msg)
        # LightGBM keeps only values beyond its zero threshold (and NaN); the rest are 0
        X = np.where(np.abs(X) <= _ZERO, 0.0, X).ravel()
        n_rows, roots = len(X) // max(self.n_features, 1), a["roots"]
        node = np.tile(roots, n_rows)  # row-major: every tree of row 0, then row 1 ...
        base = np.repeat(np.arange(n_rows) * self.n_features, len(roots))
        missing_rules = bool(np.isnan(X).any() or (a["missing"] == 1).any())
        for _ in range(self.depth):
            x = X[base + a["feature"][node]]
            if missing_rules:
                go_left = _decide_with_missing(x, node, a)
            else:
                go_left = x <= a["threshold"][node]
            node = np.where(go_left, a["left"][node], a["right"][node])
        leaves = a["value"][node].reshape(n_rows, -1, self.n_outputs)
        # LightGBM adds the trees one after another: a running sum, never a pairwise one
        return np.cumsum(leaves, axis=1)[:, -1, :]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return what ``Booster.predict(X)`` returns.

        That is probabilities, or values for regression.
        """
        import numpy as np

        raw = self.raw(X)
        if self.objective == "identity":
            return raw[:, 0]
        if self.objective == "binary":
            s = self.sigmoid  # math.exp is the C library's exp, as LightGBM's std::exp
            return np.array([1.0 / (1.0 + _exp(-s * r)) for r in raw[:, 0].tolist()])
        out = np.empty_like(raw)
        for i, row in enumerate(raw.tolist()):  # Common::Softmax, step by step
            top = max(row)
            e = [_exp(v - top) for v in row]
            total = 0.0
            for v in e:
                total += v
            out[i] = [v / total for v in e]
        return out


def _exp(v: float) -> float:
    """Compute the C library's ``exp``, with C's inf instead of an OverflowError."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _decide_with_missing(x: np.ndarray, node: np.ndarray, a: dict[str, Any]) -> Any:
    """Apply ``Tree::NumericalDecision``.

    NaN and (for zero-as-missing) zero take the default side.
    """
    import numpy as np

    rule = a["missing"][node]
    nan = np.isnan(x)
    x = np.where(nan & (rule != 2), 0.0, x)
    default = ((rule == 1) & (np.abs(x) <= _ZERO)) | ((rule == 2) & nan)
    return np.where(default, a["default_left"][node], x <= a["threshold"][node])


def _objective(text: str) -> tuple[str | None, float]:
    """``"binary sigmoid:1"`` -> ("binary", 1.0); None for objectives not covered."""
    name, *options = text.split()
    if name in _IDENTITY and not options:
        return "identity", 1.0
    if name == "binary" and len(options) == 1 and options[0].startswith("sigmoid:"):
        return "binary", float(options[0].split(":", 1)[1])
    if name in ("multiclass", "softmax") and all(
        o.startswith("num_class:") for o in options
    ):
        return "multiclass", 1.0
    return None, 1.0


def _table(trees: list[dict[str, str]]) -> tuple[dict[str, Any], int] | None:
    """All trees in table layout, and the depth.

    The layout holds each tree's internal nodes, then its leaves.

    Every key is parsed once for the whole model (one split, one C conversion), which is
    what keeps saving a model version fast.
    """
    import numpy as np

    def numbers(key: str, dtype: Any) -> Any:
        return np.array(" ".join(t.get(key, "") for t in trees).split(), dtype=dtype)

    return _table_of(
        np.array([int(t["num_leaves"]) for t in trees], dtype=np.int64),
        numbers("leaf_value", np.float64),
        numbers("split_feature", np.int32),
        numbers("decision_type", np.int32),
        numbers("left_child", np.int64),
        numbers("right_child", np.int64),
        numbers("threshold", np.float64),
    )


def _table_of(
    leaves: Any,
    value: Any,
    feature: Any,
    decision: Any,
    left: Any,
    right: Any,
    threshold: Any,
) -> tuple[dict[str, Any], int] | None:
    """Lay out every tree's arrays, concatenated, as the table; None if not a tree."""
    import numpy as np

    internal = leaves - 1
    n_internal = int(internal.sum())
    if (leaves < 1).any() or len(value) != leaves.sum():
        return None
    if not all(
        len(c) == n_internal for c in (feature, decision, left, right, threshold)
    ):
        return None  # a tree's lists disagree with its leaf count
    if (decision & 1).any():
        return None  # a categorical split
    offset = np.concatenate(
        [[0], np.cumsum(2 * leaves - 1)[:-1]]
    )  # where each tree starts
    tree_of_split = np.repeat(np.arange(len(leaves)), internal)
    own_internal, own_leaves = internal[tree_of_split], leaves[tree_of_split]
    if ((left >= own_internal) | (right >= own_internal)).any():
        return None  # a child beyond its tree: not a tree
    if ((left < -own_leaves) | (right < -own_leaves)).any():
        return None

    def node_of(
        child: Any,
    ) -> Any:  # LightGBM: a child >= 0 is an internal node, < 0 leaf ~child
        base = offset[tree_of_split]
        return np.where(child >= 0, base + child, base + own_internal + ~child)

    size = int(offset[-1] + 2 * leaves[-1] - 1)
    split_at = offset[tree_of_split] + _within(internal)
    leaf_at = np.repeat(offset + internal, leaves) + _within(leaves)
    arrays = {
        "feature": np.zeros(size, np.int32),
        "threshold": np.zeros(size),
        "left": np.zeros(size, np.int32),
        "right": np.zeros(size, np.int32),
        "default_left": np.zeros(size, bool),
        "missing": np.zeros(size, np.int8),
        "value": np.zeros(size),
    }
    arrays["feature"][split_at], arrays["threshold"][split_at] = feature, threshold
    arrays["left"][split_at], arrays["right"][split_at] = node_of(left), node_of(right)
    arrays["default_left"][split_at] = (decision & 2) > 0
    arrays["missing"][split_at] = (decision >> 2) & 3
    arrays["left"][leaf_at] = arrays["right"][leaf_at] = leaf_at  # leaves stay put
    arrays["value"][leaf_at] = value
    arrays["roots"] = offset.astype(np.int32)
    is_split = np.zeros(size, bool)
    is_split[split_at] = True
    depth, level = 0, arrays["roots"][is_split[arrays["roots"]]]
    while level.size:  # breadth first over internal nodes of every tree at once
        depth += 1
        if depth > max(int(internal.max()), 0):
            return None  # a cycle: not a tree
        level = np.concatenate([arrays["left"][level], arrays["right"][level]])
        level = level[is_split[level]]
    return arrays, depth


def _within(counts: Any) -> Any:
    """``[0..c0-1, 0..c1-1, ...]`` for counts ``c``."""
    import numpy as np

    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
