"""Plotly figures of monitoring results.

- :func:`drift_figure`: one column's values over chunks (reference chunks
  shaded apart), with its threshold band and alerts marked;
- :func:`distribution_figure`: reference vs one chunk for a column
  (histograms on the same bins, or category shares);
- :func:`heatmap_figure`: columns x chunks, coloured by drift score (the
  largest ``value / upper_threshold`` over the column's methods, so 1 is the
  alert line), columns in ranking order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from driftscope.errors import ValidationError

if TYPE_CHECKING:
    from driftscope.monitoring.result import Result

# An empty template: plotly.js's own (white) defaults. A named template such as
# "plotly_white" is deep-copied into every figure and written into its JSON
# (about 6 kB each): 4x slower to build and 5x larger in a 200-column report.
_TEMPLATE = go.layout.Template()

__all__ = [
    "column_figure",
    "distribution_figure",
    "drift_figure",
    "drift_scores",
    "heatmap_figure",
]


def drift_figure(
    result: Result, column: str, method: str | None = None, metric: str | None = None
) -> go.Figure:
    """Values of ``column`` / ``method`` over chunks with thresholds and alerts."""
    ana = result.filter(column=column, method=method, metric=metric)
    if ana.data.empty:
        raise ValidationError(f"no results for column {column!r} method {method!r}")
    method = method or str(ana.data["method"].iloc[0])
    ana = ana.filter(method=method)
    fig = go.Figure()
    parts = [("reference", ana.reference, "#9aa5b1"), ("analysis", ana.data, "#1f6feb")]
    for label, frame, color in parts:
        frame = frame[frame["segment"].isna()] if frame["segment"].notna().any() else frame
        if frame.empty:
            continue
        x = [f"{label[:3]} {k}" for k in frame["chunk_key"]]
        fig.add_trace(
            go.Scatter(
                x=x, y=frame["value"], mode="lines+markers", name=label, line={"color": color}
            )
        )
        for bound in ("upper_threshold", "lower_threshold"):
            if frame[bound].notna().any():
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=frame[bound],
                        mode="lines",
                        showlegend=False,
                        name=bound,
                        line={"color": "#d1242f", "dash": "dash"},
                    )
                )
        alert = frame[frame["alert"]]
        if not alert.empty:
            fig.add_trace(
                go.Scatter(
                    x=[f"{label[:3]} {k}" for k in alert["chunk_key"]],
                    y=alert["value"],
                    mode="markers",
                    name="alert",
                    marker={"color": "#d1242f", "size": 11, "symbol": "diamond"},
                )
            )
    metric_name = str(ana.data["metric"].iloc[0])
    fig.update_layout(
        title=f"{column}: {method} {metric_name}",
        height=300,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        template=_TEMPLATE,
    )
    return fig


def column_figure(result: Result, column: str) -> go.Figure:
    """Every drift method of ``column`` in one figure, as ``value / upper_threshold``.

    1 is each method's alert line, so methods on different scales share an axis.
    """
    data = result.data
    rows = data[(data["column"] == column) & data["segment"].isna()]
    rows = rows[~rows["method"].isin(["quality", "schema"])]
    fig = go.Figure()
    for method, part in rows.groupby("method", sort=False):
        upper = part["upper_threshold"].where(part["upper_threshold"] > 0)
        fig.add_trace(
            go.Scatter(
                x=part["chunk_key"],
                y=(part["value"] / upper).round(4),
                mode="lines+markers",
                name=str(method),
                customdata=part["value"].round(5),
                hovertemplate="%{x}: %{customdata} (%{y} of threshold)",
            )
        )
        alert = part[part["alert"]]
        if not alert.empty:
            fig.add_trace(
                go.Scatter(
                    x=alert["chunk_key"],
                    y=(alert["value"] / upper[alert.index]).round(4),
                    mode="markers",
                    showlegend=False,
                    name=f"{method} alert",
                    marker={"color": "#d1242f", "size": 10, "symbol": "diamond"},
                )
            )
    fig.add_hline(y=1.0, line={"color": "#d1242f", "dash": "dash"})
    fig.update_layout(
        title=f"{column}: value / upper threshold",
        height=260,
        margin={"l": 40, "r": 10, "t": 36, "b": 30},
        template=_TEMPLATE,
    )
    return fig


def distribution_figure(reference: Any, chunk: Any, column: str, bins: int = 30) -> go.Figure:
    """Reference vs chunk distribution of ``column`` (same bins, or category shares)."""
    ref = pd.Series(np.asarray(reference)).dropna()
    new = pd.Series(np.asarray(chunk)).dropna()
    fig = go.Figure()
    if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
        edges = np.histogram_bin_edges(np.concatenate([ref, new]).astype(float), bins=bins)
        for name, data in (("reference", ref), ("chunk", new)):
            counts, _ = np.histogram(data.astype(float), bins=edges)
            share = counts / max(counts.sum(), 1)
            fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=share, name=name, opacity=0.6))
        fig.update_layout(barmode="overlay")
    else:
        shares = pd.DataFrame(
            {
                "reference": ref.astype(str).value_counts(normalize=True),
                "chunk": new.astype(str).value_counts(normalize=True),
            }
        ).fillna(0)
        for name in ("reference", "chunk"):
            fig.add_trace(go.Bar(x=shares.index, y=shares[name], name=name))
    fig.update_layout(
        title=f"{column}: reference vs chunk",
        height=300,
        template=_TEMPLATE,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
    )
    return fig


def drift_scores(result: Result) -> pd.DataFrame:
    """Columns x chunk keys of the largest ``value / upper_threshold`` (drift rows only)."""
    data = result.data
    data = data[data["segment"].isna() & ~data["method"].isin(["quality", "schema"])]
    data = data[data["column"] != "*"]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = data["value"] / data["upper_threshold"].where(data["upper_threshold"] > 0)
    frame = data.assign(score=score)
    table = frame.pivot_table(index="column", columns="chunk_index", values="score", aggfunc="max")
    keys = data.drop_duplicates("chunk_index").set_index("chunk_index")["chunk_key"]
    table.columns = [str(keys[c]) for c in table.columns]
    order = [c for c in result.ranking()["column"] if c in table.index]
    return table.loc[order]


def heatmap_figure(result: Result, max_columns: int = 200) -> go.Figure:
    """Heat map of drift scores, columns (ranked) x chunks; 1 is the alert line."""
    scores = drift_scores(result).head(max_columns)
    z = scores.to_numpy(dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=np.round(z, 3),
            x=list(scores.columns),
            y=list(scores.index),
            zmin=0,
            zmax=2,
            colorscale=[[0, "#f6f8fa"], [0.5, "#fff1a8"], [0.5001, "#ffb86b"], [1, "#d1242f"]],
            colorbar={"title": "value / upper"},
            hoverongaps=False,
        )
    )
    fig.update_layout(
        title="Drift by column and chunk",
        template=_TEMPLATE,
        height=max(300, 18 * len(scores) + 120),
        yaxis={"autorange": "reversed"},
        margin={"l": 140, "r": 10, "t": 40, "b": 60},
    )
    return fig
