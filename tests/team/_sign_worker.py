"""Subprocess entry point: one team member's machine signing a model version.

Usage: python _sign_worker.py URL ARTIFACTS NAME VERSION

Opens the team project (this machine's folder comes from ``MLOPS_NB_TEAM_HOME``),
signs ``NAME`` v``VERSION`` with this member's key (made on first use) and prints
``{"public_key", "fingerprint", "status"}`` as one JSON line.
"""

from __future__ import annotations

import json
import sys

import mlops_nb as mnb
from mlops_nb.secure._trust import fingerprint


def main() -> None:
    url, artifacts, name, version = sys.argv[1:5]
    proj = mnb.Project.open(url, artifacts=artifacts)
    check = mnb.secure.sign_model(proj.model(name, int(version)))
    public = mnb.secure.public_key(proj)
    line = {
        "public_key": public,
        "fingerprint": fingerprint(public),
        "status": check.status,
        "folder": str(proj.path),
    }
    print(json.dumps(line), flush=True)
    proj._store.close()


if __name__ == "__main__":
    main()
