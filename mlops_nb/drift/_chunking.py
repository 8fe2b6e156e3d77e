"""Chunking: how a monitor cuts reference and analysis data into comparable pieces.

A chunk is the unit every drift statistic, performance estimate and alert is computed
on. Four ways to cut, chosen with the ``chunk`` (and ``n_chunks``) options:

- a column name such as ``"year"``: one chunk per distinct value (a calendar field);
- a pandas period such as ``"M"``, ``"W"``, ``"Q"``, ``"Y"`` or a fixed step such as
  ``"30D"`` on the datetime time column: one chunk per period;
- an int: chunks of that many rows, in time order when there is a time column;
- ``n_chunks=k``: ``k`` chunks of equal size.

A last size-based chunk shorter than half a chunk joins the chunk before it, so no
alert comes from a handful of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError, did_you_mean, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: fewer reference chunks than this and thresholds come from equal reference chunks
MIN_REFERENCE_CHUNKS = 6
#: how many equal chunks the reference is cut into when its own chunking gives too few
FALLBACK_REFERENCE_CHUNKS = 10


@dataclass(frozen=True)
class ChunkSpec:
    """How to cut data into chunks: by ``column``, ``period``, ``size`` or ``count``."""

    kind: Literal["column", "period", "size", "count"]
    value: str | int
    time_column: str | None = None

    @classmethod
    def parse(
        cls,
        chunk: str | int | None,
        n_chunks: int | None,
        *,
        time_column: str | None,
        columns: list[str],
        what: str,
    ) -> ChunkSpec:
        """Validate the user's chunking options.

        Raises
        ------
        ValidationError
            Naming the option, the bad value and what would be accepted.
        """
        if n_chunks is not None:
            if chunk is not None:
                msg = (
                    f"{what}: give chunk={chunk!r} or n_chunks={n_chunks!r}, not both."
                )
                raise ValidationError(msg)
            if (
                isinstance(n_chunks, bool)
                or not isinstance(n_chunks, int)
                or n_chunks < 1
            ):
                msg = (
                    f"{what}(n_chunks={n_chunks!r}): expected a whole number of chunks "
                    ">= 1, e.g. 10."
                )
                raise ValidationError(msg)
            return cls("count", int(n_chunks), time_column)
        if chunk is None:
            return cls("count", FALLBACK_REFERENCE_CHUNKS, time_column)
        if isinstance(chunk, bool) or not isinstance(chunk, (int, str)):
            msg = (
                f"{what}(chunk={chunk!r}): expected a column name (e.g. 'year'), a "
                "pandas "
                "period of the time column (e.g. 'M', '30D') or a number of rows "
                "(e.g. 5000)."
            )
            raise ValidationError(msg)
        if isinstance(chunk, int):
            if chunk < 2:
                msg = f"{what}(chunk={chunk}): a chunk needs 2 rows or more; e.g. 5000."
                raise ValidationError(msg)
            return cls("size", int(chunk), time_column)
        if chunk in columns:
            return cls("column", chunk, time_column)
        if time_column is None:
            msg = (
                f"{what}(chunk={chunk!r}): {chunk!r} is not a column, and a period "
                "needs a "
                f"time column, but the reference has none. Columns: {listing(columns)}."
                f"{did_you_mean(chunk, columns)} Register the data with time='...' "
                "or chunk "
                "by rows (chunk=5000)."
            )
            raise ValidationError(msg)
        _check_period(chunk, what)
        return cls("period", chunk, time_column)

    def describe(self) -> str:
        """Describe the chunking in words."""
        if self.kind == "column":
            return f"one chunk per value of {self.value!r}"
        if self.kind == "period":
            return f"periods of {self.value!r} on {self.time_column!r}"
        if self.kind == "size":
            return f"{int(self.value):,} rows per chunk"
        return f"{self.value} equal chunks"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "value": self.value, "time_column": self.time_column}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChunkSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(d["kind"], d["value"], d.get("time_column"))


@dataclass(frozen=True)
class Chunks:
    """Chunks of one frame: a chunk number per row and a description per chunk.

    Attributes
    ----------
    codes : numpy.ndarray
        One int per row of the frame (in the frame's order): its chunk, 0..k-1.
    keys : list of str
        A label per chunk (``"2016"``, ``"2024-03"``, ``"[0:4999]"``).
    starts, ends : list of str
        First and last time (or row number) of each chunk.
    """

    codes: np.ndarray
    keys: list[str]
    starts: list[str]
    ends: list[str]

    @property
    def n(self) -> int:
        """Number of chunks."""
        return len(self.keys)

    @property
    def sizes(self) -> np.ndarray:
        """Rows per chunk."""
        import numpy as np

        return np.bincount(self.codes, minlength=self.n)


def _period_kind(value: str) -> str | None:
    """``"floor"`` for fixed steps ("30D", "h"), ``"period"`` for calendar periods."""
    import pandas as pd

    try:
        pd.Timestamp("2024-01-01").floor(value)
        return "floor"
    except (TypeError, ValueError):
        pass
    try:
        pd.Period("2024-01-01", freq=value)
    except (TypeError, ValueError):
        return None
    return "period"


def _check_period(value: str, what: str) -> None:
    if _period_kind(value) is None:
        msg = (
            f"{what}(chunk={value!r}): not a column and not a pandas period. Use a "
            "column name such as 'year', a period such as 'D', 'W', 'M', 'Q', 'Y' or "
            "'30D', or a number of rows."
        )
        raise ValidationError(msg)


def _order(frame: pd.DataFrame, time_column: str | None) -> np.ndarray:
    import numpy as np

    if time_column is None or time_column not in frame.columns:
        return np.arange(len(frame))
    return np.argsort(frame[time_column].to_numpy(), kind="stable")


def _text(value: Any) -> str:
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return str(value)


def period_keys(starts: Any, value: str) -> list[str]:
    """Name each period by its start, the same way whatever else is in the frame.

    Periods of a day or more are dates (``2026-01-02``); shorter ones keep the time
    (``2026-01-02 00:00:00`` too, so a midnight hour is named alike in every
    partition: ``Series.astype(str)`` drops the time when all values are midnights).
    """
    import pandas as pd

    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(value))
        whole_days = step >= pd.Timedelta(days=1)
    except (ValueError, TypeError):  # not a fixed length: calendar periods
        whole_days = True
    stamps = [pd.Timestamp(v) for v in starts]
    return [_text(t) if whole_days else str(t) for t in stamps]


def split(frame: pd.DataFrame, spec: ChunkSpec) -> Chunks:
    """Assign every row of ``frame`` to a chunk.

    Raises
    ------
    ValidationError
        When the chunking column is missing, or a period is asked of a column that
        does not hold dates.
    """
    import numpy as np
    import pandas as pd

    n = len(frame)
    if spec.kind in ("size", "count"):
        order = _order(frame, spec.time_column)
        size = int(spec.value) if spec.kind == "size" else max(1, n // int(spec.value))
        k = max(1, n // size)
        if spec.kind == "size" and n - k * size >= size / 2:
            k += 1  # a remainder of at least half a chunk is a chunk of its own
        pos_chunk = np.minimum(np.arange(n) // size, k - 1)
        codes = np.empty(n, dtype=np.int64)
        codes[order] = pos_chunk
        bounds = [
            (c * size, (c + 1) * size - 1 if c < k - 1 else n - 1) for c in range(k)
        ]
        keys = [f"[{a}:{b}]" for a, b in bounds]
        if spec.time_column and spec.time_column in frame.columns:
            t = frame[spec.time_column].to_numpy()[order]
            starts = [
                _text(pd.Timestamp(t[a]) if _is_time(t) else t[a]) for a, _ in bounds
            ]
            ends = [
                _text(pd.Timestamp(t[b]) if _is_time(t) else t[b]) for _, b in bounds
            ]
        else:
            starts = [str(a) for a, _ in bounds]
            ends = [str(b) for _, b in bounds]
        return Chunks(codes, keys, starts, ends)
    column = spec.value if spec.kind == "column" else spec.time_column
    if column not in frame.columns:
        msg = (
            f"chunking by {spec.describe()}: column {column!r} is missing. Columns: "
            f"{listing(frame.columns)}."
        )
        raise ValidationError(msg)
    values = frame[column]
    if spec.kind == "period":
        if not pd.api.types.is_datetime64_any_dtype(values):
            msg = (
                f"chunk={spec.value!r}: a period needs a datetime time column, but "
                f"{column!r} holds {values.dtype}. Chunk by its values instead "
                f"(chunk={column!r}) or by rows (chunk=5000)."
            )
            raise ValidationError(msg)
        floor = _period_kind(str(spec.value)) == "floor"
        if floor:
            sort_key = values.dt.floor(str(spec.value))
        else:
            labels = values.dt.to_period(str(spec.value))
            groups = labels.astype(str)
            sort_key = labels.dt.start_time
        uniques, codes = np.unique(sort_key.to_numpy(), return_inverse=True)
        if floor:
            keys = period_keys(uniques, str(spec.value))
        else:
            keys = []
            for c in range(len(uniques)):
                keys.append(str(groups.iloc[int(np.flatnonzero(codes == c)[0])]))
    else:
        uniques, codes = np.unique(
            values.astype(str).to_numpy()
            if values.dtype == object
            else values.to_numpy(),
            return_inverse=True,
        )
        keys = [_text(u) for u in uniques]
    codes = codes.astype(np.int64).ravel()
    t = frame[spec.time_column] if spec.time_column in frame.columns else None
    starts, ends = [], []
    for c in range(len(keys)):
        if t is not None:
            sub = t[codes == c]
            starts.append(_text(sub.min()))
            ends.append(_text(sub.max()))
        else:
            starts.append(keys[c])
            ends.append(keys[c])
    return Chunks(codes, keys, starts, ends)


def _is_time(values: np.ndarray) -> bool:
    import numpy as np

    return np.issubdtype(values.dtype, np.datetime64)


def reference_split(frame: pd.DataFrame, spec: ChunkSpec) -> tuple[Chunks, str]:
    """Cut the reference the same way, or in equal chunks when that gives too few.

    Returns
    -------
    (Chunks, str)
        The reference chunks and a sentence saying how they were made.
    """
    try:
        chunks = split(frame, spec)
    except ValidationError:
        chunks = None
    if chunks is not None and chunks.n >= MIN_REFERENCE_CHUNKS:
        return chunks, f"{chunks.n} reference chunks ({spec.describe()})"
    got = chunks.n if chunks is not None else 0
    fallback = ChunkSpec("count", FALLBACK_REFERENCE_CHUNKS, spec.time_column)
    chunks = split(frame, fallback)
    return chunks, (
        f"{chunks.n} equal reference chunks of about {len(frame) // chunks.n:,} rows "
        f"({spec.describe()} gives {got} reference chunk{'s' * (got != 1)}; thresholds "
        f"need at least {MIN_REFERENCE_CHUNKS})"
    )


#: a reference chunk with fewer rows than this cannot calibrate alert thresholds
MIN_CHUNK_ROWS = 30
#: nannyml's rule of thumb for univariate drift: about this many rows per chunk
RECOMMENDED_CHUNK_ROWS = 500
_COARSER = {"h": "D", "D": "W", "W": "M", "M": "Q", "ME": "Q", "Q": "Y", "QE": "Y"}


def small_chunks_warning(
    frame: pd.DataFrame, spec: ChunkSpec, chunks: Chunks, *, part: str = "reference"
) -> str | None:
    """Say which chunks are too small to calibrate thresholds, and how to chunk.

    Thresholds are the mean plus ``std`` standard deviations of the reference
    chunks' statistics. A chunk of a handful of rows gives a statistic that is
    mostly noise, which widens the thresholds until real drift never alerts. A
    chunk under :data:`MIN_CHUNK_ROWS` rows is called too small.

    Returns
    -------
    str or None
        A sentence naming the small chunks and a chunking that avoids them; None
        when every chunk is large enough.
    """
    small = [
        (k, int(n)) for k, n in zip(chunks.keys, chunks.sizes, strict=True)
        if n < MIN_CHUNK_ROWS
    ]  # fmt: skip
    if not small:
        return None
    shown = ", ".join(f"{k} ({n} row{'s' * (n != 1)})" for k, n in small[:6])
    more = f" and {len(small) - 6} more" if len(small) > 6 else ""
    effect = (
        "they widen the alert thresholds (mean + std standard deviations of the "
        "reference chunks' statistics) until real drift may never alert"
        if part == "reference"
        else "their statistics are mostly noise"
    )
    return (
        f"{len(small)} of {chunks.n} {part} chunk(s) hold fewer than "
        f"{MIN_CHUNK_ROWS} rows: {shown}{more}; {effect}. "
        f"{suggest_chunking(frame, spec)}"
    )


def suggest_chunking(frame: pd.DataFrame, spec: ChunkSpec) -> str:
    """Suggest a chunking that gives the reference enough chunks of enough rows."""
    n = len(frame)
    need = MIN_CHUNK_ROWS * MIN_REFERENCE_CHUNKS
    if n < need:
        return (
            f"The reference has only {n:,} rows: anchor the monitor to a larger "
            f"one (at least {need:,} rows, {MIN_REFERENCE_CHUNKS} chunks of "
            f"{MIN_CHUNK_ROWS})."
        )
    size = max(MIN_CHUNK_ROWS, min(RECOMMENDED_CHUNK_ROWS, n // MIN_REFERENCE_CHUNKS))
    text = (
        f"Chunk by rows instead, e.g. chunk={size} ({n // size:,} reference chunks; "
        f"nannyml suggests about {RECOMMENDED_CHUNK_ROWS} rows per chunk for "
        "univariate drift)"
    )
    coarser = _COARSER.get(str(spec.value)) if spec.kind == "period" else None
    if coarser is not None:
        try:
            alt = split(frame, ChunkSpec("period", coarser, spec.time_column))
        except ValidationError:
            alt = None
        if (
            alt is not None
            and alt.n >= MIN_REFERENCE_CHUNKS
            and alt.sizes.min() >= MIN_CHUNK_ROWS
        ):
            text += f", or by a coarser period (chunk={coarser!r})"
    return text + "."
