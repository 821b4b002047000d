"""Canonical types shared by codecs, converters, ingest and storage.

These are plain dataclasses so every layer can use them without importing
each other. Predictions and ground truth are JSON-able values: a label or a
number for tabular tasks, and lists of :class:`Box` / :class:`Span` dicts for
detection, segmentation and NER, so the record schema does not change when
those tasks arrive.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


class Task(enum.StrEnum):
    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"
    IMAGE_CLASSIFICATION = "image_classification"
    OBJECT_DETECTION = "object_detection"
    INSTANCE_SEGMENTATION = "instance_segmentation"
    TEXT_CLASSIFICATION = "text_classification"
    NER = "ner"


class Protocol(enum.StrEnum):
    OIP_V2 = "oip_v2"
    KSERVE_V1 = "kserve_v1"
    JSON = "json"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A reference to an input kept in the object store."""

    uri: str
    sha256: str
    media_type: str
    size: int
    name: str = "input"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Box:
    """An object-detection box in original-image pixels."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float
    score: float | None = None
    mask: dict[str, Any] | None = None  # COCO RLE {"size": [h, w], "counts": str}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Span:
    """A named-entity span in character offsets."""

    label: str
    start: int
    end: int
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Record:
    """One row of one request: what was sent and what the model answered."""

    model: str
    request_id: str
    row_index: int
    timestamp: datetime
    model_version: str | None = None
    features: dict[str, Any] = field(default_factory=dict)
    prediction: Any = None
    scores: Any = None  # dict class -> score, a float (regression) or None
    inputs: list[BlobRef] = field(default_factory=list)
    latency_ms: float | None = None
    status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class GroundTruth:
    """A label for one record, joined by (model, request_id, row_index)."""

    model: str
    request_id: str
    row_index: int
    value: Any
    timestamp: datetime | None = None
    source: str = "api"


#: Columns of a monitoring results table (``Result.data``), as computed and as stored.
RESULT_COLUMNS = [
    "chunk_index",
    "chunk_key",
    "chunk_start",
    "chunk_end",
    "n",
    "segment",
    "column",
    "method",
    "metric",
    "value",
    "p_value",
    "lower_threshold",
    "upper_threshold",
    "alert",
]
