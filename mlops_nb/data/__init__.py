"""DataOps: immutable, content-hashed data versions with schema, quality and lineage.

A :class:`DataAsset` is one version of a named table in a project. Registering the same
data again returns the same version; different data under the same name becomes the
next version with its parent recorded. Each version carries an inferred schema (column
kinds and the roles target, sensitive, time and id), can be profiled and checked, and
derives new versions (split, filter, transform) whose lineage is kept.
"""

from mlops_nb.data._agreement import Agreement
from mlops_nb.data._annotate import AnnotationSession
from mlops_nb.data._asset import DataAsset
from mlops_nb.data._check import CheckReport
from mlops_nb.data._features import FeatureReport
from mlops_nb.data._lineage import Lineage
from mlops_nb.data._profile import Profile
from mlops_nb.data._recipe import apply_recipe
from mlops_nb.data._schema import KINDS, ColumnSpec, Schema, infer_schema
from mlops_nb.data._synth import SynthesisReport

__all__ = [
    "KINDS",
    "Agreement",
    "AnnotationSession",
    "CheckReport",
    "ColumnSpec",
    "DataAsset",
    "FeatureReport",
    "Lineage",
    "Profile",
    "Schema",
    "SynthesisReport",
    "apply_recipe",
    "infer_schema",
]
