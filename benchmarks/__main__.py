"""``python -m benchmarks [--quick] [--only NAME]``: run, print a table, save JSON.

The markdown table goes to stdout; progress goes to stderr. The results, with raw
samples and the environment, are written to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

import benchmarks
from benchmarks._registry import BENCHMARKS, Config, Row

RESULTS = Path(__file__).resolve().parent / "results"

#: Distributions whose versions are recorded with the results.
VERSIONS = (
    "mlops-nb",
    "nannyml",
    "pandas",
    "numpy",
    "pyarrow",
    "mlflow",
    "onnxruntime",
    "sqlalchemy",  # the team benchmark's store: PostgreSQL through psycopg 3,
    "psycopg",  # artifacts through s3fs on a moto server
    "s3fs",
    "moto",
)


def discover() -> None:
    """Import every ``benchmarks.bench_*`` module so it registers itself."""
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        if info.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{info.name}")


def format_value(value: float | None, unit: str) -> str:
    """Format a measurement for the table (``"—"`` when missing).

    Parameters
    ----------
    value : float or None
        The measurement.
    unit : {"s", "MB"}
        Seconds are shown in ms below one second.

    Returns
    -------
    str
        E.g. ``"1.94 ms"``, ``"41 ms"``, ``"2.48 s"``, ``"612 MB"``.
    """
    if value is None:
        return "—"
    if unit == "s":
        if value < 0.01:  # three figures, so a ratio can be checked from the table
            return f"{value * 1000:.2f} ms"
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def format_ratio(row: Row) -> str:
    """``peer / ours`` as ``"6.1x faster"`` (or ``"2.0x slower"`` when below 1)."""
    ratio = row.ratio
    if ratio is None:
        return "—"
    better, worse = ("smaller", "larger") if row.unit == "MB" else ("faster", "slower")
    if ratio >= 1:
        return f"{ratio:.1f}x {better}"
    return f"{1 / ratio:.1f}x {worse}"


def markdown_table(rows: list[Row]) -> str:
    """Render result rows as one markdown table.

    Parameters
    ----------
    rows : list of Row
        The rows of every benchmark, in order.

    Returns
    -------
    str
        Columns: benchmark | mlops_nb | peer | ratio | notes.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        '| benchmark | mlops_nb | peer | ratio (peer/ours, "x faster") | notes |',
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        peer = format_value(row.peer, row.unit)
        if row.peer is not None and row.peer_name:
            peer = f"{peer} ({row.peer_name})"
        cells = (
            row.benchmark,
            format_value(row.ours, row.unit),
            peer,
            format_ratio(row),
            row.notes,
        )
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Side-by-side benchmarks of mlops_nb; prints a markdown table.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: smaller data and fewer repetitions",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeatable); see --list",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the benchmarks and exit"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the JSON results (default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; print the table; write the JSON results.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every benchmark ran, 1 when any failed, 2 for an unknown name.
    """
    args = _parse(argv)
    discover()
    if args.list:
        for bench in BENCHMARKS.values():
            print(f"{bench.name:16} {bench.description}")
        return 0
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        known = ", ".join(BENCHMARKS)
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {known}",
            file=sys.stderr,
        )
        return 2

    config = Config(quick=args.quick)
    started = time.perf_counter()
    rows: list[Row] = []
    results: dict[str, Any] = {}
    failed = False
    for name in names:
        bench = BENCHMARKS[name]
        print(
            f"[benchmarks] {name}: {bench.description} ...", file=sys.stderr, flush=True
        )
        t0 = time.perf_counter()
        try:
            bench_rows = bench.run(config)
            error = None
        except Exception as err:  # one broken benchmark must not hide the others
            failed = True
            error = "".join(traceback.format_exception_only(err)).strip()
            traceback.print_exc()
            bench_rows = [Row(name, None, notes=f"FAILED: {error.splitlines()[0]}")]
        elapsed = time.perf_counter() - t0
        print(f"[benchmarks] {name}: {elapsed:.1f} s", file=sys.stderr, flush=True)
        rows.extend(bench_rows)
        results[name] = {
            "description": bench.description,
            "duration_s": elapsed,
            "error": error,
            "rows": [r.to_dict() for r in bench_rows],
        }

    print(markdown_table(rows))
    document = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "duration_s": time.perf_counter() - started,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": _versions(),
        "benchmarks": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"[benchmarks] results written to {args.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
