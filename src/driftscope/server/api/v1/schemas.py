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


class LabelTasksOut(BaseModel):
    """Records sent to the labeling tool, per model and status (pending, sent, labeled,
    failed); models without tasks are absent."""

    tasks: dict[str, dict[str, int]]


class ReferenceOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    rows: int
    features: list[str]
    """Feature columns monitored for drift and quality."""
    prediction: str
    scores: list[str]
    """Score columns (classification), as captured records name them."""
    target: bool
    """Whether the reference has a ground-truth column."""
    labeled_rows: int
    performance: bool
    """Whether realized and estimated performance can be computed (a labeled reference)."""
    timestamp: bool
    ignored_columns: list[str] = Field(default_factory=list)
    """Columns of the upload that are not used (dropped)."""
    source: str = "uploaded"
    """``uploaded`` or ``config:<path>``."""


class RunOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: int
    model: str
    trigger: str
    """``api``, ``schedule`` or ``cli``."""
    status: str
    """``running``, ``succeeded`` or ``failed``."""
    started_at: datetime
    finished_at: datetime | None = None
    records: int | None = None
    """Records the run analysed."""
    results: int | None = None
    """Result rows stored."""
    alerts: int | None = None
    """New alerts raised (an alert already raised by an earlier run is not counted)."""
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class MonitoringStatusOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    reference: bool
    """Whether the model has a reference (uploaded or configured)."""
    scheduler: dict[str, Any]
    """Where and how often scheduled runs happen."""
    current: RunOut | None = None
    """The run in progress, if any."""
    last: RunOut | None = None
    """The newest finished run."""
    runs: list[RunOut] = Field(default_factory=list)
    """Recent runs, newest first."""


class ResultOut(BaseModel):
    chunk_index: int | None = None
    chunk_key: str | None = None
    chunk_start: datetime | None = None
    chunk_end: datetime | None = None
    n: int | None = None
    segment: str | None = None
    column: str | None = None
    method: str | None = None
    metric: str | None = None
    value: float | None = None
    p_value: float | None = None
    lower_threshold: float | None = None
    upper_threshold: float | None = None
    alert: bool | None = None
    run_at: datetime | None = None


class ResultsOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    results: list[ResultOut]


class AlertOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    timestamp: datetime
    rule: str
    """``threshold`` (a result outside its bounds) or ``streaming:<detector>``."""
    severity: str
    message: str
    column: str | None = None
    method: str | None = None
    metric: str | None = None
    value: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
