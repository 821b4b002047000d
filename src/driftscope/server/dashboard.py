"""The page at ``/``: the configured models and where the API is.

A plain HTML page, no scripts. Stored figures (record counts) are shown only
when no token is configured, since a browser does not send a bearer token.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import driftscope
from driftscope.errors import StorageError

if TYPE_CHECKING:
    from driftscope.server.state import ServerState

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}"
    "table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def _counts(state: ServerState) -> dict[str, int] | None:
    if state.store is None:
        return None
    try:
        return {str(m["name"]): int(m.get("records", 0) or 0) for m in state.store.list_models()}
    except StorageError:
        return None


def dashboard_page(state: ServerState, token_required: bool) -> str:
    """The HTML of ``/``."""
    counts = None if token_required else _counts(state)
    head = "<tr><th>model</th><th>version</th><th>task</th><th>protocol</th><th>sample rate</th>"
    head += "<th>records stored</th></tr>" if counts is not None else "</tr>"
    rows = []
    for m in state.settings.models:
        cells = [m.name, m.version or "", m.task.value, m.protocol.value, f"{m.sample_rate:g}"]
        if counts is not None:
            cells.append(str(counts.get(m.name, 0)))
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    table = (
        f"<table>{head}{''.join(rows)}</table>"
        if rows
        else "<p>No model is configured: add one under <code>models:</code> in the config.</p>"
    )
    auth = (
        "<p>The API and <code>/metrics</code> need the bearer token: "
        "<code>curl -H 'Authorization: Bearer $TOKEN' .../api/v1/models</code>.</p>"
        if token_required
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driftscope</title>
<style>{_STYLE}</style></head>
<body>
<h1>driftscope {escape(driftscope.__version__)}</h1>
<p>The collector is running. Plots and a record browser are not part of this page yet;
the data is available through the REST API.</p>
<h2>Models</h2>
{table}
<h2>API</h2>
<ul>
<li><a href="/docs">/docs</a>: interactive API documentation
(<a href="/openapi.json">/openapi.json</a>)</li>
<li><a href="/api/v1/models">/api/v1/models</a>, <code>/api/v1/records</code>,
<code>/api/v1/labels</code></li>
<li><a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a>,
<a href="/readyz">/readyz</a></li>
</ul>
{auth}
</body></html>
"""
