"""The HTML report opened in real Chromium: it renders, draws its plots, and stays offline.

Skipped where Chromium (``chromium`` on ``PATH``) or Playwright for Python
is missing. The browser is the system one (never ``playwright install``),
headless, with a fresh profile and no background networking.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftscope.monitoring import Monitor
from driftscope.monitoring.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N_COLUMNS = 36


def _data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(N_COLUMNS):
        if i % 4 == 3:
            cols[f"c{i:02d}"] = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
        else:
            cols[f"x{i:02d}"] = rng.normal(shift if i < 3 else 0.0, 1.0, n)
    return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ref, new = _data(3000, 1), _data(3000, 2, shift=0.8)
    monitor = Monitor(chunker={"type": "count", "chunk_number": 6}).fit(ref)
    result = monitor.calculate(new)
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(result, path, reference=ref, analysis=new)


DRAWN = "d => !!d.querySelector('svg.main-svg')"


def test_report_renders_in_chromium_without_errors_or_network(report: Path, tmp_path: Path):
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(report.as_uri(), wait_until="load")
            plots = page.locator("div.plotly-graph-div")
            # the heat map is drawn at once
            page.wait_for_function(
                "() => [...document.querySelectorAll('div.ds-plot[data-eager]')]"
                ".every(d => d.querySelector('svg.main-svg'))"
            )
            heat_title = page.locator("text.gtitle", has_text="Drift by column and chunk").count()
            heatmap_images = page.locator("g.hm image, g.heatmaplayer image").count()
            # per-column figures far below the first screen wait until they come near it
            last = plots.last
            assert last.evaluate(DRAWN) is False
            last.scroll_into_view_if_needed()
            page.wait_for_function(
                f"() => ({DRAWN})(document.querySelector('#{last.get_attribute('id')}'))"
            )
            page.evaluate("() => window.driftscopeDrawAll()")
            drawn = sum(bool(d) for d in plots.evaluate_all(f"ds => ds.map({DRAWN})"))
            figures = plots.count()
            headings = page.locator("h2").all_inner_texts()
            ranking_rows = page.locator("h2:text-is('Ranking') + table tbody tr").count()
            traces = page.locator("g.scatterlayer g.trace").count()
        finally:
            context.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    assert "Ranking" in headings
    assert ranking_rows == N_COLUMNS
    assert heat_title == 1 and heatmap_images >= 1  # the heat map is one figure, drawn
    # heat map + one figure per column + reference-vs-chunk for the top 20 columns, all drawn
    assert figures == 1 + N_COLUMNS + 20
    assert drawn == figures
    assert traces >= N_COLUMNS
