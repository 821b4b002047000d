"""Plotly figure of one performance metric: realized beside estimated, with bands.

Estimated values (CBPE or DLE) are drawn with their sampling-error band,
realized values where labels exist, the expected-performance bounds as
dashed lines, alerts as red markers, and label coverage on a second axis, so
a user sees at once how good the estimate is and where labels are missing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from driftscope.errors import ValidationError

_COLORS = {"realized": "#1f77b4", "cbpe": "#ff7f0e", "dle": "#2ca02c"}


def performance_figure(result: Any, metric: str, *, title: str | None = None) -> Any:
    """A figure of ``metric`` over chunks from a performance result (Result or DataFrame)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    data: pd.DataFrame = getattr(result, "data", result)
    rows = data[data["metric"] == metric]
    if rows.empty:
        raise ValidationError(f"no rows for metric {metric!r}; have {sorted(set(data.metric))}")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for method, part in rows.groupby("method", sort=False):
        part = part.sort_values("chunk_index")
        x = part["chunk_key"].astype(str)
        color = _COLORS.get(str(method), "#7f7f7f")
        if "upper_confidence" in part and part["upper_confidence"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=list(x) + list(x[::-1]),
                    y=list(part["upper_confidence"]) + list(part["lower_confidence"][::-1]),
                    fill="toself",
                    fillcolor=color,
                    opacity=0.15,
                    line={"width": 0},
                    name=f"{method} band",
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=part["value"],
                mode="lines+markers",
                name=str(method),
                line={"color": color, "dash": "dot" if method != "realized" else "solid"},
            )
        )
        alerting = part[part["alert"]]
        if not alerting.empty:
            fig.add_trace(
                go.Scatter(
                    x=alerting["chunk_key"].astype(str),
                    y=alerting["value"],
                    mode="markers",
                    name=f"{method} alert",
                    marker={"color": "red", "size": 10, "symbol": "x"},
                )
            )
    first = rows.sort_values("chunk_index").drop_duplicates("chunk_index")
    for side in ("lower_threshold", "upper_threshold"):
        if first[side].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=first["chunk_key"].astype(str),
                    y=first[side],
                    mode="lines",
                    name=side.replace("_", " "),
                    line={"color": "#d62728", "dash": "dash", "width": 1},
                )
            )
    if "label_coverage" in rows and rows["label_coverage"].notna().any():
        fig.add_trace(
            go.Bar(
                x=first["chunk_key"].astype(str),
                y=first["label_coverage"],
                name="label coverage",
                opacity=0.2,
                marker={"color": "#7f7f7f"},
            ),
            secondary_y=True,
        )
        fig.update_yaxes(title_text="label coverage", range=[0, 1], secondary_y=True)
    fig.update_layout(
        title=title or f"{metric} per chunk",
        xaxis_title="chunk",
        yaxis_title=metric,
        template="plotly_white",
    )
    return fig
