"""OpenLineage run events for mlops_nb's actions (off by default).

``mnb.set_config(lineage="openlineage", lineage_file="events.jsonl")`` makes data
registration (and every derived data version), training, ONNX export and monitoring
(``Monitor.observe``) emit OpenLineage ``RunEvent`` s through the openlineage-python
client: ``START`` before the action, then ``COMPLETE`` with its input and output
datasets, or ``FAIL`` with the error message when the action raises (the error is
raised as before). Without ``lineage_file`` the client's console transport logs
them (logger ``openlineage.client.transport.console``).

Datasets are named in the project's namespace (its folder as a ``file://`` URL, or
its team database URL with the password masked): ``data/<name>/v<version>``,
``models/<name>/v<version>``, ``models/<name>/v<version>/onnx`` and
``monitors/<name>``, with a ``schema`` facet (columns and kinds) and a ``version``
facet (the content SHA-256) where there is one. An action run inside another
(``observe`` registering its batch) carries a ``parent`` run facet.

The actions are wrapped with :func:`emits`. When lineage is off the wrapper only
reads the setting: openlineage is never imported. Emitting never breaks the
action: a transport that fails is reported by one warning, then ignored.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import traceback
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

Described = tuple[Any, str, list[Any], list[Any]]
F = TypeVar("F", bound="Callable[..., Any]")

#: the job and run of the action being run, for the parent facet of nested ones
_CURRENT: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "mlops_nb_lineage_run", default=None
)
#: one client per (transport, file); the transports that failed, warned about once
_CLIENTS: dict[tuple[str, str | None], Any] = {}
_WARNED: set[tuple[str, str | None]] = set()


def _setting() -> tuple[str, str | None] | None:
    from mlops_nb._config import _state

    state = _state()
    kind = state.get("lineage")
    return (kind, state.get("lineage_file")) if kind else None


def emits(action: str) -> Callable[[F], F]:
    """Wrap an action so it emits OpenLineage run events when lineage is on.

    Parameters
    ----------
    action : str
        One of ``"data"``, ``"train"``, ``"export_onnx"``, ``"observe"``: says how
        to find the project, job name and datasets in the arguments and result.
    """
    describe = _ACTIONS[action]

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            setting = _setting()
            if setting is None:  # off: no import, no cost
                return fn(*args, **kwargs)
            try:
                bound = signature.bind_partial(*args, **kwargs).arguments
            except TypeError:  # a wrong call: let the action say so
                return fn(*args, **kwargs)
            return _run_with_events(setting, describe, bound, fn, args, kwargs)

        return run  # type: ignore[return-value]

    return wrap


def _run_with_events(
    setting: tuple[str, str | None],
    describe: Callable[..., Described],
    bound: dict[str, Any],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    start = _safe(setting, lambda: describe(bound, None))
    if start is None:  # could not even describe it: run the action alone
        return fn(*args, **kwargs)
    project, job, inputs, _ = start
    run_id = _safe(setting, _new_run_id) or str(uuid.uuid4())
    namespace = _safe(setting, lambda: namespace_of(project)) or "mlops_nb"
    parent = _CURRENT.get()
    _emit(setting, "START", namespace, job, run_id, parent, inputs, [])
    token = _CURRENT.set((namespace, job, run_id))
    try:
        result = fn(*args, **kwargs)
    except BaseException as err:
        _CURRENT.reset(token)
        _emit(setting, "FAIL", namespace, job, run_id, parent, inputs, [], error=err)
        raise
    _CURRENT.reset(token)
    done = _safe(setting, lambda: describe(bound, result))
    ins, outs = (done[2], done[3]) if done is not None else (inputs, [])
    _emit(setting, "COMPLETE", namespace, job, run_id, parent, ins, outs)
    return result


def _new_run_id() -> str:
    from openlineage.client.uuid import generate_new_uuid  # UUIDv7, time-ordered

    return str(generate_new_uuid())


def namespace_of(project: Any) -> str:
    """Return the OpenLineage namespace of ``project``: its location, masked."""
    from mlops_nb.store._urls import mask_url

    location = getattr(project._store, "location", None)
    if location:
        return mask_url(location)
    return Path(project.path).resolve().as_uri()


# -- what each action reads and writes ------------------------------------------------
def _asset_dataset(asset: Any) -> dict[str, Any]:
    return {
        "name": f"data/{asset.name}/v{asset.version}",
        "schema": [(c.name, c.kind) for c in asset.schema.columns],
        "version": asset.content_hash,
    }


def _model_dataset(model: Any) -> dict[str, Any]:
    return {
        "name": f"models/{model.name}/v{model.version}",
        "schema": [(f, "feature") for f in model.features],
        "version": ",".join(sorted(model.artifacts.values())),
    }


def _ref_dataset(project: Any, name: str, version: int) -> dict[str, Any]:
    try:
        return _asset_dataset(project.asset(name, version))
    except Exception:
        return {"name": f"data/{name}/v{version}"}


def _data(bound: dict[str, Any], result: Any) -> Described:
    project = bound["project"]
    job = f"{bound.get('operation', 'register')}:{bound['name']}"
    if result is None:
        parents = bound.get("parents") or []
        return project, job, [_ref_dataset(project, n, v) for n, v in parents], []
    inputs = [_ref_dataset(project, n, v) for n, v in result.parents]
    return project, job, inputs, [_asset_dataset(result)]


def _train(bound: dict[str, Any], result: Any) -> Described:
    data = bound.get("data")
    inputs = [_asset_dataset(data)] if hasattr(data, "content_hash") else []
    outputs = [_model_dataset(result)] if result is not None else []
    return bound["project"], f"train:{bound['name']}", inputs, outputs


def _export(bound: dict[str, Any], result: Any) -> Described:
    model, check = bound["model"], bound.get("check")
    inputs = [_model_dataset(model)]
    if hasattr(check, "content_hash"):
        inputs.append(_asset_dataset(check))
    outputs = []
    if result is not None:
        outputs.append(
            {
                "name": f"models/{model.name}/v{model.version}/onnx",
                "schema": [(f, "feature") for f in model.features],
                "version": result.digest,
            }
        )
    return model.project, f"export_onnx:{model.name}", inputs, outputs


def _observe(bound: dict[str, Any], result: Any) -> Described:
    monitor, data = bound["self"], bound.get("data")
    model, project = monitor.model, monitor.project
    ref = monitor.state["reference"] if hasattr(monitor, "state") else None
    inputs = [_model_dataset(model)]
    if ref:
        inputs.append(_ref_dataset(project, ref["name"], ref["version"]))
    if hasattr(data, "content_hash"):
        inputs.append(_asset_dataset(data))
    elif result is not None:  # the batch it registered
        name, _, version = str(result.batch).rpartition(" v")
        if version.isdigit():
            inputs.append(_ref_dataset(project, name, int(version)))
    outputs = [{"name": f"monitors/{monitor.name}"}] if result is not None else []
    return project, f"observe:{monitor.name}", inputs, outputs


_ACTIONS: dict[str, Callable[..., Described]] = {
    "data": _data,
    "train": _train,
    "export_onnx": _export,
    "observe": _observe,
}


# -- events ---------------------------------------------------------------------------
def _producer() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"https://pypi.org/project/mlops-nb/{version('mlops-nb')}/"
    except PackageNotFoundError:
        return "https://pypi.org/project/mlops-nb/"


def build_event(
    state: str,
    namespace: str,
    job: str,
    run_id: str,
    parent: tuple[str, str, str] | None,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    *,
    error: BaseException | None = None,
) -> Any:
    """Return an ``openlineage.client.event_v2.RunEvent`` for one action state.

    Parameters
    ----------
    state : {"START", "COMPLETE", "FAIL"}
    namespace, job, run_id : str
        The project namespace, job name and run id.
    parent : tuple or None
        ``(namespace, job, run_id)`` of the action this one runs inside.
    inputs, outputs : list of dict
        ``{"name", "schema" (optional (column, kind) pairs), "version" (optional)}``.
    error : BaseException, optional
        For ``FAIL``: becomes the ``errorMessage`` run facet.
    """
    from openlineage.client import event_v2 as ev
    from openlineage.client.generated import (
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        parent_run,
        schema_dataset,
    )

    producer = _producer()

    def facets(d: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if d.get("schema"):
            out["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=str(n), type=str(t))
                    for n, t in d["schema"]
                ],
                producer=producer,
            )
        if d.get("version"):
            out["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(d["version"]), producer=producer
            )
        return out

    run_facets: dict[str, Any] = {}
    if parent is not None:
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent[2]),
            job=parent_run.Job(namespace=parent[0], name=parent[1]),
            producer=producer,
        )
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error))[-20_000:],
            producer=producer,
        )
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="MLOPS_NB",
            jobType=job.split(":", 1)[0].upper(),
            producer=producer,
        )
    }
    return ev.RunEvent(
        eventType=ev.RunState[state],
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=ev.Run(runId=run_id, facets=run_facets),
        job=ev.Job(namespace=namespace, name=job, facets=job_facets),
        producer=producer,
        inputs=[
            ev.InputDataset(namespace=namespace, name=d["name"], facets=facets(d))
            for d in inputs
        ],
        outputs=[
            ev.OutputDataset(namespace=namespace, name=d["name"], facets=facets(d))
            for d in outputs
        ],
    )


def client_for(kind: str, file: str | None) -> Any:
    """Return the (cached) OpenLineage client writing to ``file`` (console if None)."""
    key = (kind, file)
    if key not in _CLIENTS:
        from openlineage.client import OpenLineageClient

        if file is None:
            from openlineage.client.transport.console import (
                ConsoleConfig,
                ConsoleTransport,
            )

            transport: Any = ConsoleTransport(ConsoleConfig())
            conf: dict[str, Any] = {"type": "console"}
        else:
            from openlineage.client.transport.file import FileConfig, FileTransport

            transport = FileTransport(FileConfig(log_file_path=file, append=True))
            conf = {"type": "file", "log_file_path": file, "append": True}
        # explicit config: no git remote (it may hold a token), no environment facets
        _CLIENTS[key] = OpenLineageClient(
            transport=transport,
            config={
                "transport": conf,
                "facets": {
                    "source_code_location": {"disabled": True},
                    "environment_variables": [],
                },
            },
        )
    return _CLIENTS[key]


def _emit(
    setting: tuple[str, str | None],
    state: str,
    namespace: str,
    job: str,
    run_id: str,
    parent: tuple[str, str, str] | None,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    *,
    error: BaseException | None = None,
) -> None:
    def send() -> None:
        event = build_event(
            state, namespace, job, run_id, parent, inputs, outputs, error=error
        )
        client_for(*setting).emit(event)

    _safe(setting, send)


def _safe(setting: tuple[str, str | None], step: Callable[[], Any]) -> Any:
    """Run ``step``; on any error warn once per transport and return None."""
    try:
        return step()
    except Exception as err:
        if setting not in _WARNED:
            _WARNED.add(setting)
            where = setting[1] or "the console"
            # warnings turned into errors must not break the action
            with contextlib.suppress(Warning):
                warnings.warn(
                    f"OpenLineage events could not be written to {where} "
                    f"({type(err).__name__}: {err}); the action itself is not "
                    "affected. Fix the path or turn lineage off with "
                    "mnb.set_config(lineage='off'). Said once.",
                    UserWarning,
                    stacklevel=3,
                )
        return None
