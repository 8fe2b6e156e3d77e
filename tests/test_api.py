"""The public API: names, laziness of heavy imports, import time."""

from __future__ import annotations

import json
import subprocess
import sys

import mlops_nb as mnb

HEAVY = [
    "pandas", "numpy", "sklearn", "lightgbm", "onnxruntime", "fairlearn", "interpret",
    "nannyml", "plotly", "ipywidgets", "anywidget", "papermill", "pyarrow", "skops",
]  # fmt: skip
PUBLIC = {
    "DataAsset", "Model", "Monitor", "Project", "__version__", "config_context",
    "datasets", "errors", "get_config", "secure", "set_config",
    "business", "data", "model", "deploy", "sustain", "human", "drift",
}  # fmt: skip
STAGES = ["business", "data", "model", "deploy", "sustain", "human", "secure", "drift"]


def test_all_matches_the_reference_and_every_name_resolves():
    assert set(mnb.__all__) == PUBLIC
    assert sorted(dir(mnb)) == sorted(mnb.__all__)
    for name in mnb.__all__:
        assert getattr(mnb, name) is not None


def test_unknown_attribute_is_a_clear_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        mnb.Nope  # noqa: B018


def _fresh(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout


def test_import_loads_no_heavy_module():
    loaded = json.loads(_fresh(
        "import sys, json, mlops_nb; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    ))  # fmt: skip
    assert loaded == []


def test_every_stage_is_an_attribute_in_a_fresh_process():
    # `mnb.drift.univariate_drift` once failed with "module 'mlops_nb' has no attribute
    # 'drift'": each stage subpackage the README names resolves lazily on first access
    out = json.loads(_fresh(
        "import json, sys, mlops_nb as mnb; "
        "before = 'sklearn' in sys.modules; "
        "f = mnb.drift.univariate_drift; g = mnb.model.register_gate; "
        "h = mnb.sustain.measure; "
        "print(json.dumps([before, callable(f), callable(g), callable(h), "
        "[s for s in " + repr(STAGES) + " if getattr(mnb, s).__name__ != "
        "'mlops_nb.' + s]]))"
    ))  # fmt: skip
    assert out == [False, True, True, True, []]


def test_config_modes_and_errors():
    import pytest

    with mnb.config_context(display="text"):
        assert mnb.get_config()["display"] == "text"
    assert mnb.get_config()["display"] == "widget"
    with pytest.raises(mnb.errors.ValidationError, match="unknown display mode"):
        mnb.set_config(display="fancy")


def test_errors_subclass_builtins():
    e = mnb.errors
    assert issubclass(e.ValidationError, ValueError)
    assert issubclass(e.RegistryNameError, e.MlopsNbError)
    assert issubclass(e.NotFoundError, LookupError)
    assert issubclass(e.NotAProjectError, FileNotFoundError)
    assert issubclass(e.MissingDependencyError, ImportError)
    assert issubclass(e.IntegrityError, e.MlopsNbError)
