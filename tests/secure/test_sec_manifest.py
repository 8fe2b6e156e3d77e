"""T15: a multi-file manifest diff names every change by relative path."""

from __future__ import annotations

import os

import pytest

from mlops_nb import errors
from mlops_nb.secure import ManifestDiff, diff_manifest, folder_manifest, scan_folder


@pytest.fixture
def bundle(tmp_path):
    root = tmp_path / "bundle"
    (root / "sub").mkdir(parents=True)
    files = {
        "model.onnx": b"onnx bytes",
        "schema.json": b'{"a": 1}',
        "predict.py": b"print(1)",
        "sub/extra.txt": b"extra",
        "manifest.json": b"{}",
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return root, folder_manifest(root, ignore=["manifest.json"])


def test_an_untouched_folder_matches(bundle):
    root, manifest = bundle
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.ok
    assert diff.checked == 4
    assert diff.by_path() == {}
    diff.raise_if_changed()


def test_added_file(bundle):
    root, manifest = bundle
    (root / "backdoor.py").write_bytes(b"import os")
    assert diff_manifest(manifest, root, ignore=["manifest.json"]).by_path() == {
        "backdoor.py": "added"
    }


def test_deleted_file(bundle):
    root, manifest = bundle
    (root / "sub" / "extra.txt").unlink()
    assert diff_manifest(manifest, root, ignore=["manifest.json"]).by_path() == {
        "sub/extra.txt": "deleted"
    }


def test_renamed_file(bundle):
    root, manifest = bundle
    (root / "predict.py").rename(root / "run.py")
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.by_path() == {"run.py": "renamed"}
    assert "predict.py" in diff.changes[0].detail


def test_one_modified_byte(bundle):
    root, manifest = bundle
    data = bytearray((root / "model.onnx").read_bytes())
    data[3] ^= 1
    (root / "model.onnx").write_bytes(bytes(data))
    assert diff_manifest(manifest, root, ignore=["manifest.json"]).by_path() == {
        "model.onnx": "modified"
    }


def test_swapped_contents(bundle):
    root, manifest = bundle
    a, b = (root / "model.onnx").read_bytes(), (root / "schema.json").read_bytes()
    (root / "model.onnx").write_bytes(b)
    (root / "schema.json").write_bytes(a)
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.by_path() == {"model.onnx": "swapped", "schema.json": "swapped"}


def test_symlink_added_and_symlink_replacing_a_file(bundle, tmp_path):
    root, manifest = bundle
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    (root / "link.txt").symlink_to(outside)
    (root / "predict.py").unlink()
    (root / "predict.py").symlink_to(outside)
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.by_path() == {"link.txt": "symlink", "predict.py": "symlink"}
    with pytest.raises(errors.IntegrityError, match=r"predict\.py: symlink"):
        diff.raise_if_changed()


def test_symlinked_directory_is_not_followed(bundle, tmp_path):
    root, manifest = bundle
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x").write_bytes(b"x")
    (root / "dir").symlink_to(elsewhere, target_is_directory=True)
    assert diff_manifest(manifest, root, ignore=["manifest.json"]).by_path() == {
        "dir": "symlink"
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos here")
def test_special_files_and_hard_links(bundle, tmp_path):
    root, manifest = bundle
    os.mkfifo(root / "pipe")
    os.link(root / "schema.json", tmp_path / "hardlink-outside")
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.by_path() == {"pipe": "special", "schema.json": "special"}


def test_every_kind_at_once_is_listed(bundle):
    root, manifest = bundle
    (root / "new.bin").write_bytes(b"new")
    (root / "sub" / "extra.txt").unlink()
    (root / "predict.py").rename(root / "main.py")
    (root / "model.onnx").write_bytes(b"tampered")
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert diff.by_path() == {
        "new.bin": "added",
        "sub/extra.txt": "deleted",
        "main.py": "renamed",
        "model.onnx": "modified",
    }
    assert not diff.ok
    assert set(diff.to_frame()["path"]) == set(diff.by_path())


def test_ignore_rules_are_explicit(bundle):
    root, manifest = bundle
    (root / "manifest.json").write_bytes(b'{"changed": true}')
    assert diff_manifest(manifest, root, ignore=["manifest.json"]).ok
    # without the rule, the manifest file itself is an unlisted file
    assert diff_manifest(manifest, root).by_path() == {"manifest.json": "added"}
    (root / "notes.log").write_bytes(b"x")
    assert diff_manifest(manifest, root, ignore=["manifest.json", "*.log"]).ok


def test_hostile_manifest_paths_are_compared_never_opened(bundle, tmp_path):
    root, manifest = bundle
    hostile = {**manifest, "../outside.txt": "0" * 64, "/etc/passwd": "1" * 64}
    diff = diff_manifest(hostile, root, ignore=["manifest.json"])
    assert diff.by_path() == {"../outside.txt": "deleted", "/etc/passwd": "deleted"}


def test_folder_manifest_refuses_links(bundle, tmp_path):
    root, _ = bundle
    (root / "l").symlink_to(tmp_path)
    with pytest.raises(errors.IntegrityError, match="'l'"):
        folder_manifest(root)
    with pytest.raises(errors.ValidationError, match="not a folder"):
        scan_folder(root / "l")


def test_diff_renders(bundle):
    root, manifest = bundle
    (root / "model.onnx").write_bytes(b"x")
    diff = diff_manifest(manifest, root, ignore=["manifest.json"])
    assert isinstance(diff, ManifestDiff)
    assert "model.onnx" in diff._repr_html_()
    assert "modified" in repr(diff)
