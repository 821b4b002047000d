"""A self-contained HTML report: summary, ranking and heat map first, then one section per column.

plotly.js is embedded once; every figure carries only aggregated results
(per-chunk values over thresholds; 20-bin histograms of reference vs the
last chunk for the ``max_distributions`` top-ranked columns when raw data is
given), never raw rows, so 200 columns stay a few megabytes.

Figures are drawn lazily: each is a sized ``div`` with its JSON beside it;
the heat map is drawn at once, the per-column figures when they come within
a screen of the viewport (an ``IntersectionObserver``), so a 200-column page
opens in the time of its first figures, not of its 220 (measured in
``benchmarks/analytics/render.py``). ``window.driftscopeDrawAll()`` draws
every figure (it returns a promise), e.g. before printing.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from driftscope.monitoring import plots
from driftscope.monitoring.result import Result

__all__ = ["render_report", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d0d7de;padding:3px 8px}
th{background:#f6f8fa}.alert{color:#d1242f;font-weight:600}section{margin-top:28px}
"""


_CONFIG = {"displaylogo": False, "responsive": True}
# draws eager figures at once and the others as they near the viewport
_LAZY_JS = """(function () {
  function draw(div) {
    if (div.dataset.drawn) return div._drawn;
    div.dataset.drawn = "1";
    var spec = JSON.parse(document.getElementById(div.id + "-json").textContent);
    div._drawn = Plotly.newPlot(div, spec.data, spec.layout, spec.config);
    return div._drawn;
  }
  var divs = Array.prototype.slice.call(document.querySelectorAll("div.ds-plot"));
  window.driftscopeDrawAll = function () { return Promise.all(divs.map(draw)); };
  var io = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (e.isIntersecting) { io.unobserve(e.target); draw(e.target); }
    });
  }, {rootMargin: "100% 0px"}) : null;
  divs.forEach(function (div) {
    if (div.dataset.eager || !io) draw(div); else io.observe(div);
  });
})();"""


class _Figures:
    """Numbered placeholders for figures: a sized div plus the figure's JSON."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure, eager: bool = False) -> str:
        self.count += 1
        div_id = f"ds-fig-{self.count}"
        fig_json = fig.to_plotly_json()
        spec = {"data": fig_json.get("data", []), "layout": fig_json.get("layout", {})}
        payload = pio.to_json({**spec, "config": _CONFIG}, validate=False)
        payload = payload.replace("</", "<\\/")  # never ends the script element early
        height = int(fig.layout.height or 450)
        flag = " data-eager='1'" if eager else ""
        return (
            f"<div id='{div_id}' class='plotly-graph-div ds-plot'{flag} "
            f"style='height:{height}px;width:100%'></div>"
            f"<script type='application/json' id='{div_id}-json'>{payload}</script>"
        )


def _table(frame: pd.DataFrame) -> str:
    return str(frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}"))


def render_report(
    result: Result,
    *,
    title: str = "driftscope report",
    reference: pd.DataFrame | None = None,
    analysis: pd.DataFrame | None = None,
    max_column_sections: int = 200,
    max_distributions: int = 20,
) -> str:
    """The report as one HTML string (see the module docstring)."""
    _fig = _Figures()
    data = result.data
    ranking = result.ranking()
    alerts = data[data["alert"]]
    n_chunks = data["chunk_key"][data["chunk_index"] >= 0].nunique()
    drifted = ranking[ranking["alert_count"] > 0]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{n_chunks} chunks, {data['column'].nunique()} columns, "
        f"<span class='alert'>{len(alerts)} alerts</span>; "
        f"{len(drifted)} column(s) drifted.</p>",
    ]
    if not drifted.empty:
        first = alerts.groupby("column")["chunk_key"].first()
        summary = drifted.assign(first_alert=drifted["column"].map(first)).head(20)
        parts.append("<h2>What drifted</h2>" + _table(summary))
    schema = data[data["method"] == "schema"]
    if not schema.empty:
        parts.append("<h2>Schema</h2>" + _table(schema[["column", "metric"]]))
    other = data[(data["column"] == "*") & (data["method"] != "quality")]
    if not other.empty:
        parts.append(
            "<h2>Table-wide</h2>"
            + _table(other[["chunk_key", "method", "metric", "value", "upper_threshold", "alert"]])
        )
    if not ranking.empty:
        parts.append("<h2>Ranking</h2>" + _table(ranking))
        parts.append(_fig(plots.heatmap_figure(result), eager=True))
    segments = result.segment_ranking()
    if not segments.empty:
        parts.append("<h2>Segments</h2>" + _table(segments))
    for position, column in enumerate(ranking["column"].head(max_column_sections)):
        section = [f"<section><h2>{html.escape(str(column))}</h2>"]
        col_rows = data[(data["column"] == column) & data["segment"].isna()]
        section.append(_fig(plots.column_figure(result, column)))
        wanted = position < max_distributions
        if wanted and reference is not None and analysis is not None and column in analysis:
            last = analysis[column].tail(max(1, len(analysis) // max(n_chunks, 1)))
            section.append(_fig(plots.distribution_figure(reference[column], last, column, 20)))
        quality = col_rows[col_rows["method"] == "quality"]
        if not quality.empty:
            wide = quality.pivot_table(
                index="chunk_key", columns="metric", values="value", sort=False
            ).reset_index()
            section.append("<details><summary>data quality</summary>" + _table(wide) + "</details>")
        parts.append("".join(section) + "</section>")
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>{body}"
        f"<script>{_LAZY_JS}</script></body></html>"
    )


def write_report(result: Result, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`render_report` to ``path``."""
    path = Path(path)
    path.write_text(render_report(result, **kwargs), encoding="utf-8")
    return path
