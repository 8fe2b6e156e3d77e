"""Write the Binder badge into the README, from the repository's GitHub remote.

A Binder link names the public repository (``mybinder.org/v2/gh/OWNER/REPO/REF``), which
a clone only knows from its ``origin`` remote. Run this once the repository is on GitHub:

    python tools/binder_badge.py --write              # OWNER/REPO from `git remote get-url origin`
    python tools/binder_badge.py OWNER/REPO --ref v0.1  # explicit, printed only

The badge opens JupyterLab on the first notebook of the suite, with mlops_nb installed
by ``binder/postBuild``. ``--write`` replaces the block between the README's
``<!-- binder-badge -->`` markers and leaves everything else as it was.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIRST_NOTEBOOK = "notebooks/00_business_value_canvas.ipynb"
BEGIN, END = "<!-- binder-badge -->", "<!-- /binder-badge -->"
_REMOTE = re.compile(
    r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


def repo_from_remote(url: str) -> str:
    """``OWNER/REPO`` of a GitHub remote URL (https, scp-like or ssh form)."""
    match = _REMOTE.match(url.strip())
    if not match:
        msg = f"not a GitHub remote: {url!r}; pass OWNER/REPO explicitly"
        raise ValueError(msg)
    return match["repo"]


def badge(repo: str, *, ref: str = "main", path: str = FIRST_NOTEBOOK) -> str:
    """Markdown of a Binder badge that opens ``path`` in JupyterLab."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise ValueError(f"repository must look like OWNER/REPO, got {repo!r}")
    url = f"https://mybinder.org/v2/gh/{repo}/{quote(ref, safe='')}?urlpath=lab/tree/{path}"
    return f"[![Launch the notebooks on Binder](https://mybinder.org/badge_logo.svg)]({url})"


def write(text: str, markdown: str) -> str:
    """``text`` with the block between the badge markers replaced by ``markdown``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN} ... {END} block")
    return text[: start + len(BEGIN)] + "\n" + markdown + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "repo", nargs="?", help="OWNER/REPO (default: the origin remote)"
    )
    parser.add_argument("--ref", default="main", help="branch, tag or commit (main)")
    parser.add_argument("--write", action="store_true", help="write it into README.md")
    args = parser.parse_args(argv)
    repo = args.repo
    if repo is None:
        done = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            print("no `origin` remote: pass OWNER/REPO", file=sys.stderr)
            return 2
        repo = repo_from_remote(done.stdout)
    markdown = badge(repo, ref=args.ref)
    if args.write:
        README.write_text(
            write(README.read_text(encoding="utf-8"), markdown), encoding="utf-8"
        )
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
