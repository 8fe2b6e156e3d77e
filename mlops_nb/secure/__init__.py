"""Sec Ops: integrity, confidentiality, poisoning defences and robust aggregation.

Every artifact is content-addressed and re-hashed when read (:mod:`mlops_nb.store`);
on top of that a model version's *manifest* - its files' SHA-256, the data versions it
learnt from, its base model's hash, its recipe, name and version - can be signed with
the project's Ed25519 key and is verified before the version loads
(:func:`sign_model`, :func:`verify_model`, :func:`diff_manifest` for folders such as
edge bundles). Data is screened before it is trusted: personal data per column with
masking and keyed pseudonymization (:func:`privacy`), suspected flipped labels and
outliers per version by confident learning (:func:`poisoning`) and their trend across
versions with change-point alerts (:func:`poisoning_trend`), open datasets vetted for
provenance, licence, leakage, relevance and personal data in one verdict
(:func:`vet`), files pinned by hash (:func:`ingest`) and sources capped
(:func:`assemble`). Partner models are combined by rules that survive hostile
partners, with a trust score for each (:func:`aggregate`), and a base model is
fine-tuned only when its provenance is established (:func:`require_trusted_base`).

Examples
--------
>>> import numpy as np, mlops_nb as mnb
>>> updates = [np.array([1.0, 2.0]), np.array([1.1, 2.1]), np.array([0.9, 1.9]),
...            np.array([100.0, -100.0])]
>>> mnb.secure.aggregate(updates, method="median").model.round(2)
array([1.05, 1.95])
"""

from __future__ import annotations

from mlops_nb.secure._aggregate import METHODS, aggregate
from mlops_nb.secure._aggregate_report import AggregationResult
from mlops_nb.secure._envelope import sign_manifest, verify_envelope
from mlops_nb.secure._keys import generate_key, public_key
from mlops_nb.secure._manifest import (
    ManifestDiff,
    diff_manifest,
    folder_manifest,
    scan_folder,
)
from mlops_nb.secure._pinning import assemble, ingest
from mlops_nb.secure._poisoning import find_label_issues, poisoning
from mlops_nb.secure._privacy import PrivacyReport, privacy
from mlops_nb.secure._reports import PoisoningReport
from mlops_nb.secure._signature_check import SignatureCheck
from mlops_nb.secure._signing import (
    model_digest,
    model_manifest,
    require_signatures,
    sign_model,
    signature_problems,
    verify_model,
)
from mlops_nb.secure._transfer import BaseModel, require_trusted_base, trust_base_model
from mlops_nb.secure._trend import PoisoningTrend, poisoning_trend
from mlops_nb.secure._vet import licence_status, vet
from mlops_nb.secure._vet_report import VetReport

__all__ = [
    "METHODS",
    "AggregationResult",
    "BaseModel",
    "ManifestDiff",
    "PoisoningReport",
    "PoisoningTrend",
    "PrivacyReport",
    "SignatureCheck",
    "VetReport",
    "aggregate",
    "assemble",
    "diff_manifest",
    "find_label_issues",
    "folder_manifest",
    "generate_key",
    "ingest",
    "licence_status",
    "model_digest",
    "model_manifest",
    "poisoning",
    "poisoning_trend",
    "privacy",
    "public_key",
    "require_signatures",
    "require_trusted_base",
    "scan_folder",
    "sign_manifest",
    "sign_model",
    "signature_problems",
    "trust_base_model",
    "verify_envelope",
    "verify_model",
    "vet",
]


def __dir__() -> list[str]:
    return list(__all__)
