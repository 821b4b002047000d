"""Request and response bodies of the v1 API (they make the OpenAPI spec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelOut(BaseModel):
    name: str
    """Model name as routed."""
    task: str | None = None
    protocol: str | None = None
    versions: list[str] = Field(default_factory=list)
    """Versions seen in the config or in captured traffic, oldest first."""
    records: int = 0
    """Records stored."""
    configured: bool = False
    """Whether the running config names this model."""


class ModelsOut(BaseModel):
    models: list[ModelOut]


class BlobRefOut(BaseModel):
    uri: str
    sha256: str
    media_type: str
    size: int
    name: str


class RecordOut(BaseModel):
    model: str
    request_id: str
    row_index: int
    timestamp: datetime
    model_version: str | None = None
    features: dict[str, Any] = Field(default_factory=dict)
    prediction: Any = None
    scores: Any = None
    inputs: list[BlobRefOut] = Field(default_factory=list)
    latency_ms: float | None = None
    status: int | None = None
    error: str | None = None


class RecordsOut(BaseModel):
    records: list[RecordOut]
    limit: int
    offset: int
    next_offset: int | None
    """Offset of the next page, or null on the last page."""


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str
    """Model the record belongs to."""
    request_id: str = Field(min_length=1)
    row_index: int = Field(default=0, ge=0)
    """Row of a batched request (0 for single-row requests)."""
    value: Any
    """The ground truth: a label or a number (or boxes / spans for other tasks)."""
    timestamp: datetime | None = None
    """When the label was known (default: now)."""


class LabelBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn] = Field(min_length=1, max_length=100_000)


class LabelKey(BaseModel):
    model: str
    request_id: str
    row_index: int


class LabelsWritten(BaseModel):
    received: int
    """Labels in the request."""
    written: int
    """Labels stored (a key given twice in one batch counts once: the last value wins)."""
    unmatched: list[LabelKey]
    """Keys that match no stored record yet; their labels are stored and join when it lands."""


class LabelOut(BaseModel):
    model: str
    request_id: str
    row_index: int
    value: Any
    timestamp: datetime | None = None
    source: str


class LabelsOut(BaseModel):
    labels: list[LabelOut]
    limit: int
    offset: int
    next_offset: int | None
