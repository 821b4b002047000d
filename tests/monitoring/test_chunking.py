from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftscope.errors import ConfigError, ValidationError
from driftscope.monitoring.chunking import (
    CountChunker,
    PeriodChunker,
    SizeChunker,
    SmallChunkWarning,
    chunker_from_options,
    make_chunker,
)


def _frame(n: int) -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=max(n, 1), freq="37min")[:n]
    return pd.DataFrame({"x": np.arange(n, dtype=float), "ts": ts})


def _positions(chunks) -> np.ndarray:
    return np.concatenate([c.positions for c in chunks]) if chunks else np.array([], int)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 400),
    size=st.integers(1, 120),
    incomplete=st.sampled_from(["append", "keep"]),
)
def test_size_chunker_covers_every_row_once(n, size, incomplete):
    chunks = SizeChunker(size, incomplete=incomplete, min_chunk_size=0).split(_frame(n))
    pos = _positions(chunks)
    assert sorted(pos.tolist()) == list(range(n))
    if incomplete == "append" and n >= size:
        assert all(len(c) >= size for c in chunks)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), k=st.integers(1, 30))
def test_count_chunker_matches_array_split(n, k):
    chunks = CountChunker(k, min_chunk_size=0).split(_frame(n))
    expected = [a for a in np.array_split(np.arange(n), min(k, n))] if n else []
    assert [c.positions.tolist() for c in chunks] == [a.tolist() for a in expected]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), period=st.sampled_from(["hour", "day", "week", "month"]))
def test_period_chunker_every_row_once_and_in_period(n, period):
    frame = _frame(n).sample(frac=1.0, random_state=n)  # shuffled rows
    chunks = PeriodChunker(period, timestamp_column="ts", min_chunk_size=0).split(frame)
    assert sorted(_positions(chunks).tolist()) == list(range(n))
    for chunk in chunks:
        ts = frame["ts"].iloc[chunk.positions]
        assert (ts >= chunk.start).all() and (ts <= chunk.end).all()
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def test_size_chunker_last_partial_rules():
    frame = _frame(25)
    assert [len(c) for c in SizeChunker(10, min_chunk_size=0).split(frame)] == [10, 15]
    keep = SizeChunker(10, incomplete="keep", min_chunk_size=0).split(frame)
    assert [len(c) for c in keep] == [10, 10, 5]
    assert [c.key for c in keep] == ["[0:9]", "[10:19]", "[20:24]"]
    drop = SizeChunker(10, incomplete="drop", min_chunk_size=0).split(frame)
    assert [len(c) for c in drop] == [10, 10]
    assert [len(c) for c in SizeChunker(100, min_chunk_size=0).split(frame)] == [25]


def test_small_chunk_warning_and_times():
    frame = _frame(30)
    with pytest.warns(SmallChunkWarning, match="fewer than 50 rows"):
        chunks = SizeChunker(10, timestamp_column="ts").split(frame)
    assert chunks[0].start == frame["ts"].iloc[0]
    assert chunks[0].end == frame["ts"].iloc[9]
    assert chunks[1].data["x"].tolist() == list(range(10, 20))


def test_period_chunker_errors():
    with pytest.raises(ConfigError, match="timestamp"):
        PeriodChunker("day")
    with pytest.raises(ConfigError, match="period"):
        PeriodChunker("fortnight-ish", timestamp_column="ts")
    frame = _frame(5)
    frame.loc[2, "ts"] = pd.NaT
    with pytest.raises(ValidationError, match="1 row"):
        PeriodChunker("day", timestamp_column="ts", min_chunk_size=0).split(frame)


def test_factory_from_config():
    c = make_chunker({"type": "size", "chunk_size": 5, "incomplete": "keep"})
    assert isinstance(c, SizeChunker) and c.chunk_size == 5 and c.incomplete == "keep"
    assert make_chunker(c.to_config()).to_config() == c.to_config()
    p = make_chunker({"type": "period", "period": "week"}, timestamp_column="ts")
    assert isinstance(p, PeriodChunker) and p.timestamp_column == "ts"
    assert isinstance(make_chunker(None), CountChunker)
    with pytest.raises(ConfigError, match="valid: count, period, size"):
        make_chunker({"type": "nope"})
    with pytest.raises(ConfigError, match="chunk_size"):
        make_chunker({"type": "size", "chunk_size": 0})
    with pytest.raises(ConfigError):
        chunker_from_options(chunk_size=3, chunks=4)
    assert isinstance(chunker_from_options(chunks=4), CountChunker)


def test_chunk_take_is_a_view_only_for_consecutive_positions():
    from driftscope.monitoring.chunking import Chunk

    values = np.arange(10.0)
    run = Chunk(0, "run", np.arange(3, 7))
    assert run.span == slice(3, 7)
    assert run.take(values).base is values and run.take(values).tolist() == [3, 4, 5, 6]
    gappy = Chunk(1, "gappy", np.array([2, 2, 4, 5]))  # endpoints span 4 rows, not consecutive
    assert gappy.span is None
    assert gappy.take(values).base is None and gappy.take(values).tolist() == [2, 2, 4, 5]
    assert Chunk(2, "empty", np.array([], dtype=int)).take(values).size == 0


def test_calculator_leaves_the_callers_columns_unsorted():
    from driftscope.monitoring import UnivariateDriftCalculator

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=400)})
    new = pd.DataFrame({"x": rng.normal(size=400)})
    before = new["x"].to_numpy().copy()
    calc = UnivariateDriftCalculator(chunker={"type": "size", "chunk_size": 100}, n_jobs=1)
    calc.fit(ref).calculate(new)
    assert np.array_equal(new["x"].to_numpy(), before)  # chunks are views: sorted as copies
