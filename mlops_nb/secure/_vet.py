"""Vetting an open dataset before it joins the project: one verdict from five checks.

1. **Provenance** - a source and a licence are recorded (as inert text: a URL is never
   fetched); non-commercial, no-derivatives and unknown licences need review.
2. **Duplicates** - exact duplicate records inside the data.
3. **Leakage** - rows that already are in the project's assets, by row fingerprints
   (exact, and near: rounded numbers, normalised text). When both tables share an id
   column the id is part of the fingerprint; otherwise matches are compared with the
   share expected by chance for data of that kind (Good-Turing coverage ``1 - f1/n``
   of the other asset), because low-cardinality records (census microdata) coincide
   often. Overlap with a *test* asset means training on it leaks the test set.
4. **Relevance** - per-column Jensen-Shannon distance to the reference data and the
   share of the reference's columns the open data covers (Drift Ops has the full
   drift engine; this is the quick screen).
5. **Personal data** - the :func:`mlops_nb.secure.privacy` scan.

The verdict is ``reject`` when a check fails, ``review`` when one warns, else
``accept``; it is stored with the data version and the provenance is recorded as a
``provenance`` document (audited).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.secure._rows import js_distance, row_hashes

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.secure._vet_report import VetReport

OPEN_LICENCES = (
    "CC0-1.0",
    "CC-BY-4.0",
    "CC-BY-3.0",
    "CC-BY-SA-4.0",
    "CC-BY-SA-3.0",
    "ODbL-1.0",
    "ODC-By-1.0",
    "PDDL-1.0",
    "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0",
    "OGL-UK-3.0",
    "etalab-2.0",
    "DL-DE-BY-2.0",
    "DL-DE-ZERO-2.0",
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "Unlicense",
    "public-domain",
    "US-Government-Works",
)
_SHARE_ALIKE = ("-SA-", "ODbL", "Sharing")
_TEST_NAME = re.compile(r"(^|[-_.])test($|[-_.])", re.IGNORECASE)


def licence_status(licence: Any) -> tuple[str, str]:
    """``(status, sentence)`` for a licence string: ok, warn or fail."""
    if (
        not isinstance(licence, str)
        or not licence.strip()
        or licence.strip().lower() in ("unknown", "none")
    ):
        return "fail", "no licence recorded: without one you may not use the data"
    known = {x.lower(): x for x in OPEN_LICENCES}
    text = licence.strip()
    if re.search(r"-(NC|ND)\b", text, re.IGNORECASE):
        return (
            "warn",
            f"{text} restricts use (non-commercial or no derivatives): check your "
            f"use is allowed",
        )
    if text.lower() in known:
        canon = known[text.lower()]
        note = (
            "; share-alike: derived data must keep the licence"
            if any(s in canon for s in _SHARE_ALIKE)
            else ""
        )
        return "ok", f"{canon} is an open licence{note}"
    return (
        "warn",
        f"{text!r} is not a licence mlops_nb recognises (SPDX ids such as "
        f"CC-BY-4.0): read its terms",
    )


def _is_test(asset: DataAsset) -> bool:
    return asset.params.get("part") == "test" or bool(_TEST_NAME.search(asset.name))


def _overlap(new: DataAsset, other: DataAsset, decimals: int) -> dict[str, Any] | None:
    import numpy as np

    ids = [
        c
        for c in (other.schema.id, new.schema.id)
        if c and c in new.schema.names and c in other.schema.names
    ]
    shared_id = (
        ids[0] if ids else None
    )  # an id column both tables have (a role in either)
    skip = {
        new.schema.id,
        other.schema.id,
        new.schema.time,
        other.schema.time,
        new.schema.target,
        other.schema.target,
        None,
    }
    common = [c for c in new.schema.names if c in other.schema.names and c not in skip]
    if len(common) < 2:
        return None
    keys = [shared_id, *common] if shared_id else common
    a, b = new._frame_nocopy(), other._frame_nocopy()
    out = {
        "asset": other.label,
        "test": _is_test(other),
        "columns": len(keys),
        "by_id": bool(shared_id),
    }
    for kind, near in (("exact", False), ("near", True)):
        ha, hb = (
            row_hashes(a, keys, near=near, decimals=decimals),
            row_hashes(b, keys, near=near, decimals=decimals),
        )
        observed = int(np.isin(ha, hb).sum())
        _, counts = np.unique(hb, return_counts=True)
        chance = 0.0 if shared_id else 1 - float((counts == 1).sum()) / max(len(hb), 1)
        expected = len(ha) * chance
        sd = math.sqrt(max(expected * (1 - chance), 0.0))
        excess = observed - expected
        out[f"{kind}_rows"] = observed
        out[f"{kind}_expected"] = round(expected, 1)
        out[f"{kind}_excess"] = max(0, round(excess))
        out[f"{kind}_flag"] = bool(
            excess > max(5.0, 4 * sd, 0.005 * len(ha)) or (shared_id and observed > 0)
        )
    out["share"] = round(max(0.0, excess) / max(len(a), 1), 4)
    return out if out["exact_rows"] or out["near_rows"] else None


def _reference(
    project: Project, asset: DataAsset, reference: DataAsset | None
) -> DataAsset | None:
    if reference is not None:
        return reference
    best, best_key = None, (0, 0)
    for row in project.assets().itertuples():
        if row.name == asset.name:
            continue
        other = project.asset(row.name)
        if _is_test(other):
            continue
        key = (len(set(other.schema.names) & set(asset.schema.names)), other.n_rows)
        if key > best_key:
            best, best_key = other, key
    return best


def _relevance(asset: DataAsset, ref: DataAsset | None) -> dict[str, Any]:
    if ref is None:
        return {
            "reference": None,
            "coverage": None,
            "columns": [],
            "mean_distance": None,
        }
    skip = {ref.schema.id, ref.schema.time, asset.schema.id, asset.schema.time, None}
    ref_cols = [c for c in ref.schema.names if c not in skip]
    common = [c for c in ref_cols if c in asset.schema.names]
    a, r = asset._frame_nocopy(), ref._frame_nocopy()
    cols = [{"column": c, "distance": js_distance(r[c], a[c])} for c in common]
    dists = [float(c["distance"]) for c in cols if c["distance"] is not None]
    return {
        "reference": ref.label,
        "coverage": round(len(common) / max(len(ref_cols), 1), 4),
        "missing": [c for c in ref_cols if c not in common],
        "columns": cols,
        "mean_distance": round(sum(dists) / len(dists), 4) if dists else None,
    }


def vet(
    project: Project,
    data: Any,
    *,
    source: str,
    licence: str,
    name: str | None = None,
    reference: DataAsset | None = None,
    against: list[DataAsset] | None = None,
    decimals: int = 2,
    max_distance: float = 0.2,
) -> VetReport:
    """Vet an open dataset: provenance, duplicates/leakage, relevance and personal data.

    Parameters
    ----------
    project : Project
    data : DataAsset, DataFrame or path
        The open data; a frame or a file is first registered as asset ``name``.
    source : str
        Where it comes from (URL, publisher, DOI): recorded as text, never fetched.
    licence : str
        Its licence, as an SPDX id (``CC-BY-4.0``, ``CC0-1.0``, ``ODbL-1.0`` ...).
    name : str, optional
        Asset name when ``data`` is a frame or a path.
    reference : DataAsset, optional
        The data to score relevance against (default: the project asset sharing most
        columns, test splits excluded).
    against : list of DataAsset, optional
        Assets to check for overlap (default: the newest version of every other asset).
    decimals : int
        Rounding of numbers for near-duplicate fingerprints.
    max_distance : float
        Mean Jensen-Shannon distance above which relevance needs review.

    Returns
    -------
    VetReport
        ``verdict`` is ``accept``, ``review`` or ``reject``, with every check's reason.
    """
    from mlops_nb.data import DataAsset
    from mlops_nb.secure._privacy import privacy
    from mlops_nb.secure._vet_report import VetReport

    if not isinstance(source, str) or not source.strip() or len(source) > 2000:
        msg = (
            "vet(source=...): say where the data comes from (a URL, publisher or "
            "DOI; at most 2000 characters)."
        )
        raise ValidationError(msg)
    if not isinstance(data, DataAsset):
        if name is None:
            msg_0 = (
                "vet(data=<frame or path>): pass name='...' to register it as "
                "an asset first."
            )
            raise ValidationError(msg_0)
        data = project.data(name, data, note=f"open data from {source} ({licence})")
    asset = data
    status, sentence = licence_status(licence)
    checks = [
        {
            "check": "provenance",
            "status": status if source.strip() else "fail",
            "detail": f"source {source.strip()!r}; {sentence}",
        }
    ]
    frame = asset._frame_nocopy()
    dupes = int(frame.duplicated().sum())
    checks.append(
        {
            "check": "duplicates",
            "status": "warn" if dupes > 0.01 * len(frame) else "ok",
            "detail": f"{dupes:,} exact duplicate rows ({dupes / len(frame):.1%})",
        }
    )
    others = (
        against
        if against is not None
        else [project.asset(r) for r in project.assets()["name"] if r != asset.name]
    )
    overlaps = [
        o for o in (_overlap(asset, b, decimals) for b in others) if o is not None
    ]
    leaks = [o for o in overlaps if o["exact_flag"] or o["near_flag"]]
    test_leaks = [o for o in leaks if o["test"]]
    if test_leaks:
        detail = "; ".join(
            f"~{o['near_excess']:,} rows are in {o['asset']} (test data)"
            for o in test_leaks
        )
        checks.append(
            {
                "check": "leakage",
                "status": "fail",
                "detail": detail + ": training on them inflates "
                "test scores; drop those rows first",
            }
        )
    elif leaks:
        detail = "; ".join(
            f"~{o['near_excess']:,} rows already in {o['asset']}" for o in leaks
        )
        checks.append(
            {
                "check": "leakage",
                "status": "warn",
                "detail": detail + " (counted twice if added)",
            }
        )
    else:
        checks.append(
            {
                "check": "leakage",
                "status": "ok",
                "detail": f"no overlap beyond chance with {len(others)} project assets",
            }
        )
    ref = _reference(project, asset, reference)
    rel = _relevance(asset, ref)
    if ref is None:
        checks.append(
            {
                "check": "relevance",
                "status": "warn",
                "detail": "no reference data to compare with",
            }
        )
    else:
        far = [
            c["column"]
            for c in rel["columns"]
            if (c["distance"] or 0) > 2 * max_distance
        ]
        bad = rel["coverage"] < 0.5 or (rel["mean_distance"] or 0) > max_distance or far
        detail = (
            f"covers {rel['coverage']:.0%} of {rel['reference']}'s columns; mean "
            f"distance "
            f"{rel['mean_distance'] if rel['mean_distance'] is not None else '—'}"
            + (f"; far: {', '.join(far)}" if far else "")
        )
        checks.append(
            {"check": "relevance", "status": "warn" if bad else "ok", "detail": detail}
        )
    pii = privacy(asset)
    checks.append(
        {
            "check": "personal data",
            "status": "warn" if not pii.ok else "ok",
            "detail": "none found"
            if pii.ok
            else f"in {', '.join(pii.columns)}: mask or pseudonymize",
        }
    )
    statuses = {c["status"] for c in checks}
    verdict = (
        "reject" if "fail" in statuses else "review" if "warn" in statuses else "accept"
    )
    payload = {
        "asset": asset.label,
        "source": source.strip(),
        "licence": licence,
        "verdict": verdict,
        "checks": checks,
        "overlaps": overlaps,
        "relevance": rel,
        "pii": pii.findings,
        "content_hash": asset.content_hash,
    }
    key = (
        "vet:"
        + hashlib.sha256(
            json.dumps([source, licence, decimals, max_distance]).encode()
        ).hexdigest()[:12]
    )
    project._save_report("asset", asset.id, key, payload)
    project._save_document(
        "provenance",
        asset.label,
        {
            "source": source.strip(),
            "licence": licence,
            "content_hash": asset.content_hash,
            "verdict": verdict,
        },
        note=f"vet: {verdict}",
    )
    return VetReport(asset, payload)
