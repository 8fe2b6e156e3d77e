"""Edge bundles run with numpy and onnxruntime alone, and refuse any changed byte."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

import mlops_nb as mnb
from mlops_nb.deploy import EdgeBundle
from mlops_nb.deploy._standalone import MANIFEST
from mlops_nb.errors import ValidationError

SITE = sysconfig.get_paths()["purelib"]

#: Runs in a process where mlops_nb is not importable: isolated mode, no site module
#: (so the editable install's .pth finder never runs), site-packages appended by hand
#: for numpy and onnxruntime only, the bundle folder as working directory.
RUNNER = r"""
import importlib.util, json, runpy, sys
sys.path.append(SITE)
assert importlib.util.find_spec("mlops_nb") is None, "mlops_nb is importable"
results = {}
for name, folder, argv in json.loads(sys.argv[1]):
    sys.argv = ["predict.py", *argv]
    import io, contextlib
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(folder + "/predict.py", run_name="__main__")
        except SystemExit as stop:
            code = stop.code
        except SyntaxError:  # a changed byte can break the script itself
            code = "SyntaxError"
    results[name] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}
heavy = ("pandas", "sklearn", "mlops_nb", "lightgbm", "skl2onnx")
results["_modules"] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(results))
"""


def run_isolated(cases, cwd):
    code = RUNNER.replace("SITE", repr(SITE))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, json.dumps(cases)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bundle(dep, tmp_path_factory):
    with mnb.config_context(user="tester"):
        variants = dep.lgbm.optimize(
            dep.test,
            kinds=("pruned",),
            energy=False,
            memory=False,
            latency_seconds=0.02,
        )
        variant = variants["pruned: first 20 of 40 trees"]
        folder = tmp_path_factory.mktemp("edge") / "clf"
        return variant, variant.bundle(folder)


def _rows(dep, n=5):
    X = dep.lgbm._X(dep.test.frame.head(n), "t")
    rows = []
    for rec in X.to_dict("records"):
        rows.append(
            {
                k: (
                    None
                    if v == "(missing)"
                    else (None if isinstance(v, float) and np.isnan(v) else v)
                )
                for k, v in rec.items()
            }
        )
    return rows


def test_bundle_files_manifest_and_zip(bundle):
    variant, b = bundle
    assert isinstance(b, EdgeBundle)
    names = sorted(p.name for p in b.folder.iterdir())
    assert names == [
        "README.md",
        "manifest.json",
        "model.onnx",
        "predict.py",
        "schema.json",
    ]
    manifest = json.loads((b.folder / MANIFEST).read_text())
    assert set(manifest["files"]) == {
        "README.md",
        "model.onnx",
        "predict.py",
        "schema.json",
    }
    assert (b.folder / "model.onnx").read_bytes() == variant.onnx_bytes
    schema = json.loads((b.folder / "schema.json").read_text())
    assert [i["name"] for i in schema["inputs"]] == ["x1", "x2", "color", "size"]
    assert (
        "(missing)"
        in next(i for i in schema["inputs"] if i["name"] == "color")["categories"]
    )
    with zipfile.ZipFile(b.zip_path) as zf:
        assert sorted(zf.namelist()) == sorted(f"clf/{n}" for n in names)
        assert zf.read("clf/model.onnx") == variant.onnx_bytes
    assert b.zip_path == b.folder.with_name("clf.zip")
    readme = (b.folder / "README.md").read_text()
    assert "numpy and onnxruntime" in readme
    assert "python -I predict.py" in readme
    html = b._repr_mimebundle_()["text/html"]
    assert b.manifest_sha256 in html
    assert "predict.py" in html


def test_predict_py_runs_without_mlops_nb_and_refuses_changed_bytes(
    bundle, dep, tmp_path
):
    variant, b = bundle
    rows = _rows(dep)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    header = list(rows[0])
    lines = [",".join(header)] + [
        ",".join("" if r[k] is None else str(r[k]) for k in header) for r in rows
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    bad = [
        {**rows[0], "color": "purple"},
        {k: v for k, v in rows[1].items() if k != "x1"},
    ]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    cases = [
        ["json", str(b.folder), [str(tmp_path / "rows.json")]],
        ["csv", str(b.folder), [str(tmp_path / "rows.csv"), "--format", "csv"]],
        ["verify", str(b.folder), ["--verify", "--manifest-sha256", b.manifest_sha256]],
        ["pinned-wrong", str(b.folder), ["--verify", "--manifest-sha256", "0" * 64]],
        ["bad", str(b.folder), [str(tmp_path / "bad.json"), "--strict"]],
    ]
    for name in [
        "model.onnx",
        "schema.json",
        "predict.py",
        "README.md",
        "manifest.json",
    ]:
        copy = tmp_path / f"tampered-{name}"
        shutil.copytree(b.folder, copy)
        data = bytearray((copy / name).read_bytes())
        i = (
            200 if name == "predict.py" else len(data) // 2
        )  # predict.py: in its docstring
        data[i] = (data[i] + 1) % 256  # one changed byte
        (copy / name).write_bytes(bytes(data))
        cases.append([f"tampered {name}", str(copy), [str(tmp_path / "rows.json")]])
    broken = tmp_path / "broken-predict"
    shutil.copytree(b.folder, broken)
    code = (broken / "predict.py").read_text().replace("def main(", "def main((", 1)
    (broken / "predict.py").write_text(code)
    cases.append(["broken", str(broken), [str(tmp_path / "rows.json")]])
    missing = tmp_path / "missing-schema"
    shutil.copytree(b.folder, missing)
    (missing / "schema.json").unlink()
    cases.append(["missing", str(missing), [str(tmp_path / "rows.json")]])
    out = run_isolated(cases, cwd=b.folder)
    assert out["_modules"] == []  # no pandas, no scikit-learn, no mlops_nb
    ok = out["json"]
    assert ok["code"] in (0, None), ok["err"]
    result = json.loads(ok["out"])
    expected = variant.predict_proba(dep.test.frame.head(5))
    np.testing.assert_allclose(np.asarray(result["probabilities"]), expected, atol=1e-6)
    assert result["classes"] == [0, 1]
    assert out["csv"]["code"] in (0, None), out["csv"]["err"]
    assert out["csv"]["out"].splitlines()[0] == "prediction,proba_0,proba_1"
    assert len(out["csv"]["out"].splitlines()) == 6
    assert out["verify"]["code"] in (0, None)
    assert "verified" in out["verify"]["out"]
    assert out["pinned-wrong"]["code"] == 3
    assert out["bad"]["code"] == 2
    assert "'purple'" in out["bad"]["err"]
    assert "unseen_category" in out["bad"]["err"]
    assert "'x1' is missing" in out["bad"]["err"]
    for name in [
        "model.onnx",
        "schema.json",
        "predict.py",
        "README.md",
        "manifest.json",
    ]:
        r = out[f"tampered {name}"]
        assert r["code"] == 3, (name, r)
        assert "refusing to run" in r["err"]
        assert r["out"] == ""
    assert out["broken"]["code"] == "SyntaxError"
    assert out["broken"]["out"] == ""
    assert out["missing"]["code"] == 3
    assert "schema.json: missing" in out["missing"]["err"]


def test_bundle_paths_are_validated(bundle, dep, tmp_path):
    variant, b = bundle
    with pytest.raises(ValidationError, match="not empty"):
        variant.bundle(b.folder)
    again = variant.bundle(b.folder, overwrite=True)  # replaces its own previous bundle
    assert again.manifest_sha256 != ""
    assert (b.folder / "model.onnx").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(ValidationError, match="other files"):
        variant.bundle(other, overwrite=True)
    assert (other / "todo.txt").read_text() == "keep me"
    with pytest.raises(ValidationError, match="inside the project folder"):
        variant.bundle(dep.project.path / "edge")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target", target_is_directory=True)
    with pytest.raises(ValidationError, match="symbolic link"):
        variant.bundle(link)
    assert not (tmp_path / "target").exists()
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(ValidationError, match="is a file"):
        variant.bundle(afile)
    for bad in ("", "   ", None):
        with pytest.raises(ValidationError, match="folder path"):
            variant.bundle(bad)
    outside = tmp_path / "sibling"
    outside.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValidationError, match="end in a folder name"):
        variant.bundle(tmp_path / "new" / "..")
    fresh = variant.bundle(tmp_path / "fresh")
    after = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(set(after) - set(before)) == ["fresh", "fresh.zip"]
    assert list(outside.iterdir()) == []
    assert fresh.folder.parent == tmp_path
    log = dep.project.audit_log()
    assert (log["action"] == "bundle").sum() >= 2
