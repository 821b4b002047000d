"""A labeling tool of the tests' own: remembers what it got, fails on demand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftscope.config.settings import LabelingSettings, ModelSettings
from driftscope.labeling import LabelingTool, SentTask, WebhookEvent
from driftscope.labeling.labelstudio import LabelStudio, LabelStudioError, task_for
from driftscope.types import Record


class FakeTool(LabelingTool):
    name = "labelstudio"
    source = "labelstudio"

    def __init__(self, settings: LabelingSettings) -> None:
        super().__init__(settings)
        self.projects: dict[str, str] = {}
        self.webhooks: list[tuple[str, str, dict[str, str]]] = []
        self.tasks: list[dict[str, Any]] = []
        self.fail_next = False
        self.labels: dict[str, Any] = {}

    def check_supported(self, model: ModelSettings) -> None:
        LabelStudio.check_supported(self, model)  # type: ignore[arg-type]

    def ensure_project(self, model: ModelSettings, classes: Sequence[str] | None) -> str:
        return self.projects.setdefault(model.name, str(len(self.projects) + 1))

    def ensure_webhook(self, project: str, url: str, headers: dict[str, str]) -> None:
        self.webhooks.append((project, url, headers))

    def send(self, model: ModelSettings, project: str, records: Sequence[Record]) -> list[SentTask]:
        if self.fail_next:
            self.fail_next = False
            raise LabelStudioError("Label Studio is down")
        out = []
        for r in records:
            self.tasks.append({"project": project, **task_for(model, r)})
            out.append(SentTask(r.request_id, r.row_index, str(len(self.tasks))))
        return out

    @classmethod
    def parse_webhook(cls, payload: Any) -> WebhookEvent:
        return LabelStudio.parse_webhook(payload)

    def current_labels(self, project: str) -> dict[str, Any]:
        return dict(self.labels)
