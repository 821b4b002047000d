"""The Label Studio plugin without a server: configs, tasks, payloads, HTTP calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from driftscope.config.settings import LabelingSettings, ModelSettings
from driftscope.errors import ConfigError, ValidationError
from driftscope.labeling import (
    AnnotationsDeleted,
    Ignored,
    Labeled,
    LabelingTool,
    LabelStudio,
    UnsupportedTaskError,
    labeling_tools,
    open_tool,
)
from driftscope.labeling.labelstudio import (
    LabelStudioError,
    annotation_value,
    label_config,
    parse_payload,
    task_for,
)
from driftscope.registry import load_registries
from driftscope.types import Record

T = datetime(2026, 11, 1, tzinfo=UTC)


def model(task: str, **schema: object) -> ModelSettings:
    return ModelSettings.model_validate(
        {"name": "m", "version": "v1", "upstream": "http://x", "task": task, "schema": schema}
    )


def conf(**kw: object) -> LabelingSettings:
    return LabelingSettings.model_validate({"url": "http://ls", "api_token": "t", **kw})


def test_every_built_in_tool_is_registered() -> None:
    import driftscope.labeling as pkg

    built_in = [
        cls for cls in LabelingTool.__subclasses__() if cls.__module__.startswith(pkg.__name__)
    ]
    assert built_in and all(labeling_tools.get(cls.name) is cls for cls in built_in)
    assert all(cls.source for cls in built_in)


def test_registered_as_labelstudio() -> None:
    assert load_registries()["labeling"].get("labelstudio") is LabelStudio
    assert isinstance(open_tool(conf()), LabelStudio)
    assert labeling_tools.names() == ["labelstudio"]


def test_label_configs_per_task() -> None:
    clf = label_config(model("binary_classification"), ["no", 'y"es'])
    assert '<Choices name="label" toName="features"' in clf and "<Choice value='y\"es'/>" in clf
    assert '<Table name="features" value="$features"/>' in clf
    reg = label_config(model("regression"), None)
    assert '<Number name="value" toName="features"' in reg and "Choices" not in reg
    text = label_config(
        model("text_classification", features=[{"name": "t", "type": "text"}]), ["a", "b"]
    )
    assert '<Text name="text" value="$text"/>' in text and 'toName="text"' in text


@pytest.mark.parametrize(
    "task", ["object_detection", "instance_segmentation", "ner", "image_classification"]
)
def test_other_tasks_are_not_supported_yet(task: str) -> None:
    with pytest.raises(UnsupportedTaskError, match=f"{task}.*not supported yet; supported:"):
        label_config(model(task), ["a", "b"])
    with pytest.raises(UnsupportedTaskError):
        LabelStudio(conf()).check_supported(model(task))


def test_classifier_without_classes_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="schema.classes"):
        label_config(model("multiclass_classification"), None)


def test_task_data_and_pre_annotation() -> None:
    rec = Record(
        model="m",
        request_id="req-1",
        row_index=2,
        timestamp=T,
        model_version="v7",
        features={"x": 1.5},
        prediction=1,
        scores={"0": 0.2, "1": 0.8},
    )
    task = task_for(model("binary_classification", classes=["0", "1"]), rec)
    assert task["data"]["request_id"] == "req-1" and task["data"]["row_index"] == 2
    assert task["data"]["model"] == "m" and task["data"]["features"] == {"x": 1.5}
    (pred,) = task["predictions"]
    assert pred["model_version"] == "v7" and pred["score"] == 0.8
    assert pred["result"] == [
        {
            "type": "choices",
            "value": {"choices": ["1"]},
            "from_name": "label",
            "to_name": "features",
        }
    ]
    reg = task_for(model("regression"), Record("m", "q", 0, T, prediction=2.5))
    assert reg["predictions"][0]["result"][0]["value"] == {"number": 2.5}
    assert reg["predictions"][0]["model_version"] == "v1"  # the configured version
    # a label outside the classes, or no prediction: no pre-annotation
    odd = Record("m", "q", 0, T, prediction="maybe")
    assert "predictions" not in task_for(model("binary_classification", classes=["a", "b"]), odd)
    assert "predictions" not in task_for(model("regression"), Record("m", "q", 0, T))
    text = model("text_classification", features=[{"name": "t", "type": "text"}])
    assert (
        task_for(text, Record("m", "q", 0, T, features={"t": "hello"}))["data"]["text"] == "hello"
    )


def payload(**over: object) -> dict:
    body: dict = {
        "action": "ANNOTATION_CREATED",
        "project": {"id": 3, "title": "driftscope m"},
        "task": {"id": 9, "data": {"model": "m", "request_id": "r1", "row_index": 0}},
        "annotation": {
            "id": 5,
            "result": [{"type": "number", "value": {"number": 4}, "from_name": "value"}],
            "updated_at": "2026-11-02T10:00:00.5Z",
        },
    }
    body.update(over)
    return body


def test_parse_labeled_and_deleted() -> None:
    ev = parse_payload(payload())
    assert ev == Labeled(
        model="m",
        request_id="r1",
        row_index=0,
        value=4.0,
        project="3",
        task_id="9",
        annotation_id="5",
        timestamp=datetime(2026, 11, 2, 10, 0, 0, 500000, tzinfo=UTC),
    )
    choice = payload(
        action="ANNOTATION_UPDATED",
        annotation={"id": 5, "result": [{"type": "choices", "value": {"choices": ["yes"]}}]},
    )
    assert parse_payload(choice).value == "yes"  # type: ignore[union-attr]
    deleted = parse_payload(
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 5}], "project": {"id": 3}}
    )
    assert deleted == AnnotationsDeleted(project="3", annotation_ids=["5"])
    assert isinstance(parse_payload(payload(action="PROJECT_UPDATED")), Ignored)
    skipped = payload(annotation={"id": 5, "was_cancelled": True, "result": []})
    assert isinstance(parse_payload(skipped), Ignored)
    assert isinstance(parse_payload(payload(annotation={"id": 1, "result": []})), Ignored)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "no 'action'"),
        (payload(project=None), "'project' with an 'id'"),
        (payload(project={"id": True}), "project.id must be an id"),
        (payload(annotation=None), "needs an 'annotation' object"),
        (payload(task={"id": 1}), "'task' object with its 'data'"),
        (payload(task={"data": {"request_id": "r", "row_index": 0}}), "task.data.model"),
        (payload(task={"data": {"model": "m", "row_index": 0}}), "task.data.request_id"),
        (payload(task={"data": {"model": "m", "request_id": "r", "row_index": -1}}), "row_index"),
        (payload(annotation={"result": "x"}), "result must be a list"),
        (payload(annotation={"result": [1]}), "items must be objects"),
        (payload(annotation={"result": [{"type": "choices", "value": {}}]}), "one choice"),
        (payload(annotation={"result": [{"type": "number", "value": {"number": "1"}}]}), "numeric"),
        ({"action": "ANNOTATIONS_DELETED", "project": {"id": 1}}, "'annotations', a list"),
    ],
)
def test_malformed_payloads_are_precise_validation_errors(body: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_payload(body)


def test_annotation_value_empty_is_none() -> None:
    assert annotation_value([]) is None
    assert annotation_value([{"type": "textarea", "value": {"text": ["x"]}}]) is None


def test_http_calls_and_errors() -> None:
    calls: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        calls.append((request.method, request.url.path, body))
        assert request.headers["authorization"] == "Token t"
        if request.url.path == "/api/projects" and request.method == "GET":
            return httpx.Response(200, json={"results": [{"id": 4, "title": "driftscope m"}]})
        if request.url.path == "/api/projects/4/import":
            assert request.url.params["return_task_ids"] == "true"
            return httpx.Response(201, json={"task_count": 2, "task_ids": [70, 71]})
        if request.url.path == "/api/webhooks" and request.method == "GET":
            return httpx.Response(200, json=[{"id": 2, "url": "http://d/hook", "headers": {}}])
        if request.url.path == "/api/webhooks/2":
            return httpx.Response(200, json={"id": 2})
        return httpx.Response(500, text="boom")

    tool = LabelStudio(conf(), transport=httpx.MockTransport(handler))
    m = model("regression")
    assert tool.ensure_project(m, None) == "4"
    sent = tool.send(m, "4", [Record("m", "a", 0, T, prediction=1.0), Record("m", "b", 1, T)])
    assert [(s.request_id, s.row_index, s.task_id) for s in sent] == [
        ("a", 0, "70"),
        ("b", 1, "71"),
    ]
    tool.ensure_webhook("4", "http://d/hook", {"X-S": "s"})
    method, path, body = calls[-1]
    assert (method, path) == ("PATCH", "/api/webhooks/2")
    assert body["headers"] == {"X-S": "s"} and "ANNOTATIONS_DELETED" in body["actions"]  # type: ignore[index]
    with pytest.raises(LabelStudioError, match="HTTP 500 boom"):
        tool.current_labels("4")
    tool.close()


def test_unreachable_and_no_token() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    tool = LabelStudio(conf(), transport=httpx.MockTransport(down))
    with pytest.raises(LabelStudioError, match="did not answer"):
        tool.ensure_project(model("regression"), None)
    with pytest.raises(ConfigError, match="DRIFTSCOPE_LABELING__API_TOKEN"):
        LabelStudio(LabelingSettings(url="http://ls"))
