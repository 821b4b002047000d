"""One long results table for every monitoring figure.

:class:`Result` wraps a pandas DataFrame with one row per
``(chunk, segment, column, method, metric)`` and the columns of
:data:`RESULT_COLUMNS`. Values computed on the reference chunks (from which
thresholds are learned) are kept apart in :attr:`Result.reference`, with the
same columns, so ``Result.data`` holds the analysis rows only.

Ranking (:meth:`Result.ranking`) orders columns by alert count, then by
*magnitude*: the largest relative excess of a value over its bound,
``(value - upper) / |upper|`` or ``(lower - value) / |lower|`` (negative
when every value is inside its bounds: closer to zero is closer to alerting).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import ValidationError
from driftscope.types import RESULT_COLUMNS

__all__ = ["KEY_COLUMNS", "RESULT_COLUMNS", "Result", "chunk_fields", "rows_frame"]

KEY_COLUMNS = ["chunk_key", "segment", "column", "method", "metric"]
_DTYPES = {
    "chunk_index": "int64",
    "chunk_key": "object",
    "n": "int64",
    "segment": "object",
    "column": "object",
    "method": "object",
    "metric": "object",
    "value": "float64",
    "p_value": "float64",
    "lower_threshold": "float64",
    "upper_threshold": "float64",
    "alert": "bool",
}


def chunk_fields(chunk: Any, n: int | None = None) -> dict[str, Any]:
    """The chunk columns of a result row for a :class:`~driftscope.monitoring.chunking.Chunk`."""
    return {
        "chunk_index": chunk.index,
        "chunk_key": chunk.key,
        "chunk_start": chunk.start,
        "chunk_end": chunk.end,
        "n": len(chunk) if n is None else n,
    }


def _timestamps(values: pd.Series) -> pd.Series:
    ts = pd.to_datetime(values, utc=True, errors="coerce")
    return ts.dt.tz_convert(None).astype("datetime64[us]")


def rows_frame(rows: Iterable[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Normalise rows to the result schema: all columns, fixed dtypes, naive UTC times."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    frame = frame.copy()
    for col in RESULT_COLUMNS:
        if col not in frame.columns:
            frame[col] = (
                np.nan
                if col in ("value", "p_value", "lower_threshold", "upper_threshold")
                else (False if col == "alert" else None)
            )
    extra = [c for c in frame.columns if c not in RESULT_COLUMNS]
    frame = frame[RESULT_COLUMNS + extra]
    for col, dtype in _DTYPES.items():
        if dtype == "object":
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        elif dtype == "bool":
            frame[col] = frame[col].fillna(False).astype(bool)
        else:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(dtype)
    for col in ("chunk_start", "chunk_end"):
        frame[col] = _timestamps(frame[col])
    return frame.reset_index(drop=True)


class Result:
    """Tidy monitoring results: analysis rows in :attr:`data`, reference rows in :attr:`reference`.

    Parameters
    ----------
    data
        Rows (dicts or a DataFrame) with the :data:`RESULT_COLUMNS`.
    reference
        Rows computed on the reference chunks (optional).

    Examples
    --------
    >>> r = Result([{"chunk_index": 0, "chunk_key": "[0:9]", "n": 10, "column": "x",
    ...              "method": "ks", "metric": "statistic", "value": 0.4,
    ...              "upper_threshold": 0.2, "alert": True}])
    >>> r.ranking()[["column", "alert_count"]].to_dict("records")
    [{'column': 'x', 'alert_count': 1}]
    """

    def __init__(
        self,
        data: Iterable[dict[str, Any]] | pd.DataFrame = (),
        reference: Iterable[dict[str, Any]] | pd.DataFrame | None = None,
    ) -> None:
        self.data = rows_frame(data)
        self.reference = rows_frame(reference if reference is not None else [])

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        alerts = int(self.data["alert"].sum())
        cols = self.data["column"].nunique()
        return f"Result({len(self.data)} rows, {cols} columns, {alerts} alerts)"

    def __add__(self, other: Result) -> Result:
        return Result.concat([self, other])

    @staticmethod
    def concat(results: Sequence[Result]) -> Result:
        """One result holding the rows of all ``results``."""
        if not results:
            return Result()
        return Result(
            pd.concat([r.data for r in results], ignore_index=True),
            pd.concat([r.reference for r in results], ignore_index=True),
        )

    def to_pandas(self) -> pd.DataFrame:
        """The analysis rows (a copy)."""
        return self.data.copy()

    def to_polars(self) -> Any:
        """The analysis rows as a Polars DataFrame."""
        import polars as pl

        return pl.from_pandas(self.data)

    @property
    def alerts(self) -> pd.DataFrame:
        """The alerting rows."""
        return self.data[self.data["alert"]].reset_index(drop=True)

    def filter(
        self,
        *,
        column: str | Sequence[str] | None = None,
        method: str | Sequence[str] | None = None,
        metric: str | Sequence[str] | None = None,
        segment: str | Sequence[str] | None = None,
        chunk_key: str | Sequence[str] | None = None,
        alerts_only: bool = False,
    ) -> Result:
        """Rows matching every given criterion (a value or a list of values)."""

        def mask(frame: pd.DataFrame) -> pd.Series:
            keep = pd.Series(True, index=frame.index)
            for name, want in (
                ("column", column),
                ("method", method),
                ("metric", metric),
                ("segment", segment),
                ("chunk_key", chunk_key),
            ):
                if want is not None:
                    values = [want] if isinstance(want, str) else list(want)
                    keep &= frame[name].isin(values)
            if alerts_only:
                keep &= frame["alert"]
            return keep

        return Result(self.data[mask(self.data)], self.reference[mask(self.reference)])

    def ranking(
        self, segment: str | None = None, exclude_methods: Sequence[str] = ("quality", "schema")
    ) -> pd.DataFrame:
        """Columns ordered by drift: alert count, then magnitude (see the module docstring).

        Drift rows of the whole data (``segment`` empty) by default, or of one
        ``segment``; data-quality and schema rows and table-wide rows (column
        ``"*"``) are left out.
        """
        data = self.data[~self.data["method"].isin(list(exclude_methods))]
        data = data[data["column"] != "*"]
        in_segment = data["segment"].isna() if segment is None else data["segment"] == segment
        frame = data[in_segment]
        if frame.empty:
            cols = ["rank", "column", "alert_count", "magnitude", "alerting_chunks"]
            return pd.DataFrame(columns=cols)
        value = frame["value"].to_numpy(dtype=np.float64)
        lower = frame["lower_threshold"].to_numpy(dtype=np.float64)
        upper = frame["upper_threshold"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = (value - upper) / np.maximum(np.abs(upper), 1e-12)
            lo = (lower - value) / np.maximum(np.abs(lower), 1e-12)
        excess = np.fmax(up, lo)
        work = pd.DataFrame(
            {
                "column": frame["column"].to_numpy(),
                "alert": frame["alert"].to_numpy(),
                "excess": excess,
                "chunk_key": frame["chunk_key"].to_numpy(),
            }
        )
        grouped = work.groupby("column", sort=False)
        out = pd.DataFrame(
            {
                "alert_count": grouped["alert"].sum().astype(int),
                "magnitude": grouped["excess"].max(),
                "alerting_chunks": work[work["alert"]].groupby("column")["chunk_key"].nunique(),
            }
        ).fillna({"alerting_chunks": 0})
        out["alerting_chunks"] = out["alerting_chunks"].astype(int)
        out = out.reset_index().sort_values(
            ["alert_count", "magnitude", "column"],
            ascending=[False, False, True],
            na_position="last",
        )
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out.reset_index(drop=True)

    def segment_ranking(self) -> pd.DataFrame:
        """Segments ordered by drift (alert count, then magnitude), from per-segment rows."""
        seg = self.data[self.data["segment"].notna()]
        rows = []
        for name, part in seg.groupby("segment", sort=False):
            rank = Result(part).ranking(segment=str(name))
            rows.append(
                {
                    "segment": name,
                    "alert_count": int(rank["alert_count"].sum()),
                    "magnitude": float(rank["magnitude"].max()),
                    "top_column": rank["column"].iloc[0] if len(rank) else None,
                }
            )
        out = pd.DataFrame(rows, columns=["segment", "alert_count", "magnitude", "top_column"])
        out = out.sort_values(["alert_count", "magnitude"], ascending=False, na_position="last")
        return out.reset_index(drop=True)

    def compare(
        self, other: Result, *, suffixes: tuple[str, str] = ("_self", "_other")
    ) -> pd.DataFrame:
        """Join two results on their keys: values side by side, difference, alert changes."""
        a = self.data[KEY_COLUMNS + ["value", "alert"]]
        b = other.data[KEY_COLUMNS + ["value", "alert"]]
        merged = a.merge(b, on=KEY_COLUMNS, how="outer", suffixes=suffixes, indicator=True)
        s, o = suffixes
        merged["difference"] = merged[f"value{o}"] - merged[f"value{s}"]
        merged["alert_changed"] = merged[f"alert{s}"].fillna(False).astype(bool) != merged[
            f"alert{o}"
        ].fillna(False).astype(bool)
        merged["present"] = (
            merged.pop("_merge")
            .map({"both": "both", "left_only": "self", "right_only": "other"})
            .astype(str)
        )
        return merged

    def save(self, path: str | Path) -> Path:
        """Write both tables to one Parquet file (a ``period`` column tells them apart)."""
        path = Path(path)
        frame = pd.concat(
            [self.data.assign(period="analysis"), self.reference.assign(period="reference")],
            ignore_index=True,
        )
        frame.to_parquet(path, index=False)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Result:
        """Read a file written by :meth:`save` (a plain results table loads as analysis rows)."""
        try:
            frame = pd.read_parquet(Path(path))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"cannot read results from {str(path)!r}: {exc}") from exc
        if "period" not in frame.columns:
            return cls(frame)
        period = frame.pop("period")
        return cls(frame[period == "analysis"], frame[period == "reference"])

    def plot(self, kind: str = "drift", **kwargs: Any) -> Any:
        """A Plotly figure: ``kind`` is ``"drift"`` (one column over chunks) or ``"heatmap"``."""
        from driftscope.monitoring import plots

        if kind == "drift":
            return plots.drift_figure(self, **kwargs)
        if kind == "heatmap":
            return plots.heatmap_figure(self, **kwargs)
        raise ValidationError(f"unknown plot kind {kind!r}; valid: drift, heatmap")
