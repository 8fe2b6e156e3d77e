"""Helpers to write notebook cells in ``tools/notebooks/*.py``."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell


def md(text: str):
    """A markdown cell."""
    return new_markdown_cell(text.strip())


def code(text: str, *tags: str):
    """A code cell, optionally tagged (``"parameters"`` for papermill)."""
    cell = new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell
