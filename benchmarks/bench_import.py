"""``import``: a cold ``import mlops_nb`` against a cold ``import nannyml``.

Each import runs in its own fresh interpreter. The child times the ``import``
statement itself with ``time.perf_counter`` (interpreter start-up excluded); the
wrapper also times the whole process (start-up, import, exit) and reads its peak RSS.
"""

from __future__ import annotations

from benchmarks._harness import child_env, run_repeated
from benchmarks._registry import Config, Row, register

#: Modules DESIGN.md and STYLE.md say ``import mlops_nb`` must not load.
HEAVY = (
    "sklearn",
    "lightgbm",
    "onnxruntime",
    "fairlearn",
    "interpret",
    "nannyml",
    "plotly",
    "ipywidgets",
    "anywidget",
    "papermill",
    "pandas",
    "numpy",
)

_SNIPPET = """\
import sys, time
_before = set(sys.modules)
_t0 = time.perf_counter()
import {module}
_elapsed = time.perf_counter() - _t0
_loaded = set(sys.modules) - _before
_emit(
    import_s=_elapsed,
    n_modules=len(_loaded),
    heavy=sorted({{m.split(".")[0] for m in _loaded}} & set({heavy!r})),
)
"""

#: Environment of the nannyml child: its usage logger must not phone home.
NANNYML_ENV = {
    "NML_DISABLE_USAGE_LOGGING": "1",
    "NML_DISABLE_USER_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
}


def _snippet(module: str) -> str:
    return _SNIPPET.format(module=module, heavy=HEAVY)


@register("import", "cold `import mlops_nb` vs cold `import nannyml`, fresh processes")
def bench_import(config: Config) -> list[Row]:
    """Time cold imports of mlops_nb and nannyml, each in fresh processes.

    Parameters
    ----------
    config : Config
        ``quick`` runs 3 measured processes per module instead of 5.

    Returns
    -------
    list of Row
        Import time, whole-process wall time and peak RSS.
    """
    n = config.pick(5, 3)
    ours = run_repeated(_snippet("mlops_nb"), n, env=child_env(**NANNYML_ENV))
    peer = run_repeated(_snippet("nannyml"), n, env=child_env(**NANNYML_ENV))
    heavy = ours.runs[0].values["heavy"]
    heavy_note = (
        f"heavy modules loaded: {', '.join(heavy)}" if heavy else "no heavy deps"
    )
    modules = (
        f"{ours.median('n_modules'):.0f} vs {peer.median('n_modules'):.0f} modules"
    )
    common = {"n": n, "warmup": 1}
    return [
        Row(
            "import",
            ours.median("import_s"),
            peer.median("import_s"),
            unit="s",
            peer_name="nannyml",
            notes=(
                f"median of {n} fresh processes, perf_counter around the import "
                f"only; {modules}; {heavy_note}"
            ),
            extra={
                **common,
                "ours_samples": ours.samples("import_s"),
                "peer_samples": peer.samples("import_s"),
                "ours_heavy_modules": heavy,
                "ours_n_modules": ours.median("n_modules"),
                "peer_n_modules": peer.median("n_modules"),
            },
        ),
        Row(
            "import: process wall",
            ours.wall,
            peer.wall,
            unit="s",
            peer_name="nannyml",
            notes="`python -c 'import …'` spawn to exit, interpreter start-up included",
            extra={
                **common,
                "ours_samples": ours.samples(),
                "peer_samples": peer.samples(),
            },
        ),
        Row(
            "import: peak RSS",
            ours.peak_rss_mb,
            peer.peak_rss_mb,
            unit="MB",
            peer_name="nannyml",
            notes="peak resident memory of the importing process",
            extra=common,
        ),
    ]
