"""Label Studio: one project per model, records as tasks, ground truth back by webhook.

Plain httpx against Label Studio's REST API rather than ``label-studio-sdk``:
the six calls used here are stable across Label Studio 1.x, the SDK 2.x client
is generated from the Enterprise API (its response models and default retries
of non-idempotent POSTs such as the task import are more than this needs), and
httpx is already a dependency, so this plugin needs no extra. The SDK stays
the extra ``driftscope[labelstudio]`` for its converters (brush RLE), which the
image and NER converters will use.

Task data (what a webhook brings back)::

    {"model": ..., "request_id": ..., "row_index": ..., "model_version": ...,
     "features": {name: value, ...}, "text": ...}   # text: text classification only

Label configs, generated from the model's task and schema:

- classification: a ``Table`` of the features and ``Choices`` named ``label``
  over the known classes;
- regression: the same table and a ``Number`` named ``value``;
- text classification: the ``Text`` and ``Choices`` named ``label``.

Other tasks (image, boxes, masks, NER) raise :class:`UnsupportedTaskError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import quoteattr

import httpx

from driftscope.config.settings import LabelingSettings, ModelSettings
from driftscope.errors import ConfigError, StorageError, ValidationError
from driftscope.labeling.base import (
    AnnotationsDeleted,
    Ignored,
    Labeled,
    LabelingTool,
    SentTask,
    UnsupportedTaskError,
    WebhookEvent,
)
from driftscope.types import Record, Task

log = logging.getLogger(__name__)

#: Webhook actions registered on each project.
ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]
CLASSIFICATION = frozenset({Task.BINARY_CLASSIFICATION, Task.MULTICLASS_CLASSIFICATION})
SUPPORTED = CLASSIFICATION | {Task.REGRESSION, Task.TEXT_CLASSIFICATION}
#: control tag names in the generated configs
CHOICES, NUMBER = "label", "value"
_PAGE = 100


class LabelStudioError(StorageError):
    """Label Studio refused a call or could not be reached (retried at the next run)."""


def _text_feature(model: ModelSettings) -> str:
    features = model.model_schema.features
    texts = [f.name for f in features if f.type == "text"]
    if texts:
        return texts[0]
    if len(features) == 1:
        return features[0].name
    raise ConfigError(
        f"models.{model.name}.schema.features",
        "text classification needs one feature of type 'text' to show in Label Studio",
    )


def label_config(model: ModelSettings, classes: Sequence[str] | None) -> str:
    """The Label Studio labeling config (XML) for ``model``."""
    task = model.task
    if task not in SUPPORTED:
        raise UnsupportedTaskError(
            f"Label Studio labeling of task {task.value!r} (model {model.name!r}) is not "
            f"supported yet; supported: {', '.join(sorted(t.value for t in SUPPORTED))}"
        )
    if task == Task.TEXT_CLASSIFICATION:
        obj, to = '<Text name="text" value="$text"/>', "text"
    else:
        obj, to = '<Table name="features" value="$features"/>', "features"
    if task == Task.REGRESSION:
        control = f'<Number name="{NUMBER}" toName="{to}" required="true"/>'
    else:
        if not classes or len(classes) < 2:
            raise ConfigError(
                f"models.{model.name}.schema.classes",
                "labeling a classifier needs its classes (two or more): set schema.classes "
                "or upload a labeled reference",
            )
        choices = "".join(f"<Choice value={quoteattr(str(c))}/>" for c in classes)
        control = (
            f'<Choices name="{CHOICES}" toName="{to}" choice="single" required="true">'
            f"{choices}</Choices>"
        )
    return f"<View><Header value={quoteattr(model.name)}/>{obj}{control}</View>"


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and v not in (float("inf"), float("-inf")) else None


def prediction(model: ModelSettings, record: Record) -> dict[str, Any] | None:
    """The record's prediction as a Label Studio pre-annotation (None without one)."""
    if record.prediction is None:
        return None
    to = "text" if model.task == Task.TEXT_CLASSIFICATION else "features"
    out: dict[str, Any] = {"model_version": record.model_version or model.version or "unknown"}
    if model.task == Task.REGRESSION:
        number = _finite(record.prediction)
        if number is None:
            return None
        item = {"type": "number", "value": {"number": number}, "from_name": NUMBER}
    else:
        label = _label(record.prediction)
        classes = model.model_schema.classes
        if classes and label not in {str(c) for c in classes}:
            return None  # Label Studio refuses a choice its config does not list
        item = {"type": "choices", "value": {"choices": [label]}, "from_name": CHOICES}
        if isinstance(record.scores, dict) and label in {str(k) for k in record.scores}:
            score = _finite({str(k): v for k, v in record.scores.items()}[label])
            if score is not None:
                out["score"] = score
    out["result"] = [{**item, "to_name": to}]
    return out


def task_for(model: ModelSettings, record: Record) -> dict[str, Any]:
    """The Label Studio task for one record: its data and its pre-annotation."""
    data: dict[str, Any] = {
        "model": record.model,
        "request_id": record.request_id,
        "row_index": record.row_index,
        "model_version": record.model_version,
        "timestamp": record.timestamp.isoformat(),
        "features": record.features,
    }
    if model.task == Task.TEXT_CLASSIFICATION:
        data["text"] = str(record.features.get(_text_feature(model), ""))
    task: dict[str, Any] = {"data": data}
    pred = prediction(model, record)
    if pred is not None:
        task["predictions"] = [pred]
    return task


def annotation_value(result: Any) -> Any:
    """The canonical ground truth in an annotation's ``result``: a class label or a number.

    None when the result holds neither (an empty annotation).
    """
    if not isinstance(result, list):
        raise ValidationError("annotation.result must be a list")
    for item in result:
        if not isinstance(item, dict):
            raise ValidationError("annotation.result items must be objects")
        kind, value = item.get("type"), item.get("value")
        if kind == "choices":
            choices = value.get("choices") if isinstance(value, dict) else None
            if not isinstance(choices, list) or len(choices) != 1:
                raise ValidationError("a 'choices' result needs value.choices with one choice")
            return str(choices[0])
        if kind == "number":
            number = value.get("number") if isinstance(value, dict) else None
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValidationError("a 'number' result needs a numeric value.number")
            return float(number)
    return None


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ValidationError(f"{what} must be an id (integer or string), got {value!r}")
    return str(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_payload(payload: Any) -> WebhookEvent:
    """A Label Studio webhook body as an event (pure: no call to Label Studio)."""
    if not isinstance(payload, dict):
        raise ValidationError("the webhook body must be a JSON object")
    action = payload.get("action")
    if not isinstance(action, str):
        raise ValidationError("the webhook body has no 'action'")
    if action not in ACTIONS:
        return Ignored(f"action {action} is not handled")
    project = payload.get("project")
    if not isinstance(project, dict) or "id" not in project:
        raise ValidationError("the webhook body has no 'project' with an 'id'")
    project_id = _id(project["id"], "project.id")
    if action == "ANNOTATIONS_DELETED":
        items = payload.get("annotations")
        if not isinstance(items, list) or not all(isinstance(a, dict) for a in items):
            raise ValidationError("ANNOTATIONS_DELETED needs 'annotations', a list of objects")
        ids = [_id(a.get("id"), "annotations[].id") for a in items]
        return AnnotationsDeleted(project=project_id, annotation_ids=ids)
    annotation, task = payload.get("annotation"), payload.get("task")
    if not isinstance(annotation, dict):
        raise ValidationError(f"{action} needs an 'annotation' object")
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise ValidationError(f"{action} needs a 'task' object with its 'data'")
    data = task["data"]
    model, request_id, row = data.get("model"), data.get("request_id"), data.get("row_index")
    if not isinstance(model, str) or not model:
        raise ValidationError("task.data.model is missing: the task was not sent by driftscope")
    if not isinstance(request_id, str) or not request_id:
        raise ValidationError("task.data.request_id must be a non-empty string")
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise ValidationError("task.data.row_index must be an integer >= 0")
    if annotation.get("was_cancelled"):
        return Ignored(f"annotation of task {task.get('id')} was skipped")
    value = annotation_value(annotation.get("result"))
    if value is None:
        return Ignored(f"annotation of task {task.get('id')} holds no label")
    return Labeled(
        model=model,
        request_id=request_id,
        row_index=row,
        value=value,
        project=project_id,
        task_id=None if task.get("id") is None else _id(task["id"], "task.id"),
        annotation_id=None if annotation.get("id") is None else _id(annotation["id"], "id"),
        timestamp=_time(annotation.get("updated_at")),
    )


class LabelStudio(LabelingTool):
    """Label Studio 1.x through its REST API (legacy ``Token`` authentication)."""

    name = "labelstudio"
    source = "labelstudio"

    def __init__(
        self, settings: LabelingSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(settings)
        token = settings.api_token.get_secret_value() if settings.api_token else None
        if not token:
            raise ConfigError(
                "labeling.api_token",
                "Label Studio needs an API token (set DRIFTSCOPE_LABELING__API_TOKEN)",
            )
        self._client = httpx.Client(
            base_url=settings.url,
            headers={"Authorization": f"Token {token}"},
            timeout=settings.timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LabelStudioError(
                f"Label Studio at {self.settings.url} did not answer {method} {path}: {exc}"
            ) from exc
        if resp.status_code >= 400:
            raise LabelStudioError(
                f"Label Studio refused {method} {path}: HTTP {resp.status_code} {resp.text[:300]}"
            )
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise LabelStudioError(f"Label Studio answered {method} {path} with non-JSON") from exc

    # -- projects, webhooks, tasks ---------------------------------------------------------

    def check_supported(self, model: ModelSettings) -> None:
        if model.task not in SUPPORTED:
            label_config(model, None)  # raises the error naming the supported tasks

    def project_title(self, model: ModelSettings) -> str:
        conf = model.labeling
        return (conf.project if conf and conf.project else None) or f"driftscope {model.name}"

    def ensure_project(self, model: ModelSettings, classes: Sequence[str] | None) -> str:
        title = self.project_title(model)
        existing = sorted(int(i) for i in self._project_ids(title))
        if existing:
            return str(existing[0])
        config = label_config(model, classes)
        body = {
            "title": title,
            "description": f"Records of model {model.name!r} sampled by driftscope",
            "label_config": config,
            "model_version": model.version or "",
            "show_collab_predictions": True,
        }
        created = str(self._call("POST", "/api/projects", json=body)["id"])
        # two replicas creating it at once: both keep the oldest, the other one goes
        ids = sorted(int(i) for i in self._project_ids(title))
        keep = str(ids[0]) if ids else created
        if keep != created:
            self._call("DELETE", f"/api/projects/{created}")
        else:
            log.info("created Label Studio project %s for model %s", created, model.name)
        return keep

    def _project_ids(self, title: str) -> list[str]:
        found = self._call("GET", "/api/projects", params={"title": title, "page_size": _PAGE})
        items = found.get("results", []) if isinstance(found, dict) else found or []
        return [str(p["id"]) for p in items if isinstance(p, dict) and p.get("title") == title]

    def ensure_webhook(self, project: str, url: str, headers: dict[str, str]) -> None:
        body = {
            "project": int(project),
            "url": url,
            "send_payload": True,
            "send_for_all_actions": False,
            "headers": headers,
            "actions": ACTIONS,
            "is_active": True,
        }
        hooks = self._call("GET", "/api/webhooks", params={"project": project}) or []
        for hook in hooks:
            if isinstance(hook, dict) and hook.get("url") == url:
                if hook.get("headers") != headers or sorted(hook.get("actions") or []) != sorted(
                    ACTIONS
                ):  # a PATCH without actions clears them: always send the whole body
                    self._call("PATCH", f"/api/webhooks/{hook['id']}", json=body)
                return
        self._call("POST", "/api/webhooks", json=body)

    def send(self, model: ModelSettings, project: str, records: Sequence[Record]) -> list[SentTask]:
        if not records:
            return []
        self.check_supported(model)
        tasks = [task_for(model, r) for r in records]
        path = f"/api/projects/{project}/import"
        answer = self._call("POST", path, params={"return_task_ids": "true"}, json=tasks)
        ids = answer.get("task_ids") if isinstance(answer, dict) else None
        if not isinstance(ids, list) or len(ids) != len(records):
            ids = [None] * len(records)  # an asynchronous import: the webhook still joins by data
        return [
            SentTask(r.request_id, r.row_index, None if i is None else str(i))
            for r, i in zip(records, ids, strict=True)
        ]

    @classmethod
    def parse_webhook(cls, payload: Any) -> WebhookEvent:
        return parse_payload(payload)

    def _tasks(self, project: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params = {"project": project, "page": page, "page_size": _PAGE, "fields": "all"}
            answer = self._call("GET", "/api/tasks", params=params)
            tasks = answer.get("tasks", []) if isinstance(answer, dict) else answer or []
            yield from (t for t in tasks if isinstance(t, dict))
            total = answer.get("total", 0) if isinstance(answer, dict) else 0
            if not tasks or page * _PAGE >= total:
                return
            page += 1

    def current_labels(self, project: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for task in self._tasks(project):
            value = None
            kept = [
                a
                for a in task.get("annotations") or []
                if isinstance(a, dict) and not a.get("was_cancelled")
            ]
            kept.sort(key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)))
            for annotation in reversed(kept):
                try:
                    value = annotation_value(annotation.get("result"))
                except ValidationError:
                    value = None
                if value is not None:
                    break
            out[str(task["id"])] = value
        return out
