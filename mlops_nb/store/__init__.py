"""The embedded project store.

A project is a folder holding ``registry.sqlite`` (metadata, WAL mode, migrations, an
append-only hash-chained audit log) and ``artifacts/`` (files named by their SHA-256,
verified whenever they are read). Names given by users are metadata only: on-disk
paths come from hashes alone.
"""

from mlops_nb.store._artifacts import ArtifactStore, is_contained, sha256_bytes
from mlops_nb.store._db import SCHEMA_VERSION, Registry
from mlops_nb.store._names import MAX_NAME_LENGTH, validate_name
from mlops_nb.store._store import Store, VerifyResult

__all__ = [
    "MAX_NAME_LENGTH",
    "SCHEMA_VERSION",
    "ArtifactStore",
    "Registry",
    "Store",
    "VerifyResult",
    "is_contained",
    "sha256_bytes",
    "validate_name",
]
