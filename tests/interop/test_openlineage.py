"""OpenLineage run events for registration, training, ONNX export and observe.

openlineage-python 1.54 does not ship the OpenLineage JSON schema file (its
generator reads ``spec/OpenLineage.json`` from the source repository, which the wheel
leaves out), so every emitted event is validated against the client's own attrs
classes, generated from that schema: the JSON is rebuilt into ``event_v2.RunEvent``
and its facet classes (whose validators check the event time, run id UUID, producer
and schema URLs), each facet's ``_schemaURL`` must be the one its class declares, and
``Serde.to_dict`` of the rebuilt event must give back exactly what was written.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb import errors

if TYPE_CHECKING:
    from pathlib import Path

# -- validation against the client's classes -------------------------------------------


def _facet_classes() -> dict[str, Any]:
    from openlineage.client.generated import (
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        parent_run,
        schema_dataset,
        tags_run,
    )

    return {
        "schema": schema_dataset.SchemaDatasetFacet,
        "version": dataset_version_dataset.DatasetVersionDatasetFacet,
        "jobType": job_type_job.JobTypeJobFacet,
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "parent": parent_run.ParentRunFacet,
        "tags": tags_run.TagsRunFacet,
    }


def _facet(key: str, raw: dict[str, Any]) -> Any:
    from openlineage.client.generated import parent_run, schema_dataset, tags_run

    cls = _facet_classes()[key]  # an unknown facet fails here
    body = {k: v for k, v in raw.items() if k not in ("_producer", "_schemaURL")}
    if key == "schema":
        body["fields"] = [
            schema_dataset.SchemaDatasetFacetFields(**f) for f in body["fields"]
        ]
    if key == "parent":
        body["run"] = parent_run.Run(**body["run"])
        body["job"] = parent_run.Job(**body["job"])
    if key == "tags":
        body["tags"] = [tags_run.TagsRunFacetFields(**t) for t in body["tags"]]
    facet = cls(**body, producer=raw["_producer"])
    assert raw["_schemaURL"] == facet._get_schema()
    return facet


def validate_event(raw: dict[str, Any]) -> Any:
    """Rebuild ``raw`` with the client's attrs classes; fail if anything differs."""
    from openlineage.client import event_v2 as ev
    from openlineage.client.serde import Serde

    def facets(d: dict[str, Any] | None) -> dict[str, Any]:
        return {k: _facet(k, v) for k, v in (d or {}).items()}

    def dataset(cls: Any, d: dict[str, Any]) -> Any:
        assert not d.get("inputFacets")
        assert not d.get("outputFacets")
        return cls(namespace=d["namespace"], name=d["name"], facets=facets(d["facets"]))

    event = ev.RunEvent(
        eventType=ev.RunState[raw["eventType"]],
        eventTime=raw["eventTime"],
        producer=raw["producer"],
        run=ev.Run(runId=raw["run"]["runId"], facets=facets(raw["run"]["facets"])),
        job=ev.Job(
            namespace=raw["job"]["namespace"],
            name=raw["job"]["name"],
            facets=facets(raw["job"]["facets"]),
        ),
        inputs=[dataset(ev.InputDataset, d) for d in raw["inputs"]],
        outputs=[dataset(ev.OutputDataset, d) for d in raw["outputs"]],
    )
    assert raw["schemaURL"] == event._get_schema()
    assert json.loads(Serde.to_json(event)) == raw
    return event


def read_events(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line]
    for e in events:
        validate_event(e)
    return events


def by_run(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        runs[e["run"]["runId"]].append(e)
    return runs


def names(datasets: list[dict[str, Any]]) -> list[str]:
    return [d["name"] for d in datasets]


# -- data -----------------------------------------------------------------------------


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


@pytest.fixture
def events_file(tmp_path):
    path = tmp_path / "events.jsonl"
    with mnb.config_context(lineage="openlineage", lineage_file=path):
        yield path


# -- tests ---------------------------------------------------------------------------


def test_every_action_emits_start_then_complete_with_its_datasets(project, events_file):
    data = project.data("loans", _frame(), target="y")
    train, test = data.split(test=0.3, seed=0)
    model = project.train("credit", train, estimator="logistic")
    export = model.export_onnx(check=test)
    monitor = model.monitor(data)
    seen = monitor.observe(test.frame.drop(columns=["y"]))
    batch = project.asset(*seen.batch.rsplit(" v", 1))

    events = read_events(events_file)
    namespace = project.path.resolve().as_uri()
    assert {e["job"]["namespace"] for e in events} == {namespace}
    runs = by_run(events)
    assert all(
        [e["eventType"] for e in r] == ["START", "COMPLETE"] for r in runs.values()
    )
    done = {r[1]["job"]["name"]: r[1] for r in runs.values()}

    def ds(asset):
        return f"data/{asset.name}/v{asset.version}"

    expect = {
        "register:loans": ([], [ds(data)]),
        f"split:{train.name}": ([ds(data)], [ds(train)]),
        f"split:{test.name}": ([ds(data)], [ds(test)]),
        "train:credit": ([ds(train)], ["models/credit/v1"]),
        "export_onnx:credit": (
            ["models/credit/v1", ds(test)],
            ["models/credit/v1/onnx"],
        ),
        f"register:{batch.name}": ([], [ds(batch)]),
        f"observe:{monitor.name}": (
            ["models/credit/v1", ds(data), ds(batch)],
            [f"monitors/{monitor.name}"],
        ),
    }
    assert {
        job: (names(e["inputs"]), names(e["outputs"])) for job, e in done.items()
    } == expect
    # facets: the content hash as the version, the columns as the schema
    out = done["register:loans"]["outputs"][0]["facets"]
    assert out["version"]["datasetVersion"] == data.content_hash
    assert [f["name"] for f in out["schema"]["fields"]] == ["x1", "x2", "color", "y"]
    onnx = done["export_onnx:credit"]["outputs"][0]["facets"]
    assert onnx["version"]["datasetVersion"] == export.digest
    # the batch observe registered is a child run of the observe run
    observe_run = done[f"observe:{monitor.name}"]["run"]["runId"]
    parent = done[f"register:{batch.name}"]["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == observe_run
    assert parent["job"]["name"] == f"observe:{monitor.name}"


def _drop(col):
    return lambda f: f.drop(columns=[col])


def _retype(col):
    return lambda f: f.assign(**{col: "not a number"})


@pytest.mark.parametrize(
    "spoil",
    [_drop("x1"), _drop("x2"), _drop("color"), _retype("x1"), _retype("x2")],
    ids=["no-x1", "no-x2", "no-color", "text-x1", "text-x2"],
)
def test_a_refused_batch_emits_fail_and_stores_nothing(project, tmp_path, spoil):
    data = project.data("loans", _frame(), target="y")
    model = project.train("credit", data, estimator="logistic")
    monitor = model.monitor(data)
    path = tmp_path / "events.jsonl"
    with (
        mnb.config_context(lineage="openlineage", lineage_file=path),
        pytest.raises(errors.SchemaError) as refused,
    ):
        monitor.observe(spoil(_frame(80, seed=1)))
    assert monitor.batches == []
    events = read_events(path)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    fail = events[1]
    assert fail["job"]["name"] == f"observe:{monitor.name}"
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert message == f"SchemaError: {refused.value}"
    assert names(fail["inputs"]) == ["models/credit/v1", "data/loans/v1"]
    assert fail["outputs"] == []


@pytest.mark.parametrize(
    "act",
    [
        lambda p, a, m: p.train("bad", p.data("x", _frame().drop(columns=["y"]))),
        lambda p, a, m: p.train("bad", a, estimator="logistic", holdout=1.5),
        lambda p, a, m: m.export_onnx(tolerance=-1),
        lambda p, a, m: p.data("bad/name", _frame()),
    ],
    ids=[
        "train-no-target",
        "train-bad-holdout",
        "export-bad-tolerance",
        "data-bad-name",
    ],
)
def test_other_refused_actions_emit_fail(project, tmp_path, act):
    data = project.data("loans", _frame(), target="y")
    model = project.train("credit", data, estimator="logistic")
    path = tmp_path / "events.jsonl"
    with (
        mnb.config_context(lineage="openlineage", lineage_file=path),
        pytest.raises(errors.MlopsNbError) as refused,
    ):
        act(project, data, model)
    events = read_events(path)
    assert [e["eventType"] for e in events][-1] == "FAIL"
    fail = events[-1]
    assert str(refused.value) in fail["run"]["facets"]["errorMessage"]["message"]
    run = by_run(events)[fail["run"]["runId"]]
    assert [e["eventType"] for e in run] == ["START", "FAIL"]


def test_lineage_is_off_by_default_and_costs_no_import(tmp_path):
    code = (
        "import json, sys, numpy as np, pandas as pd, mlops_nb as mnb\n"
        "before = [m for m in ('openlineage', 'huggingface_hub') if m in sys.modules]\n"
        f"p = mnb.Project.open({str(tmp_path / 'proj')!r})\n"
        "f = pd.DataFrame({'x': np.arange(60.0), 'y': np.arange(60) % 2})\n"
        "m = p.train('m', p.data('d', f, target='y'), estimator='logistic')\n"
        "print(json.dumps([before, mnb.get_config()['lineage'], "
        "'openlineage' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], None, False]
    assert not list(tmp_path.glob("*.json*"))


def test_a_failing_transport_warns_once_and_the_actions_still_run(project, tmp_path):
    not_a_file = tmp_path / "a-folder"
    not_a_file.mkdir()
    with (
        mnb.config_context(lineage="openlineage", lineage_file=not_a_file),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        data = project.data("loans", _frame(), target="y")
        model = project.train("credit", data, estimator="logistic")
    assert model.version == 1
    assert project.asset("loans", 1).content_hash == data.content_hash
    said = [
        w for w in caught if "OpenLineage events could not be written" in str(w.message)
    ]
    assert len(said) == 1
    assert str(not_a_file) in str(said[0].message)


def test_console_transport_logs_the_events(project, caplog):
    with (
        mnb.config_context(lineage="openlineage"),
        caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"),
    ):
        data = project.data("loans", _frame(), target="y")
    logged = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "openlineage.client.transport.console"
    ]
    assert [e["eventType"] for e in logged] == ["START", "COMPLETE"]
    for e in logged:
        validate_event(e)
    assert names(logged[1]["outputs"]) == [f"data/loans/v{data.version}"]


def test_unknown_lineage_sink_is_refused():
    with pytest.raises(errors.ValidationError, match="unknown lineage sink"):
        mnb.set_config(lineage="marquez")
    assert mnb.get_config()["lineage"] is None


NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
TEXT = st.text(min_size=0, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=st.sampled_from(["START", "COMPLETE", "FAIL"]),
    job=NAME,
    datasets=st.lists(
        st.fixed_dictionaries(
            {"name": NAME},
            optional={
                "schema": st.lists(st.tuples(TEXT.filter(bool), NAME), max_size=4),
                "version": st.text(
                    alphabet="0123456789abcdef", min_size=1, max_size=64
                ),
            },
        ),
        max_size=3,
    ),
    parent=st.booleans(),
    message=TEXT,
)
def test_built_events_are_schema_valid_for_any_names(
    state, job, datasets, parent, message
):
    from openlineage.client.serde import Serde

    from mlops_nb._lineage import build_event

    ns = "file:///tmp/a%20project"
    run = "01a24bc3-d856-79e6-8a1f-c6ee13264886"
    event = build_event(
        state,
        ns,
        f"train:{job}",
        run,
        (ns, "observe:m", run) if parent else None,
        datasets,
        datasets[:1],
        error=ValueError(message) if state == "FAIL" else None,
    )
    raw = json.loads(Serde.to_json(event))
    validate_event(raw)
    assert raw["eventType"] == state
    assert names(raw["inputs"]) == [d["name"] for d in datasets]
