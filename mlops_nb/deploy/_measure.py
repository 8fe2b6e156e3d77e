"""Measuring a model variant: quality, money value, size, speed, memory and energy.

- **Quality** on a labelled data version: accuracy (and ROC AUC for binary tasks) or
  RMSE, and the largest probability difference to the model version itself. A binary
  variant decides at the model version's threshold (``model.threshold``), as serving
  and evaluation do; a multiclass one, its most likely class.
- **Money value** per 1,000 cases with the project's value canvas, of the decisions
  at that same threshold; ``value_ratio`` is a variant's value as a share of the
  original's (accuracy share without a canvas).
- **Latency**: single-row calls (``p50``/``p99`` in milliseconds) on rows of the data,
  one thread, after warm-up.
- **Throughput**: rows per second predicting a batch of up to 5,000 rows (best of
  two runs; the native model: its one run on all rows).
- **Peak memory**: extra resident memory while loading the model and predicting that
  batch, measured in a fresh Python process (onnxruntime and numpy only), so memory
  left over by other work cannot hide or inflate it.
- **Energy** per 1,000 single-row predictions, measured by CodeCarbon's offline
  tracker around the latency loop. Without power sensors (RAPL) CodeCarbon estimates
  CPU power from the CPU model's TDP and this process's load, so energy follows
  time; the method it used is recorded with the numbers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

log = logging.getLogger("mlops_nb")

_MEMORY_SCRIPT = r"""
import json, os, resource, sys
import numpy as np
import onnxruntime as ort

def status(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None

scale = 1 if sys.platform == "darwin" else 1024
arrays = np.load(sys.argv[2], allow_pickle=False)
feeds = {k: (a.astype(object) if a.dtype.kind == "U" else a) for k, a in arrays.items()}
data = open(sys.argv[1], "rb").read()
try:  # Linux: reset the high-water mark to the current resident size
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before, method = status("VmRSS"), "VmHWM"
except OSError:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    method = "ru_maxrss"
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, sys.argv[3])
session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
session.run(None, feeds)
if method == "VmHWM":
    after = status("VmHWM")
else:
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
result = {"peak_mb": (after - before) / 2**20, "total_mb": after / 2**20}
print(json.dumps({**result, "method": method}))
"""


class EnergyMeter:
    """CodeCarbon's offline tracker, started once and read per task.

    Every network-facing setting is passed explicitly, so a ``.codecarbon.config``
    in the working or home folder cannot make it send anything.
    """

    def __init__(self, country_iso_code: str = "FRA"):
        self.tracker: Any = None
        self.method = "not measured"
        quiet = logging.getLogger("codecarbon")
        was_disabled, quiet.disabled = (
            quiet.disabled,
            True,
        )  # its INFO/WARNING lines would fill notebooks
        try:
            from codecarbon import OfflineEmissionsTracker

            self.tracker = OfflineEmissionsTracker(
                country_iso_code=country_iso_code,
                project_name="mlops_nb xmo",
                output_methods=[],  # no CSV, API, logger, Prometheus or Logfire output
                output_handlers=[],
                emissions_endpoint=False,
                electricitymaps_api_token="",
                api_call_interval=-1,
                tracking_mode="process",
                log_level="error",
                allow_multiple_runs=True,
            )
            self.tracker.start()
            self.method = self._describe()
        except Exception as err:  # energy is optional: report why it is missing
            log.warning("CodeCarbon could not start (%s); energy is not measured", err)
            self.tracker = None
            self.method = f"not measured (CodeCarbon: {type(err).__name__})"
        finally:
            quiet.disabled = was_disabled

    def _describe(self) -> str:
        hardware = getattr(self.tracker, "_hardware", [])
        parts = [
            type(h).__name__
            + (f" ({getattr(h, '_mode', '')})" if getattr(h, "_mode", "") else "")
            for h in hardware
        ]
        return "CodeCarbon offline: " + (", ".join(parts) or "default estimates")

    def measure(self, name: str, work: Callable[[], int]) -> tuple[float | None, int]:
        """Run ``work`` (it returns how many predictions); return (Wh per 1,000, n)."""
        if self.tracker is None:
            return None, work()
        self.tracker.start_task(name)
        n = 0
        try:
            n = work()
        finally:
            data = self.tracker.stop_task()
        kwh = getattr(data, "energy_consumed", None)
        if kwh is None or n <= 0:
            return None, n
        return float(kwh) * 1000.0 / n * 1000.0, n

    def close(self) -> None:
        """Stop the tracker."""
        if self.tracker is not None:
            quiet = logging.getLogger("codecarbon")
            was_disabled, quiet.disabled = quiet.disabled, True
            try:
                self.tracker.stop()
            except Exception:  # pragma: no cover - stopping must not fail a measurement
                log.exception("stopping CodeCarbon failed")
            finally:
                quiet.disabled = was_disabled
            self.tracker = None


class LatencyLoop:
    """Work that times single-row calls; ``samples`` holds the timings after a run.

    Parameters
    ----------
    call : callable
        ``call(i)`` predicts row ``i``.
    n_rows : int
        Rows to cycle through.
    min_seconds, min_calls, max_calls
        Run at least ``min_calls`` calls and ``min_seconds``, at most ``max_calls``.
    """

    def __init__(
        self,
        call: Callable[[int], Any],
        n_rows: int,
        *,
        min_seconds: float = 0.25,
        min_calls: int = 50,
        max_calls: int = 3000,
    ):
        self.call, self.n_rows = call, n_rows
        self.min_seconds, self.min_calls, self.max_calls = (
            min_seconds,
            min_calls,
            max_calls,
        )
        self.samples: list[float] = []

    def __call__(self) -> int:
        """Warm up, then time calls; return how many were timed."""
        for i in range(3):
            self.call(i % self.n_rows)
        start = time.perf_counter()
        i = 0
        while i < self.max_calls and (
            i < self.min_calls or time.perf_counter() - start < self.min_seconds
        ):
            t0 = time.perf_counter()
            self.call(i % self.n_rows)
            self.samples.append(time.perf_counter() - t0)
            i += 1
        return i


def percentiles_ms(samples: list[float]) -> tuple[float | None, float | None]:
    """p50 and p99 of timings in seconds, in milliseconds."""
    import numpy as np

    if not samples:
        return None, None
    arr = np.asarray(samples) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def throughput(call: Callable[[], Any], n_rows: int, *, repeats: int = 3) -> float:
    """Rows per second for one batch call (best of ``repeats``)."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return n_rows / best if best > 0 else math.inf


def peak_memory_mb(
    jobs: list[tuple[bytes, str]], feeds: dict[str, np.ndarray]
) -> list[float | None]:
    """Measure extra peak RSS (MB) to load each model and predict ``feeds``.

    Each model runs in a fresh process (two at a time).
    """
    import concurrent.futures

    import numpy as np

    from mlops_nb.deploy._runtime import LEVELS

    with tempfile.TemporaryDirectory(prefix="mlops-nb-mem-") as tmp:
        arrays = {
            k: (v.astype(str) if v.dtype == object else v) for k, v in feeds.items()
        }
        feeds_path = Path(tmp) / "feeds.npz"
        np.savez(feeds_path, **arrays)  # type: ignore[arg-type]

        def one(i: int) -> float | None:
            data, level = jobs[i]
            model_path = Path(tmp) / f"m{i}.onnx"
            model_path.write_bytes(data)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
            try:
                done = subprocess.run(
                    [
                        sys.executable,
                        "-I",
                        "-c",
                        _MEMORY_SCRIPT,
                        str(model_path),
                        str(feeds_path),
                        LEVELS[level],
                    ],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                    check=False,
                )
                if done.returncode != 0:
                    log.warning(
                        "memory measurement failed: %s", done.stderr.strip()[-300:]
                    )
                    return None
                return float(
                    json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
                )
            except (OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
                log.warning("memory measurement failed: %s", err)
                return None

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(one, range(len(jobs))))


def quality(
    y: Any,
    labels: np.ndarray,
    proba: np.ndarray | None,
    ref_proba: np.ndarray | None,
    task: str,
    classes: list[Any] | None,
) -> dict[str, float | None]:
    """Measure accuracy (and ROC AUC) or RMSE, and the largest change to the model."""
    import numpy as np

    out: dict[str, float | None] = {}
    if task == "regression":
        values = labels.astype(float)
        if y is not None:
            out["rmse"] = float(
                np.sqrt(np.mean((values - np.asarray(y, dtype=float)) ** 2))
            )
        if ref_proba is not None:
            out["max_abs_diff"] = float(
                np.abs(values - ref_proba.reshape(-1)).max(initial=0.0)
            )
        return out
    if y is not None:
        truth = np.asarray(y, dtype=object)
        out["accuracy"] = float((np.asarray(labels, dtype=object) == truth).mean())
        if (
            task == "binary"
            and classes
            and proba is not None
            and len(set(truth.tolist())) == 2
        ):
            from sklearn.metrics import roc_auc_score

            out["roc_auc"] = float(roc_auc_score(truth == classes[1], proba[:, 1]))
    if ref_proba is not None and proba is not None:
        out["max_abs_diff"] = float(
            np.abs(proba.astype(float) - ref_proba).max(initial=0.0)
        )
    return out
