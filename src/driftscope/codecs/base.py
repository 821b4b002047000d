"""The codec interface and helpers shared by the built-in codecs.

A codec turns one captured :class:`~driftscope.capture.exchange.Exchange`
into canonical :class:`~driftscope.types.Record` objects, one per row of the
request. Anything it cannot read raises :class:`~driftscope.errors.CodecError`
whose message names the field and what was expected.

Codecs do no I/O. One whose records carry inputs for the object store (images)
sets ``attachments = True`` and implements :meth:`Codec.decode_with_attachments`:
it returns the bytes as :class:`Attachment` objects next to the records, and
ingest puts them into the blob store and fills ``Record.inputs``.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, overload

import orjson

from driftscope.capture.exchange import Exchange
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record, Task

_CLASSIFICATION = {
    Task.BINARY_CLASSIFICATION,
    Task.MULTICLASS_CLASSIFICATION,
    Task.IMAGE_CLASSIFICATION,
    Task.TEXT_CLASSIFICATION,
}


@dataclass(frozen=True, slots=True)
class Attachment:
    """Bytes of one record's input, for the object store (``records[row].inputs``)."""

    row: int  # index into the records decoded with it
    data: bytes
    media_type: str
    name: str = "input"


class PackedRows(Sequence[list[float]]):
    """Rows of ``width`` floats held as one ``array('d')`` (no Python object per row or
    value while a batch waits to be stored: less for the garbage collector to walk);
    ``rows[i]`` is row ``i`` as a list of floats, a slice is a ``PackedRows`` again."""

    __slots__ = ("array", "width")

    def __init__(self, values: array[float], width: int) -> None:
        self.array = values
        self.width = width

    def __len__(self) -> int:
        return len(self.array) // self.width

    @overload
    def __getitem__(self, i: int) -> list[float]: ...

    @overload
    def __getitem__(self, i: slice) -> PackedRows: ...

    def __getitem__(self, i: int | slice) -> list[float] | PackedRows:
        w = self.width
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise ValueError("PackedRows slices take every row")
            return PackedRows(self.array[start * w : max(start, stop) * w], w)
        n = len(self)
        if not -n <= i < n:
            raise IndexError("row index out of range")
        i %= n
        return self.array[i * w : (i + 1) * w].tolist()


class ScoreRows(Sequence[dict[str, Any]]):
    """Class scores of a ``[N, K]`` tensor held as its rows: ``scores[i]`` is
    ``dict(zip(keys, rows[i]))`` (``keys`` distinct, one per value of a row), built when
    asked for; a slice is a ``ScoreRows`` again. ``floats``: every value is a Python
    float, so a store may serialise the rows without a dict each (the SQL store's COPY)."""

    __slots__ = ("floats", "keys", "rows")

    def __init__(self, keys: Sequence[str], rows: list[list[Any]], floats: bool) -> None:
        self.keys = keys
        self.rows = rows
        self.floats = floats

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> ScoreRows: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | ScoreRows:
        if isinstance(i, slice):
            return ScoreRows(self.keys, self.rows[i], self.floats)
        return dict(zip(self.keys, self.rows[i], strict=False))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = self.keys
        return (dict(zip(keys, r, strict=False)) for r in self.rows)


@dataclass(slots=True)
class RecordRows:
    """The records of one exchange column-wise: what :func:`make_records` zips.

    Row ``i`` is the record ``model``, ``request_id``, row ``row_index + i``, with the
    features ``dict(zip(names, values[i]))`` (``names`` are distinct), prediction
    ``predictions[i]`` and scores ``scores[i]`` (None: none for every row), no inputs.
    A store that takes these (the SQL store, through ingest) encodes the rows without
    building a ``Record`` and a features dict per row; :meth:`records` gives the
    records :meth:`Codec.decode` returns. ``floats``: every value is a Python float
    (``values`` is then usually :class:`PackedRows`).
    """

    model: str
    request_id: str
    row_index: int  # of values[0]
    timestamp: datetime
    model_version: str | None
    names: tuple[str, ...]
    values: Sequence[list[Any]]
    floats: bool
    predictions: Sequence[Any] | None
    scores: Sequence[Any] | None
    latency_ms: float | None
    status: int | None
    error: str | None

    def __len__(self) -> int:
        return len(self.values)

    def records(self) -> list[Record]:
        names, n, start = self.names, len(self.values), self.row_index
        preds = [None] * n if self.predictions is None else self.predictions
        rows = [None] * n if self.scores is None else self.scores
        name, rid, ts, version = self.model, self.request_id, self.timestamp, self.model_version
        latency, status, err = self.latency_ms, self.status, self.error
        return [
            Record(
                name, rid, start + i, ts, version, dict(zip(names, vals, strict=True)),
                preds[i], rows[i], [], latency, status, err,
            )
            for i, vals in enumerate(self.values)
        ]  # fmt: skip

    def split(self, n: int) -> tuple[RecordRows, RecordRows]:
        """The first ``n`` rows and the rest, as two blocks."""
        preds, scores = self.predictions, self.scores
        head = replace(
            self,
            values=self.values[:n],
            predictions=None if preds is None else preds[:n],
            scores=None if scores is None else scores[:n],
        )
        tail = replace(
            self,
            row_index=self.row_index + n,
            values=self.values[n:],
            predictions=None if preds is None else preds[n:],
            scores=None if scores is None else scores[n:],
        )
        return head, tail


class Codec(ABC):
    """Reads one wire protocol."""

    name: ClassVar[str]
    #: True when :meth:`decode_with_attachments` may return attachments (ingest only
    #: calls it then; the tabular codecs keep the plain :meth:`decode` path).
    attachments: ClassVar[bool] = False

    @abstractmethod
    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        """One record per request row; raises CodecError on an unreadable payload."""

    def decode_with_attachments(
        self, exchange: Exchange, model: ModelSettings
    ) -> tuple[list[Record], list[Attachment]]:
        """The records and the input bytes that belong in the object store (none here)."""
        return self.decode(exchange, model), []

    def decode_rows(self, exchange: Exchange, model: ModelSettings) -> list[Record] | RecordRows:
        """:meth:`decode`, or the same records as one :class:`RecordRows` block (cheaper
        for ingest to store) where the codec can; the default is :meth:`decode`."""
        return self.decode(exchange, model)


def decode_content(body: bytes, headers: dict[str, str], where: str) -> bytes:
    """Undo ``content-encoding`` (gzip, deflate, identity)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not encoding or encoding == "identity":
        return body
    data = body
    # codings are listed in the order they were applied
    for coding in reversed([c.strip() for c in encoding.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:  # raw deflate without the zlib wrapper
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif coding != "identity":
                raise CodecError(
                    f"{where}: unsupported content-encoding {coding!r} "
                    "(expected gzip, deflate or identity)"
                )
        except zlib.error as exc:
            raise CodecError(f"{where}: body is not valid {coding} data: {exc}") from exc
    return data


def parse_json(data: bytes, where: str) -> Any:
    """Parse a JSON document or raise CodecError naming ``where``."""
    if not data:
        raise CodecError(f"{where}: empty body, expected a JSON document")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"{where}: not valid JSON: {exc}") from exc


def timestamp_of(exchange: Exchange) -> datetime:
    return datetime.fromtimestamp(exchange.received_at, UTC)


def is_classification(model: ModelSettings) -> bool:
    return model.task in _CLASSIFICATION


def feature_names(model: ModelSettings, width: int, where: str) -> list[str]:
    """Column names for a row of ``width`` values: the schema's, else ``f0, f1, ...``."""
    names = model.model_schema.feature_names
    if not names:
        return [f"f{i}" for i in range(width)]
    if len(names) != width:
        raise CodecError(
            f"{where}: rows have {width} values but the model schema names "
            f"{len(names)} features ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
        )
    return names


def scores_of(values: Any, model: ModelSettings, where: str) -> Any:
    """Canonical scores: a dict class -> score for a vector, a float for one value."""
    if values is None:
        return None
    if isinstance(values, dict):
        return {str(k): v for k, v in values.items()}
    if isinstance(values, list):
        if len(values) == 1 and not isinstance(values[0], list):
            return values[0]
        classes = model.model_schema.classes
        if classes is not None:
            if len(classes) != len(values):
                raise CodecError(
                    f"{where}: {len(values)} scores per row but the model schema names "
                    f"{len(classes)} classes"
                )
            return dict(zip(classes, values, strict=True))
        return {str(i): v for i, v in enumerate(values)}
    return values


def argmax_label(scores: Sequence[Any], model: ModelSettings) -> Any:
    """The class with the highest score (its name when the schema has classes)."""
    best = max(range(len(scores)), key=lambda i: scores[i])
    classes = model.model_schema.classes
    return classes[best] if classes is not None and best < len(classes) else best


def make_records(
    exchange: Exchange,
    model: ModelSettings,
    features: Sequence[dict[str, Any]],
    predictions: Sequence[Any] | None,
    scores: Sequence[Any] | None,
    version: str | None,
    error: str | None = None,
) -> list[Record]:
    """Zip the decoded rows into records carrying the exchange's metadata."""
    n = len(features)
    if predictions is not None and len(predictions) != n:
        raise CodecError(f"response has {len(predictions)} prediction rows for {n} request rows")
    if scores is not None and len(scores) != n:
        raise CodecError(f"response has {len(scores)} score rows for {n} request rows")
    ts = timestamp_of(exchange)
    version = version or model.version
    err = error or exchange.error
    name, rid, latency, status = (
        model.name,
        exchange.request_id,
        exchange.latency_ms,
        exchange.status,
    )
    preds = [None] * n if predictions is None else predictions
    rows = [None] * n if scores is None else scores
    # positional: a keyword call of Record costs 2.5x (ingest hot path, benchmarks/ingest)
    return [
        Record(name, rid, i, ts, version, features[i], preds[i], rows[i], [], latency, status, err)
        for i in range(n)
    ]


def make_rows(
    exchange: Exchange,
    model: ModelSettings,
    names: tuple[str, ...],
    values: Sequence[list[Any]],
    floats: bool,
    predictions: Sequence[Any] | None,
    scores: Sequence[Any] | None,
    version: str | None,
    error: str | None = None,
) -> RecordRows:
    """:func:`make_records` as one block (``names`` distinct, one value per name a row)."""
    n = len(values)
    if predictions is not None and len(predictions) != n:
        raise CodecError(f"response has {len(predictions)} prediction rows for {n} request rows")
    if scores is not None and len(scores) != n:
        raise CodecError(f"response has {len(scores)} score rows for {n} request rows")
    return RecordRows(
        model.name,
        exchange.request_id,
        0,
        timestamp_of(exchange),
        version or model.version,
        names,
        values,
        floats,
        predictions,
        scores,
        exchange.latency_ms,
        exchange.status,
        error or exchange.error,
    )


def response_failed(exchange: Exchange) -> str | None:
    """Why there is no prediction to read (proxy error or a non-2xx answer), else None."""
    if exchange.error:
        return exchange.error
    if not 200 <= exchange.status < 300:
        text = exchange.response_body[:200].decode("utf-8", "replace")
        return f"upstream status {exchange.status}: {text}"
    return None
