"""Cutting data into chunks: by size, by number of chunks, or by time period.

Every chunker returns :class:`Chunk` objects holding the row *positions* of
the frame they cut, so calculators take column arrays once and index them.

Rules
-----
- :class:`SizeChunker` keeps row order and makes chunks of ``chunk_size``
  rows. The last, partial chunk follows ``incomplete``: ``"append"`` (the
  default) merges it into the previous chunk, ``"keep"`` leaves it as its own
  (smaller) chunk, ``"drop"`` leaves those rows out. When the data is smaller
  than one chunk, all of it is one chunk whatever the rule.
- :class:`CountChunker` makes ``chunk_number`` chunks whose sizes differ by at
  most one row (``numpy.array_split``); every row is in exactly one chunk.
- :class:`PeriodChunker` groups rows by calendar period (``hour``, ``day``,
  ``week``, ``month`` or any pandas period alias) of a timestamp column, in
  time order; rows without a timestamp are an error.
- Empty data gives no chunks, whatever the chunker.

A chunk with fewer than ``min_chunk_size`` rows (default 50) raises a
:class:`SmallChunkWarning`: its statistics are unstable. Size and count
chunkers take chunk start/end times from the timestamp column when one is
given; period chunks span their whole period.
"""

from __future__ import annotations

import builtins
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from driftscope.errors import ConfigError, ValidationError
from driftscope.registry import Registry

__all__ = [
    "Chunk",
    "Chunker",
    "CountChunker",
    "PeriodChunker",
    "SizeChunker",
    "SmallChunkWarning",
    "chunkers",
    "make_chunker",
]

DEFAULT_MIN_CHUNK_SIZE = 50
PERIOD_ALIASES = {"hour": "h", "day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


class SmallChunkWarning(UserWarning):
    """A chunk has too few rows for a stable statistic."""


@dataclass(eq=False)
class Chunk:
    """A slice of a frame: its rows (positions), key and time span."""

    index: int
    key: str
    positions: np.ndarray
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    frame: pd.DataFrame | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.positions.size)

    @cached_property
    def span(self) -> slice | None:
        """The positions as a slice when they are consecutive (views instead of gathers)."""
        pos = self.positions
        if pos.size == 0:
            return slice(0, 0)
        first = int(pos[0])
        if int(pos[-1]) - first + 1 == pos.size and bool(np.all(np.diff(pos) == 1)):
            return slice(first, first + pos.size)
        return None

    def take(self, values: np.ndarray) -> np.ndarray:
        """``values[positions]``: a view when the positions are consecutive, else a copy."""
        span = self.span
        return values[span] if span is not None else values[self.positions]

    @property
    def data(self) -> pd.DataFrame:
        """The chunk's rows (a positional selection of the frame it was cut from)."""
        if self.frame is None:
            raise ValidationError(f"chunk {self.key!r} carries no frame")
        return self.frame.iloc[self.positions]


chunkers: Registry[type[Chunker]] = Registry("chunkers")


class Chunker(ABC):
    """Strategy that cuts a frame into chunks; build one from config with :func:`make_chunker`."""

    type: ClassVar[str]
    Config: ClassVar[builtins.type[BaseModel]]

    def __init__(
        self, timestamp_column: str | None = None, min_chunk_size: int = DEFAULT_MIN_CHUNK_SIZE
    ) -> None:
        self.timestamp_column = timestamp_column
        self.min_chunk_size = min_chunk_size

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            chunkers.add(cls.type, cls)

    def split(self, frame: pd.DataFrame, *, warn: bool = True) -> list[Chunk]:
        """Cut ``frame`` into chunks (row positions into ``frame``)."""
        ts = self._timestamps(frame)
        chunks = self._split(frame, ts)
        for chunk in chunks:
            chunk.frame = frame
            if ts is not None and chunk.start is None and len(chunk):
                chunk.start = ts.iloc[chunk.positions].min()
                chunk.end = ts.iloc[chunk.positions].max()
        if warn:
            small = [c.key for c in chunks if len(c) < self.min_chunk_size]
            if small:
                warnings.warn(
                    f"{len(small)} chunk(s) have fewer than {self.min_chunk_size} rows "
                    f"({', '.join(small[:5])}); their statistics are unstable",
                    SmallChunkWarning,
                    stacklevel=2,
                )
        return chunks

    def _timestamps(self, frame: pd.DataFrame) -> pd.Series | None:
        col = self.timestamp_column
        if col is None:
            return None
        if col not in frame.columns:
            raise ValidationError(f"timestamp column {col!r} is not in the data")
        ts = pd.to_datetime(frame[col], utc=True, errors="coerce")
        return ts.dt.tz_convert(None)

    @abstractmethod
    def _split(self, frame: pd.DataFrame, ts: pd.Series | None) -> list[Chunk]:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """The chunker as its config dict (``type`` plus parameters)."""
        return {"type": self.type, **{k: getattr(self, k) for k in self.Config.model_fields}}


def _range_chunk(index: int, start: int, stop: int) -> Chunk:
    return Chunk(index=index, key=f"[{start}:{stop - 1}]", positions=np.arange(start, stop))


class _BaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timestamp_column: str | None = None
    min_chunk_size: int = Field(default=DEFAULT_MIN_CHUNK_SIZE, ge=0)


class SizeChunker(Chunker):
    """Chunks of ``chunk_size`` rows in row order (see the module rules for the last chunk)."""

    type = "size"

    class Config(_BaseConfig):
        type: Literal["size"] = "size"
        chunk_size: PositiveInt
        incomplete: Literal["append", "keep", "drop"] = "append"

    def __init__(
        self,
        chunk_size: int,
        incomplete: Literal["append", "keep", "drop"] = "append",
        timestamp_column: str | None = None,
        min_chunk_size: int = DEFAULT_MIN_CHUNK_SIZE,
    ) -> None:
        super().__init__(timestamp_column, min_chunk_size)
        if chunk_size < 1:
            raise ConfigError("chunk_size", f"must be a positive integer, not {chunk_size!r}")
        if incomplete not in ("append", "keep", "drop"):
            raise ConfigError("incomplete", f"must be append, keep or drop, not {incomplete!r}")
        self.chunk_size = int(chunk_size)
        self.incomplete = incomplete

    def _split(self, frame: pd.DataFrame, ts: pd.Series | None) -> list[Chunk]:
        n, size = len(frame), self.chunk_size
        full, rest = divmod(n, size)
        bounds = [(i * size, (i + 1) * size) for i in range(full)]
        if rest:
            if not bounds:
                bounds.append((0, n))
            elif self.incomplete == "append":
                bounds[-1] = (bounds[-1][0], n)
            elif self.incomplete == "keep":
                bounds.append((full * size, n))
        return [_range_chunk(i, a, b) for i, (a, b) in enumerate(bounds)]


class CountChunker(Chunker):
    """``chunk_number`` chunks in row order whose sizes differ by at most one row."""

    type = "count"

    class Config(_BaseConfig):
        type: Literal["count"] = "count"
        chunk_number: PositiveInt = 10

    def __init__(
        self,
        chunk_number: int = 10,
        timestamp_column: str | None = None,
        min_chunk_size: int = DEFAULT_MIN_CHUNK_SIZE,
    ) -> None:
        super().__init__(timestamp_column, min_chunk_size)
        if chunk_number < 1:
            raise ConfigError("chunk_number", f"must be a positive integer, not {chunk_number!r}")
        self.chunk_number = int(chunk_number)

    def _split(self, frame: pd.DataFrame, ts: pd.Series | None) -> list[Chunk]:
        n = len(frame)
        if n == 0:
            return []
        k = min(self.chunk_number, n)
        # numpy.array_split sizes: the first n % k chunks have one row more
        base, extra = divmod(n, k)
        sizes = np.full(k, base) + (np.arange(k) < extra)
        stops = np.cumsum(sizes)
        starts = stops - sizes
        pairs = zip(starts.tolist(), stops.tolist(), strict=True)
        return [_range_chunk(i, a, b) for i, (a, b) in enumerate(pairs)]


class PeriodChunker(Chunker):
    """One chunk per calendar period of ``timestamp_column`` (rows in time order)."""

    type = "period"

    class Config(_BaseConfig):
        type: Literal["period"] = "period"
        period: str = "day"
        timestamp_column: str | None = None

    def __init__(
        self,
        period: str = "day",
        timestamp_column: str | None = None,
        min_chunk_size: int = DEFAULT_MIN_CHUNK_SIZE,
    ) -> None:
        super().__init__(timestamp_column, min_chunk_size)
        if not timestamp_column:
            raise ConfigError("timestamp_column", "period chunking needs a timestamp column")
        self.freq = PERIOD_ALIASES.get(period.lower(), period)
        try:
            pd.Period("2024-01-01", freq=self.freq)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "period", f"{period!r} is not one of {sorted(PERIOD_ALIASES)} or a pandas alias"
            ) from exc
        self.period = period

    def _split(self, frame: pd.DataFrame, ts: pd.Series | None) -> list[Chunk]:
        if ts is None:
            raise ValidationError("period chunking needs a timestamp column")
        if ts.isna().any():
            bad = int(ts.isna().sum())
            raise ValidationError(
                f"{bad} row(s) have no valid timestamp in {self.timestamp_column!r}: "
                "period chunking needs one on every row"
            )
        if len(ts) == 0:
            return []
        periods = ts.dt.to_period(self.freq)
        codes, uniques = pd.factorize(periods, sort=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(uniques))
        stops = np.cumsum(counts)
        chunks = []
        for i, period in enumerate(uniques):
            pos = order[stops[i] - counts[i] : stops[i]]
            chunks.append(
                Chunk(
                    index=i,
                    key=str(period),
                    positions=pos,
                    start=period.start_time,
                    end=period.end_time,
                )
            )
        return chunks


def make_chunker(
    spec: Chunker | dict[str, Any] | BaseModel | None = None,
    *,
    timestamp_column: str | None = None,
) -> Chunker:
    """Build a chunker from a chunker, a config dict/model (``type`` key), or ``None``.

    ``None`` gives ``CountChunker(10)``. A ``timestamp_column`` given here is
    used when the spec names none.
    """
    if isinstance(spec, Chunker):
        if spec.timestamp_column is None and timestamp_column:
            spec.timestamp_column = timestamp_column
        return spec
    if spec is None:
        return CountChunker(10, timestamp_column=timestamp_column)
    raw = spec.model_dump() if isinstance(spec, BaseModel) else dict(spec)
    kind = raw.get("type")
    if kind is None:
        raise ConfigError("chunker.type", f"missing; valid: {', '.join(chunkers.names())}")
    try:
        cls = chunkers.get(str(kind))
    except Exception as exc:
        raise ConfigError("chunker.type", str(exc)) from exc
    try:
        config = cls.Config.model_validate(raw)
    except Exception as exc:
        raise ConfigError("chunker", f"invalid {kind!r} chunker config {raw!r}: {exc}") from exc
    params = config.model_dump(exclude={"type"})
    if params.get("timestamp_column") is None:
        params["timestamp_column"] = timestamp_column
    return cls(**params)


def chunker_from_options(
    *,
    chunk_size: int | None = None,
    chunks: int | None = None,
    chunk_period: str | None = None,
    timestamp_column: str | None = None,
) -> Chunker:
    """The chunker for command-line style options (at most one of the three)."""
    options = (("chunk_size", chunk_size), ("chunks", chunks), ("chunk_period", chunk_period))
    given = [name for name, value in options if value]
    if len(given) > 1:
        raise ConfigError(given[1], f"give one of chunk_size, chunks, chunk_period; got {given}")
    if chunk_size:
        return SizeChunker(chunk_size, timestamp_column=timestamp_column)
    if chunk_period:
        return PeriodChunker(chunk_period, timestamp_column=timestamp_column)
    return CountChunker(chunks or 10, timestamp_column=timestamp_column)
