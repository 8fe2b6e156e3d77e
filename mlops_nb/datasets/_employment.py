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
from typing import TYPE_CHECKING, Literal

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
        ``RangeIndex``. Columns of ``"reference"``, in order:

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
    return frame.copy(deep=True)
