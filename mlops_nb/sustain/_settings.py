"""Where the project's computers run: the settings that turn energy into emissions.

Emissions are energy times the carbon intensity of the electricity grid, so the
ledger needs to know where the machine is. The project stores this as a versioned
document (kind ``"settings"``, name ``"sustainability"``): the country's ISO 3166
alpha-3 code (CodeCarbon's offline table of 2023 grid mixes), an optional region
(US states and Canadian provinces have their own figures) and whether energy is
tracked at all. Nothing is looked up on the network: no IP geolocation, no
Electricity Maps API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError, did_you_mean, listing

if TYPE_CHECKING:
    from mlops_nb._project import Project

_KIND, _NAME = "settings", "sustainability"
#: Used until the project says where it runs; the report says it is a default.
DEFAULT_COUNTRY = "DEU"
_REGIONAL = {"USA": "usa", "CAN": "canada"}


def _countries() -> dict[str, Any]:
    """CodeCarbon's offline table of grid mixes, keyed by alpha-3 country code."""
    import logging

    import codecarbon.external.logger  # noqa: F401  (configures the logger first)

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    from codecarbon.input import DataSource

    return DataSource().get_global_energy_mix_data()


def _regions(country: str) -> list[str] | None:
    """Regions with their own figures for ``country``, or None when it has none."""
    from codecarbon.input import DataSource

    source = _REGIONAL.get(country)
    if source is None:
        return None
    data = (
        DataSource().get_country_emissions_data(source)
        if country == "USA"
        else DataSource().get_country_energy_mix_data(source)
    )
    return sorted(k for k in data if not k.startswith("_") and k != source)


def settings(project: Project) -> dict[str, Any]:
    """Return the project's sustainability settings, defaults filled in.

    Returns
    -------
    dict
        ``country``, ``region`` (or None), ``track`` (bool), ``default`` (True
        while the country was never set) and ``version`` (of the document, 0 if none).
    """
    row = project._document(_KIND, _NAME)
    payload = row["payload"] if row else {}
    return {
        "country": payload.get("country", DEFAULT_COUNTRY),
        "region": payload.get("region"),
        "track": payload.get("track", True),
        "default": "country" not in payload,
        "version": row["version"] if row else 0,
    }


def save_settings(
    project: Project,
    *,
    country: str | None = None,
    region: str | None = None,
    track: bool | None = None,
) -> dict[str, Any]:
    """Validate and store the given settings; the others keep their values.

    Raises
    ------
    ValidationError
        For an unknown country or region, naming what CodeCarbon knows.
    """
    current = project._document(_KIND, _NAME)
    payload = dict(current["payload"]) if current else {}
    payload.pop("revision", None)
    what = "proj.sustainability"
    if country is not None:
        code = str(country).strip().upper()
        known = _countries()
        if code not in known:
            names = {v.get("country_name", ""): k for k, v in known.items()}
            hint = did_you_mean(str(country), list(known))
            by_name = {n.lower(): c for n, c in names.items()}
            if str(country).strip().lower() in by_name:
                hint = f" Did you mean {by_name[str(country).strip().lower()]!r}?"
            msg = (
                f"{what}(country={country!r}): not an ISO 3166 alpha-3 code CodeCarbon "
                f"has grid data for. Use a code such as 'DEU', 'FRA' or 'USA'.{hint}"
            )
            raise ValidationError(msg)
        if code != payload.get("country"):
            payload.pop("region", None)  # a region belongs to its country
        payload["country"] = code
    if region is not None:
        code = payload.get("country", DEFAULT_COUNTRY)
        if region == "":
            payload.pop("region", None)
        else:
            regions = _regions(code)
            name = str(region).strip().lower()
            if regions is None:
                msg = (
                    f"{what}(region={region!r}): CodeCarbon has regional grid data for "
                    f"the USA (states) and Canada (provinces) only; {code} uses its "
                    "national figure. Leave region out."
                )
                raise ValidationError(msg)
            if name not in regions:
                msg = (
                    f"{what}(region={region!r}): not a region of {code}. Regions: "
                    f"{listing(regions)}.{did_you_mean(name, regions)}"
                )
                raise ValidationError(msg)
            payload["region"] = name
    if track is not None:
        if not isinstance(track, bool):
            msg = f"{what}(track={track!r}): use True or False."
            raise ValidationError(msg)
        payload["track"] = track
    before = {
        k: v
        for k, v in (current["payload"] if current else {}).items()
        if k != "revision"
    }
    if current is None or payload != before:
        # the revision makes a return to earlier settings a new, newest version
        payload["revision"] = (current["version"] if current else 0) + 1
        project._save_document(_KIND, _NAME, payload, note="sustainability settings")
    return settings(project)
