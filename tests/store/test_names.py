"""T01: user-given names never become paths (SECURITY-TESTS group A)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import raw_snapshot as snapshot
from mlops_nb._project import Project
from mlops_nb.errors import RegistryNameError, ValidationError
from mlops_nb.store import MAX_NAME_LENGTH, validate_name

HEX64 = re.compile(r"^[0-9a-f]{64}$")

BAD_NAMES = [
    "../x",
    "..\\x",
    "a/../../b",
    "./../x",
    "/abs",
    "C:\\x",
    "C:/x",
    "%2e%2e/x",
    "%252e%252e%252f",
    "x#/../../y",
    "x?a=../..",
    "\x00",
    "a\x00b",
    "a" * 300,
    "é" * 150,  # 300 bytes in UTF-8
    "CON",
    "con",
    "nul.txt",
    "COM1",
    "lpt9.log",
    "name.",
    "name ",
    "a\u2215b",  # DIVISION SLASH look-alike
    "a\u2024\u2024b",  # ONE DOT LEADER look-alikes of '..'
    "a\uff0fb",  # FULLWIDTH SOLIDUS
    "line\nbreak",
    "trailing\n",
    "tab\tname",
    "",
    ".",
    "..",
    ".hidden",
    "-rf",
    "a b",
]
NON_STRINGS = [0, 42, 1.5, None, b"acs", Path("acs"), ["acs"]]


def assert_blob_paths_are_hashes(project_root: Path) -> int:
    """Every file under artifacts/ is ``<aa>/<sha256>``, ``aa`` its first two hex."""
    n = 0
    art = project_root / "artifacts"
    for dirpath, dirnames, filenames in os.walk(art):
        rel = Path(dirpath).relative_to(art)
        if rel == Path():
            assert filenames == [], filenames
            assert all(re.fullmatch(r"[0-9a-f]{2}", d) for d in dirnames), dirnames
            continue
        assert dirnames == [], (dirpath, dirnames)
        for f in filenames:
            assert HEX64.match(f), f
            assert f[:2] == rel.name
            n += 1
    return n


@pytest.fixture
def small_frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3, 4], "y": [0, 1, 0, 1]})


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A project, a sibling 'outside' folder with a file in it, and a working dir."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_text("outside secret\n")
    (outside / "b").write_text("outside b\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return {
        "project": tmp_path / "proj",
        "outside": outside,
        "cwd": cwd,
        "tmp": tmp_path,
    }


@pytest.mark.parametrize("name", BAD_NAMES + NON_STRINGS, ids=repr)
def test_t01_bad_names_are_refused_and_nothing_outside_changes(
    layout, small_frame, name
):
    proj = Project.open(layout["project"])
    proj.data("good", small_frame, target="y")
    before = snapshot(layout["tmp"])

    with pytest.raises(RegistryNameError, match="Use 1 to 64 characters"):
        proj.data(name, small_frame, target="y")
    with pytest.raises(RegistryNameError):
        proj.asset(name)
    with pytest.raises(RegistryNameError):
        proj.asset(name, 1)

    after = snapshot(layout["tmp"])
    # the registry's WAL/-shm bytes may change on reads; everything else may not
    volatile = {"proj/registry.sqlite-wal", "proj/registry.sqlite-shm"}
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }
    assert proj.assets()["name"].tolist() == ["good"]
    assert [r[0] for r in proj._store.query("SELECT name FROM asset_versions")] == [
        "good"
    ]
    assert assert_blob_paths_are_hashes(layout["project"]) == 1
    assert not Path("/abs").exists()


def test_t01_blob_paths_come_only_from_hashes(layout, small_frame):
    proj = Project.open(layout["project"])
    names = ["acs", "employment-2015", "churn_v2", "A.b-c_d", "x" * MAX_NAME_LENGTH]
    for i, name in enumerate(names):
        frame = small_frame.assign(x=small_frame["x"] + i)
        asset = proj.data(name, frame, target="y")
        assert HEX64.match(asset.artifact)
    assert assert_blob_paths_are_hashes(layout["project"]) == len(names)
    for _, dirnames, filenames in os.walk(layout["project"]):
        for entry in dirnames + filenames:
            assert all(name not in entry for name in names), entry


def test_t01_error_is_a_value_error_and_says_what_is_allowed():
    assert issubclass(RegistryNameError, ValueError)
    assert issubclass(RegistryNameError, ValidationError)
    with pytest.raises(
        ValueError, match=r"'\.\./x' is not allowed: it contains a path sep"
    ):
        validate_name("../x")
    with pytest.raises(RegistryNameError) as info:
        validate_name("a" * 300, what="Project.data(name=...)")
    msg = str(info.value)
    assert msg.startswith("Project.data(name=...)=")
    assert "300 characters long (at most 64)" in msg
    assert "letters A-Z/a-z, digits, '_', '-' and '.'" in msg
    assert info.value.failure_cases["problem"].tolist() == [
        "it is 300 characters long (at most 64)"
    ]
    with pytest.raises(RegistryNameError, match="must be a string, got int"):
        validate_name(7)


@pytest.mark.parametrize(
    "name", ["acs", "employment-2015", "churn_v2", "A1.b", "x" * 64]
)
def test_t01_good_names_pass_unchanged(name):
    assert validate_name(name) == name


_NAMEISH = st.from_regex(
    r"[A-Za-z0-9_.\-/\\ :%#?=\x00\n\t\u2215\u2024]{0,80}", fullmatch=True
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=100), _NAMEISH))
def test_t01_property_accepted_names_are_path_inert(text):
    try:
        accepted = validate_name(text)
    except RegistryNameError:
        return
    assert accepted == text
    assert "/" not in text
    assert "\\" not in text
    assert ".." not in text
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text)
    assert 1 <= len(text) <= MAX_NAME_LENGTH
    assert text.isascii()
    assert not text.endswith((".", " "))
    assert text not in (".", "..")
    # joined under a base it stays one path component directly inside the base
    base = Path("/base")
    assert (base / text).parent == base
    assert os.path.normpath(f"/base/{text}") == f"/base/{text}"


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.integers(),
        st.floats(),
        st.none(),
        st.binary(),
        st.lists(st.text(max_size=3)),
    )
)
def test_t01_property_non_strings_raise_registry_name_error(value):
    with pytest.raises(RegistryNameError, match="must be a string"):
        validate_name(value)
