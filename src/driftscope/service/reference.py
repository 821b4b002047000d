"""Reference datasets of the service: read an upload or a file, check it against the schema.

A reference is stored under the column names of
:meth:`~driftscope.storage.base.RecordStore.records_frame`, so reference and
captured records line up without any mapping at compute time:

- the model's features, by the names in ``schema.features`` (every one is
  required; without a feature list, every column that is not one of the
  columns below is a feature);
- ``prediction``: the predicted label or value (``schema.prediction`` is
  accepted as an alias when it names a column of the file);
- scores, for classification: ``score_<class>`` per class (as records store a
  score vector, classes from ``schema.classes``), or one ``score`` column
  (a model answering one probability; ``schema.scores`` is accepted as its
  alias);
- ``target`` (``schema.target``, default ``target``): ground truth, optional;
  without it performance is not computed (nor estimated: CBPE and DLE are
  fitted on a labeled reference);
- ``timestamp``: optional; needed when chunking by period.

Other columns are dropped (the answer names them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from driftscope.config.settings import ModelSettings, MonitoringSettings
from driftscope.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError
from driftscope.types import Task

PREDICTION = "prediction"
TARGET = "target"
TIMESTAMP = "timestamp"
SCORE = "score"
SCORE_PREFIX = "score_"

#: Largest reference body the API reads.
MAX_REFERENCE_BYTES = 256 * 1024 * 1024

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
PARQUET_TYPES = frozenset(
    {"application/vnd.apache.parquet", "application/x-parquet", "application/parquet"}
)
_PARQUET_MAGIC = b"PAR1"

CLASSIFICATION_TASKS = frozenset(
    {
        Task.BINARY_CLASSIFICATION,
        Task.MULTICLASS_CLASSIFICATION,
        Task.IMAGE_CLASSIFICATION,
        Task.TEXT_CLASSIFICATION,
    }
)
#: Feature types the engine monitors as raw columns (text and image need extractors).
MONITORED_TYPES = frozenset({"continuous", "categorical", "auto"})


@dataclass
class ReferenceInfo:
    """What a reference holds, as the API answers it."""

    rows: int
    features: list[str]
    prediction: str
    scores: list[str]
    target: bool
    labeled_rows: int
    timestamp: bool
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def performance(self) -> bool:
        return self.target and self.labeled_rows >= 2


def is_classification(model: ModelSettings) -> bool:
    return model.task in CLASSIFICATION_TASKS


def read_table(data: bytes, content_type: str | None) -> pd.DataFrame:
    """A DataFrame from a CSV or Parquet body, chosen by ``Content-Type``.

    ``application/octet-stream`` (or no type) is read as Parquet when the body
    starts with Parquet's magic bytes, else as CSV.
    """
    if len(data) > MAX_REFERENCE_BYTES:
        raise PayloadTooLarge(
            f"the reference is {len(data)} bytes; at most {MAX_REFERENCE_BYTES} are read"
        )
    if not data.strip():
        raise ValidationError("the reference body is empty")
    media = (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()
    if media in ("application/octet-stream", ""):
        media = "application/vnd.apache.parquet" if data[:4] == _PARQUET_MAGIC else "text/csv"
    if media in PARQUET_TYPES:
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise ValidationError(f"the body is not a readable Parquet file: {exc}") from exc
    if media in CSV_TYPES:
        try:
            return pd.read_csv(io.BytesIO(data))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValidationError(f"the body is not a readable CSV file: {exc}") from exc
    raise UnsupportedMediaType(
        f"Content-Type {media!r} is not read here; send text/csv or "
        "application/vnd.apache.parquet (application/octet-stream is sniffed)"
    )


def read_file(path: str | Path) -> pd.DataFrame:
    """The reference file a model's ``reference`` setting names (CSV or Parquet)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"reference file {str(p)!r} does not exist")
    kind = "application/vnd.apache.parquet" if p.suffix.lower() in (".parquet", ".pq") else None
    return read_table(p.read_bytes(), kind or "application/octet-stream")


def label_values(series: pd.Series) -> pd.Series:
    """Class labels as strings (1, 1.0 and "1" are one class); missing stays missing."""

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return None
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([one(v) for v in series], index=series.index, dtype=object)


def score_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c == SCORE or c.startswith(SCORE_PREFIX)]


def _numeric(frame: pd.DataFrame, col: str, what: str) -> None:
    converted = pd.to_numeric(frame[col], errors="coerce")
    bad = int((converted.isna() & frame[col].notna()).sum())
    if bad:
        sample = frame[col][converted.isna() & frame[col].notna()].iloc[0]
        raise ValidationError(
            f"reference column {col!r} ({what}) must be numeric; {bad} value(s) are not, "
            f"e.g. {sample!r}"
        )
    frame[col] = converted.astype("float64")


def validate_reference(
    frame: pd.DataFrame, model: ModelSettings, monitoring: MonitoringSettings
) -> tuple[pd.DataFrame, ReferenceInfo]:
    """Check ``frame`` against the model's schema; the stored frame and what it holds.

    Raises :class:`ValidationError` naming what is wrong: no rows, duplicate
    columns, missing features (and the columns the file has instead), no
    prediction, no scores for a classifier, non-numeric values where numbers
    are needed, bad timestamps.
    """
    if len(frame) == 0:
        raise ValidationError("the reference has no rows")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.has_duplicates:
        dups = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValidationError(f"the reference has duplicate column names: {dups}")
    schema = model.model_schema
    aliases = {schema.target: TARGET}
    if schema.prediction:
        aliases[schema.prediction] = PREDICTION
    if schema.scores:
        aliases[schema.scores] = SCORE
    renames = {a: c for a, c in aliases.items() if a != c and a in frame and c not in frame}
    frame = frame.rename(columns=renames)
    columns = list(frame.columns)
    special = {PREDICTION, TARGET, TIMESTAMP, *score_columns(columns)}

    if schema.features:
        features = [f.name for f in schema.features if f.type in MONITORED_TYPES]
        missing = [f for f in schema.feature_names if f not in frame]
        if missing:
            extra = [c for c in columns if c not in special and c not in schema.feature_names]
            raise ValidationError(
                f"the reference does not match the feature schema of model {model.name!r}: "
                f"missing feature column(s) {missing}"
                + (f"; columns not in the schema: {extra}" if extra else "")
                + f"; expected {schema.feature_names}"
            )
    else:
        features = [c for c in columns if c not in special]
    if not features:
        raise ValidationError("the reference holds no feature column")
    if PREDICTION not in frame:
        alias = f" (or {schema.prediction!r})" if schema.prediction else ""
        raise ValidationError(
            f"the reference needs a {PREDICTION!r} column{alias} with the model's predictions"
        )

    scores = score_columns(columns)
    if is_classification(model):
        if schema.classes:
            wanted = [f"{SCORE_PREFIX}{c}" for c in schema.classes]
            vector = [c for c in scores if c.startswith(SCORE_PREFIX)]
            if vector and sorted(vector) != sorted(wanted):
                raise ValidationError(
                    f"score columns {vector} do not match the schema's classes: expected {wanted}"
                )
            scores = wanted if vector else scores
        if not scores:
            raise ValidationError(
                "a classification reference needs the model's scores: one 'score' column "
                "(the positive class's probability) or 'score_<class>' per class"
            )
        if SCORE in scores and len(scores) > 1:
            raise ValidationError("give either one 'score' column or 'score_<class>' columns")
        if SCORE in scores and model.task == Task.MULTICLASS_CLASSIFICATION:
            raise ValidationError("a multiclass reference needs one 'score_<class>' per class")
        for col in scores:
            _numeric(frame, col, "a score")
        frame[PREDICTION] = label_values(frame[PREDICTION])
        if TARGET in frame:
            frame[TARGET] = label_values(frame[TARGET])
    else:
        scores = []
        _numeric(frame, PREDICTION, "the prediction")
        if TARGET in frame:
            _numeric(frame, TARGET, "the target")
    for spec in schema.features:
        if spec.type == "continuous" and spec.name in frame:
            _numeric(frame, spec.name, "a continuous feature")

    has_ts = TIMESTAMP in frame
    if has_ts:
        ts = pd.to_datetime(frame[TIMESTAMP], utc=True, errors="coerce")
        bad = int((ts.isna() & frame[TIMESTAMP].notna()).sum())
        if bad:
            raise ValidationError(f"{bad} value(s) of the reference's 'timestamp' are not times")
        frame[TIMESTAMP] = ts
    elif monitoring.chunk_period:
        raise ValidationError(
            f"monitoring.chunk_period is {monitoring.chunk_period!r}: the reference needs a "
            "'timestamp' column to be cut into periods"
        )
    keep = [*features, PREDICTION, *scores]
    if TARGET in frame:
        keep.append(TARGET)
    if has_ts:
        keep.append(TIMESTAMP)
    ignored = [c for c in columns if c not in keep and c not in schema.feature_names]
    stored = frame[keep].reset_index(drop=True)
    info = ReferenceInfo(
        rows=len(stored),
        features=features,
        prediction=PREDICTION,
        scores=scores,
        target=TARGET in stored,
        labeled_rows=int(stored[TARGET].notna().sum()) if TARGET in stored else 0,
        timestamp=has_ts,
        ignored_columns=ignored,
    )
    return stored, info


def describe(frame: pd.DataFrame, model: ModelSettings) -> ReferenceInfo:
    """What a stored (already validated) reference holds."""
    columns = [str(c) for c in frame.columns]
    scores = score_columns(columns)
    special = {PREDICTION, TARGET, TIMESTAMP, *scores}
    return ReferenceInfo(
        rows=len(frame),
        features=[c for c in columns if c not in special],
        prediction=PREDICTION,
        scores=scores,
        target=TARGET in frame,
        labeled_rows=int(frame[TARGET].notna().sum()) if TARGET in frame else 0,
        timestamp=TIMESTAMP in frame,
    )
