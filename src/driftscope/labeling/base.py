"""The labeling-tool interface: projects, tasks with pre-annotations, webhook events.

A labeling tool is a leaf: it knows the tool's API and the canonical types, never
the database. The service (:mod:`driftscope.service.labeling`) decides which
records to send and records what was sent; the server turns webhook calls into
:class:`Labeled` / :class:`AnnotationsDeleted` events with :meth:`parse_webhook`
and stores them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from driftscope.config.settings import LabelingSettings, ModelSettings
from driftscope.errors import PluginError
from driftscope.types import Record


class UnsupportedTaskError(PluginError):
    """The labeling tool cannot label this model's task (yet)."""


@dataclass(frozen=True, slots=True)
class SentTask:
    """One record sent as a task; ``task_id`` is None when the tool did not say."""

    request_id: str
    row_index: int
    task_id: str | None


@dataclass(frozen=True, slots=True)
class Labeled:
    """An annotation was created or updated: the record's ground truth is ``value``."""

    model: str
    request_id: str
    row_index: int
    value: Any
    project: str
    task_id: str | None = None
    annotation_id: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class AnnotationsDeleted:
    """Annotations were deleted; the payload names only their ids, not their tasks."""

    project: str
    annotation_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A webhook call that carries no ground truth (a skipped task, another action)."""

    reason: str


WebhookEvent = Labeled | AnnotationsDeleted | Ignored


class LabelingTool(ABC):
    """One labeling tool (one server and one account), built from :class:`LabelingSettings`."""

    #: the key in the ``labeling`` registry, also the ``tool`` column of ``label_tasks``
    name: str
    #: the ``source`` of the ground truth this tool produces
    source: str

    def __init__(self, settings: LabelingSettings) -> None:
        self.settings = settings

    @abstractmethod
    def check_supported(self, model: ModelSettings) -> None:
        """Raise :class:`UnsupportedTaskError` if the tool cannot label ``model``'s task."""

    @abstractmethod
    def ensure_project(self, model: ModelSettings, classes: Sequence[str] | None) -> str:
        """The id of ``model``'s project, created on first use (one project per model)."""

    @abstractmethod
    def ensure_webhook(self, project: str, url: str, headers: dict[str, str]) -> None:
        """Register (or refresh) the webhook calling ``url`` for the project's annotations."""

    @abstractmethod
    def send(self, model: ModelSettings, project: str, records: Sequence[Record]) -> list[SentTask]:
        """Import ``records`` as tasks with the model's prediction as pre-annotation."""

    @classmethod
    @abstractmethod
    def parse_webhook(cls, payload: Any) -> WebhookEvent:
        """The event in a webhook body (pure: no call to the tool, no instance needed);
        :class:`~driftscope.errors.ValidationError` naming what is wrong if malformed."""

    @abstractmethod
    def current_labels(self, project: str) -> dict[str, Any]:
        """Task id -> the value of its newest annotation, or None when it has none left."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
