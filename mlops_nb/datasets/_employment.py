"""The US Census ACS employment data for Massachusetts, as shipped by nannyml.

The parquet files live inside nannyml's installed package. They are located with
:func:`importlib.util.find_spec`, which does not import nannyml: importing it is slow,
reads a ``.env`` file and can send usage statistics, none of which reading three
parquet files needs.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.data._dictionary import DICTIONARY_ATTR
from mlops_nb.errors import (
    DataReadError,
    MissingDependencyError,
    NotFoundError,
    ValidationError,
    did_you_mean,
    listing,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["employment"]

_FILES = {
    "reference": "employment_MA_reference.pq",
    "analysis": "employment_MA_analysis.pq",
    "analysis_targets": "employment_MA_analysis_target.pq",
}
_PREDICTION_COLUMNS = ("prediction", "predicted_probability")

#: What the columns hold and what their codes mean, from the ACS PUMS data dictionary
#: (2015-2018; https://www.census.gov/programs-surveys/acs/microdata/documentation.html)
#: as folktables' ACSEmployment task prepares them. The PUMS "N/A" code (blank) is
#: ``0`` in these files; its meaning (who is not asked) is said in the label.
DESCRIPTIONS = {
    "id": "Row identifier (unique across the reference and analysis parts)",
    "AGEP": "Age (years)",
    "SCHL": "Educational attainment",
    "MAR": "Marital status",
    "RELP": "Relationship to the reference person of the household",
    "DIS": "Disability recode",
    "ESP": "Employment status of parents (own children living with them)",
    "CIT": "Citizenship status",
    "MIG": "Mobility status (lived here 1 year ago)",
    "MIL": "Military service",
    "ANC": "Ancestry recode",
    "NATIVITY": "Nativity",
    "DEAR": "Hearing difficulty",
    "DEYE": "Vision difficulty",
    "DREM": "Cognitive difficulty",
    "SEX": "Sex",
    "RAC1P": "Recoded detailed race code",
    "employed": "Civilian employed, at work (ESR = 1; folktables' target)",
    "year": "Survey year",
    "prediction": "nannyml's tutorial model: predicted employed",
    "predicted_probability": "nannyml's tutorial model: probability of employed",
}
_GRADES = {i: f"Grade {i - 3}" for i in range(4, 13)}
_YES_NO = {1: "yes", 2: "no"}
LABELS: dict[str, dict[int, str]] = {
    "SCHL": {
        0: "N/A (under 3 years)",
        1: "No schooling completed",
        2: "Nursery school, preschool",
        3: "Kindergarten",
        **_GRADES,
        13: "Grade 10",
        14: "Grade 11",
        15: "12th grade, no diploma",
        16: "High school diploma",
        17: "GED or alternative credential",
        18: "Some college, under 1 year",
        19: "College credit, no degree",
        20: "Associate's degree",
        21: "Bachelor's degree",
        22: "Master's degree",
        23: "Professional degree",
        24: "Doctorate degree",
    },
    "MAR": {
        1: "Married",
        2: "Widowed",
        3: "Divorced",
        4: "Separated",
        5: "Never married or under 15",
    },
    "RELP": {
        0: "Reference person",
        1: "Husband/wife",
        2: "Biological son or daughter",
        3: "Adopted son or daughter",
        4: "Stepson or stepdaughter",
        5: "Brother or sister",
        6: "Father or mother",
        7: "Grandchild",
        8: "Parent-in-law",
        9: "Son-in-law or daughter-in-law",
        10: "Other relative",
        11: "Roomer or boarder",
        12: "Housemate or roommate",
        13: "Unmarried partner",
        14: "Foster child",
        15: "Other nonrelative",
        16: "Institutional group quarters",
        17: "Noninstitutional group quarters",
    },
    "DIS": {1: "With a disability", 2: "Without a disability"},
    "ESP": {
        0: "N/A (not own child)",
        1: "Two parents, both in labor force",
        2: "Two parents, father only in labor force",
        3: "Two parents, mother only in labor force",
        4: "Two parents, neither in labor force",
        5: "Father only, in labor force",
        6: "Father only, not in labor force",
        7: "Mother only, in labor force",
        8: "Mother only, not in labor force",
    },
    "CIT": {
        1: "Born in the U.S.",
        2: "Born in U.S. territories",
        3: "Born abroad of U.S. parent(s)",
        4: "U.S. citizen by naturalization",
        5: "Not a U.S. citizen",
    },
    "MIG": {
        0: "N/A (under 1 year)",
        1: "Same house",
        2: "Moved from abroad",
        3: "Moved within the U.S.",
    },
    "MIL": {
        0: "N/A (under 17 years)",
        1: "Now on active duty",
        2: "Active duty in the past",
        3: "Reserves/National Guard training only",
        4: "Never served",
    },
    "ANC": {1: "Single", 2: "Multiple", 3: "Unclassified", 4: "Not reported"},
    "NATIVITY": {1: "Native", 2: "Foreign born"},
    "DEAR": {1: "Hearing difficulty", 2: "No hearing difficulty"},
    "DEYE": {1: "Vision difficulty", 2: "No vision difficulty"},
    "DREM": {
        0: "N/A (under 5 years)",
        1: "Cognitive difficulty",
        2: "No cognitive difficulty",
    },
    "SEX": {1: "male", 2: "female"},
    "RAC1P": {
        1: "White alone",
        2: "Black alone",
        3: "American Indian alone",
        4: "Alaska Native alone",
        5: "American Indian and Alaska Native",
        6: "Asian alone",
        7: "Pacific Islander alone",
        8: "Some other race alone",
        9: "Two or more races",
    },
    "employed": {0: "not employed", 1: "employed"},
}

# Parsed files, keyed by path; callers always get a copy.
_CACHE: dict[Path, pd.DataFrame] = {}
_LOCK = threading.Lock()


def _nannyml_data_dir() -> Path:
    """Return ``<nannyml package>/datasets/data`` without importing nannyml."""
    fix = (
        "The employment data ships inside the 'nannyml' package, a dependency of "
        "mlops_nb. Install it with `uv sync` (or `pip install 'nannyml>=0.13.1'`) "
        "in this environment, then restart the kernel."
    )
    try:
        spec = importlib.util.find_spec("nannyml")
    except (ImportError, ValueError) as err:
        msg = f"employment(): cannot locate the 'nannyml' package ({err}). {fix}"
        raise MissingDependencyError(msg) from err
    if spec is None or not spec.submodule_search_locations:
        msg = f"employment(): the 'nannyml' package is not installed. {fix}"
        raise MissingDependencyError(msg)
    for location in spec.submodule_search_locations:
        folder = Path(location) / "datasets" / "data"
        if folder.is_dir():
            return folder
    msg = (
        "employment(): the installed 'nannyml' package has no datasets/data folder "
        f"(searched {listing(spec.submodule_search_locations)}). Reinstall nannyml "
        "(`uv sync --reinstall-package nannyml`) to restore its data files."
    )
    raise NotFoundError(msg)


def _read(path: Path) -> pd.DataFrame:
    """Read one parquet file once per process; return the cached frame."""
    import pandas as pd

    with _LOCK:
        if path in _CACHE:
            return _CACHE[path]
    if not path.is_file():
        msg = (
            f"employment(): data file {str(path)!r} is missing from the installed "
            "nannyml package. Reinstall nannyml (`uv sync --reinstall-package "
            "nannyml`) to restore it."
        )
        raise NotFoundError(msg)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        msg = (
            f"employment(): cannot read {str(path)!r}: {err}. The file may be "
            "damaged; reinstall nannyml (`uv sync --reinstall-package nannyml`)."
        )
        raise DataReadError(msg) from err
    frame = frame.reset_index(drop=True)
    with _LOCK:
        _CACHE[path] = frame
    return frame


def employment(
    part: Literal["reference", "analysis", "analysis_targets"] = "reference",
    *,
    with_nannyml_predictions: bool = False,
) -> pd.DataFrame:
    """Return one part of the real US Census employment data for Massachusetts.

    The data are person records from the US Census American Community Survey (ACS)
    Public Use Microdata Sample (PUMS), prepared with folktables' *ACSEmployment*
    task and shipped inside the nannyml package; reading them needs no network.
    The reference part covers 2015 and the analysis part 2016--2018, so a model
    trained on the reference year meets real temporal drift. The target ``employed``
    is known for every year, which lets label-free performance estimates be checked
    against realized performance. ``SEX`` and ``RAC1P`` are sensitive columns for
    fairness reviews.

    Parameters
    ----------
    part : {"reference", "analysis", "analysis_targets"}, default "reference"
        Which part to return:

        - ``"reference"``: 68,785 rows of 2015 with the target ``employed``;
        - ``"analysis"``: 208,892 rows of 2016, 2017 and 2018, without the target;
        - ``"analysis_targets"``: the targets of the analysis rows, columns ``id``
          and ``employed``; join them to ``"analysis"`` on ``id``.
    with_nannyml_predictions : bool, default False
        Keep the columns ``prediction`` and ``predicted_probability``, the outputs
        of the model nannyml trained for its own tutorials. They are dropped by
        default so that nothing hints at a model you did not train. Ignored for
        ``"analysis_targets"``.

    Returns
    -------
    pandas.DataFrame
        A new frame on each call (changing it does not change later calls), with a
        ``RangeIndex``. Its ``attrs`` carry the data dictionary (labels of the codes
        and descriptions of the columns, from the ACS PUMS documentation), which
        ``Project.data`` stores with the version. Columns of ``"reference"``, in order:

        - ``id`` (int): row identifier, unique across all parts;
        - ``AGEP`` (float): age in years;
        - ``SCHL``, ``MAR``, ``RELP``, ``DIS``, ``ESP``, ``CIT``, ``MIG``, ``MIL``,
          ``ANC``, ``NATIVITY``, ``DEAR``, ``DEYE``, ``DREM``, ``SEX``, ``RAC1P``
          (categorical with string codes): schooling, marital status, relationship,
          disability, parents' employment, citizenship, mobility, military service,
          ancestry, nativity, hearing, vision and cognitive difficulty, sex
          (``'1'`` male, ``'2'`` female) and race (``'1'`` White alone, ``'2'``
          Black alone, ``'6'`` Asian alone, others smaller groups), following the
          ACS PUMS data dictionary;
        - ``employed`` (int, 0 or 1): the target, civilian employed;
        - ``year`` (int);
        - ``prediction`` (int) and ``predicted_probability`` (float), only with
          ``with_nannyml_predictions=True``.

        ``"analysis"`` has the same columns without ``employed``.

    Raises
    ------
    ValidationError
        If `part` is not one of the three parts.
    MissingDependencyError
        If nannyml is not installed.
    NotFoundError
        If nannyml is installed but its data files are missing.
    DataReadError
        If a data file cannot be parsed.

    See Also
    --------
    scenario : synthetic data with planted drift, bias, label noise and poisoning.

    Notes
    -----
    The first call for a part reads its parquet file (about 0.1 s); later calls copy
    the cached frame. nannyml itself is never imported.

    Examples
    --------
    >>> from mlops_nb.datasets import employment
    >>> reference = employment("reference")
    >>> reference.shape
    (68785, 19)
    >>> reference["year"].unique().tolist()
    [2015]
    >>> analysis = employment("analysis").merge(employment("analysis_targets"), on="id")
    >>> sorted(analysis["year"].unique().tolist())
    [2016, 2017, 2018]
    """
    if not isinstance(part, str) or part not in _FILES:
        hint = did_you_mean(part, _FILES) if isinstance(part, str) else ""
        msg = (
            f"employment(part={part!r}): unknown part. Expected one of "
            f"{listing(_FILES)}.{hint}"
        )
        raise ValidationError(
            msg, [{"parameter": "part", "value": part, "problem": "unknown part"}]
        )
    frame = _read(_nannyml_data_dir() / _FILES[part])
    if not with_nannyml_predictions:
        frame = frame.drop(
            columns=[c for c in _PREDICTION_COLUMNS if c in frame.columns]
        )
    frame = frame.copy(deep=True)
    frame.attrs[DICTIONARY_ATTR] = dictionary()
    return frame


def dictionary() -> dict[str, Any]:
    """Return the employment data's dictionary, as ``frame.attrs`` carries it.

    ``Project.data`` stores it with the version (``asset.labels``,
    ``asset.descriptions``): codes show as labels such as ``"female"`` or
    ``"Bachelor's degree"``, with the code on hover.
    """
    return {
        "labels": {c: [[k, v] for k, v in m.items()] for c, m in LABELS.items()},
        "descriptions": dict(DESCRIPTIONS),
    }
