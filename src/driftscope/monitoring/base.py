"""The calculator template every monitoring figure follows.

Public :meth:`Calculator.fit` / :meth:`Calculator.calculate` validate their
input (pandas, Polars or Arrow; converted to pandas once), check the columns
the calculator needs, and call the subclass's ``_fit`` / ``_calculate``.
Errors raised on purpose are :class:`~driftscope.errors.MonitoringError` or
:class:`~driftscope.errors.ValidationError`; anything else is wrapped in a
``MonitoringError`` with its cause kept (``raise ... from exc``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd

from driftscope.errors import DriftscopeError, MonitoringError, ValidationError

if TYPE_CHECKING:
    from driftscope.monitoring.chunking import Chunker
    from driftscope.monitoring.result import Result

__all__ = [
    "Calculator",
    "as_pandas",
    "column_kind",
    "infer_column_kinds",
    "require_columns",
]

#: Integer columns with at most this many distinct reference values are categorical.
MAX_INTEGER_CATEGORIES = 10


def as_pandas(data: Any, *, what: str = "data", arrow: bool = False) -> pd.DataFrame:
    """Return ``data`` (pandas, Polars, Arrow table or a mapping) as a pandas DataFrame.

    With ``arrow``, an Arrow table (or a Polars frame, through Arrow) becomes
    a frame of ``pandas.ArrowDtype`` columns over the same buffers: nothing
    is copied, and calculators that read one column at a time (see
    :func:`numeric_values`) convert each column only while they use it.
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    elif arrow and _arrow_table(data) is not None:
        try:
            frame = _arrow_table(data).to_pandas(types_mapper=pd.ArrowDtype)
        except Exception as exc:  # a foreign library's own error, kept as the cause
            raise ValidationError(f"{what}: cannot convert {type(data).__name__}") from exc
    elif hasattr(data, "to_pandas") and callable(data.to_pandas):  # polars / pyarrow
        try:
            frame = data.to_pandas()
        except Exception as exc:  # a foreign library's own error, kept as the cause
            raise ValidationError(f"{what}: cannot convert {type(data).__name__}") from exc
    elif isinstance(data, dict):
        frame = pd.DataFrame(data)
    else:
        raise ValidationError(
            f"{what} must be a pandas or Polars DataFrame or an Arrow table, "
            f"not {type(data).__name__}"
        )
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"{what}: expected a table, got {type(frame).__name__}")
    if frame.columns.has_duplicates:
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ValidationError(f"{what} has duplicate column names: {dups}")
    return frame


def _arrow_table(data: Any) -> Any:
    """``data`` as a ``pyarrow.Table`` when it is one (or a Polars frame); else ``None``."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if type(data).__module__.startswith("polars") and hasattr(data, "to_arrow"):
        return data.to_arrow()
    return None


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, what: str) -> None:
    """Raise :class:`ValidationError` naming every column of ``columns`` not in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{what} is missing column(s) {missing}; it has {list(map(str, frame.columns))}"
        )


def column_kind(series: pd.Series) -> str:
    """``"continuous"`` or ``"categorical"`` for a reference column.

    Floats are continuous; booleans, strings, categoricals and objects are
    categorical; integers are categorical when they have at most
    ``MAX_INTEGER_CATEGORIES`` distinct values, continuous otherwise.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_float_dtype(dtype):
        return "continuous"
    if pd.api.types.is_integer_dtype(dtype):
        return "categorical" if series.nunique() <= MAX_INTEGER_CATEGORIES else "continuous"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "continuous"
    return "categorical"


def infer_column_kinds(
    frame: pd.DataFrame, columns: Sequence[str], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Kinds of ``columns`` with user ``overrides`` (column -> kind) applied."""
    overrides = overrides or {}
    kinds: dict[str, str] = {}
    for col in columns:
        kind = overrides.get(col) or column_kind(frame[col])
        if kind not in ("continuous", "categorical"):
            raise ValidationError(
                f"column {col!r}: kind must be 'continuous' or 'categorical', not {kind!r}"
            )
        kinds[col] = kind
    return kinds


def numeric_values(series: pd.Series) -> np.ndarray:
    """Float64 values of a column (datetimes as epoch seconds); missing values are NaN.

    A numeric Arrow-backed column (``pandas.ArrowDtype``) converts straight
    from its buffers: a float64 column without nulls in one chunk is not
    copied at all (the array is then read-only).
    """
    if isinstance(series.dtype, pd.ArrowDtype):
        values = _arrow_numeric(series)
        if values is not None:
            return values
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        ts = series.astype("datetime64[ns]") if series.dt.tz is None else series.dt.tz_convert(None)
        out = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64") / 1e9
        out[ts.isna().to_numpy()] = np.nan
        return np.asarray(out, dtype=np.float64)
    try:
        return np.asarray(pd.to_numeric(series, errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"column {series.name!r} is treated as continuous but holds non-numeric values"
        ) from exc


def _arrow_numeric(series: pd.Series) -> np.ndarray | None:
    """Float64 values (NaN for nulls) of an integer or float Arrow column; ``None`` otherwise."""
    import pyarrow as pa

    pa_type = series.dtype.pyarrow_dtype
    if not (pa.types.is_floating(pa_type) or pa.types.is_integer(pa_type)):
        return None
    import pyarrow.compute as pc

    chunked = series.array.__arrow_array__()  # the ChunkedArray itself, not a copy
    if pa_type != pa.float64():
        chunked = chunked.cast(pa.float64())
    if chunked.null_count:
        chunked = pc.fill_null(chunked, np.nan)
    # one Arrow buffer viewed by NumPy: half the time of filling a NumPy array chunk by chunk
    # (Arrow's pool reuses its memory where fresh NumPy arrays take page faults)
    combined = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    return np.asarray(combined.to_numpy(zero_copy_only=False), dtype=np.float64)


class Calculator(ABC):
    """Base of every monitoring calculator: fit on reference, calculate on analysis.

    Parameters
    ----------
    chunker
        How analysis (and reference) rows are cut into chunks: a
        :class:`~driftscope.monitoring.chunking.Chunker`, a config dict such
        as ``{"type": "size", "chunk_size": 1000}``, or ``None`` for the
        default (10 chunks of equal row count).
    timestamp_column
        Optional timestamp column: gives chunk start/end times and is required
        by period chunking.
    """

    #: Arrow input stays in Arrow (``as_pandas(..., arrow=True)``) for calculators that
    #: read it column by column.
    arrow_input: ClassVar[bool] = False

    def __init__(self, *, chunker: Any = None, timestamp_column: str | None = None) -> None:
        from driftscope.monitoring.chunking import make_chunker

        self.chunker: Chunker = make_chunker(chunker, timestamp_column=timestamp_column)
        self.timestamp_column = timestamp_column or getattr(self.chunker, "timestamp_column", None)
        self.fitted_ = False

    def required_columns(self) -> list[str]:
        """Columns reference and analysis must both have (besides the timestamp)."""
        return []

    def _all_required(self) -> list[str]:
        cols = list(self.required_columns())
        if self.timestamp_column and self.timestamp_column not in cols:
            cols.append(self.timestamp_column)
        return cols

    def fit(self, reference: Any) -> Self:
        """Learn what normal looks like from ``reference``; returns ``self``."""
        frame = as_pandas(reference, what="reference", arrow=self.arrow_input)
        if len(frame) == 0:
            raise MonitoringError("the reference data has no rows")
        require_columns(frame, self._all_required(), what="reference")
        self._wrap(self._fit, frame)
        self.fitted_ = True
        return self

    def calculate(self, analysis: Any) -> Result:
        """Compute the figures for each chunk of ``analysis``."""
        if not self.fitted_:
            raise MonitoringError(f"{type(self).__name__} is not fitted: call fit(reference) first")
        frame = as_pandas(analysis, what="analysis", arrow=self.arrow_input)
        require_columns(frame, self._all_required(), what="analysis")
        result: Result = self._wrap(self._calculate, frame)
        return result

    @staticmethod
    def _wrap(fn: Any, frame: pd.DataFrame) -> Any:
        try:
            return fn(frame)
        except (DriftscopeError, Warning):  # a warning turned into an error stays itself
            raise
        except Exception as exc:
            raise MonitoringError(f"{fn.__qualname__} failed: {exc}") from exc

    @abstractmethod
    def _fit(self, reference: pd.DataFrame) -> None:
        """Fit on a validated reference frame."""
        raise NotImplementedError

    @abstractmethod
    def _calculate(self, analysis: pd.DataFrame) -> Result:
        """Compute the result table on a validated analysis frame."""
        raise NotImplementedError
