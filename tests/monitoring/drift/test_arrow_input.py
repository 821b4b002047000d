"""Arrow input (tables and Polars frames) gives exactly the figures of pandas input.

The drift calculator reads an Arrow table column by column over its own
buffers (``as_pandas(..., arrow=True)``); these tests pin that the figures,
kinds and chunk keys do not depend on the path, with nulls, integer,
boolean, dictionary and timestamp columns, in exact and sketch mode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from driftscope.monitoring.base import as_pandas, numeric_values
from driftscope.monitoring.drift.univariate import UnivariateDriftCalculator
from driftscope.monitoring.drift.univariate.samples import ContinuousSample, sorted_quantiles


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    cats = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    cats[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=n, freq="min"),
            "x": x,
            "ties": np.round(rng.gamma(2.0, 1.0, n), 1),
            "count": rng.integers(0, 1000, n),
            "flag": rng.random(n) < 0.3 + shift / 10,
            "cat": cats,
        }
    )


def _table(frame: pd.DataFrame, dictionary: bool = False) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if dictionary:
        idx = table.schema.get_field_index("cat")
        table = table.set_column(idx, "cat", table.column("cat").dictionary_encode())
    return table


def _rows(result, mode: str = "exact") -> pd.DataFrame:
    cols = ["chunk_key", "column", "method", "value", "p_value", "alert", "n"]
    rows = result.data[cols].reset_index(drop=True)
    if mode == "sketch":  # KLL sketches are randomised: only the categorical figures are fixed
        continuous = rows["column"].isin(["x", "ties", "count"])
        rows.loc[continuous, ["value", "p_value"]] = np.nan
        rows.loc[continuous, "alert"] = False
    return rows


@pytest.mark.parametrize("mode", ["exact", "sketch"])
@pytest.mark.parametrize("chunker", [{"type": "size", "chunk_size": 700}, None])
def test_arrow_and_polars_input_equal_pandas_input(mode, chunker):
    ref, new = _frame(5000, 1), _frame(3000, 2, shift=0.3)
    methods = (
        ["ks", "wasserstein", "jensen_shannon", "energy"]
        if mode == "exact"
        else ["ks", "wasserstein", "jensen_shannon"]
    )

    def run(r, a):
        calc = UnivariateDriftCalculator(
            ["x", "ties", "count", "flag", "cat"],
            continuous_methods=methods,
            categorical_methods=["chi2", "jensen_shannon"],
            chunker=chunker,
            mode=mode,
            n_jobs=1,
        )
        result = calc.fit(r).calculate(a)
        return calc, result

    base_calc, base = run(ref, new)
    for r, a in [
        (_table(ref), _table(new)),
        (_table(ref, dictionary=True), _table(new, dictionary=True)),
        (pl.from_pandas(ref), pl.from_pandas(new)),
        (ref, _table(new)),  # mixed: pandas reference, Arrow analysis
    ]:
        calc, got = run(r, a)
        assert calc.kinds_ == base_calc.kinds_
        pd.testing.assert_frame_equal(_rows(got, mode), _rows(base, mode))
        if mode == "exact":
            cols = list(_rows(base).columns)
            pd.testing.assert_frame_equal(
                got.reference[cols].reset_index(drop=True),
                base.reference[cols].reset_index(drop=True),
            )


def test_arrow_timestamps_chunk_like_pandas():
    ref, new = _frame(4000, 3), _frame(4000, 4)
    kwargs = {"chunker": {"type": "period", "period": "day"}, "timestamp_column": "ts"}
    base = UnivariateDriftCalculator(["x", "cat"], **kwargs).fit(ref).calculate(new)
    got = UnivariateDriftCalculator(["x", "cat"], **kwargs).fit(_table(ref)).calculate(_table(new))
    pd.testing.assert_frame_equal(_rows(got), _rows(base))
    assert list(got.data["chunk_start"]) == list(base.data["chunk_start"])


def test_arrow_frame_shares_the_buffers_and_numeric_values_convert_nulls():
    table = pa.table(
        {
            "f": pa.array([1.5, None, 3.0]),
            "dense": pa.array([1.0, 2.0, 3.0]),
            "i": pa.array([1, None, 7], type=pa.int32()),
            "two_chunks": pa.chunked_array([[1.0, None], [2.5]]),
        }
    )
    frame = as_pandas(table, arrow=True)
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)
    np.testing.assert_array_equal(numeric_values(frame["f"]), [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(numeric_values(frame["i"]), [1.0, np.nan, 7.0])
    np.testing.assert_array_equal(numeric_values(frame["two_chunks"]), [1.0, np.nan, 2.5])
    dense = numeric_values(frame["dense"])
    assert dense.dtype == np.float64 and not dense.flags.writeable  # zero-copy view
    chunker = {"type": "count", "chunk_number": 1, "min_chunk_size": 1}
    UnivariateDriftCalculator(["dense"], chunker=chunker).fit(frame).calculate(frame)
    np.testing.assert_array_equal(numeric_values(frame["dense"]), [1.0, 2.0, 3.0])
    # without arrow=True a table becomes an ordinary pandas frame, as before
    assert not isinstance(as_pandas(table)["dense"].dtype, pd.ArrowDtype)


@pytest.mark.parametrize("n", [3000, 70_000])  # NumPy's argsort, then the packed one
@pytest.mark.parametrize("known", [False, True])  # the label sizes and index given or not
def test_split_reference_chunks_equal_chunks_sorted_on_their_own(n, known):
    rng = np.random.default_rng(7)
    values = np.round(rng.normal(size=n), 1 if n < 10_000 else 4)  # ties
    labels = rng.integers(-1, 4, values.size)
    whole = ContinuousSample(values.copy())
    if known:
        sizes = np.bincount(labels + 1, minlength=5)[1:]
        parts = whole.split(labels, 4, sizes, np.arange(n, dtype=np.uint64))
    else:
        parts = whole.split(labels, 4)
    np.testing.assert_array_equal(whole.sorted, np.sort(values))
    for i, part in enumerate(parts):
        np.testing.assert_array_equal(part.sorted, np.sort(values[labels == i]))
        ranks = part.cache[("ranks", id(whole))]
        np.testing.assert_array_equal(whole.sorted[ranks], part.sorted)
    with pytest.raises(ValueError):
        whole.split(labels, 4)  # already sorted


def test_sorted_quantiles_equal_numpy_quantile():
    rng = np.random.default_rng(8)
    for n in (1, 2, 3, 10, 999, 10_000):
        for values in (np.sort(rng.normal(size=n)), np.sort(np.round(rng.normal(size=n), 1))):
            for qs in (
                np.linspace(0, 1, 21)[1:-1],
                np.array([0.0, 0.25, 0.75, 1.0]),
                rng.random(9),
            ):
                np.testing.assert_array_equal(sorted_quantiles(values, qs), np.quantile(values, qs))


def test_dictionary_columns_with_unused_or_repeated_values_equal_plain_strings():
    rng = np.random.default_rng(9)
    ref = rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])
    new = rng.choice(["a", "b", "c", "d"], 2000, p=[0.4, 0.3, 0.2, 0.1])
    base = (
        UnivariateDriftCalculator(["c"], methods=["chi2", "jensen_shannon"])
        .fit(pd.DataFrame({"c": ref}))
        .calculate(pd.DataFrame({"c": new}))
    )

    def with_dictionary(values: np.ndarray, dictionary: list[str]) -> pa.Table:
        # every position of a value is used, so a repeated value has two codes
        where = {v: [i for i, d in enumerate(dictionary) if d == v] for v in dictionary}
        picks = rng.integers(0, 2, values.size)
        codes = pa.array(
            [where[v][p % len(where[v])] for v, p in zip(values, picks, strict=True)],
            type=pa.int32(),
        )
        return pa.table({"c": pa.DictionaryArray.from_arrays(codes, pa.array(dictionary))})

    for dictionary in (["z", "c", "b", "a", "d", "y"], ["b", "b", "a", "c", "d", "a"]):
        got = (
            UnivariateDriftCalculator(["c"], methods=["chi2", "jensen_shannon"])
            .fit(with_dictionary(ref, dictionary))
            .calculate(with_dictionary(new, dictionary))
        )
        pd.testing.assert_frame_equal(_rows(got), _rows(base))
