"""Safe loading of model versions (SECURITY-TESTS T10, T11, T12, T14)."""

from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile

import pytest

import mlops_nb as mnb
from _helpers import reopen
from mlops_nb import errors
from mlops_nb.model import _persist


class Canary:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _point_model_at(project, model, key, data):
    """Simulate a hostile registry edit: store ``data`` and point the model's file at
    it."""
    digest = project._store.put_blob(data, media_type="x")
    artifacts = {**model.artifacts, key: digest}
    with project._store.write() as conn:
        project._store.record_blob(conn, digest, len(data), "x")
        conn.execute(
            "UPDATE model_versions SET artifacts = ? WHERE id = ?",
            (json.dumps(artifacts), model.id),
        )
    return digest


@pytest.mark.parametrize("wrap", ["plain", "gzip", "as-zip-name"])
def test_pickle_payloads_are_refused_before_unpickling(project, lgbm, tmp_path, wrap):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Canary(str(marker)))
    if wrap == "gzip":
        import gzip

        payload = gzip.compress(payload)
    for key in ("prep", "booster"):
        data = payload  # the name never matters: bytes decide
        digest = _point_model_at(project, lgbm, key, data)
        fresh = reopen(project).model("clf", version=1)
        with pytest.raises(errors.UnsafeFormatError, match=digest):
            fresh.predict(reopen(project).asset("tiny-test").frame)
    assert not marker.exists()


def test_untrusted_skops_types_are_listed_and_refused(tmp_path):
    import operator

    import skops.io as sio

    data = sio.dumps({"f": operator.methodcaller("__class__")})
    with pytest.raises(errors.UnsafeFormatError, match="methodcaller") as info:
        _persist.load_skops(data, artifact="a" * 64)
    assert "operator.methodcaller" in info.value.failure_cases["type"].tolist()


def test_a_rewritten_schema_never_imports_the_named_module(monkeypatch):
    import importlib

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    buf = io.BytesIO(sio.dumps(LogisticRegression()))
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            content = zin.read(item.filename)
            if item.filename == "schema.json":
                content = content.replace(
                    b"sklearn.linear_model._logistic", b"mnb_canary_module"
                )
            zout.writestr(item, content)
    imported = []
    real = importlib.import_module
    monkeypatch.setattr(
        importlib,
        "import_module",
        lambda name, *a: imported.append(name) or real(name, *a),
    )
    with pytest.raises(errors.UnsafeFormatError, match="mnb_canary_module"):
        _persist.load_skops(out.getvalue(), artifact="b" * 64)
    assert "mnb_canary_module" not in imported
    assert "mnb_canary_module" not in sys.modules


@pytest.mark.embedded_only  # edits a blob file in the folder (S3: tests/team)
def test_changed_bytes_are_caught_before_any_parser(project, lgbm, monkeypatch):
    import lightgbm
    import skops.io

    calls = []
    monkeypatch.setattr(lightgbm, "Booster", lambda *a, **k: calls.append("Booster"))
    monkeypatch.setattr(skops.io, "loads", lambda *a, **k: calls.append("skops"))
    blob = (
        project.path
        / "artifacts"
        / lgbm.artifacts["booster"][:2]
        / lgbm.artifacts["booster"]
    )
    blob.write_bytes(blob.read_bytes().replace(b"tree\n", b"tree \n", 1))
    fresh = reopen(project).model("clf", version=1)
    with pytest.raises(errors.IntegrityError, match=lgbm.artifacts["booster"]):
        fresh.predict_proba(reopen(project).asset("tiny-test").frame)
    assert calls == []


def test_metadata_cannot_choose_the_loader(project, lgbm, tmp_path):
    """A row naming a loader module or an outside path is never followed (T11)."""
    with project._store.write() as conn:
        conn.execute("UPDATE model_versions SET flavor = 'evil.loader', "
                     "artifacts = ? WHERE id = ?",
                     (json.dumps({"prep": "../../outside/evil.pkl"}),
                      lgbm.id))  # fmt: skip
    fresh = reopen(project).model("clf", version=1)
    with pytest.raises(errors.IntegrityError, match="not a SHA-256"):
        fresh.predict(reopen(project).asset("tiny-test").frame)
    assert "evil" not in sys.modules


def test_only_the_allowlisted_loader_passes_trusted_types():
    """T12(c): mlops_nb never hands get_untrusted_types() straight to trusted=."""
    from pathlib import Path

    sources = {p: p.read_text() for p in Path(mnb.__file__).parent.rglob("*.py")}
    users = [p.name for p, s in sources.items() if "trusted=" in s and "loads(" in s]
    # the MLflow pyfunc loader is shipped inside exported folders and cannot import
    # mlops_nb: it carries the same list, and passes only that list
    assert sorted(users) == ["_mlflow_pyfunc_loader.py", "_persist.py"]
    from mlops_nb.interop import _mlflow_pyfunc_loader as shipped

    assert shipped.TRUSTED_TYPES == _persist.TRUSTED_TYPES
    loader = sources[Path(shipped.__file__)]
    assert loader.count("trusted=") == 1
    assert "trusted=list(TRUSTED_TYPES)" in loader
    assert "get_untrusted_types" not in loader
    body = sources[Path(_persist.__file__)]
    load = body[body.index("def load_skops") : body.index("def dump_booster")]
    assert load.index("TRUSTED_TYPES") < load.index("sio.loads(")


def test_swapped_files_are_refused_at_load_even_when_unparsed(project, lgbm):
    """Both files are intact; the registry points each key at the other's bytes."""
    arts = lgbm.artifacts
    with project._store.write() as conn:
        swapped = {**arts, "prep": arts["booster"], "booster": arts["prep"]}
        conn.execute(
            "UPDATE model_versions SET artifacts = ? WHERE id = ?",
            (json.dumps(swapped), lgbm.id),
        )
    fresh = reopen(project).model("clf", version=1)
    frame = reopen(project).asset("tiny-test").frame
    with pytest.raises(errors.IntegrityError, match=r"\('prep'\) holds lightgbm data"):
        fresh.predict(frame.head(1))  # a small batch would parse neither file
