"""Monitoring in the service: reference, compute, store results and alerts, run status.

The REST API, the scheduler and the CLI all call these functions; the
monitoring engine (:mod:`driftscope.monitoring`) does the computation, this
module only feeds it stored data and stores what it returns.

One run of one model:

1. the reference: the newest uploaded one, else the file the model's
   ``reference`` setting names (read and checked at each run);
2. the analysis data: the model's captured records with ground truth joined
   by request id and row index (``records_frame``), optionally a time window;
3. univariate drift on the features, the prediction and the scores, and data
   quality (:class:`~driftscope.monitoring.Monitor`);
4. with a labeled reference: realized performance (rows with labels; label
   coverage as metric ``label_coverage``; chunks younger than ``label_delay``
   pending), plus CBPE for classification from the stored scores or DLE for
   regression;
5. streaming detectors (ADWIN, DDM for classification, Page-Hinkley) on the
   per-record error stream of the labeled records in arrival order;
6. results go to the results store; values outside their bounds and
   detections become alerts, each stored once per key (a later run that
   recomputes the same chunk or replays the same stream does not repeat it).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from driftscope.config.settings import ModelSettings, MonitoringSettings, Settings
from driftscope.errors import (
    ConfigError,
    DriftscopeError,
    InsufficientDataError,
    MonitoringError,
    NotFound,
    ValidationError,
)
from driftscope.monitoring import Monitor, Result
from driftscope.monitoring.concept import StreamingDetector, error_stream
from driftscope.monitoring.performance import performance_result
from driftscope.service import reference as refs
from driftscope.storage.base import AlertRow, MonitoringRun, RecordStore
from driftscope.types import Task

log = logging.getLogger(__name__)

#: Detectors on the error stream: 0/1 errors (classification) and absolute errors.
CLASSIFICATION_DETECTORS = ("adwin", "ddm", "page_hinkley")
REGRESSION_DETECTORS = ("adwin", "page_hinkley")
_KEY_MAX = 400


def _now() -> datetime:
    return datetime.now(UTC)


def model_settings(settings: Settings, name: str) -> ModelSettings:
    model = settings.model(name)
    if model is None:
        known = ", ".join(m.name for m in settings.models) or "none"
        raise NotFound(f"model {name!r} is not configured; configured: {known}")
    return model


# -- reference -----------------------------------------------------------------------------


def upload_reference(
    store: RecordStore,
    settings: Settings,
    name: str,
    body: bytes,
    content_type: str | None,
) -> refs.ReferenceInfo:
    """Read, check and store a reference body (CSV or Parquet) for model ``name``."""
    model = model_settings(settings, name)
    frame = refs.read_table(body, content_type)
    stored, info = refs.validate_reference(frame, model, settings.monitoring)
    store.put_reference(name, stored)
    return info


def load_reference(
    store: RecordStore, settings: Settings, name: str
) -> tuple[pd.DataFrame, str] | None:
    """The reference of ``name`` and where it came from (``uploaded`` or the config file)."""
    model = model_settings(settings, name)
    frame = store.get_reference(name)
    if frame is not None:
        return frame, "uploaded"
    if model.reference:
        raw = refs.read_file(model.reference)
        stored, _ = refs.validate_reference(raw, model, settings.monitoring)
        return stored, f"config:{model.reference}"
    return None


# -- computation (no I/O) --------------------------------------------------------------------


@dataclass
class Computation:
    """What one run computed: the results table, the alerts to raise, notes on what was left out."""

    result: Result
    alerts: list[AlertRow]
    records: int
    notes: list[str] = field(default_factory=list)
    detections: int = 0


def parse_delay(value: str | None) -> timedelta | None:
    if not value:
        return None
    try:
        delay = pd.Timedelta(value)
    except ValueError as exc:
        raise ConfigError("label_delay", f"{value!r} is not a duration such as '1h'") from exc
    if pd.isna(delay) or delay < pd.Timedelta(0):
        raise ConfigError("label_delay", f"{value!r} is not a positive duration")
    return delay.to_pytimedelta()


def chunker_spec(monitoring: MonitoringSettings) -> dict[str, Any] | None:
    if monitoring.chunk_period:
        period = monitoring.chunk_period
        return {"type": "period", "period": period, "timestamp_column": refs.TIMESTAMP}
    if monitoring.chunk_size:
        return {"type": "size", "chunk_size": monitoring.chunk_size}
    return None  # the engine's default: 10 chunks of equal size


def _task(model: ModelSettings, reference: pd.DataFrame) -> str | None:
    if model.task == Task.REGRESSION:
        return "regression"
    if model.task not in refs.CLASSIFICATION_TASKS:
        return None
    if model.task == Task.BINARY_CLASSIFICATION:
        return "binary_classification"
    if model.task == Task.MULTICLASS_CLASSIFICATION:
        return "multiclass_classification"
    classes = model.model_schema.classes
    n = len(classes) if classes else reference[refs.PREDICTION].nunique()
    return "binary_classification" if n == 2 else "multiclass_classification"


def _prepare_analysis(
    frame: pd.DataFrame, model: ModelSettings, columns: list[str]
) -> pd.DataFrame:
    """The records frame cut to the reference's columns, typed like the reference."""
    out = frame.copy()
    for col in columns:
        if col not in out:
            out[col] = None
    if refs.is_classification(model):
        out[refs.PREDICTION] = refs.label_values(out[refs.PREDICTION])
        out[refs.TARGET] = refs.label_values(out[refs.TARGET])
    else:
        out[refs.PREDICTION] = pd.to_numeric(out[refs.PREDICTION], errors="coerce")
        out[refs.TARGET] = pd.to_numeric(out[refs.TARGET], errors="coerce")
    for col in refs.score_columns(columns):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    for spec in model.model_schema.features:
        if spec.type == "continuous" and spec.name in out:
            out[spec.name] = pd.to_numeric(out[spec.name], errors="coerce")
    return out


def _key(*parts: Any) -> str:
    key = ":".join("" if p is None else str(p) for p in parts)
    if len(key) <= _KEY_MAX:
        return key
    return f"{key[:300]}#{hashlib.sha256(key.encode()).hexdigest()}"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _fmt(value: float | None, unbounded: str = "none") -> str:
    return unbounded if value is None else f"{value:.4g}"


def threshold_alerts(model: str, result: Result, now: datetime) -> list[AlertRow]:
    """One alert per result row outside its bounds, keyed by series and chunk."""
    out: list[AlertRow] = []
    for row in result.alerts.to_dict("records"):
        lo, hi = _num(row["lower_threshold"]), _num(row["upper_threshold"])
        value = _num(row["value"])
        segment = row["segment"]
        where = f" (segment {segment})" if segment else ""
        start = row["chunk_start"]
        out.append(
            AlertRow(
                model=model,
                timestamp=now,
                rule="threshold",
                message=(
                    f"{row['column']}: {row['method']} {row['metric']} = {_fmt(value)} is outside "
                    f"[{_fmt(lo, '-inf')}, {_fmt(hi, 'inf')}] in chunk {row['chunk_key']}{where}"
                ),
                column=row["column"],
                method=row["method"],
                metric=row["metric"],
                value=value,
                details={
                    "chunk_key": row["chunk_key"],
                    "chunk_start": None if pd.isna(start) else pd.Timestamp(start).isoformat(),
                    "n": int(row["n"]),
                    "segment": segment,
                    "lower_threshold": lo,
                    "upper_threshold": hi,
                },
                key=_key(
                    "threshold",
                    row["method"],
                    row["metric"],
                    row["column"],
                    segment,
                    row["chunk_key"],
                ),
            )
        )
    return out


def streaming_alerts(
    model: ModelSettings, task: str, analysis: pd.DataFrame, now: datetime
) -> list[AlertRow]:
    """Detections of the streaming detectors on the labeled records' errors, in arrival order."""
    labeled = analysis[analysis[refs.TARGET].notna() & analysis[refs.PREDICTION].notna()]
    if labeled.empty:
        return []
    errors = error_stream(task, labeled[refs.TARGET].to_numpy(), labeled[refs.PREDICTION])
    ids = list(zip(labeled["request_id"], labeled["row_index"], strict=True))
    stamps = list(labeled["timestamp"])
    names = REGRESSION_DETECTORS if task == "regression" else CLASSIFICATION_DETECTORS
    out: list[AlertRow] = []
    for name in names:
        for hit in StreamingDetector(name).run(errors, ids):
            request_id, row_index = hit.record_id
            ts = stamps[hit.index]
            out.append(
                AlertRow(
                    model=model.name,
                    timestamp=now,
                    rule=f"streaming:{name}",
                    message=(
                        f"{name} detected a change in the error stream at record "
                        f"{request_id} row {int(row_index)} (labeled record {hit.index + 1} "
                        f"of {len(errors)})"
                    ),
                    column=refs.TARGET,
                    method=name,
                    metric="error",
                    value=float(hit.value),
                    severity="warning",
                    details={
                        "request_id": str(request_id),
                        "row_index": int(row_index),
                        "position": int(hit.index),
                        "record_timestamp": None if pd.isna(ts) else pd.Timestamp(ts).isoformat(),
                    },
                    key=_key("streaming", name, request_id, int(row_index)),
                )
            )
    return out


def compute(
    model: ModelSettings,
    monitoring: MonitoringSettings,
    reference: pd.DataFrame,
    records: pd.DataFrame,
    now: datetime | None = None,
) -> Computation:
    """Every figure for one model: drift, quality, performance, streaming detections."""
    now = now or _now()
    if records.empty:
        raise InsufficientDataError(f"model {model.name!r} has no captured records to monitor")
    info = refs.describe(reference, model)
    columns = [*info.features, refs.PREDICTION, *info.scores, refs.TARGET]
    analysis = _prepare_analysis(records, model, columns)
    ref = reference.copy()
    if refs.TIMESTAMP not in ref:  # its own times are unknown: chunks get no start or end
        ref[refs.TIMESTAMP] = pd.Series(pd.NaT, index=ref.index, dtype="datetime64[ns, UTC]")
    spec = chunker_spec(monitoring)
    monitored = [*info.features, refs.PREDICTION, *info.scores]
    kinds = {s.name: s.type for s in model.model_schema.features if s.type != "auto"}
    task = _task(model, reference)
    if task is not None:
        kinds[refs.PREDICTION] = "continuous" if task == "regression" else "categorical"
    kinds.update({c: "continuous" for c in info.scores})
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-chunk warnings: the chunk sizes are in `n`
        monitor = Monitor(
            features=monitored,
            column_kinds={k: v for k, v in kinds.items() if k in monitored},
            timestamp_column=refs.TIMESTAMP,
            chunker=spec,
            quality=True,
            expected_features=info.features,
        )
        monitor.fit(ref[[*monitored, refs.TIMESTAMP]])
        parts = [monitor.calculate(analysis[[*monitored, refs.TIMESTAMP]])]
        if task is None:
            notes.append(f"performance: task {model.task.value!r} is not tabular")
        elif not info.performance:
            notes.append("performance: the reference has no labeled 'target' column")
        else:
            y_score: str | dict[str, str] | None = None
            if task != "regression":
                if info.scores == [refs.SCORE]:
                    y_score = refs.SCORE
                else:
                    y_score = {c[len(refs.SCORE_PREFIX) :]: c for c in info.scores}
            classes = model.model_schema.classes if task != "regression" else None
            try:
                parts.append(
                    performance_result(
                        ref,
                        analysis,
                        task=task,
                        y_true=refs.TARGET,
                        y_pred=refs.PREDICTION,
                        y_score=y_score,
                        features=info.features,
                        classes=classes,
                        chunker=spec,
                        timestamp_column=refs.TIMESTAMP,
                        label_delay=parse_delay(model.label_delay),
                        now=now,
                    )
                )
            except (MonitoringError, ValidationError) as exc:
                notes.append(f"performance: {exc}")
                log.warning("model %s: performance not computed: %s", model.name, exc)
    result = Result.concat(parts)
    alerts = threshold_alerts(model.name, result, now)
    stream: list[AlertRow] = []
    if task is not None and info.performance:
        try:
            stream = streaming_alerts(model, task, analysis, now)
        except (MonitoringError, ValueError) as exc:
            notes.append(f"streaming detectors: {exc}")
    return Computation(
        result=result,
        alerts=alerts + stream,
        records=len(records),
        notes=notes,
        detections=len(stream),
    )


# -- runs ----------------------------------------------------------------------------------

_running: dict[str, int] = {}
_running_lock = threading.Lock()


def running_run(name: str) -> int | None:
    """The id of the run of ``name`` this process is computing now, if any."""
    with _running_lock:
        return _running.get(name)


def run_monitoring(
    store: RecordStore,
    settings: Settings,
    name: str,
    *,
    trigger: str = "api",
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    on_start: Callable[[int], None] | None = None,
) -> MonitoringRun:
    """Compute, store results and alerts for model ``name``; the finished run.

    The run is recorded (``running``, then ``succeeded`` or ``failed`` with the
    error) so the status API sees it from any process. Raises what made it
    fail (after recording it): a missing reference or no records is a
    :class:`MonitoringError`.
    """
    model = model_settings(settings, name)
    started = _now()
    run_id = store.start_run(name, trigger, started)
    with _running_lock:
        _running[name] = run_id
    if on_start is not None:
        on_start(run_id)
    try:
        loaded = load_reference(store, settings, name)
        if loaded is None:
            raise MonitoringError(
                f"model {name!r} has no reference dataset: upload one with "
                f"POST /api/v1/models/{name}/reference or name a file in its 'reference' setting"
            )
        reference, source = loaded
        records = store.records_frame(name, start=start, end=end)
        done = compute(model, settings.monitoring, reference, records, now=now or started)
        store.save_results(name, started, done.result.data)
        raised = store.add_alerts(done.alerts)
    except DriftscopeError as exc:
        store.finish_run(run_id, status="failed", finished_at=_now(), error=str(exc))
        raise
    except Exception as exc:
        log.exception("monitoring run %d of model %s failed", run_id, name)
        store.finish_run(
            run_id, status="failed", finished_at=_now(), error=f"{type(exc).__name__}: {exc}"
        )
        raise MonitoringError(f"monitoring model {name!r} failed: {exc}") from exc
    finally:
        with _running_lock:
            if _running.get(name) == run_id:
                del _running[name]
    details = {
        "reference": source,
        "reference_rows": len(reference),
        "alerts_raised": len(done.alerts),
        "detections": done.detections,
        "notes": done.notes,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
    }
    finished = _now()
    store.finish_run(
        run_id,
        status="succeeded",
        finished_at=finished,
        records=done.records,
        results=len(done.result.data),
        alerts=raised,
        details=details,
    )
    log.info(
        "monitored %s: %d records, %d results, %d new alert(s)",
        name,
        done.records,
        len(done.result.data),
        raised,
    )
    return MonitoringRun(
        id=run_id,
        model=name,
        trigger=trigger,
        status="succeeded",
        started_at=started,
        finished_at=finished,
        records=done.records,
        results=len(done.result.data),
        alerts=raised,
        details=details,
    )


def load_results(
    store: RecordStore,
    settings: Settings,
    name: str,
    *,
    metric: str | None = None,
    column: str | None = None,
    method: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Stored results of the newest run of each series (``start <= chunk_start < end``)."""
    model_settings(settings, name)
    frame = store.load_results(name, metric=metric, column=column, start=start, end=end)
    if method is not None:
        frame = frame[frame["method"] == method].reset_index(drop=True)
    return frame


def scheduled_pass(store: RecordStore, settings: Settings) -> dict[str, str]:
    """One scheduler pass: every configured model that has a reference; outcome per model."""
    outcome: dict[str, str] = {}
    for model in settings.models:
        try:
            has_ref = model.reference is not None or store.get_reference(model.name) is not None
        except DriftscopeError as exc:
            outcome[model.name] = f"error: {exc}"
            continue
        if not has_ref:
            outcome[model.name] = "skipped: no reference"
            continue
        if store.count_records(model.name) == 0:
            outcome[model.name] = "skipped: no records"
            continue
        try:
            run = run_monitoring(store, settings, model.name, trigger="schedule")
            outcome[model.name] = f"run {run.id}: {run.results} results, {run.alerts} alert(s)"
        except DriftscopeError as exc:
            log.warning("scheduled monitoring of %s failed: %s", model.name, exc)
            outcome[model.name] = f"failed: {exc}"
    return outcome


class Scheduler:
    """Runs :func:`scheduled_pass` every ``monitoring.interval_s`` until ``halt`` is set."""

    def __init__(self, settings: Settings, store: RecordStore) -> None:
        self.settings = settings
        self.store = store
        self.passes = 0

    def run_forever(self, halt: threading.Event) -> None:
        interval = self.settings.monitoring.interval_s
        log.info("monitoring scheduler: every %.0f s", interval)
        while not halt.wait(interval):
            try:
                outcome = scheduled_pass(self.store, self.settings)
            except Exception:  # never let one bad pass stop the schedule
                log.exception("monitoring pass failed")
            else:
                for name, what in outcome.items():
                    log.info("monitoring %s: %s", name, what)
            self.passes += 1
