"""The model card as a ``huggingface_hub.ModelCard``, written offline.

:func:`to_huggingface` turns a :class:`~mlops_nb.human._card.ModelCard` into the Hub's
own card class: the YAML metadata is built with ``ModelCardData`` (which validates
the ``model-index``: every evaluation result names its task, dataset and metric), the
markdown body is the card's sections (intended use, limitations, fairness, carbon...)
as :meth:`ModelCard.to_markdown` writes them. :func:`push_to_hub_format` saves it as
``README.md`` in a folder, the layout ``huggingface_hub.upload_folder`` pushes; nothing
here talks to the Hub.

The metadata carries, besides the Hub's usual keys, an ``mlops_nb`` key with the data
versions the model learnt from (name, version, content SHA-256, rows), so the hashes
survive a round trip through ``ModelCard.load``.

huggingface_hub is imported lazily, with ``HF_HUB_OFFLINE=1`` and
``HF_HUB_DISABLE_TELEMETRY=1`` set first (unless the user set them): loading and
saving a card from a local path never needs the network.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    from mlops_nb.human._card import ModelCard

#: set before huggingface_hub is imported (it reads them once, at import)
HF_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def import_huggingface_hub() -> ModuleType:
    """Import huggingface_hub offline and without telemetry.

    Returns
    -------
    module
        The ``huggingface_hub`` module.

    Raises
    ------
    mlops_nb.errors.MissingDependencyError
        If huggingface_hub is not installed (``pip install 'mlops-nb[hub]'``).
    """
    from mlops_nb._offline import disable_telemetry

    disable_telemetry()
    for key, value in HF_OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import huggingface_hub
    except ModuleNotFoundError as err:
        if err.name != "huggingface_hub":
            raise
        from mlops_nb.errors import MissingDependencyError

        msg = (
            "card.to_huggingface() needs huggingface_hub, which is not installed. "
            "Install it with `pip install 'mlops-nb[hub]'`."
        )
        raise MissingDependencyError(msg) from err
    return huggingface_hub


def _split_label(label: str) -> tuple[str, int | None]:
    name, _, version = label.rpartition(" v")
    return (name, int(version)) if name and version.isdigit() else (label, None)


def card_facts(card: ModelCard) -> dict[str, Any]:
    """Return the plain facts the Hugging Face metadata is built from.

    Returns
    -------
    dict
        ``model`` (label), ``task``, ``estimator``, ``family``, ``data`` (one dict per
        training data version: name, version, sha256, rows), ``metrics`` (headline
        metric names) and ``results`` (one dict per evaluation: data name and label,
        split, content hash and ``{metric: value}``).
    """
    m = card.model
    project = m.project
    data = []
    for d in m.lineage["data"]:
        asset = project.asset(d["name"], d["version"])
        data.append(
            {
                "name": asset.name,
                "version": asset.version,
                "sha256": asset.content_hash,
                "rows": asset.n_rows,
            }
        )
    results = []
    for e in m.evaluations():
        name, version = _split_label(e.data_label)
        split, digest = None, None
        if version is not None:
            try:
                asset = project.asset(name, version)
            except Exception:  # an evaluation of data since removed: keep the label
                asset = None
            if asset is not None:
                digest = asset.content_hash
                split = asset.params.get("part") if asset.operation == "split" else None
        results.append(
            {
                "data_name": name,
                "data_label": e.data_label,
                "split": split,
                "sha256": digest,
                "metrics": {k: e.metrics[k] for k in e.headline()},
            }
        )
    evals = m.evaluations()
    return {
        "model": m.label,
        "task": m.task,
        "estimator": m.recipe["estimator"],
        "family": m.recipe.get("family", ""),
        "data": data,
        "metrics": evals[-1].headline() if evals else [],
        "results": results,
    }


def _framework(estimator: str, family: str) -> str:
    if estimator == "lightgbm" or family == "lightgbm":
        return "lightgbm"
    if estimator == "ebm":
        return "interpret"
    return "sklearn"


def card_data(facts: dict[str, Any], *, license: str | None = None) -> Any:
    """Build the validated ``ModelCardData`` of ``facts`` (see :func:`card_facts`).

    Parameters
    ----------
    facts : dict
        What :func:`card_facts` returns.
    license : str, optional
        A licence identifier (``"apache-2.0"``, ``"mit"``...); omitted when None.

    Returns
    -------
    huggingface_hub.ModelCardData
    """
    hub = import_huggingface_hub()
    task = (
        "tabular-regression"
        if facts["task"] == "regression"
        else "tabular-classification"
    )
    framework = _framework(facts["estimator"], facts["family"])
    tags = [task, "tabular", framework, facts["estimator"], "mlops_nb"]
    tags = list(dict.fromkeys(tags))
    # the Hub groups results by (task, dataset type, split, revision), not by name: a
    # data version is told apart by its hash (its label when the data is gone), and
    # the newest evaluation of one data version replaces older ones
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in facts["results"]:
        revision = r["sha256"] or r["data_label"]
        newest[(r["data_name"], r["split"], revision)] = {**r, "revision": revision}
    results = [
        hub.EvalResult(
            task_type=task,
            dataset_type=r["data_name"],
            dataset_name=r["data_label"],
            dataset_split=r["split"],
            dataset_revision=r["revision"],
            metric_type=metric,
            metric_value=float(value),
        )
        for r in newest.values()
        for metric, value in r["metrics"].items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    ]
    datasets = [f"{d['name']} v{d['version']}" for d in facts["data"]]
    extra: dict[str, Any] = {"mlops_nb": {"data_versions": list(facts["data"])}}
    if license:
        extra["license"] = license
    return hub.ModelCardData(
        model_name=facts["model"],
        library_name="mlops_nb",
        pipeline_tag=task,
        tags=tags,
        datasets=sorted(set(datasets)) or None,
        metrics=list(facts["metrics"]) or None,
        eval_results=results or None,
        **extra,
    )


def _body(card: ModelCard) -> str:
    text = card.to_markdown()
    # the body after the hand-written front matter: ModelCardData writes the metadata
    return text.split("\n---\n", 1)[1].lstrip("\n")


def to_huggingface(card: ModelCard, *, license: str | None = None) -> Any:
    """Return ``card`` as a ``huggingface_hub.ModelCard``.

    See :meth:`mlops_nb.human._card.ModelCard.to_huggingface`.
    """
    hub = import_huggingface_hub()
    data = card_data(card_facts(card), license=license)
    content = f"---\n{data.to_yaml()}\n---\n\n{_body(card)}"
    return hub.ModelCard(content)


def push_to_hub_format(
    card: ModelCard, folder: str | Path, *, license: str | None = None
) -> Path:
    """Write ``card`` as ``README.md`` in ``folder``; return its path.

    See :meth:`mlops_nb.human._card.ModelCard.push_to_hub_format`.
    """
    hf = to_huggingface(card, license=license)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "README.md"
    hf.save(path)
    return path
