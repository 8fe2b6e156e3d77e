"""Write the companion notebooks from ``tools/notebooks/<name>.py`` (each defines CELLS).

Keeping the cells in Python files makes notebook diffs readable in review; the
committed ``.ipynb`` files are the output and carry no outputs. Run after editing:
``.venv/bin/python tools/make_notebooks.py [name ...]``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

TOOLS = Path(__file__).resolve().parent
OUT = TOOLS.parent / "notebooks"
# notebooks shipped inside the package rather than in notebooks/
PACKAGED = {"retrain_report": TOOLS.parent / "mlops_nb" / "model"}
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def build(source: Path) -> Path:
    """Write ``notebooks/<stem>.ipynb`` from one cell file and return its path."""
    spec = importlib.util.spec_from_file_location(source.stem, source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nb = new_notebook(cells=module.CELLS)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem[:2]}-{i:02d}"  # stable ids keep diffs small
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    target = PACKAGED.get(source.stem, OUT) / f"{source.stem}.ipynb"
    nbformat.write(nb, target)
    return target


def main(names: list[str]) -> int:
    """Build the named notebooks (all when none are named)."""
    sys.path.insert(0, str(TOOLS))
    sources = sorted((TOOLS / "notebooks").glob("*.py"))
    for source in sources:
        if not names or source.stem in names:
            print(f"wrote {build(source)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
