"""Labeling tools: records go out as tasks, ground truth comes back.

Tools are plugins of kind ``labeling`` (entry-point group ``driftscope.labeling``),
each a :class:`~driftscope.labeling.base.LabelingTool` subclass built from the
``labeling`` settings. Built-in: ``labelstudio``.
"""

from __future__ import annotations

from driftscope.config.settings import LabelingSettings
from driftscope.labeling.base import (
    AnnotationsDeleted,
    Ignored,
    Labeled,
    LabelingTool,
    SentTask,
    UnsupportedTaskError,
    WebhookEvent,
)
from driftscope.labeling.labelstudio import LabelStudio
from driftscope.registry import Registry

__all__ = [
    "AnnotationsDeleted",
    "Ignored",
    "LabelStudio",
    "Labeled",
    "LabelingTool",
    "SentTask",
    "UnsupportedTaskError",
    "WebhookEvent",
    "labeling_tools",
    "open_tool",
]

labeling_tools: Registry[type[LabelingTool]] = Registry("labeling")
labeling_tools.add("labelstudio", LabelStudio)


def open_tool(settings: LabelingSettings) -> LabelingTool:
    """The configured labeling tool (``settings.tool`` looked up in the registry)."""
    factory = labeling_tools.get(settings.tool)
    return factory(settings)
