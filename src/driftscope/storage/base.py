"""Storage interfaces: the record store (database) and the blob store (objects).

Both are leaves behind these small ABCs. Implementations raise
:class:`~driftscope.errors.StorageError` for anything the backend refuses
(database down or locked, bucket unreachable) so callers can retry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from driftscope.types import BlobRef, GroundTruth, Record

if TYPE_CHECKING:
    import pandas as pd

    from driftscope.config.settings import ModelSettings

#: Columns of ``records_frame`` before the features and after them.
FRAME_HEAD = ["request_id", "row_index", "timestamp", "model_version"]
FRAME_TAIL = ["prediction"]


@dataclass(slots=True)
class CaptureErrorRow:
    """An exchange ingest could not decode; the raw payloads stay in the blob store."""

    model: str
    request_id: str
    message: str
    timestamp: datetime
    payloads: list[BlobRef] = field(default_factory=list)
    status: int | None = None


@dataclass(slots=True)
class AlertRow:
    """One alert raised by a rule over monitoring results."""

    model: str
    timestamp: datetime
    rule: str
    message: str
    column: str | None = None
    method: str | None = None
    metric: str | None = None
    value: float | None = None
    severity: str = "warning"
    details: dict[str, Any] = field(default_factory=dict)
    #: What the alert is about; an alert whose (model, key) is already stored is not
    #: stored again (a run recomputing the same chunk raises it once). None: no dedup.
    key: str | None = None


@dataclass(slots=True)
class MonitoringRun:
    """One monitoring run of one model: scheduled, on demand from the API, or the CLI."""

    id: int
    model: str
    trigger: str
    status: str  # running | succeeded | failed
    started_at: datetime
    finished_at: datetime | None = None
    records: int | None = None
    results: int | None = None
    alerts: int | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: ``label_tasks.status`` values: claimed by a sync run, in the tool, labeled there, refused.
LABEL_TASK_STATUSES = ("pending", "sent", "labeled", "failed")


@dataclass(slots=True)
class LabelTaskRow:
    """One record sent (or being sent) to a labeling tool."""

    model: str
    request_id: str
    row_index: int
    tool: str
    project: str
    status: str
    task_id: str | None
    created_at: datetime
    updated_at: datetime


class RecordStore(ABC):
    """Records, ground truth, reference data, monitoring results and alerts."""

    @abstractmethod
    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StorageError unless the database answers."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def ensure_models(self, models: list[ModelSettings]) -> None:
        """Insert or update the configured models (and their configured versions)."""

    @abstractmethod
    def list_models(self) -> list[dict[str, Any]]:
        """name, versions, task, protocol, records for every known model."""

    @abstractmethod
    def add_records(self, records: Sequence[Record]) -> int:
        """Insert; a record already stored (same model, request id, row) is ignored."""

    @abstractmethod
    def add_capture_errors(self, errors: Sequence[CaptureErrorRow]) -> None:
        """Keep exchanges that could not be decoded (idempotent per exchange)."""

    @abstractmethod
    def list_capture_errors(
        self, model: str | None = None, limit: int = 100
    ) -> list[CaptureErrorRow]:
        """Newest first."""

    @abstractmethod
    def query_records(
        self,
        model: str | None = None,
        version: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Record]:
        """Records ordered by time, filtered, paged."""

    @abstractmethod
    def count_records(self, model: str | None = None) -> int:
        """How many records (of one model)."""

    @abstractmethod
    def put_ground_truth(self, items: Sequence[GroundTruth]) -> int:
        """Upsert labels by (model, request id, row); returns how many were written."""

    @abstractmethod
    def list_ground_truth(
        self, model: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[GroundTruth]:
        """Stored labels, oldest first."""

    @abstractmethod
    def missing_record_keys(
        self, model: str, keys: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """The (request_id, row_index) keys of ``model`` with no stored record, in input order."""

    @abstractmethod
    def count_capture_errors(self) -> dict[str, int]:
        """Capture errors kept in the database, per model."""

    @abstractmethod
    def records_frame(
        self, model: str, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """One row per record, features as columns, ground truth joined as ``target``."""

    @abstractmethod
    def put_reference(self, model: str, frame: pd.DataFrame) -> None:
        """Store a reference dataset (the newest one is used)."""

    @abstractmethod
    def get_reference(self, model: str) -> pd.DataFrame | None:
        """The newest reference dataset, or None."""

    @abstractmethod
    def save_results(self, model: str, run_at: datetime, results: pd.DataFrame) -> None:
        """Store a monitoring results table (columns as :data:`driftscope.types.RESULT_COLUMNS`)."""

    @abstractmethod
    def load_results(
        self,
        model: str,
        metric: str | None = None,
        column: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """Results of the newest run (filters on metric, column and chunk start)."""

    @abstractmethod
    def add_alerts(self, alerts: Sequence[AlertRow]) -> int:
        """Store raised alerts; those whose key is already stored are skipped. How many new."""

    @abstractmethod
    def list_alerts(self, model: str | None = None, limit: int = 100) -> list[AlertRow]:
        """Newest first."""

    @abstractmethod
    def start_run(self, model: str, trigger: str, started_at: datetime) -> int:
        """Record a monitoring run as running; returns its id."""

    @abstractmethod
    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        finished_at: datetime,
        records: int | None = None,
        results: int | None = None,
        alerts: int | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record how a run ended."""

    @abstractmethod
    def list_runs(self, model: str, limit: int = 10) -> list[MonitoringRun]:
        """Runs of ``model``, newest first."""

    # -- labeling tasks (storage/sql/label_tasks.py) -----------------------------------------

    @abstractmethod
    def label_candidates(
        self,
        model: str,
        tool: str,
        *,
        limit: int,
        sample_rate: float = 1.0,
        after: int | None = None,
    ) -> tuple[list[Record], int]:
        """Records of ``model`` never sent to ``tool`` and without ground truth, newest first,
        and the store's high-water mark (an opaque, growing position in insertion order).

        ``sample_rate`` keeps a deterministic share of them (by the record's stored id, so
        every replica and every run picks the same records). ``after``: only records stored
        after that mark (from an earlier call), so a caller that has caught up does not scan
        the whole table again.
        """

    @abstractmethod
    def claim_label_tasks(
        self, model: str, tool: str, project: str, keys: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """Record ``keys`` as ``pending`` for ``tool``; the keys this call claimed (a key
        another run or replica already holds is left out), in input order."""

    @abstractmethod
    def mark_label_tasks(
        self,
        model: str,
        tool: str,
        keys: Sequence[tuple[str, int]],
        status: str,
        task_ids: Sequence[str | None] | None = None,
    ) -> int:
        """Set the status (and the tool's task ids, where given) of stored tasks; how many."""

    @abstractmethod
    def release_label_tasks(self, model: str, tool: str, keys: Sequence[tuple[str, int]]) -> int:
        """Forget ``pending`` claims (a send that failed), so a later run sends them again."""

    @abstractmethod
    def list_label_tasks(
        self,
        model: str | None = None,
        *,
        tool: str | None = None,
        project: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LabelTaskRow]:
        """Stored tasks, oldest first, filtered."""

    @abstractmethod
    def count_label_tasks(self, model: str | None = None) -> dict[str, dict[str, int]]:
        """Tasks per model and status."""

    @abstractmethod
    def put_newer_ground_truth(self, items: Sequence[GroundTruth]) -> int:
        """Upsert labels by (model, request id, row), but never over a label with a later
        timestamp (webhook calls handled out of order); how many were written."""

    @abstractmethod
    def delete_ground_truth(
        self, model: str, keys: Sequence[tuple[str, int]], *, source: str | None = None
    ) -> int:
        """Remove labels by (request id, row); only those from ``source`` when given."""


class BlobStore(ABC):
    """Bytes by URI: captured inputs, raw payloads of capture errors."""

    scheme: str

    @abstractmethod
    def put(self, data: bytes, *, media_type: str, key: str | None = None) -> BlobRef:
        """Store ``data``; without a key it is content-addressed by its sha256."""

    @abstractmethod
    def get(self, uri: str) -> bytes:
        """The bytes behind a URI this store returned (NotFound if gone)."""

    @abstractmethod
    def url_for(self, uri: str, expires_s: int = 3600) -> str:
        """A URL a browser or labeling tool can open."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
