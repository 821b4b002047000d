"""In-process A/B of the store alone: typed feature rows against JSON ones.

    .venv/bin/python benchmarks/ingest/ab_store.py [--rounds 30] [--batch 2000] [--rows 32]

Decodes the benchmark's tabular exchanges once, then stores one batch at a time
alternately into two fresh databases of the same backend, one store writing typed
features (the default) and one JSON (``typed_features=False``), in one process, so
both sides see the same load within milliseconds. Prints per side the median and the
minimum microseconds per record of ``add_records`` and the median of the per-pair
ratios. On a shared machine the min and the paired ratio are the figures to trust.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

from driftscope.codecs import get_codec  # noqa: E402
from driftscope.storage import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=32, help="rows per request")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    model = bench._settings(args.batch).model("tab")
    assert model is not None
    codec = get_codec("oip_v2")
    n_req = args.rounds * args.batch // args.rows + 1
    recs = [
        r
        for i in range(n_req)
        for r in codec.decode(bench._tabular_exchange(i, args.rows, rng), model)
    ]
    batches = [recs[i : i + args.batch] for i in range(0, args.rounds * args.batch, args.batch)]
    make_pg, stop_pg = (
        bench._pg_databases(args) if "postgresql" in args.backends else (None, lambda: None)
    )
    work = Path(tempfile.mkdtemp(prefix="ds-ab-store-"))
    try:
        for backend in args.backends.split(","):
            stores = {}
            for side, opts in (("typed", {}), ("json", {"typed_features": False})):
                url = f"sqlite:///{work / (side + '.db')}" if backend == "sqlite" else make_pg()
                stores[side] = open_store(url, **opts)
                stores[side].upgrade()
                stores[side].add_records([replace(recs[0], request_id="warm-up")])
            times: dict[str, list[float]] = {"typed": [], "json": []}
            ratios = []
            for rnd, batch in enumerate(batches):
                order = ("typed", "json") if rnd % 2 == 0 else ("json", "typed")
                for side in order:
                    gc.collect()
                    t0 = time.perf_counter()
                    stores[side].add_records(batch)
                    times[side].append((time.perf_counter() - t0) / len(batch) * 1e6)
                ratios.append(times["json"][-1] / times["typed"][-1])
            for side, t in times.items():
                med = statistics.median(t)
                print(
                    f"{backend:10s} rows={args.rows:2d} {side:5s}: median {med:5.2f} "
                    f"min {min(t):5.2f} us/record ({1e6 / med:,.0f} rec/s)"
                )
            print(
                f"{backend:10s} rows={args.rows:2d} typed speed-up (json/typed per pair): median "
                f"x{statistics.median(ratios):.2f}, "
                f"min-based x{min(times['json']) / min(times['typed']):.2f}",
                flush=True,
            )
            for s in stores.values():
                s.close()
    finally:
        stop_pg()


if __name__ == "__main__":
    main()
