"""Time an HTML report's rendering in headless Chromium: navigation to every plot drawn.

Run:  .venv/bin/python benchmarks/analytics/render.py REPORT.html [--runs 3]

Chromium is the system one (``chromium`` on PATH; never ``playwright
install``), headless, a fresh profile per run, no background networking.
Per run it prints the time from navigation start (``performance.now()`` in
the page) to DOMContentLoaded, to the load event, to the first view (every
figure drawn at once or lying in the first screen holds Plotly's SVG) and
to all figures drawn (the lazy ones through the report's
``driftscopeDrawAll()``; a report without it draws all before the load
event), plus console / page errors and any request that left ``file://``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

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
# polled on every animation frame: resolves once the page is parsed and every figure a
# reader sees first (the eager ones, the heat map, and those in the first screen) is drawn
FIRST_VIEW = """() => new Promise(resolve => {
  const check = () => {
    const divs = [...document.querySelectorAll('div.plotly-graph-div')];
    const wanted = divs.filter(d => !d.classList.contains('ds-plot') || d.dataset.eager
      || d.getBoundingClientRect().top < window.innerHeight);
    const done = document.readyState !== 'loading' && wanted.length > 0
      && wanted.every(d => d.querySelector('svg.main-svg'));
    if (done) resolve({t: performance.now(), figures: wanted.length});
    else requestAnimationFrame(check);
  };
  check();
})"""
# then every figure (lazy ones through the report's own driftscopeDrawAll)
ALL = """async () => {
  if (window.driftscopeDrawAll) await window.driftscopeDrawAll();
  const divs = [...document.querySelectorAll('div.plotly-graph-div')];
  await new Promise(r => requestAnimationFrame(() => r()));
  return {t: performance.now(), figures: divs.length,
          drawn: divs.filter(d => d.querySelector('svg.main-svg')).length};
}"""
TIMING = """() => { const t = performance.getEntriesByType('navigation')[0];
  return {dom: t.domContentLoadedEventEnd, load: t.loadEventEnd}; }"""


def render_once(path: Path, chromium: str) -> dict:
    errors: list[str] = []
    offsite: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ds-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=ARGS
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: None if r.url.startswith("file://") else offsite.append(r.url),
            )
            page.goto(path.resolve().as_uri(), wait_until="commit", timeout=300_000)
            first = page.evaluate(FIRST_VIEW)
            page.wait_for_load_state("load", timeout=300_000)
            timing = page.evaluate(TIMING)
            every = page.evaluate(ALL)
        finally:
            context.close()
    return {
        "dom_s": timing["dom"] / 1000,
        "load_s": timing["load"] / 1000,
        "first_view_s": first["t"] / 1000,
        "first_view_figures": first["figures"],
        "all_drawn_s": every["t"] / 1000,
        "figures": every["figures"],
        "figures_drawn": every["drawn"],
        "errors": errors,
        "offsite_requests": offsite,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (scripts/install-services.sh installs it)")
    runs = [render_once(args.report, chromium) for _ in range(args.runs)]
    for r in runs:
        print(
            f"  DOMContentLoaded {r['dom_s']:6.2f} s  load {r['load_s']:6.2f} s  "
            f"first view ({r['first_view_figures']} figures) {r['first_view_s']:6.2f} s  "
            f"all {r['figures_drawn']}/{r['figures']} figures {r['all_drawn_s']:6.2f} s  "
            f"errors {len(r['errors'])}  off-file requests {len(r['offsite_requests'])}"
        )
    summary = {
        "report": str(args.report),
        "bytes": args.report.stat().st_size,
        "median_first_view_s": statistics.median(r["first_view_s"] for r in runs),
        "median_all_drawn_s": statistics.median(r["all_drawn_s"] for r in runs),
        "runs": runs,
    }
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
