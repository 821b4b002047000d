"""Univariate drift: driftscope vs NannyML vs Evidently, wall time and peak memory.

Each side runs in a fresh process (driftscope in .venv; NannyML and
Evidently in benchmarks/.venv-peers); the parent records the child's wall
time and peak resident memory (``os.wait4`` rusage ``ru_maxrss``), the child
its own compute time (after loading the Parquet files). Results:
benchmarks/results/analytics.json and analytics.md; the report side's page is
kept as benchmarks/results/analytics_report.html (time its rendering with
``render.py``).

Run:  .venv/bin/python benchmarks/analytics/run.py              # 100k and 1M rows, report 200 x 1M
      .venv/bin/python benchmarks/analytics/run.py --quick      # 100k rows, report 200 x 100k
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OURS = ROOT / ".venv" / "bin" / "python"
PEERS = ROOT / "benchmarks" / ".venv-peers" / "bin" / "python"
PEER_SIDES = {"nannyml", "evidently", "evidently_chunks"}

sys.path.insert(0, str(HERE))
from data import generate  # noqa: E402

# driftscope's compiled ECDF loops (Numba) are compiled on first use and cached on disk; a
# fresh install compiles them once (about 6 s here). This small run fills that cache so no
# measured side pays for it (each still pays for importing Numba and loading the cache).
WARM = """
import numpy as np, pandas as pd
from driftscope.monitoring import UnivariateDriftCalculator
frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=60_000)})
UnivariateDriftCalculator(
    continuous_methods=["ks", "jensen_shannon", "wasserstein"],
    chunker={"type": "count", "chunk_number": 10},
).fit(frame).calculate(frame)
"""


def warm_compiled_cache() -> None:
    start = time.perf_counter()
    subprocess.run([str(OURS), "-c", WARM], check=True)
    print(f"  (driftscope's compiled-loop cache warmed in {time.perf_counter() - start:.1f} s)")


def measure(side: str, ref: Path, new: Path, chunks: int, work: Path) -> dict:
    python = PEERS if side in PEER_SIDES else OURS
    result = work / f"{side}.json"
    env = {
        **os.environ,
        "NML_DISABLE_USAGE_LOGGING": "1",
        "DO_NOT_TRACK": "1",
        "REPORT_PATH": str(work / "report.html"),
    }
    cmd = [str(python), str(HERE / "sides.py"), side, str(ref), str(new), str(result)]
    start = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--chunks", str(chunks)], env=env, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"{side} failed:\n{stderr[-3000:]}", file=sys.stderr)
        return {"side": side, "error": stderr[-1000:]}
    out = json.loads(result.read_text())
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(f"  {side:18s} {out['seconds']:8.2f} s compute {wall:8.2f} s process {peak_mb:7.0f} MB")
    return {"side": side, "process_seconds": wall, "peak_mb": peak_mb, **out}


def markdown(runs: list[dict]) -> str:
    lines = []
    for run in runs:
        by = {r["side"]: r for r in run["sides"] if "error" not in r}
        lines.append(f"\n### {run['rows']:,} rows, {run['chunks']} chunks\n")
        lines.append("| side | compute s | process s | peak MB | alerting columns |")
        lines.append("|---|---|---|---|---|")
        for r in run["sides"]:
            if r["side"] == "report":
                continue
            if "error" in r:
                lines.append(f"| {r['side']} | failed | | | |")
                continue
            cols = r.get("alerting_columns", [])
            lines.append(
                f"| {r['side']} | {r['seconds']:.2f} | {r['process_seconds']:.2f} "
                f"| {r['peak_mb']:.0f} | {len(cols)}: {', '.join(cols[:8])} |"
            )
        ours = by.get("driftscope")
        if ours:
            lines.append("\n| vs driftscope | time (compute) | time (process) | peak memory |")
            lines.append("|---|---|---|---|")
            for name, r in by.items():
                if name == "driftscope" or name == "report":
                    continue
                lines.append(
                    f"| {name} | {r['seconds'] / ours['seconds']:.1f}x "
                    f"| {r['process_seconds'] / ours['process_seconds']:.1f}x "
                    f"| {r['peak_mb'] / ours['peak_mb']:.2f}x |"
                )
        if "report" in by:
            r = by["report"]
            lines.append(
                f"\nReport: {r['columns']} columns x {r['rows']:,} rows, "
                f"{r['report_bytes'] / 1e6:.2f} MB, compute {r['compute_seconds']:.1f} s, "
                f"render+write {r['report_seconds']:.1f} s, peak {r['peak_mb']:.0f} MB"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k rows only; report 200 x 100k")
    ap.add_argument("--rows", type=int, nargs="*", help="row counts (default 100000 1000000)")
    ap.add_argument("--chunks", type=int, default=10)
    ap.add_argument("--sides", nargs="*", help="subset of sides to run")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    rows = args.rows or ([100_000] if args.quick else [100_000, 1_000_000])
    sides = args.sides or [
        "driftscope",
        "driftscope_serial",
        "driftscope_sketch",
        "nannyml",
        "evidently",
        "evidently_chunks",
    ]
    if any(s in PEER_SIDES for s in sides) and not PEERS.exists():
        raise SystemExit(f"{PEERS} missing: see benchmarks/analytics/README.md")
    runs = []
    if any(s not in PEER_SIDES for s in sides):
        warm_compiled_cache()
    with tempfile.TemporaryDirectory(prefix="ds-bench-") as tmp:
        work = Path(tmp)
        for n in rows:
            print(f"{n:,} rows")
            ref, new = generate(n, work / str(n))
            todo = list(sides)
            if not args.no_report and n == rows[-1]:
                todo.append("report")
            results = [measure(side, ref, new, args.chunks, work) for side in todo]
            runs.append({"rows": n, "chunks": args.chunks, "sides": results})
            if (work / "report.html").exists():  # kept for render.py
                RESULTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(work / "report.html", RESULTS / "analytics_report.html")
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "quick": args.quick}
    (RESULTS / "analytics.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2))
    table = markdown(runs)
    (RESULTS / "analytics.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
