"""CodeCarbon's offline tracker, built so that nothing can make it go online.

A ``.codecarbon.config`` in the working or home folder, or a ``CODECARBON_*``
environment variable, switches on CodeCarbon's API, HTTP, Prometheus or Logfire
output, an Electricity Maps token or a CSV file in the working folder, unless each
setting is passed explicitly (``None`` is not enough: CodeCarbon then reads the
config). :func:`offline_tracker` passes every one of them. :func:`describe_method`
says how CodeCarbon got its figures, so estimates are never shown as measurements.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

#: CodeCarbon CPU modes that read energy counters instead of estimating from TDP.
_MEASURED_CPU = {
    "intel_rapl": "RAPL energy counters",
    "windows_emi": "Windows EMI counters",
    "intel_power_gadget": "Intel Power Gadget",
    "apple_powermetrics": "powermetrics",
}


def offline_tracker(
    country: str, region: str | None = None, *, name: str = "mlops_nb"
) -> Any:
    """Build an ``OfflineEmissionsTracker`` that cannot go online or write files.

    Parameters
    ----------
    country : str
        ISO 3166 alpha-3 code whose grid carbon intensity prices the energy.
    region : str, optional
        A US state or Canadian province with its own figures.
    name : str
        The CodeCarbon experiment name (kept in memory only).

    Returns
    -------
    codecarbon.OfflineEmissionsTracker
        Not started; use ``start_task()`` / ``stop_task()``.

    Notes
    -----
    ``output_methods=[]`` and ``output_handlers=[]`` (no CSV, API, logger,
    Prometheus or Logfire output), ``emissions_endpoint=False`` (no HTTP output),
    ``electricitymaps_api_token=""`` (no Electricity Maps calls), no cloud
    provider, ``force_carbon_intensity_g_co2e_kwh=None`` and ``pue=1.0`` (the
    project's settings decide, not a config file), ``tracking_mode="process"``
    (energy attributed by this process's CPU time, which matters on a shared
    machine), ``log_level="error"`` and ``allow_multiple_runs=True`` (no lock file).
    """
    import codecarbon.external.logger  # noqa: F401  (sets its level at import)

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    from codecarbon import OfflineEmissionsTracker

    return OfflineEmissionsTracker(
        country_iso_code=country,
        region=region,
        cloud_provider=None,
        cloud_region=None,
        country_2letter_iso_code=None,
        project_name="mlops_nb",
        experiment_name=name,
        output_methods=[],
        output_handlers=[],
        emissions_endpoint=False,
        electricitymaps_api_token="",
        api_endpoint="",
        api_key="",
        api_call_interval=-1,
        output_dir=tempfile.gettempdir(),
        logging_logger=None,
        metadata=None,
        force_carbon_intensity_g_co2e_kwh=None,
        force_cpu_power=None,
        force_ram_power=None,
        force_mode_cpu_load=False,
        pue=1.0,
        wue=0.0,
        tracking_mode="process",
        measure_power_secs=15,
        log_level="error",
        allow_multiple_runs=True,
    )


def describe_method(tracker: Any, data: Any) -> dict[str, Any]:
    """How CodeCarbon got its figures: measured counters or estimates, and from what."""
    parts = []
    cpu = next(
        (h for h in getattr(tracker, "_hardware", []) if type(h).__name__ == "CPU"),
        None,
    )
    mode = getattr(cpu, "_mode", None)
    tdp, model = (
        getattr(cpu, "_tdp", None),
        getattr(cpu, "_model", None) or "unknown CPU",
    )
    if mode in _MEASURED_CPU:
        parts.append(f"CPU energy read from {_MEASURED_CPU[mode]} ({model})")
    elif mode == "cpu_load":
        parts.append(
            f"CPU power estimated from the {model} TDP ({tdp} W) and this "
            "process's CPU time"
        )
    elif mode == "constant":
        parts.append(
            f"CPU power estimated as a constant share of the {model} TDP ({tdp} W)"
        )
    else:
        parts.append(f"CPU power estimated by CodeCarbon ({mode or 'unknown mode'})")
    ram_w = float(getattr(data, "ram_power", 0.0) or 0.0)
    parts.append(f"RAM power estimated from memory size ({ram_w:.1f} W)")
    gpu = [h for h in getattr(tracker, "_hardware", []) if type(h).__name__ == "GPU"]
    parts.append("GPU energy read from NVML/AMD SMI" if gpu else "no GPU")
    cpu_measured = mode in _MEASURED_CPU
    return {
        # RAM power always comes from CodeCarbon's memory-size model: never all measured
        "kind": "measured CPU, estimated RAM" if cpu_measured else "estimated",
        "estimated": True,
        "cpu_mode": mode,
        "cpu_model": model,
        "cpu_tdp_w": tdp,
        "ram_power_w": round(ram_w, 3),
        "gpu": bool(gpu),
        "tracking_mode": "process",
        "codecarbon": getattr(data, "codecarbon_version", None),
        "summary": "; ".join(parts) + ".",
    }


def join_monitor(tracker: Any) -> None:
    """Wait for CodeCarbon's 1-second power monitor to end: no thread lingers."""
    for attr in ("_scheduler_monitor_power", "_scheduler"):
        timer = getattr(getattr(tracker, attr, None), "_timer", None)
        if timer is not None and timer.is_alive():
            timer.cancel()
            timer.join(timeout=2.0)
