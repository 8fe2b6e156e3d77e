"""A large version's check: the in-memory check's findings, from summaries."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mlops_nb.data._check import run_checks

NOT_CHECKED = "not checked"


@pytest.fixture(autouse=True)
def _synchronous():
    """Summaries run in the test's thread: no pool competing for the cores."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def random_bounds(n, rng):
    """Cut ``n`` rows into 2-5 partitions at random (some may be empty)."""
    n_parts = int(rng.integers(2, 6))
    cuts = np.sort(rng.integers(0, n + 1, n_parts - 1))
    return [0, *cuts.tolist(), n]


def write_parts(folder, whole, rng, bounds=None):
    """Write ``whole`` as a random partitioning, one partition maybe empty."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = bounds or random_bounds(len(whole), rng)
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        whole.iloc[a:b].to_parquet(folder / f"part-{i}.parquet", index=False)
    return bounds


def keys(findings):
    return {(f["check"], f["severity"], f["column"]) for f in findings}


def planted(seed, n=None):
    """A frame with a random set of quality problems, and what was planted."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(200, 1000))  # <= 1000: the stored sample is every row
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": y})
    bounds = random_bounds(n, rng)
    plants = set()
    if rng.random() < 0.7:  # all-null in some whole partitions
        dead = rng.normal(size=n)
        for a, b in itertools.pairwise(bounds):
            if rng.random() < 0.5:
                dead[a:b] = np.nan
        frame["dead"] = dead
        if np.isnan(dead).any():
            plants.add("missing values")
    if rng.random() < 0.7:  # null in whole partitions' worth of rows, share varies
        share = rng.choice([0.02, 0.2, 0.7])
        start = int(rng.integers(0, n - int(share * n) + 1))
        col = rng.normal(size=n)
        col[start : start + int(share * n)] = np.nan
        frame["gappy"] = col
        plants.add("missing values")
    if rng.random() < 0.7:
        frame["same"] = rng.choice([7, "on"]) if rng.random() < 0.5 else 3.5
        plants.add("constant column")
    if rng.random() < 0.6:
        odd = np.arange(n) == int(rng.integers(n))
        pair = [("b", "a"), (2.0, 0.0)][int(rng.integers(2))]  # text or a number
        frame["mostly"] = np.where(odd, *pair)
        plants.add("near-constant column")
    if rng.random() < 0.5:
        inf = rng.normal(size=n)
        inf[rng.choice(n, int(rng.integers(1, 5)), replace=False)] = np.inf
        frame["ratio"] = inf
        plants.add("infinite values")
    if rng.random() < 0.6:
        frame["city"] = [f"c{i}" for i in rng.integers(0, 120, n)]
        plants.add("high cardinality")
    if rng.random() < 0.6:
        frame["row_no"] = rng.permutation(n) + 1000
        plants.add("unique per row")
    if rng.random() < 0.5:
        frame["leak"] = y * 2.0 + rng.normal(0, 0.01, n)
        plants.add("target leakage")
    return frame, plants, bounds


def register(project, folder, frame, rng, name="logs", bounds=None, **kw):
    write_parts(folder, frame, rng, bounds)
    kinds = {
        c: "categorical"
        for c in ("mostly", "city", "cat")
        if c in frame and not pd.api.types.is_float_dtype(frame[c])
    }
    return project.data(name, folder, target="y", kinds=kinds, **kw)


@pytest.mark.parametrize("seed", range(8))
def test_planted_problems_get_the_in_memory_severity(project, tmp_path, seed):
    frame, plants, bounds = planted(seed)
    rng = np.random.default_rng(seed + 100)
    asset = register(project, tmp_path / "p", frame, rng, bounds=bounds)
    assert asset.is_large
    report = asset.check()
    found = [f for f in report.findings if f["check"] != NOT_CHECKED]
    want = [
        f for f in run_checks(frame, asset.schema) if f["check"] != "duplicate rows"
    ]
    assert keys(found) == keys(want)
    assert plants <= {f["check"] for f in found}
    by_key = {(f["check"], f["column"]): f["value"] for f in want}
    for f in found:  # exact figures equal the in-memory ones
        if f["check"] in ("missing values", "infinite values", "constant column"):
            assert f["value"] == pytest.approx(by_key[f["check"], f["column"]])
    notes = [f["message"] for f in report.findings if f["check"] == NOT_CHECKED]
    assert any(m.startswith("duplicate rows:") for m in notes)


@pytest.mark.parametrize("seed", range(3))
def test_a_clean_large_version_gets_only_the_in_memory_findings(
    project, tmp_path, seed
):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(100, 1000))
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.gamma(2.0, size=n),
            "cat": rng.choice(list("abcd"), n),
            "y": rng.integers(0, 2, n),
        }
    )
    asset = register(project, tmp_path / "p", frame, rng)
    report = asset.check()
    found = [f for f in report.findings if f["check"] != NOT_CHECKED]
    assert keys(found) <= keys(run_checks(frame, asset.schema))
    assert report.ok
    assert not report.counts()["warning"]
    checks = {f["check"] for f in report.findings}
    assert checks <= {NOT_CHECKED}


@pytest.mark.parametrize("seed", range(3))
def test_compared_with_the_previous_version_as_in_memory(project, tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 400
    old = pd.DataFrame(
        {
            "x": rng.uniform(0, 10, n),
            "cat": rng.choice(list("abc"), n),
            "y": rng.integers(0, 2, n),
        }
    )
    first = register(project, tmp_path / "v1", old, rng)
    new = old.copy()
    out = rng.choice(n, int(rng.integers(1, 30)), replace=False)
    new.loc[out, "x"] = rng.choice([-5.0, 50.0], len(out))
    fresh = rng.choice(n, int(rng.integers(1, 30)), replace=False)
    new.loc[fresh, "cat"] = rng.choice(["d", "e", "f", "g", "h", "i", "j"], len(fresh))
    new["extra"] = rng.normal(size=n)
    second = register(project, tmp_path / "v2", new, rng)
    assert second.parents == ((first.name, first.version),)
    report = second.check()
    want = run_checks(
        new,
        second.schema,
        previous=(first.label, first.schema, first.profile().payload),
    )
    found = [f for f in report.findings if f["check"] != NOT_CHECKED]
    want = [f for f in want if f["check"] != "duplicate rows"]
    assert keys(found) == keys(want)
    assert report.compared_with == first.label
    for check in ("out of range", "unseen categories"):
        (got,) = report.by_check(check)
        (exp,) = [f for f in want if f["check"] == check]
        assert got["value"] == exp["value"]
        assert got["message"] == exp["message"]


def test_sketched_counts_show_their_bound_and_undecided_ids_are_listed(
    project, tmp_path
):
    rng = np.random.default_rng(7)
    n = 3000  # past the exact category cap (1000): distinct counts are HLL
    frame = pd.DataFrame(
        {
            "request": [f"r{i:05d}" for i in rng.permutation(n)],
            "user": [f"u{i % 1500}" for i in range(n)],
            "serial": rng.permutation(n),
            "city": [f"c{i}" for i in rng.integers(0, 2000, n)],
            "x": rng.normal(size=n),
        }
    )
    write_parts(tmp_path / "p", frame, rng)
    asset = project.data(
        "big", tmp_path / "p", id="request", kinds={"city": "categorical"}
    )
    report = asset.check()
    want = run_checks(frame, asset.schema)
    found = [f for f in report.findings if f["check"] != NOT_CHECKED]
    assert keys(found) == keys(f for f in want if f["check"] != "duplicate ids")
    for check, column in (("high cardinality", "city"), ("unique per row", "serial")):
        (hit,) = [f for f in report.by_check(check) if f["column"] == column]
        assert "HLL sketch; between" in hit["message"]
    notes = {f["message"].split(":")[0] for f in report.by_check(NOT_CHECKED)}
    assert notes == {"duplicate rows", "duplicate ids"}

    dup = frame.assign(request=frame["user"])  # every id twice: the sketch sees it
    write_parts(tmp_path / "q", dup, rng)
    again = project.data("big2", tmp_path / "q", id="request")
    (ids,) = again.check().by_check("duplicate ids")
    assert ids["severity"] == "error"
    assert "HLL sketch" in ids["message"]


def test_the_check_is_stored_and_renders_like_a_small_one(project, tmp_path):
    frame, _, _ = planted(3)
    asset = register(project, tmp_path / "p", frame, np.random.default_rng(0))
    first = asset.check()
    stored = project._report("asset", asset.id, "check")
    assert stored["engine"] == "summaries"
    assert list(stored["findings"]) == list(first.findings)
    again = project.asset("logs").check()
    assert again.findings == first.findings
    html = again.to_html()
    assert "not checked" in html
    assert "duplicate rows" in html


@pytest.mark.parametrize("seed", range(3))
def test_booleans_times_and_empty_text_read_as_in_memory(project, tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(100, 900))
    frame = pd.DataFrame(
        {
            "flag": np.full(n, bool(rng.integers(2))),
            "nb": np.arange(n) > int(rng.integers(0, 3)),
            "ts": pd.Timestamp("2025-01-01"),
            "t2": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
            "s": pd.Series([None] * n, dtype=object),
            "ints": rng.integers(0, 3, n),
        }
    )
    write_parts(tmp_path / "p", frame, rng)
    asset = project.data("types", tmp_path / "p", time="t2")

    def described(findings):
        skip = (NOT_CHECKED, "duplicate rows")
        return sorted(
            (f["check"], f["severity"], f["column"], f["message"])
            for f in findings
            if f["check"] not in skip
        )

    got = described(asset.check().findings)
    assert got == described(run_checks(frame, asset.schema))
    assert {g[0] for g in got} >= {"constant column", "missing values"}
