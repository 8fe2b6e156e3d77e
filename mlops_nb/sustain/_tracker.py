"""Measure one action: energy, emissions and duration from CodeCarbon, offline.

:func:`measure` wraps a block of work in CodeCarbon's ``OfflineEmissionsTracker``
(one task: ``start_task`` / ``stop_task``; no background scheduler keeps running,
no network, no file; see :mod:`mlops_nb.sustain._codecarbon`) and writes one
ledger entry when the block ends.

Measurements nest: a ``measure`` inside another (a training inside a warm-start
comparison) records its own entry, and the enclosing entry's ``self_*`` figures
keep only what no nested entry already counts, so the ledger's totals count every
joule once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.sustain._codecarbon import describe_method, join_monitor, offline_tracker

if TYPE_CHECKING:
    from types import TracebackType

    from mlops_nb._project import Project

log = logging.getLogger("mlops_nb")

#: Stage names the built-in actions use; any lowercase word is accepted.
STAGES = (
    "train",
    "evaluate",
    "retrain",
    "optimize",
    "export",
    "benchmark",
    "serve",
    "predict",
)
_STAGE_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")
_local = threading.local()


def _label(obj: Any) -> tuple[str, str, int, dict[str, Any]]:
    """``(object label, owner kind, owner id, extra fields)`` of what is measured."""
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

    if isinstance(obj, Model):
        return (
            f"model:{obj.name}@{obj.version}",
            "model",
            obj.id,
            {"model": obj.name, "model_version": obj.version},
        )
    if isinstance(obj, DataAsset):
        return f"asset:{obj.name}@{obj.version}", "asset", obj.id, {}
    if obj is None:
        return "project", "project", 0, {}
    if isinstance(obj, str) and obj.strip():
        return obj.strip()[:200], "project", 0, {}
    msg = (
        f"measure(obj={obj!r}): name what is measured with a Model, a DataAsset or a "
        "short text such as 'model:employment' or 'bundle:edge-int8'."
    )
    raise ValidationError(msg)


class Measurement:
    """One measured action; a context manager that records a ledger entry on exit.

    Create it with :func:`measure`. Inside the block, :meth:`attach` names the
    object the action produced (a model version stored at the end of training) and
    :attr:`predictions` counts predictions made. After the block, ``energy_kwh``,
    ``emissions_kg``, ``duration_s``, ``cpu_s`` (CPU time of this process, all
    threads), ``method`` and ``entry`` hold the figures. A block that raises
    records nothing (a failed action leaves the project as it was); its figures
    stay on the object.
    """

    def __init__(
        self,
        project: Project,
        stage: str,
        obj: Any = None,
        *,
        note: str = "",
        predictions: int | None = None,
        variant: str | None = None,
    ):
        if not isinstance(stage, str) or not _STAGE_RE.match(stage):
            msg = (
                f"measure(stage={stage!r}): use a lowercase word such as "
                f"{', '.join(repr(s) for s in STAGES[:5])}."
            )
            raise ValidationError(msg)
        if not isinstance(note, str):
            msg = f"measure(note=...): use text, got {type(note).__name__}."
            raise ValidationError(msg)
        if variant is not None and (
            not isinstance(variant, str) or not variant.strip()
        ):
            msg = f"measure(variant={variant!r}): use a short name such as 'onnx-int8'."
            raise ValidationError(msg)
        self.project, self.stage, self.note = project, stage, note
        self.variant = variant.strip()[:120] if variant else None
        self.predictions = _check_predictions(predictions)
        self.attach(obj)
        self.id = uuid.uuid4().hex[:12]
        self.energy_kwh: float | None = None
        self.emissions_kg: float | None = None
        self.duration_s: float | None = None
        self.cpu_s: float | None = None
        self.method: dict[str, Any] = {}
        self.overhead_s: float | None = None
        self.entry: dict[str, Any] | None = None
        self._tracker: Any = None
        self._children = {"energy_kwh": 0.0, "emissions_kg": 0.0, "duration_s": 0.0}
        self._parent: Measurement | None = None
        self._settings: dict[str, Any] = {}

    def attach(self, obj: Any) -> Measurement:
        """Name what the action is about or produced (Model, DataAsset or text)."""
        self.object, self._owner_kind, self._owner_id, self._extra = _label(obj)
        return self

    # -- the context manager ---------------------------------------------------------
    def __enter__(self) -> Measurement:
        from mlops_nb.sustain._settings import settings

        self._settings = settings(self.project)
        stack = _stack()
        self._parent = stack[-1] if stack else None
        stack.append(self)
        if self._settings["track"]:
            t0 = time.perf_counter()
            try:
                self._tracker = offline_tracker(
                    self._settings["country"], self._settings["region"], name=self.stage
                )
                self._tracker.start_task(f"{self.stage}-{self.id}")
            except Exception as err:  # energy is optional: the action itself goes on
                log.warning(
                    "CodeCarbon could not start (%s); energy is not measured", err
                )
                self._tracker = None
                self.method = _not_measured(f"CodeCarbon: {type(err).__name__}: {err}")
            self._start_overhead = time.perf_counter() - t0
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.duration_s = time.perf_counter() - self._t0
        self.cpu_s = time.process_time() - self._cpu0
        stack = _stack()
        if stack and stack[-1] is self:
            stack.pop()
        if not self._settings.get("track", True):
            return
        t1 = time.perf_counter()
        data = None
        if self._tracker is not None:
            try:
                data = self._tracker.stop_task()
                self.method = describe_method(self._tracker, data)
            except Exception as err:
                log.warning(
                    "CodeCarbon could not stop (%s); energy is not measured", err
                )
                self.method = _not_measured(f"CodeCarbon: {type(err).__name__}: {err}")
            finally:
                join_monitor(self._tracker)
                self._tracker = None
        if data is not None and getattr(data, "energy_consumed", None) is not None:
            self.energy_kwh = float(data.energy_consumed)
            self.emissions_kg = float(data.emissions)
            self._data = data
        elif not self.method:
            self.method = _not_measured("CodeCarbon returned no data")
        self.overhead_s = (
            getattr(self, "_start_overhead", 0.0) + time.perf_counter() - t1
        )
        if self._parent is not None:
            for key in self._children:
                self._parent._children[key] += getattr(self, key) or 0.0
        outcome = "ok" if exc_type is None else f"failed: {exc_type.__name__}"
        self.entry = self._entry(outcome)
        if exc_type is not None:  # a failed action leaves the project as it was
            return
        try:
            from mlops_nb.sustain._ledger import record_entry

            record_entry(self.project, self._owner_kind, self._owner_id, self.entry)
        except Exception:  # the ledger is a record of the action, never its failure
            log.exception("could not record the energy of %s", self.object)

    def _entry(self, outcome: str) -> dict[str, Any]:
        from mlops_nb.store._db import now

        data = getattr(self, "_data", None)
        energy, emissions = self.energy_kwh, self.emissions_kg
        duration = self.duration_s or 0.0

        def own(value: float | None, key: str) -> float | None:
            return None if value is None else max(0.0, value - self._children[key])

        n = _check_predictions(self.predictions)
        return {
            "id": self.id,
            "stage": self.stage,
            "object": self.object,
            "model": self._extra.get("model"),
            "model_version": self._extra.get("model_version"),
            "variant": self.variant,
            "note": self.note,
            "outcome": outcome,
            "at": now(),
            "duration_s": duration,
            "cpu_s": self.cpu_s,
            "energy_kwh": energy,
            "emissions_kg": emissions,
            "self_duration_s": max(0.0, duration - self._children["duration_s"]),
            "self_energy_kwh": own(energy, "energy_kwh"),
            "self_emissions_kg": own(emissions, "emissions_kg"),
            "cpu_energy_kwh": getattr(data, "cpu_energy", None),
            "ram_energy_kwh": getattr(data, "ram_energy", None),
            "gpu_energy_kwh": getattr(data, "gpu_energy", None),
            "cpu_power_w": getattr(data, "cpu_power", None),
            "intensity_g_per_kwh": (emissions / energy * 1000.0)
            if energy and emissions is not None
            else None,
            "predictions": n,
            "within": self._parent.id if self._parent else None,
            "country": self._settings["country"],
            "region": self._settings["region"],
            "country_is_default": self._settings["default"],
            "method": self.method,
            "tracker_overhead_s": self.overhead_s,
        }

    def __repr__(self) -> str:
        head = f"<Measurement {self.stage} {self.object}"
        if self.energy_kwh is None:
            return f"{head}: {self.method.get('summary', 'running')}>"
        return (
            f"{head}: {self.energy_kwh * 1000:.4f} Wh, {self.emissions_kg * 1000:.4f} "
            f"g CO2e in {self.duration_s:.2f} s ({self.method.get('kind')})>"
        )


def _not_measured(why: str) -> dict[str, Any]:
    return {
        "kind": "not measured",
        "estimated": False,
        "summary": f"not measured ({why})",
    }


def _check_predictions(n: Any) -> int | None:
    if n is None:
        return None
    import numbers

    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        msg = f"measure(predictions={n!r}): use a whole number of predictions >= 0."
        raise ValidationError(msg)
    return int(n)


def _stack() -> list[Measurement]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def measure(
    project: Project,
    stage: str,
    obj: Any = None,
    *,
    note: str = "",
    predictions: int | None = None,
    variant: str | None = None,
) -> Measurement:
    """Measure a block of work's energy and emissions, and record them in the ledger.

    Parameters
    ----------
    project : Project
        Where the entry is recorded; its settings (``proj.sustainability(country=...)``)
        give the grid whose carbon intensity prices the energy.
    stage : str
        The ops stage: ``"train"``, ``"evaluate"``, ``"optimize"``, ``"export"``,
        ``"benchmark"``, ``"serve"``, ``"predict"``, ... (a lowercase word).
    obj : Model, DataAsset or str, optional
        What the action is about. A text such as ``"model:churn"`` can be replaced
        inside the block with ``m.attach(model_version)``.
    note : str
        Why, or which variant of the action (shown in the ledger).
    predictions : int, optional
        Predictions made inside the block; the ledger then shows energy and
        emissions per 1,000 predictions. Can also be set as ``m.predictions = n``.
    variant : str, optional
        A deployable variant of the model (``"onnx"``, ``"int8"``, ...): the
        per-1,000-predictions table compares variants of the same version.

    Returns
    -------
    Measurement
        A context manager; after the block it holds ``energy_kwh``,
        ``emissions_kg``, ``duration_s``, ``method`` and the stored ``entry``.

    Raises
    ------
    ValidationError
        For a malformed stage, note, object or prediction count.

    Notes
    -----
    Each call builds a tracker and runs one CodeCarbon task: about 5-20 ms of
    overhead, plus a one-time hardware probe of 2-5 s in a new process (CodeCarbon
    matches the CPU model against its TDP table). Wrap whole actions (a training,
    an evaluation, a benchmark loop over many rows), never a single prediction.
    Without power counters (RAPL) CodeCarbon *estimates* CPU power from the CPU's
    TDP and this process's CPU time, and RAM power from memory size; such energy
    follows the duration and the entry says it is an estimate. Work done by other
    threads of this process at the same time is counted too.

    Examples
    --------
    >>> import tempfile, mlops_nb as mnb
    >>> from mlops_nb.sustain import measure
    >>> proj = mnb.Project.open(tempfile.mkdtemp() + "/demo")
    >>> with measure(proj, "predict", "model:demo", predictions=1000) as m:
    ...     total = sum(i * i for i in range(10_000))
    >>> m.entry["stage"], m.entry["predictions"], m.energy_kwh >= 0
    ('predict', 1000, True)
    """
    return Measurement(
        project, stage, obj, note=note, predictions=predictions, variant=variant
    )
