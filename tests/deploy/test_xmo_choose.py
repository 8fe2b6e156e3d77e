"""eXtreme Model Optimization: variants measured honestly, and the 4 P's choice."""

from __future__ import annotations

import pytest

import mlops_nb as mnb
from mlops_nb.deploy import Choice, Variants
from mlops_nb.deploy._optimize import NATIVE, REFERENCE
from mlops_nb.deploy._variants import pareto_flags
from mlops_nb.errors import NotFoundError, ValidationError


@pytest.fixture(scope="module")
def variants(dep):
    with mnb.config_context(user="tester"):
        return dep.lgbm.optimize(
            dep.test, energy=False, memory=False, latency_seconds=0.02
        )


def test_every_variant_is_in_the_table_with_what_happened(variants, dep):
    assert isinstance(variants, Variants)
    rows = {r["name"]: r for r in variants.rows}
    assert variants.names[0] == REFERENCE
    assert variants.names[-1] == NATIVE
    kinds = {r["kind"] for r in variants.rows}
    assert {
        "reference",
        "graph",
        "pruned",
        "refit",
        "distilled",
        "float16",
        "int8",
        "native",
    } <= kinds
    f16 = next(r for r in variants.rows if r["kind"] == "float16")
    assert f16["status"] == "failed"
    assert "TreeEnsemble" in f16["note"]
    q8 = next(r for r in variants.rows if r["kind"] == "int8")
    assert q8["status"] == "no effect"
    assert "TreeEnsembleClassifier" in q8["note"]
    ref = rows[REFERENCE]
    assert ref["value_ratio"] == 1.0
    assert ref["value_basis"] == "money value"
    assert ref["max_abs_diff"] == 0.0
    assert rows[NATIVE]["max_abs_diff"] <= 1e-5
    for r in variants.rows:
        if r["status"] == "measured":
            assert r["latency_p50_ms"] > 0
            assert r["latency_p99_ms"] >= r["latency_p50_ms"]
            assert r["throughput_rows_s"] > 0
            assert r["size_bytes"] > 0
            assert 0 <= r["accuracy"] <= 1
            assert r["value_per_1000"] is not None
            assert r["energy_wh_per_1000"] is None
            assert r.get("peak_memory_mb") is None
    pruned = [r for r in variants.rows if r["kind"] == "pruned"]
    assert [r["name"] for r in pruned] == [
        "pruned: first 10 of 40 trees",
        "pruned: first 20 of 40 trees",
    ]
    assert all(r["size_bytes"] < ref["size_bytes"] for r in pruned)
    assert variants["distilled student"].status == "measured"


def test_variants_are_stored_and_render(variants, dep):
    rows = dep.project._store.query("SELECT payload FROM documents WHERE kind = 'xmo'")
    assert rows
    frame = variants.to_frame()
    assert {
        "variant",
        "status",
        "accuracy",
        "value share",
        "size (KB)",
        "p50 (ms)",
        "p99 (ms)",
        "rows/s (batch)",
        "peak memory (MB)",
        "Wh / 1,000",
        "Pareto",
    } <= set(frame.columns)
    html = variants._repr_mimebundle_()["text/html"]
    for text in (
        "Variants",
        "Pareto",
        "pruned: first 20 of 40 trees",
        "TreeEnsemble",
        "no effect",
    ):
        assert text in html
    assert variants.plot().data
    assert "measured" in repr(variants)
    with pytest.raises(NotFoundError, match="Did you mean 'distilled student'"):
        variants["distilled studen"]


def test_variant_files_are_verified_onnx(variants, dep):
    import numpy as np

    v = variants["pruned: first 20 of 40 trees"]
    proba = v.predict_proba(dep.test)
    assert proba.shape == (dep.test.n_rows, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValidationError, match="no ONNX file"):
        variants["int8 dynamic quantization"].bundle("x")
    with pytest.raises(ValidationError, match="no ONNX file"):
        variants[NATIVE].onnx_bytes  # noqa: B018


def test_choose_picks_the_best_within_budgets_and_explains(variants):
    pick = variants.choose(
        latency_ms=1000, size_mb=10, min_value=0.5, purpose="offers at the till"
    )
    assert isinstance(pick, Choice)
    assert pick.ok
    assert pick.variant.name == REFERENCE or pick.variant.row["value_ratio"] >= 1.0
    assert "meets every budget" in pick.explanation
    smallest = variants.choose(min_value=0.5, prefer="size")
    sizes = [
        r["size_bytes"]
        for r in variants.rows
        if r["status"] == "measured" and r.get("digest") and r["value_ratio"] >= 0.5
    ]
    assert smallest.variant.row["size_bytes"] == min(sizes)
    html = pick._repr_mimebundle_()["text/html"]
    for text in ("Purpose", "Performance", "Power", "Price", "offers at the till"):
        assert text in html
    table = pick.to_frame()
    assert "latency_ms" in table.columns
    assert table["meets all"].any()


def test_choose_says_which_budget_nothing_meets(variants, tmp_path):
    none = variants.choose(size_mb=1e-9, latency_ms=1000)
    assert not none.ok
    assert none.variant is None
    assert none.unmet == ["size_mb"]
    assert "Budgets no variant meets: size_mb=1e-09" in none.explanation
    with pytest.raises(ValidationError, match="cannot bundle: No variant meets"):
        none.bundle(tmp_path / "b")
    assert not (tmp_path / "b").exists()
    # memory was not measured: a budget on it cannot be met by guessing
    unmeasured = variants.choose(memory_mb=10_000)
    assert not unmeasured.ok
    assert "not measured" in unmeasured.explanation
    # each budget alone is met, but not together
    rows = [r for r in variants.rows if r["status"] == "measured" and r.get("digest")]
    fastest = min(rows, key=lambda r: r["latency_p50_ms"])
    smaller = [r for r in rows if r["size_bytes"] < fastest["size_bytes"]]
    if smaller:
        split = variants.choose(
            latency_ms=fastest["latency_p50_ms"],
            size_mb=max(r["size_bytes"] for r in smaller) / 1e6,
        )
        if not split.ok:
            assert "each budget alone is met" in split.explanation


def test_price_comes_from_measured_energy_and_your_price(variants):
    with pytest.raises(ValidationError, match="needs price_per_kwh"):
        variants.choose(max_price_per_1000=0.01)
    with pytest.raises(ValidationError, match="latency_ms=-1"):
        variants.choose(latency_ms=-1)
    with pytest.raises(ValidationError, match="prefer"):
        variants.choose(prefer="cheapest")
    # energy was not measured here, so a price budget cannot be checked
    priced = variants.choose(price_per_kwh=0.3, max_price_per_1000=1.0)
    assert not priced.ok
    assert "not measured" in priced.explanation


def test_energy_and_memory_are_measured_offline(dep, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".codecarbon.config").write_text(
        "[codecarbon]\nsave_to_api = True\napi_endpoint = https://api.codecarbon.io\n"
        "emissions_endpoint = https://example.invalid\nsave_to_file = True\n"
    )
    v = dep.lgbm.optimize(dep.test, kinds=("graph",), latency_seconds=0.05)
    ref = v.rows[0]
    assert ref["energy_wh_per_1000"] > 0
    assert ref["peak_memory_mb"] is not None
    assert ref["peak_memory_mb"] >= 0
    assert v.rows[-1]["energy_wh_per_1000"] > 0  # the native model too
    assert "CodeCarbon offline" in v.payload["energy_method"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".codecarbon.config"
    ]  # no emissions.csv
    pick = v.choose(price_per_kwh=0.3, max_price_per_1000=1.0)
    assert pick.ok
    assert pick.candidates[0]["price_per_1000"] > 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", ["logistic", "mlp"])
def test_lower_precision_outcomes_for_linear_and_neural(dep, estimator):
    from sklearn.neural_network import MLPClassifier

    est = (
        MLPClassifier(
            hidden_layer_sizes=(32,), solver="lbfgs", max_iter=500, random_state=0
        )
        if estimator == "mlp"
        else estimator
    )
    model = dep.project.train(f"lp-{estimator}", dep.train, estimator=est)
    v = model.optimize(
        dep.test,
        kinds=("float16", "int8", "distilled"),
        energy=False,
        memory=False,
        latency_seconds=0.02,
        tolerance=1e-4,
    )  # float32 arithmetic in ONNX
    rows = {r["kind"]: r for r in v.rows}
    assert "distilled" not in rows  # linear and neural models are small already
    if estimator == "logistic":
        assert rows["int8"]["status"] == "no effect"
        assert "LinearClassifier" in rows["int8"]["note"]
        assert rows["float16"]["status"] == "not applicable"
    else:
        assert rows["int8"]["status"] == "measured"  # MatMul weights quantized
        assert rows["int8"]["max_abs_diff"] > 0  # and the probabilities moved
        assert rows["float16"]["status"] in ("measured", "failed")
        if rows["float16"]["status"] == "measured":
            assert 0 < rows["float16"]["max_abs_diff"] < 1  # measured, whatever it is


def test_pareto_flags():
    rows = [
        {"value_ratio": 1.0, "latency_p50_ms": 1.0, "size_bytes": 10},
        {
            "value_ratio": 0.9,
            "latency_p50_ms": 2.0,
            "size_bytes": 20,
        },  # dominated by the first
        {"value_ratio": 0.8, "latency_p50_ms": 0.5, "size_bytes": 30},
    ]
    assert pareto_flags(rows) == [True, False, True]


def test_optimize_validates_its_arguments(dep):
    with pytest.raises(ValidationError, match="DataAsset"):
        dep.lgbm.optimize(dep.frame)
    with pytest.raises(ValidationError, match="unknown 'fp8'"):
        dep.lgbm.optimize(dep.test, kinds=("fp8",))
