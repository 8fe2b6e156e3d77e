"""Side-by-side benchmarks of mlops_nb against its peers (``make bench``).

Run ``python -m benchmarks [--quick] [--only NAME]``. Each benchmark is a module named
``bench_<something>.py`` in this package that registers one function with
:func:`register`; the runner imports every such module, runs the registered
functions, prints one markdown table and writes ``benchmarks/results/latest.json``.

Every measurement runs in a fresh Python subprocess (see :mod:`benchmarks._harness`),
so imports, caches and peak memory of one measurement never leak into another.

To add a benchmark, create ``benchmarks/bench_<name>.py``::

    from benchmarks._registry import Config, Row, register

    @register("drift_1m", "univariate drift on 1M rows vs nannyml")
    def drift_1m(config: Config) -> list[Row]:
        ...
        return [Row("drift_1m", ours=1.2, peer=9.8, unit="s", peer_name="nannyml")]
"""

from __future__ import annotations

from benchmarks._registry import BENCHMARKS, Benchmark, Config, Row, register

__all__ = ["BENCHMARKS", "Benchmark", "Config", "Row", "register"]
