"""The carbon and energy ledger: every measured action, summed by version and stage.

Each :func:`~mlops_nb.sustain.measure` block adds one entry, stored as a report of the
object it belongs to (a model version, a data version or the project) with kind
``energy:<id>``. Entries are append-only and stay out of the audit log, which
records the actions themselves (the training, the export), not their measurement.
Sums use each entry's ``self_*`` figures (what no nested entry already counts), so
the totals count every joule once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb._project import Project
    from mlops_nb.ui import View

_COLUMNS = ["at", "stage", "object", "model", "model_version", "variant", "note"]
_COLUMNS += ["outcome", "duration_s", "cpu_s", "energy_kwh", "emissions_kg"]
_COLUMNS += ["self_duration_s", "self_energy_kwh", "self_emissions_kg", "predictions"]
_COLUMNS += ["within", "country", "region", "method", "id"]


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def record_entry(
    project: Project, owner_kind: str, owner_id: int, entry: dict[str, Any]
) -> None:
    """Append one ledger entry."""
    from mlops_nb.store._db import now
    from mlops_nb.store._q_reports import insert_report

    text = json.dumps(entry, default=_json_default)
    store = project._store
    with store.write() as conn:
        kind = f"energy:{entry['id']}"
        insert_report(conn, owner_kind, owner_id, kind, text, now())


def ledger_entries(project: Project) -> list[dict[str, Any]]:
    """Every ledger entry of the project, oldest first."""
    from mlops_nb.store._q_reports import energy_payloads

    return [json.loads(p) for p in energy_payloads(project._store)]


def _frame(entries: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        [{k: e.get(k) for k in _COLUMNS} for e in entries], columns=_COLUMNS
    )
    frame["method"] = frame["method"].map(
        lambda m: (m or {}).get("kind", "not measured")
    )
    for col in ("self_energy_kwh", "self_emissions_kg", "energy_kwh", "emissions_kg"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def _wh(kwh: float) -> float:
    return float(kwh) * 1000.0


@dataclass(frozen=True, repr=False)
class SustainabilityReport(Displayable):
    """The project's ledger: energy and emissions by model version, by stage, in total.

    Get it with :meth:`Project.sustainability`. Figures are shown in Wh and g CO2e
    (stored in CodeCarbon's kWh and kg).
    """

    project: str
    settings: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)

    # -- tables ----------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per measured action; ``self_*`` figures exclude nested entries."""
        return _frame(self.entries)

    @property
    def energy_kwh(self) -> float:
        """Total energy of every measured action, each joule counted once."""
        return float(self.to_frame()["self_energy_kwh"].fillna(0).sum())

    @property
    def emissions_kg(self) -> float:
        """Total emissions (kg CO2e), each counted once."""
        return float(self.to_frame()["self_emissions_kg"].fillna(0).sum())

    def _sums(self, frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        out = (
            frame.groupby(by, dropna=False, sort=False)
            .agg(
                entries=("id", "size"),
                seconds=("self_duration_s", "sum"),
                energy_kwh=("self_energy_kwh", "sum"),
                emissions_kg=("self_emissions_kg", "sum"),
            )
            .reset_index()
        )
        out["Wh"] = out["energy_kwh"].map(_wh)
        out["g CO2e"] = out["emissions_kg"].map(_wh)
        return out

    def by_stage(self) -> pd.DataFrame:
        """Energy (Wh), emissions (g CO2e), seconds and entries per ops stage."""
        out = self._sums(self.to_frame(), ["stage"])
        return out[["stage", "entries", "seconds", "Wh", "g CO2e"]]

    def by_model(self) -> pd.DataFrame:
        """Per model version: Wh and g CO2e in total and per stage."""
        import pandas as pd

        frame = self.to_frame()
        frame = frame[frame["model"].notna()]
        if frame.empty:
            return pd.DataFrame(
                columns=["model version", "entries", "seconds", "Wh", "g CO2e"]
            )
        frame = frame.assign(
            **{
                "model version": frame["model"]
                + " v"
                + frame["model_version"].astype(int).astype(str)
            }
        )
        out = self._sums(frame, ["model version"])[
            ["model version", "entries", "seconds", "Wh", "g CO2e"]
        ]
        stages = self._sums(frame, ["model version", "stage"]).pivot(
            index="model version", columns="stage", values="Wh"
        )
        stages.columns = [f"{c} Wh" for c in stages.columns]
        return out.merge(stages.reset_index(), on="model version", how="left")

    def per_1000_predictions(self) -> pd.DataFrame:
        """Wh, g CO2e and milliseconds per 1,000 predictions, per object and variant."""
        import pandas as pd

        frame = self.to_frame()
        frame = frame[frame["predictions"].fillna(0) > 0]
        cols = [
            "object",
            "variant",
            "stage",
            "predictions",
            "Wh per 1,000",
            "g CO2e per 1,000",
            "ms per prediction",
        ]
        if frame.empty:
            return pd.DataFrame(columns=cols)
        frame = frame.assign(variant=frame["variant"].fillna("as stored"))
        out = (
            frame.groupby(["object", "variant", "stage"], sort=False)
            .agg(
                predictions=("predictions", "sum"),
                energy=("energy_kwh", "sum"),
                emissions=("emissions_kg", "sum"),
                seconds=("duration_s", "sum"),
            )
            .reset_index()
        )
        out["predictions"] = out["predictions"].astype("int64")
        out["Wh per 1,000"] = out["energy"] * 1e6 / out["predictions"]
        out["g CO2e per 1,000"] = out["emissions"] * 1e6 / out["predictions"]
        out["ms per prediction"] = out["seconds"] * 1e3 / out["predictions"]
        return out[cols]

    @property
    def estimated(self) -> bool:
        """True when any figure is a CodeCarbon estimate rather than a meter reading."""
        return any((e.get("method") or {}).get("estimated") for e in self.entries)

    # -- figures and rendering -------------------------------------------------------
    def plot(self, kind: str = "cumulative") -> go.Figure:
        """Draw one chart: ``cumulative``, ``stage``, ``model`` or ``per_1000``.

        Raises
        ------
        ValidationError
            For another ``kind``.
        """
        from mlops_nb.sustain._views import ledger_figure

        return ledger_figure(self, kind)

    def _view(self) -> View:
        from mlops_nb.sustain._views import ledger_view

        return ledger_view(self)


def sustainability(
    project: Project,
    *,
    country: str | None = None,
    region: str | None = None,
    track: bool | None = None,
    model: str | None = None,
) -> SustainabilityReport:
    """Show the project's carbon and energy ledger; with settings, change them first.

    Parameters
    ----------
    project : Project
    country : str, optional
        ISO 3166 alpha-3 code of where the project's computers run (default
        ``"DEU"`` until set); prices energy with that grid's carbon intensity from
        CodeCarbon's offline table. Applies to actions measured from now on.
    region : str, optional
        A US state or Canadian province (``""`` clears it).
    track : bool, optional
        Switch measuring off (``False``) or on for this project.
    model : str, optional
        Show only the entries of this model's versions.

    Returns
    -------
    SustainabilityReport

    Raises
    ------
    ValidationError
        For an unknown country or region; nothing is saved.
    NotFoundError
        When ``model`` names no model of the project.
    """
    from mlops_nb.sustain._settings import save_settings, settings

    if country is not None or region is not None or track is not None:
        current = save_settings(project, country=country, region=region, track=track)
    else:
        current = settings(project)
    entries = ledger_entries(project)
    if model is not None:
        project.model(model)  # NotFoundError naming the models that exist
        entries = [e for e in entries if e.get("model") == model]
    return SustainabilityReport(project.name, current, entries)
