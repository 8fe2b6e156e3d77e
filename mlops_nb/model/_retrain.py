"""CI/CD for models: retrain the production recipe on new data, gate, report, promote.

``mlops-nb retrain PROJECT --model NAME --data NEW.parquet`` checks the new data
against the data the champion learnt from (target, id and other roles, column types)
before storing anything, registers it as the next version of that data, splits it
with the recipe's seed, retrains with the champion's recipe, evaluates champion and
challenger on the new test split without the rows either of them trained on,
promotes the challenger only when every gate passes, and writes an HTML report (a
papermill-run notebook) plus a JSON summary a scheduler can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import GateError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

REPORT_NOTEBOOK = Path(__file__).with_name("retrain_report.ipynb")


@dataclass
class RetrainResult:
    """What a retraining run did.

    ``test`` is the comparison set: the new test split without the rows either
    model trained on; ``overlap`` counts those rows (``test_rows``, ``excluded``,
    ``seen_by_champion``, ``seen_by_challenger``, ``compared``, ``matched_by``).
    """

    model: str
    champion: int
    challenger: int
    data: str
    test: str
    promoted: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    overlap: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return dict(self.__dict__)


def _training_asset(project: Project, champion_data: dict[str, Any]) -> DataAsset:
    """Return the version the champion trained on, before generated features."""
    trained_on = project.asset(champion_data["name"], champion_data["version"])
    while trained_on.operation == "features" and trained_on.parents:
        trained_on = project.asset(*trained_on.parents[0])
    return trained_on


def _source_asset(project: Project, champion_data: dict[str, Any]) -> DataAsset:
    """Return the asset new data continues.

    That is the parent of a split, else the training asset.
    """
    trained_on = _training_asset(project, champion_data)
    if trained_on.operation == "split" and trained_on.parents:
        return project.asset(*trained_on.parents[0])
    return trained_on


def _prepare(
    project: Project, champion: Model, data: Any, *, what: str
) -> tuple[pd.DataFrame, str, DataAsset, DataAsset]:
    """Read and check the new data against the champion's; store nothing.

    Returns the frame, its description, the asset it continues and the version the
    champion trained on.
    """
    from mlops_nb.data._frames import normalise, read_source
    from mlops_nb.model._estimators import NAMES
    from mlops_nb.model._retrain_checks import (
        _isin,
        check_new_data,
        row_key,
        row_keys,
    )

    recipe = champion.recipe
    if recipe["estimator"] not in NAMES:
        msg = (
            f"retrain: {champion.label} was trained with a {recipe['estimator']} "
            "object; scheduled retraining rebuilds only named estimators "
            f"({', '.join(NAMES)})."
        )
        raise ValidationError(msg)
    trained_on = _training_asset(project, champion.lineage["data"][0])
    source = _source_asset(project, champion.lineage["data"][0])
    frame, described = read_source(data, what=what)
    frame = normalise(frame, what=what)
    frame = check_new_data(frame, champion, source, what=what)
    seen = trained_on.frame
    key = row_key(seen, frame, source)
    unseen = int((~_isin(row_keys(frame, key), row_keys(seen, key))).sum())
    if unseen == 0:
        msg = (
            f"{what}: all {len(frame):,} rows of the new data were in "
            f"{trained_on.label}, which {champion.label} trained on (rows matched by "
            f"{key['by']}), so no row could compare the champion fairly. Nothing "
            "was stored; retrain on data that holds rows the champion has not seen."
        )
        raise ValidationError(msg)
    return frame, described, source, trained_on


def _register(
    project: Project, frame: pd.DataFrame, source: DataAsset, *, note: str, what: str
) -> DataAsset:
    """Store the checked frame as the next version, with the source's roles."""
    from mlops_nb.data._register import register_frame

    schema = source.schema
    kinds = {
        c.name: c.kind
        for c in schema.columns
        if c.name in frame.columns
        and str(frame[c.name].dtype) == c.dtype
        and c.role not in ("id",)
    }
    return register_frame(
        project,
        source.name,
        frame,
        target=schema.target,
        sensitive=list(schema.sensitive),
        time=schema.time,
        id=schema.id,
        kinds=kinds,
        note=note,
        source=what,
        what=what,
    )


def _comparison(
    test_part: DataAsset,
    train_part: DataAsset,
    trained_on: DataAsset,
    source: DataAsset,
) -> tuple[DataAsset | None, dict[str, Any]]:
    """Return the test rows neither model trained on, and the overlap's counts."""
    from mlops_nb.model._retrain_checks import _isin, row_key, row_keys

    test = test_part.frame
    key = row_key(trained_on.frame, test, source)
    keys = row_keys(test, key)
    by_champion = _isin(keys, row_keys(trained_on.frame, key))
    by_challenger = _isin(keys, row_keys(train_part.frame, key))
    excluded = by_champion | by_challenger
    overlap = {
        "test_rows": len(test),
        "excluded": int(excluded.sum()),
        "seen_by_champion": int(by_champion.sum()),
        "seen_by_challenger": int(by_challenger.sum()),
        "compared": int((~excluded).sum()),
        "matched_by": key["by"],
        "split": test_part.label,
    }
    if overlap["compared"] == 0:
        return None, overlap
    if not excluded.any():
        return test_part, overlap
    kept = test_part.filter(
        ~excluded,
        name=f"{test_part.name}-unseen",
        note=(
            f"rows of {test_part.label} neither model trained on "
            f"({overlap['excluded']:,} excluded)"
        ),
    )
    return kept, overlap


def retrain(
    project: Project,
    name: str,
    data: Any,
    *,
    test: float = 0.2,
    tolerance: float = 0.01,
    min_metrics: dict[str, float] | None = None,
    reason: str = "scheduled retraining",
) -> RetrainResult:
    """Retrain model ``name`` on new data with its production recipe.

    The challenger is promoted if the gates pass. Champion and challenger are
    compared on the new test split without the rows either of them trained on.

    Raises
    ------
    SchemaError, ValidationError, DataReadError, EmptyDataError
        When the new data lacks the champion's target, id, time, sensitive or input
        columns, retypes one, has unusable labels, or holds only rows the champion
        trained on. Checked before anything is stored: the refusal is recorded in
        the audit log and nothing else changes.
    """
    from mlops_nb.model._retrain_checks import audit_refusal, comparison_note
    from mlops_nb.model._train import train_model

    what = f"retrain({name!r})"
    champion = project.model(
        name, stage="production"
    )  # NotFoundError names what exists
    recipe = champion.recipe
    try:
        frame, described, source, trained_on = _prepare(
            project, champion, data, what=what
        )
    except Exception as err:
        audit_refusal(
            project, f"model:{champion.label}", "retrain refused", err, what=what
        )
        raise
    new = _register(
        project,
        frame,
        source,
        note=f"new data for retraining {name} ({described})",
        what=what,
    )
    stratify = recipe["target"] if recipe["task"] != "regression" else None
    train_part, test_part = new.split(
        test=test, seed=recipe.get("seed", 0), stratify=stratify
    )
    compare_on, overlap = _comparison(test_part, train_part, trained_on, source)
    if compare_on is None:
        msg = (
            f"{what}: every row of {test_part.label} was in a model's training data "
            f"({comparison_note(overlap)}); no fair comparison is possible. No "
            "model was trained; retrain on data with more unseen rows."
        )
        err = ValidationError(msg)
        audit_refusal(
            project, f"model:{champion.label}", "retrain refused", err, what=what
        )
        raise err
    generated = recipe.get("feature_recipe")
    if generated:  # the champion used generated features: the same frozen steps
        from mlops_nb.data._features import apply_to_asset

        train_part = apply_to_asset(train_part, generated)
    challenger = train_model(
        project,
        name,
        train_part,
        estimator=recipe["estimator"],
        params=recipe.get("user_params") or None,
        cv=recipe.get("cv"),
        holdout=recipe.get("holdout", 0.2),
        seed=recipe.get("seed", 0),
        use_sensitive=recipe.get("use_sensitive", False),
        note=reason,
        parent=champion,
    )
    metrics = {
        f"champion v{champion.version}": champion.evaluate(compare_on).metrics,
        f"challenger v{challenger.version}": challenger.evaluate(compare_on).metrics,
    }
    result = RetrainResult(
        name,
        champion.version,
        challenger.version,
        new.label,
        compare_on.label,
        promoted=False,
        metrics=metrics,
        overlap=overlap,
    )
    try:
        challenger.promote(
            "production",
            reason=reason,
            data=compare_on,
            tolerance=tolerance,
            min_metrics=min_metrics,
        )
        result.promoted = True
    except GateError as err:
        result.failures = err._failure_cases
    return result


def write_report(
    project: Project, result: RetrainResult, html_path: Path
) -> dict[str, Path]:
    """Run the retraining report notebook.

    It writes ``.html`` and a ``.json`` summary beside ``html_path``.

    The JSON holds the retraining result (``promoted``, ``failures``, ``metrics``, ...)
    together with the report's collected key figures and alerts.
    """
    from mlops_nb._report import run_report

    if not REPORT_NOTEBOOK.is_file():  # pragma: no cover - packaging error
        msg = f"the retraining report notebook is missing: {REPORT_NOTEBOOK}"
        raise NotFoundError(msg)
    html_path = Path(html_path)
    summary = json.loads(json.dumps(result.to_dict(), default=str))
    params = {
        "project_dir": str(project.path),
        "model_name": result.model,
        "summary": summary,
    }
    out = run_report(
        REPORT_NOTEBOOK,
        html_path,
        parameters=params,
        cwd=html_path.parent,
        extra=summary,
    )
    return {"html": out["html"], "json": out["json"]}
