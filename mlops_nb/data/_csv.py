"""Reading CSV files as people have them: any common delimiter, padded cells.

The delimiter is sniffed among ``,`` ``;`` tab and ``|`` on the first 50 lines: a
candidate qualifies when it splits every line (quotes respected) into the same number
of fields, more than one; the one giving the most fields wins, ties going to the
earlier in that order (so a ``;`` file with decimal commas is read as ``;``, because
its header has no commas). With no candidate, the header's widest split wins, else
``,``. Whitespace that pads header
names and values (``a, b, c`` or ``" x " ;``) is stripped, and the columns and
headers that were stripped are recorded in ``frame.attrs`` so :meth:`DataAsset.check`
can say so. Types are inferred by pandas after stripping, so ``" 3 "`` is the number 3
and ``" NA"`` is missing.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, listing

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

#: candidate delimiters, in order of preference on a tie
DELIMITERS = (",", ";", "\t", "|")
#: where :func:`read_csv` records how it read a file
READ_ATTR = "mlops_nb.read"
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50


def sniff_delimiter(sample: str) -> str:
    """Return the delimiter of a CSV sample (``","`` when nothing else fits).

    Parameters
    ----------
    sample : str
        The first lines of the file.
    """
    lines = [ln for ln in sample.lstrip("\ufeff").splitlines() if ln.strip()]
    if len(lines) > _SNIFF_LINES:
        lines = lines[:_SNIFF_LINES]
    text = "\n".join(lines)
    best, best_fields = None, 1
    header_counts: dict[str, int] = {}
    for delim in DELIMITERS:
        try:
            rows = list(
                csv.reader(
                    io.StringIO(text),
                    delimiter=delim,
                    skipinitialspace=True,
                    strict=False,
                )
            )
        except csv.Error:
            continue
        rows = [r for r in rows if r]
        if not rows:
            continue
        header_counts[delim] = len(rows[0])
        widths = {len(r) for r in rows}
        if len(widths) == 1 and (n := widths.pop()) > best_fields:
            best, best_fields = delim, n
    if best is not None:
        return best
    # ragged rows: the header decides
    wide = [d for d in DELIMITERS if header_counts.get(d, 1) > 1]
    return max(wide, key=lambda d: header_counts[d]) if wide else ","


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file with a sniffed delimiter and stripped padding.

    Returns
    -------
    DataFrame
        With ``attrs[READ_ATTR]`` = ``{"delimiter": ..., "stripped_headers":
        [[raw, stripped], ...], "stripped_columns": [...]}``.

    Raises
    ------
    SchemaError
        When two headers become the same name once stripped.
    Exception
        Whatever pandas raises for a file it cannot parse (the caller wraps it).
    """
    import pandas as pd

    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    sample = head.decode("utf-8", errors="replace")
    if len(head) == _SNIFF_BYTES:  # drop a possibly cut last line
        sample = sample[: sample.rfind("\n") + 1] or sample
    delim = sniff_delimiter(sample)
    info: dict[str, Any] = {
        "delimiter": delim,
        "stripped_headers": [],
        "stripped_columns": [],
    }
    frame = None
    if not _sample_padded(sample, delim):
        frame = pd.read_csv(path, sep=delim, skipinitialspace=True)
        if _padded(frame):
            frame = None
    if frame is None:
        frame, info["stripped_headers"], info["stripped_columns"] = _read_stripped(
            path, delim
        )
    frame.attrs[READ_ATTR] = info
    return frame


def _sample_padded(sample: str, delim: str) -> bool:
    """Whether whitespace touches a delimiter or a line end in the sample."""
    space = "[ ]" if delim == "\t" else "[ \t]"
    d = re.escape(delim)
    pattern = re.compile(rf"(^|{d}){space}|{space}({d}|$)", re.MULTILINE)
    return pattern.search(sample.replace("\r\n", "\n")) is not None


def _padded(frame: pd.DataFrame) -> bool:
    """Whether any header or text value starts or ends with whitespace."""
    if any(isinstance(c, str) and c != c.strip() for c in frame.columns):
        return True
    return bool(_padded_columns(frame))


def _padded_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the text columns holding a value with whitespace at an end."""
    out = []
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if col.dtype.kind in "biufcmM":
            continue
        lengths = col.str.len()
        if ((lengths != col.str.strip().str.len()) & lengths.notna()).any():
            out.append(i)
    return out


def _read_stripped(path: Path, delim: str) -> tuple[pd.DataFrame, list, list[str]]:
    """Read every cell as text, strip it, then let pandas infer the types."""
    import pandas as pd

    text_opts: dict[str, Any] = {"sep": delim, "dtype": str, "keep_default_na": False}
    raw = pd.read_csv(path, skipinitialspace=True, na_filter=False, **text_opts)
    names = [str(c) for c in raw.columns]
    stripped_names = [n.strip() for n in names]
    dupes = sorted({n for n in stripped_names if stripped_names.count(n) > 1})
    if dupes:
        msg = (
            f"{path.name}: once the whitespace around them is removed, headers "
            f"{listing(dupes)} repeat. Rename them so each column has its own name."
        )
        raise SchemaError(
            msg, [{"column": d, "problem": "duplicate name"} for d in dupes]
        )
    raw_names, padded = _padding_in_cells(path, delim, len(names))
    raw_names = raw_names or names
    padded |= set(_padded_columns(raw))
    headers = [
        [a, b]
        for a, b in zip(raw_names, stripped_names, strict=True)
        if a != a.strip() or a.strip().strip('"') != b
    ]
    cleaned = {
        new: raw[old].str.strip()
        for old, new in zip(raw.columns, stripped_names, strict=True)
    }
    text = pd.DataFrame(cleaned).to_csv(index=False)
    frame = pd.read_csv(io.StringIO(text))
    return frame, headers, [stripped_names[i] for i in sorted(padded)]


def _padding_in_cells(path: Path, delim: str, width: int) -> tuple[list[str], set[int]]:
    """Header cells as written and the columns with padded cells.

    Quotes are not interpreted, so cells keep the spaces that ``skipinitialspace``
    hides; rows holding a quote are left out (a delimiter may sit inside the quotes),
    so cells stay aligned with their columns. Only the report depends on this.
    """
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings():  # rows with too many cells: left out
            warnings.simplefilter("ignore")
            cells = pd.read_csv(
                path,
                sep=delim,
                quoting=csv.QUOTE_NONE,
                header=None,
                names=range(width + 1),
                index_col=False,
                on_bad_lines="skip",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
            )
    except Exception:  # only reports; the values were read without it
        return [], set()
    quoted = pd.Series(False, index=cells.index)
    for i in range(width):
        quoted |= cells[i].str.contains('"', regex=False).fillna(False).astype(bool)
    aligned = cells[cells[width].isna() & ~quoted]
    if not len(aligned):
        return [], set()
    header: list[str] = []
    if aligned.index[0] == cells.index[0]:  # the header row itself is aligned
        header = [("" if pd.isna(v) else str(v)) for v in aligned.iloc[0, :width]]
        aligned = aligned.iloc[1:]
    return header, set(_padded_columns(aligned.iloc[:, :width]))
