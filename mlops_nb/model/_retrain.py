"""CI/CD for models: retrain the production recipe on new data, gate, report, promote.

``mlops-nb retrain PROJECT --model NAME --data NEW.parquet`` registers the new data as
the next version of the data the champion learnt from, splits it with the recipe's
seed, retrains with the champion's recipe, evaluates champion and challenger on the
same new test split, promotes the challenger only when every gate passes, and writes
an HTML report (a papermill-run notebook) plus a JSON summary a scheduler can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import GateError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset

REPORT_NOTEBOOK = Path(__file__).with_name("retrain_report.ipynb")


@dataclass
class RetrainResult:
    """What a retraining run did."""

    model: str
    champion: int
    challenger: int
    data: str
    test: str
    promoted: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return dict(self.__dict__)


def _source_asset(project: Project, champion_data: dict[str, Any]) -> DataAsset:
    """Return the asset new data continues.

    That is the parent of a split, else the training asset.
    """
    trained_on = project.asset(champion_data["name"], champion_data["version"])
    while trained_on.operation == "features" and trained_on.parents:
        trained_on = project.asset(*trained_on.parents[0])
    if trained_on.operation == "split" and trained_on.parents:
        return project.asset(*trained_on.parents[0])
    return trained_on


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

    The challenger is promoted if the gates pass.
    """
    from mlops_nb.model._train import train_model

    champion = project.model(
        name, stage="production"
    )  # NotFoundError names what exists
    recipe = champion.recipe
    from mlops_nb.model._estimators import NAMES

    if recipe["estimator"] not in NAMES:
        msg = (
            f"retrain: {champion.label} was trained with a {recipe['estimator']} "
            "object; scheduled retraining rebuilds only named estimators "
            f"({', '.join(NAMES)})."
        )
        raise ValidationError(msg)
    source = _source_asset(project, champion.lineage["data"][0])
    new = project.data(source.name, data, note=f"new data for retraining {name}")
    stratify = recipe["target"] if recipe["task"] != "regression" else None
    train_part, test_part = new.split(
        test=test, seed=recipe.get("seed", 0), stratify=stratify
    )
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
        f"champion v{champion.version}": champion.evaluate(test_part).metrics,
        f"challenger v{challenger.version}": challenger.evaluate(test_part).metrics,
    }
    result = RetrainResult(
        name,
        champion.version,
        challenger.version,
        new.label,
        test_part.label,
        promoted=False,
        metrics=metrics,
    )
    try:
        challenger.promote(
            "production",
            reason=reason,
            data=test_part,
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
